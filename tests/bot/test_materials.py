"""The merged "一套材料" for a bundle or any subset of its items."""

from collections import Counter

import pytest

from tests.conftest import ROOT  # noqa: F401  (ensures the test DB env is set first)


def test_each_document_once_per_holder(kb):
    for bundle in kb.bundles():
        needs = kb.materials(bundle.id)
        counts = Counter((n.material_id, n.holder) for n in needs)
        assert max(counts.values()) == 1, bundle.id
        uses = {(m.material_id, m.holder) for it in bundle.items for m in it.materials
                if m.material_id not in it.produces}
        assert set(counts) == uses, bundle.id


def test_used_by_lists_every_item_that_needs_it(kb):
    newborn = kb.bundle("newborn")
    needs = {(n.material_id, n.holder): n for n in kb.materials("newborn")}
    id_card = needs[("id_card", "父母双方")]
    expected = [it.key for it in newborn.items
                if any(m.material_id == "id_card" and m.holder == "父母双方" for m in it.materials)]
    assert id_card.used_by == expected and len(expected) >= 3


def test_subset_only_has_chosen_items_documents(kb):
    needs = kb.materials("newborn", ["vaccination_certificate"])
    assert {k for n in needs for k in n.used_by} == {"vaccination_certificate"}
    # 出生医学证明 is brought when its issuing item is not chosen …
    birth = [n for n in needs if n.material_id == "birth_medical_certificate"]
    assert birth and birth[0].produced_by is None


def test_document_issued_by_a_chosen_item_is_not_asked_for(kb):
    needs = kb.materials("newborn", ["birth_medical_certificate", "birth_hukou_registration"])
    birth = next(n for n in needs if n.material_id == "birth_medical_certificate")
    assert birth.produced_by == "出生医学证明签发"


def test_conditional_only_when_every_use_is_conditional(kb):
    for bundle in kb.bundles():
        for need in kb.materials(bundle.id):
            uses = [m.conditional for it in bundle.items if it.key in need.used_by
                    for m in it.materials if (m.material_id, m.holder) == (need.material_id, need.holder)]
            assert need.conditional == all(uses)


def test_unknown_item_is_a_clear_error(kb):
    with pytest.raises(KeyError, match="no_such_item"):
        kb.materials("newborn", ["no_such_item"])


def test_merging_reduces_the_count(kb):
    for bundle in kb.bundles():
        total = sum(len(it.materials) for it in bundle.items)
        if len(bundle.items) > 1:
            assert len(kb.materials(bundle.id)) < total, bundle.id
