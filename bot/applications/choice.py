"""Which items a citizen applies for: all or some, with the bundle's rules applied.

Mandatory items are always in; choosing one item of a parallel group brings
its partners (the law requires them together); a chosen item whose
prerequisite is not chosen is noted, and the form asks for proof instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.kb.views import BundleView

ALL_WORDS = ("全部", "全都", "都办", "都要", "所有", "一齐", "一起办", "全办", "统统", "all")
EXCEPT_RE = re.compile(r"(除了|除咗|不要|不用|唔要|唔使|不办|去掉)")


@dataclass
class ItemChoice:
    keys: list[str]                                      # in bundle order
    added: list[tuple[str, str]] = field(default_factory=list)   # (item name, why)
    prerequisites: list[tuple[str, str]] = field(default_factory=list)  # (item, needs)


def _mentioned(bundle: BundleView, text: str) -> list[str]:
    """Item keys named in `text` by 1-based number or by name/alias."""
    keys: list[str] = []
    for n in re.findall(r"\d{1,2}", text):
        if 1 <= int(n) <= len(bundle.items):
            keys.append(bundle.items[int(n) - 1].key)
    for it in bundle.items:
        if it.key not in keys and any(name and name in text for name in (it.name, *it.aliases)):
            keys.append(it.key)
    return keys


def parse_choice(bundle: BundleView, text: str, yes: bool = False) -> list[str] | None:
    """Requested item keys, or None when the reply names no items."""
    t = text.strip().lower()
    every = [it.key for it in bundle.items]
    m = EXCEPT_RE.search(t)
    if m:
        dropped = set(_mentioned(bundle, t[m.end():]))
        if dropped:
            return [k for k in every if k not in dropped]
    named = _mentioned(bundle, t)
    if named:
        return named
    if yes or any(w in t for w in ALL_WORDS):
        return every
    return None


def apply_rules(bundle: BundleView, requested: list[str]) -> ItemChoice:
    chosen = set(requested)
    out = ItemChoice(keys=[])
    for it in bundle.items:
        if it.choice == "mandatory" and it.key not in chosen:
            chosen.add(it.key)
            out.added.append((it.name, "是这件事的必办事项"))
    for group in bundle.parallel_groups.values():
        keys = {it.key for it in group}
        if chosen & keys and not keys <= chosen:
            names = "、".join(it.name for it in group)
            for it in group:
                if it.key not in chosen:
                    chosen.add(it.key)
                    out.added.append((it.name, f"依法须与{names}同时办理"))
    out.keys = [it.key for it in bundle.items if it.key in chosen]
    for it in bundle.items:
        if it.key not in chosen:
            continue
        for pre in it.prerequisites:
            inside = [k for k in pre.items if k in {i.key for i in bundle.items}]
            if inside and not chosen & set(inside):
                out.prerequisites.append((it.name, "或".join(pre.item_names)))
    return out
