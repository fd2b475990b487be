"""The users area of the operations contract: who is acting, the staff accounts and their roles."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from backoffice.models import Role
from backoffice.operations.base import Area, NotFound, ValidationError
from backoffice.operations.changes import USERS, Changes
from backoffice.services import auth, users

__all__ = ["ROLES", "DatabaseSession", "SessionInfo", "UserInfo", "UserOperations"]

ROLES: tuple[str, ...] = tuple(r.value for r in Role)


@dataclass(frozen=True)
class UserInfo:
    """One staff account."""

    id: int
    username: str
    role: str            # one of ROLES
    display_name: str = ""
    active: bool = True
    version: int = 0     # changes with every change of the account (its role, activity, password)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UserInfo:
        return cls(d["id"], d["username"], d["role"], d["display_name"], d["active"], d.get("version", 0))


@dataclass(frozen=True)
class SessionInfo:
    """A live sign-in session (its refresh token) or an API key; never the secret."""

    id: int
    username: str
    kind: str                      # "session" or "api_key"
    name: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionInfo:
        return cls(d["id"], d["username"], d["kind"], d["name"], d["created_at"], d["expires_at"], d["last_used_at"])


@dataclass(frozen=True)
class DatabaseSession:
    """A connection to the shared PostgreSQL by a staff login or by the store API's server."""

    pid: int
    login: str
    username: str | None       # the account of that login (None: the API server's login, or unknown)
    application: str
    client: str
    started_at: dt.datetime
    state: str | None
    state_since: dt.datetime | None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatabaseSession:
        return cls(d["pid"], d["login"], d.get("username"), d.get("application") or "", d.get("client") or "",
                   d["started_at"], d.get("state"), d.get("state_since"))


def _role(role: str) -> Role:
    if role not in ROLES:
        raise ValidationError([("user", "role", f"{role!r} is not one of {', '.join(ROLES)}")])
    return Role(role)


class UserOperations(Area):
    def whoami(self) -> UserInfo:
        """The acting user: the one these operations were opened for."""
        if self._actor is None:
            raise ValidationError("not signed in: there is no acting user")
        return UserInfo.from_dict(users.get_user(self._db, self._actor.user_id))

    def list(self) -> list[UserInfo]:
        """Every account, by user name, with its role and whether it is active."""
        return [UserInfo.from_dict(u) for u in users.list_users(self._db)]

    def get(self, username: str) -> UserInfo:
        """One account by user name (NotFound when there is none)."""
        found = users.find_user(self._db, username)
        if found is None:
            raise NotFound(f"no user named {username.strip()!r}")
        return UserInfo.from_dict(found)

    def add(self, username: str, *, role: str = "merchandiser", display_name: str = "",
            password: str | None = None, op_id: str | None = None) -> UserInfo:
        """Create the account ``username`` with ``role`` (and ``password``, if given). Once the database
        has an active admin only an admin may; the first account of a database is always an admin. An
        account that exists already is returned as it is (its password untouched)."""
        wanted = _role(role)
        existing = users.find_user(self._db, username)
        if existing is not None:
            return UserInfo.from_dict(existing)
        creator = self._acting_if_needed()
        actor, _created = self._write(
            lambda: users.create_user(self._db, creator, username, wanted, display_name, password=password),
            lambda made: Changes.of(USERS, user=[made[0].user_id]))
        return UserInfo.from_dict(users.get_user(self._db, actor.user_id))

    def _acting_if_needed(self):  # type: ignore[no-untyped-def]
        """The acting user when an admin exists (only an admin may then administer accounts); nobody
        while the database has none (its first account needs no one to make it)."""
        return self._actor if users.has_active_admin(self._db) else None

    def bootstrap_admin(self, username: str, *, password: str | None = None) -> UserInfo:
        """Make ``username`` an admin while the database has no active admin (creating the account)."""
        actor, _created = self._write(lambda: users.bootstrap_admin(self._db, username, password=password),
                                      lambda made: Changes.of(USERS, user=[made[0].user_id]))
        return UserInfo.from_dict(users.get_user(self._db, actor.user_id))

    def set_role(self, username: str, role: str, *, expected_version: int | None = None) -> UserInfo:
        """Give ``username`` another role (admin only; the last active admin stays one); a stale
        ``expected_version`` is a ConflictError."""
        wanted = _role(role)
        done = self._write(lambda: users.set_role(self._db, self._actor, username, wanted,
                                                  expected_version=expected_version),
                           lambda d: Changes.of(USERS, user=[d["id"]]))
        return UserInfo.from_dict(done)

    def deactivate(self, username: str, *, expected_version: int | None = None) -> UserInfo:
        """Deactivate ``username`` (admin only): no more sign-ins; its sessions and API keys end. A stale
        ``expected_version`` is a ConflictError."""
        done = self._write(lambda: users.deactivate(self._db, self._actor, username,
                                                    expected_version=expected_version),
                           lambda d: Changes.of(USERS, user=[d["id"]]))
        return UserInfo.from_dict(done)

    def set_password(self, username: str, password: str) -> None:
        """Set a password (one's own, or anyone's as an admin); the account's sessions end."""
        self._write(lambda: auth.set_password(self._db, self._actor, username, password), Changes.of(USERS))

    def issue_reset_token(self, username: str) -> str:
        """A one-time token (shown once) with which ``username`` sets a password (admin only)."""
        return self._write(lambda: auth.issue_reset_token(self._db, self._actor, username), Changes.of(USERS))

    def create_api_key(self, username: str, name: str) -> str:
        """An API key acting as ``username`` (admin only); the secret is returned once, kept hashed."""
        return self._write(lambda: auth.create_api_key(self._db, self._actor, username, name), Changes.of(USERS))

    def sessions(self, username: str | None = None) -> list[SessionInfo]:
        """Live sessions and API keys: everyone's for an admin (or ``username``'s), else one's own."""
        return [SessionInfo.from_dict(d) for d in auth.list_sessions(self._db, self._actor, username=username)]

    def revoke_session(self, session_id: int) -> None:
        """End a session or API key by id (its owner or an admin)."""
        self._write(lambda: auth.revoke_session(self._db, self._actor, session_id), Changes.of(USERS))

    def database_sessions(self) -> list[DatabaseSession]:
        """Who is connected to the shared PostgreSQL as themselves (staff logins) or through the store API's
        server (admin only; empty on SQLite)."""
        return [DatabaseSession.from_dict(d) for d in users.database_sessions(self._db)]

    def end_database_session(self, pid: int) -> bool:
        """End one connection of a staff login or of the API server (admin only); False when it is gone."""
        return self._write(lambda: users.end_database_session(self._db, self._actor, pid), Changes.of(USERS))

    def locations(self, username: str) -> list[str]:
        """The codes of the locations ``username`` may post stock at (empty: every location)."""
        return users.user_locations(self._db, username)

    def set_locations(self, username: str, codes: list[str], *, op_id: str | None = None) -> list[str]:
        """Limit ``username`` to posting stock at these locations (empty: every location; admin only)."""
        return self._write(lambda: users.set_user_locations(self._db, self._actor, username, codes,
                                                            operation_id=op_id), Changes.of(USERS))
