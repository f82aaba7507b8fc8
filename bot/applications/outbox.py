"""The durable outbox: citizen notifications written in the same transaction
as the change that causes them, delivered later by a sender (the WeChat
channel) that may be down without anything being lost.

This module owns the `outbox` table. Senders (wechat.delivery) claim rows with a
lease — `claim()` writes `claimed_until`, whose exact value is the claim's fencing
token — and close them with `finish()` / `release()`, which only succeed while
that claim is still theirs."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import aware
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


@dataclass(frozen=True)
class Claim:
    id: int
    recipient: str
    payload: dict
    created_at: datetime
    attempts: int
    until: datetime  # claimed_until as written: the fencing token


class Outbox:
    def __init__(self, sessions: sessionmaker | None = None):
        self._sessions = sessions or session_factory()

    # -- claims (several senders at once) ------------------------------------------

    def wake(self, recipient: str) -> int:
        """The citizen just wrote: messages waiting for their window become due now."""
        now = datetime.now(timezone.utc)
        with self._sessions.begin() as s:
            return s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.recipient == recipient, OutboxMessage.sent_at.is_(None),
                       OutboxMessage.next_attempt_at > now, OutboxMessage.attempts == 0)
                .values(next_attempt_at=now)
                .execution_options(synchronize_session=False)).rowcount

    def claim(self, lease: timedelta, batch: int, *, prefix: str | None = None,
              include_prefixed: bool = True, accept: Callable[[str], bool] = lambda _r: True,
              now: datetime | None = None) -> list[Claim]:
        """Claim up to `batch` due rows whose recipient `accept`s; rows whose recipient
        starts with `prefix` only when `include_prefixed`."""
        now = now or datetime.now(timezone.utc)
        free = (OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now))
        kinds = [] if prefix is None or include_prefixed else [~OutboxMessage.recipient.like(f"{prefix}%")]
        with self._sessions() as s:
            rows = s.execute(select(OutboxMessage.id, OutboxMessage.recipient)
                             .where(*free, *kinds)
                             .order_by(OutboxMessage.id).limit(batch * 3)).all()
        candidates = [r.id for r in rows if accept(r.recipient)]
        claims: list[Claim] = []
        for message_id in candidates[:batch]:
            # The fencing token: unique per claim thanks to the random microseconds.
            until = (now + lease + timedelta(seconds=1)).replace(
                microsecond=random.randrange(1_000_000))
            with self._sessions.begin() as s:
                won = s.execute(update(OutboxMessage)
                                .where(OutboxMessage.id == message_id, *free)
                                .values(claimed_until=until)
                                .execution_options(synchronize_session=False)).rowcount == 1
                if not won:
                    continue
                row = s.get(OutboxMessage, message_id)
                claims.append(Claim(row.id, row.recipient, dict(row.payload),
                                    aware(row.created_at), row.attempts, until))
        return claims

    def finish(self, claim: Claim, via: str, error: str | None = None) -> bool:
        """Mark sent (one UPDATE, right after WeChat accepted it). False: the claim was lost."""
        values: dict = {"sent_at": datetime.now(timezone.utc), "delivered_via": via,
                        "claimed_until": None}
        if error:
            values["last_error"] = error[:500]
        with self._sessions.begin() as s:
            return s.execute(update(OutboxMessage)
                             .where(OutboxMessage.id == claim.id,
                                    OutboxMessage.claimed_until == claim.until,
                                    OutboxMessage.sent_at.is_(None))
                             .values(**values)
                             .execution_options(synchronize_session=False)).rowcount == 1

    def release(self, claim: Claim, next_attempt: datetime, error: str, count: bool) -> None:
        """Give the row back, due again at `next_attempt` (`count`: one more attempt)."""
        values: dict = {"claimed_until": None, "next_attempt_at": next_attempt,
                        "last_error": error[:500]}
        if count:
            values["attempts"] = OutboxMessage.attempts + 1
        with self._sessions.begin() as s:
            s.execute(update(OutboxMessage)
                      .where(OutboxMessage.id == claim.id,
                             OutboxMessage.claimed_until == claim.until,
                             OutboxMessage.sent_at.is_(None))
                      .values(**values)
                      .execution_options(synchronize_session=False))

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
