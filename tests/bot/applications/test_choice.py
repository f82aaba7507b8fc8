"""Choosing items in plain words, with the bundle's rules and the situation."""

import pytest

from bot.applications.choice import apply_rules, parse_choice


@pytest.mark.parametrize("text, expected", [
    ("先办1和3", ["birth_medical_certificate", "birth_hukou_registration"]),
    ("我想先办第一项和第三项", ["birth_medical_certificate", "birth_hukou_registration"]),
    ("只要户口和医保", ["birth_hukou_registration", "resident_medical_insurance_enrolment"]),
    ("前两项", ["birth_medical_certificate", "vaccination_certificate"]),
    ("我今年55岁", None),
    ("⟪身份证号:k3j9x2m4p7⟫", None),  # vaulted numbers are never item numbers
])
def test_parse_choice(kb, text, expected):
    assert parse_choice(kb.bundle("newborn"), text) == expected


def test_all_but_one_by_name(kb):
    keys = parse_choice(kb.bundle("newborn"), "除了社保卡都办")
    assert "social_security_card_application" not in keys and len(keys) == 5


def test_numbers_refer_to_the_list_shown(kb):
    d = kb.decide("after_death", {"place": "hospital", "licence": "none", "housing_fund": "none"})
    assert parse_choice(kb.bundle("after_death"), "先办1和3", listed=list(d.items)) == \
        ["death_certificate_natural", "medical_account_lump_sum_withdrawal"]


def test_exclusive_items_are_never_chosen_together(kb):
    choice = apply_rules(kb.bundle("employee_retirement"),
                         ["normal_retirement_application", "early_retirement_application"])
    assert choice.keys == ["normal_retirement_application"]
    assert choice.conflicts == [("职工正常退休（职）申请", "职工提前退休（退职）申请")]


def test_items_the_situation_excludes_are_dropped(kb):
    d = kb.decide("employee_retirement", {"kind": "early", "early_reason": "disability", "housing_fund": "has"})
    choice = apply_rules(kb.bundle("employee_retirement"), ["normal_retirement_application",
                                                            "housing_fund_withdrawal_retirement"], d)
    assert choice.dropped == ["职工正常退休（职）申请"] and choice.keys == ["housing_fund_withdrawal_retirement"]
    assert choice.prerequisites == [("住房公积金提取（离休、退休）", "职工提前退休（退职）申请")]


def test_prerequisites_are_pulled_in_and_explained(kb):
    b = kb.bundle("newborn")
    choice = apply_rules(b, ["social_security_card_application"], proofs={"birth_medical_certificate"},
                         pull_prerequisites=True)
    assert choice.keys == ["birth_hukou_registration", "resident_medical_insurance_enrolment",
                           "social_security_card_application"]
    assert ("户口登记（出生登记）", "办理“社会保障卡申领”要先办它") in choice.added
    # the birth certificate can be proven by its number: noted, not pulled in
    assert choice.prerequisites == [("户口登记（出生登记）", "出生医学证明签发")]


def test_parallel_group_still_comes_along(kb):
    choice = apply_rules(kb.bundle("second_hand_housing"), ["transaction_tax_declaration"])
    assert {"contract_online_filing", "real_estate_transfer_registration"} <= set(choice.keys)
