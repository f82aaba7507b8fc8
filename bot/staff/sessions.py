"""Server-side console sessions (table staff_sessions).

The browser holds a random 256-bit token in an HttpOnly cookie; the table holds
only its SHA-256, so a copy of the database cannot be replayed. A session ends
at its absolute expiry (STAFF_SESSION_TTL, default 12 h — one shift), after
STAFF_SESSION_IDLE seconds without a request (default 30 min), at logout, or
when the account's password changes or the account is disabled. Roles are read
from the account on every request, so taking a role away takes effect at once.

Each session has its own CSRF token (random, returned at login and by
/api/staff/me) that every state-changing request must echo in X-CSRF-Token.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import aware, now
from bot.db import session_factory
from bot.models import StaffAccount, StaffSession
from bot.staff.accounts import ROLES
from bot.staff.audit import Actor

DEFAULT_TTL = 12 * 3600
DEFAULT_IDLE = 30 * 60
TOUCH_EVERY = 60  # seconds: last_seen_at is written at most this often (or idle/10)
MAX_TOKEN_CHARS = 128
KEEP_ENDED = timedelta(days=1)  # ended sessions are purged after this


def _seconds(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def session_ttl() -> int:
    return _seconds("STAFF_SESSION_TTL", DEFAULT_TTL)


def idle_timeout() -> int:
    return _seconds("STAFF_SESSION_IDLE", DEFAULT_IDLE)


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """A live session and its account, as the web layer sees it."""

    session_id: str
    account_id: int
    username: str
    display_name: str | None
    roles: tuple[str, ...]
    csrf: str
    created_at: datetime
    expires_at: datetime
    idle_expires_at: datetime
    ip: str | None

    def has(self, role: str) -> bool:
        return role in self.roles

    def actor(self, ip: str | None = None) -> Actor:
        return Actor(self.username, self.account_id, ip or self.ip)


class StaffSessions:
    def __init__(self, sessions: sessionmaker | None = None, ttl: int | None = None,
                 idle: int | None = None):
        self._sessions = sessions or session_factory()
        self.ttl = ttl or session_ttl()
        self.idle = idle or idle_timeout()

    def create(self, account_id: int, *, ip: str | None = None, user_agent: str | None = None,
               replaces: str | None = None) -> tuple[str, Principal]:
        """A new session (token, principal). Any session the browser presented (`replaces`)
        ends: a login never keeps a token chosen before it (no session fixation)."""
        token = secrets.token_urlsafe(32)
        t = now()
        with self._sessions.begin() as session:
            if replaces and len(replaces) <= MAX_TOKEN_CHARS:
                session.execute(update(StaffSession).where(
                    StaffSession.id == token_id(replaces), StaffSession.revoked_at.is_(None)
                ).values(revoked_at=t))
            session.execute(delete(StaffSession).where(StaffSession.expires_at < t - KEEP_ENDED))
            session.add(StaffSession(
                id=token_id(token), account_id=account_id, csrf=secrets.token_urlsafe(32),
                created_at=t, last_seen_at=t, expires_at=t + timedelta(seconds=self.ttl),
                ip=(ip or None) and ip[:64], user_agent=(user_agent or None) and user_agent[:200]))
        principal = self.validate(token, at=t)
        assert principal is not None
        return token, principal

    def validate(self, token: str | None, at: datetime | None = None) -> Principal | None:
        """The principal of a live session, or None (unknown, ended, expired, idle too
        long, or its account disabled). Refreshes the idle clock."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        t = at or now()
        sid = token_id(token)
        with self._sessions() as session:
            found = session.execute(
                select(StaffSession, StaffAccount).join(
                    StaffAccount, StaffAccount.id == StaffSession.account_id
                ).where(StaffSession.id == sid)).first()
            if found is None:
                return None
            row, account = found
            last_seen = aware(row.last_seen_at)
            if (row.revoked_at is not None or account.disabled or aware(row.expires_at) <= t
                    or last_seen + timedelta(seconds=self.idle) <= t):
                return None
            roles = tuple(r.role for r in account.roles)
            if (t - last_seen).total_seconds() >= min(TOUCH_EVERY, self.idle / 10):
                session.execute(update(StaffSession).where(StaffSession.id == sid)
                                .values(last_seen_at=t))
                session.commit()
                last_seen = t
            return Principal(
                sid, account.id, account.username, account.display_name,
                tuple(r for r in ROLES if r in roles), row.csrf, aware(row.created_at),
                aware(row.expires_at), last_seen + timedelta(seconds=self.idle), row.ip)

    def revoke(self, token: str | None) -> bool:
        """Logout: the session ends now. False when there was no live session."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return False
        with self._sessions.begin() as session:
            result = session.execute(update(StaffSession).where(
                StaffSession.id == token_id(token), StaffSession.revoked_at.is_(None)
            ).values(revoked_at=now()))
            return result.rowcount > 0

    def revoke_account(self, account_id: int, session: Session | None = None) -> int:
        """End every session of an account (password change, disabled account)."""
        stmt = update(StaffSession).where(StaffSession.account_id == account_id,
                                          StaffSession.revoked_at.is_(None)
                                          ).values(revoked_at=now())
        if session is not None:
            return session.execute(stmt).rowcount
        with self._sessions.begin() as own:
            return own.execute(stmt).rowcount

    def live_count(self, account_id: int) -> int:
        t = now()
        with self._sessions() as session:
            rows = session.execute(select(StaffSession).where(
                StaffSession.account_id == account_id, StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > t)).scalars()
            return sum(1 for r in rows
                       if aware(r.last_seen_at) + timedelta(seconds=self.idle) > t)
