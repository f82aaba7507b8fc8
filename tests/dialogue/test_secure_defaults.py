"""Issue 8: every attack that worked against a default `make run`, each refused, on the
real servers (bot.rasa_server, the action server with rasa_sdk_plugins, our REST channel)
started exactly as `make run` starts them."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
import zlib

import pytest

from bot.config import actions_secret
from bot.privacy.vault import TOKEN_RE
from tests.bot.privacy.test_pii import SPELLINGS
from tests.dialogue.conftest import RestChat

pytestmark = pytest.mark.model


def _rest(stack, body: bytes | dict, headers: dict | None = None) -> tuple[int, object]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook",
                                 data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _events(stack, sender: str) -> list[dict]:
    status, tracker = stack.api("GET", f"/conversations/{sender}/tracker")
    assert status == 200, tracker
    return tracker["events"]


def _own_ip() -> str | None:
    """This machine's address on a non-loopback interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


# -- 1. Rasa's HTTP API ----------------------------------------------------------------


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/conversations/{sender}/tracker", None),
    ("POST", "/conversations/{sender}/trigger_intent", {"name": "check_status"}),
    ("POST", "/conversations/{sender}/tracker/events?execute_side_effects=true&output_channel=latest",
     {"event": "bot", "text": "冒充政府的消息"}),
    ("POST", "/conversations/{sender}/messages", {"text": "hi", "sender": "user"}),
    ("DELETE", "/model", None),
    ("PUT", "/model", {"model_file": "/etc/passwd"}),
    ("POST", "/model/train", {}),
    ("POST", "/model/parse", {"text": "生娃了"}),
    ("GET", "/status", None),
    ("GET", "/domain", None),
])
def test_the_api_needs_the_token(stack, method, path, body):
    chat = RestChat(stack)
    chat.say("孩子出生要办什么")
    status, _ = stack.api(method, path.format(sender=chat.sender), body, token=False)
    assert status in (401, 403)  # 403: refused outright (training, models from elsewhere)
    assert [e.get("text") for e in _events(stack, chat.sender) if e["event"] == "bot"][-1] \
        != "冒充政府的消息"


def test_with_the_token_models_load_from_models_only_and_training_is_off(stack):
    assert stack.api("PUT", "/model", {"model_file": "/etc/passwd"})[0] == 403
    assert stack.api("PUT", "/model", {"model_server": {"url": "http://evil.example/m"}})[0] == 403
    assert stack.api("POST", "/model/train", {})[0] == 403
    assert stack.api("GET", "/status")[0] == 200  # the token opens the rest


def test_no_cross_origin_access(stack):
    req = urllib.request.Request(f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook",
                                 method="OPTIONS", headers={
                                     "Origin": "https://evil.example",
                                     "Access-Control-Request-Method": "POST"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - loopback
            headers = resp.headers
    except urllib.error.HTTPError as exc:
        headers = exc.headers
    assert headers.get("Access-Control-Allow-Origin") in (None, "")


def test_the_api_is_not_served_to_other_addresses(stack):
    """The public port carries the webhooks; the API answers loopback clients only."""
    ip = _own_ip()
    if ip is None:
        pytest.skip("no non-loopback interface to call from")
    from bot.config import rasa_token

    base = f"http://{ip}:{stack.rasa_port}"
    try:
        urllib.request.urlopen(f"{base}/status?token={rasa_token()}", timeout=10)  # noqa: S310
        raise AssertionError("the API answered a non-loopback client")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
    with urllib.request.urlopen(f"{base}/", timeout=10) as resp:  # noqa: S310 - hello is public
        assert resp.status == 200


def test_parse_vaults_numbers_before_the_nlu(stack):
    status, result = stack.api("POST", "/model/parse",
                               {"text": "我身份证 4401 0619 9203 1510 25，电话 138-0013-8000"})
    assert status == 200
    dump = json.dumps(result, ensure_ascii=False)
    assert "0619" not in dump and "8000" not in dump and TOKEN_RE.search(result["text"])


def test_parse_of_a_huge_text_is_cut_inside_the_pipeline(stack):
    import time

    started = time.monotonic()
    status, result = stack.api("POST", "/model/parse", {"text": "孩子出生要办什么" * 2500})
    assert status == 200 and len(result["text"]) <= 1000
    assert time.monotonic() - started < 15


def _refused_as_too_large(send) -> bool:
    """413, or the connection cut while the body was still being sent (the server
    answers 413 as soon as the limit is passed and closes)."""
    try:
        return send()[0] == 413
    except (urllib.error.URLError, ConnectionError) as exc:
        return isinstance(getattr(exc, "reason", exc), (BrokenPipeError, ConnectionResetError))


def test_request_bodies_are_capped(stack):
    assert _rest(stack, {"sender": "big", "message": "长" * 20000})[0] == 413
    assert _refused_as_too_large(
        lambda: stack.api("POST", "/model/parse", {"text": "x" * (2 * 1024 * 1024)}))
    assert stack.api("POST", "/model/parse", {"text": "孩子出生"})[0] == 200  # still serving


# -- 2. the action server ----------------------------------------------------------------


def _action_call(stack, body: bytes, headers: dict) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{stack.actions_port}/webhook", data=body,
                                 method="POST", headers={"Content-Type": "application/json",
                                                         **headers})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 - loopback
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_action_server_refuses_calls_without_the_secret(stack):
    call = json.dumps({"next_action": "action_check_status", "sender_id": "o" + "v" * 27,
                       "tracker": {"sender_id": "o" + "v" * 27, "events": [], "slots": {},
                                   "latest_message": {}}, "domain": {}, "version": "3.6.2"})
    assert _action_call(stack, call.encode(), {}) == 401
    assert _action_call(stack, call.encode(), {"Authorization": "Bearer guess"}) == 401
    with pytest.raises(urllib.error.HTTPError) as listed:
        urllib.request.urlopen(f"http://127.0.0.1:{stack.actions_port}/actions", timeout=10)
    assert listed.value.code == 401
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.actions_port}/health", timeout=10):
        pass


def test_the_action_server_caps_bodies_before_and_after_inflating(stack):
    secret = {"Authorization": f"Bearer {actions_secret()}"}
    bomb = zlib.compress(b"{" + b" " * (64 * 1024 * 1024) + b"}", 9)   # 64 MiB in ~64 KB
    assert len(bomb) < 200_000
    assert _action_call(stack, bomb, {**secret, "Content-Encoding": "deflate"}) == 413
    assert _refused_as_too_large(
        lambda: (_action_call(stack, b"x" * (5 * 1024 * 1024), secret),))
    assert _action_call(stack, b"{}", {**secret, "Content-Encoding": "gzip"}) == 415


def test_the_action_server_listens_on_loopback_only(stack):
    ip = _own_ip()
    if ip is None:
        pytest.skip("no non-loopback interface to call from")
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((ip, stack.actions_port)) != 0


# -- 4. the vault, 8. senders ------------------------------------------------------------


@pytest.mark.parametrize("spelling", [s for s, _, _ in SPELLINGS])
def test_no_spelling_of_a_number_reaches_the_tracker(stack, spelling):
    chat = RestChat(stack)
    chat.say(f"我的号码是{spelling}")
    dump = json.dumps(_events(stack, chat.sender), ensure_ascii=False)
    digits = "".join(ch for ch in spelling if ch.isdigit() or "０" <= ch <= "９")
    assert digits[-6:] not in dump and "⟪" in dump


def test_metadata_is_dropped_and_the_channel_cannot_be_claimed(stack):
    status, _ = _rest(stack, {"sender": "meta-1", "message": "你好", "input_channel": "wechat",
                              "metadata": {"id": "440106199203151025"}})
    assert status == 200
    [user] = [e for e in _events(stack, "meta-1") if e["event"] == "user"]
    assert user["input_channel"] == "rest"
    assert set(user.get("metadata") or {}) <= {"assistant_id", "model_id"}  # Rasa's own only
    assert "440106199203151025" not in json.dumps(user)


@pytest.mark.parametrize("body,status", [
    ({"message": "你好"}, 400),                      # no sender: not the shared "default"
    ({"sender": None, "message": "你好"}, 400),
    ({"sender": 42, "message": "你好"}, 400),
    ({"sender": ["a"], "message": "你好"}, 400),
    ({"sender": "ok", "message": 5}, 400),
    ({"sender": "o" + "x" * 27, "message": "你好"}, 403),   # a WeChat follower's id
    ({"sender": "mp:oabcdefghij", "message": "你好"}, 403),  # a mini-program user's id
])
def test_rest_needs_a_string_sender_of_its_own(stack, body, status):
    assert _rest(stack, body)[0] == status
    assert _rest(stack, b"[1, 2]")[0] == 400


# -- the flaky "您输入的是2位" (a vault token rewritten by the normaliser) ----------------------


def test_a_vault_token_containing_a_table_key_still_resolves(chat, kb):
    """The table maps "bb" → 宝宝 and tokens are random letters: ~1 % of tokens were
    corrupted on their way to the action server, and a valid 身份证号 was refused."""
    from datetime import datetime, timezone

    from bot.applications.service import Applications
    from bot.db import session_scope
    from bot.models import VaultEntry
    from bot.privacy import crypto

    assert "新生儿出生" in chat.text("孩子出生要办什么")
    chat.say("我要申请")
    chat.say("全部")
    with session_scope() as session:  # what the vault writes for a token with "bb" in it
        session.add(VaultEntry(token="k3bb2m4p7a", kind="id_number",
                               owner=crypto.blind_index(chat.sender),
                               ciphertext=crypto.encrypt("440106199203151025"),
                               created_at=datetime.now(timezone.utc)))
    reply = chat.text("⟪身份证号:k3bb2m4p7a⟫")
    assert "您输入的是" not in reply and "18位" not in reply
    assert Applications(kb).open_draft(chat.sender).values["applicant_id_number"] == \
        "440106199203151025"
