"""Engine and session factory shared by the services (SQLAlchemy 1.4, 2.0-style).

SQLite file databases get a connection pool (issue 13). SQLAlchemy 1.4 gives them
NullPool: a new connection — the file opened, the PRAGMAs run — for every session,
which was ~40 % of the action server's request time (the KB's content-hash check once
per call). The pool keeps what NullPool guaranteed:

* every checkout sees the database file as it is now: the file's identity (device,
  inode) is compared at each checkout with the one the connection opened, so a file
  deleted or replaced (tests, `rm var/yjs.db`, a restore) is opened afresh, never read
  through a stale descriptor; a missing file is created again as before;
* commits of other processes (the editor's publish) are seen at the next transaction:
  each checkout starts a new transaction (the pool rolls back on return), and WAL
  readers see every commit made before their transaction began;
* a forked child never uses its parent's connections (`os.register_at_fork`: the
  child's pools are dropped without closing the parent's connections);
* connections move between threads only through the pool, one user at a time
  (hence `check_same_thread=False`, as SQLAlchemy 2.0 does for SQLite files).

In-memory SQLite and other databases keep SQLAlchemy's defaults.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from bot.config import database_url

_ENGINES: list[Engine] = []


def sqlite_file(url) -> str | None:
    """The file of a SQLite file URL, else None (in-memory, URI or other databases)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    db = u.database or ""
    if db in ("", ":memory:") or db.startswith("file:") or u.query.get("uri"):
        return None
    return os.path.abspath(db)


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def pooled_sqlite_engine(url, path: str, **kwargs) -> Engine:
    """An engine on the SQLite file `path` with a connection pool, safe as described
    above (the tracker store uses it too: bot/tracker_store.py)."""
    engine = create_engine(url, poolclass=QueuePool, pool_size=5, max_overflow=10,
                           connect_args={"check_same_thread": False}, **kwargs)

    @event.listens_for(engine, "connect")
    def _file_opened(_dbapi_conn, record) -> None:
        record.info["file_id"] = _file_id(path)

    @event.listens_for(engine, "checkout")
    def _same_file(_dbapi_conn, record, _proxy) -> None:
        if record.info.get("file_id") != _file_id(path):
            raise exc.DisconnectionError("the SQLite file was deleted or replaced")

    _ENGINES.append(engine)
    return engine


@cache
def get_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    path = sqlite_file(url)
    if path is None:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    else:
        engine = pooled_sqlite_engine(url, path, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect", insert=True)
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return engine


def _after_fork_in_child() -> None:
    for engine in _ENGINES:
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def session_factory(url: str | None = None) -> sessionmaker:
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
