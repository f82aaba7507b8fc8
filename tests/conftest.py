"""Shared fixtures: a migrated, seeded test database, the trained model (once per
content fingerprint), a real action server and a real Rasa agent."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# The test database must be chosen before anything creates an engine.
_TMP = Path(tempfile.mkdtemp(prefix="yjs-test-"))
os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'test.db'}"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
# Personal data is encrypted with a key made for this run (inherited by the servers).
os.environ["YJS_DATA_KEY"] = __import__("cryptography.fernet").fernet.Fernet.generate_key().decode()
os.environ["YJS_VAR_DIR"] = str(_TMP / "var")
# The suite logs in to the mini-program API many times from one address.
os.environ.setdefault("WECHAT_MP_LOGIN_PER_MINUTE", "100000")
# Rasa's HTTP API token of every server the tests start (make run generates one instead).
os.environ["RASA_TOKEN"] = __import__("secrets").token_urlsafe(24)

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} came up")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(url)


@contextmanager
def running_backend(env: dict[str, str], log_path: Path, timeout: float = 120) -> Iterator[str]:
    """`python -m backend` with `env` (its CONSOLE_PORT a free port), output to `log_path`;
    yields its URL once /healthz answers, and stops it afterwards."""
    url = f"http://127.0.0.1:{env['CONSOLE_PORT']}"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "backend"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_http(f"{url}/healthz", proc, timeout=timeout)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


IDENTITY_APP = ("yjs-test-identity", "identity-secret-0123456789abcdef")


@pytest.fixture(scope="session", autouse=True)
def identity_provider():
    """The loopback fake identity provider (real-name verification), for every process
    of the run: in-process services and the servers started later read IDENTITY_*."""
    from bot.identity.fake import FakeIdentityProvider

    fake = FakeIdentityProvider({IDENTITY_APP[0]: IDENTITY_APP[1]})
    base = fake.start()
    os.environ.update(IDENTITY_API_BASE=base, IDENTITY_APP_ID=IDENTITY_APP[0],
                      IDENTITY_SECRET=IDENTITY_APP[1], IDENTITY_PROVIDER="fake")
    yield fake
    fake.stop()


def verify_identity(fake, url: str, id_number: str, name: str) -> str:
    """The citizen opens the verification page (`url`) and passes (or fails) there."""
    import urllib.parse

    data = urllib.parse.urlencode({"id_number": id_number, "name": name}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as resp:
        return resp.read().decode()


@pytest.fixture(scope="session")
def database_url() -> str:
    from bot.applications.shared_data import seed_demo_records
    from bot.db import session_scope
    from bot.kb.seed import seed
    from bot.migrate import upgrade

    upgrade()
    with session_scope() as session:
        seed(session)
        seed_demo_records(session)
    return os.environ["DATABASE_URL"]


@pytest.fixture(scope="session")
def kb(database_url):
    from bot.kb.service import KnowledgeService

    return KnowledgeService()


@pytest.fixture(scope="session")
def model_path() -> Path:
    from bot.model import ensure_model

    return ensure_model()


@pytest.fixture(scope="session")
def event_loop_session():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="session")
def nlu_agent(model_path, event_loop_session):

    return event_loop_session.run_until_complete(_load_agent(model_path, None))


async def _load_agent(model_path: Path, action_url: str | None):
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    from bot.config import actions_secret

    endpoint = (EndpointConfig(action_url, headers={"Authorization": f"Bearer {actions_secret()}"})
                if action_url else None)
    return Agent.load(str(model_path), action_endpoint=endpoint)


@pytest.fixture(scope="session")
def parse(nlu_agent, event_loop_session):
    def _parse(text: str) -> dict:
        return event_loop_session.run_until_complete(nlu_agent.parse_message(text))

    return _parse


@pytest.fixture(scope="session")
def action_server(database_url):
    from bot.run import action_server_cmd, action_server_env

    port = free_port()
    env = action_server_env({**os.environ, "DATABASE_URL": database_url})
    proc = subprocess.Popen(action_server_cmd(port), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc)
        yield f"http://127.0.0.1:{port}/webhook"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


class Chat:
    """One citizen's conversation with the real agent and real actions."""

    _counter = 0

    def __init__(self, agent, loop):
        Chat._counter += 1
        self.agent, self.loop = agent, loop
        self.sender = f"citizen-{Chat._counter}-{time.monotonic_ns()}"

    def say(self, text: str) -> list[dict]:
        return self.loop.run_until_complete(self.agent.handle_text(text, sender_id=self.sender))

    def text(self, text: str) -> str:
        return "\n".join(m.get("text", "") for m in self.say(text))

    def tracker(self):
        return self.loop.run_until_complete(self.agent.tracker_store.retrieve(self.sender))


@pytest.fixture(scope="session")
def dialogue_agent(model_path, action_server, event_loop_session):
    return event_loop_session.run_until_complete(_load_agent(model_path, action_server))


@pytest.fixture
def chat(dialogue_agent, event_loop_session) -> Chat:
    return Chat(dialogue_agent, event_loop_session)
