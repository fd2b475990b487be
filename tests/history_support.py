"""For tests that stage a past: backdated stock operations, a removed audit row. On PostgreSQL the
audit log, the ledger and the changesets' entries refuse UPDATE and DELETE (migration 0013); a test lifts
that guard for one transaction, as the tables' owner can, and puts it back before the commit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Connection


@contextlib.contextmanager
def rewriting_history(conn: Connection, *tables: str) -> Iterator[None]:
    """Let ``conn``'s transaction change or delete rows of ``tables`` (flush ORM changes inside)."""
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        for table in tables:
            conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER bo_append_only")
    yield
    if postgres:
        for table in tables:
            conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER bo_append_only")
