"""Outbox delivery through the loopback fake: the window, subscriptions, claims,
concurrent senders and a sender that crashes."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta, timezone

from sqlalchemy import select

from bot.applications import outbox
from bot.clock import now as _now
from bot.db import session_scope
from bot.models import MpSubscription, OutboxMessage, WeChatInbound
from tests.conftest import ROOT
from wechat.api import RetryPolicy, mini_program, official_account
from wechat.delivery import Delivery, wake
from wechat.fake import openid_for_code

SEND = "/cgi-bin/message/custom/send"
FAST = RetryPolicy(attempts=3, base=0.02, cap=0.05)
_n = itertools.count()


def new_openid() -> str:
    return openid_for_code(f"delivery-{os.getpid()}-{next(_n)}-{time.monotonic_ns()}")


def enqueue(recipient: str, text: str, **data) -> int:
    with session_scope() as s:
        outbox.enqueue(s, recipient, "state_changed", text, **data)
        s.flush()
        return s.execute(select(OutboxMessage.id).where(OutboxMessage.recipient == recipient)
                         .order_by(OutboxMessage.id.desc())).scalars().first()


def citizen_wrote(openid: str, ago: timedelta = timedelta(minutes=1)) -> None:
    with session_scope() as s:
        at = _now() - ago
        s.add(WeChatInbound(key=f"msg-{openid}-{next(_n)}", openid=openid, state="done",
                            received_at=at, updated_at=at))


def subscribe(openid: str, template: str, remaining: int) -> None:
    with session_scope() as s:
        s.add(MpSubscription(openid=openid, template_id=template, remaining=remaining,
                             updated_at=_now()))


def remaining(openid: str, template: str) -> int:
    with session_scope() as s:
        return s.execute(select(MpSubscription.remaining).where(
            MpSubscription.openid == openid, MpSubscription.template_id == template)).scalar_one()


def row(message_id: int) -> OutboxMessage:
    with session_scope() as s:
        r = s.get(OutboxMessage, message_id)
        s.expunge(r)
        return r


def worker(settings, lease: float = 120.0) -> Delivery:
    """One sender (stands for one process: its own clients and memory)."""
    return Delivery(settings, lease=lease,
                    official=official_account(settings, retry=FAST),
                    mini=mini_program(settings, retry=FAST))


async def _once(*workers: Delivery):
    try:
        return await asyncio.gather(*(w.run_once() for w in workers))
    finally:
        for w in workers:
            await w.close()


def test_official_account_citizen_within_window_gets_it_once(wechat, wechat_settings, run):
    openid = new_openid()
    citizen_wrote(openid, ago=timedelta(hours=47))
    mid = enqueue(openid, "您的申请已受理。", number="YJS-1")
    run(_once(worker(wechat_settings)))
    run(_once(worker(wechat_settings)))  # a second round finds nothing to do
    assert [m["content"] for m in wechat.sent(openid)] == ["您的申请已受理。"]
    r = row(mid)
    assert r.sent_at is not None and r.delivered_via == "wechat_cs" and r.claimed_until is None


def test_outside_the_window_it_waits_for_the_citizen(wechat, wechat_settings, run):
    openid = new_openid()
    citizen_wrote(openid, ago=timedelta(hours=49))
    mid = enqueue(openid, "材料已审核通过。")
    (counts,) = run(_once(worker(wechat_settings)))
    assert counts["deferred"] >= 1 and wechat.sent(openid) == []
    r = row(mid)
    assert r.sent_at is None and r.attempts == 0 and r.next_attempt_at.replace(
        tzinfo=timezone.utc) > _now() + timedelta(minutes=5)
    citizen_wrote(openid)  # the citizen writes again: the window reopens
    assert wake(openid) == 1
    run(_once(worker(wechat_settings)))
    assert [m["content"] for m in wechat.sent(openid)] == ["材料已审核通过。"]
    assert row(mid).delivered_via == "wechat_cs"


def test_window_closed_at_wechat_keeps_it_for_later(wechat, wechat_settings, run):
    openid = new_openid()
    citizen_wrote(openid)
    wechat.set_window(openid, open=False)  # e.g. the citizen unfollowed: WeChat says 45015
    mid = enqueue(openid, "请补充材料。")
    run(_once(worker(wechat_settings)))
    r = row(mid)
    assert r.sent_at is None and r.attempts == 0 and "45015" in r.last_error


def test_mini_program_citizen_with_subscription_gets_subscribe_message(wechat, wechat_settings, run):
    openid = new_openid()
    template = wechat_settings.mp_templates["status"]
    subscribe(openid, template, remaining=1)
    first = enqueue("mp:" + openid, "您的申请 YJS-2 中“出生医学证明”已办结。", number="YJS-2")
    second = enqueue("mp:" + openid, "您的申请 YJS-2 已全部办结。", number="YJS-2")
    run(_once(worker(wechat_settings)))
    (msg,) = wechat.sent(openid)
    assert msg["kind"] == "subscribe" and msg["template_id"] == template
    assert msg["data"]["character_string1"] == {"value": "YJS-2"}
    assert msg["data"]["thing2"]["value"].startswith("您的申请 YJS-2")
    assert row(first).delivered_via == "mp_subscribe"
    assert row(second).delivered_via == "none" and row(second).sent_at is not None
    assert remaining(openid, template) == 0


def test_mini_program_citizen_without_subscription_is_marked_none(wechat, wechat_settings, run):
    openid = new_openid()
    mid = enqueue("mp:" + openid, "您的申请已提交。")
    rest = enqueue(f"rest-user-{next(_n)}", "您的申请已提交。")
    run(_once(worker(wechat_settings)))
    assert wechat.sent(openid) == [] and wechat.calls("/cgi-bin/message/subscribe/send") == []
    assert row(mid).delivered_via == "none" and row(rest).delivered_via == "none"


def test_failed_subscribe_send_gives_the_grant_back_and_retries_later(wechat, wechat_settings, run):
    openid = new_openid()
    template = wechat_settings.mp_templates["status"]
    subscribe(openid, template, remaining=1)
    wechat.fail_next("/cgi-bin/message/subscribe/send", 45009)
    mid = enqueue("mp:" + openid, "状态更新。", number="YJS-3")
    run(_once(worker(wechat_settings)))
    r = row(mid)
    assert r.sent_at is None and r.attempts == 1 and "45009" in r.last_error
    assert remaining(openid, template) == 1


def test_two_concurrent_workers_never_send_twice(wechat, wechat_settings, run):
    wechat.delay(SEND, 0.1)
    openids = [new_openid() for _ in range(8)]
    ids = []
    for openid in openids:
        citizen_wrote(openid)
        ids.append(enqueue(openid, f"通知 {openid[-4:]}"))
    first, second = run(_once(worker(wechat_settings), worker(wechat_settings)))
    for openid in openids:
        assert [m["content"] for m in wechat.sent(openid)] == [f"通知 {openid[-4:]}"]
    assert first["sent"] + second["sent"] >= len(openids)
    assert len(wechat.calls(SEND)) == len(openids)
    assert all(row(i).delivered_via == "wechat_cs" for i in ids)


def test_worker_crash_mid_claim_redelivered_after_the_lease(wechat, wechat_settings, run):
    openid = new_openid()
    citizen_wrote(openid)
    mid = enqueue(openid, "崩溃后补发。")
    crashed = Delivery(wechat_settings, lease=1.0)
    claims = crashed.claim()  # … and the process dies before sending
    assert mid in [c.id for c in claims]
    run(_once(worker(wechat_settings)))
    assert wechat.sent(openid) == []  # still claimed by the dead sender
    stale = next(c for c in claims if c.id == mid)
    time.sleep((stale.until - _now()).total_seconds() + 0.2)  # the dead sender's lease ends
    run(_once(worker(wechat_settings)))
    assert [m["content"] for m in wechat.sent(openid)] == ["崩溃后补发。"]
    assert crashed._finish(stale, "wechat_cs") is False  # the dead claim can no longer finish
    run(_once(worker(wechat_settings)))
    assert len(wechat.sent(openid)) == 1


def test_sender_process_killed_during_send_redelivers_exactly_once(wechat, wechat_env,
                                                                   wechat_settings, run):
    openid = new_openid()
    citizen_wrote(openid)
    mid = enqueue(openid, "进程被杀后补发。")
    wechat.delay(SEND, 4.0)  # the send hangs in flight …
    proc = subprocess.Popen([sys.executable, "-m", "wechat.delivery", "--once", "--lease", "3"],
                            cwd=ROOT, env=wechat_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any(c["body"].get("touser") == openid for c in wechat.calls(SEND)):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)  # … when the sender dies
        proc.wait(10)
    wechat.delay(SEND, 0)
    assert row(mid).sent_at is None and row(mid).claimed_until is not None
    run(_once(worker(wechat_settings)))
    assert wechat.sent(openid) == []  # not before the dead sender's lease is over
    time.sleep(4.1)
    deadline = time.monotonic() + 20  # a loaded machine may need a few more rounds
    while not wechat.sent(openid) and time.monotonic() < deadline:
        run(_once(worker(wechat_settings)))
        time.sleep(0.2)
    assert [m["content"] for m in wechat.sent(openid)] == ["进程被杀后补发。"]
    # the request that was in flight when the sender died never completed
    deadline = time.monotonic() + 10
    while not any(c.get("dropped") for c in wechat.calls(SEND)):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert len(wechat.sent(openid)) == 1
    assert row(mid).delivered_via == "wechat_cs"
