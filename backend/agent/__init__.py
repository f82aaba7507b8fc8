"""/api/agent (role agent): the hotline agents' console API.

Mounted with its auth boundary (no session → 401, no agent role → 403, CSRF on
every state change); the routes of the contract's "Agent console API"
(conversations, takeover, messages, release) are added here by the handoff work.
Audit each step with bot.staff.audit.record("agent.takeover", actor=…,
conversation=…) and friends.
"""

from __future__ import annotations

from aiohttp import web

from backend.staff.auth import boundary
from bot.staff.accounts import AGENT

PREFIX = "/api/agent"


def routes() -> list[web.RouteDef]:
    return []  # the handoff adds GET /conversations, POST …/takeover, …/messages, …/release


def create_app() -> web.Application:
    app = web.Application(middlewares=[boundary(AGENT)])
    app.add_routes(routes())
    return app
