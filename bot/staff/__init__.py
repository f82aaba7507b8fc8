"""Staff identity for the consoles: accounts and roles (accounts.py), password
hashing (passwords.py), server-side sessions (sessions.py), login throttling
(throttle.py) and the append-only audit log (audit.py). Each module owns its
table; the web layer (backend/) calls these services only."""

from __future__ import annotations

FIRST_ACCOUNT_HINT = ("no console account yet; create the first one (with a real password): "
                      "echo 'pw' | .venv/bin/yjs staff add admin --role admin")
MORE_ACCOUNTS_HINT = ("more console accounts: echo 'pw' | .venv/bin/yjs staff add NAME "
                      "--role agent|editor|publisher|admin, or in /console/admin/")


def first_account_hint() -> str:
    """What `make run` prints about accounts: how to create the first one while none
    exists, else how to add more."""
    try:
        from bot.staff.accounts import StaffAccounts

        if StaffAccounts().count() > 0:
            return MORE_ACCOUNTS_HINT
    except Exception:  # noqa: BLE001 - a database not migrated yet: still worth saying
        pass
    return FIRST_ACCOUNT_HINT
