"""Start and supervise the Rasa server, the action server and the backend
(make run / make chat).

All run as child processes; one that crashes is restarted with back-off, and
Ctrl-C (or SIGTERM) stops them all cleanly.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import yaml

from bot.config import ROOT, VAR_DIR, port
from bot.model import ensure_model, rasa_env
from bot.privacy.crypto import DataKeyMissing, data_key
from bot.staff import first_account_hint

STOP_TIMEOUT = 15


def write_endpoints(actions_port: int, directory: Path = VAR_DIR) -> Path:
    """Rasa's endpoints: our action server and the SQL tracker store (conversations,
    half-filled forms included, survive restarts). The scale-out path comes from the
    environment: TRACKER_DB_URL (e.g. PostgreSQL), REDIS_URL (lock store: one
    citizen's turns in order across Rasa processes), RABBITMQ_URL (event broker)."""
    directory.mkdir(parents=True, exist_ok=True)
    endpoints: dict = {
        "action_endpoint": {"url": f"http://127.0.0.1:{actions_port}/webhook"},
        "tracker_store": _tracker_store(os.environ.get("TRACKER_DB_URL"), directory),
    }
    if os.environ.get("REDIS_URL"):
        url = urlsplit(os.environ["REDIS_URL"])
        endpoints["lock_store"] = {
            "type": "redis", "url": url.hostname or "localhost", "port": url.port or 6379,
            "db": int(url.path.strip("/") or 0), "password": url.password,
            "key_prefix": "yjs"}
    if os.environ.get("RABBITMQ_URL"):
        url = urlsplit(os.environ["RABBITMQ_URL"])
        endpoints["event_broker"] = {
            "type": "pika", "url": url.hostname or "localhost", "port": url.port or 5672,
            "username": unquote(url.username or "guest"),
            "password": unquote(url.password or "guest"),
            "queues": [os.environ.get("RABBITMQ_QUEUE", "rasa_events")]}
    path = directory / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    os.chmod(path, 0o600)  # may hold passwords
    return path


def _tracker_store(url: str | None, directory: Path) -> dict:
    if not url:
        return {"type": "SQL", "dialect": "sqlite", "db": str(directory / "tracker.db")}
    parts = urlsplit(url)
    store = {"type": "SQL", "dialect": parts.scheme.split("+")[0],
             "url": parts.hostname, "db": parts.path.lstrip("/")}
    if parts.port:
        store["port"] = parts.port
    if parts.username:
        store["username"] = unquote(parts.username)
    if parts.password:
        store["password"] = unquote(parts.password)
    return store


def action_server_cmd(actions_port: int) -> list[str]:
    return [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)]


def rasa_server_cmd(model: Path, rasa_port: int, endpoints: Path) -> list[str]:
    cmd = [sys.executable, "-m", "rasa", "run", "--enable-api", "--model", str(model),
           "--port", str(rasa_port), "--endpoints", str(endpoints),
           "--credentials", str(ROOT / "credentials.yml"), "--cors", "*"]
    if os.environ.get("RASA_TOKEN"):
        cmd += ["--auth-token", os.environ["RASA_TOKEN"]]
    return cmd


def backend_cmd() -> list[str]:
    return [sys.executable, "-m", "backend"]


def wait_until_up(url: str, timeout: float = 300.0, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback
                if resp.status < 500:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


@dataclass
class Child:
    name: str
    cmd: list[str]
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started: float = field(default=0.0)

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=rasa_env(), start_new_session=True)
        self.started = time.monotonic()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)


class Supervisor:
    def __init__(self, children: list[Child]):
        self.children = children
        self.stopping = False

    def _on_signal(self, _signum, _frame) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        for child in self.children:
            child.start()
        try:
            while not self.stopping:
                for child in self.children:
                    if child.proc and child.proc.poll() is not None and not self.stopping:
                        delay = min(30, 2 ** min(child.restarts, 5))
                        if time.monotonic() - child.started > 60:
                            child.restarts, delay = 0, 1
                        print(f"[run] {child.name} exited ({child.proc.returncode}); "
                              f"restarting in {delay}s", file=sys.stderr)
                        time.sleep(delay)
                        child.restarts += 1
                        child.start()
                time.sleep(0.5)
        finally:
            self.shutdown()
        return 0

    def shutdown(self) -> None:
        print("[run] stopping…", file=sys.stderr)
        for child in self.children:
            child.stop()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.children:
            if child.proc:
                try:
                    child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.proc.wait()
        print("[run] stopped", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run the assistant")
    parser.add_argument("--chat", action="store_true", help="terminal chat instead of the server")
    parser.add_argument("--wechat-fake", action="store_true",
                        help="point the WeChat clients at a local fake of WeChat's servers")
    args = parser.parse_args(argv)
    try:
        data_key()  # production without YJS_DATA_KEY stops here, before any server starts
    except DataKeyMissing as exc:
        print(f"[run] {exc}", file=sys.stderr)
        return 2
    rasa_port, actions_port = port("RASA_PORT", 5005), port("ACTIONS_PORT", 5055)
    console_port = port("CONSOLE_PORT", 8000)
    model = ensure_model()
    endpoints = write_endpoints(actions_port)
    actions = Child("action server", action_server_cmd(actions_port))
    if args.chat:
        actions.start()
        try:
            wait_until_up(f"http://127.0.0.1:{actions_port}/health", 120, actions.proc)
            return subprocess.call([sys.executable, "-m", "rasa", "shell", "--model", str(model),
                                    "--endpoints", str(endpoints)], cwd=ROOT, env=rasa_env())
        finally:
            actions.stop()
    children = []
    if args.wechat_fake or os.environ.get("WECHAT") == "fake":
        from wechat.fake.local import fake_cmd, fake_env

        env = fake_env(VAR_DIR)
        os.environ.update(env)  # inherited by every child
        children.append(Child("fake WeChat", fake_cmd(env, sys.executable)))
        print(f"[run] WeChat clients use the local fake at {env['WECHAT_API_BASE']}; "
              f"credentials in {VAR_DIR / 'wechat-fake.env'}", file=sys.stderr)
    server = Child("rasa server", rasa_server_cmd(model, rasa_port, endpoints))
    backend = Child("backend", backend_cmd())
    print(f"[run] model {model.name}\n[run] Rasa http://127.0.0.1:{rasa_port}  "
          f"actions http://127.0.0.1:{actions_port}  backend http://127.0.0.1:{console_port}  "
          "(Ctrl-C stops all)", file=sys.stderr)
    print(f"[run] consoles http://127.0.0.1:{console_port}/console/ — {first_account_hint()}",
          file=sys.stderr)
    return Supervisor([*children, actions, server, backend]).run()


if __name__ == "__main__":
    sys.exit(main())
