"""``/v1/counts``: stock counts at a warehouse or store. Start one, record what was counted (set, or add
scans), post it (every difference between counted and the books becomes one adjustment) or cancel it.

Every POST needs an ``Idempotency-Key``: recording scans adds, and posting moves stock, so a retried
request must not do either twice. A count is versioned: ``GET /counts/{id}`` sends its ``ETag``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from backoffice.operations.adjustments import CountInfo
from backoffice.server.http import IDEMPOTENT_RESPONSES, idempotent, with_etag
from backoffice.server.routes.stock import (
    MAX_ID,
    MAX_LIMIT,
    MAX_QUANTITY,
    NOT_FOUND,
    REFUSED,
    Id,
    IdPath,
    Limit,
    Note,
    Out,
    created,
    dump,
    quantities,
    shortages_named,
)
from backoffice.server.security import Caller, route

TAG = "counts"


class StockCountLine(Out):
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    counted: int
    on_hand: int = Field(description="The books now (or when the count was posted).")
    difference: int


class StockCount(Out):
    id: int
    number: str
    state: str
    version: int
    location_id: int
    location: str
    note: str
    created_at: dt.datetime
    posted_at: dt.datetime | None
    lines: list[StockCountLine]


class OpenCount(Out):
    id: int
    number: str
    location_id: int
    location: str
    lines: int
    created_at: dt.datetime
    created_by: str


class OpenCounts(BaseModel):
    items: list[OpenCount]


class CountStart(BaseModel):
    location_id: Id
    note: Note = ""


class CountedLine(BaseModel):
    variant_id: Id
    counted: int = Field(ge=0, le=MAX_QUANTITY)


class Counted(BaseModel):
    lines: list[CountedLine] = Field(min_length=1, max_length=MAX_LIMIT)
    add: bool = Field(default=False, description="Add to what was counted before (a scan is +1) instead of setting it.")


def count_response(info: CountInfo, location: str | None = None) -> Response:
    body = dump(StockCount, info)
    return created(body, info.version, location) if location else with_etag(body, info.version)


def register(router: APIRouter) -> None:
    @route(router, "GET", "/counts", "adjustments.open_counts", response_model=OpenCounts, tags=[TAG])
    def open_counts(*, caller: Caller,
                    location_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                    limit: Limit = 50) -> dict[str, Any]:
        """Counts not posted or cancelled yet, newest first."""
        rows = caller.ops.adjustments.open_counts(location_id=location_id, limit=limit)
        return {"items": [dump(OpenCount, r) for r in rows]}

    @route(router, "GET", "/counts/{count_id}", "adjustments.get_count", response_model=StockCount, tags=[TAG],
           responses=NOT_FOUND)
    def get_count(count_id: IdPath, *, caller: Caller) -> Response:
        """One count with its lines: counted beside the books."""
        return count_response(caller.ops.adjustments.get_count(count_id))

    @route(router, "POST", "/counts", "adjustments.start_count", status_code=201, response_model=StockCount, tags=[TAG],
           responses={**IDEMPOTENT_RESPONSES, **REFUSED})
    def start(body: CountStart, request: Request, *, caller: Caller) -> Response:
        """Start a count at one warehouse or store."""
        def run(op_id: str) -> Response:
            info = caller.ops.adjustments.start_count(body.location_id, note=body.note, op_id=op_id)
            return count_response(info, f"{request.url.path}/{info.id}")
        return idempotent(request, caller, body, run)

    @route(router, "POST", "/counts/{count_id}/lines", "adjustments.record_counts", response_model=StockCount, tags=[TAG],
           responses={**IDEMPOTENT_RESPONSES, **REFUSED})
    def record(count_id: IdPath, body: Counted, request: Request, *, caller: Caller) -> Response:
        """Record counted quantities on an open count (set them, or with ``add`` add to them)."""
        counted = quantities(body.lines, "counted")

        def run(op_id: str) -> Response:
            return count_response(caller.ops.adjustments.record_counts(count_id, counted, add=body.add, op_id=op_id))
        return idempotent(request, caller, body, run)

    @route(router, "POST", "/counts/{count_id}/post", "adjustments.post_count", response_model=StockCount, tags=[TAG],
           responses={**IDEMPOTENT_RESPONSES, **REFUSED})
    def post(count_id: IdPath, request: Request, *, caller: Caller) -> Response:
        """Post every difference between counted and on hand as one adjustment; the count is then posted."""
        def run(op_id: str) -> Response:
            with shortages_named():
                return count_response(caller.ops.adjustments.post_count(count_id, op_id=op_id))
        return idempotent(request, caller, {}, run)

    @route(router, "POST", "/counts/{count_id}/cancel", "adjustments.cancel_count", response_model=StockCount, tags=[TAG],
           responses={**IDEMPOTENT_RESPONSES, **REFUSED})
    def cancel(count_id: IdPath, request: Request, *, caller: Caller) -> Response:
        """Discard an open count; the stock is not changed."""
        def run(op_id: str) -> Response:
            return count_response(caller.ops.adjustments.cancel_count(count_id, op_id=op_id))
        return idempotent(request, caller, {}, run)
