"""At rest and in bounds: conversations encrypted in the tracker store, the retention
job, single-use nonces."""

import asyncio
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.config import ROOT
from bot.nonces import NEW, OTHER, SAME, Nonces, digest
from bot.tracker_store import EncryptedSQLTrackerStore

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def _store(path: Path) -> EncryptedSQLTrackerStore:
    return EncryptedSQLTrackerStore(host=None, domain=DOMAIN, dialect="sqlite", db=str(path))


def _tracker(sender: str, when: float) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(sender, [
        UserUttered("我叫陈晓琳", timestamp=when),
        BotUttered("请核对：广州市天河区体育西路101号1201房", timestamp=when + 1)], DOMAIN.slots)


def test_tracker_events_are_encrypted_and_the_file_is_private(tmp_path):
    path = tmp_path / "tracker.db"
    store = _store(path)
    asyncio.run(store.save(_tracker("o" + "t" * 27, time.time())))
    raw = path.read_bytes()
    assert "陈晓琳".encode() not in raw and "体育西路".encode() not in raw
    assert (path.stat().st_mode & 0o777) == 0o600
    again = asyncio.run(_store(path).retrieve("o" + "t" * 27))
    assert [e.as_dict().get("text") for e in again.events][-2:] == [
        "我叫陈晓琳", "请核对：广州市天河区体育西路101号1201房"]


def test_events_written_before_encryption_stay_readable(tmp_path):
    import json

    import sqlalchemy as sa

    path = tmp_path / "tracker.db"
    store = _store(path)
    event = UserUttered("旧消息", timestamp=time.time()).as_dict()
    with store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO events (sender_id, type_name, timestamp, data) "
                             "VALUES ('old', 'user', :t, :d)"), {"t": event["timestamp"],
                                                                  "d": json.dumps(event)})
    assert asyncio.run(store.retrieve("old")).events[0].text == "旧消息"


def test_retention_purges_idle_conversations_and_old_rows(tmp_path, database_url, monkeypatch):
    from bot.db import session_scope
    from bot.models import VaultEntry, WeChatInbound
    from bot.retention import run_once

    store = _store(tmp_path / "tracker.db")
    now = time.time()
    asyncio.run(store.save(_tracker("idle-citizen", now - 40 * 86400)))
    asyncio.run(store.save(_tracker("recent-citizen", now - 3600)))
    old = datetime.now(timezone.utc) - timedelta(days=40)
    with session_scope() as s:
        s.add(WeChatInbound(key="msg:retention:1", openid="o" + "r" * 27, state="replied",
                            reply={"text": "x"}, received_at=old, updated_at=old))
        s.add(VaultEntry(token="retention1", kind="phone", owner="x", ciphertext="x",
                         created_at=old))
    monkeypatch.setenv("YJS_RETENTION_DAYS", "30")
    done = run_once(store)
    assert done["conversations"] == 2 and done["inbound"] >= 1 and done["vault"] >= 1
    assert asyncio.run(store.retrieve("idle-citizen")) is None
    assert asyncio.run(store.retrieve("recent-citizen")) is not None
    with session_scope() as s:
        assert s.get(WeChatInbound, "msg:retention:1") is None
        assert s.get(VaultEntry, "retention1") is None


def test_a_nonce_is_single_use_across_processes_but_a_retry_is_the_same(database_url):
    first, other_process = Nonces("wechat", ttl=60), Nonces("wechat", ttl=60)
    key = f"{int(time.time())}:{time.monotonic_ns()}"
    assert first.use(key, digest(b"body")) == NEW
    assert other_process.use(key, digest(b"body")) == SAME
    assert other_process.use(key, digest(b"other body")) == OTHER
    assert Nonces("miniprogram", ttl=60).use(key, digest(b"other body")) == NEW  # own scope


def test_a_long_conversation_reaches_rasa_bounded_and_is_stored_whole(tmp_path):
    """Issue 13: the tracker Rasa gets stays ~TRACKER_WINDOW events however long the
    session, with the slots and the active form of the older events; every event is
    stored; a second process (another store on the same database) sees the first's
    turns and the first sees the second's."""
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet

    from bot.tracker_store import WINDOW

    path = tmp_path / "tracker.db"
    store, other = _store(path), _store(path)

    async def talk() -> None:
        await store.get_or_create_tracker("long")
        for n in range(60):
            t = await store.retrieve("long")
            t.update(UserUttered(f"问题{n}", parse_data={"intent": {"name": "greet"}}))
            if n == 3:
                t.update(SlotSet("bundle", "newborn"))
            if n == 5:
                t.update(ActiveLoop("guide_form"))
            for event in (ActionExecuted("utter_greet"), BotUttered(f"答{n}"),
                          ActionExecuted("action_listen")):
                t.update(event)
            await store.save(t)

    asyncio.run(talk())
    t = asyncio.run(store.retrieve("long"))
    assert len(t.events) <= WINDOW * 2
    assert t.get_slot("bundle") == "newborn" and t.active_loop_name == "guide_form"
    assert t.latest_message.text == "问题59"
    from rasa.shared.core.events import ConversationPaused, SessionStarted

    from bot.tracker_store import compact

    old = [SessionStarted().as_dict(), ConversationPaused().as_dict()] + [
        UserUttered(f"{n}").as_dict() for n in range(3 * WINDOW)]
    assert len(compact(old)) < len(old)
    assert DialogueStateTracker.from_dict("p", compact(old), DOMAIN.slots).is_paused()
    t2 = asyncio.run(other.retrieve("long"))
    t2.update(UserUttered("另一个进程"))
    asyncio.run(other.save(t2))
    assert asyncio.run(store.retrieve("long")).latest_message.text == "另一个进程"
    full = asyncio.run(store.retrieve_full_tracker("long"))
    assert sum(isinstance(e, UserUttered) for e in full.events) == 61
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
