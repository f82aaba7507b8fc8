"""wechat/inbox.py on the real (migrated) test database: claims, state moves, leases."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from sqlalchemy import update

from bot.db import session_scope
from bot.models import WeChatInbound
from wechat.inbox import ASYNC, DONE, PROCESSING, REPLIED, Inbox


def _key() -> str:
    return f"msg:test-{uuid.uuid4().hex}"


def test_one_claim_wins_among_concurrent_deliveries(database_url):
    inbox, key = Inbox(), _key()
    barrier = threading.Barrier(6)

    def claim(_):
        barrier.wait()
        return Inbox().claim(key, "o" + "1" * 27).acquired

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(claim, range(6)))
    assert results.count(True) == 1
    assert inbox.get(key).state == PROCESSING


def test_passive_and_async_are_exclusive(database_url):
    inbox = Inbox()
    key = _key()
    inbox.claim(key, "o" + "2" * 27)
    assert inbox.finish_passive(key, {"text": "好的", "choices": []})
    assert not inbox.to_async(key)  # already replied: a retry gets the stored reply
    assert inbox.get(key).state == REPLIED and inbox.get(key).reply["text"] == "好的"

    key = _key()
    inbox.claim(key, "o" + "2" * 27, request={"text": "你好"})
    assert inbox.to_async(key)
    assert not inbox.finish_passive(key, {"text": "迟到的答复"})  # must go by customer service
    inbox.finish_async(key, {"text": "迟到的答复", "choices": [], "request": {"text": "你好"}})
    entry = inbox.get(key)
    assert entry.state == DONE and entry.request == {"text": "你好"}


def test_expired_lease_is_taken_over_once(database_url):
    inbox, key = Inbox(lease_seconds=30), _key()
    assert inbox.claim(key, "o" + "3" * 27, request={"text": "孩子出生要办什么"}).acquired
    assert not inbox.claim(key, "o" + "3" * 27).acquired  # live owner
    with session_scope() as session:
        session.execute(update(WeChatInbound).where(WeChatInbound.key == key).values(
            lease_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert key in [e.key for e in inbox.abandoned()]
    claim = inbox.claim(key, "o" + "3" * 27)
    assert claim.acquired and claim.recovered and claim.entry.request["text"] == "孩子出生要办什么"
    assert not inbox.claim(key, "o" + "3" * 27).acquired


def test_last_choices_are_the_newest_answered_turn(database_url):
    inbox, openid = Inbox(), "o" + uuid.uuid4().hex[:27]
    first, second, third = _key(), _key(), _key()
    inbox.claim(first, openid)
    inbox.finish_passive(first, {"text": "a", "choices": [{"title": "A", "payload": "/a"}]})
    time.sleep(0.01)
    inbox.claim(second, openid)
    inbox.finish_passive(second, {"text": "b", "choices": [{"title": "B", "payload": "/b"}]})
    time.sleep(0.01)
    inbox.claim(third, openid)  # the turn being answered now does not count
    assert inbox.last_choices(openid, third) == [{"title": "B", "payload": "/b"}]
    assert inbox.to_async(third)
    assert inbox.get(third).state == ASYNC
