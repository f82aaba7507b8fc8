"""Which items a citizen applies for: all or some, with the bundle's rules applied.

Mandatory items are always in; choosing one item of a parallel group brings
its partners (the law requires them together); items that exclude each other
(正常/提前退休) are never chosen together; with the citizen's situation
(`decision`), items that do not apply are left out. A chosen item whose
prerequisite is not chosen either brings it along (`pull_prerequisites`,
explained), or is noted and the form asks for proof instead.

Plain words choose items: "先办1和3" (numbers of the list shown), "只要户口和医保"
(names, aliases and keywords of items), "除了社保卡都办", "全部".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.kb import wording
from bot.kb.situations import Decision
from bot.kb.views import BundleView

ALL_WORDS = ("全部", "全都", "都办", "都要", "所有", "一齐", "一起办", "全办", "统统", "all")
EXCEPT_RE = re.compile(r"(除了|除咗|不要|不用|唔要|唔使|不办|去掉|除去)")
_CN = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_NUMBER_RE = re.compile(r"第([一二三四五六七八九十])|(\d{1,2})")
_TOKEN_RE = re.compile(r"⟪[^⟫]*⟫")  # vaulted personal data (bot.privacy.vault) is never a choice
_FIRST_N_RE = re.compile(r"前([一二两三四五六七八九]|\d)(?:项|个|条)")


@dataclass
class ItemChoice:
    keys: list[str]                                      # in bundle order
    added: list[tuple[str, str]] = field(default_factory=list)   # (item name, why)
    prerequisites: list[tuple[str, str]] = field(default_factory=list)  # (item, needs)
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # exclusive items both asked for
    dropped: list[str] = field(default_factory=list)     # asked for, but not applicable in the case


def _numbers(text: str) -> list[int]:
    out: list[int] = []
    m = _FIRST_N_RE.search(text)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else _CN[m.group(1)]
        out += list(range(1, n + 1))
        text = text[: m.start()] + text[m.end():]
    for m in _NUMBER_RE.finditer(text):
        out.append(_CN[m.group(1)] if m.group(1) else int(m.group(2)))
    return out


def _named(bundle: BundleView, text: str, among: Sequence[str]) -> list[str]:
    """Item keys named in `text` (names, aliases, keywords; longest first, no overlaps)."""
    phrases = sorted(((p, it.key) for it in bundle.items if it.key in among
                      for p in {it.name, *it.aliases, *it.keywords} if p),
                     key=lambda x: -len(x[0]))
    taken = [False] * len(text)
    found: list[tuple[int, str]] = []
    for phrase, key in phrases:
        start = text.find(phrase)
        while start != -1:
            end = start + len(phrase)
            if not any(taken[start:end]):
                for i in range(start, end):
                    taken[i] = True
                found.append((start, key))
            start = text.find(phrase, start + 1)
    return list(dict.fromkeys(k for _, k in sorted(found)))


def _mentioned(bundle: BundleView, text: str, listed: Sequence[str]) -> list[str]:
    """Item keys named in `text` by 1-based number (of `listed`) or by name."""
    keys: list[str] = []
    for n in _numbers(text):
        if 1 <= n <= len(listed) and listed[n - 1] not in keys:
            keys.append(listed[n - 1])
    for k in _named(bundle, re.sub(r"\d", " ", text), listed):
        if k not in keys:
            keys.append(k)
    return keys


def parse_choice(bundle: BundleView, text: str, yes: bool = False,
                 listed: Sequence[str] | None = None) -> list[str] | None:
    """Requested item keys, or None when the reply names no items.

    `listed`: the item keys as numbered to the citizen (default: all items)."""
    t = _TOKEN_RE.sub(" ", text).strip().lower()
    every = list(listed) if listed is not None else [it.key for it in bundle.items]
    m = EXCEPT_RE.search(t)
    if m:
        dropped = set(_mentioned(bundle, t[m.end():], every))
        if dropped:
            return [k for k in every if k not in dropped]
    named = _mentioned(bundle, t, every)
    if named:
        return named
    if yes or any(w in t for w in ALL_WORDS):
        return every
    return None


def apply_rules(bundle: BundleView, requested: Iterable[str], decision: Decision | None = None,
                proofs: Iterable[str] = (), pull_prerequisites: bool = False) -> ItemChoice:
    """The items to apply for. `proofs`: items whose result the form can take
    as proof (a certificate number) instead of applying for them."""
    requested = list(requested)
    applicable = set(decision.items) if decision else {it.key for it in bundle.items}
    done = set(decision.done) if decision else set()
    out = ItemChoice(keys=[])
    out.dropped = [bundle.item(k).name for k in requested if k not in applicable]
    chosen = {k for k in requested if k in applicable}
    for it in bundle.items:
        if it.choice == "mandatory" and it.key not in chosen and it.key in applicable:
            chosen.add(it.key)
            out.added.append((it.name, "是这件事的必办事项"))
    for group in bundle.parallel_groups.values():
        keys = {it.key for it in group if it.key in applicable}
        if chosen & keys and not keys <= chosen:
            names = "、".join(it.name for it in group)
            for it in group:
                if it.key not in chosen and it.key in applicable:
                    chosen.add(it.key)
                    out.added.append((it.name, f"依法须与{names}同时办理"))
    proofs = set(proofs)
    inside = {i.key for i in bundle.items}
    changed = True
    while changed:
        changed = False
        out.prerequisites = []
        for it in bundle.items:
            if it.key not in chosen:
                continue
            for pre in it.prerequisites:
                options = [k for k in pre.items if k in inside and k in applicable]
                if not [k for k in pre.items if k in inside] or chosen & set(pre.items) or done & set(pre.items):
                    continue
                if pull_prerequisites and options and not proofs & set(options):
                    chosen.add(options[0])
                    out.added.append((bundle.item(options[0]).name, wording.say("choose.pulled_in", needs=it.name)))
                    changed = True
                    break
                names = [bundle.item(k).name for k in (options or [k for k in pre.items if k in inside])]
                out.prerequisites.append((it.name, "或".join(dict.fromkeys(names))))
    for group in bundle.guide.exclusive:
        both = [it.key for it in bundle.items if it.key in chosen and it.key in group]
        for extra in both[1:]:
            chosen.discard(extra)
            out.conflicts.append((bundle.item(both[0]).name, bundle.item(extra).name))
    out.keys = [it.key for it in bundle.items if it.key in chosen]
    return out
