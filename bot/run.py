"""Start and supervise the Rasa server, the action server and the backend
(make run / make chat).

All run as child processes; one that crashes is restarted with back-off, and
Ctrl-C (or SIGTERM) stops them all cleanly. Secure by default, with nothing to
configure: files it and its children create are private (umask 077: var/ 0700,
files 0600); Rasa's HTTP API needs the token (bot.config.rasa_token(), generated
into var/rasa-token) and is served to loopback only (bot.rasa_server); the action
server listens on loopback and needs the secret Rasa's action_endpoint sends;
conversations are encrypted in the tracker store. With YJS_ENV=production it does
not start without YJS_DATA_KEY and RASA_TOKEN.
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

from bot.config import (
    ROOT,
    VAR_DIR,
    SecretMissing,
    actions_secret,
    check_production_secrets,
    port,
    var_dir,
)
from bot.model import ensure_model, rasa_env
from bot.staff import first_account_hint

STOP_TIMEOUT = 15


def model_server_endpoint(console_port: int) -> dict:
    """Rasa's model-server protocol against our backend (backend/model_server.py): every
    Rasa server polls the live model (ETag; 304 while unchanged) and loads a published
    one by itself. YJS_MODEL_POLL: seconds between polls (default 10)."""
    from bot.config import derived_secret

    url = os.environ.get("YJS_MODEL_SERVER") or f"http://127.0.0.1:{console_port}/api/models/live"
    return {"url": url, "headers": {"Authorization": f"Bearer {derived_secret('model-server')}"},
            "wait_time_between_pulls": int(os.environ.get("YJS_MODEL_POLL") or 10)}


def write_endpoints(actions_port: int, directory: Path = VAR_DIR,
                    model_server: dict | None = None, name: str = "endpoints.yml") -> Path:
    """Rasa's endpoints: our action server and the SQL tracker store (conversations,
    half-filled forms included, survive restarts). The scale-out path comes from the
    environment: TRACKER_DB_URL (e.g. PostgreSQL), REDIS_URL (lock store: one
    citizen's turns in order across Rasa processes), RABBITMQ_URL (event broker)."""
    directory.mkdir(parents=True, exist_ok=True)
    actions_url = os.environ.get("ACTIONS_URL") or f"http://127.0.0.1:{actions_port}/webhook"
    endpoints: dict = {
        # The action server refuses calls without this header (rasa_sdk_plugins).
        "action_endpoint": {"url": actions_url,
                            "headers": {"Authorization": f"Bearer {actions_secret()}"}},
        "tracker_store": tracker_store_config(os.environ.get("TRACKER_DB_URL"), directory),
    }
    if model_server:
        endpoints["models"] = model_server
    if os.environ.get("REDIS_URL"):
        url = urlsplit(os.environ["REDIS_URL"])
        endpoints["lock_store"] = {
            "type": "redis", "url": url.hostname or "localhost", "port": url.port or 6379,
            "db": int(url.path.strip("/") or 0), "password": url.password,
            "key_prefix": os.environ.get("REDIS_KEY_PREFIX") or "yjs"}
    if os.environ.get("RABBITMQ_URL"):
        url = urlsplit(os.environ["RABBITMQ_URL"])
        endpoints["event_broker"] = {
            "type": "pika", "url": url.hostname or "localhost", "port": url.port or 5672,
            "username": unquote(url.username or "guest"),
            "password": unquote(url.password or "guest"),
            "queues": [os.environ.get("RABBITMQ_QUEUE", "rasa_events")]}
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # holds secrets
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(yaml.safe_dump(endpoints, allow_unicode=True, sort_keys=False))
    os.chmod(path, 0o600)
    return path


TRACKER_STORE = "bot.tracker_store.EncryptedSQLTrackerStore"


def tracker_store_config(url: str | None, directory: Path) -> dict:
    """Rasa's SQL tracker store, events encrypted at rest (bot.tracker_store)."""
    if not url:
        return {"type": TRACKER_STORE, "dialect": "sqlite", "db": str(directory / "tracker.db")}
    parts = urlsplit(url)
    store = {"type": TRACKER_STORE, "dialect": parts.scheme.split("+")[0],
             "url": parts.hostname, "db": parts.path.lstrip("/")}
    if parts.port:
        store["port"] = parts.port
    if parts.username:
        store["username"] = unquote(parts.username)
    if parts.password:
        store["password"] = unquote(parts.password)
    return store


def action_server_cmd(actions_port: int) -> list[str]:
    """rasa_sdk's own server (no --cors: no cross-origin access); loopback and the
    secret come from action_server_env() and rasa_sdk_plugins."""
    return [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(actions_port)]


def action_server_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """rasa_sdk binds SANIC_HOST (0.0.0.0 by default): loopback unless ACTIONS_HOST."""
    env = dict(os.environ if env is None else env)
    env["SANIC_HOST"] = env.get("ACTIONS_HOST") or "127.0.0.1"
    return env


def rasa_server_cmd(model: Path, rasa_port: int, endpoints: Path,
                    interface: str | None = None) -> list[str]:
    """`rasa run` through bot.rasa_server: API token, no wildcard CORS, API on
    loopback only, /model/parse vaulted, bodies capped, retention."""
    cmd = [sys.executable, "-m", "bot.rasa_server", "--model", str(model),
           "--port", str(rasa_port), "--endpoints", str(endpoints),
           "--credentials", str(ROOT / "credentials.yml")]
    interface = interface or os.environ.get("RASA_INTERFACE")
    if interface:
        cmd += ["--interface", interface]
    return cmd


def secure_var_dir(directory: Path = VAR_DIR) -> None:
    """var/ 0700 and everything in it 0600 (also what older versions left readable)."""
    var_dir()
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.chmod(path, 0o600)
        elif path.is_dir():
            os.chmod(path, 0o700)


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
    env: dict[str, str] | None = None
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started: float = field(default=0.0)

    def start(self) -> None:
        env = rasa_env() if self.env is None else self.env
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, start_new_session=True)
        self.started = time.monotonic()
        # var/run/<name>.pid: which process is which (the scale-out test stops one)
        pids = VAR_DIR / "run"
        pids.mkdir(parents=True, exist_ok=True)
        (pids / f"{self.name.replace(' ', '-')}.pid").write_text(str(self.proc.pid))

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
            if child.proc is None or child.proc.poll() is not None:  # not started beforehand
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
    parser.add_argument("--scale", type=int, default=int(os.environ.get("SCALE") or 1),
                        help="Rasa processes (each with an action server) behind HAProxy, "
                             "on PostgreSQL, Redis and RabbitMQ (bot.scale)")
    args = parser.parse_args(argv)
    os.umask(0o077)  # every file we and our children create is private
    try:
        # production without YJS_DATA_KEY or RASA_TOKEN stops here, before any server
        # starts; otherwise the development secrets are generated into var/ (0600)
        check_production_secrets()
    except SecretMissing as exc:
        print(f"[run] {exc}", file=sys.stderr)
        return 2
    secure_var_dir()
    rasa_port, actions_port = port("RASA_PORT", 5005), port("ACTIONS_PORT", 5055)
    console_port = port("CONSOLE_PORT", 8000)
    model = ensure_model()
    if os.environ.get("TRACKER_DB_URL"):
        from bot.scale import ensure_database

        ensure_database(os.environ["TRACKER_DB_URL"])  # a new PostgreSQL database is created
    from bot.content.models import Models

    # the first start makes data/'s model live; later the console's publishes decide
    live = Models().register_baseline(model)
    endpoints = write_endpoints(actions_port, model_server=model_server_endpoint(console_port))
    actions = Child("action server", action_server_cmd(actions_port),
                    action_server_env(rasa_env()))
    if args.chat:
        actions.start()
        try:
            wait_until_up(f"http://127.0.0.1:{actions_port}/health", 120, actions.proc)
            # The terminal chat's own server listens on loopback only, without the API.
            return subprocess.call([sys.executable, "-m", "rasa", "shell", "--model", str(model),
                                    "--endpoints", str(endpoints), "--interface", "127.0.0.1",
                                    "--port", str(rasa_port)], cwd=ROOT, env=rasa_env())
        finally:
            actions.stop()
    children = []
    wechat_fake = args.wechat_fake or os.environ.get("WECHAT") == "fake"
    if wechat_fake:
        from wechat.fake.local import fake_cmd, fake_env

        env = fake_env(VAR_DIR)
        os.environ.update(env)  # inherited by every child
        children.append(Child("fake WeChat", fake_cmd(env, sys.executable)))
        print(f"[run] WeChat clients use the local fake at {env['WECHAT_API_BASE']}; "
              f"credentials in {VAR_DIR / 'wechat-fake.env'}", file=sys.stderr)
    if wechat_fake or os.environ.get("IDENTITY") == "fake":
        from bot.identity import fake as identity_fake

        env = identity_fake.fake_env(VAR_DIR)
        os.environ.update(env)
        children.append(Child("fake identity provider", identity_fake.fake_cmd(env, sys.executable)))
        print(f"[run] real-name verification uses the local fake at {env['IDENTITY_API_BASE']} "
              "(not for production)", file=sys.stderr)
    backend = Child("backend", backend_cmd())
    trainer = Child("training worker", [sys.executable, "-m", "bot.content.worker"])
    if args.scale > 1:
        servers = scaled_servers(model, args.scale, rasa_port, model_server_endpoint(console_port))
    else:
        actions.env = action_server_env(rasa_env())  # with the fakes' settings
        servers = [actions, Child("rasa server", rasa_server_cmd(model, rasa_port, endpoints))]
    print(f"[run] live model {live} (served to Rasa by the backend's model server)", file=sys.stderr)
    print(f"[run] model {model.name}\n[run] Rasa http://127.0.0.1:{rasa_port}  "
          f"actions http://127.0.0.1:{actions_port}  backend http://127.0.0.1:{console_port}  "
          "(Ctrl-C stops all)", file=sys.stderr)
    print(f"[run] consoles http://127.0.0.1:{console_port}/console/ — {first_account_hint()}",
          file=sys.stderr)
    # the backend first: it serves the live model the Rasa server pulls as it starts
    backend.start()
    try:
        if not wait_until_up(f"http://127.0.0.1:{console_port}/healthz", 120, backend.proc):
            print("[run] the backend did not come up; Rasa will pull the model once it does",
                  file=sys.stderr)
    except KeyboardInterrupt:
        backend.stop()
        raise
    return Supervisor([*children, backend, *servers, trainer]).run()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scaled_servers(model: Path, scale: int, public_port: int,
                   model_server: dict | None = None) -> list[Child]:
    """SCALE=N (bot.scale): N pairs of action server and Rasa server on loopback ports,
    HAProxy on the public Rasa port, all on the shared stores."""
    from bot.scale import ensure_database, haproxy_cmd, scale_services_env, write_haproxy_config

    os.environ.update(scale_services_env())  # inherited by every child
    ensure_database(os.environ["TRACKER_DB_URL"])
    children, rasa_ports = [], []
    for i in range(scale):
        a_port, r_port = _free_port(), _free_port()
        endpoints = write_endpoints(a_port, VAR_DIR, model_server, f"endpoints-{i}.yml")
        children.append(Child(f"action server {i}", action_server_cmd(a_port),
                              action_server_env(rasa_env())))
        children.append(Child(f"rasa server {i}",
                              rasa_server_cmd(model, r_port, endpoints, interface="127.0.0.1")))
        rasa_ports.append(r_port)
    config = write_haproxy_config(VAR_DIR, public_port, rasa_ports,
                                  interface=os.environ.get("RASA_INTERFACE") or "0.0.0.0")
    children.append(Child("balancer", haproxy_cmd(config)))
    print(f"[run] {scale} Rasa processes {rasa_ports} behind HAProxy on :{public_port}; "
          f"tracker store {urlsplit(os.environ['TRACKER_DB_URL']).path.lstrip('/')}, "
          "Redis lock store, RabbitMQ event broker", file=sys.stderr)
    return children


if __name__ == "__main__":
    sys.exit(main())
