"""The "一套材料" computation: merge the materials of any subset of a bundle's items."""

from __future__ import annotations

from collections.abc import Iterable

from bot.kb.situations import Decision
from bot.kb.views import BundleView, MaterialNeed


def merge_materials(bundle: BundleView, item_keys: Iterable[str] | None = None,
                    decision: Decision | None = None) -> list[MaterialNeed]:
    """Each (document, holder) once, with the chosen items that need it, in item order.

    A document is conditional only if every use of it is conditional. A document
    that one of the chosen items issues (出生医学证明 for 户口登记) is marked
    `produced_by` instead of being asked for. With a situation `decision`, the
    materials its rules drop are left out and those it needs are no longer
    conditional: one set of materials for that case.
    """
    chosen = set(item_keys) if item_keys is not None else None
    items = [it for it in bundle.items if chosen is None or it.key in chosen]
    if chosen is not None and len(items) != len(chosen):
        unknown = sorted(chosen - {it.key for it in items})
        raise KeyError(f"not items of {bundle.id}: {', '.join(unknown)}")
    producers = {doc: it for it in items for doc in it.produces}
    merged: dict[tuple[str, str], MaterialNeed] = {}
    for it in items:
        for use in it.materials:
            if use.material_id in it.produces:
                continue
            status = decision.material(it.key, use.material_id, use.holder) if decision else None
            if status == "drop":
                continue
            conditional = use.conditional and status != "need"
            key = (use.material_id, use.holder)
            need = merged.get(key)
            if need is None:
                need = merged[key] = MaterialNeed(
                    material_id=use.material_id, name=use.name, holder=use.holder,
                    conditional=conditional, e_certificate=use.e_certificate,
                )
            else:
                need.conditional = need.conditional and conditional
            if it.key not in need.used_by:
                need.used_by.append(it.key)
                need.used_by_names.append(it.name)
            if use.note and use.note not in need.notes:
                need.notes.append(use.note)
            producer = producers.get(use.material_id)
            if producer is not None and producer.key != it.key:
                need.produced_by = producer.name
    return list(merged.values())
