"""The Official Account channel through a real Rasa server + action server, pushed to
as WeChat does (signed, encrypted), with customer-service sends going to the fake."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from channels.wechat import UNSUPPORTED, VOICE_UNCLEAR, WELCOME
from tests.wechat.channel.conftest import inbound_rows, wait_for
from tests.wechat.channel.pushes import new_aes_key, new_openid, template, wechat_signature
from wechat.replies import CHOICES_HEADER

pytestmark = pytest.mark.model

NEWBORN_QUESTION = "孩子出生要办什么"


def _sent_texts(fake, openid: str) -> list[str]:
    return [m["content"] for m in fake.sent(openid) if m.get("msgtype") == "text"]


def _answer(reply, fake, openid: str) -> str:
    """The text the citizen sees: the passive reply, or the customer-service message(s)."""
    assert reply.status == 200, reply.body
    if reply.text:
        return reply.text
    return "\n".join(wait_for(lambda: _sent_texts(fake, openid), timeout=60))


# -- verification ---------------------------------------------------------------------


def test_get_verification_echoes_only_for_a_good_fresh_signature(sim):
    ts, nonce = str(int(time.time())), "1357924680"
    good = {"signature": wechat_signature(sim.token, ts, nonce), "timestamp": ts,
            "nonce": nonce, "echostr": "6243851597621540384"}
    assert (sim.get(good).status, sim.get(good).body) == (200, "6243851597621540384")
    assert sim.get({**good, "signature": "0" * 40}).status == 403
    old = str(int(time.time()) - 3600)
    stale = {**good, "timestamp": old, "signature": wechat_signature(sim.token, old, nonce)}
    assert sim.get(stale).status == 403


# -- both modes, message types --------------------------------------------------------


def test_text_is_answered_passively_in_safe_mode(sim, wechat_stack, wechat):
    openid = new_openid()
    reply = sim.send(sim.text(openid, NEWBORN_QUESTION))
    assert reply.status == 200 and reply.text, reply.body
    assert "出生" in reply.text
    assert "<Encrypt>" in reply.body and NEWBORN_QUESTION not in reply.body
    turns = wechat_stack.user_events(openid)
    assert [t["text"] for t in turns] == [NEWBORN_QUESTION]
    assert turns[0]["input_channel"] == "wechat"
    assert [(state, r["text"]) for _, state, r in inbound_rows(openid)] == [("replied", reply.text)]


def test_voice_uses_recognition_and_asks_to_type_when_empty(sim, wechat_stack):
    openid = new_openid()
    reply = sim.send(sim.message("voice", openid, recognition=NEWBORN_QUESTION))
    assert "出生" in reply.text
    reply = sim.send(sim.message("voice", openid, recognition=""))
    assert reply.text == VOICE_UNCLEAR
    assert [t["text"] for t in wechat_stack.user_events(openid)] == [NEWBORN_QUESTION]


def test_subscribe_welcomes_with_numbered_choices_and_unsubscribe_is_silent(sim, wechat_stack):
    openid = new_openid()
    reply = sim.send(sim.message("event_subscribe", openid))
    assert reply.text.startswith(WELCOME) and f"{CHOICES_HEADER}\n1. 看看能办哪些事" in reply.text
    assert wechat_stack.user_events(openid) == []
    listing = sim.send(sim.text(openid, "1"))
    assert "新生儿出生" in listing.text and "企业开办" in listing.text
    turns = wechat_stack.user_events(openid)
    assert [t["parse_data"]["intent"]["name"] for t in turns] == ["list_bundles"]
    reply = sim.send(sim.message("event_unsubscribe", openid, create_time=int(time.time()) + 1))
    assert (reply.status, reply.body) == (200, "success")
    assert len(wechat_stack.user_events(openid)) == 1


def test_menu_click_naming_a_bundle_asks_about_it(sim, wechat_stack):
    openid = new_openid()
    reply = sim.send(sim.message("event_click", openid, event_key="newborn"))
    assert "出生" in reply.text
    turn = wechat_stack.user_events(openid)[0]
    assert turn["parse_data"]["intent"]["name"] == "ask_bundle"
    assert [(e["entity"], e["value"]) for e in turn["parse_data"]["entities"]] == [("bundle", "newborn")]


@pytest.mark.parametrize("kind", ["image", "location", "link", "video"])
def test_other_types_get_a_polite_reply_and_no_dialogue(sim, wechat_stack, kind):
    openid = new_openid()
    reply = sim.send(sim.message(kind, openid))
    assert reply.text == UNSUPPORTED
    assert wechat_stack.user_events(openid) == []


def test_personal_numbers_are_vaulted_and_intents_cannot_be_typed(sim, wechat_stack):
    openid = new_openid()
    sim.send(sim.text(openid, "我的手机是13800138000"))
    sim.send(sim.text(openid, "/start_application"))
    texts = [t["text"] for t in wechat_stack.user_events(openid)]
    assert "13800138000" not in texts[0] and "⟪手机号:" in texts[0]
    assert texts[1] == "／start_application"


# -- refusals: nothing processed ------------------------------------------------------


def _nothing_processed(wechat_stack, openid: str) -> None:
    assert wechat_stack.user_events(openid) == []
    assert inbound_rows(openid) == []


def test_plain_mode_is_refused_while_an_aes_key_is_configured(sim, wechat_stack, wechat):
    """Issue 8, item 6: a safe-mode push's signature/timestamp/nonce resent in plain mode
    with a forged body naming another follower got that follower's applications."""
    victim, attacker = new_openid(), new_openid()
    assert "出生" in sim.send(sim.text(victim, NEWBORN_QUESTION)).text
    query, _ = sim.signed(sim.text(attacker, "你好"))
    forged = sim.text(victim, "我的申请到哪了").encode()
    plain = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
    reply = sim.post(plain, forged)
    assert reply.status == 403 and "申请" not in reply.body
    assert sim.send(sim.text(new_openid(), NEWBORN_QUESTION), safe=False).status == 403
    assert [t["text"] for t in wechat_stack.user_events(victim)] == [NEWBORN_QUESTION]
    assert _sent_texts(wechat, victim) == []


def test_the_same_msgid_from_another_citizen_is_another_message(sim, wechat_stack):
    """Issue 8, item 7: dedup by MsgId alone gave a second citizen the first one's reply."""
    first, second, msg_id = new_openid(), new_openid(), uuid.uuid4().int % 10**16
    answer = sim.send(sim.text(first, "我的手机是13800138000，我的申请到哪了", msg_id=msg_id))
    other = sim.send(sim.text(second, NEWBORN_QUESTION, msg_id=msg_id))
    assert other.status == 200 and "出生" in other.text and other.text != answer.text
    assert [t["text"] for t in wechat_stack.user_events(second)] == [NEWBORN_QUESTION]
    assert len(inbound_rows(first)) == len(inbound_rows(second)) == 1


def test_forged_and_stale_pushes_are_403(sim, wechat_stack):
    safe = True
    openid = new_openid()
    query, body = sim.signed(sim.text(openid, NEWBORN_QUESTION), safe=safe)
    for forged in ({**query, "signature": "0" * 40},
                   {**query, "nonce": query["nonce"] + "1"},
                   {**query, "timestamp": str(int(query["timestamp"]) - 1)}):
        assert sim.post(forged, body).status == 403
    if safe:
        assert sim.post({**query, "msg_signature": "f" * 40}, body).status == 403
        unsigned = {k: v for k, v in query.items() if k not in ("signature", "msg_signature")}
        assert sim.post(unsigned, body).status == 403
    stale = sim.signed(sim.text(openid, NEWBORN_QUESTION), safe=safe,
                       timestamp=int(time.time()) - 3600)
    assert sim.post(*stale).status == 403
    future = sim.signed(sim.text(openid, NEWBORN_QUESTION), safe=safe,
                        timestamp=int(time.time()) + 3600)
    assert sim.post(*future).status == 403
    _nothing_processed(wechat_stack, openid)
    genuine = sim.signed(sim.text(openid, NEWBORN_QUESTION), safe=safe)
    our_token, sim.token = sim.token, "not-our-token"
    try:  # signed with another token (and, in safe mode, sealed with our key)
        assert sim.send(sim.text(openid, NEWBORN_QUESTION), safe=safe).status == 403
    finally:
        sim.token = our_token
    assert sim.post(*genuine).status == 200  # a genuine push still goes through
    assert len(wechat_stack.user_events(openid)) == 1


def test_a_used_timestamp_and_nonce_with_another_body_is_403(sim, wechat_stack):
    """Replay protection refuses only a reused (timestamp, nonce) with a different request,
    even one signed correctly (a captured push re-sealed around other words)."""
    openid = new_openid()
    query, body = sim.signed(sim.text(openid, NEWBORN_QUESTION))
    assert sim.post(query, body).status == 200
    other = sim.signed(sim.text(openid, "我的申请到哪了"), timestamp=int(query["timestamp"]),
                       nonce=query["nonce"])
    assert sim.post(*other).status == 403
    assert [t["text"] for t in wechat_stack.user_events(openid)] == [NEWBORN_QUESTION]


def test_byte_identical_retry_of_an_answered_push_gets_the_answer(sim, wechat_stack, wechat):
    """Issue 8, item 5: WeChat re-sends the very same request when the answer was late or
    lost. The retry gets the stored passive reply, and — WeChat evidently did not show
    the first one — the answer also goes once by customer-service message."""
    openid = new_openid()
    query, body = sim.signed(sim.text(openid, NEWBORN_QUESTION))
    first = sim.post(query, body)
    assert first.status == 200 and "出生" in first.text
    assert _sent_texts(wechat, openid) == []
    retries = [sim.post(query, body) for _ in range(2)]
    assert all(r.status == 200 and r.text == first.text for r in retries)
    assert wait_for(lambda: _sent_texts(wechat, openid)) == [first.text]
    time.sleep(0.5)
    assert _sent_texts(wechat, openid) == [first.text]       # once, not per retry
    assert len(wechat_stack.user_events(openid)) == 1        # one dialogue turn


def test_byte_identical_retry_of_a_slow_push_gets_the_answer_once(slow_sim, wechat_stack, wechat):
    openid = new_openid()
    query, body = slow_sim.signed(slow_sim.text(openid, NEWBORN_QUESTION))
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(slow_sim.post, query, body)
        time.sleep(0.05)
        retry = pool.submit(slow_sim.post, query, body)
        replies = [first.result(), retry.result()]
    assert all(r.status == 200 for r in replies)
    sent = wait_for(lambda: _sent_texts(wechat, openid), timeout=60)
    assert sent and "出生" in "\n".join(sent)
    assert wait_for(lambda: [s for _, s, _ in inbound_rows(openid)] == ["done"], timeout=30)
    late = slow_sim.post(query, body)               # after the answer went by customer service
    assert (late.status, late.body) == (200, "success")
    time.sleep(0.5)
    assert len(wechat_stack.user_events(openid)) == 1
    assert len(_sent_texts(wechat, openid)) == len(sent)


def test_previous_aes_key_accepted_unknown_key_refused(sim, wechat_stack, aes_keys):
    openid = new_openid()
    reply = sim.send(sim.text(openid, NEWBORN_QUESTION), key=aes_keys[1])
    assert reply.status == 200 and "出生" in reply.text  # the reply is sealed with the current key
    stranger = new_openid()
    assert sim.send(sim.text(stranger, NEWBORN_QUESTION), key=new_aes_key()).status == 403
    assert sim.send(sim.text(stranger, NEWBORN_QUESTION), appid="wx9999999999999999").status == 403
    _nothing_processed(wechat_stack, stranger)


@pytest.mark.parametrize("safe", [True], ids=["safe"])
@pytest.mark.parametrize("name,status", [
    ("malformed.xml", 400), ("hostile_billion_laughs.xml", 400),
    ("hostile_external_entity.xml", 400), ("hostile_parameter_entity.xml", 400),
    ("hostile_processing_instruction.xml", 400)])
def test_malformed_and_hostile_xml_is_refused_cleanly(sim, wechat_stack, name, status, safe):
    openid = new_openid()
    xml = template(name, account=sim.account, openid=openid, create_time=int(time.time()),
                   msg_id=int(uuid.uuid4().int % 10**16))
    assert sim.send(xml, safe=safe).status == status
    _nothing_processed(wechat_stack, openid)


@pytest.mark.parametrize("safe", [False, True], ids=["plain", "safe"])
def test_huge_body_is_refused(sim, wechat_stack, safe):  # before anything else, either mode
    openid = new_openid()
    reply = sim.send(sim.text(openid, "长" * 40000), safe=safe)
    assert reply.status == 413
    _nothing_processed(wechat_stack, openid)


def test_garbage_envelopes_are_refused(sim, wechat_stack):
    ts, nonce = str(int(time.time())), "24680"
    query = {"signature": wechat_signature(sim.token, ts, nonce), "timestamp": ts,
             "nonce": nonce, "encrypt_type": "aes",
             "msg_signature": wechat_signature(sim.token, ts, nonce, "bm90IGFlcw==")}
    body = b"<xml><ToUserName>gh</ToUserName><Encrypt>bm90IGFlcw==</Encrypt></xml>"
    assert sim.post(query, body).status == 403  # signed, but no key opens it
    assert sim.post({**query, "nonce": "1"}, b"{\"json\": true}").status in (400, 403)


# -- retries, ordering, buttons ---------------------------------------------------------


def test_retry_during_processing_never_runs_the_dialogue_twice(sim, wechat_stack, wechat):
    openid, msg_id = new_openid(), uuid.uuid4().int % 10**16
    xml = sim.text(openid, NEWBORN_QUESTION, msg_id=msg_id)
    requests = [sim.signed(xml) for _ in range(3)]  # WeChat re-signs each delivery
    start = threading.Barrier(3)

    def deliver(request):
        start.wait()
        return sim.post(*request)

    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(deliver, requests))
    assert all(r.status == 200 for r in replies)
    texts = {r.text for r in replies if r.text}
    assert len(texts) == 1 and "出生" in texts.pop()
    assert len(wechat_stack.user_events(openid)) == 1
    assert [state for _, state, _ in inbound_rows(openid)] == ["replied"]
    assert _sent_texts(wechat, openid) == []


def test_retry_after_answering_returns_the_stored_reply(sim, wechat_stack, wechat):
    openid, msg_id = new_openid(), uuid.uuid4().int % 10**16
    xml = sim.text(openid, NEWBORN_QUESTION, msg_id=msg_id)
    first = sim.send(xml)
    again = sim.send(xml)  # re-signed by WeChat: a new timestamp and nonce
    assert first.text and again.text == first.text
    assert sim.send(xml, safe=False).status == 403
    assert wait_for(lambda: _sent_texts(wechat, openid)) == [first.text]
    assert len(wechat_stack.user_events(openid)) == 1


def test_retry_on_another_process_never_runs_the_dialogue_twice(sim, slow_sim, wechat_stack,
                                                                wechat):
    openid, msg_id = new_openid(), uuid.uuid4().int % 10**16
    xml = sim.text(openid, NEWBORN_QUESTION, msg_id=msg_id)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(sim.send, xml)
        time.sleep(0.05)
        retry = pool.submit(slow_sim.send, xml)
        replies = [first.result(), retry.result()]
    assert all(r.status == 200 for r in replies)
    passive = [r.text for r in replies if r.text]
    if not passive:  # the retry handed the answer to the customer-service path
        assert wait_for(lambda: _sent_texts(wechat, openid))
    time.sleep(0.5)
    assert len(wechat_stack.user_events(openid)) == 1
    assert len(passive) + len(_sent_texts(wechat, openid)) >= 1
    assert [state for _, state, _ in inbound_rows(openid)] in (["replied"], ["done"])


def test_slow_dialogue_answers_success_then_customer_service(slow_sim, wechat_stack, wechat):
    openid = new_openid()
    started = time.monotonic()
    reply = slow_sim.send(slow_sim.text(openid, NEWBORN_QUESTION))
    assert (reply.status, reply.body) == (200, "success")
    assert time.monotonic() - started < 5
    sent = wait_for(lambda: _sent_texts(wechat, openid), timeout=60)
    assert sent and "出生" in "\n".join(sent)
    assert wait_for(lambda: [s for _, s, _ in inbound_rows(openid)] == ["done"], timeout=30)
    # A retry now gets "success" (the answer went by customer service), no second turn.
    retry = slow_sim.send(slow_sim.message("text", openid, content=NEWBORN_QUESTION,
                                           msg_id=inbound_rows(openid)[0][0].rsplit(":", 1)[1]))
    assert retry.body == "success"
    assert len(wechat_stack.user_events(openid)) == 1
    assert len(_sent_texts(wechat, openid)) == len(sent)


def test_numbered_button_answered_with_its_number(sim, wechat_stack, wechat):
    openid = new_openid()
    greeting = _answer(sim.send(sim.text(openid, "你好")), wechat, openid)
    assert f"{CHOICES_HEADER}\n1. 看看能办哪些事" in greeting
    listing = _answer(sim.send(sim.text(openid, "1")), wechat, openid)
    assert "新生儿出生" in listing
    turns = wechat_stack.user_events(openid)
    assert turns[1]["text"] == "/list_bundles"
    assert turns[1]["parse_data"]["intent"]["name"] == "list_bundles"


def test_one_citizens_messages_are_handled_in_the_order_sent(sim, wechat_stack, wechat):
    openid = new_openid()
    said = [NEWBORN_QUESTION, "要带什么材料", "能在网上办吗"]
    requests = [sim.signed(sim.text(openid, text)) for text in said]
    with ThreadPoolExecutor(3) as pool:
        futures = []
        for request in requests:
            futures.append(pool.submit(sim.post, *request))
            time.sleep(0.02)  # WeChat delivers them one after another
        replies = [f.result() for f in futures]
    assert all(r.status == 200 for r in replies)
    assert [t["text"] for t in wechat_stack.user_events(openid)] == said


def test_a_crashed_turn_is_recovered_by_the_next_retry(sim, wechat_stack):
    from bot.db import session_scope
    from bot.models import WeChatInbound

    openid, msg_id = new_openid(), uuid.uuid4().int % 10**16
    past = datetime.now(timezone.utc) - timedelta(seconds=30)
    with session_scope() as session:  # a process claimed it, stored the request, then died
        session.add(WeChatInbound(key=f"msg:{openid}:{msg_id}", openid=openid, state="processing",
                                  reply={"request": {"text": NEWBORN_QUESTION,
                                                     "source": "citizen"}},
                                  received_at=past, updated_at=past, lease_until=past))
    reply = sim.send(sim.text(openid, NEWBORN_QUESTION, msg_id=msg_id))
    assert reply.status == 200 and "出生" in reply.text
    assert [t["text"] for t in wechat_stack.user_events(openid)] == [NEWBORN_QUESTION]
    assert [state for _, state, _ in inbound_rows(openid)] == ["replied"]


def test_a_crashed_turn_without_retries_is_recovered_by_the_sweeper(sim, wechat_stack, wechat):
    from bot.db import session_scope
    from bot.models import WeChatInbound

    sim.send(sim.message("event_subscribe", new_openid()))  # the sweeper starts with traffic
    openid, msg_id = new_openid(), uuid.uuid4().int % 10**16
    past = datetime.now(timezone.utc) - timedelta(seconds=30)
    with session_scope() as session:  # claimed, request stored, process died; WeChat gave up
        session.add(WeChatInbound(key=f"msg:{openid}:{msg_id}", openid=openid, state="async",
                                  reply={"request": {"text": NEWBORN_QUESTION,
                                                     "source": "citizen"}},
                                  received_at=past, updated_at=past, lease_until=past))
    sent = wait_for(lambda: _sent_texts(wechat, openid), timeout=60)
    assert sent and "出生" in "\n".join(sent)
    assert wait_for(lambda: [s for _, s, _ in inbound_rows(openid)] == ["done"], timeout=30)
    assert [t["text"] for t in wechat_stack.user_events(openid)] == [NEWBORN_QUESTION]
