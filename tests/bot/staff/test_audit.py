"""The audit log is append-only in the database itself (SQLite and PostgreSQL), and
what goes in is masked and secret-free."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from bot.db import get_engine, session_factory
from bot.migrate import upgrade
from bot.staff import audit
from bot.staff.audit import Actor, AuditLog

ADMIN_URL = os.environ.get("YJS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TAMPERING = ("UPDATE audit_log SET actor = 'someone-else'", "DELETE FROM audit_log",
             "UPDATE audit_log SET outcome = 'ok' WHERE outcome = 'failed'")


def _refuses_tampering(url: str) -> None:
    log = AuditLog(session_factory(url))
    log.record(audit.LOGIN, actor=Actor("tamper-test", ip="192.0.2.1"), outcome="failed")
    engine = get_engine(url)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT id, actor, outcome FROM audit_log ORDER BY id")).fetchall()
    for statement in TAMPERING:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        after = conn.execute(text("SELECT id, actor, outcome FROM audit_log ORDER BY id")).fetchall()
    assert after == before and before  # nothing changed, nothing lost
    log.record(audit.LOGOUT, actor=Actor("tamper-test"))  # appending still works
    assert log.query(actor="tamper-test")[0][0].action == audit.LOGOUT


def test_sqlite_refuses_update_and_delete_on_the_audit_log(database_url):
    _refuses_tampering(database_url)


def test_postgresql_refuses_update_delete_and_truncate_on_the_audit_log():
    try:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as conn:
            name = f"yjs_test_audit_{uuid.uuid4().hex[:8]}"
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 - no server here: SQLite is tested above
        pytest.skip(f"PostgreSQL not available: {exc.__class__.__name__}")
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        _refuses_tampering(url)
        with pytest.raises(DBAPIError, match="append-only"), get_engine(url).begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_details_are_masked_and_secrets_refused(database_url):
    log = AuditLog()
    log.record("agent.message", actor=Actor("mask-test"), conversation="conv-1",
               detail={"text": "我的电话是13812345678，身份证440106199203151025"})
    [entry] = log.query(actor="mask-test")[0]
    assert "13812345678" not in str(entry.detail) and "138****5678" in entry.detail["text"]
    assert "440106199203151025" not in str(entry.detail)
    for key in ("password", "new_password", "csrf", "session_token", "api_key", "Secret"):
        with pytest.raises(ValueError, match="secrets never go"):
            log.record("account.updated", actor=Actor("mask-test"), detail={key: "x"})
    for bad in ("login", "Staff.Login", "staff.login.extra", ""):
        with pytest.raises(ValueError):
            log.record(bad, actor=None)
    with pytest.raises(ValueError):
        log.record("staff.login", actor=None, outcome="maybe")


def test_the_callers_transaction_decides(database_url):
    """record(session=…) commits with the caller's change, or not at all."""
    sessions = session_factory()
    log = AuditLog(sessions)
    with pytest.raises(RuntimeError), sessions.begin() as session:
        log.record("agent.takeover", actor=Actor("tx-test"), conversation="c-rolled-back",
                   session=session)
        raise RuntimeError("the takeover failed")
    assert log.query(conversation="c-rolled-back")[0] == []
    with sessions.begin() as session:
        log.record("agent.takeover", actor=Actor("tx-test"), conversation="c-kept",
                   application="YJS-20261128-000001", session=session)
    [entry] = log.query(conversation="c-kept")[0]
    assert entry.application == "YJS-20261128-000001" and entry.actor == "tx-test"
    assert audit.entries(application="YJS-20261128-000001")[0].id == entry.id
