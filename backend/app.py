"""The backend: one aiohttp application of sub-applications, each with its own
middleware and auth boundary.

    /healthz                 root: 200 once the database and knowledge base answer
    /api/departments/v1/…    departments.py    department API key
    /api/mp/…                miniprogram/      mini-program bearer token
    /api/staff/…             staff/            login (open), logout, me: staff session
    /api/admin/…             staff/admin.py    staff session with role admin
    /api/agent/…             agent/            staff session with role agent
    /api/editor/…            editor/           staff session with role editor
    /console/…               console/          the consoles' pages (role checked per page)
    /api/models/live         model_server.py   Rasa's model-server protocol (bearer secret)

The root middleware sets the security headers of every response.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import text

from backend import agent, console, departments, editor, miniprogram, model_server, staff
from backend.common import APPS, security_headers
from backend.staff import admin
from backend.staff.auth import STAFF, StaffServices
from bot.applications.department_keys import DepartmentKeys
from bot.applications.service import Applications
from bot.config import port
from bot.db import get_engine
from bot.kb.service import KnowledgeService
from wechat.config import WeChatSettings

logger = logging.getLogger("backend")

# The largest body any sub-app accepts; each reads at most its own cap.
MAX_BODY = 256 * 1024


async def healthz(request: web.Request) -> web.Response:
    def check() -> None:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        request.app[APPS].kb.bundles()  # seeded knowledge base

    try:
        await asyncio.to_thread(check)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return web.json_response({"status": "unavailable", "reason": type(exc).__name__}, status=503)
    return web.json_response({"status": "ok"})


async def _warm_password_check(_app: web.Application) -> None:
    """Compute the dummy hash before the first login, so no login pays for it."""
    from bot.staff.passwords import verify

    await asyncio.to_thread(verify, None, "")


def create_app(apps: Applications | None = None, keys: DepartmentKeys | None = None, *,
               mp_settings: WeChatSettings | None = None, rasa_url: str | None = None,
               staff_services: StaffServices | None = None) -> web.Application:
    app = web.Application(middlewares=[security_headers], client_max_size=MAX_BODY)
    app[APPS] = apps or Applications(KnowledgeService())
    app[STAFF] = staff_services or StaffServices()
    app.add_routes([web.get("/healthz", healthz), console.redirect_root()])
    model_server.add_routes(app)  # /api/models/live: what the Rasa servers load
    app.add_subapp(departments.PREFIX, departments.create_app(keys))
    app.add_subapp(miniprogram.PREFIX, miniprogram.create_app(app[APPS], mp_settings, rasa_url))
    app.add_subapp(staff.PREFIX, staff.create_app())
    app.add_subapp(admin.PREFIX, admin.create_app())
    app.add_subapp(agent.PREFIX, agent.create_app())
    app.add_subapp(editor.PREFIX, editor.create_app())
    app.add_subapp(console.PREFIX, console.create_app())
    app.on_startup.append(_warm_password_check)
    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    from wechat.delivery import cleanup_ctx

    app = create_app()
    app.cleanup_ctx.append(cleanup_ctx)  # outbox delivery runs while the backend runs
    web.run_app(app, host="0.0.0.0", port=port("CONSOLE_PORT", 8000))


if __name__ == "__main__":
    main()
