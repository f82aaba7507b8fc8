"""The mini-program backend (/api/mp/…), mounted on the aiohttp backend app.

    from wechat.miniprogram import setup
    setup(app)   # after bot.web.app.create_app() has put the application service in app
"""

from __future__ import annotations

import os
import weakref

from aiohttp import web

from wechat.config import WeChatSettings


def setup(app: web.Application, settings: WeChatSettings | None = None,
          rasa_url: str | None = None) -> web.Application:
    """Add the mini-program routes, their login check and their shared objects to `app`.

    Calling it again (e.g. a test re-pointing an app that create_app already set
    up) only replaces the settings and the Rasa URL.
    """
    from bot.applications.ratings import Ratings
    from bot.web.departments import APPS
    from wechat.miniprogram import applications, auth, bundles, chat, common, feedback, openapi
    from wechat.miniprogram.session import SessionTokens

    again = common.SETTINGS in app
    app[common.SETTINGS] = settings or WeChatSettings.from_env()
    app[common.RASA_URL] = (rasa_url or os.environ.get("YJS_RASA_URL")
                            or f"http://127.0.0.1:{int(os.environ.get('RASA_PORT') or 5005)}").rstrip("/")
    if again:
        return app
    app[common.TOKENS] = SessionTokens()
    app[auth.LOGIN_LIMIT] = auth.login_limiter()
    app[common.RATINGS] = Ratings(app[APPS].kb)
    app[common.CLIENT] = {}
    app[common.LOCKS] = weakref.WeakValueDictionary()
    applications.install(app)
    app.middlewares.append(common.authenticate)
    app.add_routes([*auth.routes(), *chat.routes(), *bundles.routes(), *applications.routes(),
                    *feedback.routes(), *openapi.routes()])
    app.on_cleanup.append(_close)
    return app


async def _close(app: web.Application) -> None:
    from wechat.miniprogram import chat, common

    await chat.close_http(app)
    client = app[common.CLIENT].pop("client", None)
    if client is not None:
        await client.close()
