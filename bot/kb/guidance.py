"""The personal list (个性化清单) for a citizen's case: the items that apply,
one merged set of materials for exactly those items in that case, time limits
and where to go in their city. Used by the Rasa actions and any API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.kb.materials import merge_materials
from bot.kb.places import Place, Places
from bot.kb.situations import Decision, Guide, holds
from bot.kb.views import BundleView, ItemView, MaterialNeed, RequirementView


@dataclass
class Guidance:
    bundle: BundleView
    decision: Decision
    items: list[ItemView]
    materials: list[MaterialNeed]
    places: dict[str, list[Place]]       # item key → where to go, the main place first
    case: list[str]                      # what the answers say, in the citizen's words
    requirements: list[RequirementView]  # other bundles still to do first
    full_items: int
    full_materials: int
    done: list[ItemView] = field(default_factory=list)

    @property
    def counted_materials(self) -> int:
        return count_materials(self.materials)

    @property
    def saved_items(self) -> int:
        return self.full_items - len(self.items)

    @property
    def saved_materials(self) -> int:
        return self.full_materials - self.counted_materials


def count_materials(needs: list[MaterialNeed]) -> int:
    """Documents the citizen brings (one per document and holder), those a
    chosen item issues itself not counted."""
    return sum(1 for n in needs if not n.produced_by)


def case_labels(guide: Guide, answers: dict[str, str]) -> list[str]:
    """The answers as the citizen would say them; an answer implied by another
    one ("车祸" → not in hospital) is not repeated."""
    implied = set()
    for qid, cid in answers.items():
        for other, value in guide.question(qid).choice(cid).implies:
            if answers.get(other) == value:
                implied.add(other)
    return [guide.question(q).choice(c).label for q, c in answers.items() if q not in implied]


def unmet_requirements(bundle: BundleView, answers: dict[str, str]) -> list[RequirementView]:
    return [r for r in bundle.requires if not (r.unless and holds(r.unless, answers))]


def item_places(item: ItemView, decision: Decision | None, places: Places,
                city: str | None = None, district: str | None = None) -> list[Place]:
    kinds = (decision.where.get(item.key) if decision else None) or item.where
    return [places.describe(k, city, district) for k in kinds if k in places.kinds]


def guidance(bundle: BundleView, places: Places, answers: dict[str, str] | None = None,
             city: str | None = None, district: str | None = None) -> Guidance:
    guide = bundle.guide
    keys = [it.key for it in bundle.items]
    decision = guide.decide(keys, answers or {})
    items = [bundle.item(k) for k in decision.items]
    return Guidance(
        bundle=bundle, decision=decision, items=items,
        materials=merge_materials(bundle, decision.items, decision) if items else [],
        places={it.key: item_places(it, decision, places, city, district) for it in items},
        case=case_labels(guide, decision.answers),
        requirements=unmet_requirements(bundle, decision.answers),
        full_items=len(keys), full_materials=count_materials(merge_materials(bundle, keys)),
        done=[bundle.item(k) for k in decision.done],
    )


@dataclass(frozen=True)
class Alternative:
    """One way an item of an undecided exclusive group applies."""

    case: str
    item: ItemView
    places: list[Place]


def alternatives(bundle: BundleView, item_key: str, places: Places, answers: dict[str, str] | None = None,
                 city: str | None = None, district: str | None = None) -> list[Alternative]:
    """For "死亡证明去哪开" before the case is known: each case that decides
    between the item and its exclusive partners, with where to go in it.

    Cases are grouped by (item, places) and labelled with the answers they
    share, so questions that do not matter here are not mentioned."""
    guide = bundle.guide
    group = next((g for g in guide.exclusive if item_key in g), None)
    if group is None:
        return []
    keys = [it.key for it in bundle.items]
    known = guide.effective(answers or {})
    groups: dict[tuple[str, tuple[str, ...]], list[dict[str, str]]] = {}
    for case in guide.cases():
        if any(case.get(q) not in (None, c) for q, c in known.items()):
            continue
        d = guide.decide(keys, case)
        for k in group:
            if k in d.items:
                it = bundle.item(k)
                kinds = d.where.get(k) or it.where
                groups.setdefault((k, tuple(kinds)), []).append(case)
    out = []
    for (k, kinds), cases in groups.items():
        common = {q: c for q, c in cases[0].items() if all(x.get(q) == c for x in cases)}
        label = "、".join(case_labels(guide, common)) or bundle.item(k).name
        it = bundle.item(k)
        out.append(Alternative(label, it, [places.describe(x, city, district) for x in kinds if x in places.kinds]))
    return out
