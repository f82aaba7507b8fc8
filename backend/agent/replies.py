"""Canned replies for the agents' console: `canned(kb, bundle, items)` and
`general_replies()`, each reply {"id", "key", "title", "text"} (`key` is the short-cut
an agent types after "/" in the composer); served by GET /api/agent/canned-replies.

An agent on a busy shift should not type the materials of 新生儿出生 from memory:
the bundle replies are built from the same knowledge base the bot answers from
(its merged materials, each item's department and time limit), so they change
when the content does. The wording is data (data/messages/agent_replies.yml).
Bounded: one bundle, at most MAX_ITEMS of its own items.
"""

from __future__ import annotations

import re

from bot.kb.views import BundleView, ItemView
from bot.messages import topic

_PAREN = re.compile(r"（[^（）]*）|\([^()]*\)")
MAX_ITEMS = 40


def _short(name: str) -> str:
    return _PAREN.sub("", name).strip() or name


def _days(item: ItemView, words: dict) -> str:
    wd = item.working_days
    if wd is None:
        return item.time_limit_committed or words["unknown"]
    if wd == 0:
        return words["same_day"]
    if wd < 1:
        return words["half_day"]
    return words["days"].format(n=f"{wd:g}")


def bundle_replies(kb, bundle: BundleView, item_keys: list[str] | None) -> list[dict]:
    """The bundle's canned replies, for the chosen items when there are any."""
    words = topic("agent_replies")
    known = {it.key for it in bundle.items}
    keys = [k for k in item_keys or [] if k in known] or None
    items = [it for it in bundle.items if keys is None or it.key in keys]
    out = []

    m = words["materials"]
    needs = kb.materials(bundle.id, keys)
    lines = [(m["conditional_line"] if n.conditional else m["line"]).format(name=n.name, holder=n.holder)
             for n in needs if not n.produced_by]
    if lines:
        out.append({"key": m["key"], "title": m["title"],
                    "text": m["text"].format(bundle=bundle.name, lines="\n".join(lines))})

    d = words["departments"]
    lines = [d["line"].format(item=_short(it.name), department=it.department.name,
                              where=it.department.where) for it in items]
    out.append({"key": d["key"], "title": d["title"],
                "text": d["text"].format(bundle=bundle.name, lines="\n".join(lines))})

    tl = words["time_limits"]
    lines = [tl["line"].format(item=_short(it.name), days=_days(it, tl)) for it in items]
    out.append({"key": tl["key"], "title": tl["title"],
                "text": tl["text"].format(bundle=bundle.name, lines="\n".join(lines))})

    if bundle.channels:
        o = words["online"]
        out.append({"key": o["key"], "title": o["title"],
                    "text": o["text"].format(bundle=bundle.name, channel=_short(bundle.channels[0]))})
    return out


def general_replies() -> list[dict]:
    """The fixed replies (greeting, please wait, closing …), for any conversation."""
    return [{"id": r["key"], **r} for r in topic("agent_replies")["general"]]


def canned(kb, bundle_id: str, item_keys: list[str] | None = None) -> list[dict]:
    """The bundle's canned replies (UnknownBundle for an unknown id)."""
    items = [k.strip()[:64] for k in item_keys or [] if k and k.strip()][:MAX_ITEMS]
    return [{"id": r["key"], **r} for r in bundle_replies(kb, kb.bundle(bundle_id), items)]
