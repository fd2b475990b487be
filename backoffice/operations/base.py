"""What every area of the contract shares: the errors it raises, the acting user, and the in-process
plumbing (the database and the change notes of writes)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from backoffice.operations.changes import Changes, record
from backoffice.db import ACTING, Acting
from backoffice.models import Role
from backoffice.services import permissions
from backoffice.services.base import (
    Actor,
    ConflictError,
    NotFound,
    PermissionDenied,
    ServiceError,
    ValidationError,
    jsonable,
)

if TYPE_CHECKING:
    from backoffice.db import Database

__all__ = ["Actor", "Area", "ConflictError", "NotFound", "PermissionDenied", "ProgressCallback",
           "CancelCallback", "ServiceError", "ValidationError", "jsonable"]

T = TypeVar("T")

# The only callables that cross the contract: a remote implementation drives them from a job's status.
ProgressCallback = Callable[[float | None, str | None], None]   # (fraction 0..1 or None, status text or None)
CancelCallback = Callable[[], bool]                              # True once the user asked to stop


class Area:
    """One area of the contract, implemented in-process over the services.

    Methods take and return plain values (dataclasses of str/int/Decimal/datetime/lists, JSON-safe), the
    acting user is the one the operations were opened for, and writes take ``op_id`` (an operation id:
    the same id twice writes once). A write notes what it changed with :meth:`changed` once it has
    committed; nothing else of the database leaks out.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every public method of an area checks the permission table first: ``area.method`` (the area
        is the module's name), so no client can reach an operation its role may not run."""
        super().__init_subclass__(**kwargs)
        area = cls.__module__.rsplit(".", 1)[-1]
        for name, member in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(member):
                continue    # private helpers, static and class methods, properties
            setattr(cls, name, _guarded(member, f"{area}.{name}"))

    def __init__(self, db: Database, actor: Actor | Callable[[], Actor]) -> None:
        self._db = db
        self._acting = actor       # the user, or how to sign them in when first needed

    @property
    def _actor(self) -> Actor:
        """The acting user; signed in on first use when the operations were opened to sign in lazily
        (so a command that only reads creates no account)."""
        if not isinstance(self._acting, Actor) and callable(self._acting):
            self._acting = self._acting()
        return self._acting  # type: ignore[return-value]

    @property
    def actor(self) -> Actor:
        return self._actor

    @staticmethod
    def changed(changes: Changes) -> None:
        record(changes)

    def _write(self, call: Callable[[], T], changes: Changes | Callable[[T], Changes]) -> T:
        """Run a service write and note its changes (computed from the result when a callable)."""
        result = call()
        record(changes(result) if callable(changes) else changes)
        return result


# Operations that need the schema owner's own powers (they write what no staff role may: the demo store
# fills the ledger in bulk): run without taking on the acting user's group role.
OWNER_OPERATIONS = frozenset({"admin.generate_demo", "admin.upgrade"})


def _guarded(method: Callable[..., T], operation: str) -> Callable[..., T]:
    @functools.wraps(method)
    def guarded(self: Area, *args: Any, **kwargs: Any) -> T:
        actor = None
        if permissions.needs_sign_in(operation):
            actor = self._actor
            if actor is None:
                raise PermissionDenied(f"{operation} needs a signed-in user")
            permissions.require(actor, operation)
        op_id = kwargs.get("op_id")
        acting = Acting(
            role=None if actor is None or operation in OWNER_OPERATIONS else "backoffice_" + Role(actor.role).value,
            user_id=None if actor is None else actor.user_id, operation=operation,
            operation_id=op_id if isinstance(op_id, str) else None)
        token = ACTING.set(acting)
        try:
            return method(self, *args, **kwargs)
        finally:
            ACTING.reset(token)

    guarded.operation = operation  # type: ignore[attr-defined]
    return guarded
