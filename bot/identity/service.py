"""Who has verified which identity (table identity_verifications; this module owns it).

Only a sender some channel vouches for (a WeChat openid, a mini-program user,
see bot.senders) can verify: the open REST webhook has no identity to verify.
A passed verification binds that sender to one 身份证号 (kept as a blind index
only) for `IDENTITY_VALID_MINUTES` (60); pre-fill is then possible for that
身份证号 and no other. Starting verifications is rate-limited per sender (each
costs the provider a face check).
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import sessionmaker

from bot import senders
from bot.clock import aware, now
from bot.identity.provider import (
    EXPIRED,
    FAILED,
    PASSED,
    PENDING,
    HttpIdentityProvider,
    IdentityProvider,
    ProviderError,
)
from bot.models import IdentityVerification
from bot.privacy import crypto

log = logging.getLogger("bot.identity")

STARTS_PER_HOUR = 5


@dataclass(frozen=True)
class Status:
    state: str  # none | pending | passed | failed | expired | unavailable | limited
    url: str | None = None  # where to verify (pending)
    id_index: str | None = None  # passed: blind index of the verified 身份证号

    def matches(self, id_number: str) -> bool:
        return self.state == PASSED and self.id_index == crypto.blind_index(id_number)


def _valid_for() -> timedelta:
    return timedelta(minutes=float(os.environ.get("IDENTITY_VALID_MINUTES") or 60))


class Identities:
    def __init__(self, provider: IdentityProvider | None = None,
                 sessions: sessionmaker | None = None, valid_for: timedelta | None = None,
                 starts_per_hour: int = STARTS_PER_HOUR):
        self._provider = provider
        self._provider_loaded = provider is not None
        self._sessions = sessions
        self.valid_for = valid_for or _valid_for()
        self.starts_per_hour = starts_per_hour

    @property
    def provider(self) -> IdentityProvider | None:
        if not self._provider_loaded:
            self._provider, self._provider_loaded = HttpIdentityProvider.from_env(), True
        return self._provider

    def _db(self) -> sessionmaker:
        if self._sessions is None:
            from bot.db import session_factory

            self._sessions = session_factory()
        return self._sessions

    def available(self, sender: str) -> bool:
        """Whether this sender can verify at all (a provider, a vouched-for channel)."""
        return self.provider is not None and senders.vouched(sender)

    # -- reading -------------------------------------------------------------------

    def _latest(self, sender: str) -> IdentityVerification | None:
        with self._db()() as s:
            return s.execute(select(IdentityVerification)
                             .where(IdentityVerification.sender_index == crypto.blind_index(sender))
                             .order_by(IdentityVerification.id.desc()).limit(1)).scalar_one_or_none()

    def status(self, sender: str) -> Status:
        """Where this sender stands; a pending verification is asked about."""
        if not self.available(sender):
            return Status("unavailable")
        row = self._latest(sender)
        if row is None:
            return Status("none")
        current = now()
        if row.state == PENDING:
            if aware(row.expires_at) < current:
                self._set(row.id, EXPIRED)
                return Status(EXPIRED)
            try:
                result = self.provider.result(crypto.decrypt(row.ticket))
            except ProviderError as exc:
                log.warning("identity provider: %s", exc)
                return Status(PENDING, crypto.decrypt(row.url))
            if result.state == PASSED:
                id_index = crypto.blind_index(result.id_number)
                self._set(row.id, PASSED, id_index=id_index, verified_at=current,
                          expires_at=current + self.valid_for)
                log.info("identity verified for %s…", sender[:6])
                return Status(PASSED, id_index=id_index)
            if result.state in (FAILED, EXPIRED):
                self._set(row.id, result.state)
                return Status(result.state)
            return Status(PENDING, crypto.decrypt(row.url))
        if row.state == PASSED:
            if aware(row.expires_at) < current:
                return Status("none")  # expired: verify again
            return Status(PASSED, id_index=row.id_index)
        return Status(row.state)

    def pending_url(self, sender: str) -> str | None:
        """The page of this sender's verification in progress (no provider call)."""
        row = self._latest(sender)
        if row is None or row.state != PENDING or aware(row.expires_at) < now():
            return None
        return crypto.decrypt(row.url)

    def verified_for(self, sender: str, id_number: str) -> bool:
        return self.status(sender).matches(id_number)

    # -- writing -------------------------------------------------------------------

    def start(self, sender: str) -> Status:
        """A new verification for this sender: its page, or why not."""
        if not self.available(sender):
            return Status("unavailable")
        sender_index = crypto.blind_index(sender)
        current = now()
        with self._db()() as s:
            started = s.execute(select(func.count()).select_from(IdentityVerification)
                                .where(IdentityVerification.sender_index == sender_index,
                                       IdentityVerification.created_at > current - timedelta(hours=1))
                                ).scalar_one()
        if started >= self.starts_per_hour:
            return Status("limited")
        try:
            challenge = self.provider.start(secrets.token_hex(8))
        except ProviderError as exc:
            log.warning("identity provider: %s", exc)
            return Status("unavailable")
        with self._db().begin() as s:
            s.add(IdentityVerification(
                sender_index=sender_index, provider=self.provider.name,
                ticket=crypto.encrypt(challenge.ticket), url=crypto.encrypt(challenge.url),
                state=PENDING, created_at=current,
                expires_at=current + timedelta(seconds=challenge.expires_in)))
        return Status(PENDING, challenge.url)

    def _set(self, row_id: int, state: str, **values) -> None:
        with self._db().begin() as s:
            s.execute(update(IdentityVerification).where(IdentityVerification.id == row_id)
                      .values(state=state, **values).execution_options(synchronize_session=False))

    def purge(self, older_than: timedelta) -> int:
        """Forget verifications older than `older_than` (retention)."""
        with self._db().begin() as s:
            return s.execute(delete(IdentityVerification)
                             .where(IdentityVerification.created_at < now() - older_than)
                             .execution_options(synchronize_session=False)).rowcount
