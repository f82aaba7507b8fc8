"""The agent workbench in a real browser (Debian's Chromium, headless, Playwright)
against the real stack: Rasa + action server (REST channel) and `python -m backend`.
A citizen asks about a bundle, starts an application for two of its items and says
转人工; an agent logs in, sees the conversation waiting with its bundle and SLA colour,
opens it (context: the draft, its items and materials), takes it over, sees the
citizen's next message arrive live, answers (after trying a canned reply from the
knowledge base, picked with "/"), adds a note, looks up a number, files a 转工单 and
releases it; the citizen gets the reply on their next call and the bot answers again.
Screenshots at 1366×768 go to results/screenshots/ (agent-*.png)."""

from __future__ import annotations

import os
import re

import pytest

from bot.staff.accounts import AGENT
from tests.backend.test_console_browser import Page, chromium  # noqa: F401 - a fixture
from tests.conftest import free_port, running_backend
from tests.dialogue.conftest import RestChat, Stack


@pytest.fixture(scope="module")
def rasa_stack(model_path, database_url, tmp_path_factory):
    s = Stack(model_path, tmp_path_factory.mktemp("agent-stack"), env={"HANDOFF_HOURS": "24x7"})
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def console_url(rasa_stack, tmp_path_factory):
    port = free_port()
    var = tmp_path_factory.mktemp("agent-console")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WECHAT")}
    env.update(CONSOLE_PORT=str(port), YJS_VAR_DIR=str(rasa_stack.var_dir),
               YJS_RASA_URL=f"http://127.0.0.1:{rasa_stack.rasa_port}", HANDOFF_HOURS="24x7")
    env.pop("YJS_TRUSTED_PROXIES", None)
    with running_backend(env, var / "backend.log", timeout=90) as url:
        yield url


def test_agent_logs_in_sees_the_waiting_citizen_takes_over_replies_and_releases(
        chromium, console_url, rasa_stack, people):  # noqa: F811 - chromium is the fixture
    citizen = RestChat(rasa_stack)
    assert "出生" in citizen.say("孩子出生要办什么")
    started = citizen.say("我要申请")
    chosen = citizen.say("1 3")
    assert "人工" in citizen.say("转人工"), (started, chosen)

    agent = people(AGENT, prefix="hotline")
    p = Page(chromium, console_url)
    page = p.page
    p.goto("/console/agent/")
    p.login(agent.username, agent.password)
    page.wait_for_url("**/console/agent/")
    page.wait_for_selector("#live-text:has-text('实时连接正常')")  # the SSE stream is up
    tail = citizen.sender[-4:]
    waiting = f".queue-item[data-state=waiting]:has-text('{tail}')"
    page.wait_for_selector(waiting)
    page.wait_for_selector(f"{waiting}:has-text('新生儿出生')")
    assert "网页" in page.inner_text(waiting)
    assert page.query_selector(waiting + " .sla.sla-ok")  # waited under 2 minutes: green
    assert citizen.sender not in page.inner_text("#queue-list")  # the id is masked
    p.shot("agent-queue")

    page.click(waiting)  # (the live queue redraws its items: click by selector)
    page.wait_for_selector(".msg.from-citizen:has-text('转人工')")
    assert page.is_enabled("#takeover") and not page.is_enabled("#composer-text")
    page.wait_for_selector("#context-body:has-text('新生儿出生')")
    context = page.inner_text("#context-body")
    assert "申请草稿" in context and "出生医学证明签发" in context and "户口登记" in context
    assert "居民身份证" in context  # the draft's merged materials
    p.shot("agent-context")
    page.wait_for_selector("#conversation-meta:has-text('新生儿出生')")
    page.click("#takeover")
    page.wait_for_selector("#composer-text:not([disabled])")
    page.wait_for_selector("#conversation-meta:has-text('我正在处理')")
    assert page.is_visible("#release") and page.is_enabled("#release")
    page.wait_for_selector("#queue-tabs button.current[data-state=mine]")
    page.wait_for_selector(f".queue-item[data-state=agent]:has-text('{tail}')")  # now in 我的

    # the citizen writes while the agent holds it: no bot answer, the console shows it live
    assert citizen.say("户口能在佛山上吗") == ""
    page.wait_for_selector(".msg.from-citizen:has-text('户口能在佛山上吗')", timeout=20000)

    # "/" opens the short-cuts; the canned materials reply comes from the knowledge base
    page.click("#composer-text")
    page.keyboard.type("/材料")
    page.wait_for_selector("#shortcut-menu:not([hidden]) li:has-text('材料')")
    p.shot("agent-shortcuts")
    page.keyboard.press("Enter")
    page.click("#side-tabs button[data-tab=replies]")
    page.wait_for_selector("#kb-replies .reply:has-text('材料')")
    p.shot("agent-replies")
    canned = page.input_value("#composer-text")
    assert "新生儿出生" in canned and "需要准备" in canned and "出生医学证明" in canned, canned
    reply = "您好，户口可以在佛山的派出所办理出生登记，材料清单如下。"
    page.fill("#composer-text", reply)
    page.click("#send")
    sent = page.wait_for_selector(f".msg.from-agent:has-text('{reply[:10]}')")
    assert "未送达" not in sent.inner_text()
    assert page.input_value("#composer-text") == ""
    p.shot("agent-conversation")

    # the REST citizen gets the agent's words on the next call
    answer = citizen.say("好的谢谢")
    assert reply in answer, answer

    # a private note, an application look-up, a 12345 work order
    page.click("#side-tabs button[data-tab=notes]")
    page.fill("#note-text", "市民想在佛山上户口，已告知派出所办理。")
    page.click("#note-save")
    page.wait_for_selector("#note-list .note:has-text('佛山上户口')")
    page.click("#side-tabs button[data-tab=lookup]")
    page.fill("#lookup-number", "YJS-20000101-000001")
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#lookup-message:has-text('没有找到该编号的申请')")
    page.click("#side-tabs button[data-tab=ticket]")
    assert page.input_value("#ticket-summary").startswith("【新生儿出生】")
    page.select_option("#ticket-category", "request")
    page.select_option("#ticket-department", "gd_public_security")
    page.click("#ticket-save")
    page.wait_for_selector("#ticket-message:has-text('工单已生成')")
    page.wait_for_selector("#ticket-list .app-card:has-text('求助'):has-text('省公安厅')")
    p.shot("agent-work-order")
    assert reply not in citizen.say("嗯")  # delivered once, not again

    page.once("dialog", lambda d: d.accept())  # "确定交还机器人吗？"
    page.click("#release")
    page.wait_for_selector("#conversation-message:has-text('已交还机器人')")
    page.wait_for_selector("#takeover:not([disabled])")
    assert not page.is_enabled("#composer-text")
    p.shot("agent-released")
    assert re.search("材料|出生", citizen.say("要带什么材料"))  # the bot answers again, in context
    p.close()
