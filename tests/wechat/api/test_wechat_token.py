"""The shared access_token against the loopback fake: one fetch for all processes,
one fetcher at a time, refresh before expiry, and a bad token replaced exactly once."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from wechat.api import RetryPolicy, WeChatClient, WeChatQuotaExceeded, official_account
from wechat.fake import openid_for_code

STABLE = "/cgi-bin/stable_token"
SEND = "/cgi-bin/message/custom/send"
FAST = RetryPolicy(attempts=3, base=0.02, cap=0.05)
USER = openid_for_code("token-tests-user")


def oa(settings, **kw) -> WeChatClient:
    """A client with its own in-memory state: stands for one server process."""
    return official_account(settings, retry=FAST, **kw)


def test_token_fetched_once_and_shared_by_two_processes(wechat, wechat_settings, run):
    async def main():
        first, second = oa(wechat_settings), oa(wechat_settings)
        try:
            await first.custom.send_text(USER, "第一条")
            await second.custom.send_text(USER, "第二条")
            t1, t2 = await first.tokens.get(), await second.tokens.get()
            assert t1.value == t2.value and t1.generation == t2.generation
        finally:
            await first.close()
            await second.close()

    run(main())
    assert len(wechat.calls(STABLE)) == 1
    assert [m["content"] for m in wechat.sent(USER)] == ["第一条", "第二条"]


def test_concurrent_fetchers_make_exactly_one_stable_token_call(wechat, wechat_settings, run):
    wechat.delay(STABLE, 0.4)  # the fetch takes a while: everyone else must wait for it

    async def main():
        clients = [oa(wechat_settings) for _ in range(6)]
        try:
            return await asyncio.gather(*(c.tokens.get() for c in clients))
        finally:
            for c in clients:
                await c.close()

    tokens = run(main())
    assert len(wechat.calls(STABLE)) == 1
    assert len({t.value for t in tokens}) == 1
    assert wechat.valid_tokens(wechat.oa[0]) == [tokens[0].value]


def test_token_refreshed_before_it_expires(wechat, wechat_settings, run):
    wechat.set_token_ttl(3)

    async def main():
        client = oa(wechat_settings)
        try:
            old = await client.tokens.get()
            assert (await client.tokens.get()) is old  # cached in memory meanwhile
            wait = (old.expires_at - old.expires_at.now(old.expires_at.tzinfo)).total_seconds()
            assert 2.0 < wait < 3.0  # stops using it before WeChat's 3 s expiry
            await asyncio.sleep(wait + 0.05)
            new = await client.tokens.get()
            assert new.value != old.value and new.generation == old.generation + 1
            assert old.value in wechat.valid_tokens(wechat.oa[0])  # the old one had not expired
            await client.custom.send_text(USER, "刷新后")
        finally:
            await client.close()

    run(main())
    assert len(wechat.calls(STABLE)) == 2
    assert all(c["errcode"] == 0 for c in wechat.calls(SEND))  # never hit 42001


def test_token_expired_mid_send_refetched_once_and_sent_once(wechat, wechat_settings, run):
    async def main():
        a, b = oa(wechat_settings), oa(wechat_settings)
        try:
            await a.custom.send_text(USER, "过期前")
            await b.tokens.get()  # b holds the same (soon expired) token in memory
            wechat.expire_tokens()
            await a.custom.send_text(USER, "过期后")  # 42001 → invalidate → refetch → resend
            await b.custom.send_text(USER, "另一进程")  # its 42001 must not throw away a's new token
        finally:
            await a.close()
            await b.close()

    run(main())
    assert [m["content"] for m in wechat.sent(USER)] == ["过期前", "过期后", "另一进程"]
    assert [c["errcode"] for c in wechat.calls(SEND)] == [0, 42001, 0, 42001, 0]
    assert len(wechat.calls(STABLE)) == 2  # one refetch for both processes


def test_rejected_token_that_wechat_repeats_is_force_refreshed(wechat, wechat_settings, run):
    wechat.fail_next(SEND, 40001)

    async def main():
        async with oa(wechat_settings) as client:
            await client.custom.send_text(USER, "强制刷新")

    run(main())
    calls = wechat.calls(STABLE)
    assert [c["body"]["force_refresh"] for c in calls] == [False, False, True]
    assert len(wechat.sent(USER)) == 1


def test_basic_token_api_each_fetch_replaces_the_previous(wechat, wechat_settings, run):
    async def main():
        async with oa(wechat_settings, stable_token=False) as client:
            await client.custom.send_text(USER, "basic")
            first = await client.tokens.get()
            wechat.invalidate_tokens()
            await client.custom.send_text(USER, "basic again")
            assert (await client.tokens.get()).value != first.value

    run(main())
    assert len(wechat.calls("/cgi-bin/token")) == 2
    assert [c["errcode"] for c in wechat.calls(SEND)] == [0, 40001, 0]


def test_token_quota_exhausted_surfaces_and_releases_the_lease(wechat, wechat_settings, run):
    wechat.set_quota(STABLE, 0)

    async def main():
        async with oa(wechat_settings) as client:
            for _ in range(2):  # the second try must not wait for a stale lease
                started = time.monotonic()
                with pytest.raises(WeChatQuotaExceeded) as err:
                    await client.tokens.get()
                assert time.monotonic() - started < 2
            return err.value

    err = run(main())
    assert err.errcode == 45009 and "quota" in str(err)
    assert len(wechat.calls(STABLE)) == 2  # not retried


def test_logs_carry_no_token_secret_or_full_openid(wechat, wechat_settings, run, caplog):
    caplog.set_level(logging.DEBUG)
    wechat.fail_next(SEND, -1)
    wechat.expire_tokens()

    async def main():
        async with oa(wechat_settings) as client:
            await client.custom.send_text(USER, "日志检查")
            await client.tokens.invalidate(await client.tokens.get())
            await client.custom.send_text(USER, "日志检查2")
            return await client.tokens.get()

    token = run(main())
    text = caplog.text
    assert caplog.records
    assert token.value not in text and wechat_settings.secret not in text
    assert USER not in text and USER[:6] in text
    assert token.value not in repr(token)
