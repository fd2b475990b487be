"""Where the data lives, in words a status bar can show (no password)."""

from __future__ import annotations

from sqlalchemy.engine import URL

from backoffice.db import DatabaseError, normalise_url


def describe_target(url: str | URL) -> str:
    """``SQLite · /path/file.sqlite`` or ``PostgreSQL · host/db``: where the data lives, no password."""
    try:
        u = normalise_url(url)
    except DatabaseError:
        return str(url)
    if u.get_backend_name() == "sqlite":
        return f"SQLite · {u.database or ':memory:'}"
    host = u.host or "localhost"
    if u.port and u.port != 5432:
        host = f"{host}:{u.port}"
    return f"PostgreSQL · {host}/{u.database or ''}"
