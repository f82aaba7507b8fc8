"""The scale-out path: migrations, idempotent submit under concurrency and the
append-only history on PostgreSQL (skipped when no server is on 127.0.0.1:5432)."""

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from bot.applications.service import Applications
from bot.applications.validation import check
from bot.db import session_factory, session_scope
from bot.kb.seed import seed
from bot.kb.service import KnowledgeService
from bot.migrate import upgrade
from tests.bot.applications.values import answer_for, submit_concurrently

ADMIN_URL = os.environ.get("YJS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="module")
def pg_url():
    try:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as conn:
            name = f"yjs_test_{uuid.uuid4().hex[:8]}"
            conn.execute(text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 - no server here: the embedded path is tested elsewhere
        pytest.skip(f"PostgreSQL not available: {exc.__class__.__name__}")
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    with session_scope(url) as session:
        seed(session)
    yield url
    from bot.db import get_engine

    get_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(scope="module")
def apps(pg_url):
    sessions = session_factory(pg_url)
    return Applications(KnowledgeService(sessions), sessions=sessions)


def test_concurrent_submits_on_postgres_create_exactly_one(apps):
    draft = apps.start("pg-citizen", "newborn")
    draft.items = ["birth_medical_certificate", "vaccination_certificate"]
    for spec in apps.form("newborn").fields_for(draft.items):
        draft.values[spec.id] = check(spec, answer_for(spec), draft.values).value
    apps.save(draft)
    numbers, errors = submit_concurrently(apps, draft.id, 8)
    assert not errors and len(set(numbers)) == 1
    [app] = apps.applications("pg-citizen")
    assert len(app.subs) == 2 and app.number.endswith("-000001")


def test_history_is_append_only_on_postgres(apps, pg_url):
    [app] = apps.applications("pg-citizen")
    apps.transition(app.subs[0].department_id, app.subs[0].id, "accepted")
    for sql in ("UPDATE app_events SET to_state = 'completed'", "DELETE FROM app_events"):
        with pytest.raises(Exception, match="append-only"), session_scope(pg_url) as session:
            session.execute(text(sql))
    assert [e.to_state for e in apps.application(app.number).history][-1] == "accepted"
