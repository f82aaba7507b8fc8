"""Handoff on the REST channel against the real stack (Rasa + actions, our tracker
store) and the backend's agent API: the agent's message comes back on the client's
next call; a message during take-over gets no bot reply and changes no slot; an
expired session (an hour of silence) does not hand the conversation back to the bot
behind the agent's back; "/restart" during take-over changes nothing; after release
the bot answers in context."""

from __future__ import annotations

import os
import time

import pytest

from tests.backend.conftest import logged_in, people, serve, trusted_proxy  # noqa: F401, F811 - fixtures
from tests.dialogue.conftest import RestChat

os.environ["HANDOFF_HOURS"] = "24x7"  # agents on duty (the action server reads it)


@pytest.fixture(scope="module")
def console(stack, loop, kb, trusted_proxy):  # noqa: F811
    old = os.environ.get("YJS_RASA_URL")
    os.environ["YJS_RASA_URL"] = f"http://127.0.0.1:{stack.rasa_port}"
    s = serve(loop, kb)
    yield s
    s.close()
    if old is None:
        os.environ.pop("YJS_RASA_URL", None)
    else:
        os.environ["YJS_RASA_URL"] = old


@pytest.fixture(scope="module")
def loop():
    import asyncio

    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def tracker(stack, sender: str) -> dict:
    status, data = stack.api("GET", f"/conversations/{sender}/tracker")
    assert status == 200
    return data


def _find(agent, sender_tail: str) -> dict:
    rows = agent.call("GET", "/api/agent/conversations?state=waiting").body["conversations"]
    return next(c for c in rows if c["channel"] == "rest" and c["citizen"].endswith(sender_tail))


def test_rest_handoff_round_trip(stack, console, people):  # noqa: F811
    chat = RestChat(stack)
    assert "出生" in chat.say("孩子出生要办什么")
    assert "人工客服" in chat.say("转人工")
    agent = logged_in(console, people("agent"))
    conv = _find(agent, chat.sender[-4:])
    assert conv["bundle"] == "newborn"
    cid = conv["id"]
    took = agent.call("POST", f"/api/agent/conversations/{cid}/takeover")
    assert took.status == 200, took.body
    assert tracker(stack, chat.sender)["paused"] is True

    # during take-over: no bot reply, no slot change, the message is in the console
    assert chat.say("结婚登记要带什么材料") == ""
    assert chat.last == []
    t = tracker(stack, chat.sender)
    assert t["slots"]["bundle"] == "newborn" and t["paused"] is True
    texts = [m["text"] for m in agent.call("GET", f"/api/agent/conversations/{cid}").body["messages"]]
    assert "结婚登记要带什么材料" in texts

    # the agent's reply is returned on the client's next call, once
    r = agent.call("POST", f"/api/agent/conversations/{cid}/messages", {"text": "您好，请讲。"})
    assert r.status == 201 and r.body["status"] == "queued"
    chat.say("你好")
    assert [(m["text"], m["custom"]["from"]) for m in chat.last] == [("您好，请讲。", "agent")]
    chat.say("在吗")
    assert chat.last == []
    detail = agent.call("GET", f"/api/agent/conversations/{cid}").body
    assert [m["status"] for m in detail["messages"] if m["from"] == "agent"] == ["delivered"]

    # "/restart" while an agent holds it: nothing is reset
    chat.say("/restart")
    t = tracker(stack, chat.sender)
    assert t["paused"] is True and t["slots"]["bundle"] == "newborn"

    # an hour of silence: Rasa starts a new session on the next message, and stays paused
    old = time.time() - 2 * 3600
    status, _ = stack.api("POST", f"/conversations/{chat.sender}/tracker/events",
                          {"event": "user", "text": "（很久以前）", "timestamp": old,
                           "parse_data": {"intent": {"name": "greet", "confidence": 1.0},
                                          "entities": []}})
    assert status == 200
    assert chat.say("还在吗") == ""
    t = tracker(stack, chat.sender)
    events = [e["event"] for e in t["events"]]
    assert "session_started" in events and t["paused"] is True
    assert t["slots"]["bundle"] == "newborn"  # carried over into the new session

    # release: the client is told on its next call, and the bot answers in context
    rel = agent.call("POST", f"/api/agent/conversations/{cid}/release")
    assert rel.status == 200 and rel.body["citizen_told"] == "queued"
    answer = chat.say("要带什么材料")
    assert any("智能助手" in m["text"] for m in chat.last if m.get("custom"))
    assert "出生医学证明" in answer
    assert tracker(stack, chat.sender)["paused"] is False


def test_nlu_fallbacks_in_a_row_hand_over(stack):
    chat = RestChat(stack)
    replies = [chat.say(t) for t in ("qwzx vbnm", "qwzx vbnm", "qwzx vbnm")]
    events = [(e["event"], e.get("name") or (e.get("parse_data") or {}).get("intent", {}).get("name"))
              for e in tracker(stack, chat.sender)["events"] if e["event"] in ("user", "action")]
    assert "人工客服" in replies[-1] and "人工客服" not in replies[0], events


def test_a_bad_rating_hands_over(stack):
    chat = RestChat(stack)
    chat.say("孩子出生要办什么")
    answer = chat.say("非常不满意")
    assert "很抱歉这次没让您满意" in answer and "人工客服" in answer, answer
