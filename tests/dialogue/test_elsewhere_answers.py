"""Over the REST webhook, a government question outside our bundles gets a pointer
to where it is handled (data/elsewhere.yml), never a bundle's answer."""

import pytest

from bot.kb.elsewhere import load_catalogue
from bot.kb.loader import load_knowledge_base

pytestmark = pytest.mark.model
KB = load_knowledge_base()
CATALOGUE = load_catalogue(KB)
BUNDLE_WORDS = ("牵头：", "个事项", "材料清单", "工作日")  # what a bundle's answers say


@pytest.mark.parametrize(("text", "service"), [
    ("护照快到期了去哪续", "passport"),
    ("陪产假有几天", "leave"),
    ("失业金怎么申领", "unemployment_benefit"),
    ("工伤在哪里认定", "work_injury"),
    ("公司要变更注册地址怎么弄", "enterprise_change"),
    ("身份证过期了多久能拿到新的", "id_card"),
    ("生育津贴要怎么领", "maternity_benefit"),  # not an item of 结婚生育: 医保's
    ("独生子女父母光荣证在哪办", "family_planning_rewards"),
    # services added when the catalogue was widened department by department (issue 11)
    ("交通事故认定书去哪里拿", "traffic_accident"),
    ("小区电梯年检要什么材料", "special_equipment"),
    ("长护险怎么申请", "long_term_care"),
    ("携号转网要多久", "telecom"),
    ("人才优粤卡在哪里办", "talent_services"),
    ("想开诊所要办什么许可证", "medical_services"),
    ("被电信诈骗了去哪报案", "police_report"),
    ("工厂偷排污水去哪里投诉", "environment_complaint"),
    ("危房鉴定找哪个部门", "housing_safety"),
    ("行驶证丢咗点样补办", "motor_vehicle"),  # a new phrase of an older service, in Cantonese
])
def test_out_of_scope_question_gets_a_pointer(rest_chat, text, service):
    reply = rest_chat.say(text)
    expected = CATALOGUE.get(service)
    assert expected.name in reply and expected.office in reply, reply
    assert any(c.how in reply for c in expected.channels), reply
    assert not any(w in reply for w in BUNDLE_WORDS), reply


def test_a_bundle_question_still_gets_its_bundle(rest_chat):
    reply = rest_chat.say("营业执照怎么办")
    assert "不属于我能办理的" not in reply
    assert "「企业开办」" in reply
