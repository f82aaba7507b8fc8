"""make bench-scale: msgs/s of 2 Rasa processes behind HAProxy against 1, same run.

Both topologies are started by `python -m bot.run --scale N` on the same shared
stores (PostgreSQL tracker store, Redis lock store, RabbitMQ event broker; a scratch
database, key prefix and queue of their own), and measured with the same load as
bench-turns (benchmarks.turns.load: the 15 FAQ turns, 1 client, then 8). On a
machine with 2 cores, 2 Rasa processes (+ 2 action servers + HAProxy) can at best
use both cores: read the ratio against what the cores allow, not as ×2.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import uuid

from benchmarks.turns import CLIENTS, WORKDIR, free_port, load, ms, warm_up
from bot.config import ROOT


def _start(scale: int, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    from bot.run import wait_until_up

    port = free_port()
    var = WORKDIR / f"scale-{scale}"
    var.mkdir(exist_ok=True)
    env = {**env, "RASA_PORT": str(port), "ACTIONS_PORT": str(free_port()),
           "CONSOLE_PORT": str(free_port()), "YJS_VAR_DIR": str(var)}
    log = open(var / "run.log", "ab")  # noqa: SIM115 - lives as long as the servers
    proc = subprocess.Popen([sys.executable, "-m", "bot.run", "--scale", str(scale)], cwd=ROOT,
                            env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    if not wait_until_up(f"{url}/", 400, proc):
        proc.send_signal(signal.SIGINT)
        raise RuntimeError(f"--scale {scale} did not start; see {var / 'run.log'}")
    if scale > 1:  # every process up, not only the first
        import re

        config = (var / "haproxy.cfg").read_text()
        for p in re.findall(r"server rasa\d 127\.0\.0\.1:(\d+)", config):
            wait_until_up(f"http://127.0.0.1:{p}/", 400, proc)
    return proc, url


async def _delete_queue(name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(name)


def main() -> int:
    from sqlalchemy import create_engine, text

    from benchmarks.common import prepare_database

    prepare_database()
    tag = uuid.uuid4().hex[:8]
    db = f"yjs_perf_bench_{tag}"
    admin = create_engine("postgresql://postgres@127.0.0.1:5432/postgres",
                          isolation_level="AUTOCOMMIT", future=True)
    env = {**os.environ, "TRACKER_DB_URL": f"postgresql://postgres@127.0.0.1:5432/{db}",
           "REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_KEY_PREFIX": f"yjs_perf_{tag}",
           "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/",
           "RABBITMQ_QUEUE": f"yjs_perf_bench_{tag}"}
    rounds = int(os.environ.get("BENCH_ROUNDS", "4"))
    results = {}
    try:
        for scale in (1, 2):
            proc, url = _start(scale, env)
            try:
                asyncio.run(warm_up(url))
                one = asyncio.run(load(url, 1, rounds))
                many = asyncio.run(load(url, CLIENTS, max(1, rounds // 2)))
                results[scale] = (one, many)
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=120)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
        with contextlib.suppress(Exception):  # best effort clean-up
            asyncio.run(_delete_queue(env["RABBITMQ_QUEUE"]))
    print(f"\nbot.run --scale N on PostgreSQL + Redis + RabbitMQ, {os.cpu_count()} cores, "
          "shared and noisy: read the ratios\n")
    print("| | 1 process | 2 processes | ratio |\n|---|---|---|---|")
    for label, i in (("one client", 0), (f"{CLIENTS} clients", 1)):
        (xs1, r1), (xs2, r2) = results[1][i], results[2][i]
        print(f"| {label}, msgs/s | {r1:.1f} | {r2:.1f} | {r2 / r1:.2f} |")
        print(f"| {label}, p50 / p99 ms | {ms(xs1, 50):.0f} / {ms(xs1, 99):.0f} | "
              f"{ms(xs2, 50):.0f} / {ms(xs2, 99):.0f} | p50 ×{statistics.median(xs2) / statistics.median(xs1):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
