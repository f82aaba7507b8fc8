"""Department API: department systems update the items they handle.

Every request carries the department's API key (`Authorization: Bearer …`);
a department sees and changes only its own sub-applications.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from backend.common import APPS
from bot.applications.department_keys import DepartmentKeys
from bot.applications.lifecycle import TransitionError
from bot.applications.service import Forbidden, NotFound, SubView

PREFIX = "/api/departments/v1"
MAX_BODY = 16 * 1024
KEYS = web.AppKey("department_keys", DepartmentKeys)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _sub(number: str, s: SubView) -> dict:
    return {"id": s.id, "application": number, "item": s.item_key, "item_name": s.item_name,
            "department": s.department_id, "state": s.state, "note": s.note}


@web.middleware
async def authenticate(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    header = request.headers.get("Authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("X-Api-Key")
    department = await asyncio.to_thread(request.app[KEYS].authenticate, key)
    if department is None:
        return _error(401, "unauthorized", "missing or invalid API key")
    request["department"] = department
    return await handler(request)


async def list_subs(request: web.Request) -> web.Response:
    state = request.query.get("state")
    rows = await asyncio.to_thread(request.config_dict[APPS].department_queue, request["department"], state)
    return web.json_response({"items": [_sub(n, s) for n, s in rows]})


async def transition(request: web.Request) -> web.Response:
    try:
        sub_id = int(request.match_info["sub_id"])
    except ValueError:
        return _error(404, "not_found", "no such sub-application")
    if (request.content_length or 0) > MAX_BODY:
        return _error(413, "too_large", f"body over {MAX_BODY} bytes")
    try:
        body = json.loads(await request.read() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "bad_json", "body must be a JSON object")
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        return _error(400, "bad_request", 'body must be {"to": "<state>", "note": "…"}')
    note = body.get("note")
    if note is not None and not isinstance(note, str):
        return _error(400, "bad_request", "note must be a string")
    try:
        number, sub = await asyncio.to_thread(request.config_dict[APPS].transition, request["department"], sub_id,
                                      body["to"], note)
    except NotFound:
        return _error(404, "not_found", "no such sub-application")
    except Forbidden:
        return _error(403, "forbidden", "this sub-application belongs to another department")
    except TransitionError as exc:
        return _error(409, "invalid_transition", str(exc))
    return web.json_response(_sub(number, sub))


def routes() -> list[web.RouteDef]:
    return [web.get("/sub-applications", list_subs),
            web.post("/sub-applications/{sub_id}/transitions", transition)]


def create_app(keys: DepartmentKeys | None = None) -> web.Application:
    """The sub-app at PREFIX: every path under it needs a department's API key."""
    app = web.Application(middlewares=[authenticate])
    app[KEYS] = keys or DepartmentKeys()
    app.add_routes(routes())
    return app
