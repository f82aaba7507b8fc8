"""/api/admin (role admin): accounts and the audit log.

GET   /api/admin/accounts                → {"accounts": [...]}
POST  /api/admin/accounts                {"username", "password", "roles", "display_name"?} → 201
PATCH /api/admin/accounts/{username}     {"roles"?, "disabled"?, "password"?, "display_name"?}
GET   /api/admin/audit?actor=&action=&outcome=&conversation=&application=&target=
                      &since=&until=&before=&limit=   → {"entries": [...], "next": id|null}
GET   /api/admin/audit/actions           → {"actions": [...]} (what the log holds)
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from aiohttp import web

from backend.common import BadBody, client_ip, dumps, read_json_object
from backend.staff import account_error, bad_body
from backend.staff.auth import boundary, deny, services, staff
from bot.staff import audit
from bot.staff.accounts import ADMIN, AccountError

PREFIX = "/api/admin"
MAX_BODY = 8 * 1024
FILTERS = ("actor", "action", "outcome", "conversation", "application", "target")


async def list_accounts(request: web.Request) -> web.Response:
    accounts = await asyncio.to_thread(services(request).accounts.list)
    return web.json_response({"accounts": [a.as_json() for a in accounts]})


def _roles(body: dict, required: bool) -> list[str] | None:
    roles = body.get("roles")
    if roles is None and not required:
        return None
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ValueError("roles")
    return roles


def _optional(body: dict, key: str, kind: type):
    value = body.get(key)
    if value is not None and not isinstance(value, kind):
        raise ValueError(key)
    return value


async def create_account(request: web.Request) -> web.Response:
    try:
        body = await read_json_object(request, MAX_BODY)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ValueError("username, password")
        roles = _roles(body, required=True)
        display = _optional(body, "display_name", str)
    except BadBody as exc:
        return bad_body(exc)
    except ValueError as exc:
        return deny(400, "bad_request", detail=str(exc))
    actor = staff(request).actor(client_ip(request))
    try:
        account = await asyncio.to_thread(services(request).accounts.create, username, roles,
                                          password, actor=actor, display_name=display)
    except AccountError as exc:
        return account_error(exc)
    return web.json_response(account.as_json(), status=201)


async def update_account(request: web.Request) -> web.Response:
    try:
        body = await read_json_object(request, MAX_BODY)
        roles = _roles(body, required=False)
        disabled = _optional(body, "disabled", bool)
        password = _optional(body, "password", str)
        display = _optional(body, "display_name", str)
    except BadBody as exc:
        return bad_body(exc)
    except ValueError as exc:
        return deny(400, "bad_request", detail=str(exc))
    actor = staff(request).actor(client_ip(request))
    try:
        account = await asyncio.to_thread(
            services(request).accounts.update, request.match_info["username"], actor=actor,
            roles=roles, disabled=disabled, password=password, display_name=display)
    except AccountError as exc:
        return account_error(exc)
    return web.json_response(account.as_json())


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(name) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


async def read_audit(request: web.Request) -> web.Response:
    q = request.query
    try:
        filters = {k: q.get(k) or None for k in FILTERS}
        since, until = _when(q.get("since"), "since"), _when(q.get("until"), "until")
        before = int(q["before"]) if q.get("before") else None
        limit = int(q.get("limit") or 50)
    except ValueError as exc:
        return deny(400, "bad_request", detail=str(exc))
    svc, p = services(request), staff(request)

    def load():
        entries, cursor = svc.audit.query(**filters, since=since, until=until, before=before,
                                          limit=limit)
        # Reading the log is itself recorded (the first page of each search).
        if before is None:
            svc.audit.record(audit.AUDIT_READ, actor=p.actor(client_ip(request)),
                             detail={k: v for k, v in filters.items() if v})
        return entries, cursor

    entries, cursor = await asyncio.to_thread(load)
    return web.json_response({"entries": [e.as_json() for e in entries], "next": cursor},
                             dumps=dumps)


async def audit_actions(request: web.Request) -> web.Response:
    return web.json_response({"actions": await asyncio.to_thread(services(request).audit.actions)})


def create_app() -> web.Application:
    app = web.Application(middlewares=[boundary(ADMIN)])
    app.add_routes([web.get("/accounts", list_accounts), web.post("/accounts", create_account),
                    web.patch("/accounts/{username}", update_account),
                    web.get("/audit", read_audit), web.get("/audit/actions", audit_actions)])
    return app
