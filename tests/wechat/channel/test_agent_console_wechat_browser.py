"""The agent workbench in Chromium for an Official Account follower (real Rasa stack
with the WeChat channel, the loopback fake of WeChat's API, `python -m backend`): the
composer shows the 48-hour customer-service window and the 5-message allowance, a sent
reply uses one of them, and a reply WeChat refuses is shown as not delivered with the
reason — never as sent — and stays in the composer for another try; then the agent
transfers the conversation to a colleague with a note."""

from __future__ import annotations

import os

import pytest

from bot.staff.accounts import AGENT
from tests.backend.conftest import people  # noqa: F401 - a fixture
from tests.backend.test_console_browser import Page, chromium  # noqa: F401 - a fixture
from tests.wechat.channel.conftest import backend_process, wait_for
from tests.wechat.channel.pushes import new_openid

os.environ["HANDOFF_HOURS"] = "24x7"  # agents on duty (read by the stack's action server)
CS_SEND = "cgi-bin/message/custom/send"


@pytest.fixture(scope="module")
def console(wechat_stack, fake_wechat, tmp_path_factory):
    with backend_process(wechat_stack, fake_wechat, tmp_path_factory.mktemp("console"),
                         YJS_TRUSTED_PROXIES=None) as url:
        yield url


def _cs_texts(fake, openid: str) -> list[str]:
    return [m["content"] for m in fake.sent(openid) if m.get("msgtype") == "text"]


def test_the_composer_shows_the_window_and_a_refused_reply_is_not_shown_as_sent(
        chromium, console, sim, wechat, people):  # noqa: F811 - chromium is the fixture
    openid = new_openid()
    assert sim.send(sim.text(openid, "孩子出生要办什么")).status == 200
    assert sim.send(sim.text(openid, "转人工")).status == 200

    agent = people(AGENT, prefix="oa")
    p = Page(chromium, console)
    page = p.page
    p.goto("/console/agent/")
    p.login(agent.username, agent.password)
    waiting = f".queue-item[data-state=waiting]:has-text('{openid[-4:]}')"
    page.wait_for_selector(waiting,
                                  timeout=30000)
    assert "公众号" in page.inner_text(waiting)
    assert openid not in page.inner_text("#queue-list")
    page.click(waiting)  # (the live queue redraws its items: click by selector)
    page.click("#takeover")
    page.wait_for_selector("#composer-text:not([disabled])")
    page.wait_for_selector("#window-state:has-text('公众号客服消息窗口剩余 47小时')")
    assert page.inner_text("#window-allowance") == "本窗口还可发 5/5 条"

    page.fill("#composer-text", "您好，我是12345热线的工作人员。")
    page.click("#send")
    page.wait_for_selector(".msg.from-agent[data-status=sent]:has-text('12345热线的工作人员')")
    page.wait_for_selector("#window-allowance:has-text('4/5')")
    assert "您好，我是12345热线的工作人员。" in wait_for(lambda: _cs_texts(wechat, openid))

    wechat.fail_next(CS_SEND, 45015)  # WeChat: reply time limit exceeded
    refused = "这条会被微信拒绝"
    page.fill("#composer-text", refused)
    page.click("#send")
    bubble = page.wait_for_selector(f".msg.from-agent.failed:has-text('{refused}')")
    assert "未送达" in bubble.inner_text()
    assert "发送失败，市民未收到" in page.inner_text("#conversation-message")
    assert page.input_value("#composer-text") == refused  # kept for another try
    assert page.query_selector(f".msg.from-agent[data-status=sent]:has-text('{refused}')") is None
    assert refused not in _cs_texts(wechat, openid)
    p.shot("agent-wechat-refused")

    # hand it to a colleague, with a note: it leaves 我的 and the composer locks
    colleague = people(AGENT, prefix="oa-colleague")
    page.click("#transfer")
    page.wait_for_selector(f"#transfer-to option[value='{colleague.username}']", state="attached")
    page.select_option("#transfer-to", colleague.username)
    page.fill("#transfer-note", "市民问户口，已发材料清单")
    page.click("#transfer-confirm")
    page.wait_for_selector(f"#conversation-meta:has-text('坐席 {colleague.username} 处理中')")
    assert not page.is_enabled("#composer-text")
    page.click("#side-tabs button[data-tab=notes]")
    page.wait_for_selector(f"#note-list .note:has-text('转交给 {colleague.username}')")
    p.close()
