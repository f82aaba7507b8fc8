"""/console: the staff consoles' pages — plain HTML, CSS and JavaScript files
served as they are (no build step), under a strict Content-Security-Policy
(scripts and styles only from these files; no inline script or style).

    /console/          log in (then on to the console the account's roles open)
    /console/agent/    hotline agents (role agent)
    /console/editor/   content editors (role editor or publisher)
    /console/admin/    accounts and audit log (role admin)

A console page is only sent to a session that holds its role: without a session
the browser is sent to the login page, with the wrong role it gets a 403 page.
The pages get their data from the same JSON APIs as any client (/api/staff,
/api/admin, /api/agent, /api/editor). Shared code: assets/console.js (layout,
login, CSRF); wording: the HTML files and text.yml.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from backend.common import Handler, dumps
from backend.staff import CONSOLES
from backend.staff.auth import principal_of
from backend.text import page_texts

PREFIX = "/console"
PAGES = Path(__file__).resolve().parent
ASSETS = PAGES / "assets"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")


@web.middleware
async def page_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers["Content-Security-Policy"] = CSP
        raise
    if not response.prepared:
        response.headers["Content-Security-Policy"] = CSP
        asset = request.path.startswith(f"{PREFIX}/assets/")
        response.headers["Cache-Control"] = "no-cache" if asset else "no-store"
    return response


def _html(name: str, status: int = 200) -> web.Response:
    return web.Response(body=(PAGES / name).read_bytes(), status=status,
                        content_type="text/html", charset="utf-8")


async def login_page(_request: web.Request) -> web.Response:
    return _html("login.html")


def _console(name: str, roles: tuple[str, ...]):
    async def page(request: web.Request) -> web.Response:
        principal = await principal_of(request)
        if principal is None:
            raise web.HTTPSeeOther(f"{PREFIX}/?next={quote(request.path, safe='/')}")
        if not any(principal.has(r) for r in roles):
            return _html("forbidden.html", status=403)
        return _html(f"{name}.html")

    page.__name__ = f"{name}_page"
    return page


async def text_json(_request: web.Request) -> web.Response:
    return web.json_response(page_texts(), dumps=dumps)


def _redirect(to: str):
    async def go(_request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(to)

    return go


def create_app() -> web.Application:
    app = web.Application(middlewares=[page_headers])
    app.router.add_get("/", login_page)
    app.router.add_get("/text.json", text_json)
    for name, roles in CONSOLES.items():
        app.router.add_get(f"/{name}/", _console(name, roles))
        app.router.add_get(f"/{name}", _redirect(f"{PREFIX}/{name}/"))
    app.router.add_static("/assets/", ASSETS, show_index=False, follow_symlinks=False)
    return app


def redirect_root() -> web.RouteDef:
    """/console (no slash) → /console/; lives on the root app."""
    return web.get(PREFIX, _redirect(f"{PREFIX}/"))
