"""Opening the contract: from a database URL (direct mode) to an :class:`~backoffice.operations.local.
LocalOperations` acting as a signed-in user. The clients (GUI, CLI, server) never open a database
themselves; they ask here and receive operations."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL

from backoffice import migrations
from backoffice.connection import PasswordPrompt, WrongPassword, open_database
from backoffice.db import Database, DatabaseError, default_url, normalise_url
from backoffice.operations.base import ProgressCallback
from backoffice.operations.local import LocalOperations
from backoffice.secrets import SecretStore

__all__ = ["DatabaseError", "PasswordPrompt", "WrongPassword", "connect", "current_os_username",
           "default_target_url", "describe_target", "is_embedded_default"]


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


def is_embedded_default(url: str | URL) -> bool:
    try:
        u, default = normalise_url(url), normalise_url(default_url())
    except DatabaseError:
        return False
    if u.get_backend_name() != "sqlite" or not u.database:
        return False
    return Path(u.database).expanduser().resolve() == Path(default.database or "").resolve()


def default_target_url() -> str:
    return str(default_url())


def current_os_username() -> str:
    from backoffice.services.users import current_os_username as os_user

    return os_user()


def connect(url: str, username: str, *, secrets: SecretStore | None = None, prompt: PasswordPrompt | None = None,
            require_schema: bool = True, create_schema: bool = False,
            progress: ProgressCallback | None = None) -> LocalOperations:
    """Open ``url`` and sign in ``username``: the operations every client then uses.

    ``create_schema`` builds the tables of an empty database first (the embedded default); otherwise a
    database without the current schema is refused with a clear message (``backoffice db upgrade``).
    """
    from backoffice.services import users

    report = progress or (lambda fraction, text: None)
    report(0.1, "Opening the database…")
    db = open_database(url, secrets=secrets, prompt=prompt, require_schema=False)
    try:
        if create_schema and migrations.current_revision(db) is None:
            report(0.4, "Creating the database…")
            migrations.upgrade(db)
        if require_schema or create_schema:
            report(0.6, "Checking the schema…")
            migrations.ensure_current(db)
        report(0.8, f"Signing in as {username}…")
        actor = users.ensure_user(db, username)
    except BaseException:
        db.dispose()
        raise
    report(1.0, "Connected")
    return LocalOperations(db, actor)


def operations_for(db: Database, username: str) -> LocalOperations:
    """Operations over an open database (tests, the server): signs ``username`` in."""
    from backoffice.services import users

    return LocalOperations(db, users.ensure_user(db, username))
