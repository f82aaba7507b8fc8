"""/api/agent (role agent): the hotline agents' console API.

Mounted behind the staff boundary (no session → 401, no agent role → 403, CSRF and
same-site on every state change). Every take-over, agent message, release,
transfer, note, work order and application look-up is audited
(bot.staff.audit, action names agent.* and application.lookup). HANDOFF_API.md /
README "Hotline agents' console" list the routes and their JSON.

Take-over = claim in our table (one agent wins; 409 for the others) + Rasa's own
ConversationPaused appended through Rasa's HTTP API; release = ConversationResumed
and the citizen is told. The live feed is stream.py (SSE); delivery on the
citizen's channel is delivery.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from datetime import datetime

from aiohttp import web

from backend.agent import delivery
from backend.agent.rasa import RasaConversations, RasaUnavailable
from backend.agent.stream import HUB, Hub, stream
from backend.common import APPS, BadBody, client_ip, read_json_object
from backend.staff.auth import boundary, deny, services, staff
from bot import messages, senders
from bot.applications.service import NotFound
from bot.handoff.service import AGENT, Handoff, HandoffError
from bot.kb.service import UnknownBundle
from bot.privacy.masking import mask_text
from bot.staff.accounts import AGENT as AGENT_ROLE

log = logging.getLogger("backend.agent")

PREFIX = "/api/agent"
MAX_BODY = 16 * 1024
HANDOFF = web.AppKey("agent_handoff", Handoff)
RASA = web.AppKey("agent_rasa", RasaConversations)
SWEEP_EVERY = 10.0
NUMBER_RE = re.compile(r"^YJS-\d{8}-\d{6}$")
LIST_STATES = ("waiting", "mine", "active", "agent", "bot")
WECHAT_MAX_BYTES = 2048

ERRORS = {  # code → (status, message)
    "not_found": (404, "没有找到这个会话。"),
    "conflict": (409, "该会话已由坐席 {held_by} 接管。"),
    "not_holder": (409, "该会话不在您名下，请先接管。"),
    "bad_state": (409, "该会话当前状态不能执行此操作。"),
    "bad_request": (400, "请求参数不正确：{detail}"),
    "rasa_unavailable": (503, "智能助手暂时连不上，请稍后重试。"),
    "delivery_failed": (502, "消息未能送达：{detail}"),
    "too_long": (422, "消息太长了，请分成几条发送。"),
    "unknown_agent": (404, "没有这个坐席账号。"),
}


def fail(code: str, **values) -> web.Response:
    status, template = ERRORS[code]
    values.setdefault("detail", "")
    body = {"error": code, "message": template.format(**values)}
    body.update({k: v for k, v in values.items() if k != "detail" or v})
    return web.json_response(body, status=status, dumps=_dumps)


def _dumps(data) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


def ok(data, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def handoff_error(exc: HandoffError) -> web.Response:
    return fail(exc.code, detail=str(exc) if exc.code == "bad_request" else "", **exc.extra)


async def _body(request: web.Request) -> dict:
    return await read_json_object(request, MAX_BODY)


def _actor(request: web.Request):
    return staff(request).actor(client_ip(request))


def svc(request: web.Request) -> Handoff:
    return request.app[HANDOFF]


# -- reading ------------------------------------------------------------------------


async def list_conversations(request: web.Request) -> web.Response:
    state = request.query.get("state", "active")
    if state not in LIST_STATES:
        return fail("bad_request", detail=f"state: {'|'.join(LIST_STATES)}")
    rows = await asyncio.to_thread(svc(request).conversations, state, staff(request).account_id)
    names = {b.id: b.name for b in request.config_dict[APPS].kb.bundles()}
    return ok({"conversations": [{**c.summary(), "bundle_name": names.get(c.summary()["bundle"])}
                                 for c in rows]})


def _context(request: web.Request, conv) -> dict:
    """Bundle, chosen items, the open draft and the applications with their status,
    read through the same application service the actions use."""
    from backend.miniprogram.applications import application_json, draft_json
    from bot.applications.direct import DirectApplications

    apps = request.config_dict[APPS]
    direct = DirectApplications(apps)
    ctx = dict(conv.context or {})
    out: dict = {"bundle": ctx.get("bundle"), "item": ctx.get("item"),
                 "city": ctx.get("city"), "district": ctx.get("district"),
                 "reason": conv.reason, "bundle_name": None, "items": [], "draft": None,
                 "applications": []}
    if ctx.get("bundle"):
        with contextlib.suppress(Exception):
            out["bundle_name"] = apps.kb.bundle(ctx["bundle"]).name
    draft = apps.open_draft(conv.sender)
    if draft is not None:
        out["draft"] = draft_json(direct, draft)
        out["items"] = out["draft"]["items"]
        out["bundle"] = out["bundle"] or draft.bundle_id
    for a in apps.applications(conv.sender)[:10]:
        out["applications"].append(application_json(direct, a))
    return _mask(out)


def _mask(value):
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _detail(request: web.Request, conversation_id: str) -> dict:
    h = svc(request)
    conv = h.get(conversation_id)
    out = conv.summary()
    out["messages"] = [m.as_json() for m in h.messages(conversation_id)]
    out["context"] = _context(request, conv)
    out["notes"] = h.notes(conversation_id)
    out["work_orders"] = h.work_orders(conversation_id)
    out["wechat"] = delivery.window(h, conv.sender)
    out["mine"] = conv.state == AGENT and conv.agent_id == staff(request).account_id
    return out


async def conversation(request: web.Request) -> web.Response:
    return ok(await asyncio.to_thread(_detail, request, request.match_info["id"]))


async def conversation_messages(request: web.Request) -> web.Response:
    try:
        after = int(request.query.get("after", "0"))
    except ValueError:
        return fail("bad_request", detail="after")
    h = svc(request)
    await asyncio.to_thread(h.get, request.match_info["id"])
    rows = await asyncio.to_thread(h.messages, request.match_info["id"], after)
    return ok({"messages": [m.as_json() for m in rows]})


# -- take over, write, release, transfer --------------------------------------------------


async def takeover(request: web.Request) -> web.Response:
    h, rasa, actor = svc(request), request.app[RASA], _actor(request)
    cid = request.match_info["id"]
    conv, previous = await asyncio.to_thread(h.claim, cid, actor)
    if not conv.paused:
        try:
            await asyncio.to_thread(h.set_paused, cid, True)
            await rasa.pause(conv.sender)
        except RasaUnavailable:
            await asyncio.to_thread(h.set_paused, cid, False)
            await asyncio.to_thread(h.undo_claim, cid, previous)
            return fail("rasa_unavailable")
    recent = await rasa.recent(conv.sender)
    await asyncio.to_thread(h.sync, cid, recent)
    return ok(await asyncio.to_thread(_detail, request, cid))


async def send_message(request: web.Request) -> web.Response:
    body = await _body(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        return fail("bad_request", detail='{"text"}')
    h, actor, cid = svc(request), _actor(request), request.match_info["id"]
    conv = await asyncio.to_thread(h.get, cid)
    if conv.channel == senders.WECHAT and len(text.strip().encode()) > WECHAT_MAX_BYTES:
        return fail("too_long")
    message, conv = await asyncio.to_thread(
        h.add_agent_message, cid, actor, text, delivery.initial_status(conv))
    status, error = await delivery.deliver(request.app, h, conv, message)
    out = {**message.as_json(), "status": status, "error": error}
    out["wechat"] = await asyncio.to_thread(delivery.window, h, conv.sender)
    if status == "failed":
        return ok({"error": "delivery_failed", "message": ERRORS["delivery_failed"][1].format(
            detail=error), "sent": out}, status=502)
    return ok(out, status=201)


async def release(request: web.Request) -> web.Response:
    h, rasa, actor, cid = svc(request), request.app[RASA], _actor(request), request.match_info["id"]
    conv = await asyncio.to_thread(h.release, cid, actor)
    try:
        await rasa.resume(conv.sender)
        await asyncio.to_thread(h.set_paused, cid, False)
    except RasaUnavailable:
        return fail("rasa_unavailable")  # released here; the tracker stays paused until retried
    told = await _tell(request.app, h, cid, messages.text("handoff", "released"))
    out = await asyncio.to_thread(_detail, request, cid)
    out["citizen_told"] = told
    return ok(out)


async def _tell(app: web.Application, h: Handoff, cid: str, text: str) -> str:
    """A message in the bot's voice on the citizen's channel; its delivery status."""
    conv = await asyncio.to_thread(h.get, cid)
    m = await asyncio.to_thread(h.system_message, cid, text, delivery.initial_status(conv))
    status, _ = await delivery.deliver(app, h, conv, m)
    return status


async def transfer(request: web.Request) -> web.Response:
    body = await _body(request)
    to = body.get("to")
    if not isinstance(to, str) or not to.strip():
        return fail("bad_request", detail='{"to": "<username>"}')
    accounts = services(request).accounts
    target = await asyncio.to_thread(accounts.get, to.strip().lower())
    if target is None or target.disabled or not target.has(AGENT_ROLE):
        return fail("unknown_agent")
    await asyncio.to_thread(svc(request).transfer, request.match_info["id"], _actor(request),
                            target.id, target.username)
    return ok(await asyncio.to_thread(_detail, request, request.match_info["id"]))


async def heartbeat(request: web.Request) -> web.Response:
    n = await asyncio.to_thread(svc(request).heartbeat, staff(request).account_id)
    return ok({"held": n})


async def agents(request: web.Request) -> web.Response:
    """Agents one may transfer to."""
    rows = await asyncio.to_thread(services(request).accounts.list)
    return ok({"agents": [{"username": a.username, "display_name": a.display_name}
                          for a in rows if a.has(AGENT_ROLE) and not a.disabled]})


# -- notes, work orders, call-backs ---------------------------------------------------------


async def add_note(request: web.Request) -> web.Response:
    body = await _body(request)
    text = body.get("text")
    if not isinstance(text, str):
        return fail("bad_request", detail='{"text"}')
    note = await asyncio.to_thread(svc(request).add_note, request.match_info["id"],
                                   _actor(request), text)
    return ok(note, status=201)


def _departments(kb) -> dict[str, str]:
    out = {}
    for b in kb.bundles():
        for it in b.items:
            out[it.department.id] = it.department.name
    return out


async def work_order_options(request: web.Request) -> web.Response:
    departments = _departments(request.config_dict[APPS].kb)
    cfg = svc(request).config
    return ok({"categories": [{"id": k, "name": v} for k, v in cfg.categories.items()],
               "departments": [{"id": k, "name": v} for k, v in sorted(departments.items())],
               "default_days": cfg.work_order_days})


async def create_work_order(request: web.Request) -> web.Response:
    body = await _body(request)
    category, department, summary = body.get("category"), body.get("department"), body.get("summary")
    if not all(isinstance(v, str) for v in (category, department, summary)):
        return fail("bad_request", detail='{"category", "department", "summary", "deadline"?}')
    deadline = None
    if body.get("deadline") is not None:
        try:
            deadline = datetime.fromisoformat(str(body["deadline"]))
        except ValueError:
            return fail("bad_request", detail="deadline: ISO 8601")
    if department not in _departments(request.config_dict[APPS].kb):
        return fail("bad_request", detail="department")
    order = await asyncio.to_thread(svc(request).create_work_order, request.match_info["id"],
                                    _actor(request), category, department, summary, deadline)
    return ok(order, status=201)


async def callbacks(request: web.Request) -> web.Response:
    state = request.query.get("state", "open")
    if state not in ("open", "done"):
        return fail("bad_request", detail="state: open|done")
    return ok({"callbacks": await asyncio.to_thread(svc(request).callbacks, state)})


# -- knowledge for the composer ---------------------------------------------------------------


async def canned_replies(request: web.Request) -> web.Response:
    """Replies built from the knowledge base for a bundle (?bundle=id, or the
    conversation's: ?conversation=id; ?items=a,b for the chosen items) — materials,
    departments, time limits, where online — plus the general ones (backend/agent/
    replies.py, wording in data/messages/agent_replies.yml)."""
    from backend.agent.replies import canned, general_replies

    apps = request.config_dict[APPS]
    bundle_id = request.query.get("bundle")
    items = [k for k in request.query.get("items", "").split(",") if k.strip()]
    if request.query.get("conversation"):
        conv = await asyncio.to_thread(svc(request).get, request.query["conversation"])
        bundle_id = bundle_id or (conv.context or {}).get("bundle")
    general = general_replies()
    if not bundle_id:
        return ok({"bundle": None, "replies": [], "general": general})
    try:
        replies = await asyncio.to_thread(canned, apps.kb, bundle_id, items)
    except UnknownBundle:
        return fail("not_found")
    return ok({"bundle": bundle_id, "replies": replies, "general": general})


async def lookup_application(request: web.Request) -> web.Response:
    """An application by number, with items and history (audited, found or not)."""
    from backend.miniprogram.applications import application_json
    from bot.applications.direct import DirectApplications

    number = request.match_info["number"].strip().upper()
    actor = _actor(request)
    audit = services(request).audit
    conversation = request.query.get("conversation")
    if not NUMBER_RE.match(number):
        return fail("bad_request", detail="number: YJS-YYYYMMDD-NNNNNN")
    apps = request.config_dict[APPS]
    try:
        app_view = await asyncio.to_thread(apps.application, number)
    except NotFound:
        await asyncio.to_thread(audit.record, "application.lookup", actor=actor, outcome="failed",
                                application=number, conversation=conversation)
        return fail("not_found")
    await asyncio.to_thread(audit.record, "application.lookup", actor=actor, application=number,
                            conversation=conversation)
    return ok(_mask(application_json(DirectApplications(apps), app_view, detail=True)))


# -- the app --------------------------------------------------------------------------------


def routes() -> list[web.RouteDef]:
    c = "/conversations/{id}"
    return [
        web.get("/conversations", list_conversations),
        web.get(c, conversation),
        web.get(c + "/messages", conversation_messages),
        web.post(c + "/takeover", takeover),
        web.post(c + "/messages", send_message),
        web.post(c + "/release", release),
        web.post(c + "/transfer", transfer),
        web.post(c + "/notes", add_note),
        web.post(c + "/work-orders", create_work_order),
        web.get("/work-orders/options", work_order_options),
        web.get("/callbacks", callbacks),
        web.get("/canned-replies", canned_replies),
        web.get("/applications/{number}", lookup_application),
        web.get("/agents", agents),
        web.post("/heartbeat", heartbeat),
        web.get("/stream", stream),
    ]


async def _sweeper(app: web.Application):
    """Conversations whose agent's console went away go back to the queue."""
    async def loop():
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                for conv in await asyncio.to_thread(app[HANDOFF].expire_stale):
                    with contextlib.suppress(Exception):
                        await _tell(app, app[HANDOFF], conv.id,
                                    messages.text("handoff", "returned_to_queue"))
            except Exception:  # noqa: BLE001 - next round
                log.exception("handoff sweep failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await app[HUB].close()
    await app[RASA].close()
    await delivery.close(app)


@web.middleware
async def _errors(request: web.Request, handler) -> web.StreamResponse:
    """One place that turns the service's refusals and bad bodies into the API's
    JSON errors, so handlers read as the happy path."""
    try:
        return await handler(request)
    except HandoffError as exc:
        return handoff_error(exc)
    except BadBody as exc:
        return deny(exc.status, exc.code)


def create_app(handoff: Handoff | None = None, rasa_url: str | None = None) -> web.Application:
    app = web.Application(middlewares=[boundary(AGENT_ROLE), _errors])
    app[HANDOFF] = handoff or Handoff()
    app[RASA] = RasaConversations(rasa_url)
    app[HUB] = Hub(app[HANDOFF])
    app[delivery.CLIENT] = {}
    app.add_routes(routes())
    app.cleanup_ctx.append(_sweeper)
    app.on_shutdown.append(_end_streams)
    return app


async def _end_streams(app: web.Application) -> None:
    app[HUB].end_streams()
