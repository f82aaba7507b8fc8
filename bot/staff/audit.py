"""The audit log: who did what, to which conversation or application, when, from where.

Append-only: this module only ever INSERTs into `audit_log`, and the database
refuses UPDATE and DELETE on it (triggers, migration 0004_staff). Admins read it
(GET /api/admin/audit, the admin console).

Later features call `record()` for each thing a person does through a console:

    from bot.staff import audit
    audit.record("agent.takeover", actor=staff.actor, conversation=conversation_id)
    audit.record("application.lookup", actor=staff.actor, application="YJS-20261128-000001")
    audit.record("model.publish", actor=staff.actor, target=model_id, detail={"from": old})

Pass `session=` to write in the caller's transaction (the change and its audit
entry commit together, or neither). Free text in `detail` is masked (身份证号,
phone numbers), and keys that look like secrets are refused outright, so a
password can never reach the log by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import aware, now
from bot.db import session_factory
from bot.models import AuditEntry
from bot.privacy.masking import mask_text

# The actions the staff layer records itself; later features add their own names
# (agent.takeover, agent.message, agent.release, application.lookup, editor.edit,
# editor.training, model.publish, model.rollback …): "<area>.<verb>", lower case.
LOGIN = "staff.login"  # outcome ok | failed
LOGIN_LOCKED = "staff.login_locked"  # a username or address reached the failure limit
LOGOUT = "staff.logout"
PASSWORD_CHANGED = "staff.password_changed"
ACCOUNT_CREATED = "account.created"
ACCOUNT_UPDATED = "account.updated"
AUDIT_READ = "audit.read"

OUTCOMES = ("ok", "failed", "denied")
ACTION_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
SECRET_KEY_RE = re.compile(r"passw|pwd|secret|token|csrf|cookie|hash|api_?key|private_?key",
                           re.IGNORECASE)
MAX_DETAIL_CHARS = 4000
MAX_PAGE = 200


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff account (name and id), the command line, or the system."""

    name: str
    account_id: int | None = None
    ip: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        import getpass

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(f"cli:{user}"[:64])


SYSTEM = Actor("system")


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    actor: str | None
    action: str
    outcome: str
    conversation: str | None
    application: str | None
    target: str | None
    detail: dict | None
    ip: str | None

    def as_json(self) -> dict:
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor,
                "action": self.action, "outcome": self.outcome,
                "conversation": self.conversation, "application": self.application,
                "target": self.target, "detail": self.detail, "ip": self.ip}


def _clean(value: Any, path: str = "detail") -> Any:
    """JSON-able, masked, secret-free copy of a detail value."""
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{path}: keys must be strings")
            if SECRET_KEY_RE.search(k):
                raise ValueError(f"{path}.{k}: secrets never go into the audit log")
            out[k] = _clean(v, f"{path}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_clean(v, path) for v in value]
    raise TypeError(f"{path}: {type(value).__name__} is not JSON")


def _short(value: str | None, size: int) -> str | None:
    return None if value is None else mask_text(str(value))[:size]


class AuditLog:
    def __init__(self, sessions: sessionmaker | None = None):
        self._sessions = sessions or session_factory()

    def record(self, action: str, *, actor: Actor | None, outcome: str = "ok",
               conversation: str | None = None, application: str | None = None,
               target: str | None = None, detail: dict | None = None,
               ip: str | None = None, session: Session | None = None) -> None:
        """Append one entry (in `session`'s transaction when given, else its own)."""
        if not ACTION_RE.match(action) or len(action) > 48:
            raise ValueError(f"audit action {action!r} is not '<area>.<verb>'")
        if outcome not in OUTCOMES:
            raise ValueError(f"audit outcome {outcome!r} not in {OUTCOMES}")
        cleaned = _clean(detail) if detail is not None else None
        if cleaned is not None and len(repr(cleaned)) > MAX_DETAIL_CHARS:
            raise ValueError("audit detail too large")
        row = AuditEntry(
            at=now(), actor=_short(actor.name, 64) if actor else None,
            actor_id=actor.account_id if actor else None, action=action, outcome=outcome,
            conversation=_short(conversation, 128), application=_short(application, 32),
            target=_short(target, 128), detail=cleaned,
            ip=_short(ip or (actor.ip if actor else None), 64))
        if session is not None:
            session.add(row)
            session.flush()
            return
        with self._sessions.begin() as own:
            own.add(row)

    def query(self, *, actor: str | None = None, action: str | None = None,
              outcome: str | None = None, conversation: str | None = None,
              application: str | None = None, target: str | None = None,
              since: datetime | None = None, until: datetime | None = None,
              before: int | None = None, limit: int = 50) -> tuple[list[Entry], int | None]:
        """Newest first. `action` ending in "." matches an area ("staff."). Returns the
        page and the `before` cursor of the next page (None at the end)."""
        limit = max(1, min(int(limit), MAX_PAGE))
        q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit + 1)
        if actor:
            q = q.where(AuditEntry.actor == actor)
        if action:
            q = q.where(AuditEntry.action.startswith(action, autoescape=True)
                        if action.endswith(".") else AuditEntry.action == action)
        for column, value in ((AuditEntry.outcome, outcome),
                              (AuditEntry.conversation, conversation),
                              (AuditEntry.application, application),
                              (AuditEntry.target, target)):
            if value:
                q = q.where(column == value)
        if since is not None:
            q = q.where(AuditEntry.at >= since)
        if until is not None:
            q = q.where(AuditEntry.at < until)
        if before is not None:
            q = q.where(AuditEntry.id < before)
        with self._sessions() as session:
            rows = session.execute(q).scalars().all()
        entries = [_entry(r) for r in rows[:limit]]
        return entries, (entries[-1].id if len(rows) > limit else None)

    def actions(self) -> list[str]:
        with self._sessions() as session:
            return sorted(session.execute(select(distinct(AuditEntry.action))).scalars())


def _entry(row: AuditEntry) -> Entry:
    return Entry(row.id, aware(row.at), row.actor, row.action, row.outcome, row.conversation,
                 row.application, row.target, row.detail, row.ip)


_default: AuditLog | None = None


def default() -> AuditLog:
    global _default
    if _default is None:
        _default = AuditLog()
    return _default


def record(action: str, *, actor: Actor | None, **kw: Any) -> None:
    """`AuditLog().record(…)` on the default database: the call later features use."""
    default().record(action, actor=actor, **kw)


def entries(**filters: Any) -> Iterable[Entry]:
    return default().query(**filters)[0]
