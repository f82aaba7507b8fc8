"""The agents' canned replies come from the knowledge base the bot answers from, for
the conversation's bundle and chosen items; the wording is data."""

from __future__ import annotations

import pytest

from backend.agent.replies import canned, general_replies
from bot.kb.service import UnknownBundle


def test_bundle_replies_name_the_bundles_materials_departments_and_time_limits(kb):
    by_key = {r["key"]: r for r in canned(kb, "newborn")}
    assert set(by_key) >= {"cl", "bm", "sx"}
    bundle = kb.bundle("newborn")
    materials = by_key["cl"]["text"]
    assert materials.startswith("办理「新生儿出生」需要准备")
    for need in kb.materials("newborn"):
        if not need.produced_by:
            assert need.name in materials
    assert all(it.department.name in by_key["bm"]["text"] for it in bundle.items)
    assert "工作日" in by_key["sx"]["text"]
    assert all(r["id"] == r["key"] and r["title"] for r in by_key.values())


def test_replies_for_chosen_items_leave_the_other_items_out(kb):
    bundle = kb.bundle("newborn")
    first, other = bundle.items[0], bundle.items[-1]
    times = {r["key"]: r for r in canned(kb, "newborn", [first.key, "no-such-item"])}["sx"]["text"]
    assert times.count("\n· ") == 1
    assert other.name.split("（")[0] not in times
    everything = {r["key"]: r for r in canned(kb, "newborn", ["no-such-item"])}["sx"]["text"]
    assert everything.count("\n· ") == len(bundle.items)  # none of its own: the whole bundle


def test_general_replies_and_an_unknown_bundle(kb):
    keys = {r["key"] for r in general_replies()}
    assert {"nh", "dd", "jj"} <= keys
    with pytest.raises(UnknownBundle):
        canned(kb, "nope")
