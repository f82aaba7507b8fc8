"""The application dialog on its own (no NLU): item choice, parallel groups,
prerequisites, pre-fill with consent, validation, edits, cancel and resume."""

import itertools
import re

import pytest

from bot.applications.dialog import ApplicationDialog
from bot.applications.service import Applications
from bot.privacy.vault import Vault
from tests.bot.applications.values import make_id
from tests.conftest import verify_identity

DEMO_ID = "440106199203151025"  # 陈晓琳 in data/demo/citizens.yml
_n = itertools.count()


class Citizen:
    """Types into the dialog the way the channel delivers it: numbers vaulted.
    `vouched`: a mini-program user (the channel vouches for them), else a REST client."""

    def __init__(self, dialog: ApplicationDialog, bundle_id: str, vouched: bool = False):
        self.d = dialog
        self.sender = f"mp:oDialog{next(_n):021d}" if vouched else f"dlg-{next(_n)}"
        self.opening = "\n".join(m.text for m in dialog.begin(self.sender, bundle_id).messages)

    def say(self, text: str, intent: str | None = None) -> str:
        turn = self.d.answer(self.sender, self.d.vault.protect(text, self.sender), intent)
        self.finished = turn.finished
        return "\n".join(m.text for m in turn.messages)

    @property
    def question(self) -> str:
        prompt = self.d.prompt(self.sender)
        return prompt.text if prompt else ""

    @property
    def draft(self):
        return self.d.apps.open_draft(self.sender)


@pytest.fixture(scope="module")
def dialog(kb):
    return ApplicationDialog(Applications(kb), vault=Vault())


def test_choose_some_items_by_number(dialog):
    c = Citizen(dialog, "newborn")
    assert "1. 出生医学证明签发" in c.question and "全部" in c.question
    reply = c.say("1 3")
    assert "为您办理2项：出生医学证明签发、户口登记（出生登记）" in reply
    assert c.draft.items == ["birth_medical_certificate", "birth_hukou_registration"]
    assert "身份证号" in c.question


def test_all_items_and_all_but_one(dialog):
    c = Citizen(dialog, "newborn")
    c.say("全部都办")
    assert len(c.draft.items) == 6
    c2 = Citizen(dialog, "newborn")
    c2.say("除了5都要")
    assert "social_security_card_application" not in c2.draft.items and len(c2.draft.items) == 5


def test_parallel_group_goes_together_and_says_why(dialog, kb):
    c = Citizen(dialog, "second_hand_housing")
    group = kb.bundle("second_hand_housing").parallel_groups["transfer"]
    first = kb.bundle("second_hand_housing").items.index(group[0]) + 1
    reply = c.say(str(first))
    assert {it.key for it in group} <= set(c.draft.items)
    assert "依法须与" in reply and "同时办理" in reply


def test_prerequisite_is_explained_and_proof_asked(dialog):
    c = Citizen(dialog, "newborn")
    reply = c.say("3")  # 户口登记 only
    assert "需要先有出生医学证明签发" in reply
    c.say(make_id())
    c.say("不用")  # (no demo record for this id anyway)
    fields = [f.id for f in dialog.apps.form("newborn").fields_for(c.draft.items)]
    assert "birth_certificate_number" in fields


def test_unclear_item_choice_is_asked_again(dialog):
    c = Citizen(dialog, "newborn")
    assert "没看明白" in c.say("随便吧")
    assert c.draft.stage == "items"


def _verify_link(text: str) -> str:
    return re.search(r"https?://\S+/verify/\S+", text).group(0)


def test_prefill_only_after_verifying_as_the_holder(dialog, identity_provider):
    c = Citizen(dialog, "newborn", vouched=True)
    c.say("全部")
    c.say(DEMO_ID)
    assert "自动填写吗" in c.question and "实名核验" in c.question
    assert c.say("好的", "affirm") == ""
    link = _verify_link(c.question)
    assert "还没有收到核验结果" in c.say("已核验")     # not yet verified: nothing filled
    assert c.draft.values == {"applicant_id_number": DEMO_ID}
    verify_identity(identity_provider, link, DEMO_ID, "陈晓琳")
    reply = c.say("已核验")
    assert "申请人姓名 陈*琳" in reply and "138****8000" in reply and "13800138000" not in reply
    assert "陈晓琳" not in reply and "体育西路" not in reply       # names and addresses masked
    assert c.draft.values["applicant_name"] == "陈晓琳"
    assert "applicant_phone" in c.draft.prefilled
    outcomes = [o for _, o in dialog.shared.audit_log(c.sender)]
    assert outcomes == ["found"]


def test_verified_as_someone_else_fills_nothing(dialog, identity_provider):
    c = Citizen(dialog, "newborn", vouched=True)
    c.say("全部")
    c.say(DEMO_ID)                       # 陈晓琳's number …
    c.say("好的", "affirm")
    verify_identity(identity_provider, _verify_link(c.question), "440106199007082018", "李志豪")
    reply = c.say("已核验")               # … but verified as 李志豪
    assert "本人" in reply and c.draft.values == {"applicant_id_number": DEMO_ID}
    assert [o for _, o in dialog.shared.audit_log(c.sender)] == ["mismatch"]


def test_the_consent_question_does_not_tell_whether_a_record_exists(dialog):
    known, unknown = Citizen(dialog, "newborn", vouched=True), Citizen(dialog, "newborn", vouched=True)
    for c, id_number in ((known, DEMO_ID), (unknown, make_id())):
        c.say("全部")
        c.say(id_number)
    assert known.question == unknown.question and "自动填写吗" in known.question


def test_no_prefill_at_all_for_rest_clients(dialog):
    c = Citizen(dialog, "newborn")
    c.say("全部")
    c.say(DEMO_ID)
    assert "自动填写" not in c.question and "申请人姓名" in c.question
    assert c.draft.values == {"applicant_id_number": DEMO_ID}


def test_lookups_are_rate_limited_per_sender(kb, identity_provider):
    from bot.applications.shared_data import SharedData

    d = ApplicationDialog(Applications(kb), shared=SharedData(per_hour=1), vault=Vault())
    first = Citizen(d, "newborn", vouched=True)
    first.say("全部")
    first.say(DEMO_ID)
    first.say("好的", "affirm")
    verify_identity(identity_provider, _verify_link(first.question), DEMO_ID, "陈晓琳")
    first.say("已核验")
    first.say("取消申请")
    again = Citizen(d, "newborn", vouched=True)
    again.sender = first.sender  # the same citizen, a second application within the hour
    again.d.begin(again.sender, "newborn")
    again.say("全部")
    again.say(DEMO_ID)
    reply = again.say("好的", "affirm")
    assert "太频繁" in reply and "陈*琳" not in reply
    assert [o for _, o in d.shared.audit_log(first.sender)] == ["limited", "found"]


def test_prefill_declined_fills_nothing(dialog):
    c = Citizen(dialog, "newborn", vouched=True)
    c.say("全部")
    c.say(DEMO_ID)
    c.say("不用了", "deny")
    assert c.draft.values == {"applicant_id_number": DEMO_ID}
    assert "申请人姓名" in c.question


def test_each_validation_error_keeps_the_question(dialog):
    c = Citizen(dialog, "after_death")
    c.say("除了2都办")  # the two death certificates exclude each other
    assert "18位" in c.say("12345678901234567")
    assert "校验位" in c.say("440106199203151024")
    c.say(make_id())
    c.say("王建国")                      # name
    assert "11位" in c.say("1234567")     # phone
    c.say("13912345678")
    c.say("子女")
    c.say("王老先生")
    c.say(make_id(born="19500301"))
    assert "不能晚于今天" in c.say("2099年1月1日")
    assert "不能早于出生日期" in c.say("1940年1月1日")
    c.say("2026年11月1日")
    assert c.draft.values["death_date"] == "2026-11-01"


def test_edit_a_field_by_saying_so_and_summary_masks(dialog):
    c = Citizen(dialog, "employee_retirement")
    c.say("1 3")
    for answer in (make_id(), "李华", "13800001111", "广州某某有限公司", "2027年1月1日", "工商银行",
                   "广州市天河区体育西路101号"):
        c.say(answer)
    summary = c.question
    assert "请核对" in summary and "138****1111" in summary and "13800001111" not in summary
    assert "4401**********" in summary
    reply = c.say("电话改成13912345678")
    assert "已把联系电话改为 139****5678" in reply
    assert c.draft.values["applicant_phone"] == "13912345678" and c.draft.stage == "confirm"
    assert "改一下" not in c.say("改一下地址") and c.draft.pending == "applicant_address"
    c.say("广州市越秀区北京路1号")
    assert c.draft.stage == "confirm"


def test_cancel_wipes_the_draft(dialog):
    c = Citizen(dialog, "newborn")
    c.say("全部")
    c.say(make_id())
    assert "已取消" in c.say("算了，取消申请")
    assert c.finished and c.draft is None


def test_resume_later_continues_where_left(dialog):
    c = Citizen(dialog, "veteran_retirement")
    c.say("全部")
    c.say(make_id())
    c.say("赵军")
    # days later, a new dialog object (as after a restart) picks up the same draft
    again = ApplicationDialog(Applications(dialog.apps.kb), vault=Vault())
    opening = "\n".join(m.text for m in again.begin(c.sender, "veteran_retirement").messages)
    assert "欢迎回来" in opening and "已填 2/" in opening
    assert "手机号" in again.prompt(c.sender).text


def test_another_bundle_while_a_draft_is_open(dialog):
    c = Citizen(dialog, "newborn")
    text = "\n".join(m.text for m in dialog.begin(c.sender, "after_death").messages)
    assert "未完成的“新生儿出生”申请" in text and c.draft.bundle_id == "newborn"


def test_confirm_submits_once(dialog):
    c = Citizen(dialog, "enterprise_deregistration")
    c.say("全部")
    for answer in (make_id(), "周强", "13800001111", "广州某某贸易有限公司", "91440101MA5CKQ7R8E",
                   "股东决定解散", "没有"):
        c.say(answer)
    assert "确认提交" in c.question
    assert "请回复“确认提交”" in c.say("嗯…等等")
    reply = c.say("确认提交", "affirm")
    assert c.finished and "申请已提交！编号：YJS-" in reply and "税务注销" in reply
    assert len(dialog.apps.applications(c.sender)) == 1
    assert "结束" in c.say("确认提交", "affirm")
    assert len(dialog.apps.applications(c.sender)) == 1
