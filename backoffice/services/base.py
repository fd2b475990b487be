"""What every service operation shares: the acting user, the errors, audit rows, idempotency.

The pattern of a write (see catalog.py, inventory.py):

    def do_something(db, actor, *, plain_args..., operation_id=None) -> Result:
        validate plain arguments            -> ValidationError naming the row and field
        db.run_write(work)                  -> one transaction, retried on serialization failures
            check versions                  -> ConflictError naming the row
            write rows
            audit(session, actor, ...)      -> one audit row per changed entity
        return what changed (plain, serialisable)

Arguments and results are plain values (ids, strings, Decimals, dicts) so that the same call can be
made from the GUI, the CLI, the HTTP server, or replayed later from an offline outbox.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from collections.abc import Iterator
from typing import Any

from sqlalchemy import any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from backoffice.models import AppliedOperation, AuditEntry, Role, utcnow


@dataclass(frozen=True)
class Actor:
    """The user on whose behalf an operation runs."""

    user_id: int
    username: str
    role: Role

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "username": self.username, "role": self.role.value}


# -- errors ---------------------------------------------------------------------------------------------
class ServiceError(Exception):
    """An operation refused, with a message fit to show the user as it is. Nothing was written."""


class ValidationError(ServiceError):
    """Bad input. ``problems`` lists every (row, field, message) found, not only the first."""

    def __init__(self, problems: list[tuple[str, str, str]] | str) -> None:
        if isinstance(problems, str):
            problems = [("", "", problems)]
        self.problems = problems
        super().__init__("; ".join(_format_problem(*p) for p in problems))


def _format_problem(row: str, field_name: str, message: str) -> str:
    where = " ".join(part for part in (row, field_name) if part)
    return f"{where}: {message}" if where else message


class NotFound(ServiceError):
    pass


class ConflictError(ServiceError):
    """Someone else changed the row since it was read: it is reported, never overwritten."""

    def __init__(self, entity: str, entity_id: int | str, label: str, expected: int, actual: int,
                 current: dict[str, Any] | None = None) -> None:
        self.entity, self.entity_id, self.label = entity, entity_id, label
        self.expected_version, self.actual_version = expected, actual
        self.current = current or {}
        super().__init__(
            f"{entity} {label} was changed by someone else (your version {expected}, now {actual}); "
            "reload it and apply your change again"
        )


class PermissionDenied(ServiceError):
    pass


# -- values ---------------------------------------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """A value as it is stored in audit rows and returned to callers (the store API's JSON too):
    JSON-safe, money exact as strings (never floats), dates ISO 8601, tuples and sets as lists, enums by
    value, dataclasses as objects (their private fields left out), a float that is not finite as null, a
    numpy scalar as its value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.name.startswith("_")}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str | bytes):   # numpy
        return jsonable(value.item())
    return value


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: jsonable(getattr(obj, name)) for name in fields}


def new_operation_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Change:
    """What a write did to one row."""

    entity: str
    entity_id: int
    action: str
    version: int | None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    children: list[Change] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "entity_id": self.entity_id,
            "action": self.action,
            "version": self.version,
            "before": self.before,
            "after": self.after,
            "children": [c.to_dict() for c in self.children],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        return cls(
            entity=data["entity"], entity_id=data["entity_id"], action=data["action"], version=data["version"],
            before=data.get("before"), after=data.get("after"),
            children=[cls.from_dict(c) for c in data.get("children", [])],
        )


# -- audit ----------------------------------------------------------------------------------------------
_AUDIT_INSERT = AuditEntry.__table__.insert().inline()   # no RETURNING: staff may not read every entry they write


def audit(session: Session, actor: Actor, entity: str, entity_id: int | str, action: str,
          before: dict[str, Any] | None, after: dict[str, Any] | None, operation_id: str | None = None) -> None:
    """Write one audit row in the current transaction (it commits or rolls back with the change). A plain
    INSERT rather than an ORM object: every write path pays for it, the stock ledger most often."""
    session.connection().execute(
        _AUDIT_INSERT,
        {"at": utcnow(), "user_id": actor.user_id, "username": actor.username, "entity": entity,
         "entity_id": str(entity_id), "action": action, "operation_id": operation_id, "before": jsonable(before),
         "after": jsonable(after)},
    )


def audit_change(session: Session, actor: Actor, change: Change, operation_id: str | None) -> None:
    audit(session, actor, change.entity, change.entity_id, change.action, change.before, change.after, operation_id)
    for child in change.children:
        audit_change(session, actor, child, operation_id)


SQLITE_IN_CHUNK = 2000


def chunked_in(session: Session, column: Any, values: list[Any]) -> Iterator[Any]:
    """WHERE clauses that together cover ``column IN values``: on PostgreSQL one ``= ANY(array)`` with a
    single bind parameter however many values; on SQLite IN lists of 2,000 (its parameter limit)."""
    if not values:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
        return
    for start in range(0, len(values), SQLITE_IN_CHUNK):
        yield column.in_(values[start:start + SQLITE_IN_CHUNK])


def provisional_number() -> str:
    """A unique stand-in for a document number until the row's id is known (TR-000012 is made from the
    id after the insert). Never a constant: concurrent inserts of the same value would queue on the
    UNIQUE index until each other's transactions end."""
    return f"~{uuid.uuid4().hex[:24]}"


def dialect_insert(session: Session):  # type: ignore[no-untyped-def]
    """The INSERT construct of the session's dialect (both have ON CONFLICT DO NOTHING)."""
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


# -- idempotency ----------------------------------------------------------------------------------------
def claim_operation(session: Session, operation_id: str | None, action: str, actor: Actor) -> dict[str, Any] | None:
    """Record ``operation_id`` as applied in this transaction. If it was applied before, return the
    stored result instead (the caller returns it and writes nothing). A concurrent duplicate waits on the
    first one's row lock in PostgreSQL, and on the write lock in SQLite."""
    if operation_id is None:
        return None
    stmt = (
        dialect_insert(session)(AppliedOperation)
        .values(operation_id=operation_id, action=action, user_id=actor.user_id, at=utcnow())
        .on_conflict_do_nothing(index_elements=["operation_id"])
        .returning(AppliedOperation.operation_id)
    )
    if session.execute(stmt).scalar() is not None:
        return None
    previous = session.execute(
        select(AppliedOperation.action, AppliedOperation.result).where(AppliedOperation.operation_id == operation_id)
    ).one()
    if previous.action != action:
        raise ValidationError(f"operation id {operation_id} was already used for {previous.action}, not {action}")
    return previous.result or {}


def store_operation_result(session: Session, operation_id: str | None, result: dict[str, Any]) -> None:
    if operation_id is None:
        return
    op = session.get(AppliedOperation, operation_id)
    assert op is not None, "claim_operation must run first"
    op.result = jsonable(result)


def applied_result(db: Any, operation_id: str | None, action: str) -> dict[str, Any] | None:  # noqa: ANN401 - a Database
    """The stored result of ``operation_id`` if a write already applied it, else None: lets a caller see,
    before it resolves its arguments against the current data, that a retried request ran already. An id
    used for another kind of write is refused, as :func:`claim_operation` refuses it."""
    if not operation_id:
        return None
    with db.read() as session:
        row = session.execute(select(AppliedOperation.action, AppliedOperation.result)
                              .where(AppliedOperation.operation_id == operation_id)).first()
    if row is None:
        return None
    if row.action != action:
        raise ValidationError(f"operation id {operation_id} was already used for {row.action}, not {action}")
    return dict(row.result or {})

