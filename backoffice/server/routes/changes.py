"""``/v1/changes``: change feeds, for integrations that keep a copy of the store in step.

``GET /v1/changes/{kind}?cursor=&limit=`` returns the rows of a kind changed after ``cursor`` (none:
from the beginning), each once at its current state, deletions as ``{"id": …, "deleted": true}``, and
``next_cursor`` to ask with next time (also when ``rows`` is empty). A row committed late is never
skipped: the feed holds back changes of transactions still running until they end. ``GET
/v1/changes/{kind}/cursor`` is the end as of now: take it before a full load, then follow the feed from it.
The audit feed (``/v1/changes/audit``) is for those who may read the audit log.
"""

from __future__ import annotations

import enum
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.responses import Response

from backoffice.operations.feeds import DEFAULT_LIMIT, MAX_LIMIT, FeedPage
from backoffice.server.security import Caller, route

TAG = "changes"


class FeedKind(str, enum.Enum):
    PRODUCTS = "products"
    VARIANTS = "variants"
    STOCK_LEVELS = "stock-levels"
    ORDERS = "orders"


class ChangePage(BaseModel):
    """Rows changed after the cursor, oldest change first. Each row is the row as it is now (money as
    strings, times in ISO 8601) with ``deleted: false``, or a tombstone ``{"id": …, "deleted": true}``.
    Ask again with ``next_cursor``; ``has_more`` says whether more changes are waiting now."""

    rows: list[dict[str, Any]]
    next_cursor: str
    has_more: bool


class FeedCursor(BaseModel):
    cursor: str


_RESPONSES: dict[int | str, dict[str, Any]] = {422: {"description": "The cursor is not one of this feed, or limit is "
                                                                      f"outside 1…{MAX_LIMIT}"}}
_CURSOR = Query(None, max_length=64, description="next_cursor of the previous page; none: from the beginning")
_LIMIT = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="rows at most")


def _page(page: FeedPage) -> Response:
    # Pages are big (thousands of rows) and their rows arrive as JSON written by the database: sent as
    # they are, neither parsed nor validated again.
    return Response(page.to_json_text().encode(), media_type="application/json")


def register(router: APIRouter) -> None:
    # The audit feed first: its fixed path must win over /changes/{kind}.
    @route(router, "GET", "/changes/audit", "feeds.audit_changes", response_model=ChangePage, tags=[TAG],
           responses=_RESPONSES)
    def audit_changes(cursor: str | None = _CURSOR, limit: int = _LIMIT, *, caller: Caller) -> Response:
        """Audit entries written after the cursor (who did what, with the values before and after)."""
        return _page(caller.ops.feeds.audit_changes(cursor, limit))

    @route(router, "GET", "/changes/audit/cursor", "feeds.audit_cursor", response_model=FeedCursor, tags=[TAG])
    def audit_cursor(*, caller: Caller) -> dict[str, str]:
        """The end of the audit feed as of now."""
        return {"cursor": caller.ops.feeds.audit_cursor()}

    @route(router, "GET", "/changes/{kind}", "feeds.changes", response_model=ChangePage, tags=[TAG],
           responses=_RESPONSES)
    def changes(kind: FeedKind, cursor: str | None = _CURSOR, limit: int = _LIMIT, *, caller: Caller) -> Response:
        """Products, variants, stock levels or orders changed after the cursor, at their current state."""
        return _page(caller.ops.feeds.changes(kind.value, cursor, limit))

    @route(router, "GET", "/changes/{kind}/cursor", "feeds.cursor", response_model=FeedCursor, tags=[TAG])
    def cursor(kind: FeedKind, *, caller: Caller) -> dict[str, str]:
        """The end of the feed as of now: take it before a full load, then follow the feed from it (a
        change committed around that moment may come once more; none is missed)."""
        return {"cursor": caller.ops.feeds.cursor(kind.value)}
