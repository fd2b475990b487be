"""``/v1/transfers``: stock moving between warehouses and stores.

A draft is created (``POST /transfers``) and edited (``PATCH`` with ``If-Match``) without moving stock;
``ship``, ``receive``, ``close`` and ``cancel`` move it, each with an ``Idempotency-Key`` whose operation id
the step is posted under, so a retried request (a replay, or the same key after a dropped connection)
moves stock once. ``POST /transfers/ship-now`` creates and ships in one step. A transfer is named by its id
or its number (``TR-000012``); its pick list or packing slip is ``/transfers/{ref}/document``.
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from backoffice.operations import NotFound
from backoffice.operations.transfers import TransferInfo
from backoffice.server.http import IDEMPOTENT_RESPONSES, IF_MATCH_RESPONSES, expected_version, idempotent, with_etag
from backoffice.server.routes.stock import (
    MAX_ID,
    MAX_LIMIT,
    REFUSED,
    Cursor,
    Id,
    Limit,
    Note,
    Out,
    Quantity,
    created,
    decode_cursor,
    dump,
    encode_cursor,
    quantities,
    shortages_named,
)
from backoffice.server.security import Caller, route

TAG = "transfers"

State = Literal["draft", "shipped", "partial", "received", "closed", "cancelled"]
Ref = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]+$",
                          description="The transfer's id (12) or number (TR-000012).")]
_DIGITS = re.compile(r"[0-9]+")

DOCUMENT_TYPES = {"pdf": "application/pdf",
                  "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class TransferLine(Out):
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    quantity: int
    shipped: int
    received: int
    lost: int
    returned: int
    in_transit: int


class Transfer(Out):
    id: int
    number: str
    state: str
    version: int
    source_location_id: int
    source: str
    destination_location_id: int
    destination: str
    note: str
    created_by: str
    created_at: dt.datetime
    shipped_at: dt.datetime | None
    received_at: dt.datetime | None
    closed_at: dt.datetime | None
    lines: list[TransferLine]
    total_quantity: int
    in_transit: int
    replayed: bool = Field(description="True when this step had been applied before: nothing moved again.")


class TransferSummary(Out):
    id: int
    number: str
    state: str
    source: str
    destination: str
    lines: int
    units: int
    in_transit: int
    created_by: str
    created_at: dt.datetime
    shipped_at: dt.datetime | None
    received_at: dt.datetime | None


class TransferPage(BaseModel):
    items: list[TransferSummary]
    next_cursor: str | None


class TransferLineIn(BaseModel):
    variant_id: Id
    quantity: Quantity


class TransferCreate(BaseModel):
    source_location_id: Id
    destination_location_id: Id
    lines: list[TransferLineIn] = Field(default_factory=list, max_length=MAX_LIMIT)
    note: Note = ""


class TransferShipNow(TransferCreate):
    lines: list[TransferLineIn] = Field(min_length=1, max_length=MAX_LIMIT)


class TransferDraftEdit(BaseModel):
    """What to change on a draft; fields left out stay as they are (``lines`` replaces every line)."""

    source_location_id: Id | None = None
    destination_location_id: Id | None = None
    lines: list[TransferLineIn] | None = Field(default=None, max_length=MAX_LIMIT)
    note: Note | None = None


class TransferReceipt(BaseModel):
    """Units arriving now per variant; ``lines`` left out (or null): everything still in transit."""

    lines: list[TransferLineIn] | None = Field(default=None, max_length=MAX_LIMIT)


class TransferClosing(BaseModel):
    shortfall: Literal["loss", "return"] = Field(
        description="loss: what never arrived is written off (say why in reason); return: it goes back to the source.")
    reason: Note = ""


def pairs(lines: list[TransferLineIn]) -> list[tuple[int, int]]:
    return [(line.variant_id, line.quantity) for line in lines]


def transfer_response(info: TransferInfo, status_code: int = 200, location: str | None = None) -> JSONResponse:
    body = dump(Transfer, info)
    if location is not None:
        return created(body, info.version, location)
    return with_etag(body, info.version, status_code=status_code)


def transfer_of(caller: Caller, ref: str) -> TransferInfo:
    """The transfer an id or a number names (404 when none does)."""
    if _DIGITS.fullmatch(ref):
        if int(ref) > MAX_ID:
            raise NotFound(f"transfer {ref!r} does not exist")
        return caller.ops.transfers.get(int(ref))
    return caller.ops.transfers.find(ref)


STEP_RESPONSES = {**IDEMPOTENT_RESPONSES, **REFUSED}


def register(router: APIRouter) -> None:  # noqa: C901 - one place lists the area's routes
    @route(router, "GET", "/transfers", "transfers.list", response_model=TransferPage, tags=[TAG],
           responses={422: {"description": "A filter or the cursor is not valid"}})
    def list_transfers(*, caller: Caller,
                       state: Annotated[list[State] | None, Query(description="Only these states.")] = None,
                       location_id: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                                                description="From or to this location.")] = None,
                       cursor: Cursor = None, limit: Limit = 200) -> dict[str, Any]:
        """Transfers newest first, a keyset page at a time."""
        before = decode_cursor(cursor, "transfers", 1)
        rows = caller.ops.transfers.list(states=tuple(state or ()), location_id=location_id,
                                         before_id=before[0] if before else None, limit=limit)
        return {"items": [dump(TransferSummary, r) for r in rows],
                "next_cursor": encode_cursor("transfers", rows[-1].id) if len(rows) == limit else None}

    @route(router, "GET", "/transfers/{ref}", "transfers.find", response_model=Transfer, tags=[TAG],
           responses={404: {"description": "No such transfer"}})
    def get_transfer(ref: Ref, *, caller: Caller) -> Response:
        """One transfer with its lines; ``ETag`` is its version (send it as ``If-Match`` to edit a draft)."""
        return transfer_response(transfer_of(caller, ref))

    @route(router, "GET", "/transfers/{ref}/document", "transfers.write_document", tags=[TAG],
           responses={200: {"description": "The pick list (before shipping) or packing slip (once shipped)",
                            "content": {"application/json": {}, **{t: {} for t in DOCUMENT_TYPES.values()}}},
                      404: {"description": "No such transfer"}})
    def document(ref: Ref, *, caller: Caller,
                 format: Annotated[Literal["json", "pdf", "xlsx"], Query()] = "json") -> Response:  # noqa: A002
        """The transfer's paper: its values (json), or the printable file (pdf, xlsx)."""
        info = transfer_of(caller, ref)
        doc = caller.ops.transfers.document(info.id)
        if format == "json":
            return JSONResponse({"kind": doc.kind, "title": doc.title, "number": doc.number, "state": doc.state,
                                 "source": doc.source, "destination": doc.destination, "note": doc.note,
                                 "created_by": doc.created_by,
                                 "created_at": doc.created_at.isoformat() if doc.created_at else None,
                                 "units": doc.units,
                                 "lines": [{"sku": ln.sku, "barcode": ln.barcode, "title": ln.title,
                                            "quantity": ln.quantity} for ln in doc.lines]})
        with tempfile.TemporaryDirectory(prefix="backoffice-transfer-") as folder:
            name = f"{info.number}-{doc.kind}.{format}"
            written = caller.ops.transfers.write_document(doc, str(FilePath(folder) / name))
            content = FilePath(written).read_bytes()
        return Response(content, media_type=DOCUMENT_TYPES[format],
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @route(router, "POST", "/transfers", "transfers.create", status_code=201, response_model=Transfer, tags=[TAG],
           responses=STEP_RESPONSES)
    def create(body: TransferCreate, request: Request, *, caller: Caller) -> Response:
        """A draft transfer: no stock moves until it is shipped."""
        def run(op_id: str) -> Response:
            info = caller.ops.transfers.create(source_location_id=body.source_location_id,
                                               destination_location_id=body.destination_location_id,
                                               lines=pairs(body.lines), note=body.note, op_id=op_id)
            return transfer_response(info, location=f"{request.url.path}/{info.id}")
        return idempotent(request, caller, body, run)

    @route(router, "POST", "/transfers/ship-now", "transfers.create_and_ship", status_code=201,
           response_model=Transfer, tags=[TAG], responses=STEP_RESPONSES)
    def ship_now(body: TransferShipNow, request: Request, *, caller: Caller) -> Response:
        """Create and ship at once: the stock leaves the source into transit; a refused shipment (not
        enough stock: 422 naming the rows) leaves no draft behind."""
        def run(op_id: str) -> Response:
            with shortages_named():
                info = caller.ops.transfers.create_and_ship(
                    source_location_id=body.source_location_id, destination_location_id=body.destination_location_id,
                    lines=pairs(body.lines), note=body.note, op_id=op_id)
            return transfer_response(info, location=f"/v1/transfers/{info.id}")
        return idempotent(request, caller, body, run)

    @route(router, "PATCH", "/transfers/{ref}", "transfers.update_draft", response_model=Transfer, tags=[TAG],
           responses={**IF_MATCH_RESPONSES, **REFUSED})
    def update_draft(ref: Ref, body: TransferDraftEdit, request: Request, *, caller: Caller) -> Response:
        """Change a draft's lines, note or route. A stale ``If-Match`` is a 412 whose ``current`` is the
        draft now."""
        version = expected_version(request)
        info = caller.ops.transfers.update_draft(
            transfer_of(caller, ref).id, expected_version=version,
            lines=None if body.lines is None else pairs(body.lines), note=body.note,
            source_location_id=body.source_location_id, destination_location_id=body.destination_location_id)
        return transfer_response(info)

    @route(router, "POST", "/transfers/{ref}/ship", "transfers.ship", response_model=Transfer, tags=[TAG],
           responses=STEP_RESPONSES)
    def ship(ref: Ref, request: Request, *, caller: Caller) -> Response:
        """Every line leaves the source into transit, all or nothing (not enough stock: 422 naming the rows)."""
        def run(op_id: str) -> Response:
            transfer_id = transfer_of(caller, ref).id
            with shortages_named():
                return transfer_response(caller.ops.transfers.ship(transfer_id, op_id=op_id))
        return idempotent(request, caller, {}, run)

    @route(router, "POST", "/transfers/{ref}/receive", "transfers.receive", response_model=Transfer, tags=[TAG],
           responses=STEP_RESPONSES)
    def receive(ref: Ref, body: TransferReceipt, request: Request, *, caller: Caller) -> Response:
        """Units arriving at the destination now (a partial receipt leaves the rest in transit)."""
        wanted = None if body.lines is None else quantities(body.lines)

        def run(op_id: str) -> Response:
            transfer_id = transfer_of(caller, ref).id
            return transfer_response(caller.ops.transfers.receive(transfer_id, wanted, op_id=op_id))
        return idempotent(request, caller, body, run)

    @route(router, "POST", "/transfers/{ref}/close", "transfers.close", response_model=Transfer, tags=[TAG],
           responses=STEP_RESPONSES)
    def close(ref: Ref, body: TransferClosing, request: Request, *, caller: Caller) -> Response:
        """Settle what never arrived: written off as a loss (with a reason) or returned to the source."""
        def run(op_id: str) -> Response:
            transfer_id = transfer_of(caller, ref).id
            return transfer_response(caller.ops.transfers.close(transfer_id, shortfall=body.shortfall,
                                                                reason=body.reason, op_id=op_id))
        return idempotent(request, caller, body, run)

    @route(router, "POST", "/transfers/{ref}/cancel", "transfers.cancel", response_model=Transfer, tags=[TAG],
           responses=STEP_RESPONSES)
    def cancel(ref: Ref, request: Request, *, caller: Caller) -> Response:
        """Cancel a draft, or a shipped transfer (what is in transit goes back to the source)."""
        def run(op_id: str) -> Response:
            transfer_id = transfer_of(caller, ref).id
            return transfer_response(caller.ops.transfers.cancel(transfer_id, op_id=op_id))
        return idempotent(request, caller, {}, run)
