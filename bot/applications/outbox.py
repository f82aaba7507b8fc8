"""The durable outbox: citizen notifications written in the same transaction
as the change that causes them, delivered later by a sender (the WeChat
channel) that may be down without anything being lost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import session_factory
from bot.models import OutboxMessage

MAX_BACKOFF = timedelta(hours=1)


def enqueue(session: Session, recipient: str, kind: str, text: str, **data) -> None:
    now = datetime.now(timezone.utc)
    session.add(OutboxMessage(recipient=recipient, kind=kind, payload={"text": text, **data},
                              created_at=now, next_attempt_at=now, attempts=0))


@dataclass(frozen=True)
class Notification:
    id: int
    recipient: str
    kind: str
    payload: dict
    attempts: int


class Outbox:
    def __init__(self, sessions: sessionmaker | None = None):
        self._sessions = sessions or session_factory()

    def due(self, limit: int = 50, now: datetime | None = None) -> list[Notification]:
        now = now or datetime.now(timezone.utc)
        with self._sessions() as session:
            rows = session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.id).limit(limit)
            ).scalars().all()
            return [Notification(r.id, r.recipient, r.kind, dict(r.payload), r.attempts) for r in rows]

    def for_recipient(self, recipient: str) -> list[Notification]:
        with self._sessions() as session:
            rows = session.execute(
                select(OutboxMessage).where(OutboxMessage.recipient == recipient)
                .order_by(OutboxMessage.id)
            ).scalars().all()
            return [Notification(r.id, r.recipient, r.kind, dict(r.payload), r.attempts) for r in rows]

    def mark_sent(self, message_id: int) -> None:
        with self._sessions.begin() as session:
            row = session.get(OutboxMessage, message_id)
            if row and row.sent_at is None:
                row.sent_at = datetime.now(timezone.utc)

    def mark_failed(self, message_id: int, error: str) -> None:
        """Retry later with exponential back-off (30 s, 1 min, 2 min … 1 h)."""
        with self._sessions.begin() as session:
            row = session.get(OutboxMessage, message_id)
            if row is None or row.sent_at is not None:
                return
            row.attempts += 1
            row.last_error = error[:500]
            delay = min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** (row.attempts - 1)))
            row.next_attempt_at = datetime.now(timezone.utc) + delay
