"""A real WeChat-enabled stack: the action server and two Rasa server processes that
share the database (wechat_inbound, vault) and the tracker store, both with the
WeChat channel, customer-service sends going to helper A's loopback fake.

- `wechat_stack.rasa_port`: the normal reply budget (WeChat's 5 s, minus margin);
- `wechat_stack.slow_port`: WECHAT_REPLY_BUDGET=0.01, so every dialogue is "slow":
  answered "success" and delivered by customer-service message. It is also the
  second process for retries that land on another server.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.run import action_server_cmd, action_server_env, rasa_server_cmd, write_endpoints
from tests.conftest import ROOT, free_port, running_backend, wait_http
from tests.dialogue.conftest import Stack
from tests.wechat.channel.pushes import WeChatSim, new_aes_key
from tests.wechat.conftest import OA_APPID, OA_SECRET, PUSH_TOKEN

AES_CURRENT = new_aes_key()
AES_PREVIOUS = new_aes_key()
CREDENTIALS = "channels.rest.RestInput:\nchannels.wechat.WeChatInput:\n"


class WeChatStack(Stack):
    def __init__(self, model: Path, var_dir: Path, api_base: str):
        super().__init__(model, var_dir)
        self.api_base = api_base
        self.slow_port = 0

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "YJS_VAR_DIR": str(self.var_dir), "WECHAT_TOKEN": PUSH_TOKEN,
                "WECHAT_APPID": OA_APPID, "WECHAT_SECRET": OA_SECRET,
                "WECHAT_AES_KEY": AES_CURRENT, "WECHAT_AES_KEY_PREVIOUS": AES_PREVIOUS,
                "WECHAT_API_BASE": self.api_base, **extra}

    def start(self) -> WeChatStack:
        self.rasa_port, self.slow_port, self.actions_port = free_port(), free_port(), free_port()
        endpoints = write_endpoints(self.actions_port, self.var_dir)
        credentials = self.var_dir / "credentials.yml"
        credentials.write_text(CREDENTIALS, encoding="utf-8")
        log = open(self.var_dir / "servers.log", "ab")  # noqa: SIM115 - closed with the process
        runs = [(action_server_cmd(self.actions_port), action_server_env(self.env()))]
        for port, budget in ((self.rasa_port, "4.0"), (self.slow_port, "0.01")):
            cmd = rasa_server_cmd(self.model, port, endpoints)
            cmd[cmd.index("--credentials") + 1] = str(credentials)
            runs.append((cmd, self.env(WECHAT_REPLY_BUDGET=budget)))
        for cmd, env in runs:
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log))
        wait_http(f"http://127.0.0.1:{self.actions_port}/health", self.procs[0], timeout=120)
        wait_http(f"http://127.0.0.1:{self.rasa_port}/", self.procs[1], timeout=400)
        wait_http(f"http://127.0.0.1:{self.slow_port}/", self.procs[2], timeout=400)
        for port in (self.rasa_port, self.slow_port):  # first turns load lazily: warm up
            self.post_to(port, f"warm-up-{port}", "孩子出生要办什么")
        return self

    def post_to(self, port: int, sender: str, message: str) -> list[dict]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": message}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read())

    def url(self, port: int | None = None) -> str:
        return f"http://127.0.0.1:{port or self.rasa_port}/webhooks/wechat/webhook"

    def user_events(self, sender: str) -> list[dict]:
        """The citizen's turns as Rasa recorded them (GET /conversations/<id>/tracker)."""
        status, tracker = self.api("GET", f"/conversations/{sender}/tracker")
        assert status == 200, tracker
        events = tracker.get("events") or []
        return [e for e in events if e.get("event") == "user"]


@pytest.fixture(scope="session")
def wechat_stack(model_path, database_url, fake_wechat, tmp_path_factory):
    stack = WeChatStack(model_path, tmp_path_factory.mktemp("wechat-stack"),
                        fake_wechat.base_url).start()
    yield stack
    stack.stop()


@pytest.fixture
def aes_keys() -> tuple[str, str]:
    """(current, previous) EncodingAESKey of the stack: a rotation in progress."""
    return AES_CURRENT, AES_PREVIOUS


@pytest.fixture
def sim(wechat_stack, wechat) -> WeChatSim:
    """WeChat pushing to the normal server (the fake is reset for each test)."""
    return WeChatSim(wechat_stack.url(), PUSH_TOKEN, AES_CURRENT, OA_APPID)


@pytest.fixture
def slow_sim(wechat_stack, wechat) -> WeChatSim:
    """WeChat pushing to the server whose reply budget is 0.01 s."""
    return WeChatSim(wechat_stack.url(wechat_stack.slow_port), PUSH_TOKEN, AES_CURRENT, OA_APPID)


def inbound_rows(openid: str) -> list:
    from bot.db import session_scope
    from bot.models import WeChatInbound

    with session_scope() as session:
        rows = session.execute(select(WeChatInbound).where(WeChatInbound.openid == openid)
                               .order_by(WeChatInbound.received_at)).scalars().all()
        return [(r.key, r.state, dict(r.reply or {})) for r in rows]


def wait_for(predicate, timeout: float = 60.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return predicate()


@contextmanager
def backend_process(wechat_stack, fake_wechat, log_dir: Path, **env_changes: str | None):
    """`python -m backend` on a free port beside the WeChat stack (its Rasa, the fake WeChat,
    the same var/); yields its URL. `env_changes`: extra variables, None removes one."""
    port = free_port()
    env = {**os.environ, "CONSOLE_PORT": str(port),
           "YJS_RASA_URL": f"http://127.0.0.1:{wechat_stack.rasa_port}",
           "WECHAT_APPID": OA_APPID, "WECHAT_SECRET": OA_SECRET,
           "WECHAT_API_BASE": fake_wechat.base_url, "YJS_VAR_DIR": str(wechat_stack.var_dir)}
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    with running_backend(env, log_dir / "backend.log") as url:
        yield url
