"""The scale-out path: Rasa's tracker store on PostgreSQL, its lock store on Redis and
its event broker on RabbitMQ — run where the machine has them on their standard ports."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest

from tests.dialogue.conftest import RestChat, Stack

pytestmark = pytest.mark.model


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


needs_services = pytest.mark.skipif(
    not all(_listening(p) for p in (5432, 6379, 5672)),
    reason="PostgreSQL, Redis and RabbitMQ are not all running on their standard ports")


@pytest.fixture
def tracker_db():
    from sqlalchemy import create_engine, text

    name = f"yjs_tracker_{uuid.uuid4().hex[:8]}"
    admin = create_engine("postgresql://postgres@127.0.0.1:5432/postgres",
                          isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


async def _drain(queue_name: str) -> list[bytes]:
    import aio_pika

    connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, durable=True)
        bodies = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            bodies.append(message.body)
        await queue.delete(if_unused=False, if_empty=False)
        return bodies


@needs_services
def test_conversation_on_postgres_redis_and_rabbitmq(model_path, database_url, tmp_path,
                                                    tracker_db):
    import redis
    from sqlalchemy import create_engine, text

    queue = f"yjs_events_{uuid.uuid4().hex[:8]}"
    locks_before = redis.Redis().info("commandstats").get("cmdstat_set", {}).get("calls", 0)
    stack = Stack(model_path, tmp_path, env={
        "TRACKER_DB_URL": tracker_db, "REDIS_URL": "redis://127.0.0.1:6379/0",
        "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/", "RABBITMQ_QUEUE": queue}).start()
    try:
        chat = RestChat(stack)
        assert "新生儿出生" in chat.say("孩子出生要办什么")
        assert "出生医学证明" in chat.say("要带什么材料")
    finally:
        stack.stop()
    engine = create_engine(tracker_db, future=True)
    with engine.connect() as conn:
        users = conn.execute(text("SELECT count(*) FROM events WHERE sender_id = :s "
                                  "AND type_name = 'user'"), {"s": chat.sender}).scalar_one()
    engine.dispose()
    assert users == 2                                   # conversation kept in PostgreSQL
    events = asyncio.run(_drain(queue))
    assert sum(chat.sender.encode() in body for body in events) >= 4   # published to RabbitMQ
    locks_after = redis.Redis().info("commandstats").get("cmdstat_set", {}).get("calls", 0)
    assert locks_after > locks_before                    # tickets taken in the Redis lock store


def _haproxy() -> bool:
    from bot.scale import haproxy_binary

    return haproxy_binary() is not None


needs_haproxy = pytest.mark.skipif(not _haproxy(), reason="HAProxy is not installed "
                                   "(scripts/install-balancer.sh installs Debian's package)")

# Ten different everyday turns: the order they are stored in is the order they were sent.
CITIZEN_TURNS = ["你好", "孩子出生要办什么", "要带什么材料", "去哪里办", "要多久",
                 "要收费吗", "可以网上办吗", "退休要办什么", "需要什么材料", "谢谢"]


async def _citizen(session, url: str, sender: str, answered: list, retried: list) -> None:
    import aiohttp

    for turn, text in enumerate(CITIZEN_TURNS):
        # a client retries what was not answered, under the message's own id
        message = {"sender": sender, "message": text, "message_id": f"{sender}-{turn}"}
        for attempt in range(60):
            try:
                async with session.post(url, json=message) as resp:
                    body = await resp.json(content_type=None)
                    if resp.status == 200 and body:
                        answered.append((sender, text))
                        break
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                pass
            retried.append((sender, text, attempt))
            await asyncio.sleep(0.5)
        else:
            raise AssertionError(f"{sender}: {text!r} never answered")


async def _citizens(url: str, senders: list[str], kill) -> tuple[list, list]:
    import aiohttp

    answered, retried = [], []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        tasks = [asyncio.ensure_future(_citizen(session, url, s, answered, retried))
                 for s in senders]
        while (len(answered) < len(senders) * len(CITIZEN_TURNS) // 3
               and not any(t.done() for t in tasks)):
            await asyncio.sleep(0.05)
        kill()  # a third of the way through, one Rasa process dies
        await asyncio.gather(*tasks)
    return answered, retried


@needs_services
@needs_haproxy
def test_two_rasa_processes_keep_every_citizens_turns_in_order_through_a_kill(
        model_path, database_url, tmp_path, tracker_db):
    """20 citizens × 10 messages at once through HAProxy to 2 Rasa processes (PostgreSQL,
    Redis lock store, RabbitMQ); one process is killed a third of the way in. Every
    citizen's turns are stored once each, in the order sent."""
    import os
    import re
    import signal
    import subprocess
    import sys

    import redis
    from sqlalchemy import create_engine, text

    from tests.conftest import ROOT, free_port, wait_http

    tag = uuid.uuid4().hex[:8]
    queue, prefix = f"yjs_perf_events_{tag}", f"yjs_perf_{tag}"
    rasa_port = free_port()
    env = {**os.environ, "RASA_PORT": str(rasa_port), "ACTIONS_PORT": str(free_port()),
           "CONSOLE_PORT": str(free_port()), "DATABASE_URL": database_url,
           "YJS_VAR_DIR": str(tmp_path), "TRACKER_DB_URL": tracker_db,
           "REDIS_URL": "redis://127.0.0.1:6379/0", "REDIS_KEY_PREFIX": prefix,
           "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/", "RABBITMQ_QUEUE": queue}
    log = open(tmp_path / "run.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "bot.run", "--scale", "2"], cwd=ROOT, env=env,
                            stdout=log, stderr=log)
    try:
        wait_http(f"http://127.0.0.1:{rasa_port}/", proc, timeout=300)
        config = (tmp_path / "haproxy.cfg").read_text()
        ports = [int(p) for p in re.findall(r"server rasa\d 127\.0\.0\.1:(\d+)", config)]
        assert len(set(ports)) == 2
        for port in ports:  # both processes up, not just the first
            wait_http(f"http://127.0.0.1:{port}/", proc, timeout=300)

        def kill() -> None:
            pid = int((tmp_path / "run" / "rasa-server-0.pid").read_text())
            os.killpg(pid, signal.SIGKILL)

        senders = [f"scale-{tag}-{n:02d}" for n in range(20)]
        answered, retried = asyncio.run(_citizens(
            f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook", senders, kill))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)
        log.close()
        asyncio.run(_drain(queue))
        r = redis.Redis()
        for key in r.scan_iter(f"{prefix}*"):
            r.delete(key)
    assert len(answered) == 200
    engine = create_engine(tracker_db, future=True)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT sender_id, id FROM events WHERE type_name = 'user' "
                                 "AND sender_id LIKE :p ORDER BY id"), {"p": f"scale-{tag}-%"}).all()
        data = {row.id: row for row in conn.execute(text(
            "SELECT id, data FROM events WHERE type_name = 'user' AND sender_id LIKE :p"),
            {"p": f"scale-{tag}-%"})}
    engine.dispose()
    from bot.tracker_store import unseal

    said: dict[str, list[str]] = {s: [] for s in senders}
    for row in rows:
        said[row.sender_id].append(unseal(data[row.id].data)["text"])
    for sender in senders:  # none lost, none doubled, in the order sent
        assert said[sender] == CITIZEN_TURNS, (sender, said[sender], retried)
