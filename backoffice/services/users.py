"""Staff accounts and who is acting."""

from __future__ import annotations

import getpass

from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import Role, User
from backoffice.services.base import Actor, NotFound, ValidationError, audit, snapshot

USER_FIELDS = ("username", "display_name", "email", "role", "active")


def current_os_username() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no login name at all (some containers)
        return "backoffice"


def ensure_user(db: Database, username: str, role: Role | None = None, display_name: str = "") -> Actor:
    """Return the user's actor, creating the account if it does not exist yet. The first account of a
    new database becomes an admin (someone has to be); later ones get ``role`` or merchandiser."""
    username = username.strip()
    if not username:
        raise ValidationError([("user", "username", "must not be empty")])

    def find_or_create(session):  # type: ignore[no-untyped-def]
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            return Actor(user.id, user.username, user.role)
        first = session.scalar(select(func.count()).select_from(User)) == 0
        user = User(username=username, display_name=display_name or username,
                    role=Role.ADMIN if first else (role or Role.MERCHANDISER))
        session.add(user)
        session.flush()
        actor = Actor(user.id, user.username, user.role)
        audit(session, actor, "user", user.id, "create", None, snapshot(user, USER_FIELDS))
        return actor

    return db.run_write(find_or_create)


def _user_dict(u: User) -> dict:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "role": u.role.value,
            "active": u.active}


def list_users(db: Database) -> list[dict]:
    with db.read() as session:
        return [_user_dict(u) for u in session.scalars(select(User).order_by(User.username))]


def get_user(db: Database, user_id: int) -> dict:
    with db.read() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user with id {user_id}")
        return _user_dict(user)
