"""`yjs staff add NAME --role …` with the password on standard input, as the README
and `make run` say; and the hint `make run` prints."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.staff import FIRST_ACCOUNT_HINT, first_account_hint
from bot.staff.accounts import StaffAccounts
from tests.conftest import ROOT

YJS = ROOT / ".venv" / "bin" / "yjs"


def yjs(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    cmd = [str(YJS)] if YJS.exists() else [sys.executable, "-m", "bot"]
    return subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True, cwd=ROOT,
                          env=os.environ.copy(), timeout=120)


def test_staff_add_creates_then_updates_reading_the_password_from_stdin(database_url):
    secret = "cli-secret-Kp4-first"
    run = yjs("staff", "add", "cli-agent", "--role", "agent", "--role", "editor",
              stdin=secret + "\n")
    assert run.returncode == 0, run.stderr
    assert "created staff account cli-agent (roles: agent, editor)" in run.stdout
    accounts = StaffAccounts()
    account = accounts.get("cli-agent")
    assert account.roles == ("agent", "editor") and accounts.authenticate("cli-agent", secret)
    again = yjs("staff", "add", "cli-agent", "--role", "publisher", stdin="cli-secret-Kp4-second\r\n")
    assert again.returncode == 0 and "updated staff account cli-agent (roles: publisher)" in again.stdout
    assert accounts.get("cli-agent").roles == ("publisher",)
    assert accounts.authenticate("cli-agent", secret) is None
    assert accounts.authenticate("cli-agent", "cli-secret-Kp4-second")
    for out in (run, again):
        assert secret not in out.stdout + out.stderr and "second" not in out.stdout + out.stderr


def test_staff_add_refuses_bad_input_and_warns_on_short_passwords(database_url):
    assert yjs("staff", "add", "cli-x", "--role", "root", stdin="pw\n").returncode == 2
    assert yjs("staff", "add", "cli-x", stdin="pw\n").returncode == 2  # a role is required
    empty = yjs("staff", "add", "cli-x", "--role", "agent", stdin="\n")
    assert empty.returncode == 2 and "empty" in empty.stderr
    bad = yjs("staff", "add", "Not OK", "--role", "agent", stdin="pw\n")
    assert bad.returncode == 2 and StaffAccounts().get("not ok") is None
    short = yjs("staff", "add", "cli-short", "--role", "agent", stdin="pw\n")
    assert short.returncode == 0 and "warning" in short.stderr
    listed = yjs("staff", "list")
    assert "cli-short\tagent\tactive" in listed.stdout
    assert "cli-short" in yjs("staff", "disable", "cli-short").stdout
    assert StaffAccounts().get("cli-short").disabled


def test_production_needs_a_longer_password(database_url):
    env_backup = os.environ.get("STAFF_PASSWORD_MIN")
    os.environ["STAFF_PASSWORD_MIN"] = "12"
    try:
        run = yjs("staff", "add", "cli-prod", "--role", "agent", stdin="short\n")
        assert run.returncode == 2 and "12" in run.stderr
    finally:
        if env_backup is None:
            os.environ.pop("STAFF_PASSWORD_MIN")
        else:
            os.environ["STAFF_PASSWORD_MIN"] = env_backup


def test_make_run_says_how_to_create_the_first_account(tmp_path):
    assert "echo 'pw' | .venv/bin/yjs staff add admin --role admin" in FIRST_ACCOUNT_HINT
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    env = {**os.environ, "DATABASE_URL": empty}
    code = "from bot.staff import first_account_hint; print(first_account_hint())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=60).stdout
    assert out.strip() == FIRST_ACCOUNT_HINT  # a database not even migrated yet
    assert "yjs staff add" in first_account_hint()  # with accounts: how to add more
