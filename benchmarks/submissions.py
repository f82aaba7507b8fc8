"""make bench-submit: application submissions per second through the REST channel.

Runs the real stack (Rasa server with our REST channel, action server, SQLite)
on a scratch database and drives whole application conversations over
POST /webhooks/rest/webhook, one citizen at a time and several at once.
Baseline, measured in the same run: plain questions ("孩子出生要办什么")
through the same webhook, so the ratio is the cost of the application
machinery (vault, form dialog, database) per message.
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WORKDIR = Path(tempfile.mkdtemp(prefix="yjs-bench-"))
os.environ["DATABASE_URL"] = f"sqlite:///{WORKDIR / 'bench.db'}"
os.environ.setdefault("YJS_DATA_KEY", __import__("cryptography.fernet").fernet.Fernet.generate_key().decode())
os.environ["YJS_VAR_DIR"] = str(WORKDIR)

from benchmarks.common import free_port, percentile, prepare_database  # noqa: E402
from bot.config import ROOT  # noqa: E402

CITIZENS = int(os.environ.get("BENCH_CITIZENS", "12"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))
# 预防接种证 only: the shortest real form (about 10 messages from start to submit).
SCRIPT = ["孩子出生了要办什么", "我要申请", "2", None, "陈大文", "13800001111", "母亲", "陈小明",
          "男", "昨天", "广州市妇女儿童医疗中心", "广州市天河区体育西路101号", "确认提交"]
QUESTION = "孩子出生要办什么"



def _post(port: int, sender: str, text: str) -> tuple[float, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/rest/webhook",
                                 data=json.dumps({"sender": sender, "message": text}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
        body = json.loads(resp.read())
    return time.perf_counter() - start, "\n".join(m.get("text", "") for m in body)


def _id_for(n: int) -> str:
    body = f"440106199001{n % 28 + 1:02d}{n % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def _apply(port: int, n: int) -> list[float]:
    sender, seconds = f"bench-{n}-{time.monotonic_ns()}", []
    for line in SCRIPT:
        took, reply = _post(port, sender, line or _id_for(n))
        seconds.append(took)
    if "申请已提交" not in reply:
        raise RuntimeError(f"citizen {n} did not get to a submitted application: {reply[:200]}")
    return seconds


def _start(model: Path) -> tuple[list[subprocess.Popen], int]:
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
    env = {**rasa_env(), **{k: os.environ[k] for k in ("DATABASE_URL", "YJS_DATA_KEY", "YJS_VAR_DIR")}}
    log = open(WORKDIR / "servers.log", "ab")  # noqa: SIM115 - lives as long as the servers
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=cmd_env, stdout=log, stderr=log)
             for cmd, cmd_env in ((action_server_cmd(actions_port), action_server_env(env)),
                                  (rasa_server_cmd(model, rasa_port, endpoints), env))]
    if not (wait_until_up(f"http://127.0.0.1:{actions_port}/health", 120, procs[0])
            and wait_until_up(f"http://127.0.0.1:{rasa_port}/", 300, procs[1])):
        raise RuntimeError(f"servers did not start; see {WORKDIR / 'servers.log'}")
    return procs, rasa_port


def main() -> int:

    model = prepare_database()
    procs, port = _start(model)
    try:
        _post(port, "warm-up", QUESTION)
        base = [_post(port, f"faq-{i}", QUESTION)[0] for i in range(40)]
        start = time.perf_counter()
        serial = [s for n in range(CITIZENS) for s in _apply(port, n)]
        serial_rate = CITIZENS / (time.perf_counter() - start)
        start = time.perf_counter()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            parallel = [s for result in pool.map(lambda n: _apply(port, 1000 + n), range(CITIZENS))
                        for s in result]
        parallel_rate = CITIZENS / (time.perf_counter() - start)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
    per_app = len(SCRIPT)
    print(f"\n{CITIZENS} citizens × {per_app} messages (newborn, 1 item) via /webhooks/rest/webhook")
    print(f"{'':28}{'p50 ms':>10}{'p99 ms':>10}{'ratio p50':>11}")
    b50 = statistics.median(base) * 1000
    print(f"{'baseline: FAQ question':28}{b50:10.1f}{percentile(base, 99) * 1000:10.1f}{1:11.2f}")
    for name, xs in (("application, 1 at a time", serial), (f"application, {CONCURRENCY} at once", parallel)):
        p50 = statistics.median(xs) * 1000
        print(f"{name:28}{p50:10.1f}{percentile(xs, 99) * 1000:10.1f}{p50 / b50:11.2f}")
    print(f"\nsubmissions/s: {serial_rate:.2f} one at a time, {parallel_rate:.2f} with {CONCURRENCY} at once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
