"""``/v1/suppliers``, ``/v1/replenishment`` and ``/v1/purchase-orders``: buying stock.

Suppliers and their items (what each sells us, at what cost), the replenishment suggestions and the
draft orders made from them, and purchase orders from a draft to stock on the shelf. Suppliers, supplier
items and orders carry an ``ETag`` (their version); editing one needs ``If-Match``. Creating a supplier,
an item, an order or drafts, and receiving (which moves stock) need an ``Idempotency-Key``; the other
steps of an order (send, close, cancel) take one when sent. Money is a string ("12.50"), dates ISO 8601.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path as PathParam, Query, Request
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.responses import Response

from backoffice.operations import ConflictError, NotFound, ValidationError
from backoffice.operations.replenishment import ReplenishmentSettings
from backoffice.operations.suppliers import ItemEdit
from backoffice.server.http import (
    IDEMPOTENCY_HEADER,
    IDEMPOTENT_RESPONSES,
    IF_MATCH_RESPONSES,
    expected_version,
    idempotent,
    plain,
    with_etag,
)
from backoffice.server.security import Caller, route

MAX_LIMIT = 1000
IdValue = Annotated[int, Field(ge=1, le=2**53)]
IdPath = Annotated[int, PathParam(ge=1, le=2**53, description="An id")]
OrderRef = Annotated[str, PathParam(pattern=r"^(?:[0-9]{1,15}|[A-Za-z][A-Za-z0-9-]{0,29})$",
                                    description="The order's id or number (PO-000012)")]
Id = Field(ge=1, le=2**53)
MONEY = "An amount as a string, e.g. \"12.50\""
MONEY_PATTERN = r"^\s*-?[0-9]{1,16}(?:\.[0-9]{1,8})?\s*$"    # plain decimals (the contract checks range, cents)


# -- plain values -----------------------------------------------------------------------------------------
def encode_cursor(last_id: int) -> str:
    """The opaque cursor of a keyset page that ended at ``last_id``."""
    return base64.urlsafe_b64encode(f"k{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The id a cursor continues after (None: the first page); a cursor not made here is a 422."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if text[:1] == "k" and text[1:].isdigit() and len(text) < 20:
            return int(text[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ValidationError([("", "cursor", "is not a cursor of this list: send back the next_cursor you were given")])


def _created(body: dict[str, Any], version: int, location: str) -> Response:
    response = with_etag(body, version, status_code=201)
    response.headers["Location"] = location
    return response


# -- bodies and representations ----------------------------------------------------------------------------
class Supplier(BaseModel):
    id: int
    version: int
    name: str
    email: str
    contact_name: str
    phone: str
    currency: str
    payment_terms: str
    lead_time_days: int
    notes: str
    items: int


class SupplierFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, max_length=255)
    contact_name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=100)
    currency: str | None = Field(None, min_length=3, max_length=3)
    payment_terms: str | None = Field(None, max_length=200)
    lead_time_days: int | None = Field(None, ge=0, le=3650)
    notes: str | None = Field(None, max_length=5000)


class SupplierCreate(SupplierFields):
    name: str = Field(min_length=1, max_length=200)


class SupplierPatch(SupplierFields):
    name: str | None = Field(None, min_length=1, max_length=200)


class SupplierList(BaseModel):
    items: list[Supplier]


class SupplierItem(BaseModel):
    id: int
    version: int
    supplier_id: int
    supplier: str
    variant_id: int
    sku: str
    title: str
    supplier_sku: str
    unit_cost: str
    currency: str
    min_order_qty: int
    pack_size: int
    lead_time_days: int | None
    effective_lead_time: int
    preferred: bool


class SupplierItemPage(BaseModel):
    items: list[SupplierItem]
    next_cursor: str | None


class ItemFields(BaseModel):
    """Fields of a supplier item; those left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    supplier_sku: str | None = Field(None, max_length=100)
    unit_cost: str | None = Field(None, min_length=1, max_length=30, pattern=MONEY_PATTERN, description=MONEY)
    currency: str | None = Field(None, min_length=3, max_length=3)
    min_order_qty: int | None = Field(None, ge=1, le=1_000_000)
    pack_size: int | None = Field(None, ge=1, le=1_000_000)
    lead_time_days: int | None = Field(None, ge=0, le=3650)
    preferred: bool | None = None


class ItemCreate(ItemFields):
    variant_id: int = Id
    unit_cost: str = Field(min_length=1, max_length=30, pattern=MONEY_PATTERN, description=MONEY)


class ItemRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: int = Id
    version: int = Field(ge=0, le=2**31, description="The item's version as read (its ETag)")
    values: ItemFields


class ItemsPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: list[ItemRow] = Field(min_length=1, max_length=10_000)
    description: str = Field("Supplier items", max_length=500)


class ItemsSaved(BaseModel):
    changeset_id: int | None
    applied_rows: int
    conflicts: list[int] = Field(description="Variant ids of the rows someone else changed meanwhile: not saved")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window_days: int = 90
    half_life_days: float = 28.0
    service_level: float = 0.95
    review_days: int = 14
    default_lead_time_days: int = 14
    fulfilment_location_id: int | None = Field(None, ge=1, le=2**53)
    max_cover_days: int = 180
    demand_basis: Literal["fulfilled", "ordered"] = "fulfilled"   # units shipped, or units ordered


class LevelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reorder_point: int | None = Field(None, ge=0, le=10_000_000)
    order_up_to: int | None = Field(None, ge=0, le=10_000_000)


class LevelsOut(BaseModel):
    variant_id: int
    location_id: int
    reorder_point: int | None
    order_up_to: int | None


class DraftsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: list[tuple[IdValue, IdValue]] | None = Field(
        None, max_length=100_000,
        description="(variant id, location id) of the suggestions to order; null: every orderable one")
    location_id: int | None = Field(None, ge=1, le=2**53)
    as_of: dt.date | None = None


class Drafts(BaseModel):
    orders: list[dict[str, Any]]
    lines: int
    covered: list[list[int]]
    replayed: bool
    units: int
    value: dict[str, str]


class OrderLine(BaseModel):
    id: int
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    supplier_sku: str
    quantity: int
    unit_cost: str
    received: int
    outstanding: int
    line_total: str


class Receipt(BaseModel):
    id: int
    at: dt.datetime
    location: str
    units: int
    over_receipt: bool
    user: str
    operation_id: str


class Order(BaseModel):
    id: int
    number: str
    state: str
    version: int
    supplier_id: int
    supplier: str
    supplier_email: str
    destination_location_id: int
    destination: str
    currency: str
    expected_on: dt.date | None
    note: str
    created_by: str
    created_at: dt.datetime
    sent_at: dt.datetime | None
    received_at: dt.datetime | None
    closed_at: dt.datetime | None
    lines: list[OrderLine]
    receipts: list[Receipt]
    replayed: bool


class OrderSummary(BaseModel):
    id: int
    number: str
    state: str
    supplier: str
    destination: str
    currency: str
    lines: int
    units: int
    outstanding: int
    total: str
    expected_on: dt.date | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    late: bool


class OrderPage(BaseModel):
    items: list[OrderSummary]
    next_cursor: str | None


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: int = Id
    quantity: int = Field(ge=1, le=1_000_000)
    unit_cost: str | None = Field(None, min_length=1, max_length=30, pattern=MONEY_PATTERN,
                                  description="Defaults to the supplier item's cost")


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    supplier_id: int = Id
    destination_location_id: int = Id
    lines: list[LineIn] = Field(default_factory=list, max_length=10_000)
    note: str = Field("", max_length=500)


class OrderPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[LineIn] | None = Field(None, max_length=10_000)
    note: str | None = Field(None, max_length=500)
    destination_location_id: int | None = Field(None, ge=1, le=2**53)
    expected_on: dt.date | None = None


class ReceiptLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: int = Id
    quantity: int = Field(ge=1, le=1_000_000)


class ReceiveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[ReceiptLine] | None = Field(None, max_length=10_000,
                                            description="Units arriving now; null: everything outstanding")
    location_id: int | None = Field(None, ge=1, le=2**53, description="Default: the order's destination")
    allow_over_receipt: bool = False
    note: str = Field("", max_length=500)


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=500)


# -- converters ---------------------------------------------------------------------------------------------
def _order(info: Any) -> dict[str, Any]:  # noqa: ANN401
    body = plain(info)
    body["lines"] = [{**plain(ln), "outstanding": ln.outstanding, "line_total": str(ln.line_total)}
                     for ln in info.lines]
    return body


def _order_response(info: Any, status_code: int = 200) -> Response:  # noqa: ANN401
    return with_etag(_order(info), info.version, status_code=status_code)


def _item(caller: Caller, supplier_id: int, variant_id: int) -> Any:  # noqa: ANN401
    found = caller.ops.suppliers.items(supplier_id=supplier_id, variant_ids=[variant_id], limit=1)
    if not found:
        caller.ops.suppliers.find(supplier_id)          # NotFound for an unknown supplier
        raise NotFound(f"supplier {supplier_id} has no item for variant {variant_id}")
    return found[0]


def _as_of(day: dt.date | None) -> dt.date | None:
    """The day suggestions are computed for: windows and lead times of years reach back and ahead of it."""
    if day is not None and not 1900 <= day.year <= 2999:
        raise ValidationError([("", "as_of", f"{day.isoformat()} is not a day between 1900 and 2999")])
    return day


def _page_limit(limit: int) -> int:
    return max(1, min(MAX_LIMIT, limit))


def register(router: APIRouter) -> None:
    _suppliers(router)
    _replenishment(router)
    _purchase_orders(router)


# -- suppliers ------------------------------------------------------------------------------------------------
def _suppliers(router: APIRouter) -> None:  # noqa: C901 - one route after another
    tags = ["suppliers"]

    @route(router, "GET", "/suppliers", "suppliers.list", response_model=SupplierList, tags=tags)
    def list_suppliers(text: str = Query("", max_length=200), *, caller: Caller) -> dict[str, Any]:
        """Suppliers by name (``text``: part of the name), each with its number of items."""
        return {"items": plain(caller.ops.suppliers.list(text=text))}

    @route(router, "GET", "/suppliers/{supplier_id}", "suppliers.find", response_model=Supplier, tags=tags,
           responses={404: {"description": "No such supplier"}})
    def get_supplier(supplier_id: IdPath, *, caller: Caller) -> Response:
        """One supplier, with its ``ETag``."""
        row = caller.ops.suppliers.find(supplier_id)
        return with_etag(plain(row), row.version)

    @route(router, "POST", "/suppliers", "suppliers.create", status_code=201, response_model=Supplier, tags=tags,
           responses=IDEMPOTENT_RESPONSES)
    def create_supplier(body: SupplierCreate, request: Request, *, caller: Caller) -> Response:
        """A new supplier (name required and unique). Needs an ``Idempotency-Key``."""
        def run(op_id: str) -> Response:
            saved = caller.ops.suppliers.create(body.model_dump(exclude_none=True), op_id=op_id)
            row = caller.ops.suppliers.find(saved.id)
            return _created(plain(row), row.version, f"/v1/suppliers/{row.id}")

        return idempotent(request, caller, body, run)

    @route(router, "PATCH", "/suppliers/{supplier_id}", "suppliers.update", response_model=Supplier, tags=tags,
           responses={**IF_MATCH_RESPONSES, 404: {"description": "No such supplier"}})
    def update_supplier(supplier_id: IdPath, body: SupplierPatch, request: Request, *, caller: Caller) -> Response:
        """Change a supplier's details. Needs ``If-Match`` with its ``ETag``."""
        version = expected_version(request)
        caller.ops.suppliers.update(supplier_id, expected_version=version, values=body.model_dump(exclude_unset=True))
        row = caller.ops.suppliers.find(supplier_id)
        return with_etag(plain(row), row.version)

    @route(router, "GET", "/suppliers/{supplier_id}/items", "suppliers.items", response_model=SupplierItemPage,
           tags=tags, responses={404: {"description": "No such supplier"}})
    def list_items(supplier_id: IdPath, text: str = Query("", max_length=200),
                   cursor: str | None = Query(None, max_length=100), limit: int = Query(200, ge=1, le=MAX_LIMIT),
                   *, caller: Caller) -> dict[str, Any]:
        """The supplier's items in id order, a keyset page at a time (``text``: SKU, supplier SKU or title)."""
        after = decode_cursor(cursor)
        caller.ops.suppliers.find(supplier_id)
        rows = caller.ops.suppliers.items(supplier_id=supplier_id, text=text, after_id=after,
                                          limit=_page_limit(limit) + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return {"items": plain(rows), "next_cursor": encode_cursor(rows[-1].id) if more and rows else None}

    @route(router, "GET", "/suppliers/{supplier_id}/items/{variant_id}", "suppliers.items",
           operation_id="suppliers_item_get", response_model=SupplierItem, tags=tags,
           responses={404: {"description": "No such supplier, or it has no item for the variant"}})
    def get_item(supplier_id: IdPath, variant_id: IdPath, *, caller: Caller) -> Response:
        """The supplier's item for a variant, with its ``ETag``."""
        row = _item(caller, supplier_id, variant_id)
        return with_etag(plain(row), row.version)

    @route(router, "POST", "/suppliers/{supplier_id}/items", "suppliers.save_item", status_code=201,
           response_model=SupplierItem, tags=tags,
           responses={**IDEMPOTENT_RESPONSES, 404: {"description": "No such supplier or variant"},
                      409: {"description": "The supplier has an item for the variant already (or the key is busy)"}})
    def create_item(supplier_id: IdPath, body: ItemCreate, request: Request, *, caller: Caller) -> Response:
        """A new supplier item (a variant the supplier sells us, at ``unit_cost``). Needs an ``Idempotency-Key``."""
        def run(op_id: str) -> Response:
            values = body.model_dump(exclude_none=True, exclude={"variant_id"})
            if caller.ops.suppliers.items(supplier_id=supplier_id, variant_ids=[body.variant_id], limit=1):
                raise HTTPException(409, detail=f"supplier {supplier_id} has an item for variant {body.variant_id} "
                                                "already: change it with PATCH")
            caller.ops.suppliers.save_item(supplier_id=supplier_id, variant_id=body.variant_id, values=values,
                                           op_id=op_id)
            row = _item(caller, supplier_id, body.variant_id)
            return _created(plain(row), row.version, f"/v1/suppliers/{supplier_id}/items/{body.variant_id}")

        return idempotent(request, caller, {"supplier_id": supplier_id, **body.model_dump()}, run)

    @route(router, "PATCH", "/suppliers/{supplier_id}/items/{variant_id}", "suppliers.save_item",
           response_model=SupplierItem, tags=tags,
           responses={**IF_MATCH_RESPONSES, 404: {"description": "No such supplier item"}})
    def update_item(supplier_id: IdPath, variant_id: IdPath, body: ItemFields, request: Request, *,
                    caller: Caller) -> Response:
        """Change a supplier item (its cost, packs, lead time, preferred). Needs ``If-Match`` with its ``ETag``;
        a stale one is a 412 whose ``current`` is the item now."""
        version = expected_version(request)
        _item(caller, supplier_id, variant_id)
        try:
            caller.ops.suppliers.save_item(supplier_id=supplier_id, variant_id=variant_id, expected_version=version,
                                           values=body.model_dump(exclude_unset=True))
        except ConflictError as exc:
            now = _item(caller, supplier_id, variant_id)
            raise ConflictError(exc.entity, exc.entity_id, exc.label, version, now.version, plain(now)) from None
        row = _item(caller, supplier_id, variant_id)
        return with_etag(plain(row), row.version)

    @route(router, "PUT", "/suppliers/{supplier_id}/items", "suppliers.save_items", response_model=ItemsSaved,
           tags=tags, responses={404: {"description": "No such supplier"},
                                 422: {"description": "Invalid rows: `errors` names each row and field"}})
    def save_items(supplier_id: IdPath, body: ItemsPut, *, caller: Caller) -> dict[str, Any]:
        """Edits of the supplier's items saved together as one changeset (revertible). Each row names the
        variant and the version read; rows someone else changed meanwhile are listed in ``conflicts`` and
        not saved. An invalid row refuses the whole batch (422 naming each row)."""
        caller.ops.suppliers.find(supplier_id)
        wanted = [row.variant_id for row in body.rows]
        items = {i.variant_id: i for i in caller.ops.suppliers.items(supplier_id=supplier_id, variant_ids=wanted,
                                                                      limit=len(wanted) + 1)}
        problems = []
        seen: set[int] = set()
        for n, row in enumerate(body.rows, 1):
            if row.variant_id in seen:
                problems.append((f"row {n}", "variant_id", f"variant {row.variant_id} appears more than once"))
            seen.add(row.variant_id)
            if row.variant_id not in items:
                problems.append((f"row {n}", "variant_id", f"supplier {supplier_id} has no item for variant "
                                                           f"{row.variant_id}"))
            if not row.values.model_dump(exclude_unset=True):
                problems.append((f"row {n}", "values", "changes nothing"))
        if problems:
            raise ValidationError(problems)
        edits = [ItemEdit(items[r.variant_id].id, r.version, r.values.model_dump(exclude_unset=True))
                 for r in body.rows]
        saved = caller.ops.suppliers.save_items(edits, description=body.description)
        by_item = {i.id: v for v, i in items.items()}
        return {"changeset_id": saved.changeset_id, "applied_rows": saved.applied_rows,
                "conflicts": sorted(by_item[i] for i in saved.conflicts if i in by_item)}


# -- replenishment ---------------------------------------------------------------------------------------------
def _replenishment(router: APIRouter) -> None:
    tags = ["replenishment"]

    @route(router, "GET", "/replenishment/suggestions", "replenishment.suggest", tags=tags)
    def suggestions(location_id: int | None = Query(None, ge=1, le=2**53), as_of: dt.date | None = None, *,
                    caller: Caller) -> dict[str, Any]:
        """What to reorder at each warehouse and store (or ``location_id``) and why, as of today (or ``as_of``)."""
        return {"items": plain(caller.ops.replenishment.suggest(location_id=location_id, as_of=_as_of(as_of)))}

    @route(router, "GET", "/replenishment/settings", "replenishment.settings", response_model=Settings, tags=tags)
    def get_settings(*, caller: Caller) -> dict[str, Any]:
        """How reorder points are computed."""
        return plain(caller.ops.replenishment.settings())

    @route(router, "PUT", "/replenishment/settings", "replenishment.save_settings", response_model=Settings,
           tags=tags, responses={422: {"description": "Invalid settings: `errors` names each field"}})
    def put_settings(body: Settings, *, caller: Caller) -> dict[str, Any]:
        """Store how reorder points are computed (every problem is reported at once)."""
        saved = caller.ops.replenishment.save_settings(ReplenishmentSettings(**body.model_dump()))
        return plain(saved.settings)

    @route(router, "PUT", "/replenishment/levels/{variant_id}/{location_id}", "replenishment.set_levels",
           response_model=LevelsOut, tags=tags,
           responses={404: {"description": "No such variant"},
                      422: {"description": "Invalid levels, or the location is not a warehouse or store"}})
    def put_levels(variant_id: IdPath, location_id: IdPath, body: LevelsIn, *, caller: Caller) -> dict[str, Any]:
        """A buyer's reorder point and order-up-to level for a variant at a location (null: computed)."""
        done = caller.ops.replenishment.set_levels(variant_id=variant_id, location_id=location_id,
                                                   reorder_point=body.reorder_point, order_up_to=body.order_up_to)
        return {"variant_id": done.variant_id, "location_id": done.location_id,
                "reorder_point": done.reorder_point, "order_up_to": done.order_up_to}

    @route(router, "POST", "/replenishment/drafts", "replenishment.create_drafts", status_code=201,
           response_model=Drafts, tags=tags, responses=IDEMPOTENT_RESPONSES)
    def create_drafts(body: DraftsRequest, request: Request, *, caller: Caller) -> Response:
        """The suggestions ``keys`` (or every orderable one) added to draft purchase orders, one per supplier
        and destination. Needs an ``Idempotency-Key``."""
        def run(op_id: str) -> Response:
            result = caller.ops.replenishment.create_drafts(
                keys=None if body.keys is None else [tuple(k) for k in body.keys], location_id=body.location_id,
                as_of=_as_of(body.as_of), op_id=op_id)
            return JSONResponse(plain(result.to_dict()), status_code=201)

        return idempotent(request, caller, body, run)


# -- purchase orders -------------------------------------------------------------------------------------------
def _purchase_orders(router: APIRouter) -> None:  # noqa: C901 - one route after another
    tags = ["purchase orders"]
    base = "/purchase-orders"
    not_found = {404: {"description": "No such purchase order"}}
    keyed = {**IDEMPOTENT_RESPONSES, **not_found}

    @route(router, "GET", base, "purchase_orders.list", response_model=OrderPage, tags=tags)
    def list_orders(state: list[Literal["draft", "sent", "partial", "received", "closed", "cancelled"]] = Query([]),
                    supplier_id: int | None = Query(None, ge=1, le=2**53), late_only: bool = False,
                    cursor: str | None = Query(None, max_length=100), limit: int = Query(100, ge=1, le=MAX_LIMIT),
                    *, caller: Caller) -> dict[str, Any]:
        """Orders newest first, a keyset page at a time; ``state`` (repeatable), ``supplier_id``,
        ``late_only`` (sent or partly received past their expected date: a page may then hold fewer)."""
        before = decode_cursor(cursor)
        states = tuple(state) or (("sent", "partial") if late_only else ())
        rows = caller.ops.purchase_orders.list(states=states, supplier_id=supplier_id, before_id=before,
                                               limit=_page_limit(limit) + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        nxt = encode_cursor(rows[-1].id) if more and rows else None
        return {"items": plain([r for r in rows if r.late] if late_only else rows), "next_cursor": nxt}

    @route(router, "GET", base + "/{ref}", "purchase_orders.find", response_model=Order, tags=tags,
           responses=not_found)
    def get_order(ref: OrderRef, *, caller: Caller) -> Response:
        """One order by id or number (PO-000012), with its lines and receipts and its ``ETag``."""
        return _order_response(caller.ops.purchase_orders.find(ref))

    @route(router, "POST", base, "purchase_orders.create", status_code=201, response_model=Order, tags=tags,
           responses=IDEMPOTENT_RESPONSES)
    def create_order(body: OrderCreate, request: Request, *, caller: Caller) -> Response:
        """A draft in the supplier's currency; a line's cost defaults to the supplier item's. Needs an
        ``Idempotency-Key``."""
        def run(op_id: str) -> Response:
            info = caller.ops.purchase_orders.create(
                supplier_id=body.supplier_id, destination_location_id=body.destination_location_id,
                lines=[ln.model_dump(exclude_none=True) for ln in body.lines], note=body.note, op_id=op_id)
            response = _order_response(info, 201)
            response.headers["Location"] = f"/v1/purchase-orders/{info.id}"
            return response

        return idempotent(request, caller, body, run)

    @route(router, "PATCH", base + "/{ref}", "purchase_orders.update_draft", response_model=Order, tags=tags,
           responses={**IF_MATCH_RESPONSES, **not_found})
    def update_order(ref: OrderRef, body: OrderPatch, request: Request, *, caller: Caller) -> Response:
        """Replace a draft's lines, note, destination or expected date. Needs ``If-Match``."""
        version = expected_version(request)
        order = caller.ops.purchase_orders.find(ref)
        info = caller.ops.purchase_orders.update_draft(
            order.id, expected_version=version,
            lines=None if body.lines is None else [ln.model_dump(exclude_none=True) for ln in body.lines],
            note=body.note, destination_location_id=body.destination_location_id, expected_on=body.expected_on)
        return _order_response(info)

    def step(request: Request, caller: Caller, payload: Any, write: Any) -> Response:  # noqa: ANN401
        """Run an order's step under the request's Idempotency-Key when it has one."""
        if request.headers.get(IDEMPOTENCY_HEADER.lower()) is None:
            return _order_response(write(None))
        return idempotent(request, caller, payload, lambda op_id: _order_response(write(op_id)))

    @route(router, "POST", base + "/{ref}/send", "purchase_orders.send", response_model=Order, tags=tags,
           responses={**keyed, 412: IF_MATCH_RESPONSES[412]})
    def send_order(ref: OrderRef, request: Request, *, caller: Caller) -> Response:
        """Fix a draft and mark it sent (its expected date from the lead times). ``If-Match`` (optional)
        names the version read; an ``Idempotency-Key`` (optional) makes a retry safe."""
        version = expected_version(request) if request.headers.get("if-match") is not None else None
        order = caller.ops.purchase_orders.find(ref)
        return step(request, caller, {"order": order.id, "step": "send"},
                    lambda op_id: caller.ops.purchase_orders.send(order.id, expected_version=version, op_id=op_id))

    @route(router, "POST", base + "/{ref}/receive", "purchase_orders.receive", response_model=Order, tags=tags,
           responses={**keyed, 422: {"description": "Invalid receipt (a line not on the order, more than is "
                                                    "outstanding), or the key was used for another request"}})
    def receive_order(ref: OrderRef, body: ReceiveRequest, request: Request, *, caller: Caller) -> Response:
        """Units arriving now (or everything outstanding) into the destination (or ``location_id``): posted to
        the stock ledger. Needs an ``Idempotency-Key``: a replay moves nothing more."""
        order = caller.ops.purchase_orders.find(ref)
        quantities = None
        if body.lines is not None:
            quantities = {}
            for n, ln in enumerate(body.lines, 1):
                if ln.variant_id in quantities:
                    raise ValidationError([(f"line {n}", "variant_id",
                                            f"variant {ln.variant_id} appears more than once")])
                quantities[ln.variant_id] = ln.quantity

        def run(op_id: str) -> Response:
            info = caller.ops.purchase_orders.receive(order.id, quantities, location_id=body.location_id,
                                                      allow_over_receipt=body.allow_over_receipt, note=body.note,
                                                      op_id=op_id)
            return _order_response(info)

        return idempotent(request, caller, {"order": order.id, **body.model_dump()}, run)

    @route(router, "POST", base + "/{ref}/close", "purchase_orders.close", response_model=Order, tags=tags,
           responses=keyed)
    def close_order(ref: OrderRef, request: Request, body: StepRequest | None = None, *, caller: Caller) -> Response:
        """Settle a received or partly received order: nothing more is expected."""
        order = caller.ops.purchase_orders.find(ref)
        reason = body.reason if body else ""
        return step(request, caller, {"order": order.id, "step": "close", "reason": reason},
                    lambda op_id: caller.ops.purchase_orders.close(order.id, reason=reason, op_id=op_id))

    @route(router, "POST", base + "/{ref}/cancel", "purchase_orders.cancel", response_model=Order, tags=tags,
           responses=keyed)
    def cancel_order(ref: OrderRef, request: Request, body: StepRequest | None = None, *, caller: Caller) -> Response:
        """Call off a draft or sent order before anything arrived."""
        order = caller.ops.purchase_orders.find(ref)
        reason = body.reason if body else ""
        return step(request, caller, {"order": order.id, "step": "cancel", "reason": reason},
                    lambda op_id: caller.ops.purchase_orders.cancel(order.id, reason=reason, op_id=op_id))

    @route(router, "GET", base + "/{ref}/document", "purchase_orders.write_document", tags=tags,
           response_class=FileResponse,
           responses={**not_found, 200: {"description": "The order's document as the supplier gets it",
                                         "content": {"application/pdf": {}, _XLSX: {}}}})
    def document(ref: OrderRef, format: Literal["pdf", "xlsx"] = "pdf", *, caller: Caller) -> Response:  # noqa: A002
        """What the supplier gets: the order as PDF (or ``format=xlsx``), streamed."""
        order = caller.ops.purchase_orders.find(ref)
        folder = Path(tempfile.mkdtemp(prefix="po-document-"))
        try:
            written = caller.ops.purchase_orders.write_document(order.id, str(folder / f"{order.number}.{format}"))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(written, media_type="application/pdf" if format == "pdf" else _XLSX,
                            filename=f"{order.number}.{format}",
                            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
