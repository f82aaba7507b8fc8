"""The mini-program backend (/api/mp/…), mounted as a sub-app of the backend with its
own login check (our signed bearer token) and its own shared objects.

    from backend.miniprogram import PREFIX, create_app
    root.add_subapp(PREFIX, create_app(applications))
"""

from __future__ import annotations

import os
import weakref

from aiohttp import web

from bot.applications.service import Applications
from wechat.config import WeChatSettings

PREFIX = "/api/mp"


def create_app(apps: Applications, settings: WeChatSettings | None = None,
               rasa_url: str | None = None) -> web.Application:
    """The sub-app with the mini-program routes, their login check and their shared objects.

    `apps` is the backend's application service; `settings` and `rasa_url` come from
    the environment unless given (tests point them at the fake WeChat and a test Rasa).
    """
    from backend.miniprogram import (
        agent_messages,
        applications,
        auth,
        bundles,
        chat,
        common,
        feedback,
        openapi,
    )
    from backend.miniprogram.session import SessionTokens
    from bot.applications.ratings import Ratings

    app = web.Application(middlewares=[common.authenticate])
    app[common.SETTINGS] = settings or WeChatSettings.from_env()
    app[common.RASA_URL] = (rasa_url or os.environ.get("YJS_RASA_URL")
                            or f"http://127.0.0.1:{int(os.environ.get('RASA_PORT') or 5005)}").rstrip("/")
    app[common.TOKENS] = SessionTokens()
    app[auth.LOGIN_LIMIT] = auth.login_limiter()
    app[common.RATINGS] = Ratings(apps.kb)
    app[common.CLIENT] = {}
    app[common.LOCKS] = weakref.WeakValueDictionary()
    applications.install(app, apps)
    # The route modules name full paths (/api/mp/login): relative to the sub-app's prefix here.
    app.add_routes([_relative(r) for r in (*auth.routes(), *chat.routes(), *bundles.routes(),
                                           *applications.routes(), *feedback.routes(),
                                           *agent_messages.routes(),
                                           *openapi.routes())])
    app.on_cleanup.append(_close)
    return app


def _relative(route: web.RouteDef) -> web.RouteDef:
    assert route.path.startswith(PREFIX + "/"), route.path
    return web.RouteDef(route.method, route.path[len(PREFIX):], route.handler, route.kwargs)


async def _close(app: web.Application) -> None:
    from backend.miniprogram import chat, common

    await chat.close_http(app)
    client = app[common.CLIENT].pop("client", None)
    if client is not None:
        await client.close()
