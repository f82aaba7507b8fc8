"""A REST client's retry of one message (same `message_id`) is answered with the
stored answer and stored once; a new id is a new message; a bad id is refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from channels.rest import stored_answer
from tests.dialogue.conftest import RestChat


def _post(stack, body: dict) -> tuple[int, object]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook",
        data=json.dumps(body).encode(), headers={"Content-Type": "application/json"},
        method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _user_turns(stack, sender: str) -> list[str]:
    status, tracker = stack.api("GET", f"/conversations/{sender}/tracker")
    assert status == 200
    return [e["text"] for e in tracker["events"] if e["event"] == "user"]


def test_a_retried_message_is_answered_from_the_store_and_stored_once(stack):
    sender = RestChat(stack).sender
    first = _post(stack, {"sender": sender, "message": "孩子出生要办什么", "message_id": "m-1"})
    again = _post(stack, {"sender": sender, "message": "孩子出生要办什么", "message_id": "m-1"})
    assert first[0] == again[0] == 200
    assert first[1] and [m["text"] for m in again[1]] == [m["text"] for m in first[1]]
    assert _user_turns(stack, sender) == ["孩子出生要办什么"]
    # the same words under a new id are a new message (citizens do repeat themselves)
    assert _post(stack, {"sender": sender, "message": "孩子出生要办什么", "message_id": "m-2"})[1]
    assert _user_turns(stack, sender) == ["孩子出生要办什么", "孩子出生要办什么"]


def test_a_bad_message_id_is_refused(stack):
    sender = RestChat(stack).sender
    for bad in ("", "x" * 65, "a b", 7, "⟪身份证号⟫"):
        status, body = _post(stack, {"sender": sender, "message": "你好", "message_id": bad})
        assert status == 400 and body["error"] == "bad_message_id", bad
    assert _user_turns(stack, sender) == []


def test_the_stored_answer_is_what_followed_that_message():
    events = [
        {"event": "user", "text": "a", "message_id": "1"},
        {"event": "bot", "text": "A1"},
        {"event": "bot", "text": "A2", "data": {"buttons": [{"title": "是", "payload": "是"}]}},
        {"event": "user", "text": "b", "message_id": "2"},
        {"event": "bot", "text": "B"},
    ]
    assert stored_answer(events, "1", "s") == [
        {"recipient_id": "s", "text": "A1"},
        {"recipient_id": "s", "text": "A2", "buttons": [{"title": "是", "payload": "是"}]}]
    assert stored_answer(events, "2", "s") == [{"recipient_id": "s", "text": "B"}]
    assert stored_answer(events, "3", "s") is None
