"""make bench-wechat: messages/s and latency through the WeChat channel (safe mode)
against the plain REST channel, on the same servers, in the same run.

Runs the real stack (action server, Rasa server with both channels, SQLite, a
loopback fake of WeChat's API servers) on a scratch database. Each message is a
FAQ question ("孩子出生要办什么") from a new citizen, so every request is one full
dialogue turn. REST: POST /webhooks/rest/webhook. WeChat: a push signed and
AES-encrypted exactly as WeChat's servers do it, answered by an encrypted passive
reply that is checked and decrypted on arrival (client-side crypto is timed too,
as WeChat pays it). The ratio is the cost of the channel: signature, freshness,
replay check, decryption, dedup row, ordering queue, vault, reply sealing.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WORKDIR = Path(tempfile.mkdtemp(prefix="yjs-bench-wechat-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORKDIR / 'bench.db'}"
os.environ.setdefault("YJS_DATA_KEY", __import__("cryptography.fernet").fernet.Fernet.generate_key().decode())
os.environ["YJS_VAR_DIR"] = str(WORKDIR)

from benchmarks.common import free_port, percentile, prepare_database  # noqa: E402
from bot.config import ROOT  # noqa: E402

MESSAGES = int(os.environ.get("BENCH_MESSAGES", "60"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
QUESTION = "孩子出生要办什么"
APPID, SECRET, TOKEN = "wxbench00000000001", "bench-secret-0123456789abcdef0123", "bench-token"
ACCOUNT = "gh_7f083739789a"



def _rest(port: int) -> Callable[[int], float]:
    def one(n: int) -> float:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/rest/webhook",
            data=json.dumps({"sender": f"rest-{n}-{time.monotonic_ns()}",
                             "message": QUESTION}).encode(),
            headers={"Content-Type": "application/json"}, method="POST")
        start = time.perf_counter()
        with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
            body = json.loads(resp.read())
        took = time.perf_counter() - start
        if "出生" not in "\n".join(m.get("text", "") for m in body):
            raise RuntimeError(f"unexpected REST answer: {body}")
        return took
    return one


def _wechat(port: int, aes_key: str) -> Callable[[int], float]:
    from tests.wechat.channel.pushes import WeChatSim, new_openid

    sim = WeChatSim(f"http://127.0.0.1:{port}/webhooks/wechat/webhook", TOKEN, aes_key, APPID,
                    account=ACCOUNT)

    def one(_n: int) -> float:
        xml = sim.text(new_openid(), QUESTION)
        start = time.perf_counter()
        reply = sim.send(xml)  # sign + encrypt, POST, verify + decrypt the passive reply
        took = time.perf_counter() - start
        if reply.status != 200 or "出生" not in reply.text:
            raise RuntimeError(f"unexpected WeChat answer ({reply.status}): {reply.body[:200]}")
        return took
    return one


def _start(model: Path, api_base: str, aes_key: str) -> tuple[list[subprocess.Popen], int]:
    from bot.model import rasa_env
    from bot.run import (
        action_server_cmd,
        action_server_env,
        rasa_server_cmd,
        wait_until_up,
        write_endpoints,
    )

    rasa_port, actions_port = free_port(), free_port()
    endpoints = write_endpoints(actions_port, WORKDIR)
    credentials = WORKDIR / "credentials.yml"
    credentials.write_text("channels.rest.RestInput:\nchannels.wechat.WeChatInput:\n",
                           encoding="utf-8")
    env = {**rasa_env(), **{k: os.environ[k] for k in ("DATABASE_URL", "YJS_DATA_KEY", "YJS_VAR_DIR")},
           "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET,
           "WECHAT_AES_KEY": aes_key, "WECHAT_API_BASE": api_base}
    server = rasa_server_cmd(model, rasa_port, endpoints)
    server[server.index("--credentials") + 1] = str(credentials)
    log = open(WORKDIR / "servers.log", "ab")  # noqa: SIM115 - lives as long as the servers
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=cmd_env, stdout=log, stderr=log)
             for cmd, cmd_env in ((action_server_cmd(actions_port), action_server_env(env)),
                                  (server, env))]
    if not (wait_until_up(f"http://127.0.0.1:{actions_port}/health", 120, procs[0])
            and wait_until_up(f"http://127.0.0.1:{rasa_port}/", 300, procs[1])):
        for p in procs:  # never leave a half-started server behind
            p.terminate()
        raise RuntimeError(f"servers did not start; see {WORKDIR / 'servers.log'}")
    return procs, rasa_port


def _run(one: Callable[[int], float], concurrency: int) -> tuple[list[float], float]:
    start = time.perf_counter()
    if concurrency == 1:
        seconds = [one(n) for n in range(MESSAGES)]
    else:
        with ThreadPoolExecutor(concurrency) as pool:
            seconds = list(pool.map(one, range(MESSAGES)))
    return seconds, MESSAGES / (time.perf_counter() - start)


def main() -> int:
    from tests.wechat.channel.pushes import new_aes_key
    from wechat.fake import FakeWeChat

    model = prepare_database()
    fake = FakeWeChat({APPID: SECRET})
    api_base, aes_key = fake.start(), new_aes_key()
    procs, port = _start(model, api_base, aes_key)
    rest, wechat = _rest(port), _wechat(port, aes_key)
    results: dict[tuple[str, int], tuple[list[float], float]] = {}
    try:
        for n in range(3):  # warm-up: first turns load lazily
            rest(n), wechat(n)
        for concurrency in (1, CONCURRENCY):
            for name, one in (("REST", rest), ("WeChat safe mode", wechat)):
                results[(name, concurrency)] = _run(one, concurrency)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
        fake.stop()
    print(f"\n{MESSAGES} messages per run (one FAQ turn each, new citizen each), same servers")
    print(f"{'':34}{'msg/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'ratio msg/s':>13}{'ratio p50':>11}")
    for concurrency in (1, CONCURRENCY):
        base_xs, base_rate = results[("REST", concurrency)]
        base_p50 = statistics.median(base_xs)
        for name in ("REST", "WeChat safe mode"):
            xs, rate = results[(name, concurrency)]
            label = f"{name}, {concurrency} at a time"
            print(f"{label:34}{rate:8.2f}{statistics.median(xs) * 1000:9.1f}"
                  f"{percentile(xs, 99) * 1000:9.1f}{rate / base_rate:13.2f}"
                  f"{statistics.median(xs) / base_p50:11.2f}")
    print("\nratios are WeChat / REST (msg/s: higher is better; p50: lower is better)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
