"""Transfers of stock between internal locations.

Lifecycle::

    draft ──ship──▶ shipped ──receive (all)──▶ received
      │               │  └─receive (some)─▶ partial ──receive (rest)──▶ received
      │               │                        │
      └─cancel─▶ cancelled ◀─cancel─┘          └─close (shortfall to loss, or back to source)──▶ closed

A draft has no stock effect. Shipping moves every line from the source into a transit location in one
ledger operation (all lines or none); receiving moves from transit to the destination; closing posts what
never arrived to the loss location (with a reason) or back to the source; cancelling a shipped transfer
returns what is still in transit to the source. Every step that moves stock takes an ``operation_id``:
posting it a second time (a retried command, a double click) returns the transfer as it is and moves
nothing. The transfer row is locked first, so two people shipping the same transfer cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select
from sqlalchemy.orm import Session, aliased

from backoffice.db import Database
from backoffice.models import (
    AppliedOperation,
    Location,
    LocationKind,
    Product,
    StockOperation,
    Transfer,
    TransferLine,
    TransferState,
    User,
    Variant,
    utcnow,
)
from backoffice.services.base import (
    Actor,
    ConflictError,
    NotFound,
    ValidationError,
    audit,
    claim_operation,
    provisional_number,
    store_operation_result,
)
from backoffice.services.documents import (
    LOSS_CODE,
    TRANSIT_CODE,
    DocumentSummary,
    arriving_quantities,
    document_id,
    line_quantity_problem,
    lock_document,
    loss_location,
    newest_first,
    nothing_to_receive,
    require_state,
    transit_location,
    variant_label,
)
from backoffice.services.inventory import MoveLine, open_empty_levels, post_in_transaction

__all__ = ["LOSS_CODE", "TRANSIT_CODE", "TransferInfo", "TransferLineInfo", "TransferStateError", "TransferSummary",
           "cancel_transfer", "close_transfer", "create_and_ship", "create_transfer", "find_transfer",
           "get_transfer", "list_transfers", "receive_transfer", "ship_transfer", "update_draft"]


class TransferStateError(ValidationError):
    """The transfer is not in a state that allows this step."""


@dataclass(frozen=True)
class TransferLineInfo:
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    quantity: int
    shipped: int
    received: int
    lost: int
    returned: int

    @property
    def in_transit(self) -> int:
        return self.shipped - self.received - self.lost - self.returned


@dataclass(frozen=True)
class TransferInfo:
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
    lines: list[TransferLineInfo] = field(default_factory=list)
    replayed: bool = False  # True when the operation id had been posted before: nothing moved this time

    @property
    def total_quantity(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def in_transit(self) -> int:
        return sum(line.in_transit for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "number": self.number, "state": self.state, "version": self.version,
            "source": self.source, "destination": self.destination, "note": self.note,
            "lines": [{"sku": ln.sku, "quantity": ln.quantity, "shipped": ln.shipped, "received": ln.received,
                       "lost": ln.lost, "returned": ln.returned, "in_transit": ln.in_transit} for ln in self.lines],
            "replayed": self.replayed,
        }


# -- helpers --------------------------------------------------------------------------------------------
def _clean_lines(lines: list[dict[str, Any]] | list[tuple[int, int]]) -> list[tuple[int, int]]:
    """[(variant_id, quantity)] merged by variant, quantities checked; problems name the line."""
    problems: list[tuple[str, str, str]] = []
    merged: dict[int, int] = {}
    for i, line in enumerate(lines, 1):
        variant_id, quantity = (line["variant_id"], line["quantity"]) if isinstance(line, dict) else line
        problem = line_quantity_problem(quantity)
        if problem:
            problems.append((f"line {i}", "quantity", problem))
            continue
        merged[int(variant_id)] = merged.get(int(variant_id), 0) + quantity
    if problems:
        raise ValidationError(problems)
    return list(merged.items())


def _check_locations(session: Session, source_id: int, destination_id: int) -> None:
    problems = []
    if source_id == destination_id:
        problems.append(("transfer", "destination", "is the same as the source"))
    for name, loc_id in (("source", source_id), ("destination", destination_id)):
        loc = session.get(Location, loc_id)
        if loc is None:
            problems.append(("transfer", name, f"location {loc_id} does not exist"))
        elif loc.kind not in (LocationKind.WAREHOUSE, LocationKind.STORE):
            problems.append(("transfer", name, f"{loc.code} is a {loc.kind.value} location; transfers run between "
                                               "warehouses and stores"))
        elif not loc.active:
            problems.append(("transfer", name, f"{loc.code} is inactive"))
    if problems:
        raise ValidationError(problems)


def _check_variants(session: Session, variant_ids: list[int]) -> None:
    found = set(session.scalars(select(Variant.id).where(Variant.id.in_(variant_ids))))
    missing = [v for v in variant_ids if v not in found]
    if missing:
        raise ValidationError([("transfer", "lines", f"variant {v} does not exist") for v in missing])


def _lock(session: Session, transfer_id: int) -> Transfer:
    return lock_document(session, Transfer, transfer_id, "transfer")


def _require_state(transfer: Transfer, *states: TransferState, step: str) -> None:
    require_state(transfer, *states, step=step, error=TransferStateError)


def _replay(session: Session, operation_id: str, transfer_id: int) -> bool:
    """True when ``operation_id`` was applied before to this transfer (a retry: report, write nothing).
    Steps that move stock keep the id on their ledger operation; steps that move none (creating a draft,
    cancelling one) in ``applied_operations`` with the transfer's id. An id used for something else is
    refused rather than reported as this step's result."""
    if session.scalar(select(StockOperation.id).where(StockOperation.operation_id == operation_id)) is not None:
        owner, other = _transfer_of_operation(session, operation_id), "another stock operation"
    else:
        applied = session.execute(select(AppliedOperation.action, AppliedOperation.result)
                                  .where(AppliedOperation.operation_id == operation_id)).first()
        if applied is None:
            return False
        owner, other = (applied.result or {}).get("transfer_id"), applied.action
    if owner != transfer_id:
        number = session.scalar(select(Transfer.number).where(Transfer.id == owner)) if owner else None
        raise ValidationError([("", "operation id", f"{operation_id!r} was already used by "
                                + (f"transfer {number}" if number else other))])
    return True


def _record(session: Session, actor: Actor, operation_id: str | None, action: str, transfer_id: int) -> None:
    """Keep the operation id of a step that posts no stock, so that its retry is recognised."""
    if operation_id and claim_operation(session, operation_id, action, actor) is None:
        store_operation_result(session, operation_id, {"transfer_id": transfer_id})


@functools.cache
def _info_statements() -> tuple[Select, Select]:
    """Built once: the statements (and their compiled form, cached by SQLAlchemy) are the same every time."""
    src, dst = aliased(Location, name="src"), aliased(Location, name="dst")
    tid = bindparam("tid")
    head = (select(Transfer.id, Transfer.number, Transfer.state, Transfer.version, Transfer.source_location_id, src.code,
                   Transfer.destination_location_id, dst.code, Transfer.note, User.username, Transfer.created_at,
                   Transfer.shipped_at, Transfer.received_at, Transfer.closed_at)
            .join(src, src.id == Transfer.source_location_id).join(dst, dst.id == Transfer.destination_location_id)
            .outerjoin(User, User.id == Transfer.created_by).where(Transfer.id == tid))
    lines = (select(TransferLine.variant_id, Variant.sku, Variant.barcode, Product.title, Variant.title,
                    TransferLine.quantity, TransferLine.shipped, TransferLine.received, TransferLine.lost,
                    TransferLine.returned)
             .join(Variant, Variant.id == TransferLine.variant_id).join(Product, Product.id == Variant.product_id)
             .where(TransferLine.transfer_id == tid).order_by(TransferLine.position, TransferLine.id))
    return head, lines


def _info(session: Session, transfer_id: int, replayed: bool = False) -> TransferInfo:
    """The transfer as plain values, in two statements (the header with its places and creator, then
    the lines with their variants): it is read back after every step, by many clerks at once."""
    session.flush()
    head_stmt, lines_stmt = _info_statements()
    head = session.execute(head_stmt, {"tid": transfer_id}).first()
    if head is None:
        raise NotFound(f"transfer {transfer_id} does not exist")
    lines = [TransferLineInfo(vid, sku, barcode, variant_label(title, vtitle), qty, shipped, received, lost, returned)
             for vid, sku, barcode, title, vtitle, qty, shipped, received, lost, returned in session.execute(
                 lines_stmt, {"tid": transfer_id})]
    (tid, number, state, version, src_id, src_code, dst_id, dst_code, note, creator, created_at, shipped_at,
     received_at, closed_at) = head
    return TransferInfo(tid, number, state.value if hasattr(state, "value") else state, version, src_id, src_code,
                        dst_id, dst_code, note, creator or "", created_at, shipped_at, received_at, closed_at, lines,
                        replayed)


def _snapshot(t: Transfer) -> dict[str, Any]:
    return {"number": t.number, "state": t.state.value, "source_location_id": t.source_location_id,
            "destination_location_id": t.destination_location_id, "note": t.note,
            "lines": [{"variant_id": ln.variant_id, "quantity": ln.quantity, "shipped": ln.shipped,
                       "received": ln.received, "lost": ln.lost, "returned": ln.returned} for ln in t.lines]}


# -- drafts ---------------------------------------------------------------------------------------------
def create_transfer(db: Database, actor: Actor, *, source_location_id: int, destination_location_id: int,
                    lines: list[dict[str, Any]] | list[tuple[int, int]] = (), note: str = "",
                    operation_id: str | None = None) -> TransferInfo:
    """A draft transfer (no stock effect). Lines may be added later while it is a draft. With an
    ``operation_id``, a retry returns the draft the first call made instead of making another."""
    clean = _clean_lines(list(lines))

    def create_draft_once(session: Session) -> TransferInfo:
        previous = claim_operation(session, operation_id, "create_transfer", actor)
        if previous is not None:
            return _info(session, int(previous["transfer_id"]), replayed=True)
        transfer_id = _create_draft(session, actor, int(source_location_id), int(destination_location_id), clean, note)
        store_operation_result(session, operation_id, {"transfer_id": transfer_id})
        return _info(session, transfer_id)

    return db.run_write(create_draft_once)


def create_and_ship(db: Database, actor: Actor, *, source_location_id: int, destination_location_id: int,
                    lines: list[dict[str, Any]] | list[tuple[int, int]], note: str = "",
                    operation_id: str) -> TransferInfo:
    """A transfer created and shipped in one transaction: if the shipment is refused (not enough stock),
    no draft is left behind; a retry with the same ``operation_id`` returns the transfer it shipped."""
    clean = _clean_lines(list(lines))

    def create_and_ship_once(session: Session) -> TransferInfo:
        shipped = _transfer_of_operation(session, operation_id)
        if shipped is not None:
            return _info(session, shipped, replayed=True)
        transfer_id = _create_draft(session, actor, int(source_location_id), int(destination_location_id), clean, note)
        info = _ship(session, actor, transfer_id, operation_id)
        if info.replayed:  # a concurrent duplicate of this operation id won: roll our draft back
            raise _LostRace()
        return info

    try:
        return db.run_write(create_and_ship_once)
    except _LostRace:
        with db.read() as session:
            winner = _transfer_of_operation(session, operation_id)
            if winner is None:
                raise ValidationError([("", "operation id", f"{operation_id!r} was already used by another "
                                                           "stock operation")]) from None
            return _info(session, winner, replayed=True)


class _LostRace(Exception):
    """Raised inside a write to roll it back when another writer posted the same operation id first."""


def _create_draft(session: Session, actor: Actor, source_location_id: int, destination_location_id: int,
                  clean: list[tuple[int, int]], note: str) -> int:
    _check_locations(session, source_location_id, destination_location_id)
    _check_variants(session, [v for v, _ in clean])
    t = Transfer(number=provisional_number(), state=TransferState.DRAFT, source_location_id=source_location_id,
                 destination_location_id=destination_location_id, note=(note or "")[:500],
                 created_by=actor.user_id)
    t.lines = [TransferLine(variant_id=v, quantity=q, position=i) for i, (v, q) in enumerate(clean)]
    session.add(t)
    session.flush()
    t.number = f"TR-{t.id:06d}"
    session.flush()
    audit(session, actor, "transfer", t.id, "create", None, _snapshot(t))
    return t.id


def update_draft(db: Database, actor: Actor, transfer_id: int, *, expected_version: int,
                 lines: list[dict[str, Any]] | list[tuple[int, int]] | None = None, note: str | None = None,
                 source_location_id: int | None = None, destination_location_id: int | None = None) -> TransferInfo:
    """Replace a draft's lines, note or locations. A stale ``expected_version`` is a conflict."""
    clean = _clean_lines(list(lines)) if lines is not None else None

    def replace_draft(session: Session) -> TransferInfo:
        t = _lock(session, transfer_id)
        _require_state(t, TransferState.DRAFT, step="editing")
        if t.version != expected_version:
            raise ConflictError("transfer", t.id, t.number, expected_version, t.version, _snapshot(t))
        before = _snapshot(t)
        src = int(source_location_id) if source_location_id is not None else t.source_location_id
        dst = int(destination_location_id) if destination_location_id is not None else t.destination_location_id
        if (src, dst) != (t.source_location_id, t.destination_location_id):
            _check_locations(session, src, dst)
            t.source_location_id, t.destination_location_id = src, dst
        if note is not None:
            t.note = note[:500]
        if clean is not None:
            _check_variants(session, [v for v, _ in clean])
            t.lines = []
            session.flush()
            t.lines = [TransferLine(variant_id=v, quantity=q, position=i) for i, (v, q) in enumerate(clean)]
        t.updated_at = utcnow()
        session.flush()
        audit(session, actor, "transfer", t.id, "update", before, _snapshot(t))
        return _info(session, t.id)

    return db.run_write(replace_draft)


# -- stock-moving steps ---------------------------------------------------------------------------------
def ship_transfer(db: Database, actor: Actor, transfer_id: int, *, operation_id: str) -> TransferInfo:
    """Move every line from the source into transit, all or nothing; checks available stock."""
    return db.run_write(lambda session: _ship(session, actor, transfer_id, operation_id))


def _ship(session: Session, actor: Actor, transfer_id: int, operation_id: str) -> TransferInfo:
    if _replay(session, operation_id, transfer_id):
        return _info(session, transfer_id, replayed=True)
    t = _lock(session, transfer_id)
    _require_state(t, TransferState.DRAFT, step="shipping")
    if not t.lines:
        raise ValidationError([(t.number, "lines", "a transfer needs at least one line to ship")])
    transit = transit_location(session, actor)
    before = _snapshot(t)
    result = post_in_transaction(session, actor, operation_id, "transfer",
                   [MoveLine(ln.variant_id, t.source_location_id, transit.id, ln.quantity) for ln in t.lines],
                   t.number, f"shipped {t.number}", keep_reserved=True)
    if not result.applied:  # a concurrent duplicate of this operation id won the race
        return _info(session, transfer_id, replayed=True)
    for ln in t.lines:
        ln.shipped = ln.quantity
    open_empty_levels(session, [ln.variant_id for ln in t.lines], t.destination_location_id)
    t.state, t.transit_location_id, t.shipped_at = TransferState.SHIPPED, transit.id, utcnow()
    session.flush()
    audit(session, actor, "transfer", t.id, "ship", before, _snapshot(t), operation_id)
    return _info(session, t.id)


def receive_transfer(db: Database, actor: Actor, transfer_id: int, *, quantities: dict[int, int],
                     operation_id: str) -> TransferInfo:
    """Receive some or all of what is in transit into the destination. ``quantities``: variant id ->
    units arriving now (at most what is still in transit for that line)."""
    wanted = arriving_quantities(quantities)

    def post_receipt(session: Session) -> TransferInfo:
        if _replay(session, operation_id, transfer_id):   # before "nothing to receive": a retry of a full
            return _info(session, transfer_id, replayed=True)   # receipt finds nothing left in transit
        if not wanted:
            raise nothing_to_receive()
        t = _lock(session, transfer_id)
        _require_state(t, TransferState.SHIPPED, TransferState.PARTIAL, step="receiving")
        by_variant = {ln.variant_id: ln for ln in t.lines}
        bad = []
        for vid, q in wanted.items():
            ln = by_variant.get(vid)
            if ln is None:
                bad.append((f"variant {vid}", "quantity", f"is not on transfer {t.number}"))
            elif q > ln.in_transit:
                sku = session.scalar(select(Variant.sku).where(Variant.id == vid))
                bad.append((f"SKU {sku}", "quantity", f"{q} received but only {ln.in_transit} in transit"))
        if bad:
            raise ValidationError(bad)
        before = _snapshot(t)
        result = post_in_transaction(session, actor, operation_id, "transfer",
                       [MoveLine(vid, t.transit_location_id, t.destination_location_id, q) for vid, q in sorted(wanted.items())],
                       t.number, f"received {t.number}")
        if not result.applied:
            return _info(session, transfer_id, replayed=True)
        for vid, q in wanted.items():
            by_variant[vid].received += q
        t.received_at = utcnow()
        t.state = TransferState.RECEIVED if all(ln.in_transit == 0 for ln in t.lines) else TransferState.PARTIAL
        if t.state is TransferState.RECEIVED:
            t.closed_at = t.received_at
        session.flush()
        audit(session, actor, "transfer", t.id, "receive", before, _snapshot(t), operation_id)
        return _info(session, t.id)

    return db.run_write(post_receipt)


def close_transfer(db: Database, actor: Actor, transfer_id: int, *, shortfall: str, reason: str = "",
                   operation_id: str) -> TransferInfo:
    """Close a shipped or partly received transfer: what is still in transit goes to the loss location
    (``shortfall="loss"``, a reason is required) or back to the source (``shortfall="return"``)."""
    if shortfall not in ("loss", "return"):
        raise ValidationError([("close", "shortfall", f"{shortfall!r} is not loss or return")])
    if shortfall == "loss" and not reason.strip():
        raise ValidationError([("close", "reason", "say why the missing units are written off")])

    def settle_shortfall(session: Session) -> TransferInfo:
        if _replay(session, operation_id, transfer_id):
            return _info(session, transfer_id, replayed=True)
        t = _lock(session, transfer_id)
        _require_state(t, TransferState.SHIPPED, TransferState.PARTIAL, step="closing")
        return _settle(session, actor, t, operation_id, "loss" if shortfall == "loss" else "return",
                       TransferState.CLOSED, reason)

    return db.run_write(settle_shortfall)


def cancel_transfer(db: Database, actor: Actor, transfer_id: int, *, operation_id: str) -> TransferInfo:
    """Cancel a draft (nothing moves) or a shipped transfer (what is in transit goes back to the source)."""

    def cancel_or_return(session: Session) -> TransferInfo:
        if _replay(session, operation_id, transfer_id):
            return _info(session, transfer_id, replayed=True)
        t = _lock(session, transfer_id)
        _require_state(t, TransferState.DRAFT, TransferState.SHIPPED, TransferState.PARTIAL, step="cancelling")
        if t.state is TransferState.DRAFT:
            before = _snapshot(t)
            t.state, t.closed_at = TransferState.CANCELLED, utcnow()
            _record(session, actor, operation_id, "cancel_transfer", t.id)
            session.flush()
            audit(session, actor, "transfer", t.id, "cancel", before, _snapshot(t), operation_id)
            return _info(session, t.id)
        return _settle(session, actor, t, operation_id, "return", TransferState.CANCELLED, "cancelled")

    return db.run_write(cancel_or_return)


def _settle(session: Session, actor: Actor, t: Transfer, operation_id: str, how: str, final: TransferState,
            reason: str) -> TransferInfo:
    before = _snapshot(t)
    outstanding = [(ln, ln.in_transit) for ln in t.lines if ln.in_transit > 0]
    if outstanding:
        if how == "loss":
            target = loss_location(session, actor).id
        else:
            target = t.source_location_id
        result = post_in_transaction(session, actor, operation_id, "loss" if how == "loss" else "return",
                       [MoveLine(ln.variant_id, t.transit_location_id, target, q) for ln, q in outstanding],
                       t.number, f"{final.value} {t.number}: {reason}"[:500])
        if not result.applied:
            return _info(session, t.id, replayed=True)
        for ln, q in outstanding:
            if how == "loss":
                ln.lost += q
            else:
                ln.returned += q
    else:
        _record(session, actor, operation_id, "close_transfer" if final is TransferState.CLOSED else "cancel_transfer",
                t.id)
    t.state, t.closed_at = final, utcnow()
    session.flush()
    audit(session, actor, "transfer", t.id, "close" if final is TransferState.CLOSED else "cancel", before,
          {**_snapshot(t), "shortfall": how, "reason": reason}, operation_id)
    return _info(session, t.id)


# -- reads ----------------------------------------------------------------------------------------------
def get_transfer(db: Database, transfer_id: int) -> TransferInfo:
    with db.read() as session:
        return _info(session, transfer_id)


def find_transfer(db: Database, number_or_id: str) -> TransferInfo:
    """By number (TR-000012) or id (12)."""
    with db.read() as session:
        return _info(session, document_id(session, Transfer, number_or_id, "transfer"))


@dataclass(frozen=True)
class TransferSummary(DocumentSummary):
    source: str
    destination: str
    lines: int
    units: int
    in_transit: int
    created_by: str
    created_at: dt.datetime
    shipped_at: dt.datetime | None
    received_at: dt.datetime | None


def list_transfers(db: Database, *, states: tuple[str, ...] = (), location_id: int | None = None,
                   before_id: int | None = None, limit: int = 200) -> list[TransferSummary]:
    """Newest first, a keyset page at a time."""
    src, dst = Location.__table__.alias("src"), Location.__table__.alias("dst")
    agg = (select(TransferLine.transfer_id.label("tid"), func.count().label("n"), func.sum(TransferLine.quantity).label("units"),
                  func.sum(TransferLine.shipped - TransferLine.received - TransferLine.lost - TransferLine.returned)
                  .label("transit"))
           .group_by(TransferLine.transfer_id).subquery())
    stmt = (select(Transfer.id, Transfer.number, Transfer.state, src.c.code, dst.c.code, agg.c.n, agg.c.units,
                   agg.c.transit, User.username, Transfer.created_at, Transfer.shipped_at, Transfer.received_at)
            .join(src, src.c.id == Transfer.source_location_id).join(dst, dst.c.id == Transfer.destination_location_id)
            .outerjoin(agg, agg.c.tid == Transfer.id).outerjoin(User, User.id == Transfer.created_by))
    stmt = newest_first(stmt, Transfer, states=states, before_id=before_id, limit=limit)
    if location_id is not None:
        stmt = stmt.where(or_(Transfer.source_location_id == location_id, Transfer.destination_location_id == location_id))
    with db.read() as session:
        return [TransferSummary(r[0], r[1], r[2].value, r[3], r[4], int(r[5] or 0), int(r[6] or 0), int(r[7] or 0),
                                r[8] or "", r[9], r[10], r[11]) for r in session.execute(stmt)]


def _transfer_of_operation(session: Session, operation_id: str) -> int | None:
    document = session.scalar(select(StockOperation.document).where(StockOperation.operation_id == operation_id))
    if not document:
        return None
    return session.scalar(select(Transfer.id).where(Transfer.number == document))
