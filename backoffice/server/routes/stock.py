"""``/v1/stock``, ``/v1/locations`` (writes), ``/v1/adjustments`` and ``/v1/alerts``: stock levels and
their ledger, setting up locations, correcting the books, and low-stock alerts.

Levels and the ledger are keyset pages: ``next_cursor`` of one page is the ``cursor`` of the next (an
opaque string; ``null`` on the last page). An adjustment moves stock, so it needs an ``Idempotency-Key``;
a location is a versioned resource (``ETag``), edited, archived and restored with ``If-Match``.

Also the helpers the other stock resources share (:mod:`.transfers`, :mod:`.counts`): cursors, bounded
id and quantity types, and :func:`shortages_named`, which turns a refused stock move ("not enough
stock") into a 422 whose ``errors`` name each short row.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from backoffice.operations import NotFound, ServiceError, ValidationError
from backoffice.operations.stock import StockFilter
from backoffice.server.http import IDEMPOTENT_RESPONSES, IF_MATCH_RESPONSES, expected_version, idempotent, with_etag
from backoffice.server.security import Caller, route

TAG = "stock"

MAX_ID = 2_147_483_647           # ids beyond any row (and any column type) are refused before the database
MAX_QUANTITY = 1_000_000         # units in one line (far from the columns' limits however often sent)
MAX_LIMIT = 1000
NO_NUL = r"^[^\x00]*$"           # text the database can store

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Note = Annotated[str, Field(max_length=500, pattern=NO_NUL)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Rows per page (at most 1000).")]
Cursor = Annotated[str | None, Query(max_length=500, description="`next_cursor` of the page before.")]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such resource"}}
REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"description": "The store refused the request (the detail says why)"},
    404: {"description": "No such resource"},
    422: {"description": "Invalid request: `errors` lists each row, field and problem (stock that would go "
                         "below zero names its SKU and location)"},
}


# -- shared by the stock resources -------------------------------------------------------------------------
def encode_cursor(kind: str, *values: int) -> str:
    """An opaque keyset cursor of the list ``kind`` after the row whose key is ``values``."""
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str, size: int) -> tuple[int, ...] | None:
    """The key a cursor of :func:`encode_cursor` holds (None without one); 422 when it is not a cursor of
    the list ``kind``."""
    if cursor is None or cursor == "":
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        values = None
    if (not isinstance(values, list) or len(values) != size + 1 or values[0] != kind
            or not all(type(v) is int and 0 <= v <= MAX_ID for v in values[1:])):
        raise ValidationError([("", "cursor", "is not a cursor of this list: send next_cursor as it came")])
    return tuple(values[1:])


@contextmanager
def shortages_named() -> Iterator[None]:
    """Stock that would go below zero is invalid input: a 422 naming each short row (SKU at location)."""
    try:
        yield
    except ValidationError:
        raise
    except ServiceError as exc:
        shortages = getattr(exc, "shortages", None)
        if shortages is None:
            raise
        rows = [(f"{s.get('sku', s.get('variant_id', ''))} at {s.get('location', s.get('location_id', ''))}",
                 "quantity", f"{s.get('available', s.get('on_hand', 0))} available, {s.get('requested', 0)} "
                 "requested: stock cannot go below zero")
                for s in shortages] or [("", "quantity", str(exc))]
        raise ValidationError(rows) from exc


def quantities(lines: list[Any], field: str = "quantity") -> dict[int, int]:
    """``{variant_id: quantity}`` of request lines; a variant named twice is a 422 naming the line."""
    out: dict[int, int] = {}
    problems = []
    for i, line in enumerate(lines, 1):
        if line.variant_id in out:
            problems.append((f"line {i}", "variant_id", f"variant {line.variant_id} is already on an earlier line"))
        out[line.variant_id] = getattr(line, field)
    if problems:
        raise ValidationError(problems)
    return out


def created(body: dict[str, Any], version: int | None, location: str) -> JSONResponse:
    response = with_etag(body, version, status_code=201)
    response.headers["Location"] = location
    return response


def count_body(n: int) -> dict[str, int]:
    return {"count": n}


class StockTotal(BaseModel):
    count: int


class Out(BaseModel):
    """A representation read from the contract's dataclasses (their properties included)."""

    model_config = ConfigDict(from_attributes=True)


def dump(model: type[BaseModel], value: Any) -> dict[str, Any]:  # noqa: ANN401
    return model.model_validate(value, from_attributes=True).model_dump(mode="json")


# -- representations ----------------------------------------------------------------------------------------
class StockLevel(Out):
    variant_id: int
    location_id: int
    sku: str
    barcode: str | None
    title: str
    location: str
    on_hand: int
    reserved: int
    available: int = Field(description="On hand minus reserved.")
    in_transit: int = Field(description="On its way here on shipped transfers.")
    incoming: int = Field(description="Still expected here on sent purchase orders.")
    threshold: int | None
    reorder_point: int | None
    low: bool = Field(description="Available is at or below the threshold.")


class StockLevelPage(BaseModel):
    items: list[StockLevel]
    next_cursor: str | None


class VariantAvailability(BaseModel):
    variant_id: int
    items: list[StockLevel]


class StockLedgerRow(Out):
    move_id: int
    at: dt.datetime
    sku: str
    quantity: int = Field(description="Signed when a location is asked for: + arrived there, - left it.")
    from_location: str
    to_location: str
    reason: str
    document: str
    user: str
    operation_id: str


class StockLedgerPage(BaseModel):
    items: list[StockLedgerRow]
    next_cursor: str | None


class LocationRecord(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    internal: bool
    active: bool
    version: int


class LocationCreate(BaseModel):
    code: str = Field(min_length=1, max_length=50, pattern=NO_NUL, description="Upper-cased; no spaces.")
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    kind: str = Field(min_length=1, max_length=20, pattern=NO_NUL,
                      description="warehouse, store, supplier, customer, adjustment or transit.")


class LocationEdit(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NO_NUL)
    kind: str | None = Field(default=None, min_length=1, max_length=20, pattern=NO_NUL)


class AdjustmentLine(BaseModel):
    variant_id: Id
    quantity: int = Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY, description="+found or -missing units.")


class AdjustmentRequest(BaseModel):
    location_id: Id
    reason: str = Field(min_length=1, max_length=20, pattern=NO_NUL, description="count, damage, loss or found.")
    note: Note = ""
    lines: list[AdjustmentLine] = Field(min_length=1, max_length=MAX_LIMIT)


class LevelAfter(Out):
    variant_id: int
    location_id: int
    on_hand: int


class StockPosted(Out):
    operation_id: str
    applied: bool = Field(description="False when this operation had been posted before: nothing moved again.")
    levels: list[LevelAfter]


class AlertRow(Out):
    id: int
    variant_id: int
    sku: str
    title: str
    location: str
    available: int
    threshold: int
    opened_at: dt.datetime
    notified_at: dt.datetime | None


class AlertOverview(Out):
    rows: list[AlertRow]
    open_total: int
    unsent_total: int
    checked_at: dt.datetime | None
    truncated: bool


class Threshold(BaseModel):
    variant_id: Id
    location_id: Id
    threshold: int | None = Field(ge=0, le=MAX_QUANTITY, description="null: the default rules apply.")
    reorder_point: int | None = Field(default=None, ge=0, le=MAX_QUANTITY)


class AlertCheck(Out):
    opened: int
    closed: int
    open_now: int
    checked_at: dt.datetime | None


def location_row(caller: Caller, location_id: int) -> dict[str, Any]:
    for row in caller.ops.store.list_locations():
        if row["id"] == location_id:
            return {k: row[k] for k in LocationRecord.model_fields}
    raise NotFound(f"location {location_id} does not exist")


# -- routes -------------------------------------------------------------------------------------------------
def register(router: APIRouter) -> None:  # noqa: C901 - one place lists the area's routes
    @route(router, "GET", "/stock/levels", "stock.levels", response_model=StockLevelPage, tags=[TAG],
           responses={422: {"description": "A filter or the cursor is not valid"}})
    def levels(*, caller: Caller,
               q: Annotated[str, Query(max_length=200, pattern=NO_NUL, description="SKU, barcode or title")] = "",
               location_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
               category_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
               variant_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
               low_only: bool = False, zero_only: bool = False,
               cursor: Cursor = None, limit: Limit = 200) -> dict[str, Any]:
        """Stock levels of warehouses and stores in (variant, location) order, a keyset page at a time."""
        after = decode_cursor(cursor, "levels", 2)
        f = StockFilter(text=q, location_id=location_id, category_id=category_id, low_only=low_only,
                        zero_only=zero_only, variant_id=variant_id)
        rows = caller.ops.stock.levels(f, after=after, limit=limit)  # type: ignore[arg-type]
        last = rows[-1].key if len(rows) == limit else None
        return {"items": [dump(StockLevel, r) for r in rows],
                "next_cursor": encode_cursor("levels", *last) if last else None}

    @route(router, "GET", "/stock/levels/count", "stock.count_levels", response_model=StockTotal, tags=[TAG])
    def count_levels(*, caller: Caller,
                     q: Annotated[str, Query(max_length=200, pattern=NO_NUL)] = "",
                     location_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                     category_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                     variant_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                     low_only: bool = False, zero_only: bool = False) -> dict[str, int]:
        """How many levels match the filters of ``/stock/levels``: the true number."""
        f = StockFilter(text=q, location_id=location_id, category_id=category_id, low_only=low_only,
                        zero_only=zero_only, variant_id=variant_id)
        return count_body(caller.ops.stock.count_levels(f))

    @route(router, "GET", "/variants/{variant_id}/availability", "stock.availability", response_model=VariantAvailability,
           tags=[TAG], responses=NOT_FOUND)
    def availability(variant_id: IdPath, *, caller: Caller) -> dict[str, Any]:
        """One variant at every warehouse and store."""
        rows = caller.ops.stock.availability(variant_id)
        if not rows and not caller.ops.catalog.rows_by_id([variant_id]):
            raise NotFound(f"variant {variant_id} does not exist")
        return {"variant_id": variant_id, "items": [dump(StockLevel, r) for r in rows]}

    @route(router, "GET", "/stock/history", "stock.history", response_model=StockLedgerPage, tags=[TAG],
           responses={422: {"description": "The cursor is not valid"}})
    def history(*, caller: Caller,
                variant_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                location_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                cursor: Cursor = None, limit: Limit = 500) -> dict[str, Any]:
        """The ledger newest first (a variant's, a location's or both), a keyset page at a time."""
        before = decode_cursor(cursor, "history", 1)
        rows = caller.ops.stock.history(variant_id=variant_id, location_id=location_id,
                                        before_id=before[0] if before else None, limit=limit)
        return {"items": [dump(StockLedgerRow, r) for r in rows],
                "next_cursor": encode_cursor("history", rows[-1].move_id) if len(rows) == limit else None}

    # -- locations ------------------------------------------------------------------------------------------
    @route(router, "POST", "/locations", "store.add_location", status_code=201, response_model=LocationRecord,
           tags=["locations"], responses={**IDEMPOTENT_RESPONSES, **REFUSED})
    def add_location(body: LocationCreate, request: Request, *, caller: Caller) -> Response:
        """A new location (a warehouse, store, or an external place stock comes from or goes to)."""
        def run(op_id: str) -> Response:
            change = caller.ops.store.add_location(body.code, body.name, body.kind, op_id=op_id)
            row = location_row(caller, change.entity_id)
            return created(row, row["version"], f"{request.url.path}/{row['id']}")
        return idempotent(request, caller, body, run)

    @route(router, "PATCH", "/locations/{location_id}", "store.edit_location", response_model=LocationRecord,
           tags=["locations"], responses={**IF_MATCH_RESPONSES, **REFUSED})
    def edit_location(location_id: IdPath, body: LocationEdit, request: Request, *, caller: Caller) -> Response:
        """Rename a location or change its kind (fields left out stay as they are)."""
        version = expected_version(request)
        caller.ops.store.edit_location(location_id, expected_version=version, name=body.name, kind=body.kind)
        row = location_row(caller, location_id)
        return with_etag(row, row["version"])

    def lifecycle(step: str, operation: str, doc: str) -> None:
        @route(router, "POST", f"/locations/{{location_id}}/{step}", operation, response_model=LocationRecord,
               tags=["locations"], responses={**IF_MATCH_RESPONSES, **REFUSED}, description=doc,
               operation_id=f"locations_{step}")
        def change(location_id: IdPath, request: Request, *, caller: Caller) -> Response:
            version = expected_version(request)
            getattr(caller.ops.store, operation.split(".")[1])(location_id, expected_version=version)
            row = location_row(caller, location_id)
            return with_etag(row, row["version"])

    lifecycle("archive", "store.archive_location",
              "Archive a location (refused while it holds stock or an open document names it).")
    lifecycle("restore", "store.restore_location", "Bring an archived location back.")

    # -- adjustments ----------------------------------------------------------------------------------------
    @route(router, "POST", "/adjustments", "adjustments.adjust", response_model=StockPosted, tags=["adjustments"],
           responses={**IDEMPOTENT_RESPONSES, **REFUSED})
    def adjust(body: AdjustmentRequest, request: Request, *, caller: Caller) -> Response:
        """Correct on hand at one warehouse or store: +found / -missing units per variant, with a reason.
        Stock that would go below zero is refused (422 naming the row); nothing moves then."""
        changes = quantities(body.lines)

        def run(op_id: str) -> Response:
            with shortages_named():
                posted = caller.ops.adjustments.adjust(body.location_id, changes, reason=body.reason,
                                                       note=body.note, op_id=op_id)
            return JSONResponse(dump(StockPosted, posted))
        return idempotent(request, caller, body, run)

    # -- alerts ---------------------------------------------------------------------------------------------
    @route(router, "GET", "/alerts", "alerts.overview", response_model=AlertOverview, tags=["alerts"])
    def alerts(*, caller: Caller, limit: Limit = 200) -> dict[str, Any]:
        """The newest open low-stock alerts, with the true open and not-mailed counts and the last check."""
        return dump(AlertOverview, caller.ops.alerts.overview(limit=limit))

    @route(router, "GET", "/alerts/count", "alerts.open_count", response_model=StockTotal, tags=["alerts"])
    def alert_count(*, caller: Caller) -> dict[str, int]:
        """How many alerts are open."""
        return count_body(caller.ops.alerts.open_count())

    @route(router, "PUT", "/alerts/thresholds", "alerts.set_threshold", response_model=Threshold, tags=["alerts"],
           responses=REFUSED)
    def set_threshold(body: Threshold, *, caller: Caller) -> dict[str, Any]:
        """The low-stock threshold (null: the default rules) and reorder point of one variant at one
        warehouse or store. Setting the same values again changes nothing."""
        caller.ops.alerts.set_threshold(body.variant_id, body.location_id, threshold=body.threshold,
                                        reorder_point=body.reorder_point)
        return body.model_dump()

    @route(router, "POST", "/alerts/check", "alerts.check_now", response_model=AlertCheck, tags=["alerts"])
    def check(*, caller: Caller) -> dict[str, Any]:
        """Compare every level with its threshold now: an alert opens per new crossing, recovered ones close.
        Running it again without stock changes opens and closes nothing."""
        return dump(AlertCheck, caller.ops.alerts.check_now())
