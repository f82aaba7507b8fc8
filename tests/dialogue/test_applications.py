"""Whole application conversations through the real Rasa server (REST channel),
the real action server and the real database, for every bundle."""

from __future__ import annotations

import json
import sqlite3

import pytest

from bot.applications.outbox import Outbox
from bot.applications.service import Applications
from bot.kb.loader import load_knowledge_base
from bot.privacy.vault import TOKEN_RE
from bot.tracker_store import unseal
from tests.bot.applications.values import answer_for, make_id
from tests.dialogue.conftest import RestChat, Stack
from tests.dialogue.guide import first_choices, through_guide

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def apps(kb):
    return Applications(kb)


def fill_form(chat: RestChat, apps: Applications, limit: int = 40) -> str:
    """Answer whatever the form asks, as a citizen would, until the summary."""
    reply = ""
    for _ in range(limit):
        draft = apps.open_draft(chat.sender)
        assert draft is not None, reply
        if draft.stage == "confirm":
            return reply
        if draft.stage == "items":
            reply = chat.say("全部")
        elif draft.stage == "consent":
            reply = chat.say("不用")
        else:
            spec = apps.form(draft.bundle_id).field(draft.pending)
            reply = chat.say(answer_for(spec))
            after = apps.open_draft(chat.sender)
            assert after.pending != spec.id or after.stage != "fields", (spec.id, reply)
    raise AssertionError(f"form not finished: {reply}")


ASK = {  # everyday openings, one per bundle
    "newborn": "孩子出生了要办什么", "flexible_employment": "打零工怎么交社保",
    "marriage_childbirth": "我准备结婚了要办啥手续", "disability_assistance": "残疾人补贴怎么申请",
    "veteran_retirement": "退伍回来要办什么", "second_hand_housing": "买二手房过户要办啥",
    "employee_retirement": "我快退休了要办什么", "after_death": "我爸走了后面要办啥",
    "enterprise_opening": "我想开公司要办什么", "restaurant_permit": "开餐厅要办哪些证",
    "employee_hiring": "公司招了新员工要办什么", "enterprise_real_estate": "公司买厂房要办什么登记",
    "enterprise_deregistration": "公司不做了想注销",
}


@pytest.mark.parametrize("bundle_id", sorted(ASK))
def test_from_question_to_submitted_application(stack, apps, kb, bundle_id):
    bundle = kb.bundle(bundle_id)
    chat = RestChat(stack)
    assert bundle.name in chat.say(ASK[bundle_id])
    opening = chat.say("我要申请")
    if "办理前先确认" in opening:  # the guide asks about the situation first
        assert apps.open_draft(chat.sender).stage == "items"  # the draft is there already
        opening = through_guide(chat, kb)
    assert f"开始在线申请“{bundle.name}”" in opening and "全部" in opening
    fill_form(chat, apps)
    summary = chat.last[-1]["text"]
    assert "请核对" in summary and "确认提交" in summary
    done = chat.say("确认提交")
    assert "申请已提交！编号：YJS-" in done
    [app] = apps.applications(chat.sender)
    spec = load_knowledge_base().bundle(bundle_id)
    expected = kb.decide(bundle_id, first_choices(spec, spec.guide.infer(ASK[bundle_id]))).items
    assert [s.item_key for s in app.subs] == list(expected)   # the items of this citizen's case
    assert [s.department_id for s in app.subs] == [bundle.item(k).department.id for k in expected]
    assert app.number in done


def test_everyday_newborn_application(stack, apps, kb):
    chat = RestChat(stack)
    assert "新生儿出生" in chat.say("BB出世要搞咩手续")
    chat.say("帮我办")
    assert "为您办理2项" in chat.say("1和3")
    assert "校验位" in chat.say("我身份证440106199203151024")     # one digit wrong
    after_id = chat.say("440106199203151025")                  # 陈晓琳, demo record …
    assert "自动填写" not in after_id and "陈" not in after_id   # … but REST verifies no one
    assert apps.open_draft(chat.sender).values == {"applicant_id_number": "440106199203151025"}
    draft = apps.open_draft(chat.sender)
    pending = draft.pending
    answer = chat.say("要带什么材料？")                          # a question mid-form
    assert "出生医学证明" in answer and "材料" in answer
    assert apps.open_draft(chat.sender).pending == pending      # the form is still there
    fill_form(chat, apps)
    assert "139****5678" in chat.last[-1]["text"]
    assert "已把联系电话改为 138****8000" in chat.say("电话改成 138 0013 8000")
    assert "请核对" in chat.last[-1]["text"]
    first = chat.say("确认提交")
    number = apps.applications(chat.sender)[0].number
    assert number in first
    retry = chat.say("确认提交")                                # the client retries the last message
    assert number in retry and "不会重复提交" in retry
    assert len(apps.applications(chat.sender)) == 1
    assert Outbox().for_recipient(chat.sender)[0].payload["number"] == number

    status = chat.say("我的申请到哪一步了")
    assert number in status and "出生医学证明签发：已提交" in status
    dept = apps.application(number).subs[0]
    apps.transition(dept.department_id, dept.id, "accepted")
    assert "已受理" in chat.say(f"查一下{number}")


def test_cancel_in_chat(stack, apps):
    chat = RestChat(stack)
    chat.say("我想申请退休")
    through_guide(chat, apps.kb)
    chat.say("全部")
    assert "已取消" in chat.say("不办了，取消申请")
    assert apps.open_draft(chat.sender) is None
    assert "没有正在填写" in chat.say("取消申请")


def test_rating_in_chat_is_stored_and_low_scores_flagged(stack, apps):
    from sqlalchemy import select

    from bot.db import session_scope
    from bot.handoff.service import Handoff
    from bot.models import Rating

    chat = RestChat(stack)
    chat.say("孩子出生了要办什么")
    chat.say("非常不满意，等太久了")
    with session_scope() as session:
        rating = session.execute(select(Rating).where(Rating.sender == chat.sender)).scalar_one()
    assert rating.score == 1 and rating.flagged and rating.bundle_id == "newborn"
    # a 差评 is followed up by a person: the conversation waits in the agents' queue
    assert Handoff().state_of(chat.sender) == "waiting"
    assert "感谢您的评价（满意）" in RestChat(stack).say("满意")


def test_no_raw_personal_numbers_in_the_tracker_store(stack, apps):
    chat = RestChat(stack)
    chat.say("孩子出生了要办什么")
    chat.say("我要申请")
    chat.say("全部")
    own_id, phone = make_id(seq="911"), "13698765432"
    chat.say(f"身份证是{own_id}")
    chat.say("王小红")
    chat.say(f"手机 {phone}")
    fill_form(chat, apps)
    chat.say("确认提交")
    db = sqlite3.connect(stack.var_dir / "tracker.db")
    rows = db.execute("SELECT data FROM events WHERE sender_id = ?", (chat.sender,)).fetchall()
    db.close()
    raw = "\n".join(r[0] for r in rows)
    assert rows and all(r[0].startswith("fernet:") for r in rows)  # encrypted at rest …
    assert "王小红" not in raw
    dump = "\n".join(json.dumps(unseal(r[0]), ensure_ascii=False) for r in rows)
    assert TOKEN_RE.search(dump)                 # … and inside, Rasa saw tokens …
    for secret in (own_id, phone, make_id(seq="233"), "13912345678", own_id[-6:] + '"'):
        assert secret not in dump                # … never the numbers
    log = (stack.var_dir / "servers.log").read_text(errors="replace")
    assert own_id not in log and phone not in log


@pytest.mark.parametrize("sender", ["mp:oAbc", "oLVPpjqs9BhvzwPj5A-vTYAX3GLc"])
def test_rest_cannot_speak_as_a_wechat_user(stack, sender):
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as refused:
        stack.post(sender, "我的申请办到哪了")
    assert refused.value.code == 403


def test_half_filled_form_survives_a_restart(model_path, database_url, tmp_path, apps):
    first = Stack(model_path, tmp_path).start()
    chat = RestChat(first)
    chat.say("我爸走了后面要办啥")
    chat.say("我要申请")
    through_guide(chat, apps.kb)
    chat.say("全部")
    chat.say(make_id())
    first.stop()
    second = Stack(model_path, tmp_path).start()
    try:
        chat.stack = second
        reply = chat.say("王大明")                 # answers the pending question
        assert apps.open_draft(chat.sender).values["applicant_name"] == "王大明", reply
        fill_form(chat, apps)
        assert "申请已提交" in chat.say("确认提交")
    finally:
        second.stop()
