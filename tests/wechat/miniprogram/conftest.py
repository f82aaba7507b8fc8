"""The backend app with the mini-program routes, served over real HTTP, talking
to the loopback WeChat fake; every response is checked against openapi.yaml."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from dataclasses import dataclass

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer

from backend.app import create_app
from backend.miniprogram.openapi import spec
from bot.applications.service import Applications
from bot.run import action_server_cmd, action_server_env, rasa_server_cmd, write_endpoints
from tests.conftest import ROOT, free_port, wait_http
from tests.dialogue.conftest import Stack
from tests.wechat.conftest import STATUS_TEMPLATE
from wechat.config import WeChatSettings

CREDENTIALS = (
    "channels.rest.RestInput:\n"
    "channels.miniprogram.MiniProgramInput:\n"
)


def _template(path: str) -> str | None:
    """The OpenAPI path template a concrete path belongs to."""
    for template in spec()["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    return None


def check_against_spec(method: str, path: str, status: int, body) -> None:
    """The response is described (path, method, status) and matches its schema."""
    doc = spec()
    template = _template(path)
    assert template, f"{path} is not in openapi.yaml"
    op = doc["paths"][template].get(method.lower())
    assert op, f"{method} {template} is not in openapi.yaml"
    described = op["responses"].get(str(status))
    assert described, f"{method} {template} → {status} is not in openapi.yaml"
    if "$ref" in described:
        described = doc["components"]["responses"][described["$ref"].rsplit("/", 1)[1]]
    schema = described["content"]["application/json"]["schema"]
    resolver = jsonschema.RefResolver.from_schema(doc)
    jsonschema.Draft202012Validator(schema, resolver=resolver).validate(body)


@dataclass
class Reply:
    status: int
    body: object
    text: str


class MpClient:
    """Calls the mini-program API over HTTP as a mini-program would."""

    def __init__(self, client: TestClient, loop: asyncio.AbstractEventLoop):
        self.client, self.loop = client, loop

    def call(self, method: str, path: str, token: str | None = None, *, json_body=None,
             data: bytes | None = None, headers: dict | None = None, check: bool = True) -> Reply:
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode()
            hdrs.setdefault("Content-Type", "application/json")

        async def go():
            resp = await self.client.request(method, path, data=data, headers=hdrs)
            raw = await resp.text()
            return resp.status, raw

        status, raw = self.loop.run_until_complete(go())
        body = json.loads(raw) if raw else None
        if check:
            check_against_spec(method, path.split("?")[0], status, body)
        return Reply(status, body, raw)

    def together(self, method: str, path: str, token: str, bodies: list[dict]) -> list[Reply]:
        """The same call several times at once (a double tap), each checked against the spec."""
        async def one(body):
            resp = await self.client.request(method, path, json=body,
                                             headers={"Authorization": f"Bearer {token}"})
            return resp.status, await resp.text()

        async def go():
            return await asyncio.gather(*(one(b) for b in bodies))

        out = []
        for status, raw in self.loop.run_until_complete(go()):
            body = json.loads(raw)
            check_against_spec(method, path, status, body)
            out.append(Reply(status, body, raw))
        return out

    def login(self, code: str) -> str:
        r = self.call("POST", "/api/mp/login", json_body={"code": code})
        assert r.status == 200, r.text
        return r.body["token"]


@pytest.fixture(scope="session")
def mp_settings(fake_wechat) -> WeChatSettings:
    appid, secret = fake_wechat.mp
    return WeChatSettings(mp_appid=appid, mp_secret=secret, api_base=fake_wechat.base_url,
                          mp_templates={"status": STATUS_TEMPLATE})


@pytest.fixture(scope="session")
def mp_loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _client(loop, kb, settings, rasa_url="http://127.0.0.1:9") -> TestClient:
    app = create_app(Applications(kb), mp_settings=settings, rasa_url=rasa_url)
    client = TestClient(TestServer(app), loop=loop)
    loop.run_until_complete(client.start_server())
    return client


@pytest.fixture(scope="session")
def mp(mp_loop, kb, mp_settings) -> MpClient:
    client = _client(mp_loop, kb, mp_settings)
    yield MpClient(client, mp_loop)
    mp_loop.run_until_complete(client.close())


class MpStack(Stack):
    """The test stack with the mini-program channel registered (own credentials file)."""

    def start(self) -> MpStack:
        credentials = self.var_dir / "credentials.yml"
        credentials.write_text(CREDENTIALS, encoding="utf-8")
        self.rasa_port, self.actions_port = free_port(), free_port()
        endpoints = write_endpoints(self.actions_port, self.var_dir)
        cmd = rasa_server_cmd(self.model, self.rasa_port, endpoints)
        cmd[cmd.index("--credentials") + 1] = str(credentials)
        env = {**os.environ, "YJS_VAR_DIR": str(self.var_dir)}
        log = open(self.var_dir / "servers.log", "ab")  # noqa: SIM115 - closed with the process
        for c, c_env in ((action_server_cmd(self.actions_port), action_server_env(env)), (cmd, env)):
            self.procs.append(subprocess.Popen(c, cwd=ROOT, env=c_env, stdout=log, stderr=log))
        wait_http(f"http://127.0.0.1:{self.actions_port}/health", self.procs[0], timeout=120)
        wait_http(f"http://127.0.0.1:{self.rasa_port}/", self.procs[1], timeout=300)
        return self


@pytest.fixture(scope="session")
def mp_stack(model_path, database_url, tmp_path_factory):
    s = MpStack(model_path, tmp_path_factory.mktemp("mpstack")).start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def mp_chat(mp_loop, kb, mp_settings, mp_stack) -> MpClient:
    client = _client(mp_loop, kb, mp_settings, f"http://127.0.0.1:{mp_stack.rasa_port}")
    yield MpClient(client, mp_loop)
    mp_loop.run_until_complete(client.close())

