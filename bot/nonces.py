"""Single-use nonces of signed requests, shared by every server process
(table seen_nonces; this module owns it).

A signed request carries a nonce (and a timestamp checked for freshness). The
first use of a nonce records the digest of the body it came with; a later use
is either the very same request again (a retry: `SAME`) or something else under
a used nonce (`OTHER`: a replay or forgery). Rows outlive the freshness window
and are then purged: an older request is refused for being stale anyway.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import aware, now
from bot.models import SeenNonce

NEW, SAME, OTHER = "new", "same", "other"
_PURGE_EVERY = 500


def insert_ignoring_duplicates(session: Session, model, **values) -> bool:
    """INSERT … ON CONFLICT DO NOTHING (SQLite, PostgreSQL): True when a row went in.
    Unlike catching IntegrityError it leaves the caller's transaction usable."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return session.execute(insert(model).values(**values).on_conflict_do_nothing()).rowcount == 1


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()


class Nonces:
    def __init__(self, scope: str, ttl: float, sessions: sessionmaker | None = None):
        self.scope, self.ttl = scope, timedelta(seconds=ttl)
        self._sessions = sessions
        self._uses = 0

    def _db(self) -> sessionmaker:
        if self._sessions is None:
            from bot.db import session_factory

            self._sessions = session_factory()
        return self._sessions

    def use(self, key: str, body_digest: str) -> str:
        """NEW the first time `key` is seen; then SAME (same digest) or OTHER."""
        with self._db().begin() as s:
            return self.check(s, key, body_digest)

    def check(self, session: Session, key: str, body_digest: str) -> str:
        """`use`, inside the caller's transaction (so recording the nonce costs no commit
        of its own: the WeChat channel records it with the inbox row)."""
        key = key[:128]
        current = now()
        self._uses += 1
        if self._uses % _PURGE_EVERY == 0:
            session.execute(delete(SeenNonce).where(SeenNonce.scope == self.scope,
                                                    SeenNonce.expires_at < current)
                            .execution_options(synchronize_session=False))
        if insert_ignoring_duplicates(session, SeenNonce, scope=self.scope, key=key,
                                      digest=body_digest, expires_at=current + self.ttl):
            return NEW
        row = session.execute(select(SeenNonce).where(SeenNonce.scope == self.scope,
                                                      SeenNonce.key == key)).scalar_one_or_none()
        if row is None or aware(row.expires_at) < current:
            return OTHER  # long expired: such a request is refused as stale anyway
        return SAME if row.digest == body_digest else OTHER

    def purge(self) -> int:
        with self._db().begin() as s:
            return s.execute(delete(SeenNonce).where(SeenNonce.scope == self.scope,
                                                     SeenNonce.expires_at < now())
                             .execution_options(synchronize_session=False)).rowcount
