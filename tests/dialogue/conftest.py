"""A real Rasa server (our REST channel, SQL tracker store) and action server,
driven over HTTP exactly as a client or an outside check would."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from bot.run import action_server_cmd, action_server_env, rasa_server_cmd, write_endpoints
from tests.conftest import ROOT, free_port, wait_http

_ids = itertools.count()
# pytest loads this file as a conftest and test modules import it again as
# tests.dialogue.conftest: two module copies, two counters. The copy's own random
# part keeps their senders apart (two citizens had shared one conversation).
_COPY = uuid.uuid4().hex[:6]


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Stack:
    def __init__(self, model: Path, var_dir: Path, env: dict[str, str] | None = None):
        self.model, self.var_dir, self.extra_env = model, var_dir, env or {}
        self.procs: list[subprocess.Popen] = []
        self.rasa_port = self.actions_port = 0
        self.call_log = var_dir / "action-calls.jsonl"  # rasa_sdk_plugins: one line per action call

    def start(self) -> Stack:
        self.rasa_port, self.actions_port = free_port(), free_port()
        env = {**os.environ, "YJS_VAR_DIR": str(self.var_dir),
               "ACTIONS_CALL_LOG": str(self.call_log), **self.extra_env}
        with _environ(self.extra_env):
            endpoints = write_endpoints(self.actions_port, self.var_dir)
        log = open(self.var_dir / "servers.log", "ab")  # noqa: SIM115 - closed with the process
        for cmd, cmd_env in ((action_server_cmd(self.actions_port), action_server_env(env)),
                             (rasa_server_cmd(self.model, self.rasa_port, endpoints), env)):
            self.procs.append(subprocess.Popen(cmd, cwd=ROOT, env=cmd_env, stdout=log, stderr=log))
        try:
            wait_http(f"http://127.0.0.1:{self.actions_port}/health", self.procs[0], timeout=120)
            wait_http(f"http://127.0.0.1:{self.rasa_port}/", self.procs[1], timeout=300)
        except BaseException:  # one did not come up: stop the other, leave nothing running
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=60)
        self.procs = []

    def calls(self, sender: str) -> list[str]:
        """The actions the action server has run for `sender`, in order."""
        if not self.call_log.exists():
            return []
        lines = self.call_log.read_text(encoding="utf-8").splitlines()
        return [c["action"] for c in map(json.loads, lines) if c["sender"] == sender]

    def api(self, method: str, path: str, body: dict | None = None, token: bool = True):
        """Rasa's HTTP API: (status, JSON), with the token unless `token=False`."""
        from bot.config import rasa_token

        sep = "&" if "?" in path else "?"
        url = f"http://127.0.0.1:{self.rasa_port}{path}"
        if token:
            url += f"{sep}token={rasa_token()}"
        req = urllib.request.Request(url, method=method, headers={"Content-Type": "application/json"},
                                     data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw.decode(errors="replace")

    def post(self, sender: str, message: str) -> list[dict]:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/webhook",
            data=json.dumps({"sender": sender, "message": message}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
            return json.loads(resp.read())


class RestChat:
    """One citizen talking to the stack over POST /webhooks/rest/webhook."""

    def __init__(self, stack: Stack, sender: str | None = None):
        self.stack = stack
        # the counter last: consoles show a sender's last characters, which must differ
        self.sender = sender or f"rest-{os.getpid()}-{_COPY}-{next(_ids):04d}"
        self.last: list[dict] = []

    def say(self, text: str) -> str:
        self.last = self.stack.post(self.sender, text)
        return "\n".join(m.get("text", "") for m in self.last)


@pytest.fixture(scope="session")
def stack(model_path, database_url, tmp_path_factory):
    # agents on duty at any hour the suite runs (a 差评 queues the conversation);
    # the hours themselves are tested in tests/bot/handoff
    s = Stack(model_path, tmp_path_factory.mktemp("stack"), env={"HANDOFF_HOURS": "24x7"}).start()
    yield s
    s.stop()


@pytest.fixture
def rest_chat(stack) -> RestChat:
    return RestChat(stack)
