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

from bot.config import ROOT, VAR_DIR, port
from bot.model import ensure_model, rasa_env
from bot.privacy.crypto import DataKeyMissing, data_key

STOP_TIMEOUT = 15


def write_endpoints(actions_port: int, directory: Path = VAR_DIR) -> Path:
    """Rasa's endpoints: our action server and the SQL tracker store (conversations,
    half-filled forms included, survive restarts)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "endpoints.yml"
    path.write_text(
        "action_endpoint:\n"
        f"  url: http://127.0.0.1:{actions_port}/webhook\n"
        "tracker_store:\n"
        "  type: SQL\n"
        "  dialect: sqlite\n"
        f"  db: {directory / 'tracker.db'}\n",
        encoding="utf-8",
    )
    return path


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
    return [sys.executable, "-m", "bot.web"]


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
    server = Child("rasa server", rasa_server_cmd(model, rasa_port, endpoints))
    backend = Child("backend", backend_cmd())
    print(f"[run] model {model.name}\n[run] Rasa http://127.0.0.1:{rasa_port}  "
          f"actions http://127.0.0.1:{actions_port}  backend http://127.0.0.1:{console_port}  "
          "(Ctrl-C stops all)", file=sys.stderr)
    return Supervisor([actions, server, backend]).run()


if __name__ == "__main__":
    sys.exit(main())
