"""Validation of situations: every problem named with its field path (and, in
files, its line); no unreachable item, rule or question; no contradiction."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.kb.loader import KnowledgeBaseError, check_bundle, load_knowledge_base
from bot.kb.situations import ItemFacts, check_guide, parse_guide

ROOT = Path(__file__).resolve().parents[2]
ITEMS = [
    ItemFacts("a", (("id_card", "本人", False), ("medical_history", "本人", True))),
    ItemFacts("b", (("id_card", "本人", False),)),
    ItemFacts("c", (("id_card", "本人", False),), prerequisites=(("a",),)),
]
Q = {"id": "q", "ask": "哪种？", "choices": [{"id": "x", "label": "X"}, {"id": "y", "label": "Y"}]}


def problems(raw, items=ITEMS, kinds=("hospital",)):
    guide, found = parse_guide(raw)
    return found or check_guide(guide, items, kinds)


def fields(found):
    return {f for f, _ in found}


def test_a_sound_guide_has_no_problems():
    raw = {"questions": [Q], "rules": [{"when": {"q": "x"}, "exclude": ["b"]},
                                       {"when": {"q": "y"}, "exclude": ["a", "c"]}],
           "exclusive": [["a", "b"]]}
    assert problems(raw) == []


def test_unknown_references_name_their_field():
    raw = {"questions": [Q, {**Q, "id": "r", "when": {"nope": "x"}}],
           "rules": [{"when": {"q": "z"}, "exclude": ["zz"]},
                     {"when": {"q": "x"}, "need": [{"item": "a", "doc": "passport"}]},
                     {"when": {"q": "y"}, "where": {"a": ["nowhere"]}}]}
    found = dict(problems(raw))
    assert "'nope' is not an earlier question" in found["situations.questions[1].when.nope"]
    assert "'z' is not a choice of 'q'" in found["situations.rules[0].when.q"]
    assert "'zz' is not an item" in found["situations.rules[0].exclude[0]"]
    assert "has no material 'passport'" in found["situations.rules[1].need[0].doc"]
    assert "unknown place kind 'nowhere'" in found["situations.rules[2].where.a"]


def test_shape_errors_name_their_field():
    found = dict(problems({"questions": [{"id": "Bad Id", "choices": [{"id": "x"}]}], "colour": 1}))
    assert "situations.colour" in found
    assert "situations.questions[0].ask" in found and "must be snake_case" in found["situations.questions[0].id"]
    assert "at least two choices" in found["situations.questions[0].choices"]
    assert "situations.questions[0].choices[0].label" in found


def test_unreachable_item():
    raw = {"questions": [Q], "rules": [{"exclude": ["b"]}, {"when": {"q": "x"}, "say": "…"}]}
    assert ("situations.rules", "unreachable item: b applies in no case") in problems(raw)


def test_exclusive_items_both_applying_is_a_contradiction():
    raw = {"questions": [Q], "rules": [{"when": {"q": "x"}, "exclude": ["b"]}], "exclusive": [["a", "b"]]}
    found = problems(raw)
    assert ("situations.exclusive[0]", "contradiction: a and b exclude each other but both apply when q=y") in found


def test_needed_and_dropped_material_is_a_contradiction():
    raw = {"questions": [Q], "rules": [
        {"when": {"q": "x"}, "need": [{"item": "a", "doc": "medical_history"}]},
        {"when": {"q": "x"}, "drop": [{"item": "a", "doc": "medical_history"}]},
        {"when": {"q": "y"}, "say": "…"}]}
    assert any("both needed and dropped when q=x" in m for _, m in problems(raw))


def test_need_is_only_for_conditional_materials():
    raw = {"questions": [Q], "rules": [{"when": {"q": "x"}, "need": [{"item": "a", "doc": "id_card"}]},
                                       {"when": {"q": "y"}, "say": "…"}]}
    assert "situations.rules[0].need[0].doc" in fields(problems(raw))


def test_prerequisite_excluded_while_its_dependant_applies():
    raw = {"questions": [Q], "rules": [{"when": {"q": "x"}, "exclude": ["a"]}, {"when": {"q": "y"}, "say": "…"}]}
    assert any("item c applies but its prerequisite a never does when q=x" in m for _, m in problems(raw))


def test_a_rule_that_never_applies_and_a_question_that_decides_nothing():
    q2 = {**Q, "id": "r", "when": {"q": "x"}}
    raw = {"questions": [Q, q2, {**Q, "id": "s"}],
           "rules": [{"when": {"q": "y", "r": "x"}, "say": "…"}, {"when": {"q": "x", "r": "y"}, "say": "…"}]}
    found = dict(problems(raw))
    assert found["situations.rules[0].when"] == "this rule applies in no case"
    assert "question 's' decides nothing" in found["situations.questions[2]"]


def test_no_item_and_no_reason_is_a_problem():
    raw = {"questions": [Q], "rules": [{"when": {"q": "x"}, "exclude": ["a", "b", "c"]}]}
    assert any("no item applies and no 'ineligible' explains why when q=x" in m for _, m in problems(raw))
    raw["rules"][0]["ineligible"] = {"reason": "不符合", "instead": "去别处"}
    assert not any("no item applies" in m for _, m in problems(raw))


def test_the_same_word_for_two_choices_is_ambiguous():
    q = {**Q, "choices": [{"id": "x", "label": "X", "words": ["医院"]}, {"id": "y", "label": "Y", "words": ["医院"]}]}
    found = problems({"questions": [q], "rules": [{"when": {"q": "x"}, "say": "…"}]})
    assert ("situations.questions[0].choices[1]", "'医院' answers both 'x' and 'y'") in found


@pytest.fixture
def data_copy(tmp_path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(ROOT / "data", dst, ignore=shutil.ignore_patterns("nlu"))
    return dst


def test_file_problems_name_file_line_and_field(data_copy):
    path = data_copy / "bundles" / "after_death.yml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("    exclude: [death_certificate_natural]\n", "    exclude: [death_certificate_natral]\n")
    path.write_text(text, encoding="utf-8")
    line = text[: text.index("death_certificate_natral")].count("\n") + 1
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(data_copy)
    detail = next(d for d in err.value.details if "death_certificate_natral" in d["message"])
    assert detail["file"] == str(path) and detail["line"] == line
    assert detail["field"] == "situations.rules[2].exclude[0]"
    assert f"{path}:{line}: situations.rules[2].exclude[0]: 'death_certificate_natral' is not an item" \
        in str(err.value)


def test_removing_the_rule_that_separates_two_items_is_caught(data_copy):
    path = data_copy / "bundles" / "employee_retirement.yml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  - when: {kind: early}\n    exclude: [normal_retirement_application]\n", ""),
                    encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(data_copy)
    assert ("situations.exclusive[0]: contradiction: normal_retirement_application and "
            "early_retirement_application exclude each other but both apply when kind=early") in str(err.value)


def test_unknown_place_kind_and_required_bundle(data_copy):
    path = data_copy / "bundles" / "restaurant_permit.yml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("- bundle: enterprise_opening", "- bundle: enterprise_openning")
    text = text.replace("where: [fire_window, fire_online]", "where: [fire_window, fire_app]")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(data_copy)
    message = str(err.value)
    assert "requires[0].bundle: 'enterprise_openning' is not a known bundle" in message
    assert "items[2].where[1]: item 'public_venue_fire_safety_inspection': unknown place kind 'fire_app'" in message


def test_places_file_problems(data_copy):
    path = data_copy / "places.yml"
    text = path.read_text(encoding="utf-8").replace("local: '{city}{district}政务服务中心综合窗口'",
                                                    "local: '{city}{street}政务服务中心综合窗口'")
    path.write_text(text.replace("shunde: {name: 顺德区, aliases: [顺德]}", "shunde: {name: 顺德区, aliases: [禅城]}"),
                    encoding="utf-8")
    with pytest.raises(KnowledgeBaseError) as err:
        load_knowledge_base(data_copy)
    message = str(err.value)
    assert "kinds.district_service_centre.local: unknown field {street}" in message
    assert "cities.foshan.districts.shunde: '禅城' also names cities.foshan" in message


def test_check_bundle_for_the_editor_json():
    raw = yaml.safe_load((ROOT / "data" / "bundles" / "after_death.yml").read_text(encoding="utf-8"))
    raw = json.loads(json.dumps(raw))  # as the editor console sends it
    assert check_bundle(raw) == []
    raw["situations"]["exclusive"] = [["death_certificate_natural", "ghost_item"]]
    found = check_bundle(raw)
    assert {"field": "situations.exclusive[0][1]", "message": "'ghost_item' is not an item of this bundle",
            "line": 0} .items() <= found[0].items()


def test_cli_check_reports_field_paths(data_copy, tmp_path):
    path = data_copy / "bundles" / "after_death.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("when: {place: hospital}", "when: {place: hosptal}"),
                    encoding="utf-8")
    code = ("import sys; from pathlib import Path; import bot.kb.loader as l; "
            f"l.load_knowledge_base(Path({str(data_copy)!r}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert "situations.rules[0].when.place: 'hosptal' is not a choice of 'place'" in result.stderr
    ok = subprocess.run([sys.executable, "-m", "bot", "check"], cwd=ROOT, capture_output=True, text=True)
    assert ok.returncode == 0 and "13 bundles" in ok.stdout
