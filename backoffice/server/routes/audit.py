"""``/v1/audit``: the audit trail, read by managers (and admins) only, as the permission table says.

Entries come newest first in keyset pages (``cursor`` / ``next_cursor``), filtered by text, entity,
user, action and time; each is described for people (its subject and a one-line summary, names instead
of ids). One entry adds its before/after lines; ``/v1/audit/facets`` lists the filter choices.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from backoffice.operations import ValidationError
from backoffice.operations.audit import AuditFilter
from backoffice.server.routes.purchasing import MAX_LIMIT, IdPath, decode_cursor, encode_cursor, plain
from backoffice.server.security import Caller, route

TAG = "audit"


class AuditEntry(BaseModel):
    id: int
    at: dt.datetime
    username: str
    entity: str
    entity_id: str
    action: str
    operation_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    subject: str | None = None
    summary: str | None = None
    changeset_id: int | None = None


class FieldLine(BaseModel):
    field: str
    label: str
    before: str
    after: str
    changed: bool


class AuditEntryDetail(AuditEntry):
    lines: list[FieldLine] = []


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None


class AuditFacets(BaseModel):
    entity: list[str]
    action: list[str]
    username: list[str]


def _utc(value: dt.datetime | None, name: str) -> dt.datetime | None:
    """A time filter in UTC (one without an offset is taken as UTC); a time UTC cannot hold is a 422."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
    except (OverflowError, ValueError):
        raise ValidationError([("", name, f"{value.isoformat()} is out of range")]) from None


def register(router: APIRouter) -> None:
    @route(router, "GET", "/audit", "audit.page", response_model=AuditPage, tags=[TAG])
    def audit_page(text: str = Query("", max_length=200), entity: str = Query("", max_length=100),
                   username: str = Query("", max_length=100), action: str = Query("", max_length=100),
                   since: dt.datetime | None = None, until: dt.datetime | None = None,
                   cursor: str | None = Query(None, max_length=100), limit: int = Query(100, ge=1, le=MAX_LIMIT),
                   *, caller: Caller) -> dict[str, Any]:
        """Entries newest first matching the filters (``text``: entity id, user, action or operation id;
        ``since``/``until``: times, inclusive), a keyset page at a time."""
        before = decode_cursor(cursor)
        f = AuditFilter(text=text, entity=entity, username=username, action=action, since=_utc(since, "since"),
                        until=_utc(until, "until"))
        rows = caller.ops.audit.page(f, before_id=before, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return {"items": [r.to_json() for r in rows], "next_cursor": encode_cursor(rows[-1].id) if more else None}

    @route(router, "GET", "/audit/facets", "audit.facets", response_model=AuditFacets, tags=[TAG])
    def audit_facets(*, caller: Caller) -> dict[str, list[str]]:
        """The entities, actions and users that occur in the trail: the filters' choices."""
        return caller.ops.audit.facets()

    @route(router, "GET", "/audit/{entry_id}", "audit.entry", response_model=AuditEntryDetail, tags=[TAG],
           responses={404: {"description": "No such entry"}})
    def audit_entry(entry_id: IdPath, *, caller: Caller) -> dict[str, Any]:
        """One entry with its before/after lines, by name (changed lines first)."""
        row = caller.ops.audit.entry(entry_id)
        return {**row.to_json(), "lines": plain(list(row.view.lines)) if row.view is not None else []}
