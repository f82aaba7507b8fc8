"""The chat endpoint through the real stack (Rasa server + action server), and
the private Rasa channel refusing anyone but the backend."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request

from bot.privacy.mp_signing import SIGNATURE_HEADER, sign_body
from wechat.fake import openid_for_code

DEMO_ID = "440106199203151025"


def _raw_post(port: int, body: dict, signature: str | None) -> int:
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/miniprogram/webhook", data=data,
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_chat_answers_about_a_bundle_as_the_logged_in_user(mp_chat, mp_stack):
    code = f"chat-{time.monotonic_ns()}"
    token = mp_chat.login(code)
    r = mp_chat.call("POST", "/api/mp/chat", token, json_body={"message": "孩子出生了要办什么"})
    assert r.status == 200 and r.body["messages"], r.text
    text = "\n".join(m["text"] for m in r.body["messages"])
    assert "出生医学证明" in text or "新生儿出生" in text, text

    # the turn was stored under "mp:<openid>" (the client never chooses the sender)
    db = sqlite3.connect(mp_stack.var_dir / "tracker.db")
    senders = {row[0] for row in db.execute("SELECT DISTINCT sender_id FROM events")}
    assert "mp:" + openid_for_code(code) in senders

    # 身份证号 typed in the chat is vaulted before Rasa sees it, and masked in what comes back
    r = mp_chat.call("POST", "/api/mp/chat", token,
                     json_body={"message": f"我要申请新生儿出生，身份证号 {DEMO_ID}"})
    assert r.status == 200 and DEMO_ID not in r.text
    dump = "\n".join(str(row) for row in db.execute("SELECT data FROM events"))
    assert DEMO_ID not in dump
    db.close()

    # quick replies come back as buttons the page can show
    buttons = [b for m in r.body["messages"] for b in m["buttons"]]
    assert all(set(b) == {"title", "payload"} for b in buttons)


def test_chat_and_forms_share_one_draft(mp_chat):
    token = mp_chat.login(f"shared-{time.monotonic_ns()}")
    r = mp_chat.call("POST", "/api/mp/chat", token, json_body={"message": "我要申请新生儿出生"})
    assert r.status == 200
    cur = mp_chat.call("GET", "/api/mp/drafts/current", token)
    assert cur.status == 200 and cur.body["draft"]["bundle_id"] == "newborn"


def test_private_channel_refuses_everyone_but_the_backend(mp_stack):
    port = mp_stack.rasa_port
    good = {"sender": "mp:" + openid_for_code("channel"), "message": "你好"}
    assert _raw_post(port, good, None) == 403
    assert _raw_post(port, good, "t=1,v1=00") == 403
    body = json.dumps(good, ensure_ascii=False).encode()
    assert _raw_post(port, good, sign_body(body, now=time.time() - 3600)) == 403  # stale
    assert _raw_post(port, {**good, "message": "改了"}, sign_body(body)) == 403  # other body
    rest_user = {"sender": "citizen-42", "message": "你好"}
    assert _raw_post(port, rest_user, sign_body(json.dumps(rest_user, ensure_ascii=False).encode())) == 403
    assert _raw_post(port, good, sign_body(body)) == 200


def test_a_signed_forward_cannot_be_replayed(mp_stack):
    """Issue 8, item 10: a captured channel request replayed within the 60 s window ran
    the turn again as that citizen."""
    port = mp_stack.rasa_port
    good = {"sender": "mp:" + openid_for_code("replay"), "message": "你好"}
    body = json.dumps(good, ensure_ascii=False).encode()
    signature = sign_body(body)
    assert _raw_post(port, good, signature) == 200
    assert _raw_post(port, good, signature) == 403                       # the same request again
    nonce = dict(p.split("=", 1) for p in signature.split(","))["n"]
    forged = signature.replace(f"n={nonce}", f"n={nonce[::-1]}")
    assert _raw_post(port, good, forged) == 403                          # the nonce is signed
    assert _raw_post(port, good, sign_body(body)) == 200                 # a fresh forward is fine
