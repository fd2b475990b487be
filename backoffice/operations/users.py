"""The users area of the operations contract: who is acting, the staff accounts and their roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backoffice.models import Role
from backoffice.operations.base import Area, ValidationError
from backoffice.operations.changes import USERS, Changes
from backoffice.services import users

__all__ = ["ROLES", "UserInfo", "UserOperations"]

ROLES: tuple[str, ...] = tuple(r.value for r in Role)


@dataclass(frozen=True)
class UserInfo:
    """One staff account."""

    id: int
    username: str
    role: str            # one of ROLES
    display_name: str = ""
    active: bool = True

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UserInfo:
        return cls(d["id"], d["username"], d["role"], d["display_name"], d["active"])


class UserOperations(Area):
    def whoami(self) -> UserInfo:
        """The acting user: the one these operations were opened for."""
        if self._actor is None:
            raise ValidationError("not signed in: there is no acting user")
        return UserInfo.from_dict(users.get_user(self._db, self._actor.user_id))

    def list(self) -> list[UserInfo]:
        """Every account, by user name, with its role and whether it is active."""
        return [UserInfo.from_dict(u) for u in users.list_users(self._db)]

    def add(self, username: str, *, role: str = "merchandiser", display_name: str = "",
            op_id: str | None = None) -> UserInfo:
        """Create the account ``username`` with ``role`` (the first account of a database is always an
        admin); an account that exists already is returned as it is."""
        if role not in ROLES:
            raise ValidationError([("user", "role", f"{role!r} is not one of {', '.join(ROLES)}")])
        actor = self._write(lambda: users.ensure_user(self._db, username, Role(role), display_name),
                            lambda a: Changes.of(USERS, user=[a.user_id]))
        return UserInfo.from_dict(users.get_user(self._db, actor.user_id))
