"""Forms are data: every bundle has one, it is valid against the knowledge base,
and a bad file fails with a message naming the file and the field."""

import shutil

import pytest

from bot.applications.formspec import FORMS_DIR, FormSpecError, load_forms
from bot.applications.validation import check
from tests.bot.applications.values import answer_for


@pytest.fixture(scope="module")
def items(kb):
    return {b.id: {it.key for it in b.items} for b in kb.bundles()}


def test_every_bundle_has_a_form(items):
    forms = load_forms(items)
    assert set(forms) == set(items)


def test_applicant_asked_once_whatever_items_are_chosen(items):
    for form in load_forms(items).values():
        fields = form.fields_for(items[form.bundle_id])
        ids = [f.id for f in fields]
        assert len(ids) == len(set(ids))
        assert ids[0] == "applicant_id_number"
        assert ids.count("applicant_name") == 1


def test_fields_follow_the_chosen_items(items):
    form = load_forms(items)["newborn"]
    only_hukou = {f.id for f in form.fields_for(["birth_hukou_registration"])}
    assert "birth_certificate_number" in only_hukou  # proof of the prerequisite
    both = {f.id for f in form.fields_for(["birth_medical_certificate", "birth_hukou_registration"])}
    assert "birth_certificate_number" not in both
    assert "hukou_address" not in {f.id for f in form.fields_for(["vaccination_certificate"])}


def test_examples_shown_to_citizens_are_valid(items):
    for form in load_forms(items).values():
        for spec in form.fields:
            answer = answer_for(spec)
            assert check(spec, answer, {}).ok, (form.bundle_id, spec.id, answer)


@pytest.fixture
def forms_copy(tmp_path):
    target = tmp_path / "forms"
    shutil.copytree(FORMS_DIR, target)
    return target


@pytest.mark.parametrize(("edit", "message"), [
    (("  items: [birth_hukou_registration]\n", "  items: [no_such_item]\n"), "unknown item(s) ['no_such_item']"),
    (("- use: applicant_phone\n", "- use: applicant_fax\n"), "`use: applicant_fax` is not in"),
    (("  type: choice\n  options: [男, 女]\n", "  type: colour\n  options: [男, 女]\n"), "type 'colour'"),
    (("- use: applicant_id_number\n", ""), "every form asks the applicant's id"),
])
def test_bad_form_files_name_the_file_and_field(items, forms_copy, edit, message):
    path = forms_copy / "newborn.yml"
    text = path.read_text(encoding="utf-8")
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(FormSpecError) as err:
        load_forms(items, forms_copy)
    assert "newborn.yml" in str(err.value) and message in str(err.value)
