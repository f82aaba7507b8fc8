"""Staff accounts and their roles (tables staff_accounts, staff_roles).

Roles: agent (hotline console), editor (content, training, evaluation),
publisher (publish / roll back), admin (accounts, audit). A role grants nothing
else: an admin is not an agent unless given both.

Every change is audited in the same transaction; a password change or a
disabled account ends that account's sessions at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import aware, now
from bot.db import session_factory
from bot.models import StaffAccount, StaffRole
from bot.staff import audit, passwords
from bot.staff.audit import Actor

AGENT, EDITOR, PUBLISHER, ADMIN = "agent", "editor", "publisher", "admin"
ROLES = (AGENT, EDITOR, PUBLISHER, ADMIN)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
MAX_DISPLAY_NAME = 64


class AccountError(ValueError):
    """code: bad_username, bad_role, no_role, exists, not_found, last_admin, or a
    WeakPassword code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str | None
    roles: tuple[str, ...]
    disabled: bool
    created_at: datetime
    updated_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None

    def has(self, role: str) -> bool:
        return role in self.roles

    def as_json(self) -> dict:
        return {"username": self.username, "display_name": self.display_name,
                "roles": list(self.roles), "disabled": self.disabled,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat(),
                "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None}


def normalize_username(name: str) -> str:
    return name.strip().lower() if isinstance(name, str) else ""


def check_username(name: str) -> str:
    username = normalize_username(name)
    if not USERNAME_RE.match(username):
        raise AccountError("bad_username", "a username is 1–32 characters: a–z, 0–9, '.', '_', "
                                           "'-', starting with a letter or digit")
    return username


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    chosen = []
    for role in roles:
        if role not in ROLES:
            raise AccountError("bad_role", f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        if role not in chosen:
            chosen.append(role)
    if not chosen:
        raise AccountError("no_role", "an account needs at least one role")
    return tuple(r for r in ROLES if r in chosen)  # canonical order


def _password_hash(password: str) -> str:
    try:
        return passwords.hash_password(password)
    except passwords.WeakPassword as exc:
        raise AccountError(exc.code, str(exc)) from None


def _view(row: StaffAccount) -> Account:
    roles = tuple(r for r in ROLES if r in {x.role for x in row.roles})
    return Account(row.id, row.username, row.display_name, roles, bool(row.disabled),
                   aware(row.created_at), aware(row.updated_at), aware(row.password_changed_at),
                   aware(row.last_login_at))


class StaffAccounts:
    def __init__(self, sessions: sessionmaker | None = None,
                 audit_log: audit.AuditLog | None = None):
        self._sessions = sessions or session_factory()
        self._audit = audit_log or audit.AuditLog(self._sessions)

    # -- reading ----------------------------------------------------------------
    def get(self, username: str) -> Account | None:
        with self._sessions() as session:
            row = self._row(session, normalize_username(username))
            return _view(row) if row else None

    def by_id(self, account_id: int) -> Account | None:
        with self._sessions() as session:
            row = session.get(StaffAccount, account_id)
            return _view(row) if row else None

    def list(self) -> list[Account]:
        with self._sessions() as session:
            rows = session.execute(select(StaffAccount).order_by(StaffAccount.username)).scalars()
            return [_view(r) for r in rows]

    def count(self) -> int:
        with self._sessions() as session:
            return session.execute(select(func.count(StaffAccount.id))).scalar_one()

    @staticmethod
    def _row(session: Session, username: str) -> StaffAccount | None:
        return session.execute(select(StaffAccount).where(StaffAccount.username == username)
                               ).scalar_one_or_none()

    # -- logging in -------------------------------------------------------------
    def authenticate(self, username: str, password: str) -> Account | None:
        """The account when the password is right and the account enabled, else None.

        Unknown and disabled accounts cost one argon2 verification like any other,
        so the time taken does not tell which case it was."""
        name = normalize_username(username)
        with self._sessions() as session:
            row = self._row(session, name) if USERNAME_RE.match(name) else None
            stored = row.password_hash if row is not None else None
        if not passwords.verify(stored, password) or row is None or row.disabled:
            return None
        with self._sessions.begin() as session:
            row = session.get(StaffAccount, row.id)
            row.last_login_at = now()
            if passwords.needs_rehash(row.password_hash):
                row.password_hash = passwords.hasher().hash(password)
            return _view(row)

    def verify_password(self, account_id: int, password: str) -> bool:
        with self._sessions() as session:
            row = session.get(StaffAccount, account_id)
            stored = row.password_hash if row is not None and not row.disabled else None
        return passwords.verify(stored, password)

    # -- changing ---------------------------------------------------------------
    def create(self, username: str, roles: Iterable[str], password: str, *, actor: Actor,
               display_name: str | None = None) -> Account:
        name, chosen = check_username(username), check_roles(roles)
        digest = _password_hash(password)
        display = _display(display_name)
        try:
            with self._sessions.begin() as session:
                if self._row(session, name) is not None:
                    raise AccountError("exists", f"account {name!r} exists")
                row = self._insert(session, name, chosen, digest, display)
                self._audit.record(audit.ACCOUNT_CREATED, actor=actor, target=name,
                                   detail={"roles": list(chosen)}, session=session)
                return _view(row)
        except IntegrityError:
            raise AccountError("exists", f"account {name!r} exists") from None

    def add_or_update(self, username: str, roles: Iterable[str], password: str, *,
                      actor: Actor) -> tuple[Account, bool]:
        """`yjs staff add`: create the account, or give an existing one these roles and
        this password (and enable it). Returns (account, created)."""
        name, chosen = check_username(username), check_roles(roles)
        digest = _password_hash(password)
        with self._sessions.begin() as session:
            row = self._row(session, name)
            if row is None:
                row = self._insert(session, name, chosen, digest, None)
                self._audit.record(audit.ACCOUNT_CREATED, actor=actor, target=name,
                                   detail={"roles": list(chosen)}, session=session)
                return _view(row), True
        return self.update(name, roles=chosen, password=password, disabled=False,
                           actor=actor), False

    def update(self, username: str, *, actor: Actor, roles: Iterable[str] | None = None,
               disabled: bool | None = None, password: str | None = None,
               display_name: str | None = None) -> Account:
        """Change roles, enabled state, password or display name; ends the account's
        sessions when the password changes or it is disabled. The last enabled admin
        cannot be disabled or lose the admin role."""
        from bot.staff.sessions import StaffSessions

        name = normalize_username(username)
        chosen = check_roles(roles) if roles is not None else None
        digest = _password_hash(password) if password is not None else None
        with self._sessions.begin() as session:
            row = self._row(session, name)
            if row is None:
                raise AccountError("not_found", f"no account {name!r}")
            before = _view(row)
            changes: dict = {}
            if chosen is not None and chosen != before.roles:
                current = {x.role: x for x in row.roles}
                for role, link in current.items():
                    if role not in chosen:
                        row.roles.remove(link)
                row.roles.extend(StaffRole(role=r) for r in chosen if r not in current)
                changes["roles"] = {"from": list(before.roles), "to": list(chosen)}
            if disabled is not None and bool(disabled) != before.disabled:
                row.disabled = bool(disabled)
                changes["disabled"] = bool(disabled)
            if display_name is not None and _display(display_name) != before.display_name:
                row.display_name = _display(display_name)
                changes["display_name"] = row.display_name
            if digest is not None:
                row.password_hash = digest
                row.password_changed_at = now()
                changes["credentials_reset"] = True
            if not changes:
                return before
            after_admin = ADMIN in (chosen or before.roles) and not row.disabled
            if (before.has(ADMIN) and not before.disabled and not after_admin
                    and self._enabled_admins(session, excluding=row.id) == 0):
                raise AccountError("last_admin", "the last enabled admin must stay an admin")
            row.updated_at = now()
            if digest is not None or changes.get("disabled"):
                StaffSessions(self._sessions).revoke_account(row.id, session=session)
            self._audit.record(audit.ACCOUNT_UPDATED, actor=actor, target=name, detail=changes,
                               session=session)
            session.flush()
            session.refresh(row)
            return _view(row)

    def change_own_password(self, account_id: int, new_password: str, *, actor: Actor) -> Account:
        """The user's own change (the caller has checked the current password)."""
        from bot.staff.sessions import StaffSessions

        digest = _password_hash(new_password)
        with self._sessions.begin() as session:
            row = session.get(StaffAccount, account_id)
            if row is None or row.disabled:
                raise AccountError("not_found", "no such account")
            row.password_hash, row.password_changed_at = digest, now()
            row.updated_at = row.password_changed_at
            StaffSessions(self._sessions).revoke_account(row.id, session=session)
            self._audit.record(audit.PASSWORD_CHANGED, actor=actor, target=row.username,
                               session=session)
            return _view(row)

    @staticmethod
    def _insert(session: Session, name: str, roles: tuple[str, ...], digest: str,
                display: str | None) -> StaffAccount:
        t = now()
        row = StaffAccount(username=name, display_name=display, password_hash=digest,
                           disabled=False, created_at=t, updated_at=t, password_changed_at=t,
                           roles=[StaffRole(role=r) for r in roles])
        session.add(row)
        session.flush()
        return row

    @staticmethod
    def _enabled_admins(session: Session, excluding: int) -> int:
        return session.execute(
            select(func.count(StaffAccount.id)).join(StaffRole).where(
                StaffRole.role == ADMIN, StaffAccount.disabled.is_(False),
                StaffAccount.id != excluding)).scalar_one()


def _display(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())[:MAX_DISPLAY_NAME]
    return value or None
