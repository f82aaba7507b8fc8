"""The agent console API over real HTTP (in-process backend, test database): who may
call it, what it shows, and what it refuses. The take-over itself against a real Rasa
is tests/wechat/channel/test_handoff_stack.py and tests/dialogue/test_handoff_rest.py;
here Rasa is not running, so a take-over must fail cleanly and undo its claim."""

from __future__ import annotations

import secrets

import pytest

from backend.agent import HANDOFF
from bot.handoff.config import HandoffSettings
from bot.handoff.service import Handoff
from tests.backend.conftest import logged_in, serve

ALWAYS = HandoffSettings(shifts=None, categories={"consult": "咨询", "complaint": "投诉"})

STATE_CHANGES = ["/takeover", "/messages", "/release", "/transfer", "/notes", "/work-orders"]


@pytest.fixture(scope="module")
def agent_server(loop, kb, trusted_proxy, tmp_path_factory):
    import os

    old = os.environ.get("YJS_RASA_URL")
    os.environ["YJS_RASA_URL"] = "http://127.0.0.1:9"  # nothing listens: Rasa is down
    s = serve(loop, kb)
    for sub in s.app._subapps:
        if HANDOFF in sub:
            sub[HANDOFF] = Handoff(config=ALWAYS)
    yield s
    s.close()
    if old is None:
        os.environ.pop("YJS_RASA_URL", None)
    else:
        os.environ["YJS_RASA_URL"] = old


def queued(bundle: str = "newborn", text: str = "我的身份证号是440106199203151025，转人工") -> str:
    h = Handoff(config=ALWAYS)
    sender = "rest-" + secrets.token_hex(6)
    q = h.request(sender, "request_human", {"bundle": bundle}, [("citizen", text, 1.0)])
    return q.conversation_id


def test_no_session_401_wrong_role_403_and_csrf(agent_server, people):
    cid = queued()
    anon = agent_server.browser()
    for path in ["/api/agent/conversations", f"/api/agent/conversations/{cid}", "/api/agent/stream",
                 "/api/agent/applications/YJS-20261201-000001", "/api/agent/canned-replies",
                 "/api/agent/nope"]:
        assert anon.call("GET", path).status == 401, path
    for tail in STATE_CHANGES:
        assert anon.call("POST", f"/api/agent/conversations/{cid}{tail}", {}).status == 401
    editor = logged_in(agent_server, people("editor"))
    admin = logged_in(agent_server, people("admin"))
    for b in (editor, admin):
        assert b.call("GET", "/api/agent/conversations").status == 403
        assert b.call("POST", f"/api/agent/conversations/{cid}/takeover", {}).status == 403
    agent = logged_in(agent_server, people("agent"))
    for tail in STATE_CHANGES:
        r = agent.call("POST", f"/api/agent/conversations/{cid}{tail}", {"text": "x"}, csrf=False)
        assert r.status == 403 and r.error == "csrf", tail
        r = agent.call("POST", f"/api/agent/conversations/{cid}{tail}", {"text": "x"},
                       csrf="forged-token")
        assert r.status == 403 and r.error == "csrf"
        r = agent.call("POST", f"/api/agent/conversations/{cid}{tail}", {"text": "x"},
                       headers={"Origin": "https://evil.example"})
        assert r.status == 403 and r.error == "cross_site"


def test_the_queue_shows_masked_citizens_and_opaque_ids(agent_server, people):
    cid = queued()
    agent = logged_in(agent_server, people("agent"))
    r = agent.call("GET", "/api/agent/conversations?state=waiting")
    assert r.status == 200
    conv = next(c for c in r.body["conversations"] if c["id"] == cid)
    assert conv["bundle"] == "newborn" and conv["state"] == "waiting" and conv["channel"] == "rest"
    assert conv["bundle_name"] == "新生儿出生"
    assert "199203" not in str(r.body) and "rest-" not in str(r.body)
    detail = agent.call("GET", f"/api/agent/conversations/{cid}").body
    assert detail["messages"][0]["from"] == "citizen"
    assert "4401**********1025" in detail["messages"][0]["text"]
    assert detail["context"]["bundle_name"] == "新生儿出生" and detail["wechat"] is None
    assert agent.call("GET", "/api/agent/conversations?state=everything").status == 400
    assert agent.call("GET", "/api/agent/conversations/hc-nope").status == 404


def test_takeover_with_rasa_down_is_refused_and_undone(agent_server, people):
    cid = queued()
    agent = logged_in(agent_server, people("agent"))
    r = agent.call("POST", f"/api/agent/conversations/{cid}/takeover")
    assert r.status == 503 and r.error == "rasa_unavailable"
    after = agent.call("GET", f"/api/agent/conversations/{cid}").body
    assert after["state"] == "waiting" and after["agent"] is None and after["paused"] is False
    # nobody holds it: writing to the citizen is refused
    r = agent.call("POST", f"/api/agent/conversations/{cid}/messages", {"text": "您好"})
    assert r.status == 409 and r.error == "not_holder"


def test_bad_bodies_are_clear_errors(agent_server, people):
    cid = queued()
    agent = logged_in(agent_server, people("agent"))
    base = f"/api/agent/conversations/{cid}"
    assert agent.call("POST", base + "/messages", {"text": ""}).status == 400
    assert agent.call("POST", base + "/messages", data=b"not json",
                      headers={"Content-Type": "application/json"}).status == 400
    assert agent.call("POST", base + "/messages", data=b"x" * (64 * 1024),
                      headers={"Content-Type": "application/json"}).status == 413
    assert agent.call("POST", base + "/transfer", {"to": "nobody-" + secrets.token_hex(3)}).status == 404
    assert agent.call("POST", base + "/work-orders", {"category": "nope", "department": "gd_health",
                                                       "summary": "x"}).status == 400
    assert agent.call("POST", base + "/work-orders", {"category": "consult", "department": "nope",
                                                       "summary": "x"}).status == 400


def test_notes_work_orders_canned_replies(agent_server, people):
    cid = queued()
    agent = logged_in(agent_server, people("agent"))
    base = f"/api/agent/conversations/{cid}"
    note = agent.call("POST", base + "/notes", {"text": "市民电话13812345678，下午回电"})
    assert note.status == 201 and "138****5678" in note.body["text"]
    options = agent.call("GET", "/api/agent/work-orders/options").body
    dept = options["departments"][0]["id"]
    order = agent.call("POST", base + "/work-orders", {"category": "consult", "department": dept,
                                                        "summary": "咨询出生医学证明办理地点"})
    assert order.status == 201 and order.body["number"].startswith("GD12345-")
    detail = agent.call("GET", base).body
    assert detail["notes"][0]["id"] == note.body["id"]
    assert detail["work_orders"][0]["number"] == order.body["number"]
    canned = agent.call("GET", f"/api/agent/canned-replies?conversation={cid}").body
    assert canned["bundle"] == "newborn" and len(canned["replies"]) >= 3 and canned["general"]
    assert any("出生医学证明" in r["text"] for r in canned["replies"])
    assert agent.call("GET", "/api/agent/canned-replies?bundle=no_such").status == 404


def test_application_lookup_is_audited(agent_server, people, kb):
    from bot.applications.service import Applications
    from bot.staff.audit import AuditLog
    from tests.bot.applications.test_service import filled_draft

    apps = Applications(kb)
    number = apps.submit(filled_draft(apps, "newborn").id).number
    person = people("agent")
    agent = logged_in(agent_server, person)
    r = agent.call("GET", f"/api/agent/applications/{number}")
    assert r.status == 200 and r.body["number"] == number and "history" in r.body
    assert agent.call("GET", "/api/agent/applications/YJS-20000101-000001").status == 404
    assert agent.call("GET", "/api/agent/applications/DROP-TABLE").status == 400
    entries, _ = AuditLog().query(actor=person.username, action="application.lookup")
    assert {(e.application, e.outcome) for e in entries} >= {(number, "ok"),
                                                             ("YJS-20000101-000001", "failed")}
