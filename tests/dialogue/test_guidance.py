"""Guidance that fits the citizen's situation, through the real Rasa server
(REST webhook), the real action server and database — as an outside check
would talk to it, in everyday words."""

from __future__ import annotations

import pytest

from bot.applications.service import Applications
from tests.dialogue.conftest import RestChat
from tests.dialogue.guide import guide_is_asking, through_guide

pytestmark = pytest.mark.model

NATURAL, UNNATURAL = "出具死亡证明（正常死亡）", "出具死亡证明（非正常死亡）"


@pytest.fixture(scope="module")
def apps(kb):
    return Applications(kb)


def test_death_in_hospital_gets_only_the_health_certificate(stack, kb):
    chat = RestChat(stack)
    first = chat.say("我爸在医院病逝了，要办哪些手续")
    assert NATURAL in first and UNNATURAL not in first and "非正常" not in first
    assert "按您说的情况（在医院去世）" in first
    assert guide_is_asking(chat, kb)                 # only what is still unknown: no "where did he die"
    assert "在医院去世" not in chat.last[-1]["text"]
    rest = through_guide(chat, kb)                   # 有驾驶证, 有公积金
    assert "按您的情况（在医院去世、有驾驶证、有公积金），「公民身后」要办这8项" in rest
    assert "1. 出具死亡证明（正常死亡） —— 逝者去世所在的医院" in rest
    assert "非正常" not in rest and "公安机关调查" not in rest
    assert "一套材料" in rest and "病历" not in rest  # 在家去世才要病历
    assert "比全部9项少办1项" in rest


def test_death_in_a_traffic_accident_gets_only_the_police_certificate(stack, kb):
    chat = RestChat(stack)
    first = chat.say("我妈出车祸去世了，后面要办什么")
    assert UNNATURAL in first and NATURAL not in first
    assert "意外、事故或原因不明" in first
    rest = through_guide(chat, kb, pick=1)           # 没有驾驶证, 没有公积金
    assert UNNATURAL in rest and NATURAL not in rest
    assert "报警" in rest and "负责调查的公安机关" in rest
    assert "注销驾驶证" not in rest and "住房公积金提取" not in rest


def test_where_to_get_a_death_certificate_depends_on_the_case(stack):
    reply = RestChat(stack).say("死亡证明去哪开")
    assert "助产机构" not in reply
    assert "在医院去世：逝者去世所在的医院" in reply
    assert "社区卫生服务中心或乡镇卫生院" in reply and "先报警" in reply


def test_wanting_to_retire_early_is_guided_not_applied_for(stack, kb, apps):
    chat = RestChat(stack)
    first = chat.say("我今年55岁想提前退休")
    assert "开始在线申请" not in first and apps.open_draft(chat.sender) is None
    assert "职工正常退休" not in first
    assert chat.last[-1]["text"] == "提前退休是因为哪种情况？"
    assert [b["title"] for b in chat.last[-1]["buttons"]][0].startswith("特殊工种")
    listed = chat.say("特殊工种")                       # then: 公积金？
    assert "职工正常退休" not in listed
    personal = chat.say("有")
    assert "职工提前退休（退职）申请" in personal and "职工正常退休" not in personal
    assert "特殊工种" in personal and apps.open_draft(chat.sender) is None
    opening = chat.say("我要申请")
    assert "开始在线申请“企业职工退休”" in opening
    question = apps.open_draft(chat.sender)
    assert question is not None and question.stage == "items"
    assert "职工提前退休（退职）申请" in opening and "职工正常退休" not in opening
    chat.say("全部")
    assert apps.open_draft(chat.sender).items == ["early_retirement_application",
                                                  "retiree_medical_insurance_registration",
                                                  "housing_fund_withdrawal_retirement"]


def test_retiring_early_without_a_reason_is_politely_not_eligible(stack, apps):
    chat = RestChat(stack)
    chat.say("我想提前退休要办什么")
    reply = chat.say("以上都不是，只是想早点退")
    assert "不符合提前退休的条件" in reply and "12333" in reply and "弹性提前退休" in reply
    assert "按您的情况" not in reply
    chat.say("我要申请")
    assert apps.open_draft(chat.sender) is None


def test_newborn_in_foshan_where_to_register_names_foshan(stack):
    reply = RestChat(stack).say("在佛山生了宝宝，户口去哪里上")
    assert "户口登记" in reply and "佛山市户口所在地的派出所" in reply
    assert "佛山市各区政务服务中心综合窗口" in reply
    assert reply.index("派出所") < reply.index("负责部门")   # the place first, the department second
    assert "省公安厅" in reply


def test_the_city_is_remembered_and_a_district_narrows_it(stack):
    chat = RestChat(stack)
    chat.say("我住在深圳南山区")
    reply = chat.say("上户口去哪里办")
    assert "深圳市南山区政务服务中心综合窗口" in reply


def test_choosing_items_by_number_after_the_overview(stack, kb, apps):
    chat = RestChat(stack)
    overview = chat.say("孩子出生了要办什么")
    lines = [ln for ln in overview.split("\n") if ln[:2] in ("1.", "3.")]
    names = [ln.split(". ", 1)[1].split("｜")[0] for ln in lines]
    reply = chat.say("我想先办1和3")
    assert "目前没有正在填写的申请" not in reply
    assert "开始在线申请“新生儿出生”" in reply and f"为您办理2项：{names[0]}、{names[1]}" in reply
    draft = apps.open_draft(chat.sender)
    assert [kb.bundle("newborn").item(k).name for k in draft.items] == names


def test_choosing_items_by_name_and_all_but_one(stack, kb, apps):
    chat = RestChat(stack)
    chat.say("宝宝出生了要办什么")
    through_guide(chat, kb)
    reply = chat.say("除了社保卡都办")
    assert "开始在线申请" in reply and "社会保障卡申领" not in reply.split("为您办理", 1)[1].split("\n")[0]
    assert "social_security_card_application" not in apps.open_draft(chat.sender).items
    chat.say("取消申请")
    other = RestChat(stack)
    other.say("宝宝出生了要办什么")
    reply = other.say("只要户口和医保")
    assert "为您办理2项：户口登记（出生登记）、城乡居民参保登记（基本医疗保险）" in reply
    assert "出生医学证明" in reply                            # the prerequisite is explained


def test_a_new_milk_tea_shop_is_told_about_enterprise_opening_first(stack, kb):
    chat = RestChat(stack)
    reply = chat.say("我想在深圳开一家奶茶店")
    assert "企业开办" in reply and "营业执照" in reply
    assert reply.index("企业开办") < reply.index("食品经营许可")
    assert any("企业开办" in b["title"] for m in chat.last for b in m.get("buttons") or [])


def test_hiring_without_an_enterprise_points_to_enterprise_opening(stack, kb):
    chat = RestChat(stack)
    chat.say("员工录用要办什么")
    reply = chat.say("还没有")
    assert "企业开办" in reply and "先办" in reply


def test_no_duplicated_prerequisite_names(stack):
    reply = RestChat(stack).say("我爸走了后面要办啥")
    assert "出具死亡证明或出具死亡证明" not in reply
    assert "需先办出具死亡证明" in reply


def test_a_question_during_the_guide_is_answered_then_the_guide_asks_again(stack, kb):
    chat = RestChat(stack)
    chat.say("我爸走了后面要办啥")
    question = chat.last[-1]["text"]
    answer = chat.say("要带什么材料")
    assert "公民身后" in answer and "居民身份证" in answer
    assert chat.last[-1]["text"] == question


def test_applying_asks_first_and_a_birth_outside_guangdong_is_not_eligible(stack, apps):
    chat = RestChat(stack)
    reply = chat.say("我要申请新生儿出生")
    assert "办理前先确认" in reply and chat.last[-1]["text"] == "宝宝是在广东省内的医院出生的吗？"
    assert apps.open_draft(chat.sender).stage == "items"      # the draft exists at once, items come later
    refused = chat.say("在广东省外出生")
    assert "不能在广东办理“出生一件事”联办" in refused and "出生医院" in refused
    assert apps.open_draft(chat.sender) is None               # nothing left half-open
