"""Engines and sessions for the embedded SQLite file and a shared PostgreSQL.

One ``Database`` object per connection target, passed explicitly to whatever needs it (no globals):
services, the CLI, the GUI's workers and the tests each hold the instance they were given.

SQLite: WAL journal, foreign keys on, a busy timeout, and writes in ``BEGIN IMMEDIATE`` transactions so
two writers queue on the file lock at the start instead of failing half-way with "database is locked".
PostgreSQL: psycopg 3; serialization failures and deadlocks are retried a bounded number of times.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import platformdirs
from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

APP_NAME = "backoffice"
SQLITE_BUSY_TIMEOUT_MS = 15_000
RETRY_ATTEMPTS = 6

T = TypeVar("T")


class DatabaseError(Exception):
    """A database problem worth one clear line to the user."""


class DatabaseUnreachable(DatabaseError):
    pass


class SchemaNotMigrated(DatabaseError):
    pass


class SchemaOlderThanApplication(SchemaNotMigrated):
    """The database has the schema of an earlier Backoffice: ``db upgrade`` brings it to this version."""


class SchemaNewerThanApplication(SchemaNotMigrated):
    """The database was migrated by a newer Backoffice: this version must not read or write it."""


class TooManyRetries(DatabaseError):
    pass


def data_dir() -> Path:
    path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_sqlite_path() -> Path:
    return data_dir() / "backoffice.sqlite"


def default_url() -> str:
    return f"sqlite:///{default_sqlite_path()}"


def normalise_url(url: str | URL) -> URL:
    """Accept the usual spellings: a bare path means an SQLite file, ``postgresql://`` means psycopg 3."""
    if isinstance(url, str) and "://" not in url:
        return make_url(f"sqlite:///{Path(url).expanduser().resolve()}")
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise DatabaseError(f"unsupported database URL scheme {u.drivername!r}: use sqlite:/// or postgresql+psycopg://")
    return u


def redact(url: str | URL) -> str:
    """The URL as it may appear in logs, titles and error messages: never with its password."""
    return (url if isinstance(url, URL) else make_url(url)).render_as_string(hide_password=True)


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" event, not pysqlite, decide when and how a transaction starts.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


PING_AFTER_IDLE_S = 10.0
# Connections kept open in the pool (more may open for a while, up to 32 at once). The desktop and the CLI
# have a few reads at once; the store API's server keeps one per concurrent request (SERVER_POOL_SIZE):
# opened and closed per request, a connection costs PostgreSQL a process each time.
DESKTOP_POOL_SIZE = 8
SERVER_POOL_SIZE = 32


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it sat unused for ``PING_AFTER_IDLE_S``: a connection
    dropped while idle (a server restart, a firewall's timeout) is then replaced before any statement
    fails. A busy pool (the store API's requests) hands connections out without the round trip that
    ``pool_pre_ping`` pays on every checkout."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(dbapi_connection, record, proxy) -> None:  # type: ignore[no-untyped-def]
        if time.monotonic() - record.info.get("returned_at", 0.0) < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection was dropped: {exc}") from exc


@dataclass(frozen=True)
class Acting:
    """Who a transaction is for, told to PostgreSQL at its start (``Database``): the group role of the
    acting user, their ``users`` id, and the operation (name and id) being run. The operations layer
    sets it around every call of the contract."""

    role: str | None = None
    user_id: int | None = None
    operation: str | None = None
    operation_id: str | None = None


ACTING: contextvars.ContextVar[Acting | None] = contextvars.ContextVar("backoffice_acting", default=None)

_TELL = ("SELECT set_config('backoffice.user_id', %(user)s, true), set_config('backoffice.operation', %(operation)s, true), "
         "set_config('backoffice.operation_id', %(operation_id)s, true)")
_TELL_AS = _TELL + ", set_config('role', %(role)s, true)"
_KIND = ("SELECT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false) "
         "OR pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = 'users'::regclass), 'MEMBER') "
         "OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'backoffice_server') "
         "AND pg_has_role(session_user, 'backoffice_server', 'MEMBER'))")


def _tell_who_acts(db: Database) -> None:
    """PostgreSQL: at the start of every transaction run for an operation, set the session settings the
    database's triggers and functions read (the acting user, the operation and its id); on a connection
    that acts for others (the schema's owner, the store API's server) also ``role``, the acting user's
    group, so the grants of that role decide what the transaction may do. One statement, only when an
    operation is running."""

    @event.listens_for(db.engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        acting = ACTING.get()
        if acting is None:
            return
        if db._acts_for_others is None:
            try:
                db._acts_for_others = bool(conn.exec_driver_sql(_KIND).scalar())
            except DBAPIError:
                conn.rollback()  # a database without the schema (before ``db upgrade``)
                return
        params = {"user": "" if acting.user_id is None else str(acting.user_id), "operation": acting.operation or "",
                  "operation_id": acting.operation_id or "", "role": acting.role}
        if db._acts_for_others and acting.role:
            conn.exec_driver_sql(_TELL_AS, params)
        elif acting.operation_id:
            conn.exec_driver_sql(_TELL, params)


class Database:
    """An engine plus the two ways to use it: read sessions and write transactions."""

    def __init__(self, url: str | URL, *, password: str | None = None, echo: bool = False,
                 pool_size: int = DESKTOP_POOL_SIZE) -> None:
        u = normalise_url(url)
        if password is not None and u.get_backend_name() == "postgresql":
            u = u.set(password=password)
        self.url: URL = u
        self.is_sqlite = u.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if u.database and u.database != ":memory:":
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(u, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
            _install_sqlite_pragmas(self.engine)
            self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            self.engine = create_engine(
                u,
                echo=echo,
                pool_size=pool_size,
                max_overflow=max(8, 32 - pool_size),
                connect_args={"connect_timeout": 5, "application_name": "backoffice"},
            )
            _ping_after_idle(self.engine)
            self._acts_for_others: bool | None = None
            _tell_who_acts(self)
            self._write_engine = self.engine
        self._read_factory = sessionmaker(self.engine, expire_on_commit=False)
        self._write_factory = sessionmaker(self._write_engine, expire_on_commit=False)

    # -- identity -------------------------------------------------------------------------------------
    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Database({self.display_url()!r})"

    # -- sessions -------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries. Closing it hands the connection back to the pool, which rolls back;
        objects loaded through it stay readable (detached, not expired)."""
        with self._read_factory() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed if the block succeeds, rolled back if it raises."""
        with self._write_factory() as session, session.begin():
            yield session

    def read_statement(self, read: Callable[[Connection], T]) -> T:
        """Run a read of one statement on a pooled connection in autocommit: on PostgreSQL that spares the
        BEGIN and ROLLBACK round trips a session pays (one statement sees one snapshot anyway), and any
        number of threads read at once (the store API's requests)."""
        if self.is_sqlite or ACTING.get() is not None:
            with self.read() as session:
                return read(session.connection())
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return read(conn)

    def run_write(self, work: Callable[[Session], T], *, attempts: int = RETRY_ATTEMPTS) -> T:
        """Run ``work`` in a write transaction, retrying on serialization failures, deadlocks and a busy
        SQLite file a bounded number of times with jittered back-off, then a clear error."""
        for attempt in range(1, attempts + 1):
            try:
                with self.write() as session:
                    return work(session)
            except DBAPIError as exc:
                if not is_retryable(exc) or attempt == attempts:
                    if is_retryable(exc):
                        raise TooManyRetries(
                            f"the database stayed busy after {attempts} attempts ({_short(exc)}); nothing was written"
                        ) from exc
                    raise
                delay = min(0.5, 0.01 * 2**attempt) * (0.5 + random.random())
                log.info("retrying write after %s (attempt %d/%d)", _short(exc), attempt, attempts)
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def dispose(self) -> None:
        self.engine.dispose()

    # -- health ---------------------------------------------------------------------------------------
    def ping(self) -> None:
        """Connect once; raise DatabaseUnreachable with a readable reason if that fails."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except OperationalError as exc:
            raise DatabaseUnreachable(f"cannot connect to {self.display_url()}: {_short(exc)}") from exc

    def has_table(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return inspect(conn).has_table(name)


def is_retryable(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in ("40001", "40P01"):  # serialization_failure, deadlock_detected
        return True
    msg = str(orig).lower()
    return "database is locked" in msg or "database table is locked" in msg


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", exc)
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__
