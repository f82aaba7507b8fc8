"""/api/editor (role editor; publishing needs publisher): the content editors' console API.

Mounted with its auth boundary (no session → 401, no editor role → 403, CSRF on
every state change). The routes of the contract's "Content editor API" are added
here; a route that needs another role says so:

    @requires(PUBLISHER)
    async def publish(request): …
"""

from __future__ import annotations

from aiohttp import web

from backend.staff.auth import boundary
from bot.staff.accounts import EDITOR

PREFIX = "/api/editor"


def routes() -> list[web.RouteDef]:
    from backend.editor import inbox  # the inbox of real conversations (editui)

    return [*inbox.routes()]  # bundles, synonyms, NLU examples, trainings, models, publish


def create_app() -> web.Application:
    app = web.Application(middlewares=[boundary(EDITOR)])
    app.add_routes(routes())
    return app
