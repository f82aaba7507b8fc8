"""The rules engine of situations (情形引导) on the real bundle content:
what a message already says, which question comes next, what applies."""

import pytest

from bot.kb.loader import load_knowledge_base
from bot.kb.situations import SKIPPED

KB = load_knowledge_base()


def guide(bundle_id):
    b = KB.bundle(bundle_id)
    return b, b.guide, [it.id for it in b.items]


@pytest.mark.parametrize("text, expected", [
    ("我爸在医院病逝了，要办哪些手续", {"place": "hospital", "cause": "natural"}),
    ("我妈出车祸去世了", {"cause": "unnatural", "place": "elsewhere"}),
    ("老人在家里病故了", {"place": "elsewhere", "cause": "natural"}),
    ("车祸送医院抢救无效", {"place": "hospital", "cause": "unnatural"}),
    ("家属说是非正常死亡", {"cause": "unnatural", "place": "elsewhere"}),  # not read as 正常死亡
    ("我爸走了后面要办啥", {}),
])
def test_what_a_death_message_already_answers(text, expected):
    _, g, _ = guide("after_death")
    assert g.infer(text) == expected


def test_death_in_hospital_only_the_health_certificate():
    b, g, keys = guide("after_death")
    d = g.decide(keys, g.infer("我爸在医院病逝了"))
    assert "death_certificate_natural" in d.items and "death_certificate_unnatural" not in d.items
    assert d.where["death_certificate_natural"] == ("hospital_of_death",)
    assert d.material("death_certificate_natural", "medical_history", "逝者") == "drop"
    assert d.open_groups == ()
    assert d.pending == ("licence", "housing_fund")  # only what is still unknown


def test_traffic_accident_only_the_police_certificate():
    _, g, keys = guide("after_death")
    d = g.decide(keys, g.infer("我妈出车祸去世了"))
    assert "death_certificate_unnatural" in d.items and "death_certificate_natural" not in d.items
    assert any("报警" in s for s in d.says)


def test_death_at_home_needs_the_medical_history_and_primary_care():
    _, g, keys = guide("after_death")
    d = g.decide(keys, {"place": "elsewhere", "cause": "natural"})
    assert d.material("death_certificate_natural", "medical_history", "逝者") == "need"
    assert d.where["death_certificate_natural"] == ("primary_care",)


def test_unknown_case_leaves_the_exclusive_pair_open_and_asks_place_first():
    _, g, keys = guide("after_death")
    d = g.decide(keys, {})
    assert d.open_groups == (("death_certificate_natural", "death_certificate_unnatural"),)
    assert g.next_question({}).id == "place"
    assert g.next_question({"place": "elsewhere"}).id == "cause"
    assert g.next_question({"place": "hospital"}).id == "licence"  # cause is not asked then


def test_answers_to_questions_that_do_not_apply_are_ignored():
    _, g, keys = guide("after_death")
    d = g.decide(keys, {"place": "hospital", "cause": "unnatural"})
    assert d.answers == {"place": "hospital"}
    assert "death_certificate_natural" in d.items


def test_early_retirement_is_guided_and_never_with_normal_retirement():
    _, g, keys = guide("employee_retirement")
    said = g.infer("我今年55岁想提前退休")
    assert said == {"kind": "early"}
    assert g.next_question(said).id == "early_reason"
    d = g.decide(keys, {**said, "early_reason": "special_job", "housing_fund": "has"})
    assert "normal_retirement_application" not in d.items
    assert d.items == ("early_retirement_application", "retiree_medical_insurance_registration",
                       "housing_fund_withdrawal_retirement")
    assert d.material("early_retirement_application", "special_job_proof", "本人") == "need"
    assert d.material("early_retirement_application", "work_ability_assessment", "本人") == "drop"


def test_wanting_to_retire_early_without_a_reason_is_not_eligible():
    _, g, keys = guide("employee_retirement")
    d = g.decide(keys, {"kind": "early", "early_reason": "other"})
    assert d.ineligible and d.items == () and d.pending == ()
    assert "12333" in d.ineligible.instead
    assert g.next_question({"kind": "early", "early_reason": "other"}) is None


@pytest.mark.parametrize("reply, choice", [
    ("1", "special_job"), ("第二个", "disability"), ("特殊工种", "special_job"),
    ("以上都不是，只是想早点退", "other"), ("都不是", "other"), ("因病", "disability"),
    ("高温作业干了十年", "special_job"), ("嗯？", None),
])
def test_replies_to_a_question(reply, choice):
    _, g, _ = guide("employee_retirement")
    assert g.reply(g.question("early_reason"), reply) == choice


def test_short_replies_with_particles():
    _, g, _ = guide("after_death")
    q = g.question("licence")
    assert g.reply(q, "有的") == "has" and g.reply(q, "没有呢") == "none" and g.reply(q, "冇") == "none"
    assert g.reply(g.question("housing_fund"), "不清楚") == "unsure"


def test_a_skipped_question_is_not_asked_again():
    _, g, keys = guide("after_death")
    answers = {"place": "hospital", "licence": SKIPPED}
    assert g.next_question(answers).id == "housing_fund"
    d = g.decide(keys, {**answers, "housing_fund": "has"})
    assert d.complete and "driving_licence_cancellation" in d.items


def test_done_items_satisfy_their_dependants():
    _, g, keys = guide("marriage_childbirth")
    d = g.decide(keys, {"stage": "married", "move_hukou": "stay", "baby": "planning"})
    assert d.done == ("marriage_registration",)
    assert d.items == ("hukou_marital_status_change", "childbirth_registration")


def test_packaged_food_needs_no_food_licence():
    _, g, keys = guide("restaurant_permit")
    d = g.decide(keys, {"licence": "has", "food": "packaged", "signage": "none"})
    assert d.items == ("public_venue_fire_safety_inspection",)


def test_milk_tea_shop_is_new_and_needs_enterprise_opening_first():
    b, g, _ = guide("restaurant_permit")
    said = g.infer("我想在深圳开一家奶茶店")
    assert said["licence"] == "none" and said["food"] == "make"
    assert b.requires[0].bundle == "enterprise_opening"


def test_every_bundle_models_its_situations():
    for b in KB.bundles:
        assert b.guide.questions, b.id
        cases = list(b.guide.cases())
        assert cases
        for case in cases:
            d = b.guide.decide([it.id for it in b.items], case)
            assert d.complete
            assert d.items or d.ineligible, (b.id, case)


def test_guides_round_trip_as_json():
    from bot.kb.situations import Guide

    for b in KB.bundles:
        assert Guide.from_json(b.guide.to_json()) == b.guide
