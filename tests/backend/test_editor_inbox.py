"""The editors' inbox over real HTTP: citizen messages written by the real encrypted
tracker store (bot.tracker_store) are listed with what the model understood, filtered
by flag, PII masked; clusters of misunderstood messages get explainable suggestions;
a message goes to the review set; the auth boundary holds (no session 401, an agent
403, no CSRF 403)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bot.staff.accounts import AGENT, EDITOR
from tests.backend.conftest import logged_in

ID_NUMBER = "440106199203151025"


def _user(text, intent, confidence, bundle=None, ranking=()):
    from rasa.shared.core.events import UserUttered

    entities = [{"entity": "bundle", "value": bundle, "start": 0, "end": 1}] if bundle else []
    parse = {"text": text, "intent": {"name": intent, "confidence": confidence},
             "entities": entities,
             "intent_ranking": [{"name": intent, "confidence": confidence},
                                *({"name": n, "confidence": c} for n, c in ranking)]}
    return UserUttered(text, parse["intent"], entities, parse_data=parse, input_channel="rest")


@pytest.fixture(scope="module")
def tracker_db(tmp_path_factory, database_url):
    """Three conversations saved through the encrypted tracker store."""
    from rasa.core.tracker_store import DialogueStateTracker
    from rasa.shared.core.events import ActionExecuted

    from bot.privacy.vault import Vault
    from bot.tracker_store import EncryptedSQLTrackerStore

    path = tmp_path_factory.mktemp("inbox") / "tracker.db"
    store = EncryptedSQLTrackerStore(dialect="sqlite", db=str(path))
    a, b, c = (f"citizen-{uuid.uuid4().hex[:8]}" for _ in range(3))
    protected = Vault().protect(f"我的身份证{ID_NUMBER}，孩子上幼儿园要什么", a)
    conversations = {
        a: [_user("娃要上幼儿园要办啥", "nlu_fallback", 0.31, ranking=[("ask_bundle", 0.3)]),
            ActionExecuted("action_default_fallback"),
            _user(protected, "ask_materials", 0.42),
            _user("我想转人工", "request_human", 0.97)],
        b: [_user("孩子上幼儿园报名怎么弄", "ask_bundle", 0.35, ranking=[("ask_materials", 0.2)]),
            _user("新生儿出生要办什么", "ask_bundle", 0.93, bundle="newborn"),
            _user("差评", "rate_service", 0.95)],
        c: [_user("生娃了要带什么材料", "ask_materials", 0.95, bundle="newborn")],
    }

    async def save():
        for sender, events in conversations.items():
            await store.save(DialogueStateTracker.from_events(sender, events))

    asyncio.run(save())
    return f"sqlite:///{path}"


@pytest.fixture
def inbox_env(tracker_db, monkeypatch):
    monkeypatch.setenv("TRACKER_DB_URL", tracker_db)
    return tracker_db


def test_the_tracker_store_really_holds_ciphertext(tracker_db):
    import sqlalchemy as sa

    engine = sa.create_engine(tracker_db)
    with engine.connect() as conn:
        stored = " ".join(conn.execute(sa.text("SELECT data FROM events")).scalars())
    assert "幼儿园" not in stored and ID_NUMBER not in stored and "fernet:" in stored


def test_no_session_401_agent_403_no_csrf_403(server, people, inbox_env):
    anonymous = server.browser()
    assert anonymous.call("GET", "/api/editor/inbox").status == 401
    assert anonymous.call("GET", "/api/editor/inbox/suggestions").status == 401
    assert anonymous.call("POST", "/api/editor/inbox/1/review", {}).status == 401
    agent = logged_in(server, people(AGENT))
    assert agent.call("GET", "/api/editor/inbox").status == 403
    assert agent.call("POST", "/api/editor/inbox/1/review", {}).status == 403
    editor = logged_in(server, people(EDITOR))
    reply = editor.call("POST", "/api/editor/inbox/1/review", {}, csrf="wrong")
    assert reply.status == 403 and reply.error == "csrf"


def test_messages_show_what_the_model_understood_masked_and_flagged(server, people, inbox_env):
    editor = logged_in(server, people(EDITOR))
    reply = editor.call("GET", "/api/editor/inbox")
    assert reply.status == 200, reply.body
    messages = reply.body["messages"]
    by_text = {m["text"]: m for m in messages}
    raw = str(reply.body)
    assert ID_NUMBER not in raw and "citizen-" not in raw  # no PII, no sender id
    pii = next(m for m in messages if "幼儿园要什么" in m["text"])
    assert "⟪身份证号⟫" in pii["text"] and pii["personal_data"] is True
    fallback = by_text["娃要上幼儿园要办啥"]
    assert set(fallback["flags"]) == {"low_confidence", "fallback"}
    assert fallback["intent"] == "nlu_fallback" and fallback["confidence"] == pytest.approx(0.31)
    assert by_text["我想转人工"]["flags"] == ["handoff"]
    assert by_text["新生儿出生要办什么"]["bundle"] == "newborn"
    assert "bad_rating" in by_text["孩子上幼儿园报名怎么弄"]["flags"]  # that conversation: 差评
    assert by_text["孩子上幼儿园报名怎么弄"]["later_bundle"] == "newborn"
    assert by_text["生娃了要带什么材料"]["flags"] == []
    assert [m["id"] for m in messages] == sorted((m["id"] for m in messages), reverse=True)

    def only(flag):
        r = editor.call("GET", f"/api/editor/inbox?flag={flag}")
        assert r.status == 200
        return {m["text"] for m in r.body["messages"]}

    assert only("handoff") == {"我想转人工"}
    assert only("fallback") == {"娃要上幼儿园要办啥"}
    assert "生娃了要带什么材料" not in only("low_confidence")
    assert only("bad_rating") == {"孩子上幼儿园报名怎么弄", "新生儿出生要办什么", "差评"}
    assert editor.call("GET", "/api/editor/inbox?flag=nonsense").status == 400
    assert editor.call("GET", "/api/editor/inbox?limit=abc").status == 400


def test_misunderstood_messages_cluster_by_a_shared_word_with_an_explained_fix(
        server, people, inbox_env):
    editor = logged_in(server, people(EDITOR))
    reply = editor.call("GET", "/api/editor/inbox/suggestions")
    assert reply.status == 200, reply.body
    top = reply.body["suggestions"][0]
    assert top["word"] == "幼儿园" and top["count"] == 3
    assert top["kind"] == "examples" or top["bundle"]  # a fix is named
    assert all("幼儿园" in t for t in top["texts"])
    assert ID_NUMBER not in str(reply.body)


def test_a_message_goes_to_the_review_set_with_who_and_masked_words(server, people, inbox_env):
    person = people(EDITOR)
    editor = logged_in(server, person)
    messages = editor.call("GET", "/api/editor/inbox").body["messages"]
    pii = next(m for m in messages if m["personal_data"])
    reply = editor.call("POST", f"/api/editor/inbox/{pii['id']}/review", {"note": "看看"})
    assert reply.status == 201, reply.body
    review = editor.call("GET", "/api/editor/inbox/review").body["messages"]
    mine = next(r for r in review if r["id"] == pii["id"] and r["by"] == person.username)
    assert mine["note"] == "看看" and ID_NUMBER not in str(mine) and "⟪身份证号⟫" in mine["text"]
    assert editor.call("POST", "/api/editor/inbox/999999/review", {}).status == 404
    assert editor.call("POST", f"/api/editor/inbox/{pii['id']}/review",
                       {"note": "x" * 501}).status == 422


def test_a_message_with_personal_data_never_becomes_a_training_example(server, people, inbox_env):
    editor = logged_in(server, people(EDITOR))
    messages = editor.call("GET", "/api/editor/inbox").body["messages"]
    pii = next(m for m in messages if m["personal_data"])
    reply = editor.call("POST", f"/api/editor/inbox/{pii['id']}/example", {"intent": "ask_materials"})
    assert reply.status == 409 and "身份证号" in reply.body["message"]
    bad = editor.call("POST", f"/api/editor/inbox/{pii['id']}/example", {"intent": "Bad Intent!"})
    assert bad.status == 422 and bad.body["problems"][0]["field"] == "intent"


def test_annotate_marks_the_bundle_words_in_rasa_form():
    from backend.editor.inbox import annotate

    names = {"newborn": ["新生儿出生", "生娃"]}
    assert annotate("生娃了[急]", "newborn", None, names) == \
        '[生娃]{"entity": "bundle", "value": "newborn"}了［急］'
    assert annotate("孩子上幼儿园", "school", "上幼儿园", names) == \
        '孩子[上幼儿园]{"entity": "bundle", "value": "school"}'
    assert annotate("随便问问", "newborn", None, names) is None
    assert annotate("随便问问", None, None, names) == "随便问问"


def test_one_click_makes_a_message_a_training_example_of_the_draft(server, people, inbox_env):
    from bot.content.store import EDITOR_EXAMPLES, ContentStore

    editor = logged_in(server, people(EDITOR))
    messages = editor.call("GET", "/api/editor/inbox").body["messages"]
    m = next(x for x in messages if x["text"] == "孩子上幼儿园报名怎么弄")
    missing = editor.call("POST", f"/api/editor/inbox/{m['id']}/example",
                          {"intent": "ask_bundle", "bundle": "newborn"})
    assert missing.status == 422 and missing.body["problems"][0]["field"] == "phrase"
    reply = editor.call("POST", f"/api/editor/inbox/{m['id']}/example",
                        {"intent": "ask_bundle", "bundle": "newborn", "phrase": "上幼儿园"})
    assert reply.status == 201, reply.body
    text = '孩子[上幼儿园]{"entity": "bundle", "value": "newborn"}报名怎么弄'
    assert reply.body["example"] == {"intent": "ask_bundle", "text": text}
    assert text in ContentStore().files("draft")[EDITOR_EXAMPLES]
    again = editor.call("POST", f"/api/editor/inbox/{m['id']}/example",
                        {"intent": "ask_bundle", "bundle": "newborn", "phrase": "上幼儿园"})
    assert again.status == 422  # already there: said so, nothing added twice
