"""/api/staff: log in, log out, who am I, change my password.

POST /api/staff/login {"username", "password"} → 200 {"csrf", "roles", "username",
"display_name", "expires_at", "consoles"} and the session cookie (HttpOnly,
SameSite=Strict, Secure over HTTPS); wrong credentials → 401, the same answer for
an unknown user and a wrong password; too many failures → 429 with Retry-After.
Everything else here needs a session (any role).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from backend.common import BadBody, client_ip, read_json_object
from backend.staff.auth import (
    boundary,
    clear_session_cookie,
    deny,
    services,
    session_token,
    set_session_cookie,
    staff,
)
from backend.text import message
from bot.staff import audit
from bot.staff.accounts import ADMIN, AGENT, EDITOR, PUBLISHER, AccountError
from bot.staff.audit import Actor
from bot.staff.passwords import MAX_CHARS, min_chars
from bot.staff.sessions import Principal

PREFIX = "/api/staff"
MAX_BODY = 4 * 1024
MAX_USERNAME = 64
# At most this many password checks (argon2id: 64 MiB, ~0.1–0.3 s of a core each) run at
# once per process; a flood of logins queues instead of exhausting memory and CPU.
KDF_SLOTS = web.AppKey("staff_kdf_slots", asyncio.Semaphore)
MAX_PARALLEL_KDF = 2
# console → roles that open it (any one)
CONSOLES = {"agent": (AGENT,), "editor": (EDITOR, PUBLISHER), "admin": (ADMIN,)}


def consoles(roles: tuple[str, ...]) -> list[str]:
    return [name for name, needed in CONSOLES.items() if any(r in roles for r in needed)]


def whoami(p: Principal) -> dict:
    return {"username": p.username, "display_name": p.display_name, "roles": list(p.roles),
            "csrf": p.csrf, "expires_at": p.expires_at.isoformat(),
            "idle_expires_at": p.idle_expires_at.isoformat(), "consoles": consoles(p.roles)}


def bad_body(exc: BadBody) -> web.Response:
    return deny(exc.status, exc.code)


def account_error(exc: AccountError) -> web.Response:
    status = {"exists": 409, "not_found": 404, "last_admin": 409}.get(exc.code, 422)
    return deny(status, exc.code, min=min_chars())


async def login(request: web.Request) -> web.Response:
    try:
        body = await read_json_object(request, MAX_BODY)
    except BadBody as exc:
        return bad_body(exc)
    username, password = body.get("username"), body.get("password")
    if (not isinstance(username, str) or not isinstance(password, str) or not username.strip()
            or len(username) > MAX_USERNAME or len(password) > MAX_CHARS):
        return deny(400, "bad_request", detail='{"username", "password"}')
    svc, ip = services(request), client_ip(request)
    wait = await asyncio.to_thread(svc.throttle.wait, username, ip)
    if wait:
        response = deny(429, "throttled", seconds=wait)
        response.headers["Retry-After"] = str(wait)
        return response
    async with request.app[KDF_SLOTS]:
        account = await asyncio.to_thread(svc.accounts.authenticate, username, password)
    if account is None:
        await asyncio.to_thread(_failed, svc, username, ip)
        return deny(401, "bad_credentials")
    await asyncio.to_thread(svc.throttle.succeeded, username)
    token, principal = await asyncio.to_thread(
        svc.sessions.create, account.id, ip=ip, user_agent=request.headers.get("User-Agent"),
        replaces=session_token(request))
    await asyncio.to_thread(svc.audit.record, audit.LOGIN, actor=principal.actor(ip))
    response = web.json_response(whoami(principal))
    set_session_cookie(response, request, token)
    return response


def _failed(svc, username: str, ip: str | None) -> None:
    locked = svc.throttle.failed(username, ip)
    name = username.strip().lower()[:64]
    svc.audit.record(audit.LOGIN, actor=Actor(name, ip=ip), outcome="failed",
                     detail={"reason": "bad_credentials"})
    if locked:
        svc.audit.record(audit.LOGIN_LOCKED, actor=Actor(name, ip=ip), outcome="denied",
                         detail={"seconds": locked})


async def logout(request: web.Request) -> web.Response:
    svc, p = services(request), staff(request)
    await asyncio.to_thread(svc.sessions.revoke, session_token(request))
    await asyncio.to_thread(svc.audit.record, audit.LOGOUT, actor=p.actor(client_ip(request)))
    response = web.json_response({"ok": True})
    clear_session_cookie(response)
    return response


async def me(request: web.Request) -> web.Response:
    return web.json_response(whoami(staff(request)))


async def change_password(request: web.Request) -> web.Response:
    """{"current", "new"}: every session of the account ends; this browser gets a new one."""
    try:
        body = await read_json_object(request, MAX_BODY)
    except BadBody as exc:
        return bad_body(exc)
    current, new = body.get("current"), body.get("new")
    if not isinstance(current, str) or not isinstance(new, str):
        return deny(400, "bad_request", detail='{"current", "new"}')
    svc, p, ip = services(request), staff(request), client_ip(request)
    wait = await asyncio.to_thread(svc.throttle.wait, p.username, ip)
    if wait:
        response = deny(429, "throttled", seconds=wait)
        response.headers["Retry-After"] = str(wait)
        return response
    async with request.app[KDF_SLOTS]:
        right = await asyncio.to_thread(svc.accounts.verify_password, p.account_id, current)
    if not right:
        await asyncio.to_thread(svc.throttle.failed, p.username, ip)
        return deny(403, "wrong_password")
    try:
        await asyncio.to_thread(svc.accounts.change_own_password, p.account_id, new,
                                actor=p.actor(ip))
    except AccountError as exc:
        return account_error(exc)
    token, principal = await asyncio.to_thread(
        svc.sessions.create, p.account_id, ip=ip, user_agent=request.headers.get("User-Agent"))
    response = web.json_response(whoami(principal))
    set_session_cookie(response, request, token)
    return response


def create_app() -> web.Application:
    app = web.Application(middlewares=[boundary(public={f"{PREFIX}/login"})])
    app[KDF_SLOTS] = asyncio.Semaphore(MAX_PARALLEL_KDF)  # binds to the loop on first use
    app.add_routes([web.post("/login", login), web.post("/logout", logout), web.get("/me", me),
                    web.post("/password", change_password)])
    return app


__all__ = ["PREFIX", "create_app", "consoles", "message"]
