"""GET /api/mp/bundles and /api/mp/bundles/{id}: what the 一件事 pages show —
items, departments, the merged materials (一套材料) and the merged form (一表申请)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from backend.miniprogram.common import PREFIX, ApiError, apps, reply
from bot.applications.choice import apply_rules
from bot.applications.formspec import FieldSpec
from bot.applications.service import NotFound
from bot.kb.service import UnknownBundle
from bot.kb.views import BundleView, DepartmentView, ItemView, MaterialNeed


def department(d: DepartmentView) -> dict:
    return {"id": d.id, "name": d.name, "where": d.where}


def _item(it: ItemView) -> dict:
    return {
        "key": it.key, "name": it.name, "department": department(it.department),
        "choice": it.choice, "parallel_group": it.parallel_group,
        "prerequisites": [{"items": list(p.items), "item_names": list(p.item_names),
                           "condition": p.condition} for p in it.prerequisites],
        "working_days": it.working_days, "time_limit": it.time_limit_committed,
        "fee": it.fee, "online": it.online, "online_note": it.online_note,
        "results": list(it.results),
    }


def material(m: MaterialNeed) -> dict:
    return {"id": m.material_id, "name": m.name, "holder": m.holder, "conditional": m.conditional,
            "used_by": list(m.used_by), "used_by_names": list(m.used_by_names), "notes": list(m.notes),
            "e_certificate": m.e_certificate, "produced_by": m.produced_by}


def form_field(f: FieldSpec) -> dict:
    return {"id": f.id, "label": f.label, "type": f.type, "prompt": f.question,
            "required": not f.optional, "options": list(f.options),
            "items": list(f.items) if f.items is not None else None,
            "unless_chosen": list(f.unless_chosen), "max_len": f.max_len,
            "example": f.example, "prefillable": bool(f.prefill), "help": f.help or None}


def summary(b: BundleView, has_form: bool) -> dict:
    return {"id": b.id, "name": b.name, "audience": b.audience, "description": b.description,
            "lead_department": department(b.lead_department), "item_count": len(b.items),
            "can_apply_online": has_form}


def _items_param(request: web.Request, bundle: BundleView) -> list[str] | None:
    raw = request.query.get("items")
    if not raw:
        return None
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = [k for k in keys if k not in {it.key for it in bundle.items}]
    if unknown:
        raise ApiError(400, "unknown_items", "没有这些事项：" + "、".join(unknown))
    return apply_rules(bundle, keys).keys  # parallel partners and mandatory items come along


async def list_bundles(request: web.Request) -> web.Response:
    audience = request.query.get("audience")
    if audience not in (None, "personal", "enterprise"):
        raise ApiError(400, "bad_request", "audience 只能是 personal 或 enterprise。")
    service = apps(request)

    def load() -> list[dict]:
        forms = service.forms
        return [summary(b, b.id in forms) for b in service.kb.bundles(audience)]

    return reply({"bundles": await asyncio.to_thread(load)})


async def bundle_detail(request: web.Request) -> web.Response:
    service = apps(request)
    bundle_id = request.match_info["bundle_id"]

    def load() -> dict:
        try:
            b = service.kb.bundle(bundle_id)
        except UnknownBundle:
            raise ApiError(404, "not_found", "没有这件事。") from None
        chosen = _items_param(request, b)
        depts = {it.department.id: it.department for it in b.items}
        try:
            form = service.form(b.id)
        except NotFound:
            form = None
        return {
            **summary(b, form is not None),
            "channels": list(b.channels), "notes": list(b.notes),
            "items": [_item(it) for it in b.items],
            "parallel_groups": {g: [it.key for it in group] for g, group in b.parallel_groups.items()},
            "departments": [department(d) for d in depts.values()],
            "materials": [material(m) for m in service.kb.materials(b.id, chosen)],
            "form": None if form is None else {
                "intro": form.intro,
                "fields": [form_field(f) for f in (form.fields_for(chosen) if chosen else form.fields)]},
        }

    return reply(await asyncio.to_thread(load))


def routes() -> list[web.RouteDef]:
    return [web.get(f"{PREFIX}/bundles", list_bundles),
            web.get(f"{PREFIX}/bundles/{{bundle_id}}", bundle_detail)]
