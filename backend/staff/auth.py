"""The staff auth boundary every console sub-app (staff, admin, agent, editor) sits behind.

    app = web.Application(middlewares=[boundary(AGENT)])      # /api/agent/…

    @requires(PUBLISHER)                                      # this route: publisher
    async def publish(request): …

For every request under the sub-app's prefix — unknown paths too (aiohttp runs a
sub-app's middleware for a path under its prefix that matches no route):
  no live session → 401; a session without the role → 403; a state-changing
  method (anything but GET/HEAD/OPTIONS) without the session's X-CSRF-Token, or
  sent from another site (Origin / Sec-Fetch-Site) → 403.
The handler finds the principal in `request["staff"]` (`staff(request)`), and
`staff(request).actor(client_ip(request))` is who to name in the audit log.
Answers are never cached.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import web

from backend.common import Handler, error, is_https
from backend.text import message
from bot.staff.accounts import StaffAccounts
from bot.staff.audit import AuditLog
from bot.staff.sessions import Principal, StaffSessions
from bot.staff.throttle import LoginThrottle

COOKIE = "yjs_staff"
SECURE_COOKIE = "__Host-yjs_staff"  # over HTTPS: Secure, host-only, Path=/
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ROLES_ATTR = "staff_roles"


@dataclass
class StaffServices:
    """The staff services the web layer calls (one set per backend process)."""

    accounts: StaffAccounts = field(default_factory=StaffAccounts)
    sessions: StaffSessions = field(default_factory=StaffSessions)
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    audit: AuditLog = field(default_factory=AuditLog)


STAFF = web.AppKey("staff_services", StaffServices)  # on the root app


def services(request: web.Request) -> StaffServices:
    return request.config_dict[STAFF]


def staff(request: web.Request) -> Principal:
    return request["staff"]


def requires(*roles: str):
    """Declare the roles a route needs (any one of them), instead of its sub-app's."""
    def mark(handler):
        setattr(handler, ROLES_ATTR, tuple(roles))
        return handler
    return mark


def deny(status: int, code: str, **values) -> web.Response:
    response = error(status, code, message(code, **values))
    response.headers["Cache-Control"] = "no-store"
    return response


def session_token(request: web.Request) -> str | None:
    return request.cookies.get(SECURE_COOKIE) or request.cookies.get(COOKIE) or None


def cookie_secure(request: web.Request) -> bool:
    """STAFF_COOKIE_SECURE=1/0 forces it; otherwise Secure whenever served over HTTPS."""
    forced = os.environ.get("STAFF_COOKIE_SECURE", "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    return is_https(request)


def set_session_cookie(response: web.StreamResponse, request: web.Request, token: str) -> None:
    secure = cookie_secure(request)
    name = SECURE_COOKIE if secure else COOKIE
    response.set_cookie(name, token, path="/", httponly=True, samesite="Strict", secure=secure)
    clear_session_cookie(response, keep=name)


def clear_session_cookie(response: web.StreamResponse, keep: str | None = None) -> None:
    for name in (COOKIE, SECURE_COOKIE):
        if name != keep:
            response.set_cookie(name, "", path="/", max_age=0, httponly=True, samesite="Strict",
                                secure=name == SECURE_COOKIE)


def allowed_origins() -> set[str]:
    """YJS_CONSOLE_ORIGINS: extra origins the consoles are served from (behind a proxy
    that rewrites Host); the backend's own origin is always allowed."""
    return {o.strip().rstrip("/") for o in os.environ.get("YJS_CONSOLE_ORIGINS", "").split(",")
            if o.strip()}


def same_site(request: web.Request) -> bool:
    """False for a request a browser marks as sent from another site."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser's cross-origin request (browsers send Origin on POST)
    own = f"{'https' if is_https(request) else 'http'}://{request.host}"
    return origin.rstrip("/") in {own, *allowed_origins()}


async def principal_of(request: web.Request) -> Principal | None:
    token = session_token(request)
    if token is None:
        return None
    return await asyncio.to_thread(services(request).sessions.validate, token)


def boundary(*default_roles: str, public: Iterable[str] = ()) -> web.middleware:
    """The sub-app's middleware: a session with any of `default_roles` (no roles: any
    session), unless the route says otherwise with @requires; `public` paths
    (full paths, e.g. the login) need no session but are still same-site only
    when they change state."""
    open_paths = frozenset(public)

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        unsafe = request.method not in SAFE_METHODS
        if request.path in open_paths:
            if unsafe and not same_site(request):
                return deny(403, "cross_site")
            return _no_store(await handler(request))
        principal = await principal_of(request)
        if principal is None:
            return deny(401, "unauthorized")
        needed = getattr(request.match_info.handler, ROLES_ATTR, default_roles)
        if needed and not any(principal.has(r) for r in needed):
            return deny(403, "forbidden")
        if unsafe:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not hmac.compare_digest(sent.encode(), principal.csrf.encode()):
                return deny(403, "csrf")
            if not same_site(request):
                return deny(403, "cross_site")
        request["staff"] = principal
        return _no_store(await handler(request))

    return check


def _no_store(response: web.StreamResponse) -> web.StreamResponse:
    if not response.prepared:
        response.headers["Cache-Control"] = "no-store"
    return response

