"""bot/db.py's pooled SQLite engine keeps what a new connection per session gave:
other processes' commits are seen at the next session, a deleted or replaced file is
opened afresh, and a forked child never uses its parent's connections."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys

from sqlalchemy import text

from bot.db import get_engine, session_scope


def _value(url: str):
    with session_scope(url) as s:
        return s.execute(text("SELECT v FROM t")).scalar_one()


def _make(path, v: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (v INTEGER)")
    conn.execute("INSERT INTO t VALUES (?)", (v,))
    conn.commit()
    conn.close()


def test_pooled_connection_sees_another_process_commit(tmp_path):
    path = tmp_path / "a.db"
    _make(path, 1)
    url = f"sqlite:///{path}"
    assert _value(url) == 1
    assert get_engine(url).pool.checkedin() == 1  # the connection is kept
    subprocess.run([sys.executable, "-c",
                    f"import sqlite3; c = sqlite3.connect({str(path)!r}); "
                    "c.execute('UPDATE t SET v = 2'); c.commit()"], check=True)
    assert _value(url) == 2


def test_deleted_or_replaced_file_is_opened_afresh(tmp_path):
    path = tmp_path / "b.db"
    _make(path, 1)
    url = f"sqlite:///{path}"
    assert _value(url) == 1
    path.unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"b.db{suffix}").unlink(missing_ok=True)
    _make(path, 7)
    assert _value(url) == 7
    other = tmp_path / "c.db"
    _make(other, 9)
    other.replace(path)
    assert _value(url) == 9


def _child(url: str, q) -> None:
    q.put((get_engine(url).pool.checkedin(), _value(url)))


def test_forked_child_opens_its_own_connection(tmp_path):
    path = tmp_path / "d.db"
    _make(path, 3)
    url = f"sqlite:///{path}"
    assert _value(url) == 3
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(url, q))
    p.start()
    p.join(30)
    assert q.get(timeout=5) == (0, 3)  # nothing inherited in the pool, and it works
    assert _value(url) == 3  # the parent's connection is still good
