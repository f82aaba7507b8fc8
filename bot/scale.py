"""`make run SCALE=N`: N Rasa processes (each with its own action server) behind
HAProxy, conversations in PostgreSQL, Rasa's lock store in Redis, events to RabbitMQ.

One citizen, one Rasa process. Rasa OSS's Redis lock store is not safe across
processes (two processes can both believe they hold a conversation's ticket), so
the balancer hashes each request on the citizen, where it can see them:

* REST and mini-program webhooks: the `sender` field of the JSON body
  (HAProxy buffers the body and reads it with json_query);
* WeChat pushes: the `openid` query parameter WeChat adds to every push; within
  a process the channel's per-openid queue (wechat.turns) keeps push order;
* anything else (Rasa's HTTP API, GET /): the path, so
  /conversations/<id>/… lands where that conversation lives.

`hash-type consistent`: when a process is down only its citizens move (to the
others, which read the conversation from PostgreSQL), and move back when it is up
again. A request that reached a process that died before answering is retried on
another one (`retry-on conn-failure empty-response`, the body is buffered), so a
message a client sent is answered, not lost.

The balancer also keeps bot.rasa_server's rule that only the webhooks and `GET /`
are public: behind it every Rasa process sees the balancer's loopback address, so
the allow-list (RASA_API_ALLOW) is applied here, to the real client address.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from pathlib import Path

HAPROXY_PATHS = ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
DEFAULT_TRACKER_DB = "postgresql://postgres@127.0.0.1:5432/yjs_tracker"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


def haproxy_binary() -> str | None:
    found = shutil.which("haproxy")
    if found:
        return found
    return next((p for p in HAPROXY_PATHS if os.access(p, os.X_OK)), None)


def scale_services_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The shared stores every process of a scaled-out run must use: the ones set in
    the environment, else the machine's PostgreSQL, Redis and RabbitMQ."""
    env = dict(os.environ if env is None else env)
    env.setdefault("TRACKER_DB_URL", DEFAULT_TRACKER_DB)
    env.setdefault("REDIS_URL", DEFAULT_REDIS)
    env.setdefault("RABBITMQ_URL", DEFAULT_RABBITMQ)
    return env


def ensure_database(url: str) -> None:
    """Create the tracker store's PostgreSQL database when it does not exist yet."""
    from urllib.parse import urlsplit, urlunsplit

    from sqlalchemy import create_engine, text

    parts = urlsplit(url)
    if not parts.scheme.startswith("postgresql"):
        return
    name = parts.path.lstrip("/")
    admin = create_engine(urlunsplit(parts._replace(path="/postgres")),
                          isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                  {"n": name}).first()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name.replace(chr(34), "")}"'))
    finally:
        admin.dispose()


def _acl_networks(spec: str) -> str:
    nets = [str(ipaddress.ip_network(p.strip(), strict=False)) for p in spec.split(",") if p.strip()]
    return " ".join(nets) or "127.0.0.1/32"


def haproxy_config(listen_port: int, rasa_ports: list[int], *, interface: str = "127.0.0.1",
                   api_allow: str | None = None, max_body: int = 1024 * 1024) -> str:
    """The balancer's configuration (see the module docstring)."""
    allow = _acl_networks(api_allow or os.environ.get("RASA_API_ALLOW", "127.0.0.1/32,::1/128"))
    servers = "\n".join(
        f"    server rasa{i} 127.0.0.1:{port} check inter 1s fall 2 rise 2"
        for i, port in enumerate(rasa_ports))
    backend = """
    option httpchk GET /
    hash-type consistent
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response junk-response
    timeout server 120s
"""
    return f"""# written by bot.scale for `make run SCALE={len(rasa_ports)}`; see bot/scale.py
global
    maxconn 4096
    tune.bufsize {max(32768, min(max_body, 1024 * 1024) + 1024)}

defaults
    mode http
    option http-keep-alive
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-request 30s
    timeout queue 60s

frontend rasa_public
    bind {interface}:{listen_port}
    option http-buffer-request
    acl public path / path_beg /webhooks/
    acl api_client src {allow}
    http-request deny deny_status 403 if !public !api_client
    acl wechat path_beg /webhooks/wechat/
    acl json_body req.hdr(content-type) -m sub json
    use_backend by_openid if wechat
    use_backend by_sender if json_body
    default_backend by_path

backend by_sender
    balance hash req.body,json_query('$.sender')
{backend}{servers}

backend by_openid
    balance hash url_param(openid)
{backend}{servers}

backend by_path
    balance hash path
{backend}{servers}
"""


def write_haproxy_config(directory: Path, listen_port: int, rasa_ports: list[int],
                         **kwargs) -> Path:
    path = directory / "haproxy.cfg"
    path.write_text(haproxy_config(listen_port, rasa_ports, **kwargs), encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def haproxy_cmd(config: Path) -> list[str]:
    binary = haproxy_binary()
    if binary is None:
        raise RuntimeError("SCALE=N needs HAProxy: scripts/install-balancer.sh installs "
                           "Debian's package (apt-get install haproxy)")
    return [binary, "-W", "-db", "-f", str(config)]
