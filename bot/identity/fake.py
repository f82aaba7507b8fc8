"""A loopback fake identity provider (the protocol of bot.identity.provider), for the
tests and `make run WECHAT=fake` / `IDENTITY=fake`. Not for production: anyone who
opens the page can claim to be any person in its register.

Its register of people is data/demo/citizens.yml (身份证号 + name). The page a
citizen opens, GET /verify/<biz_token>, stands in for the provider's face check:
a form asking for name and 身份证号; POST /verify/<biz_token> passes when they are
a registered person, and fails otherwise. Tests can do the same with
`complete(biz_token, id_number, name)` or POST /__fake__/complete.

    python -m bot.identity.fake --port 9200 --app APPID:SECRET
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path

import yaml
from aiohttp import web

from bot.identity.provider import EXPIRED, FAILED, PASSED, PENDING, signed_headers, verify_signed

FAKE_PORT = 9200
PAGE = """<!doctype html><html lang="zh"><meta charset="utf-8">
<title>实名核验（测试）</title><body style="font-family:sans-serif;max-width:28em;margin:2em auto">
<h3>实名核验（本地测试服务）</h3><p>{note}</p>
<form method="post"><p>姓名 <input name="name"></p><p>身份证号 <input name="id_number"></p>
<p><button>核验</button></p></form></body></html>"""


def load_register(path: Path | None = None) -> dict[str, str]:
    from bot.config import DATA_DIR

    path = path or DATA_DIR / "demo" / "citizens.yml"
    people = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("citizens") or []
    return {str(p["id_number"]).upper(): str(p["name"]) for p in people}


class FakeIdentityProvider:
    def __init__(self, apps: dict[str, str], register: dict[str, str] | None = None,
                 ttl: int = 600):
        self.apps = dict(apps)
        self.register = register if register is not None else load_register()
        self.ttl = ttl
        self.base_url = ""
        self._lock = threading.Lock()
        self._tickets: dict[str, dict] = {}
        self.calls: list[dict] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # -- state ---------------------------------------------------------------------
    def complete(self, ticket: str, id_number: str, name: str) -> str:
        """The citizen verifies on the provider's page: passed for a registered person."""
        with self._lock:
            entry = self._tickets.get(ticket)
            if entry is None:
                return "unknown"
            if entry["state"] != PENDING:
                return entry["state"]
            id_number = id_number.strip().upper()
            if self.register.get(id_number) == name.strip():
                entry.update(state=PASSED, id_number=id_number, name=name.strip())
            else:
                entry["state"] = FAILED
            return entry["state"]

    def tickets(self) -> list[str]:
        with self._lock:
            return list(self._tickets)

    def _state(self, ticket: str) -> dict:
        with self._lock:
            entry = self._tickets.get(ticket)
            if entry is None:
                return {"state": EXPIRED}
            if entry["state"] == PENDING and time.time() > entry["expires"]:
                entry["state"] = EXPIRED
            out = {"state": entry["state"]}
            if entry["state"] == PASSED:
                out.update(id_number=entry["id_number"], name=entry["name"])
            return out

    # -- HTTP ------------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024)
        app.add_routes([web.post("/v1/detect-auth", self._detect_auth),
                        web.post("/v1/detect-info", self._detect_info),
                        web.get("/verify/{ticket}", self._page),
                        web.post("/verify/{ticket}", self._submit),
                        web.post("/__fake__/complete", self._control_complete),
                        web.get("/__fake__/tickets", self._control_tickets)])
        return app

    def _signed(self, app_id: str, data: dict, status: int = 200) -> web.Response:
        body = json.dumps(data, ensure_ascii=False).encode()
        headers = signed_headers(app_id, self.apps[app_id], body)
        return web.Response(body=body, status=status, headers=headers)

    async def _authenticated(self, request: web.Request) -> tuple[str, dict] | web.Response:
        body = await request.read()
        app_id = request.headers.get("X-App-Id", "")
        secret = self.apps.get(app_id)
        if secret is None or not verify_signed(secret, request.headers, body):
            return web.json_response({"error": "unauthorized", "message": "bad signature"},
                                     status=401)
        try:
            data = json.loads(body)
        except ValueError:
            return web.json_response({"error": "bad_json"}, status=400)
        self.calls.append({"path": request.path, "app_id": app_id, "body": data})
        return app_id, data

    async def _detect_auth(self, request: web.Request) -> web.Response:
        auth = await self._authenticated(request)
        if isinstance(auth, web.Response):
            return auth
        app_id, _ = auth
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._tickets[ticket] = {"state": PENDING, "expires": time.time() + self.ttl}
        return self._signed(app_id, {"biz_token": ticket, "url": f"{self.base_url}/verify/{ticket}",
                                     "expires_in": self.ttl})

    async def _detect_info(self, request: web.Request) -> web.Response:
        auth = await self._authenticated(request)
        if isinstance(auth, web.Response):
            return auth
        app_id, data = auth
        return self._signed(app_id, self._state(str(data.get("biz_token") or "")))

    async def _page(self, request: web.Request) -> web.Response:
        state = self._state(request.match_info["ticket"])["state"]
        note = "请输入本人姓名和身份证号完成核验。" if state == PENDING else f"核验状态：{state}"
        return web.Response(text=PAGE.format(note=html.escape(note)), content_type="text/html")

    async def _submit(self, request: web.Request) -> web.Response:
        form = await request.post()
        state = self.complete(request.match_info["ticket"], str(form.get("id_number") or ""),
                              str(form.get("name") or ""))
        note = "核验通过，请回到对话回复“已核验”。" if state == PASSED else "核验未通过。"
        return web.Response(text=PAGE.format(note=note), content_type="text/html")

    async def _control_complete(self, request: web.Request) -> web.Response:
        data = await request.json()
        return web.json_response({"state": self.complete(str(data["biz_token"]),
                                                         str(data["id_number"]), str(data["name"]))})

    async def _control_tickets(self, _request: web.Request) -> web.Response:
        return web.json_response({"tickets": self.tickets()})

    async def _serve(self, host: str, port: int) -> str:
        self._runner = web.AppRunner(self._app(), access_log=None)  # URLs carry tickets
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()  # noqa: SLF001 - actual port
        self.base_url = f"http://{bound[0]}:{bound[1]}"
        return self.base_url

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread; returns the base URL."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._serve(host, port))
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-identity", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.base_url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def serve_forever(self, host: str, port: int) -> None:
        async def main() -> None:
            logging.getLogger("bot.identity.fake").info("fake identity provider on %s",
                                                        await self._serve(host, port))
            await asyncio.Event().wait()

        asyncio.run(main())


def fake_env(var_dir: Path, port: int | None = None) -> dict[str, str]:
    """IDENTITY_* variables for the local fake, credentials kept in var/identity-fake.env."""
    from bot.config import private_file

    path = var_dir / "identity-fake.env"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        values = {"IDENTITY_APP_ID": "fake-" + secrets.token_hex(4),
                  "IDENTITY_SECRET": secrets.token_hex(16)}
        private_file(path, "".join(f"{k}={v}\n" for k, v in values.items()).encode())
    values = dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)
    port = port or int(os.environ.get("IDENTITY_FAKE_PORT", FAKE_PORT))
    values["IDENTITY_API_BASE"] = f"http://127.0.0.1:{port}"
    values["IDENTITY_PROVIDER"] = "fake"
    return values


def fake_cmd(env: dict[str, str], python: str) -> list[str]:
    port = env["IDENTITY_API_BASE"].rsplit(":", 1)[1]
    return [python, "-m", "bot.identity.fake", "--port", port,
            "--app", f"{env['IDENTITY_APP_ID']}:{env['IDENTITY_SECRET']}"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.identity.fake", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=FAKE_PORT)
    parser.add_argument("--app", action="append", default=[], metavar="APPID:SECRET")
    args = parser.parse_args(argv)
    apps = dict(spec.split(":", 1) for spec in args.app if ":" in spec)
    if not apps:
        parser.error("give at least one --app APPID:SECRET")
    logging.basicConfig(level=logging.INFO)
    FakeIdentityProvider(apps).serve_forever(args.host, args.port)


if __name__ == "__main__":
    main()
