"""Opening the contract: from a database URL (direct mode) to an :class:`~backoffice.operations.local.
LocalOperations` acting as a signed-in user. The clients (GUI, CLI, server) never open a database
themselves; they ask here and receive operations, and name databases by URL (what a profile holds).

The errors of opening are re-exported here: ``DatabaseError`` (one line for the user) and its kinds
``DatabaseUnreachable``, ``SchemaNotMigrated`` and ``WrongPassword``; and those of signing in:
``AuthenticationFailed`` (a wrong password or unknown name on a shared database), ``UnknownAccount`` and
``SignInRequired`` (no password for a shared database, no owner for a file). Signing in never creates an
account.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from backoffice import migrations
from backoffice.config import DEMO_FILE
from backoffice.connection import PasswordPrompt, WrongPassword, open_database
from backoffice.db import (
    DESKTOP_POOL_SIZE,
    SERVER_POOL_SIZE,
    Database,
    DatabaseError,
    DatabaseUnreachable,
    SchemaNewerThanApplication,
    SchemaNotMigrated,
    SchemaOlderThanApplication,
    data_dir,
    default_sqlite_path,
    default_url,
    normalise_url,
)
from backoffice.operations.admin import SchemaStatus
from backoffice.operations.base import PermissionDenied, ProgressCallback
from backoffice.operations.local import LocalOperations
from backoffice.operations.targets import describe_target
from backoffice.secrets import SecretStore
from backoffice.services.auth import AuthenticationFailed
from backoffice.services.users import UnknownAccount

__all__ = ["SERVER_POOL_SIZE", "AuthenticationFailed", "ConnectionCheck", "DatabaseError", "DatabaseUnreachable", "PasswordPrompt",
           "SchemaNewerThanApplication", "SchemaNotMigrated", "SchemaOlderThanApplication", "SignInRequired", "UnknownAccount", "WrongPassword", "check_connection", "connect",
           "current_os_username", "default_sqlite_path", "default_target_url", "describe_target", "is_demo_file",
           "is_embedded_default", "is_sqlite", "login", "operations_for", "shared_database_refusal"]


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


class SignInRequired(PermissionDenied):
    """Who acts is not proven: a shared (PostgreSQL) database needs the user's password, an SQLite file
    without an active admin has no owner to act as."""


def shared_database_refusal(url: str | URL) -> str:
    """Why a name alone does not sign anyone in to ``url`` (a shared PostgreSQL database)."""
    return f"{_shown(url)} is a shared PostgreSQL database: sign in with your password"


def _shown(url: str | URL) -> str:
    try:
        return normalise_url(url).render_as_string(hide_password=True)
    except DatabaseError:
        return str(url)


def connect(url: str, username: str | None = None, *, password: str | None = None, as_owner: bool = False,
            secrets: SecretStore | None = None, prompt: PasswordPrompt | None = None, require_schema: bool = True,
            create_schema: bool = False, progress: ProgressCallback | None = None,
            pool_size: int = DESKTOP_POOL_SIZE) -> LocalOperations:
    """Open ``url`` and sign someone in: the operations every client then uses. Never creates an account.

    Who acts:
    - ``username`` with ``password``: proven by the password (``services.auth.login``: argon2, lockout,
      audited), on either engine; the only way onto a shared PostgreSQL database;
    - ``username`` alone, on an SQLite file: that existing, active account (having the file is the proof);
      on PostgreSQL: refused (SignInRequired);
    - ``as_owner`` (SQLite only): the file's owner, its oldest active admin (``ops.owner_mode``);
    - neither: nobody (with ``require_schema=False``: to look at or upgrade the schema, ``ops.admin``).
    An unknown name is an error (UnknownAccount; on PostgreSQL AuthenticationFailed, which does not tell
    unknown names from wrong passwords); no ``users`` row is written.

    ``create_schema`` builds the tables of an empty database first (the embedded default, the demo
    store); on SQLite it then makes the OS login name the first admin, the file's owner, when the file
    has no account. Otherwise a database without the current schema is refused with a clear message
    (``backoffice db upgrade``).
    """
    from backoffice.services import auth, users

    sqlite = is_sqlite(url)
    report = progress or (lambda fraction, text: None)
    opened: Database | None = None
    if not sqlite and not as_owner:
        staff, opened = _connect_as_login(url, username, password, secrets=secrets, prompt=prompt, report=report,
                                          require_schema=require_schema or create_schema, pool_size=pool_size)
        if staff is not None:
            return staff
    if as_owner and not sqlite:
        raise SignInRequired(shared_database_refusal(url))
    if username is not None and password is None and not as_owner and not sqlite:
        if opened is not None:
            opened.dispose()
        raise SignInRequired(shared_database_refusal(url))
    report(0.1, "Opening the database…")
    db = opened or open_database(url, secrets=secrets, prompt=prompt, require_schema=False, pool_size=pool_size)
    try:
        if create_schema and migrations.current_revision(db) is None:
            report(0.4, "Creating the database…")
            migrations.upgrade(db)
        if require_schema or create_schema or username is not None or as_owner:
            report(0.6, "Checking the schema…")
            migrations.ensure_current(db)
        if create_schema and sqlite:
            users.create_first_admin(db, current_os_username())   # a new file of the app: its owner
        actor = None
        if as_owner:
            report(0.8, "Signing in as the owner of this file…")
            actor = users.owner(db)
            if actor is None:
                raise SignInRequired(f"{_shown(url)} has no active admin to act as its owner: make one with "
                                     "`backoffice db upgrade` (you become its owner) or "
                                     "`backoffice users bootstrap-admin NAME`")
        elif username is not None and password is not None:
            report(0.8, f"Signing in as {username}…")
            actor = auth.login(db, username, password)
        elif username is not None:
            report(0.8, f"Signing in as {username}…")
            actor = users.sign_in(db, username)
    except BaseException:
        db.dispose()
        raise
    report(1.0, "Connected")
    return LocalOperations(db, actor, owner_mode=as_owner)


def _connect_as_login(url: str, username: str | None, password: str | None, *, secrets: SecretStore | None,
                      prompt: PasswordPrompt | None, report: ProgressCallback, require_schema: bool,
                      pool_size: int) -> tuple[LocalOperations | None, Database | None]:
    """PostgreSQL with a person's own login: the operations acting as that login's account (identity is
    ``session_user``, proven by the database). When this is not such a connection (the schema's owner,
    the store API's server, or a name that has no login of its own): None, and the database opened with
    the URL's own credentials (to sign in with the account's password as before), if it was.

    The login is the URL's user name, or ``username`` (its login) when one is named with a password: a
    person types their name and password, and connects as themselves."""
    from sqlalchemy import select

    from backoffice.models import User
    from backoffice.services import db_roles
    from backoffice.services.users import login_name

    target = normalise_url(url)
    candidates: list[tuple[str, str | None]] = []
    if username is not None and password is not None and login_name(username) != target.username:
        candidates.append((target.set(username=login_name(username), password=None).render_as_string(False), password))
    candidates.append((url, None))
    for attempt, given in candidates:
        report(0.1, "Opening the database…")
        try:
            db = open_database(attempt if given is None
                               else normalise_url(attempt).set(password=given).render_as_string(hide_password=False),
                               secrets=secrets, prompt=prompt if given is None else None, require_schema=False,
                               pool_size=pool_size)
        except WrongPassword:
            if given is None and password is not None and target.username and target.password is None \
                    and (url, password) not in candidates:
                candidates.append((url, password))   # the password given is the URL's login's own
                continue
            if given is None:
                raise
            if attempt != url:
                continue   # a server that asks for passwords does not say whether the login exists
            raise AuthenticationFailed(f"wrong user name or password for {_shown(url)}") from None
        except DatabaseUnreachable as exc:
            if given is not None and "is not permitted to log in" in str(exc):
                raise PermissionDenied(f"{username}: account deactivated") from None
            if given is not None:
                continue   # no login of that name (or no server): the URL's own connection says why below
            raise
        try:
            kind = db_roles.session_kind(db) if migrations.current_revision(db) is not None else None
            if kind is None or kind.kind in ("owner", "server"):
                if given is not None:
                    db.dispose()
                    continue
                return None, db
            if kind.kind == "other":
                raise SignInRequired(f"the database login {kind.login} is not a Backoffice staff login "
                                     "(an admin makes one with `backoffice users add NAME --role R`)")
            if require_schema:
                migrations.ensure_current(db)
            with db.read() as session:
                user = session.scalar(select(User).where(User.db_login == kind.login))
            if user is None:
                raise UnknownAccount(kind.login)
            if not user.active:
                raise PermissionDenied(f"{user.username}: account deactivated")
            if username is not None and username not in (user.username, current_os_username()) \
                    and login_name(username) != kind.login:
                raise SignInRequired(f"you are connected as the database login {kind.login} ({user.username}); on "
                                     f"PostgreSQL you act as yourself, so --user {username} is refused")
            report(1.0, "Connected")
            from backoffice.services.base import Actor

            return LocalOperations(db, Actor(user.id, user.username, user.role)), None
        except BaseException:
            db.dispose()
            raise
    return None, None


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
          prompt: PasswordPrompt | None = None, progress: ProgressCallback | None = None) -> LocalOperations:
    """Open ``url`` and sign ``username`` in with their password: identity proven, not typed. Raises
    ``AuthenticationFailed`` (services.auth) for a wrong password or an unknown name alike (audited)."""
    return connect(url, username, password=password, secrets=secrets, prompt=prompt, progress=progress)


def operations_for(db: Database, username: str) -> LocalOperations:
    """Operations over an open database (tests, the server) acting as the existing account ``username``
    (UnknownAccount when there is none: nothing is created)."""
    from backoffice.services import users

    return LocalOperations(db, users.sign_in(db, username))
