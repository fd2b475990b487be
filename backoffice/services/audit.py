"""Reading the audit trail: filtered, newest first, in keyset pages (the table grows without bound)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select

from backoffice.db import Database
from backoffice.models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    text: str = ""          # matched against entity id, username, action and operation id
    entity: str = ""        # "product", "variant", "stock_operation", ...
    username: str = ""
    action: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: dt.datetime
    username: str
    entity: str
    entity_id: str
    action: str
    operation_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def changed_fields(self) -> list[str]:
        before, after = self.before or {}, self.after or {}
        return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))

    def summary(self) -> str:
        """One line for a table cell: which fields changed and how (at most three shown)."""
        before, after = self.before or {}, self.after or {}
        if not before and after:
            label = after.get("title") or after.get("sku") or after.get("username") or after.get("reason") or ""
            return f"created {label}".strip()
        if before and not after:
            return "deleted"
        parts = []
        fields = self.changed_fields()
        for name in fields[:3]:
            parts.append(f"{name}: {_short(before.get(name))} → {_short(after.get(name))}")
        if len(fields) > 3:
            parts.append(f"+{len(fields) - 3} more")
        return "; ".join(parts)


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 40 else text[:39] + "…"


PAGE_SIZE = 200


def _filtered(stmt: Select, f: AuditFilter) -> Select:
    if f.entity:
        stmt = stmt.where(AuditEntry.entity == f.entity)
    if f.username:
        stmt = stmt.where(AuditEntry.username == f.username)
    if f.action:
        stmt = stmt.where(AuditEntry.action == f.action)
    if f.since is not None:
        stmt = stmt.where(AuditEntry.at >= f.since)
    if f.until is not None:
        stmt = stmt.where(AuditEntry.at < f.until)
    if f.text.strip():
        needle = f"%{f.text.strip().lower()}%"
        stmt = stmt.where(
            or_(
                AuditEntry.entity_id == f.text.strip(),
                func.lower(AuditEntry.username).like(needle),
                func.lower(AuditEntry.action).like(needle),
                func.lower(AuditEntry.entity).like(needle),
                AuditEntry.operation_id == f.text.strip(),
            )
        )
    return stmt


def fetch_page(db: Database, f: AuditFilter = AuditFilter(), *, before_id: int | None = None,
               limit: int = PAGE_SIZE) -> list[AuditRow]:
    """Up to ``limit`` entries older than ``before_id`` (newest first); keyset, never OFFSET."""
    stmt = _filtered(select(AuditEntry), f)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    stmt = stmt.order_by(AuditEntry.id.desc()).limit(limit)
    with db.read() as session:
        return [
            AuditRow(e.id, e.at, e.username, e.entity, e.entity_id, e.action, e.operation_id, e.before, e.after)
            for e in session.scalars(stmt)
        ]


def count(db: Database, f: AuditFilter = AuditFilter()) -> int:
    with db.read() as session:
        return session.scalar(_filtered(select(func.count()).select_from(AuditEntry), f)) or 0


def facets(db: Database) -> dict[str, list[str]]:
    """The distinct entities, actions and users, for the filter combo boxes."""
    with db.read() as session:
        return {
            "entity": list(session.scalars(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity))),
            "action": list(session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))),
            "username": list(session.scalars(select(AuditEntry.username).distinct().order_by(AuditEntry.username))),
        }
