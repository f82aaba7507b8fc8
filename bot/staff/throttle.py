"""Login throttling (table staff_login_throttle), shared by every backend process.

Failures are counted per username and per client address within a window
(15 min). Past a free allowance (5 per username, 20 per address) each further
failure locks that key for twice as long as the last: 1 s, 2 s, 4 s … up to
15 min. While a key is locked the login is refused (429) without checking the
password, so guessing cannot go on at full speed whoever's username is tried —
existing or not, the behaviour is the same. A successful login clears its
username's count (not the address's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import sessionmaker

from bot.clock import aware, now
from bot.db import session_factory
from bot.models import StaffLoginThrottle
from bot.staff.accounts import normalize_username


@dataclass(frozen=True)
class Limits:
    user_free: int = 5
    ip_free: int = 20
    window: int = 15 * 60  # seconds
    max_lock: int = 15 * 60


def user_key(username: str) -> str:
    return "user:" + normalize_username(username)[:64]


def ip_key(ip: str | None) -> str | None:
    return ("ip:" + ip[:64]) if ip else None


class LoginThrottle:
    def __init__(self, sessions: sessionmaker | None = None, limits: Limits | None = None):
        self._sessions = sessions or session_factory()
        self.limits = limits or Limits()

    def _keys(self, username: str, ip: str | None) -> list[tuple[str, int]]:
        keys = [(user_key(username), self.limits.user_free)]
        if ip_key(ip):
            keys.append((ip_key(ip), self.limits.ip_free))
        return keys

    def wait(self, username: str, ip: str | None, at: datetime | None = None) -> int:
        """Seconds before this username may try again from this address (0: now)."""
        t = at or now()
        keys = [k for k, _ in self._keys(username, ip)]
        with self._sessions() as session:
            locks = session.execute(select(StaffLoginThrottle.locked_until).where(
                StaffLoginThrottle.key.in_(keys))).scalars().all()
        waits = [(aware(u) - t).total_seconds() for u in locks if u is not None]
        return max([0, *(math.ceil(w) for w in waits if w > 0)])

    def failed(self, username: str, ip: str | None, at: datetime | None = None) -> int:
        """Count one failure; returns the lock (seconds) it set, 0 when none."""
        t = at or now()
        cutoff = t - timedelta(seconds=self.limits.window)
        longest = 0
        with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            session.execute(delete(StaffLoginThrottle).where(
                StaffLoginThrottle.last_failure_at < cutoff,
                or_(StaffLoginThrottle.locked_until.is_(None),
                    StaffLoginThrottle.locked_until < t)))
            for key, free in self._keys(username, ip):
                values = {"key": key, "failures": 0, "first_failure_at": t, "last_failure_at": t}
                if dialect == "postgresql":
                    ins = postgresql.insert(StaffLoginThrottle).values(**values)
                else:
                    ins = sqlite.insert(StaffLoginThrottle).values(**values)
                session.execute(ins.on_conflict_do_nothing(index_elements=["key"]))
                stale = StaffLoginThrottle.last_failure_at < cutoff
                # One atomic statement per key: concurrent failures from several
                # processes are all counted (the row stays locked until commit).
                session.execute(update(StaffLoginThrottle).where(
                    StaffLoginThrottle.key == key).values(
                    failures=case((stale, 1), else_=StaffLoginThrottle.failures + 1),
                    first_failure_at=case((stale, t), else_=StaffLoginThrottle.first_failure_at),
                    last_failure_at=t))
                failures = session.execute(select(StaffLoginThrottle.failures).where(
                    StaffLoginThrottle.key == key)).scalar_one()
                if failures > free:
                    lock = min(self.limits.max_lock, 2 ** min(failures - free - 1, 20))
                    session.execute(update(StaffLoginThrottle).where(
                        StaffLoginThrottle.key == key).values(
                        locked_until=t + timedelta(seconds=lock)))
                    longest = max(longest, lock)
        return longest

    def succeeded(self, username: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(StaffLoginThrottle).where(
                StaffLoginThrottle.key == user_key(username)))

    def failures(self, key: str) -> int:
        with self._sessions() as session:
            value = session.execute(select(StaffLoginThrottle.failures).where(
                StaffLoginThrottle.key == key)).scalar_one_or_none()
        return value or 0
