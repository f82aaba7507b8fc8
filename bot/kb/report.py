"""How much shorter the personal lists are than the full lists, per bundle:
every complete case of its situations, items and materials (`python -m bot situations`)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.kb.guidance import count_materials
from bot.kb.loader import load_knowledge_base
from bot.kb.materials import merge_materials
from bot.kb.spec import BundleSpec
from bot.kb.views import BundleView, ItemView, MaterialUseView


@dataclass(frozen=True)
class BundleSaving:
    bundle_id: str
    name: str
    questions: int
    cases: int
    eligible_cases: int
    full_items: int
    full_materials: int
    items: tuple[int, ...]       # per eligible case
    materials: tuple[int, ...]   # per eligible case
    situations: tuple[str, ...]  # the questions' ids
    full_conditional: int = 0    # "视情况提供" materials in the full list
    conditional: tuple[int, ...] = ()  # still "视情况" per eligible case

    @property
    def avg_items(self) -> float:
        return sum(self.items) / len(self.items) if self.items else 0.0

    @property
    def avg_materials(self) -> float:
        return sum(self.materials) / len(self.materials) if self.materials else 0.0


def _view(b: BundleSpec, kb) -> BundleView:
    """A BundleView from the spec (no database needed for the numbers)."""
    from bot.kb.views import DepartmentView

    def dept(i):
        d = kb.departments[i]
        return DepartmentView(d.id, d.name, d.national_name, d.where)

    items = tuple(ItemView(
        key=it.id, global_id=it.global_id, name=it.name, aliases=it.aliases, department=dept(it.department),
        choice=it.choice, parallel_group=it.parallel_group, first_step=it.first_step,
        in_national_list=it.in_national_list, in_guangdong_list=it.in_guangdong_list, prerequisites=(),
        materials=tuple(MaterialUseView(u.doc, kb.materials[u.doc].name, u.holder, u.note, u.conditional,
                                        kb.materials[u.doc].e_certificate) for u in it.materials),
        working_days=it.working_days, time_limit_committed=it.time_limit_committed,
        time_limit_statutory=it.time_limit_statutory, fee=it.fee, online=it.online, online_note=it.online_note,
        results=it.results, produces=it.produces, notes=it.notes, inferred=it.inferred, where=it.where,
    ) for it in b.items)
    return BundleView(b.id, b.name, b.audience, b.description, dept(b.lead_department), items, guide=b.guide)


def savings() -> list[BundleSaving]:
    kb = load_knowledge_base()
    out = []
    for b in kb.bundles:
        view = _view(b, kb)
        keys = [it.id for it in b.items]
        full_needs = merge_materials(view, keys)
        full = count_materials(full_needs)
        full_cond = sum(1 for m in full_needs if m.conditional and not m.produced_by)
        items, mats, conds, cases = [], [], [], 0
        for case in b.guide.cases():
            cases += 1
            d = b.guide.decide(keys, case)
            if d.ineligible:
                continue
            needs = merge_materials(view, d.items, d)
            items.append(len(d.items))
            mats.append(count_materials(needs))
            conds.append(sum(1 for m in needs if m.conditional and not m.produced_by))
        out.append(BundleSaving(b.id, b.name, len(b.guide.questions), cases, len(items), len(keys), full,
                                tuple(items), tuple(mats), tuple(q.id for q in b.guide.questions),
                                full_cond, tuple(conds)))
    return out


def table() -> str:
    rows = ["| bundle | situations asked about | cases (eligible) | items: full → personal avg (min–max) "
            "| materials: full → personal avg (min–max) | of which 视情况: full → personal avg "
            "| saved per case avg: items / materials |",
            "|---|---|---|---|---|---|---|"]
    total_i = total_m = n = 0.0
    for s in savings():
        rows.append(
            f"| {s.name} | {', '.join(s.situations)} | {s.cases} ({s.eligible_cases}) "
            f"| {s.full_items} → {s.avg_items:.1f} ({min(s.items)}–{max(s.items)}) "
            f"| {s.full_materials} → {s.avg_materials:.1f} ({min(s.materials)}–{max(s.materials)}) "
            f"| {s.full_conditional} → {sum(s.conditional) / len(s.conditional):.1f} "
            f"| {s.full_items - s.avg_items:.1f} / {s.full_materials - s.avg_materials:.1f} |")
        total_i += s.full_items - s.avg_items
        total_m += s.full_materials - s.avg_materials
        n += 1
    rows.append(f"\nAverage over the 13 bundles: {total_i / n:.1f} items and {total_m / n:.1f} materials "
                "fewer per case.")
    return "\n".join(rows)
