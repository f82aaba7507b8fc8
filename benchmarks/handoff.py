"""make bench-handoff: the handoff's latencies and what it costs a bot turn.

Runs the real stack on a scratch database: the action server, two Rasa servers
(WeChat and REST channels) — A with the handoff feed on (as `make run`), B with it
off (HANDOFF_FEED=0: no tracker-store hook, no pending-message lookup on REST) —
the backend (agent API, SSE stream) on A, and the loopback fake of WeChat's API.

1. Console event latency: a follower taken over by an agent writes (a signed,
   encrypted push to A); time from sending the push to the message's event on the
   agent's SSE stream.
2. Agent-message delivery latency: the agent POSTs a reply; time until the fake
   WeChat has recorded the customer-service message to that openid.
3. Cost of the handoff check on a bot turn: the same FAQ turn (a new REST citizen
   each) on A and on B, interleaved; ratio A / B of the median and the mean. Plus the
   two pieces alone, in process: the tracker-store hook on a tracker that is not
   paused, and the REST channel's lookup of pending agent messages (nothing pending).
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

WORKDIR = Path(tempfile.mkdtemp(prefix="yjs-bench-handoff-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORKDIR / 'bench.db'}"
os.environ.setdefault("YJS_DATA_KEY", __import__("cryptography.fernet").fernet.Fernet.generate_key().decode())
os.environ["YJS_VAR_DIR"] = str(WORKDIR)
os.environ["HANDOFF_HOURS"] = "24x7"
os.environ.setdefault("RASA_TOKEN", secrets.token_urlsafe(24))

from benchmarks.common import free_port, percentile, prepare_database  # noqa: E402
from bot.config import ROOT  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))
TURNS = int(os.environ.get("BENCH_TURNS", "80"))
QUESTION = "孩子出生要办什么"
APPID, SECRET, TOKEN = "wxbench00000000001", "bench-secret-0123456789abcdef0123", "bench-token"
ACCOUNT = "gh_7f083739789a"


def _post_rest(port: int, sender: str, text: str) -> list[dict]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                 data=json.dumps({"sender": sender, "message": text}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def _start(model: Path, api_base: str, aes_key: str):
    from bot.model import rasa_env
    from bot.run import (
        action_server_cmd,
        action_server_env,
        rasa_server_cmd,
        wait_until_up,
        write_endpoints,
    )

    a_port, b_port, actions_port, console_port = free_port(), free_port(), free_port(), free_port()
    endpoints = write_endpoints(actions_port, WORKDIR)
    credentials = WORKDIR / "credentials.yml"
    credentials.write_text("channels.rest.RestInput:\nchannels.wechat.WeChatInput:\n",
                           encoding="utf-8")
    env = {**rasa_env(), "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET,
           "WECHAT_AES_KEY": aes_key, "WECHAT_API_BASE": api_base}
    runs = [(action_server_cmd(actions_port), action_server_env(env))]
    for port, feed in ((a_port, "1"), (b_port, "0")):
        cmd = rasa_server_cmd(model, port, endpoints)
        cmd[cmd.index("--credentials") + 1] = str(credentials)
        runs.append((cmd, {**env, "HANDOFF_FEED": feed}))
    runs.append(([sys.executable, "-m", "backend"],
                 {**env, "CONSOLE_PORT": str(console_port), "YJS_RASA_URL": f"http://127.0.0.1:{a_port}"}))
    log = open(WORKDIR / "servers.log", "ab")  # noqa: SIM115 - lives as long as the servers
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=log, stderr=log) for cmd, e in runs]
    ok = (wait_until_up(f"http://127.0.0.1:{actions_port}/health", 120, procs[0])
          and wait_until_up(f"http://127.0.0.1:{a_port}/", 300, procs[1])
          and wait_until_up(f"http://127.0.0.1:{b_port}/", 300, procs[2])
          and wait_until_up(f"http://127.0.0.1:{console_port}/healthz", 120, procs[3]))
    if not ok:
        for p in procs:
            p.terminate()
        raise RuntimeError(f"servers did not start; see {WORKDIR / 'servers.log'}")
    return procs, a_port, b_port, console_port


def _agent_session(console: str):
    import requests

    from bot.staff.accounts import StaffAccounts
    from bot.staff.audit import Actor

    password = "pw-" + secrets.token_urlsafe(12)
    StaffAccounts().add_or_update("bench-agent", ["agent"], password, actor=Actor("bench"))
    http = requests.Session()
    r = http.post(console + "/api/staff/login", json={"username": "bench-agent", "password": password})
    r.raise_for_status()
    return http, r.json()["csrf"]


def _sse(http, console: str) -> queue.Queue:
    events: queue.Queue = queue.Queue()

    def read():
        with http.get(console + "/api/agent/stream", stream=True, timeout=600) as r:
            event = None
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    events.put((event, json.loads(line[6:]), time.perf_counter()))

    threading.Thread(target=read, daemon=True).start()
    return events


def _latencies(a_port: int, console: str, fake, aes_key: str) -> tuple[list[float], list[float]]:
    from tests.wechat.channel.pushes import WeChatSim, new_openid

    sim = WeChatSim(f"http://127.0.0.1:{a_port}/webhooks/wechat/webhook", TOKEN, aes_key, APPID,
                    account=ACCOUNT)
    openid = new_openid()
    sim.send(sim.text(openid, QUESTION))
    sim.send(sim.text(openid, "转人工"))
    http, csrf = _agent_session(console)
    rows = http.get(console + "/api/agent/conversations?state=waiting").json()["conversations"]
    cid = next(c["id"] for c in rows if c["citizen"].endswith(openid[-4:]))
    events = _sse(http, console)
    events.get(timeout=30)  # hello
    r = http.post(f"{console}/api/agent/conversations/{cid}/takeover", headers={"X-CSRF-Token": csrf})
    r.raise_for_status()
    console_s, delivery_s = [], []
    for i in range(ROUNDS):
        text = f"第{i}条：请问还需要什么材料？"
        start = time.perf_counter()
        reply = sim.send(sim.text(openid, text))
        if reply.text:
            raise RuntimeError(f"the bot answered during a take-over: {reply.text}")
        while True:
            event, data, at = events.get(timeout=30)
            if event == "message" and data["message"]["text"] == text:
                console_s.append(at - start)
                break
        answer = f"第{i}条回复：请带身份证原件。"
        before = len(fake.sent(openid))
        start = time.perf_counter()
        r = http.post(f"{console}/api/agent/conversations/{cid}/messages", json={"text": answer},
                      headers={"X-CSRF-Token": csrf})
        if r.status_code != 201:
            raise RuntimeError(f"agent message refused: {r.status_code} {r.text}")
        while len(fake.sent(openid)) == before:
            time.sleep(0.001)
        delivery_s.append(time.perf_counter() - start)
    http.post(f"{console}/api/agent/conversations/{cid}/release", headers={"X-CSRF-Token": csrf})
    return console_s, delivery_s


def _turn_cost(a_port: int, b_port: int) -> tuple[list[float], list[float]]:
    on, off = [], []
    for n in range(TURNS):
        for port, out in ((a_port, on), (b_port, off)) if n % 2 else ((b_port, off), (a_port, on)):
            sender = f"bench.{port}.{n}.{time.monotonic_ns()}"  # a dot: never an openid
            start = time.perf_counter()
            body = _post_rest(port, sender, QUESTION)
            out.append(time.perf_counter() - start)
            if "出生" not in "\n".join(m.get("text", "") for m in body):
                raise RuntimeError(f"unexpected answer: {body}")
    return on, off


def _hook_alone() -> float:
    """Seconds per call of the tracker-store hook on a tracker that is not paused."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.handoff import feed

    tracker = DialogueStateTracker.from_events("bench", [UserUttered("孩子出生要办什么"),
                                                         ActionExecuted("action_bundle_overview"),
                                                         BotUttered("新生儿出生…")])
    events = list(tracker.events)
    n = 200_000
    start = time.perf_counter()
    for _ in range(n):
        feed.on_saved(tracker, events)
    return (time.perf_counter() - start) / n


def _pending_alone() -> float:
    """Seconds per REST turn of the pending-message lookup when nothing is pending."""
    from bot.handoff.service import Handoff

    h = Handoff()
    n = 2000
    start = time.perf_counter()
    for i in range(n):
        h.take_pending(f"bench.nothing.{i}")
    return (time.perf_counter() - start) / n


def _ms(xs: list[float], q: float | None = None) -> str:
    value = statistics.median(xs) if q is None else percentile(xs, q)
    return f"{value * 1000:8.1f}"


def main() -> int:
    from tests.wechat.channel.pushes import new_aes_key
    from wechat.fake import FakeWeChat

    model = prepare_database()
    fake = FakeWeChat({APPID: SECRET})
    api_base, aes_key = fake.start(), new_aes_key()
    procs, a_port, b_port, console_port = _start(model, api_base, aes_key)
    console = f"http://127.0.0.1:{console_port}"
    try:
        for port in (a_port, b_port):  # warm-up: first turns load lazily
            for n in range(3):
                _post_rest(port, f"warm.{port}.{n}", QUESTION)
        console_s, delivery_s = _latencies(a_port, console, fake, aes_key)
        on, off = _turn_cost(a_port, b_port)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
        fake.stop()
    hook, pending = _hook_alone(), _pending_alone()
    print(f"\nhandoff latencies, {ROUNDS} rounds (one follower taken over, WeChat safe mode)")
    print(f"{'':48}{'p50 ms':>8}{'p99 ms':>8}")
    print(f"{'console event (push sent → SSE event)':48}{_ms(console_s)}{_ms(console_s, 99)}")
    print(f"{'agent message (POST → WeChat has it)':48}{_ms(delivery_s)}{_ms(delivery_s, 99)}")
    print(f"\ncost of the handoff check on a bot turn, {TURNS} REST FAQ turns each, interleaved")
    print(f"{'':48}{'p50 ms':>8}{'mean ms':>8}")
    print(f"{'with the handoff (feed on)':48}{_ms(on)}{statistics.mean(on) * 1000:8.1f}")
    print(f"{'without (HANDOFF_FEED=0)':48}{_ms(off)}{statistics.mean(off) * 1000:8.1f}")
    print(f"{'ratio with / without':48}{statistics.median(on) / statistics.median(off):8.3f}"
          f"{statistics.mean(on) / statistics.mean(off):8.3f}")
    print(f"\nthe tracker-store hook alone, tracker not paused: {hook * 1e9:.0f} ns per turn "
          f"({hook / statistics.median(off) * 100:.4f} % of a turn)")
    print(f"the REST channel's pending-message lookup, nothing pending: {pending * 1e6:.0f} µs "
          f"per turn ({pending / statistics.median(off) * 100:.2f} % of a turn)")
    print(f"so the handoff check costs a REST turn {1 + (hook + pending) / statistics.median(off):.4f}"
          " × (WeChat and mini-program turns: the hook only); the end-to-end ratio above also"
          " carries the run's noise (2 shared cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
