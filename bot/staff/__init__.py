"""Staff identity for the consoles: accounts and roles (accounts.py), password
hashing (passwords.py), server-side sessions (sessions.py), login throttling
(throttle.py) and the append-only audit log (audit.py). Each module owns its
table; the web layer (backend/) calls these services only."""

from __future__ import annotations

FIRST_ACCOUNT_HINT = ("create the first console account: "
                      "echo 'pw' | .venv/bin/yjs staff add admin --role admin")


def first_account_hint() -> str | None:
    """The line `make run` prints while no staff account exists (None once one does)."""
    try:
        from bot.staff.accounts import StaffAccounts

        if StaffAccounts().count() > 0:
            return None
    except Exception:  # noqa: BLE001 - a database not migrated yet: still worth saying
        pass
    return FIRST_ACCOUNT_HINT
