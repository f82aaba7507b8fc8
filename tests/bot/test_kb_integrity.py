"""The knowledge base against the published national and Guangdong lists."""

from pathlib import Path

import pytest
import yaml

from bot.kb.loader import load_knowledge_base

POLICY = yaml.safe_load((Path(__file__).parent.parent / "fixtures" / "policy_lists.yml").read_text())
CONTRACT_IDS = [
    "enterprise_opening", "restaurant_permit", "employee_hiring", "enterprise_real_estate",
    "enterprise_deregistration", "newborn", "flexible_employment", "marriage_childbirth",
    "disability_assistance", "veteran_retirement", "second_hand_housing", "employee_retirement",
    "after_death",
]
KB = load_knowledge_base()


def test_all_contract_bundles_in_contract_order():
    assert [b.id for b in KB.bundles][: len(CONTRACT_IDS)] == CONTRACT_IDS
    audiences = {b.id: b.audience for b in KB.bundles}
    assert {audiences[i] for i in CONTRACT_IDS[:5]} == {"enterprise"}
    assert {audiences[i] for i in CONTRACT_IDS[5:]} == {"personal"}


@pytest.mark.parametrize("bundle_id", CONTRACT_IDS)
def test_guangdong_items_and_departments(bundle_id):
    bundle = KB.bundle(bundle_id)
    expected = POLICY[bundle_id]
    assert KB.departments[bundle.lead_department].name == expected["lead"]
    by_name = {it.name: it for it in bundle.items}
    for name, department in expected["items"].items():
        assert name in by_name, f"{bundle_id}: missing item {name}"
        item = by_name[name]
        assert KB.departments[item.department].name == department, name
        assert item.in_guangdong_list
    for name in expected.get("national_only", []):
        assert name in by_name, f"{bundle_id}: missing national item {name}"
        assert by_name[name].in_national_list and not by_name[name].in_guangdong_list
        assert by_name[name].notes, "a national-only item explains the difference"
    listed = set(expected["items"]) | set(expected.get("national_only", []))
    assert set(by_name) == listed, "no items beyond the two lists"


def test_every_item_is_complete():
    for bundle in KB.bundles:
        for it in bundle.items:
            assert it.materials and it.fee and it.online in {"yes", "partial", "no"}, it.global_id
            assert it.working_days is not None or it.time_limit_committed or it.time_limit_statutory


def test_parallel_group_is_the_second_hand_trio():
    housing = KB.bundle("second_hand_housing")
    parallel = [it.name for it in housing.items if it.choice == "parallel_required"]
    assert parallel == POLICY["second_hand_housing"]["parallel"]
    assert len({it.parallel_group for it in housing.items if it.parallel_group}) == 1
    others = [it for b in KB.bundles if b.id != "second_hand_housing" for it in b.items]
    assert all(it.choice == "optional" for it in others)


def test_prerequisite_hukou_needs_birth_certificate():
    hukou = next(it for it in KB.bundle("newborn").items if it.id == "birth_hukou_registration")
    assert any("newborn.birth_medical_certificate" in p.any_of for p in hukou.prerequisites)


def test_inferred_facts_are_marked():
    inferred = [it for b in KB.bundles for it in b.items if it.inferred]
    assert inferred, "facts without a public source must be marked as inferred"
    for it in inferred:
        assert set(it.inferred) <= {"department", "time_limit", "fee", "online"}
