"""API keys of department systems: shown once at creation, stored as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.db import session_factory
from bot.models import Department, DepartmentKey

PREFIX = "yjsdk_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class DepartmentKeys:
    def __init__(self, sessions: sessionmaker | None = None):
        self._sessions = sessions or session_factory()

    def create(self, department_id: str, label: str | None = None) -> str:
        key = PREFIX + secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            if session.get(Department, department_id) is None:
                raise LookupError(f"unknown department {department_id!r}")
            session.add(DepartmentKey(department_id=department_id, key_hash=_hash(key), label=label,
                                      created_at=datetime.now(timezone.utc)))
        return key

    def authenticate(self, key: str | None) -> str | None:
        """The department that owns `key`, or None for a wrong or revoked key."""
        if not key or not key.startswith(PREFIX) or len(key) > 200:
            return None
        digest = _hash(key)
        with self._sessions() as session:
            row = session.execute(select(DepartmentKey).where(DepartmentKey.key_hash == digest)
                                  ).scalar_one_or_none()
        if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
            return None
        return row.department_id

    def revoke(self, department_id: str) -> int:
        with self._sessions.begin() as session:
            rows = session.execute(select(DepartmentKey).where(
                DepartmentKey.department_id == department_id, DepartmentKey.revoked_at.is_(None))
            ).scalars().all()
            for row in rows:
                row.revoked_at = datetime.now(timezone.utc)
            return len(rows)
