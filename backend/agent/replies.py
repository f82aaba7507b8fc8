"""Canned replies, bundle and department names for the agents' console (role agent).

    GET /api/agent/replies?bundle=<id>&items=<key>,<key>
        → {"general": [{"key", "title", "text"}], "replies": [...]}
    GET /api/agent/bundles      → {"bundles": [{"id", "name"}]}
    GET /api/agent/departments  → {"departments": [{"id", "name"}]}

An agent on a busy shift should not type the materials of 新生儿出生 from memory:
the bundle replies are built from the same knowledge base the bot answers from
(its merged materials, each item's department and time limit), so they change
when the content does. The wording is data (data/messages/agent_replies.yml).
Read-only and bounded (at most one bundle, its own items), behind the agent sub-app's
boundary like every /api/agent route.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from backend.common import APPS, dumps, error
from backend.text import message
from bot.kb.service import UnknownBundle
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


async def replies(request: web.Request) -> web.Response:
    kb = request.config_dict[APPS].kb
    bundle_id = request.query.get("bundle", "").strip()[:64]
    items = [k.strip()[:64] for k in request.query.get("items", "").split(",") if k.strip()][:MAX_ITEMS]
    general = [dict(r) for r in topic("agent_replies")["general"]]
    if not bundle_id:
        return web.json_response({"general": general, "replies": []}, dumps=dumps)
    try:
        bundle = await asyncio.to_thread(kb.bundle, bundle_id)
    except UnknownBundle:
        return error(404, "not_found", message("not_found"))
    out = await asyncio.to_thread(bundle_replies, kb, bundle, items)
    return web.json_response({"general": general, "replies": out}, dumps=dumps)


async def bundles(request: web.Request) -> web.Response:
    kb = request.config_dict[APPS].kb
    rows = await asyncio.to_thread(kb.bundles)
    return web.json_response({"bundles": [{"id": b.id, "name": b.name, "lead_department": b.lead_department.id}
                                          for b in rows]}, dumps=dumps)


async def departments(request: web.Request) -> web.Response:
    kb = request.config_dict[APPS].kb
    rows = await asyncio.to_thread(kb.bundles)
    seen: dict[str, str] = {}
    for b in rows:
        seen.setdefault(b.lead_department.id, b.lead_department.name)
        for it in b.items:
            seen.setdefault(it.department.id, it.department.name)
    return web.json_response({"departments": [{"id": k, "name": v} for k, v in seen.items()]},
                             dumps=dumps)


def routes() -> list[web.RouteDef]:
    return [web.get("/replies", replies), web.get("/bundles", bundles),
            web.get("/departments", departments)]
