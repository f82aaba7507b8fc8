"""What the backend's sub-applications share: the application service key, JSON
errors and bodies, the client's address behind a trusted proxy, and the security
headers every response carries."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from aiohttp import web

from bot.applications.service import Applications

# The application service, on the root app; sub-apps read it via request.config_dict.
APPS = web.AppKey("applications", Applications)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# JSON APIs never render: nothing may be loaded, framed or scripted from them.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": code, "message": message, **extra}, status=status,
                             dumps=dumps)


class BadBody(Exception):
    def __init__(self, status: int, code: str):
        super().__init__(code)
        self.status, self.code = status, code


async def read_json_object(request: web.Request, max_bytes: int) -> dict:
    """The body as a JSON object, reading at most `max_bytes` (BadBody 413/400/415)."""
    if request.content_type != "application/json":
        raise BadBody(415, "json_required")
    if (request.content_length or 0) > max_bytes:
        raise BadBody(413, "too_large")
    chunks, size = [], 0
    while chunk := await request.content.read(8192):
        size += len(chunk)
        if size > max_bytes:
            raise BadBody(413, "too_large")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadBody(400, "bad_json") from None
    if not isinstance(body, dict):
        raise BadBody(400, "bad_json")
    return body


@cache
def _trusted(spec: str) -> tuple:
    nets = []
    for part in spec.replace(";", ",").split(","):
        if part.strip():
            nets.append(ipaddress.ip_network(part.strip(), strict=False))
    return tuple(nets)


def trusted_proxies() -> tuple:
    """YJS_TRUSTED_PROXIES: addresses or networks of reverse proxies whose
    X-Forwarded-For / X-Forwarded-Proto are believed (none by default)."""
    return _trusted(os.environ.get("YJS_TRUSTED_PROXIES", ""))


def _is_trusted(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted_proxies())


def client_ip(request: web.Request) -> str | None:
    """The client's address: the peer, or — when the peer is a trusted proxy — the
    nearest untrusted hop of X-Forwarded-For."""
    peer = request.remote
    if not _is_trusted(peer):
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer


def is_https(request: web.Request) -> bool:
    if request.secure:
        return True
    if _is_trusted(request.remote):
        return request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip() == "https"
    return False


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Root middleware: every answer, errors included, says what a browser may do with it.
    A sub-app (the consoles) may set its own Content-Security-Policy first."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _headers(request, response)
        raise
    _headers(request, response)
    return response


def _headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:
        return
    h = response.headers
    h.setdefault("Content-Security-Policy", API_CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    if is_https(request):
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
