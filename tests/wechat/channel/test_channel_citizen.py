"""A follower's whole path on the Official Account (safe mode): a question, an
application whose items are chosen by number, pre-fill after real-name verification."""

from __future__ import annotations

import re

import pytest

from bot.applications.service import Applications
from tests.conftest import verify_identity
from tests.wechat.channel.conftest import wait_for
from tests.wechat.channel.pushes import new_openid

pytestmark = pytest.mark.model

DEMO_ID = "440106199203151025"  # 陈晓琳, data/demo/citizens.yml


@pytest.fixture
def sim(sim, fake_wechat):
    sim.fake = fake_wechat  # where customer-service messages arrive
    return sim


def _say(sim, openid: str, text: str) -> str:
    """What the follower sees: the passive reply, or — when the turn outlasted the reply
    budget (a busy machine) — the customer-service message(s) that follow "success"."""
    fake = sim.fake
    before = len(_sent_texts(fake, openid))
    reply = sim.send(sim.text(openid, text))
    assert reply.status == 200, reply.body
    if reply.text:
        return reply.text
    return "\n".join(wait_for(lambda: _sent_texts(fake, openid)[before:], timeout=60))


def _sent_texts(fake, openid: str) -> list[str]:
    return [m["content"] for m in fake.sent(openid) if m.get("msgtype") == "text"]


def _through_guide(sim, openid: str, reply: str) -> str:
    """Answer the guide's situation questions (情形引导) with their first choice, by
    number as a follower does, until the item question comes."""
    for _ in range(6):
        if "1. 出生医学证明签发" in reply:
            return reply
        assert "回复数字" in reply, reply
        reply = _say(sim, openid, "1")
    raise AssertionError(reply)


def test_one_selects_item_one_not_all(sim, wechat_stack, kb):
    """Issue 8, item 10: "1" to the item question selected all items ("全部办理" was
    numbered 1)."""
    openid = new_openid()
    _say(sim, openid, "孩子出生了要办什么")
    question = _through_guide(sim, openid, _say(sim, openid, "我要申请"))
    assert "1. 出生医学证明签发" in question and "回复数字" not in question
    chosen = _say(sim, openid, "1")
    assert "出生医学证明签发" in chosen and "为您办理6项" not in chosen
    draft = Applications(kb).open_draft(openid)
    assert draft.items[0] == "birth_medical_certificate" and len(draft.items) < 6


def test_prefill_after_verifying_on_the_providers_page(sim, wechat_stack, kb, identity_provider):
    openid = new_openid()
    apps = Applications(kb)
    _say(sim, openid, "孩子出生了要办什么")
    _through_guide(sim, openid, _say(sim, openid, "我要申请"))
    _say(sim, openid, "全部")
    consent = _say(sim, openid, f"身份证号{DEMO_ID}")
    assert "自动填写吗" in consent and "实名核验" in consent
    verify = _say(sim, openid, "好的")
    link = re.search(r"https?://\S+/verify/[\w-]+", verify).group(0)
    assert "还没有收到核验结果" in _say(sim, openid, "已核验")
    assert apps.open_draft(openid).prefilled == []
    verify_identity(identity_provider, link, DEMO_ID, "陈晓琳")
    filled = _say(sim, openid, "已核验")
    assert "已为您自动填写" in filled and "陈*琳" in filled and "陈晓琳" not in filled
    assert "138****8000" in filled and "体育西路" not in filled
    draft = apps.open_draft(openid)
    assert draft.values["applicant_name"] == "陈晓琳" and "applicant_phone" in draft.prefilled
    events = wechat_stack.user_events(openid)
    assert all(DEMO_ID not in e["text"] for e in events)
