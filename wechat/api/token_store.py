"""The access_token row of each AppID (table wechat_tokens; this module owns it).

One row per AppID: the token, encrypted (bot.privacy.crypto), the moment we stop
using it (`expires_at`), a `generation` that grows with every fetch, and the lease
of the one process fetching a new token (`lease_owner`, `lease_until`). Every move
is one conditional UPDATE, so it works the same on SQLite and PostgreSQL and two
processes never both win. wechat.api.token decides when to fetch; this decides who.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.clock import aware, now
from bot.models import WeChatToken
from bot.privacy import crypto


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    generation: int
    expires_at: datetime  # when we stop using it (before WeChat's own expiry)

    def fresh(self, at: datetime | None = None) -> bool:
        return (at or now()) < self.expires_at


@dataclass(frozen=True)
class Lease:
    """This process may fetch a new token now."""

    previous: str | None = field(repr=False)  # the stored token (to spot WeChat repeating it)
    invalidated: bool  # the stored token was reported bad (not merely old)


class TokenStore:
    def __init__(self, appid: str, sessions: sessionmaker | None = None):
        self.appid = appid
        self._sessions = sessions
        self._row_ready = False

    def _db(self) -> sessionmaker:
        if self._sessions is None:
            from bot.db import session_factory

            self._sessions = session_factory()
        return self._sessions

    def _ensure_row(self) -> None:
        if self._row_ready:
            return
        sessions = self._db()
        with sessions() as s:
            exists = s.get(WeChatToken, self.appid) is not None
        if not exists:
            try:
                with sessions.begin() as s:
                    s.add(WeChatToken(appid=self.appid, generation=0, updated_at=now()))
            except IntegrityError:
                pass  # another process created it first
        self._row_ready = True

    def read_or_lease(self, owner: str, lease_seconds: float) -> AccessToken | Lease | None:
        """The stored token while usable; else a lease to fetch one (for `owner`), or
        None while another process holds the lease."""
        self._ensure_row()
        sessions = self._db()
        current = now()
        with sessions() as s:
            row = s.get(WeChatToken, self.appid)
            if row is None:  # deleted under us (the cache was cleared): recreate, retry
                self._row_ready = False
                return None
            if row.ciphertext and row.expires_at is not None and aware(row.expires_at) > current:
                return AccessToken(crypto.decrypt(row.ciphertext), row.generation,
                                   aware(row.expires_at))
        with sessions.begin() as s:
            won = s.execute(
                update(WeChatToken)
                .where(WeChatToken.appid == self.appid,
                       or_(WeChatToken.lease_until.is_(None), WeChatToken.lease_until < current),
                       or_(WeChatToken.expires_at.is_(None), WeChatToken.expires_at <= current))
                .values(lease_owner=owner, lease_until=current + timedelta(seconds=lease_seconds),
                        updated_at=current)
                .execution_options(synchronize_session=False)
            ).rowcount == 1
        if not won:
            return None
        with sessions() as s:
            row = s.execute(select(WeChatToken).where(WeChatToken.appid == self.appid)).scalar_one()
            previous = crypto.decrypt(row.ciphertext) if row.ciphertext else None
            return Lease(previous, invalidated=bool(row.ciphertext) and row.expires_at is None)

    def store(self, owner: str, value: str, expires_in: int, margin: float) -> AccessToken | None:
        """Publish a fetched token (only while `owner` still holds the lease)."""
        current = now()
        safety = min(margin, expires_in * 0.1)
        usable_until = current + timedelta(seconds=max(1.0, expires_in - safety))
        with self._db().begin() as s:
            stored = s.execute(
                update(WeChatToken)
                .where(WeChatToken.appid == self.appid, WeChatToken.lease_owner == owner)
                .values(ciphertext=crypto.encrypt(value), expires_at=usable_until,
                        generation=WeChatToken.generation + 1, lease_owner=None,
                        lease_until=None, updated_at=current)
                .execution_options(synchronize_session=False)
            ).rowcount == 1
            if not stored:
                return None
            generation = s.execute(select(WeChatToken.generation)
                                   .where(WeChatToken.appid == self.appid)).scalar_one()
        return AccessToken(value, generation, usable_until)

    def release(self, owner: str) -> None:
        with self._db().begin() as s:
            s.execute(update(WeChatToken)
                      .where(WeChatToken.appid == self.appid, WeChatToken.lease_owner == owner)
                      .values(lease_owner=None, lease_until=None, updated_at=now())
                      .execution_options(synchronize_session=False))

    def invalidate(self, generation: int) -> bool:
        """WeChat rejected the token of `generation`: drop it unless already replaced."""
        with self._db().begin() as s:
            return s.execute(
                update(WeChatToken)
                .where(WeChatToken.appid == self.appid, WeChatToken.generation == generation,
                       WeChatToken.expires_at.is_not(None))
                .values(expires_at=None, updated_at=now())
                .execution_options(synchronize_session=False)
            ).rowcount == 1
