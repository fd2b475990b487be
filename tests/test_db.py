"""Engine behaviour: SQLite write locking, bounded retries on real deadlocks in PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading

import psycopg
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

import backoffice.db as db_module
from backoffice.db import Database, TooManyRetries, normalise_url, redact
from backoffice.models import Location, LocationKind


def test_sqlite_write_transactions_take_the_write_lock_at_begin(sqlite_db: Database) -> None:
    path = sqlite_db.url.database
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with sqlite_db.write() as session:
            session.execute(select(1))  # only a read so far, yet the write lock is already held
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at commit
        other.execute("ROLLBACK")
        with sqlite_db.read() as session:
            session.execute(select(1))
            other.execute("BEGIN IMMEDIATE")  # reads do not block writers
            other.execute("ROLLBACK")
    finally:
        other.close()


def test_sqlite_busy_file_gives_a_clear_error_after_bounded_retries(sqlite_db: Database, monkeypatch) -> None:
    import backoffice.db as dbmod

    monkeypatch.setattr(dbmod, "SQLITE_BUSY_TIMEOUT_MS", 50)
    db = Database(sqlite_db.url)  # short busy timeout so the test is quick
    holder = sqlite3.connect(sqlite_db.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    calls = []
    try:
        with pytest.raises(TooManyRetries, match="after 3 attempts.*nothing was written"):
            db.run_write(lambda s: calls.append(s.execute(select(1))), attempts=3)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        db.dispose()
    assert calls == []  # the lock was never obtained, so the work never ran


@pytest.mark.postgres
def test_postgres_deadlock_is_retried_and_both_writes_land(pg_db: Database) -> None:
    with pg_db.write() as s:
        s.add_all([Location(code="A", name="A", kind=LocationKind.WAREHOUSE),
                   Location(code="B", name="B", kind=LocationKind.WAREHOUSE)])
    barrier = threading.Barrier(2)
    attempts = {"ab": 0, "ba": 0}
    errors: list[BaseException] = []

    def locker(first: str, second: str, key: str) -> None:
        def work(session):  # deliberately the opposite lock order in the two threads
            attempts[key] += 1
            session.execute(update(Location).where(Location.code == first).values(name=Location.name + key))
            if attempts[key] == 1:
                barrier.wait(timeout=10)
            session.execute(update(Location).where(Location.code == second).values(name=Location.name + key))

        try:
            pg_db.run_write(work)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with pg_db.engine.connect() as conn:
        conn.execute(text("SET deadlock_timeout = '100ms'"))
    threads = [threading.Thread(target=locker, args=("A", "B", "ab")), threading.Thread(target=locker, args=("B", "A", "ba"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert attempts["ab"] + attempts["ba"] == 3  # one of them was chosen as the deadlock victim and retried
    with pg_db.read() as s:
        names = dict(s.execute(select(Location.code, Location.name)).all())
    assert sorted(names["A"][1:]) == sorted(names["B"][1:]) == ["a", "a", "b", "b"]  # both transactions landed, once each


@pytest.mark.postgres
def test_a_connection_dropped_while_idle_in_the_pool_is_replaced_before_use(pg_db: Database, monkeypatch) -> None:
    """A pooled connection that sat idle is checked before it is handed out: when the server dropped it
    (restart, firewall), the read gets a new one instead of an error. A busy pool is not checked."""
    def kill_idle_pool_connections() -> int:
        with pg_db.engine.connect() as c:   # the pool's connection: its own backend is not killed
            me = c.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(pg_db.url.set(drivername="postgresql").render_as_string(hide_password=False),
                             autocommit=True) as admin:
            return admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE datname = current_database() AND pid = %s", (me,)).fetchone()[0]

    def read() -> int:
        return pg_db.read_statement(lambda c: c.exec_driver_sql("SELECT 41 + 1").scalar())

    pg_db.engine.dispose()                    # one pooled connection from here on
    assert read() == 42
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)          # every checkout counts as idle
    assert kill_idle_pool_connections() == 1
    assert read() == 42
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 3600.0)       # never idle long enough: not checked
    assert kill_idle_pool_connections() == 1
    with pytest.raises(OperationalError):
        read()
    assert read() == 42                                                # the dead one was thrown away


def test_urls_are_normalised_and_redacted() -> None:
    assert normalise_url("postgresql://u:p@h/d").drivername == "postgresql+psycopg"
    assert normalise_url("shop.sqlite").drivername == "sqlite"
    assert redact("postgresql+psycopg://u:secret@h/d") == "postgresql+psycopg://u:***@h/d"
    with pytest.raises(Exception, match="unsupported"):
        normalise_url("oracle://x")
