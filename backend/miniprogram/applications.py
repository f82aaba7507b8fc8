"""Applications from the mini-program's form pages: the same drafts, rules,
validation messages and idempotent submission as the chat (bot/applications),
through bot.applications.direct. A citizen only ever sees their own: anything
else is "not found", never "forbidden", so existence is not revealed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from aiohttp import web

from backend.miniprogram.bundles import material
from backend.miniprogram.common import (
    PREFIX,
    ApiError,
    ensure_safe,
    read_json,
    reply,
    sender_lock,
    session,
)
from bot.applications import lifecycle
from bot.applications.direct import DirectApplications, Filled, OtherDraftOpen, UnknownItems
from bot.applications.formspec import FormSpec
from bot.applications.render import show_value
from bot.applications.service import (
    ApplicationError,
    Applications,
    ApplicationView,
    DraftView,
    NotFound,
)
from bot.kb.service import UnknownBundle

DIRECT = web.AppKey("mp_direct", DirectApplications)
FREE_TEXT = frozenset({"text", "address"})
NOT_FOUND = "没有找到这份申请。"


def _iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).isoformat()


def _fields(form: FormSpec, items: list[str], values: dict, prefilled: list[str]) -> list[dict]:
    out = []
    for spec in form.fields_for(items):
        value = values.get(spec.id)
        shown = None if value is None else show_value(spec, value)
        out.append({"id": spec.id, "label": spec.label, "type": spec.type, "required": not spec.optional,
                    "filled": value is not None, "prefilled": spec.id in prefilled,
                    "value": shown if spec.personal else value, "display": shown})
    return out


def draft_json(direct: DirectApplications, d: DraftView, filled: Filled | None = None) -> dict:
    bundle = direct.apps.kb.bundle(d.bundle_id)
    form = direct.apps.form(d.bundle_id)
    out = {
        "id": d.id, "bundle_id": d.bundle_id, "bundle_name": bundle.name, "stage": d.stage,
        "consent": d.consent,
        "items": [{"key": k, "name": bundle.item(k).name} for k in d.items],
        "fields": _fields(form, d.items, d.values, d.prefilled),
        "missing": [f.id for f in form.fields_for(d.items) if f.id not in d.values] if d.items else [],
        "materials": [material(m) for m in direct.apps.kb.materials(d.bundle_id, d.items or None)],
        "updated_at": _iso(d.updated_at),
    }
    if filled is not None:
        out["prefilled_now"] = filled.prefilled
        if filled.prefill is not None:
            out["prefill"] = filled.prefill
        if filled.choice is not None:
            out["added"] = [{"item": n, "why": w} for n, w in filled.choice.added]
            out["prerequisites"] = [{"item": n, "needs": w} for n, w in filled.choice.prerequisites]
    return out


def application_json(direct: DirectApplications, a: ApplicationView, detail: bool = False) -> dict:
    try:
        bundle_name = direct.apps.kb.bundle(a.bundle_id).name
    except UnknownBundle:
        bundle_name = a.bundle_id
    out = {
        "number": a.number, "bundle_id": a.bundle_id, "bundle_name": bundle_name,
        "status": a.status, "status_name": lifecycle.APPLICATION_STATUS_NAMES.get(a.status, a.status),
        "submitted_at": _iso(a.submitted_at),
        "items": [{"key": s.item_key, "name": s.item_name, "department": s.department_id,
                   "state": s.state, "state_name": lifecycle.STATE_NAMES.get(s.state, s.state),
                   "note": s.note} for s in a.subs],
    }
    if detail:
        form = direct.apps.form(a.bundle_id)
        out["fields"] = [{"id": f["id"], "label": f["label"], "display": f["display"]}
                         for f in _fields(form, [s.item_key for s in a.subs], a.values, [])
                         if f["filled"]]
        out["history"] = [{"at": _iso(e.at), "item": e.item, "from_state": e.from_state,
                           "to_state": e.to_state,
                           "state_name": lifecycle.STATE_NAMES.get(e.to_state, e.to_state),
                           "actor": e.actor, "detail": e.detail} for e in a.history]
    return out


def _body_fields(body: dict) -> tuple:
    draft_id, bundle_id = body.get("draft_id"), body.get("bundle_id")
    items, values = body.get("items"), body.get("values") or {}
    prefill, submit = body.get("prefill"), body.get("submit", True)
    if draft_id is not None and (isinstance(draft_id, bool) or not isinstance(draft_id, int)):
        raise ApiError(400, "bad_request", "draft_id 必须是整数。")
    if draft_id is None and not isinstance(bundle_id, str):
        raise ApiError(400, "bad_request", "请提供 bundle_id（要办的事），或继续填写的 draft_id。")
    if items is not None and (not isinstance(items, list) or not all(isinstance(k, str) for k in items)):
        raise ApiError(400, "bad_request", "items 必须是事项编号（字符串）的列表。")
    if not isinstance(values, dict):
        raise ApiError(400, "bad_request", "values 必须是 {字段: 内容} 对象。")
    if prefill is not None and not isinstance(prefill, bool):
        raise ApiError(400, "bad_request", "prefill 必须是 true 或 false。")
    if not isinstance(submit, bool):
        raise ApiError(400, "bad_request", "submit 必须是 true 或 false。")
    return draft_id, bundle_id, items, values, prefill, submit


async def create(request: web.Request) -> web.Response:
    """Open/continue a draft, fill it, and (unless submit=false) submit it."""
    body = await read_json(request)
    draft_id, bundle_id, items, values, prefill, submit = _body_fields(body)
    direct, sender = request.app[DIRECT], session(request).sender

    def form_for() -> FormSpec:
        if draft_id is not None:
            done = direct.apps.application_for_draft(draft_id)
            if done is not None and done.sender == sender:
                return direct.apps.form(done.bundle_id)
            return direct.apps.form(direct.draft(sender, draft_id).bundle_id)
        return direct.apps.form(bundle_id)

    async with sender_lock(request):
        try:
            form = await asyncio.to_thread(form_for)
        except (NotFound, UnknownBundle):
            raise ApiError(404, "not_found", "没有这份申请表。") from None
        known = {f.id: f for f in form.fields}
        await ensure_safe(request, *(str(v) for k, v in values.items()
                                     if k in known and known[k].type in FREE_TEXT and isinstance(v, str)))
        status, data = await asyncio.to_thread(_create, direct, sender, draft_id, bundle_id, items,
                                               values, prefill, submit)
    return reply(data, status)


def _create(direct: DirectApplications, sender: str, draft_id, bundle_id, items, values, prefill,
            submit) -> tuple[int, dict]:
    if draft_id is not None:
        done = direct.apps.application_for_draft(draft_id)
        if done is not None:
            if done.sender != sender:
                raise ApiError(404, "not_found", NOT_FOUND)
            return 201, application_json(direct, done)  # a retried submit: the same application
        try:
            draft = direct.draft(sender, draft_id)
        except NotFound:
            raise ApiError(404, "not_found", "没有这份草稿，可能已取消。") from None
    else:
        if submit:
            again = direct.replayed(sender, bundle_id, items, values)
            if again is not None:
                return 201, application_json(direct, again)
        try:
            draft = direct.open(sender, bundle_id)
        except OtherDraftOpen as exc:
            raise ApiError(409, "other_draft_open", str(exc),
                           draft=draft_json(direct, exc.draft)) from None
    try:
        filled = direct.fill(draft, values, consent=prefill, items=items)
    except UnknownItems as exc:
        raise ApiError(422, "unknown_items", str(exc), errors=[
            {"field": "items", "label": "办理事项", "message": str(exc)}]) from None
    shown = draft_json(direct, filled.draft, filled)
    if filled.errors:
        errors = [{"field": e.field, "label": e.label, "message": e.message} for e in filled.errors]
        raise ApiError(422, "invalid_fields", f"有{len(errors)}项需要修改。", errors=errors, draft=shown)
    if not submit:
        return 200, {"draft": shown}
    missing = filled.missing
    if missing:
        raise ApiError(422, "incomplete", "还没填完：" + "、".join(f.label for f in missing), errors=[
            {"field": f.id, "label": f.label, "message": f"请填写{f.label}。"} for f in missing],
            draft=shown)
    try:
        app = direct.submit(filled.draft.id)
    except ApplicationError as exc:
        raise ApiError(409, "not_submitted", str(exc)) from None
    return 201, {**application_json(direct, app), "draft_id": filled.draft.id}


async def current_draft(request: web.Request) -> web.Response:
    direct, sender = request.app[DIRECT], session(request).sender

    def load() -> dict:
        d = direct.apps.open_draft(sender)
        if d is None:
            raise ApiError(404, "not_found", "没有未完成的申请。")
        return {"draft": draft_json(direct, d)}

    return reply(await asyncio.to_thread(load))


async def cancel_draft(request: web.Request) -> web.Response:
    direct, sender = request.app[DIRECT], session(request).sender

    def cancel() -> None:
        d = direct.apps.open_draft(sender)
        if d is None:
            raise ApiError(404, "not_found", "没有未完成的申请。")
        direct.apps.cancel(d.id)

    async with sender_lock(request):
        await asyncio.to_thread(cancel)
    return reply({"cancelled": True, "message": "已取消这份申请，填写的信息已删除。"})


async def list_mine(request: web.Request) -> web.Response:
    direct, sender = request.app[DIRECT], session(request).sender
    rows = await asyncio.to_thread(direct.apps.applications, sender)
    return reply({"applications": [application_json(direct, a) for a in rows]})


async def detail(request: web.Request) -> web.Response:
    direct, sender = request.app[DIRECT], session(request).sender
    number = request.match_info["number"]
    if len(number) > 32:
        raise ApiError(404, "not_found", NOT_FOUND)

    def load() -> dict:
        try:
            return application_json(direct, direct.apps.application(number, sender), detail=True)
        except NotFound:
            raise ApiError(404, "not_found", NOT_FOUND) from None

    return reply(await asyncio.to_thread(load))


def install(app: web.Application, apps: Applications) -> None:
    app[DIRECT] = DirectApplications(apps)


def routes() -> list[web.RouteDef]:
    return [web.post(f"{PREFIX}/applications", create),
            web.get(f"{PREFIX}/applications", list_mine),
            web.get(f"{PREFIX}/applications/{{number}}", detail),
            web.get(f"{PREFIX}/drafts/current", current_draft),
            web.delete(f"{PREFIX}/drafts/current", cancel_draft)]
