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
