"""Opening the contract: from a database URL (direct mode) to an :class:`~backoffice.operations.local.
LocalOperations` acting as a signed-in user. The clients (GUI, CLI, server) never open a database
themselves; they ask here and receive operations, and name databases by URL (what a profile holds).

The errors of opening are re-exported here: ``DatabaseError`` (one line for the user) and its kinds
``DatabaseUnreachable``, ``SchemaNotMigrated`` and ``WrongPassword``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from backoffice import migrations
from backoffice.config import DEMO_FILE
from backoffice.connection import PasswordPrompt, WrongPassword, open_database
from backoffice.db import (
    Database,
    DatabaseError,
    DatabaseUnreachable,
    SchemaNotMigrated,
    data_dir,
    default_sqlite_path,
    default_url,
    normalise_url,
)
from backoffice.operations.admin import SchemaStatus
from backoffice.operations.base import ProgressCallback
from backoffice.operations.local import LocalOperations
from backoffice.operations.targets import describe_target
from backoffice.secrets import SecretStore

__all__ = ["ConnectionCheck", "DatabaseError", "DatabaseUnreachable", "PasswordPrompt", "SchemaNotMigrated",
           "WrongPassword", "check_connection", "connect", "current_os_username", "default_sqlite_path",
           "default_target_url", "describe_target", "is_demo_file", "is_embedded_default", "is_sqlite",
           "login", "operations_for"]


def is_sqlite(url: str | URL) -> bool:
    """True for an SQLite URL; False for PostgreSQL and for a URL that is not one Backoffice opens."""
    try:
        return normalise_url(url).get_backend_name() == "sqlite"
    except DatabaseError:
        return False


def _sqlite_file(url: str | URL) -> Path | None:
    if not is_sqlite(url):
        return None
    path = normalise_url(url).database or ""
    return Path(path).expanduser().resolve() if path else None


def is_embedded_default(url: str | URL) -> bool:
    """True for the embedded SQLite file in the user's data folder (the database of no configuration)."""
    path = _sqlite_file(url)
    return path is not None and path == Path(normalise_url(default_url()).database or "").resolve()


def is_demo_file(url: str | URL) -> bool:
    """True for the demo store's SQLite file in the user's data folder (``backoffice --demo``)."""
    path = _sqlite_file(url)
    return path is not None and path == (data_dir() / DEMO_FILE).resolve()


def default_target_url() -> str:
    return str(default_url())


def current_os_username() -> str:
    from backoffice.services.users import current_os_username as os_user

    return os_user()


def connect(url: str, username: str | None, *, secrets: SecretStore | None = None,
            prompt: PasswordPrompt | None = None, require_schema: bool = True, create_schema: bool = False,
            progress: ProgressCallback | None = None, sign_in_when_needed: bool = False) -> LocalOperations:
    """Open ``url`` and sign in ``username``: the operations every client then uses.

    ``create_schema`` builds the tables of an empty database first (the embedded default, the demo
    store); otherwise a database without the current schema is refused with a clear message (``backoffice
    db upgrade``). ``username=None`` signs nobody in (with ``require_schema=False``: to look at or
    upgrade the schema, ``ops.admin``, before any account can exist).
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
        actor = None
        if username is not None and not sign_in_when_needed:
            report(0.8, f"Signing in as {username}…")
            actor = users.ensure_user(db, username)
    except BaseException:
        db.dispose()
        raise
    report(1.0, "Connected")
    if sign_in_when_needed:     # the command line: a command that only reads creates no account
        return LocalOperations(db, None, sign_in=username)
    return LocalOperations(db, actor)  # None: not signed in (schema work only)


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of trying a connection: where it went (no password) and the state of its schema."""

    url: str
    schema: SchemaStatus


def check_connection(url: str, *, secrets: SecretStore | None = None,
                     prompt: PasswordPrompt | None = None) -> ConnectionCheck:
    """Connect, ping and look at the schema, writing nothing (a profile's "Test connection"). Raises
    DatabaseError with a one-line reason when the database cannot be reached."""
    ops = connect(url, None, secrets=secrets, prompt=prompt, require_schema=False)
    try:
        ops.admin.ping()
        return ConnectionCheck(ops.url, ops.admin.schema())
    finally:
        ops.close()


def login(url: str, username: str, password: str, *, secrets: SecretStore | None = None,
          prompt: PasswordPrompt | None = None) -> LocalOperations:
    """Open ``url`` and sign ``username`` in with their password: identity proven, not typed. Raises
    ``AuthenticationFailed`` (services.auth) for a wrong password or an unknown name alike."""
    from backoffice.services import auth

    db = open_database(url, secrets=secrets, prompt=prompt, require_schema=False)
    try:
        migrations.ensure_current(db)
        actor = auth.login(db, username, password)
    except BaseException:
        db.dispose()
        raise
    return LocalOperations(db, actor)


def operations_for(db: Database, username: str) -> LocalOperations:
    """Operations over an open database (tests, the server): signs ``username`` in."""
    from backoffice.services import users

    return LocalOperations(db, users.ensure_user(db, username))
