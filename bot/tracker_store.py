"""Rasa's SQL tracker store with every event encrypted at rest.

Conversations hold what citizens and the bot said: names, addresses, the bot's
summaries. Rasa's SQLTrackerStore keeps each event as clear JSON in `events.data`;
this subclass stores it as Fernet ciphertext (the data key, bot.privacy.crypto)
and reads both (rows written before it was configured stay readable). The other
columns (sender id, event type, intent and action names, timestamp) stay as they
are: Rasa queries by them and they hold no free text. A SQLite file is created
readable by its owner only.

endpoints.yml (bot.run writes it):  tracker_store: {type: bot.tracker_store.EncryptedSQLTrackerStore, …}

`purge(older_than)` deletes whole conversations whose last event is older
(the retention job, bot.retention).

Throughput (issue 13: a turn must cost about what Rasa costs, and not grow with
the conversation). Rasa's SQL store reads and replays every event of the session
on each turn, counts them again to save, and reads the whole tracker once more to
stream to the event broker. Here instead:

* each process keeps the conversations it served (LRU, TRACKER_CACHE senders) as
  clear event JSON; a turn checks one indexed `max(id), count(*)` row and reads
  only rows another process wrote since (none when the balancer routes a citizen
  to one process), so nothing is decrypted twice;
* bounded history: a session longer than TRACKER_WINDOW·1.5 events is handed to
  Rasa as its current slots and active form (synthetic events, never stored)
  followed by the last ~TRACKER_WINDOW events, starting at a citizen's message.
  The policies look back a few turns (MemoizationPolicy max_history 5, rules
  shorter) and the actions read only the latest messages, so the answer is the
  same and the cost of a turn stays flat; every event is still stored;
* save writes exactly the events added since retrieve (no count query) and
  publishes those same events to the broker (no second read);
* SQLite in WAL mode with synchronous=NORMAL, and indices on (sender_id, id) and
  (sender_id, type_name, timestamp) for the session-start lookup.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.handoff import feed as handoff_feed
from bot.handoff import guard as handoff_guard
from bot.privacy import crypto

logger = logging.getLogger(__name__)

PREFIX = "fernet:"
CACHE_SIZE = int(os.environ.get("TRACKER_CACHE") or 4096)
WINDOW = int(os.environ.get("TRACKER_WINDOW") or 60)
_STORED = "_yjs_stored"  # attribute on a retrieved tracker: how many of its events are stored


def seal(data: dict) -> str:
    return PREFIX + crypto.encrypt(json.dumps(data, ensure_ascii=False))


def unseal(stored: str) -> dict:
    if stored.startswith(PREFIX):
        return json.loads(crypto.decrypt(stored[len(PREFIX):]))
    return json.loads(stored)  # written before encryption was configured


def _private_sqlite(dialect: str, db: str) -> None:
    if dialect != "sqlite" or not db or db == ":memory:":
        return
    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


@dataclass
class _Conversation:
    """What this process knows of one sender's stored events."""

    last_id: int
    rows: int  # rows stored for the sender, all sessions
    events: list[str] = field(default_factory=list)  # clear JSON since the session start


def _since_session_start(events: list[str], new: list[tuple[str, str]]) -> list[str]:
    for type_name, data in new:
        if type_name == SessionStarted.type_name:
            events = []
        events.append(data)
    return events


def compact(events: list[dict], window: int = WINDOW) -> list[dict]:
    """The session as Rasa needs it: unchanged up to window·1.5 events; longer, the
    state the older events left (slots, active form) and then the latest events from
    a citizen's message on, about `window` of them. An agent's take-over (pause) that
    began in the older events is kept too."""
    if len(events) <= window + window // 2:
        return events
    cut = next((i for i in range(len(events) - window, len(events))
                if events[i].get("event") == "user"), None)
    if cut is None or cut == 0:
        return events
    head = [events[0]] if events[0].get("event") == SessionStarted.type_name else []
    slots: dict[str, Any] = {}
    loop, paused = None, False
    for e in events[:cut]:
        kind = e.get("event")
        if kind == "slot":
            slots[e.get("name")] = e.get("value")
        elif kind == "active_loop":
            loop = e.get("name")
        elif kind in ("pause", "resume"):  # an agent's take-over (bot.handoff)
            paused = kind == "pause"
        elif kind in ("restart", "reset_slots"):
            slots, loop = {}, None
    when = events[cut].get("timestamp") or time.time()
    state = [{"event": "slot", "name": k, "value": v, "timestamp": when} for k, v in slots.items()]
    if loop:
        state.append({"event": "active_loop", "name": loop, "timestamp": when})
    if paused:
        state.append({"event": "pause", "timestamp": when})
    state.append({"event": "action", "name": ACTION_LISTEN_NAME, "timestamp": when})
    return head + state + events[cut:]


class EncryptedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, domain=None, dialect: str = "sqlite", host=None, port=None,
                 db: str = "rasa.db", username=None, password=None, event_broker=None,
                 login_db=None, query=None, **kwargs: Any) -> None:
        _private_sqlite(dialect, db)
        handoff_guard.install()  # a paused (taken-over) tracker's slots stay as they are
        crypto.data_key()  # no key, no store: fail at start, not at the first message
        super().__init__(domain, dialect, host, port, db, username, password, event_broker,
                         login_db, query, **kwargs)
        self._cache: OrderedDict[str, _Conversation] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._tune()

    def _tune(self) -> None:
        """WAL for SQLite (readers never wait for the writer), and the indices the
        per-turn queries use."""
        if self.engine.dialect.name == "sqlite":
            @sa.event.listens_for(self.engine, "connect")
            def _pragmas(conn, _record) -> None:
                cur = conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()
            self.engine.dispose()  # pooled connections get the pragmas too
        with self.engine.begin() as conn:
            for name, cols in (("ix_yjs_events_sender_id_id", "sender_id, id"),
                               ("ix_yjs_events_session", "sender_id, type_name, timestamp")):
                conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON events ({cols})"))

    # -- the per-process cache ----------------------------------------------------

    def _remember(self, sender_id: str, conv: _Conversation | None) -> None:
        with self._cache_lock:
            if conv is None:
                self._cache.pop(sender_id, None)
                return
            self._cache[sender_id] = conv
            self._cache.move_to_end(sender_id)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    def cache_clear(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def _load(self, session, sender_id: str, last_id: int, rows: int) -> _Conversation:
        events = [json.dumps(unseal(row.data), ensure_ascii=False) for row in self._event_query(
            session, sender_id, fetch_events_from_all_sessions=False).all()]
        return _Conversation(last_id, rows, events)

    def _current(self, sender_id: str) -> _Conversation | None:
        event = self.SQLEvent
        with self.session_scope() as session:
            last_id, rows = session.execute(
                sa.select(sa.func.max(event.id), sa.func.count(event.id))
                .where(event.sender_id == sender_id)).one()
            if last_id is None:
                self._remember(sender_id, None)
                return None
            with self._cache_lock:
                conv = self._cache.get(sender_id)
            if conv is not None and last_id > conv.last_id:
                # written by another process (a failover): read just those rows
                new = session.query(event.type_name, event.data).filter(
                    event.sender_id == sender_id, event.id > conv.last_id).order_by(event.id).all()
                if conv.rows + len(new) == rows:
                    conv = _Conversation(last_id, rows, _since_session_start(
                        list(conv.events), [(t, json.dumps(unseal(d), ensure_ascii=False))
                                            for t, d in new]))
                else:
                    conv = None
            elif conv is not None and (last_id != conv.last_id or rows != conv.rows):
                conv = None  # rows deleted (retention): read again
            if conv is None:
                conv = self._load(session, sender_id, last_id, rows)
        events = compact([json.loads(e) for e in conv.events])
        if len(events) < len(conv.events):  # keep the cache bounded too
            conv = _Conversation(conv.last_id, conv.rows,
                                 [json.dumps(e, ensure_ascii=False) for e in events])
        self._remember(sender_id, conv)
        return conv

    async def _retrieve(self, sender_id: str,
                        fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        if fetch_events_from_all_sessions:  # the full history (API, consoles): as stored
            with self.session_scope() as session:
                rows = self._event_query(session, sender_id,
                                         fetch_events_from_all_sessions=True).all()
                events = [unseal(row.data) for row in rows]
            if self.domain and events:
                return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
            return None
        conv = self._current(sender_id)
        if not self.domain or conv is None or not conv.events:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, [json.loads(e) for e in conv.events],
                                                 self.domain.slots)
        setattr(tracker, _STORED, len(tracker.events))
        return tracker

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Done by save(), with the events it stores (no second read of the tracker)."""

    async def save(self, tracker: DialogueStateTracker) -> None:
        stored = getattr(tracker, _STORED, None)
        with self.session_scope() as session:
            if stored is None:  # not from retrieve (a new tracker): Rasa's way
                new_events = list(self._additional_events(session, tracker))
            else:
                new_events = list(itertools.islice(tracker.events, stored, None))
            if not new_events:
                return
            rows, clear = [], []
            for event in new_events:
                data = event.as_dict()
                rows.append(self.SQLEvent(
                    sender_id=tracker.sender_id, type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    action_name=data.get("name"), data=seal(data)))
                clear.append((event.type_name, json.dumps(data, ensure_ascii=False)))
            session.add_all(rows)
            session.flush()
            last_id = rows[-1].id
            session.commit()
        setattr(tracker, _STORED, len(tracker.events))
        with self._cache_lock:
            conv = self._cache.get(tracker.sender_id)
        if conv is not None and last_id is not None and stored is not None:
            # another process's rows in between show up as a count mismatch next turn
            self._remember(tracker.sender_id, _Conversation(
                last_id, conv.rows + len(rows), _since_session_start(list(conv.events), clear)))
        else:
            self._remember(tracker.sender_id, None)
        if self.event_broker is not None:
            await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
        # A taken-over conversation's citizen messages reach the agent's console
        # (bot.handoff.feed: one in-memory check for every other turn).
        handoff_feed.on_saved(tracker, new_events)

    def purge(self, older_than_seconds: float) -> int:
        """Delete conversations whose newest event is older than the cutoff."""
        cutoff = time.time() - older_than_seconds
        event = self.SQLEvent
        with self.session_scope() as session:
            stale = (session.query(event.sender_id).group_by(event.sender_id)
                     .having(sa.func.max(event.timestamp) < cutoff).subquery())
            deleted = (session.query(event).filter(event.sender_id.in_(sa.select(stale.c.sender_id)))
                       .delete(synchronize_session=False))
            session.commit()
        self.cache_clear()
        if deleted:
            logger.info("retention: %d tracker events of old conversations deleted", deleted)
        return deleted
