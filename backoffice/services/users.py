"""Staff accounts and who is acting.

Once a database has an active admin, only an admin creates, promotes, demotes or deactivates accounts,
and the last active admin can be neither demoted nor deactivated. Accounts are never created by signing
in: :func:`sign_in` finds an existing active account or fails. The first admin is made explicitly
(:func:`create_first_admin` at ``backoffice db upgrade`` or when the application creates its own SQLite
file, :func:`bootstrap_admin`). ``ensure_user`` creates accounts on purpose, for tests and demo code only;
no client path calls it.
"""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy import func, select, text

from backoffice.db import Database
from backoffice.services import db_roles
from backoffice.models import Role, User, utcnow
from backoffice.services.base import (
    Actor,
    ConflictError,
    NotFound,
    PermissionDenied,
    ValidationError,
    audit,
    snapshot,
)

USER_FIELDS = ("username", "display_name", "email", "role", "active")


def current_os_username() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no login name at all (some containers)
        return "backoffice"


class UnknownAccount(NotFound):
    """Signing in named no existing account (accounts are never created by signing in)."""

    def __init__(self, username: str) -> None:
        self.username = username
        super().__init__(f"no account named {username}: an admin creates it with "
                         f"`backoffice users add {username} --role R`")


def sign_in(db: Database, username: str) -> Actor:
    """The actor of the existing, active account ``username``; UnknownAccount when there is none (nothing
    is written), PermissionDenied when it is deactivated. Proves nothing: the caller decides whether the
    name is proof enough (the owner of an SQLite file acting as one of its accounts)."""
    username = username.strip()
    if not username:
        raise ValidationError([("user", "username", "must not be empty")])
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise UnknownAccount(username)
        if not user.active:
            raise PermissionDenied(f"{username}: account deactivated")
        return Actor(user.id, user.username, user.role)


def owner(db: Database) -> Actor | None:
    """The owner of a database file: its oldest active admin (None when it has no active admin)."""
    with db.read() as session:
        user = session.scalar(select(User).where(User.role == Role.ADMIN, User.active.is_(True))
                              .order_by(User.id).limit(1))
        return Actor(user.id, user.username, user.role) if user is not None else None


def has_accounts(db: Database) -> bool:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(User)) > 0


def _checked_name(username: str) -> str:
    username = username.strip()
    if not username:
        raise ValidationError([("user", "username", "must not be empty")])
    if len(username) > 100:
        raise ValidationError([("user", "username", "must be at most 100 characters long")])
    return username


def _hashed(password: str | None) -> str | None:
    if password is None:
        return None
    from backoffice.services.auth import hash_password

    return hash_password(password)


def create_first_admin(db: Database, username: str, *, password: str | None = None) -> Actor | None:
    """Make ``username`` the first admin of a database that has no accounts at all (audited as made by
    itself); None, writing nothing, when the database has any account already. Two processes doing this
    at once make one admin: the write holds the table (PostgreSQL) or the file (SQLite)."""
    username, hashed = _checked_name(username), _hashed(password)

    def work(session):  # type: ignore[no-untyped-def]
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
        if session.scalar(select(func.count()).select_from(User)) > 0:
            return None
        user = User(username=username, display_name=username, role=Role.ADMIN, password_hash=hashed)
        session.add(user)
        session.flush()
        made = Actor(user.id, user.username, user.role)
        audit(session, made, "user", user.id, "create", None, snapshot(user, USER_FIELDS))
        return made

    return db.run_write(work)


def ensure_user(db: Database, username: str, role: Role | None = None, display_name: str = "", *,
                password: str | None = None) -> Actor:
    """For tests and demo code that create accounts on purpose (never a sign-in): return the user's
    actor, creating the account if it does not exist yet (with ``password``, if given). The first
    account of a new database becomes an admin; later ones get ``role`` or merchandiser."""
    username = username.strip()
    if not username:
        raise ValidationError([("user", "username", "must not be empty")])
    hashed = None
    if password is not None:
        from backoffice.services.auth import hash_password

        hashed = hash_password(password)

    def find_or_create(session):  # type: ignore[no-untyped-def]
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            if not user.active:
                raise PermissionDenied(f"{username}: account deactivated")
            return Actor(user.id, user.username, user.role)
        first = session.scalar(select(func.count()).select_from(User)) == 0
        user = User(username=username, display_name=display_name or username,
                    role=Role.ADMIN if first else (role or Role.MERCHANDISER), password_hash=hashed)
        session.add(user)
        session.flush()
        actor = Actor(user.id, user.username, user.role)
        audit(session, actor, "user", user.id, "create", None, snapshot(user, USER_FIELDS))
        return actor

    return db.run_write(find_or_create)


# -- PostgreSQL logins -----------------------------------------------------------------------------------
# On PostgreSQL each account made by ``users add`` gets a LOGIN role of its own (services/db_roles.py):
# the person connects as themselves and the database enforces their role. The login is the user name,
# after the prefix in BACKOFFICE_LOGIN_PREFIX (for a cluster that holds several stores: login names are
# shared by all its databases). A password an admin gives is temporary: it works for
# INITIAL_PASSWORD_DAYS, and the person replaces it with their own (``users passwd``, or the desktop
# asks at the first sign-in). With no password given the login gets a random one nobody knows, until an
# admin sets one.
LOGIN_PREFIX_ENV = "BACKOFFICE_LOGIN_PREFIX"
INITIAL_PASSWORD_DAYS = db_roles.INITIAL_PASSWORD_DAYS


def login_name(username: str) -> str:
    import os

    name = os.environ.get(LOGIN_PREFIX_ENV, "") + username
    if len(name) > 63:
        raise ValidationError([("user", "username", f"{name!r} is longer than a PostgreSQL login may be (63)")])
    return name


def _has_logins(session: Any) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _open_login(session: Any, user: User, password: str | None) -> None:
    import datetime as dt
    import secrets as random_secrets

    user.db_login = login_name(user.username)
    session.flush()
    temporary = password or random_secrets.token_urlsafe(24)
    db_roles.create_login(session.connection(), user.db_login, user.role, temporary,
                          valid_until=utcnow() + dt.timedelta(days=INITIAL_PASSWORD_DAYS))


def _user_dict(u: User) -> dict:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role.value,
            "active": u.active, "version": u.version}


def list_users(db: Database) -> list[dict]:
    with db.read() as session:
        return [_user_dict(u) for u in session.scalars(select(User).order_by(User.username))]


def find_user(db: Database, username: str) -> dict | None:
    with db.read() as session:
        user = session.scalar(select(User).where(User.username == username.strip()))
        return _user_dict(user) if user is not None else None


def get_user(db: Database, user_id: int) -> dict:
    with db.read() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return _user_dict(user)


# -- administering accounts ---------------------------------------------------------------------------
def _active_admins(session: Any) -> int:
    return session.scalar(select(func.count()).select_from(User)
                          .where(User.role == Role.ADMIN, User.active.is_(True))) or 0


def _require_admin(session: Any, actor: Actor | None, what: str) -> None:
    if actor is None:
        raise PermissionDenied(f"only an admin may {what}: sign in as one")
    me = session.get(User, actor.user_id)
    if me is None or not me.active:
        raise PermissionDenied(f"{actor.username}: account deactivated" if me is not None
                               else f"{actor.username}: no such account")
    if me.role is not Role.ADMIN:
        raise PermissionDenied(f"{actor.username} ({me.role.value}) may not {what}; it needs the role admin")


def _named(session: Any, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound(f"no user named {username.strip()!r}")
    return user


def create_user(db: Database, creator: Actor | None, username: str, role: Role, display_name: str = "",
                *, password: str | None = None) -> tuple[Actor, bool]:
    """Create ``username`` (returns its actor and True), or return an existing account as it is (and
    False). Once an active admin exists only an admin creates accounts; the first account of an empty
    database is an admin whatever ``role`` says. The audit row names the creator (the new account
    itself only for the very first one)."""
    username, hashed = _checked_name(username), _hashed(password)

    def work(session):  # type: ignore[no-untyped-def]
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            return Actor(user.id, user.username, user.role), False
        first = session.scalar(select(func.count()).select_from(User)) == 0
        if not first and _active_admins(session) > 0:
            _require_admin(session, creator, "create accounts")
        user = User(username=username, display_name=display_name or username,
                    role=Role.ADMIN if first else role, password_hash=hashed)
        session.add(user)
        session.flush()
        if _has_logins(session):
            _open_login(session, user, password)
        made = Actor(user.id, user.username, user.role)
        audit(session, creator if creator is not None and not first else made, "user", user.id, "create", None,
              snapshot(user, USER_FIELDS))
        return made, True

    return db.run_write(work)


def _check_version(user: User, expected_version: int | None) -> None:
    """ConflictError, with the account as it is now, when ``expected_version`` is given and stale."""
    if expected_version is not None and user.version != expected_version:
        raise ConflictError("user", user.id, user.username, expected_version, user.version, _user_dict(user))


def set_role(db: Database, actor: Actor, username: str, role: Role, *, expected_version: int | None = None) -> dict:
    """Change an account's role (admin only); the last active admin keeps theirs. With
    ``expected_version`` (the version read), a stale one is a ConflictError."""
    def work(session):  # type: ignore[no-untyped-def]
        _require_admin(session, actor, "change roles")
        user = _named(session, username)
        _check_version(user, expected_version)
        if user.role is role:
            return _user_dict(user)
        if user.role is Role.ADMIN and user.active and _active_admins(session) <= 1:
            raise PermissionDenied(f"{user.username} is the last active admin: make another admin first")
        before = snapshot(user, ("role",))
        user.role = role
        session.flush()
        if user.db_login and _has_logins(session):
            db_roles.set_login_role(session.connection(), user.db_login, role)
        audit(session, actor, "user", user.id, "role", before, snapshot(user, ("role",)))
        return _user_dict(user)

    return db.run_write(work)


def deactivate(db: Database, actor: Actor, username: str, *, expected_version: int | None = None) -> dict:
    """Deactivate an account (admin only): it can no longer sign in, and its sessions and API keys end.
    The last active admin cannot be deactivated. With ``expected_version``, a stale one is a ConflictError."""
    from backoffice.services.auth import revoke_all

    def work(session):  # type: ignore[no-untyped-def]
        _require_admin(session, actor, "deactivate accounts")
        user = _named(session, username)
        _check_version(user, expected_version)
        if not user.active:
            return _user_dict(user)
        if user.role is Role.ADMIN and _active_admins(session) <= 1:
            raise PermissionDenied(f"{user.username} is the last active admin: make another admin first")
        user.active = False
        session.flush()
        ended = revoke_all(session, user.id, utcnow())
        if user.db_login and _has_logins(session):
            ended += db_roles.set_login_active(session.connection(), user.db_login, False)
        audit(session, actor, "user", user.id, "deactivate", {"active": True},
              {"active": False, "sessions_revoked": ended})
        return _user_dict(user)

    done = db.run_write(work)
    login = _login_of(db, username)
    if login is not None:   # a connection opened while the transaction was committing ends too
        with db.engine.begin() as conn:
            db_roles.set_login_active(conn, login, False)
    return done


def _login_of(db: Database, username: str) -> str | None:
    if db.dialect != "postgresql":
        return None
    with db.read() as session:
        return session.scalar(select(User.db_login).where(User.username == username.strip()))


def bootstrap_admin(db: Database, username: str, *, password: str | None = None) -> tuple[Actor, bool]:
    """Make ``username`` an active admin, only while the database has no active admin (a new store, or
    one whose admins are all gone): creates the account (True) or promotes and reactivates it (False)."""
    username = username.strip()
    if not username:
        raise ValidationError([("user", "username", "must not be empty")])
    hashed = None
    if password is not None:
        from backoffice.services.auth import hash_password

        hashed = hash_password(password)

    def work(session):  # type: ignore[no-untyped-def]
        if _active_admins(session) > 0:
            raise PermissionDenied("the database has an active admin already: ask them "
                                   "(`backoffice users role NAME admin`)")
        user = session.scalar(select(User).where(User.username == username))
        created = user is None
        before = None if created else snapshot(user, USER_FIELDS)
        if created:
            user = User(username=username, display_name=username, role=Role.ADMIN)
            session.add(user)
        user.role, user.active = Role.ADMIN, True
        if hashed is not None:
            user.password_hash = hashed
        session.flush()
        made = Actor(user.id, user.username, user.role)
        audit(session, made, "user", user.id, "create" if created else "bootstrap", before,
              snapshot(user, USER_FIELDS))
        return made, created

    return db.run_write(work)


def has_active_admin(db: Database) -> bool:
    with db.read() as session:
        return _active_admins(session) > 0


# -- locations a user may post stock at -----------------------------------------------------------------
def user_locations(db: Database, username: str) -> list[str]:
    from backoffice.models import Location, UserLocation

    with db.read() as session:
        user = _named(session, username)
        return list(session.scalars(select(Location.code).join(UserLocation, UserLocation.location_id == Location.id)
                                    .where(UserLocation.user_id == user.id).order_by(Location.code)))


def set_user_locations(db: Database, actor: Actor, username: str, codes: list[str], *,
                       operation_id: str | None = None) -> list[str]:
    """Replace the locations ``username`` may post stock at (admin only); unknown codes are refused,
    every one named. Empty: every location. Audited with the lists before and after."""
    from sqlalchemy import delete

    from backoffice.models import Location, UserLocation
    from backoffice.services.base import claim_operation, store_operation_result

    wanted = sorted({c.strip().upper() for c in codes if c.strip()})

    def work(session):  # type: ignore[no-untyped-def]
        previous = claim_operation(session, operation_id, "users.set_locations", actor)
        if previous is not None:
            return previous["codes"]
        _require_admin(session, actor, "limit users to locations")
        user = _named(session, username)
        found = dict(session.execute(select(Location.code, Location.id).where(Location.code.in_(wanted))).all())
        missing = [c for c in wanted if c not in found]
        if missing:
            raise ValidationError([(f"user {user.username}", "locations", f"no location with code {c}") for c in missing])
        before = list(session.scalars(select(Location.code).join(UserLocation, UserLocation.location_id == Location.id)
                                      .where(UserLocation.user_id == user.id).order_by(Location.code)))
        if before != wanted:
            session.execute(delete(UserLocation).where(UserLocation.user_id == user.id))
            if wanted:
                session.add_all([UserLocation(user_id=user.id, location_id=found[c]) for c in wanted])
            session.flush()
            audit(session, actor, "user", user.id, "locations", {"locations": before}, {"locations": wanted},
                  operation_id)
        store_operation_result(session, operation_id, {"codes": wanted})
        return wanted

    return db.run_write(work)


def allowed_location_ids(session: Any, user_id: int) -> set[int] | None:
    """The locations a user may post at; None when not limited."""
    from backoffice.models import UserLocation

    ids = set(session.scalars(select(UserLocation.location_id).where(UserLocation.user_id == user_id)))
    return ids or None


# -- connections to a shared PostgreSQL ------------------------------------------------------------------
def database_sessions(db: Database) -> list[dict]:
    if db.dialect != "postgresql":
        return []
    rows = db_roles.database_sessions(db)
    with db.read() as session:
        names = dict(session.execute(select(User.db_login, User.username).where(User.db_login.is_not(None))).all())
    return [{**r, "username": names.get(r["login"])} for r in rows]


def end_database_session(db: Database, actor: Actor, pid: int) -> bool:
    """End one connection of a staff login or of the API server (admin only), audited."""
    if db.dialect != "postgresql":
        return False
    target = next((r for r in database_sessions(db) if r["pid"] == int(pid)), None)
    if target is None:
        return False
    ended = db_roles.end_database_session(db, pid)

    def note(session):  # type: ignore[no-untyped-def]
        audit(session, actor, "session", int(pid), "end", {"login": target["login"], "client": target["client"]},
              {"ended": ended})

    db.run_write(note)
    return ended
