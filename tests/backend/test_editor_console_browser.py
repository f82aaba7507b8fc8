"""The content editors' console in a real browser (Debian's Chromium, headless, Playwright)
against `python -m backend` and the training worker (`python -m bot.content.worker`)
on loopback: log in, edit a bundle (a problem is shown next to its field, then a valid
edit is saved and shows up in the draft-vs-live diff in words), start a training and see
the progress bar move to the end with its stages, see the evaluation next to the live
model's, find the models list with publish disabled and its reason for an editor
without `publisher`, and use the inbox. Screenshots at 1366×768 go to
results/screenshots/editor-*.png for a person to look at."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.staff.accounts import EDITOR, PUBLISHER
from tests.backend.test_console_browser import Page, chromium  # noqa: F401 - fixture
from tests.conftest import ROOT, free_port, wait_http


def _tracker(path) -> str:
    """A few citizen messages saved through the real encrypted tracker store."""
    from rasa.core.tracker_store import DialogueStateTracker
    from rasa.shared.core.events import ActionExecuted, UserUttered

    from bot.tracker_store import EncryptedSQLTrackerStore

    def user(text, intent, confidence, bundle=None):
        entities = [{"entity": "bundle", "value": bundle}] if bundle else []
        parse = {"text": text, "intent": {"name": intent, "confidence": confidence},
                 "entities": entities, "intent_ranking": [{"name": intent, "confidence": confidence},
                                                          {"name": "ask_bundle", "confidence": 0.2}]}
        return UserUttered(text, parse["intent"], entities, parse_data=parse, input_channel="rest")

    store = EncryptedSQLTrackerStore(dialect="sqlite", db=str(path))
    talks = [[user("娃要上幼儿园要办啥", "nlu_fallback", 0.28), ActionExecuted("action_default_fallback")],
             [user("幼儿园报名去哪里", "ask_department", 0.41)],
             [user("我要转人工", "request_human", 0.96)],
             [user("生娃了要带什么材料", "ask_materials", 0.94, "newborn")]]

    async def save():
        for events in talks:
            await store.save(DialogueStateTracker.from_events(f"c-{uuid.uuid4().hex[:8]}", events))

    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
        pool.submit(asyncio.run, save()).result()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def editor_site(database_url, tmp_path_factory):
    var = tmp_path_factory.mktemp("editor-var")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT")}
    env.pop("YJS_TRUSTED_PROXIES", None)
    env.update(CONSOLE_PORT=str(port), DATABASE_URL=database_url, YJS_VAR_DIR=str(var),
               TRACKER_DB_URL=_tracker(var / "tracker.db"),
               # a tiny training (tests/fixtures/tiny_config.yml; small NLU, see the training test)
               YJS_TRAIN_CONFIG=str(ROOT / "tests" / "fixtures" / "tiny_config.yml"),
               YJS_MODELS_DIR=str(var / "models"), RASA_CACHE_DIRECTORY=str(var / "cache"),
               RASA_SERVERS=f"http://127.0.0.1:{free_port()}")  # nobody there: shown as down
    _nothing_live()
    procs, logs = [], []
    for name, cmd in (("backend", [sys.executable, "-m", "backend"]),
                      ("worker", [sys.executable, "-m", "bot.content.worker", "--poll", "0.3"])):
        log = open(var / f"{name}.log", "wb")  # noqa: SIM115 - closed below
        logs.append(log)
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", procs[0], timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()
        _nothing_live()


def _nothing_live() -> None:
    """The test database is shared: no model of another test is live before or after."""
    from sqlalchemy import delete

    from bot.content.tables import ContentLive
    from bot.db import session_scope

    with session_scope() as s:
        s.execute(delete(ContentLive))


def _login(p: Page, person) -> None:
    p.goto("/console/editor/")
    p.login(person.username, person.password)
    p.page.wait_for_url("**/console/editor/**")
    p.page.wait_for_selector("#editor-workbench:not([hidden])")


def test_editor_edits_a_bundle_sees_problems_by_the_field_and_the_diff_in_words(
        chromium, editor_site, people):  # noqa: F811 - fixture
    from bot.content.store import ContentStore
    from bot.staff.audit import Actor

    ContentStore().discard_draft(Actor("test"))
    editor = people(EDITOR, prefix="liu")
    p = Page(chromium, editor_site)
    _login(p, editor)
    p.page.wait_for_selector("#diff-all .empty, #diff-all .diff-file")
    p.shot("editor-overview")

    p.page.click("a[data-section=bundles]")
    p.page.click("#bundle-list button[data-bundle=newborn]")
    p.page.wait_for_selector("#bundle-form:not([hidden]) details.item-card")
    assert p.page.input_value("#bundle-form input[name=name]") == "新生儿出生"
    p.shot("editor-bundle")

    # a problem: a material added without choosing which → said next to that field, nothing saved
    p.page.click("#items details.item-card >> nth=0 >> summary")
    p.page.click("#items details.item-card >> nth=0 >> text=添加材料")
    p.page.click("#bundle-save")
    p.page.wait_for_selector(".field-error")
    error = p.page.locator("td:has(select.invalid) .field-error")
    assert error.count() == 1, p.page.inner_text("#bundle-message")
    assert "请选择材料" in error.inner_text()
    assert "1 处需要修改" in p.page.inner_text("#bundle-message")
    p.shot("editor-bundle-problem")
    assert "newborn" not in {f.get("bundle") for f in ContentStore().diff()}

    # a valid edit: a new colloquial name, the new material row removed, a new time limit
    p.page.click("#items details.item-card >> nth=0 >> tr:has(select.invalid) >> text=删除")
    p.page.fill("[data-path='items[0].time_limit.working_days']", "3")
    p.page.fill("#synonym-input", "添丁")
    p.page.click("#synonym-add")
    p.page.wait_for_selector("#synonyms .chip.new:has-text('添丁')")
    p.page.click("#bundle-save")
    p.page.wait_for_selector("#bundle-message.ok")
    assert p.page.locator(".field-error").count() == 0
    p.page.wait_for_selector("#bundle-list button[data-bundle=newborn] .tag")
    draft = ContentStore().bundle("newborn")
    assert "添丁" in draft["synonyms"] and draft["items"][0]["time_limit"]["working_days"] == 3

    p.page.click("#bundle-tabs button[data-tab=diff]")
    p.page.wait_for_selector("#bundle-diff .diff-file")
    words = p.page.inner_text("#bundle-diff")
    assert "一件事「新生儿出生」" in words and "常用说法" in words and "添丁" in words
    assert "承诺工作日" in words and "出生医学证明签发" in words  # the item by its name
    p.shot("editor-bundle-diff")

    # an NLU example: an empty one is refused next to its field, a real one joins the draft
    p.page.click("a[data-section=nlu]")
    p.page.wait_for_selector("#nlu-intent option[value=ask_materials]", state="attached")
    p.page.select_option("#nlu-intent", "ask_materials")
    p.page.click("#nlu-add")
    p.page.wait_for_selector("label.field:has(#nlu-text) .field-error")
    assert "请填写" in p.page.inner_text("label.field:has(#nlu-text) .field-error")
    p.page.fill("#nlu-text", "[添丁](bundle)了要准备啥")
    p.page.click("#nlu-add")
    p.page.wait_for_selector("#nlu-table tbody tr:has-text('添丁')")
    assert "问材料" in p.page.inner_text("#nlu-table tbody")
    p.shot("editor-nlu")
    p.close()


def _watch_progress(p: Page, timeout: float = 600) -> list[tuple[str, float, str]]:
    """What the page shows while the training runs: (state, progress, stage words), each change."""
    import time

    seen: list[tuple[str, float, str]] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        box = p.page.locator("#train-box")
        state = box.get_attribute("data-state") or ""
        now = (state, float(box.get_attribute("data-progress") or 0), p.page.inner_text("#train-stage-text"))
        if not seen or seen[-1] != now:
            seen.append(now)
            if len(seen) == 3:
                p.shot("editor-training")
        if state in ("succeeded", "failed"):
            return seen
        p.page.wait_for_timeout(100)
    raise AssertionError(f"the training did not end: {seen[-5:]}")


def test_a_training_shows_a_moving_progress_bar_then_the_evaluation_and_publishing_rules(
        chromium, editor_site, people, tmp_path):  # noqa: F811 - fixture
    from bot.content.store import ContentStore
    from bot.staff.audit import Actor
    from tests.editor.test_editor_publish import _tiny_data

    store = ContentStore()  # the draft: data/ with a small part of the NLU (seconds to train)
    store.discard_draft(Actor("test"))
    store.import_(Actor("test-import"), _tiny_data(tmp_path))
    editor = people(EDITOR, prefix="zhao")
    p = Page(chromium, editor_site)
    _login(p, editor)
    p.page.click("a[data-section=trainings]")
    p.page.click("#train-start")
    p.page.wait_for_selector("#train-box:not([hidden])")
    seen = _watch_progress(p)
    states = [s for s, _, _ in seen]
    progress = [x for _, x, _ in seen]
    assert states[-1] == "succeeded", (seen[-3:], p.page.inner_text("#train-error"))
    assert len(set(progress)) >= 4 and progress[-1] == 1.0, seen  # it moved, several steps
    assert progress == sorted(progress)  # never backwards
    assert "running" in states or "evaluating" in states
    assert p.page.inner_text("#train-percent") == "100%"
    assert p.page.locator("#train-stages li.done").count() == 4
    p.page.wait_for_selector("#eval-body .compare")
    text = p.page.inner_text("#eval-body")
    assert "意图准确率" in text and "一件事识别准确率" in text and "各意图 F1" in text
    p.shot("editor-evaluation")

    # models: the new one is there; an editor without publisher sees why it cannot publish
    p.page.click("a[data-section=models]")
    row = p.page.wait_for_selector("#models-table tbody tr")
    button = p.page.locator("#models-table tbody tr >> nth=0 >> button[data-action]")
    assert button.is_disabled()
    assert "发布审核" in p.page.inner_text("#models-table tbody tr >> nth=0")
    assert row is not None
    p.page.wait_for_selector("#servers-table tbody tr")
    assert "无法连接" in p.page.inner_text("#servers-table")
    p.shot("editor-models")
    p.close()

    publisher = people(EDITOR, PUBLISHER, prefix="sun")
    q = Page(chromium, editor_site)
    _login(q, publisher)
    q.page.click("a[data-section=models]")
    q.page.wait_for_selector("#models-table tbody tr button[data-action=publish]")
    assert not q.page.locator("#models-table tbody tr >> nth=0 >> button[data-action]").is_disabled()
    q.shot("editor-models-publisher")
    q.close()


def test_the_inbox_lists_masked_messages_with_flags_and_suggests_a_fix(
        chromium, editor_site, people):  # noqa: F811 - fixture
    editor = people(EDITOR, prefix="wu")
    p = Page(chromium, editor_site)
    _login(p, editor)
    p.page.click("a[data-section=inbox]")
    p.page.wait_for_selector("#inbox-table tbody tr")
    assert "娃要上幼儿园要办啥" in p.page.inner_text("#inbox-table")
    p.page.wait_for_selector("#suggestions .suggestion[data-word=幼儿园]")
    p.shot("editor-inbox")
    p.page.click("#inbox-tabs button[data-flag=handoff]")
    p.page.wait_for_selector("#inbox-table tbody tr:has-text('我要转人工')")
    # only hand-offs are listed (other tests' hand-offs may be there: the store is shared)
    p.page.wait_for_selector("#inbox-table tbody tr:has-text('娃要上幼儿园要办啥')", state="detached")
    p.page.click("#inbox-table tbody tr:has-text('我要转人工') >> nth=0 >> button[data-action=review]")
    p.page.wait_for_selector("#inbox-table .message.ok")
    p.page.click("#inbox-tabs button[data-flag=review]")
    p.page.wait_for_selector("#inbox-table tbody tr:has-text('我要转人工')")
    p.close()
