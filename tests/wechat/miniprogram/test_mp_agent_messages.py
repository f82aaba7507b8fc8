"""GET /api/mp/agent-messages: a mini-program user receives what the hotline agent
wrote (long poll), only their own, each once; without the login token → 401."""

from __future__ import annotations

import secrets
import threading
import time

from bot.handoff.config import HandoffSettings
from bot.handoff.service import Handoff
from bot.staff.accounts import StaffAccounts
from bot.staff.audit import Actor
from wechat.fake import openid_for_code


def _agent() -> Actor:
    acc, _ = StaffAccounts().add_or_update(f"mpag-{secrets.token_hex(3)}", ["agent"],
                                           "pw-" + secrets.token_urlsafe(12), actor=Actor("test"))
    return Actor(acc.username, acc.id)


def test_agent_messages_reach_only_their_citizen_once(mp):
    code, other_code = f"mp-h-{secrets.token_hex(4)}", f"mp-h-{secrets.token_hex(4)}"
    token, other = mp.login(code), mp.login(other_code)
    sender = "mp:" + openid_for_code(code)
    h = Handoff(config=HandoffSettings(shifts=None))
    q = h.request(sender, "request_human", {"bundle": "newborn"})
    agent = _agent()
    h.claim(q.conversation_id, agent)

    assert mp.call("GET", "/api/mp/agent-messages").status == 401
    empty = mp.call("GET", "/api/mp/agent-messages?wait=0", token)
    assert empty.status == 200 and empty.body == {"messages": [], "state": "agent"}

    def write_later():
        time.sleep(0.5)
        h.add_agent_message(q.conversation_id, agent, "您好，我是人工客服，电话13812345678", "queued")

    threading.Thread(target=write_later).start()
    started = time.monotonic()
    got = mp.call("GET", "/api/mp/agent-messages?wait=10", token)
    assert got.status == 200 and time.monotonic() - started < 5  # returned when it arrived
    assert [(m["from"], m["text"]) for m in got.body["messages"]] == [
        ("agent", "您好，我是人工客服，电话138****5678")]
    assert mp.call("GET", "/api/mp/agent-messages?wait=0", token).body["messages"] == []
    assert mp.call("GET", "/api/mp/agent-messages?wait=0", other).body == {"messages": [],
                                                                         "state": "bot"}
    assert mp.call("GET", "/api/mp/agent-messages?wait=abc", token).status == 400
