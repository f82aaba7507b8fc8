"""Pushed messages, deduplicated across all server processes (table wechat_inbound).

WeChat retries a push it got no answer for within 5 s, up to three times, and may
send a retry before the first request has finished. Each message therefore gets one
row, keyed by the sender and MsgId (events: FromUserName+CreateTime+Event) — MsgId
alone is not unique across citizens, and one citizen's answer must never reach
another — and only the process that inserted the row, or took over its expired
lease, runs the dialogue. This module owns the table: everything else (the turn
machinery, notification delivery, retention) goes through its functions.

States (every move is a compare-and-set in the database, so two processes never both
win):

    processing --(answer ready in time)--> replied   the passive reply is stored
    processing --(budget spent / retry)--> async     the answer goes out by customer
    async      --(answer delivered)------> done      service message when ready
    replied    --(a retry came anyway)---> done      also sent by customer service
    any        --(could not finish)------> failed

The owner renews `lease_until` while it works. A row still processing/async with an
expired lease belongs to a crashed process: a retry or the sweeper takes it over and
runs the dialogue from the request stored in `reply` (encrypted at rest).
The row's `reply` JSON also keeps the numbered choices offered to the citizen, so
that a later "1" can be sent to Rasa as that button's payload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db import session_factory
from bot.models import WeChatInbound
from bot.nonces import insert_ignoring_duplicates

PROCESSING, REPLIED, ASYNC, DONE, FAILED = "processing", "replied", "async", "done", "failed"
OWNED = (PROCESSING, ASYNC)
ANSWERED = (REPLIED, ASYNC, DONE)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def message_key(msg: Any) -> str:
    """FromUserName+MsgId for messages; FromUserName+CreateTime (+Event) for events."""
    data = getattr(msg, "_data", {})
    openid = str(data.get("FromUserName") or "").strip()
    msg_id = str(data.get("MsgId") or "").strip()
    if msg_id:
        return f"msg:{openid}:{msg_id}"[:128]
    event = str(data.get("Event") or data.get("MsgType") or "").strip().lower()
    return f"evt:{openid}:{data.get('CreateTime', '')}:{event}"[:128]


@dataclass
class Entry:
    key: str
    openid: str
    state: str
    reply: dict = field(default_factory=dict)
    received_at: datetime | None = None
    lease_until: datetime | None = None

    @property
    def request(self) -> dict | None:
        return self.reply.get("request")


@dataclass(frozen=True)
class Claim:
    """acquired: this process must run the dialogue. recovered: a crashed owner's row."""

    acquired: bool
    entry: Entry
    recovered: bool = False


def _entry(row: WeChatInbound) -> Entry:
    return Entry(row.key, row.openid, row.state, dict(row.reply or {}), row.received_at,
                 row.lease_until)


class Inbox:
    def __init__(self, sessions: sessionmaker | None = None, lease_seconds: float = 15.0):
        self._sessions = sessions or session_factory()
        self.lease = timedelta(seconds=lease_seconds)

    # -- claiming ----------------------------------------------------------------

    def claim(self, key: str, openid: str, request: dict | None = None,
              guard: Callable[[Session], None] | None = None) -> Claim:
        """Insert the row (first delivery) or take over an expired lease (crash).

        `guard(session)` runs first in the same transaction and may raise to refuse the
        push (the channel records the push's nonce there: one commit for both)."""
        now = _now()
        with self._sessions.begin() as session:
            if guard is not None:
                guard(session)
            inserted = insert_ignoring_duplicates(
                session, WeChatInbound, key=key, openid=openid, state=PROCESSING,
                reply={"request": request} if request else None,
                received_at=now, updated_at=now, lease_until=now + self.lease)
        if inserted:
            return Claim(True, Entry(key, openid, PROCESSING, {"request": request} if request
                                     else {}, now, now + self.lease))
        with self._sessions.begin() as session:
            taken = session.execute(
                update(WeChatInbound)
                .where(WeChatInbound.key == key, WeChatInbound.state.in_(OWNED),
                       (WeChatInbound.lease_until.is_(None)) | (WeChatInbound.lease_until < now))
                .values(lease_until=now + self.lease, updated_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
        entry = self.get(key)
        if entry is None:  # deleted in between: extremely unlikely; treat as new
            return self.claim(key, openid, request)
        return Claim(bool(taken), entry, recovered=bool(taken))

    def save_request(self, key: str, request: dict) -> None:
        """What goes to Rasa (vaulted), kept so a crashed turn can be re-run."""
        with self._sessions.begin() as session:
            row = session.get(WeChatInbound, key)
            if row is not None:
                row.reply = {**(row.reply or {}), "request": request}
                row.updated_at = _now()

    def renew(self, key: str) -> None:
        now = _now()
        with self._sessions.begin() as session:
            session.execute(
                update(WeChatInbound)
                .where(WeChatInbound.key == key, WeChatInbound.state.in_(OWNED))
                .values(lease_until=now + self.lease, updated_at=now)
                .execution_options(synchronize_session=False))

    # -- finishing ---------------------------------------------------------------

    def _move(self, key: str, from_states: tuple[str, ...], to_state: str,
              reply: dict | None = None, keep_lease: bool = False) -> bool:
        # A conditional UPDATE, not read-modify-write: SQLite does not lock on SELECT.
        now = _now()
        values: dict[str, Any] = {"state": to_state, "updated_at": now}
        if reply is not None:  # the whole JSON: callers pass the request along
            values["reply"] = reply
        if not keep_lease:
            values["lease_until"] = None
        with self._sessions.begin() as session:
            return bool(session.execute(
                update(WeChatInbound)
                .where(WeChatInbound.key == key, WeChatInbound.state.in_(from_states))
                .values(**values)
                .execution_options(synchronize_session=False)
            ).rowcount)

    def finish_passive(self, key: str, reply: dict) -> bool:
        """processing → replied, `reply` replacing the row's JSON (keep "request" in it).
        False: the turn went async meanwhile (deliver it so)."""
        return self._move(key, (PROCESSING,), REPLIED, reply)

    def to_async(self, key: str) -> bool:
        """processing → async (the HTTP answer is "success"). False: already replied/async."""
        return self._move(key, (PROCESSING,), ASYNC, keep_lease=True)

    def finish_async(self, key: str, reply: dict, delivered: bool = True) -> None:
        self._move(key, OWNED, DONE if delivered else FAILED, reply)

    def take_resend(self, key: str, reply: dict) -> bool:
        """replied → done: this caller (one retry only) sends the stored answer again by
        customer-service message. The reply is marked "passive": later retries still
        get it as their passive reply."""
        return self._move(key, (REPLIED,), DONE, {**reply, "passive": True})

    def resend_failed(self, key: str) -> None:
        self._move(key, (DONE,), FAILED)

    def record(self, key: str, openid: str, reply: dict) -> Claim:
        """A push answered without a dialogue (event, unsupported type): one row, replied."""
        claim = self.claim(key, openid)
        if claim.acquired:
            self.finish_passive(key, reply)
        return claim

    # -- reading -----------------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        with self._sessions() as session:
            row = session.get(WeChatInbound, key)
            return _entry(row) if row is not None else None

    def last_choices(self, openid: str, before_key: str | None = None) -> list[dict]:
        """The numbered choices of the newest answered turn of this citizen."""
        with self._sessions() as session:
            query = (select(WeChatInbound)
                     .where(WeChatInbound.openid == openid, WeChatInbound.state.in_(ANSWERED))
                     .order_by(WeChatInbound.received_at.desc()).limit(5))
            for row in session.execute(query).scalars():
                if row.key == before_key:
                    continue
                return list((row.reply or {}).get("choices") or [])
        return []

    def last_message_at(self, openid: str) -> datetime | None:
        """When this citizen last wrote (opens WeChat's 48 h customer-service window)."""
        from bot.clock import aware

        with self._sessions() as session:
            return aware(session.execute(select(func.max(WeChatInbound.received_at))
                                         .where(WeChatInbound.openid == openid)).scalar())

    def purge(self, older_than: timedelta) -> int:
        """Delete finished rows older than `older_than` (retention; rows still being
        answered are kept)."""
        cutoff = _now() - older_than
        with self._sessions.begin() as session:
            return session.execute(
                delete(WeChatInbound)
                .where(WeChatInbound.received_at < cutoff, WeChatInbound.state.not_in(OWNED))
                .execution_options(synchronize_session=False)).rowcount

    def abandoned(self, max_age: timedelta = timedelta(hours=1), limit: int = 20) -> list[Entry]:
        """Rows whose owner died (lease expired while processing/async), oldest first."""
        now = _now()
        with self._sessions() as session:
            rows = session.execute(
                select(WeChatInbound)
                .where(WeChatInbound.state.in_(OWNED), WeChatInbound.lease_until < now,
                       WeChatInbound.received_at > now - max_age)
                .order_by(WeChatInbound.received_at).limit(limit)
            ).scalars().all()
            return [_entry(r) for r in rows]
