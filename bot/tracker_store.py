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
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.handoff import feed as handoff_feed
from bot.handoff import guard as handoff_guard
from bot.privacy import crypto

logger = logging.getLogger(__name__)

PREFIX = "fernet:"


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


class EncryptedSQLTrackerStore(SQLTrackerStore):
    def __init__(self, domain=None, dialect: str = "sqlite", host=None, port=None,
                 db: str = "rasa.db", username=None, password=None, event_broker=None,
                 login_db=None, query=None, **kwargs: Any) -> None:
        _private_sqlite(dialect, db)
        handoff_guard.install()  # a paused (taken-over) tracker's slots stay as they are
        crypto.data_key()  # no key, no store: fail at start, not at the first message
        super().__init__(domain, dialect, host, port, db, username, password, event_broker,
                         login_db, query, **kwargs)

    async def _retrieve(self, sender_id: str,
                        fetch_events_from_all_sessions: bool) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            rows = self._event_query(
                session, sender_id,
                fetch_events_from_all_sessions=fetch_events_from_all_sessions).all()
            events = [unseal(row.data) for row in rows]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        with self.session_scope() as session:
            new_events = list(self._additional_events(session, tracker))
            for event in new_events:
                data = event.as_dict()
                session.add(self.SQLEvent(
                    sender_id=tracker.sender_id, type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    action_name=data.get("name"), data=seal(data)))
            session.commit()
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
        if deleted:
            logger.info("retention: %d tracker events of old conversations deleted", deleted)
        return deleted
