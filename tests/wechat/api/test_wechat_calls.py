"""Retries, errors and the customer-service / subscribe / wxa calls against the fake."""

from __future__ import annotations

import pytest

from wechat.api import (
    RetryPolicy,
    WeChatAPIError,
    WeChatQuotaExceeded,
    WeChatUnavailable,
    mini_program,
    official_account,
)
from wechat.api.custom import MAX_PARTS, TEXT_LIMIT_BYTES, TRUNCATED_NOTE, fit_parts, split_text
from wechat.fake import openid_for_code

SEND = "/cgi-bin/message/custom/send"
SUBSCRIBE = "/cgi-bin/message/subscribe/send"
LOGIN = "/sns/jscode2session"
SEC = "/wxa/msg_sec_check"
FAST = RetryPolicy(attempts=4, base=0.05, cap=0.2)
USER = openid_for_code("calls-tests-user")


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _squash(text: str) -> str:
    return "".join(text.split())


# -- retries and errors -------------------------------------------------------------
def test_system_busy_backs_off_then_succeeds(wechat, wechat_settings, run):
    wechat.fail_next(SEND, -1, times=2)

    async def main():
        async with official_account(wechat_settings, retry=FAST) as client:
            await client.custom.send_text(USER, "繁忙后成功")

    run(main())
    calls = wechat.calls(SEND)
    assert [c["errcode"] for c in calls] == [-1, -1, 0]
    gaps = [b["at"] - a["at"] for a, b in zip(calls, calls[1:], strict=False)]
    assert gaps[0] >= 0.025 and gaps[1] >= 0.05  # exponential back-off (with jitter)
    assert [m["content"] for m in wechat.sent(USER)] == ["繁忙后成功"]


def test_server_errors_are_retried_then_reported(wechat, wechat_settings, run):
    wechat.fail_next(SEND, 502, http_status=502)

    async def main():
        async with official_account(wechat_settings, retry=FAST) as client:
            await client.custom.send_text(USER, "5xx 后成功")
            wechat.fail_next(SEND, 503, times=4, http_status=503)
            with pytest.raises(WeChatUnavailable) as err:
                await client.custom.send_text(USER, "一直 5xx")
            return err.value

    err = run(main())
    assert "HTTP 503" in str(err) and not err.ambiguous
    assert len(wechat.calls(SEND)) == 2 + 4  # bounded
    assert [m["content"] for m in wechat.sent(USER)] == ["5xx 后成功"]


def test_client_errors_are_not_retried(wechat, wechat_settings, run):
    async def main():
        async with official_account(wechat_settings, retry=FAST) as client:
            with pytest.raises(WeChatAPIError) as err:
                await client.custom.send_text("not-an-openid", "你好")
            return err.value

    err = run(main())
    assert err.errcode == 40003 and len(wechat.calls(SEND)) == 1


def test_send_timeout_is_not_retried_because_wechat_may_have_sent_it(wechat, wechat_settings, run):
    wechat.delay(SEND, 1.0)

    async def main():
        async with official_account(wechat_settings, retry=FAST, timeout=0.3) as client:
            with pytest.raises(WeChatUnavailable) as err:
                await client.custom.send_text(USER, "超时")
            return err.value

    err = run(main())
    assert err.ambiguous and len(wechat.calls(SEND)) == 1


def test_token_fetch_timeout_is_retried(wechat, wechat_settings, run):
    wechat.delay("/cgi-bin/stable_token", 0.5)

    async def main():
        async with official_account(wechat_settings, retry=FAST, timeout=0.3) as client:
            with pytest.raises(WeChatUnavailable):
                await client.tokens.get()

    run(main())
    assert len(wechat.calls("/cgi-bin/stable_token")) == FAST.attempts


def test_daily_quota_exhaustion_surfaces_clearly(wechat, wechat_settings, run):
    wechat.set_quota(SEND, 2)

    async def main():
        async with official_account(wechat_settings, retry=FAST) as client:
            await client.custom.send_text(USER, "一")
            await client.custom.send_text(USER, "二")
            with pytest.raises(WeChatQuotaExceeded) as err:
                await client.custom.send_text(USER, "三")
            return err.value

    err = run(main())
    assert err.errcode == 45009
    assert "daily API quota exhausted" in str(err) and "45009" in str(err)
    assert len(wechat.calls(SEND)) == 3  # the refused call was not retried
    assert len(wechat.sent(USER)) == 2


def test_closed_window_is_reported_as_45015(wechat, wechat_settings, run):
    wechat.set_window(USER, open=False)

    async def main():
        async with official_account(wechat_settings, retry=FAST) as client:
            with pytest.raises(WeChatAPIError) as err:
                await client.custom.send_text(USER, "窗口外")
            return err.value

    assert run(main()).errcode == 45015
    assert wechat.sent(USER) == []


# -- splitting long answers ---------------------------------------------------------------
LONG = "\n\n".join(
    f"第{i}部分：" + "".join(f"这是第{i}段里的第{j}句话，讲的是需要准备的材料和办理的部门。"
                           for j in range(1, 20))
    for i in range(1, 6))


def test_long_text_split_at_paragraphs_within_limit():
    parts = split_text(LONG)
    assert _bytes(LONG) > 3 * TEXT_LIMIT_BYTES
    assert len(parts) > 1 and all(_bytes(p) <= TEXT_LIMIT_BYTES for p in parts)
    assert _squash("".join(parts)) == _squash(LONG)  # nothing lost, order kept
    # paragraphs that fit are never cut; long ones are cut after a sentence
    assert all(p.endswith("。") for p in parts)
    assert parts[0].startswith("第1部分") and parts[1].startswith("第2部分")


def test_split_falls_back_to_lines_clauses_and_characters():
    lines = "\n".join(f"{i}. 材料清单第{i}项" for i in range(400))
    parts = split_text(lines, limit=500)
    assert all(_bytes(p) <= 500 for p in parts) and _squash("".join(parts)) == _squash(lines)
    assert all(p.split("\n")[0].split(".")[0].isdigit() for p in parts)  # cut at line starts
    clauses = "，".join(f"第{i}个条件" for i in range(300))
    parts = split_text(clauses, limit=300)
    assert all(_bytes(p) <= 300 and p.endswith(("，", "件")) for p in parts)
    solid = "办" * 2000
    parts = split_text(solid)
    assert "".join(parts) == solid and all(_bytes(p) <= TEXT_LIMIT_BYTES for p in parts)
    assert split_text("  短消息  ") == ["短消息"] and split_text("   ") == []


def test_too_many_parts_are_capped_with_a_note():
    text = "\n\n".join("段落" * 600 for _ in range(10))
    parts = fit_parts(text)
    assert len(parts) == MAX_PARTS and parts[-1].endswith(TRUNCATED_NOTE)
    assert all(_bytes(p) <= TEXT_LIMIT_BYTES for p in parts)


def test_long_answer_sent_as_ordered_parts(wechat, wechat_settings, run):
    async def main():
        async with official_account(wechat_settings, retry=FAST) as client:
            return await client.custom.send_text(USER, LONG)

    count = run(main())
    sent = [m["content"] for m in wechat.sent(USER)]
    assert count == len(sent) == len(split_text(LONG)) > 1
    assert sent == split_text(LONG)
    assert all(c["errcode"] == 0 for c in wechat.calls(SEND))  # WeChat accepted every part


def test_failure_after_some_parts_reports_how_many_were_sent(wechat, wechat_settings, run):
    async def main():
        async with official_account(wechat_settings, retry=FAST) as client:
            await client.tokens.get()
            wechat.set_cs_limit(2)
            with pytest.raises(WeChatAPIError) as err:
                await client.custom.send_text(USER, LONG)
            return err.value

    err = run(main())
    assert err.errcode == 45047 and err.parts_sent == 2


# -- subscribe messages -----------------------------------------------------------------
def test_subscribe_message_values_fitted_to_the_template(wechat, wechat_settings, run):
    async def main():
        async with mini_program(wechat_settings, retry=FAST) as mp:
            await mp.subscribe.send(USER, "tmpl-1", {
                "character_string1": "YJS-20260101-000001",
                "thing2": "您的新生儿出生一件事申请已受理，出生医学证明已办结，请留意后续进度",
                "time3": {"value": "2026年01月01日 10:00"},
            }, page="pages/applications/detail?number=YJS-20260101-000001")

    run(main())
    (msg,) = wechat.sent(USER)
    assert msg["kind"] == "subscribe" and msg["template_id"] == "tmpl-1"
    assert len(msg["data"]["thing2"]["value"]) == 20 and msg["data"]["thing2"]["value"].endswith("…")
    assert msg["data"]["time3"] == {"value": "2026年01月01日 10:00"}
    assert msg["page"].startswith("pages/applications/detail")


def test_subscribe_refused_by_the_user(wechat, wechat_settings, run):
    wechat.refuse_subscribe(USER)

    async def main():
        async with mini_program(wechat_settings, retry=FAST) as mp:
            with pytest.raises(WeChatAPIError) as err:
                await mp.subscribe.send(USER, "tmpl-1", {"thing1": "x"})
            return err.value

    assert run(main()).errcode == 43101


# -- code2Session and msgSecCheck -------------------------------------------------------
def test_code2session_success_and_invalid_codes(wechat, wechat_settings, run):
    async def main():
        async with mini_program(wechat_settings, retry=FAST) as mp:
            session = await mp.wxa.code2session("081abcDEF")
            errors = []
            for code in ("invalid-code-1", "081abcDEF"):  # bad code; a code used twice
                with pytest.raises(WeChatAPIError) as err:
                    await mp.wxa.code2session(code)
                errors.append(err.value.errcode)
            return session, errors

    session, errors = run(main())
    assert session.openid == wechat.openid_for_code("081abcDEF")
    assert session.session_key and session.session_key not in repr(session)
    assert errors == [40029, 40163]
    assert len(wechat.calls(LOGIN)) == 3  # client errors are not retried
    assert wechat.calls("/cgi-bin/stable_token") == []  # code2Session needs no token


def test_code2session_with_wrong_secret(wechat, wechat_settings, run):
    async def main():
        async with mini_program(wechat_settings.__class__(
                mp_appid=wechat_settings.mp_appid, mp_secret="wrong",
                api_base=wechat_settings.api_base), retry=FAST) as mp:
            with pytest.raises(WeChatAPIError) as err:
                await mp.wxa.code2session("081good")
            return err.value

    assert run(main()).errcode == 40125


def test_msg_sec_check_pass_and_risky(wechat, wechat_settings, run):
    async def main():
        async with mini_program(wechat_settings, retry=FAST) as mp:
            ok = await mp.wxa.msg_sec_check(USER, "孩子出生了要办哪些手续？")
            risky = await mp.wxa.check_text(USER, "哪里可以赌博")
            return ok, risky

    ok, risky = run(main())
    assert ok is True
    assert risky.suggest == "risky" and not risky.passed and risky.label == 20006
    bodies = [c["body"] for c in wechat.calls(SEC)]
    assert all(b["version"] == 2 and b["openid"] == USER for b in bodies)


def test_retry_policy_delays_grow_and_stay_bounded():
    policy = RetryPolicy(attempts=6, base=0.1, cap=1.0)
    for attempt in range(8):
        d = policy.delay(attempt)
        ceiling = min(1.0, 0.1 * 2 ** attempt)
        assert ceiling / 2 <= d <= ceiling
