"""Build and run the backend aiohttp application."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import text

from backend import departments
from backend.miniprogram import setup as setup_miniprogram
from bot.applications.department_keys import DepartmentKeys
from bot.applications.service import Applications
from bot.config import port
from bot.db import get_engine
from bot.kb.service import KnowledgeService


async def healthz(request: web.Request) -> web.Response:
    def check() -> None:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        request.app[departments.APPS].kb.bundles()  # seeded knowledge base

    try:
        await asyncio.to_thread(check)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return web.json_response({"status": "unavailable", "reason": type(exc).__name__}, status=503)
    return web.json_response({"status": "ok"})


def create_app(apps: Applications | None = None, keys: DepartmentKeys | None = None) -> web.Application:
    app = web.Application(middlewares=[departments.authenticate],
                          client_max_size=departments.MAX_BODY)
    app[departments.APPS] = apps or Applications(KnowledgeService())
    app[departments.KEYS] = keys or DepartmentKeys()
    app.add_routes([web.get("/healthz", healthz), *departments.routes()])
    setup_miniprogram(app)  # /api/mp/…: the WeChat mini-program backend
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    from wechat.delivery import cleanup_ctx

    app = create_app()
    app.cleanup_ctx.append(cleanup_ctx)  # outbox delivery runs while the backend runs
    web.run_app(app, host="0.0.0.0", port=port("CONSOLE_PORT", 8000))


if __name__ == "__main__":
    main()
