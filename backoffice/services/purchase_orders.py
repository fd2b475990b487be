"""Purchase orders: from a draft to stock on the shelf.

Lifecycle::

    draft ──send──▶ sent ──receive (some)──▶ partial ──receive (rest)──▶ received ──close──▶ closed
      │              │                          │                                          ▲
      └──cancel──▶ cancelled ◀──cancel──┘       └───────────close (the rest will not come)─┘

A draft is editable (lines, quantities, costs, destination, note) and moves no stock; sending fixes it
(the PDF/XLSX document goes to the supplier, by e-mail when a mail server is given) and sets the
expected date from the lead times. Receiving posts the arriving units from the supplier location into
a warehouse or store through ``inventory`` as one ledger operation with the caller's operation id: the
same receipt posted twice moves stock once. A partial receipt keeps the rest open; receiving more than
is outstanding on a line needs ``allow_over_receipt=True`` (the receiver confirmed it). A step the
state does not allow is refused with ``PurchaseOrderStateError``; the order row is locked first, so two
people acting on one order at once cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session, selectinload

from backoffice.db import Database
from backoffice.models import (
    Location,
    LocationKind,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderState,
    PurchaseReceipt,
    StockOperation,
    Supplier,
    SupplierItem,
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
from backoffice.services.catalog import parse_money
from backoffice.services.documents import (
    SUPPLIER_CODE,
    DocumentSummary,
    arriving_quantities,
    document_id,
    line_quantity_problem,
    lock_document,
    newest_first,
    nothing_to_receive,
    require_state,
    system_location,
    variant_labels,
)
from backoffice.services.inventory import MoveLine, open_empty_levels, post_in_transaction

_STOCKED = (LocationKind.WAREHOUSE, LocationKind.STORE)


class PurchaseOrderStateError(ValidationError):
    """The order is not in a state that allows this step."""


@dataclass(frozen=True)
class OrderLineInfo:
    id: int
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    supplier_sku: str
    quantity: int
    unit_cost: Decimal
    received: int

    @property
    def outstanding(self) -> int:
        return max(0, self.quantity - self.received)

    @property
    def line_total(self) -> Decimal:
        return (self.unit_cost * self.quantity).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class ReceiptInfo:
    id: int
    at: dt.datetime
    location: str
    units: int
    over_receipt: bool
    user: str
    operation_id: str


@dataclass(frozen=True)
class OrderInfo:
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
    lines: list[OrderLineInfo] = field(default_factory=list)
    receipts: list[ReceiptInfo] = field(default_factory=list)
    replayed: bool = False

    @property
    def total(self) -> Decimal:
        return sum((ln.line_total for ln in self.lines), Decimal("0.00"))

    @property
    def units(self) -> int:
        return sum(ln.quantity for ln in self.lines)

    @property
    def outstanding(self) -> int:
        return sum(ln.outstanding for ln in self.lines)

    def late(self, today: dt.date | None = None) -> bool:
        today = today or dt.datetime.now(dt.timezone.utc).date()
        return self.state in ("sent", "partial") and self.expected_on is not None and self.expected_on < today

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "number": self.number, "state": self.state, "version": self.version,
                "supplier": self.supplier, "destination": self.destination, "currency": self.currency,
                "expected_on": self.expected_on.isoformat() if self.expected_on else None, "note": self.note,
                "total": str(self.total), "late": self.late(), "replayed": self.replayed,
                "lines": [{"sku": ln.sku, "supplier_sku": ln.supplier_sku, "quantity": ln.quantity,
                           "unit_cost": str(ln.unit_cost), "received": ln.received, "outstanding": ln.outstanding}
                          for ln in self.lines]}


# -- helpers --------------------------------------------------------------------------------------------
def lock_purchasing(session: Session) -> None:
    """Serialise the writers that decide what to order (SQLite's write transaction already does)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7007)"))


def _lock(session: Session, order_id: int) -> PurchaseOrder:
    return lock_document(session, PurchaseOrder, order_id, "purchase order")


def _require_state(po: PurchaseOrder, *states: PurchaseOrderState, step: str) -> None:
    require_state(po, *states, step=step, error=PurchaseOrderStateError)


def _check_destination(session: Session, location_id: int, what: str = "destination") -> Location:
    loc = session.get(Location, location_id)
    if loc is None:
        raise ValidationError([("purchase order", what, f"location {location_id} does not exist")])
    if loc.kind not in _STOCKED:
        raise ValidationError([("purchase order", what, f"{loc.code} is a {loc.kind.value} location; goods are "
                                                        "received into a warehouse or store")])
    if not loc.active:
        raise ValidationError([("purchase order", what, f"{loc.code} is inactive")])
    return loc


def _clean_lines(lines: list[Any]) -> list[tuple[int, int, Decimal | None]]:
    """[(variant id, quantity, unit cost or None)], quantities checked; problems name the line."""
    problems: list = []
    merged: dict[int, list[Any]] = {}
    for i, line in enumerate(lines, 1):
        if isinstance(line, dict):
            vid, qty, cost = line.get("variant_id"), line.get("quantity"), line.get("unit_cost")
        else:
            vid, qty, cost = (tuple(line) + (None,))[:3]
        problem = line_quantity_problem(qty)
        if problem:
            problems.append((f"line {i}", "quantity", problem))
            continue
        amount = None
        if cost is not None:
            amount = parse_money(cost, f"line {i}", "unit_cost", problems, required=False)
        if int(vid) in merged:
            merged[int(vid)][0] += qty
        else:
            merged[int(vid)] = [qty, amount]
    if problems:
        raise ValidationError(problems)
    return [(v, q, c) for v, (q, c) in merged.items()]


def _priced_lines(session: Session, supplier: Supplier, currency: str,
                  clean: list[tuple[int, int, Decimal | None]]) -> list[tuple[int, int, Decimal, str]]:
    """Each line with its unit cost and supplier SKU from the supplier item; a variant the supplier
    has no item for, or prices in another currency, is refused, naming the line."""
    vids = [v for v, _, _ in clean]
    skus = dict(session.execute(select(Variant.id, Variant.sku).where(Variant.id.in_(vids or [0]))).all())
    items = {i.variant_id: i for i in session.scalars(select(SupplierItem).where(
        SupplierItem.supplier_id == supplier.id, SupplierItem.variant_id.in_(vids or [0])))}
    problems, out = [], []
    for n, (vid, qty, cost) in enumerate(clean, 1):
        sku = skus.get(vid)
        where = f"line {n} (SKU {sku})" if sku else f"line {n}"
        if sku is None:
            problems.append((where, "variant", f"variant {vid} does not exist"))
            continue
        item = items.get(vid)
        if item is None:
            problems.append((where, "supplier item", f"{supplier.name} has no supplier item for {sku}"))
            continue
        if item.currency != currency:
            problems.append((where, "currency", f"{supplier.name} prices {sku} in {item.currency}, the order is in "
                                                f"{currency}"))
            continue
        out.append((vid, qty, cost if cost is not None else item.unit_cost, item.supplier_sku))
    if problems:
        raise ValidationError(problems)
    return out


def _snapshot(po: PurchaseOrder) -> dict[str, Any]:
    return {"number": po.number, "state": po.state.value, "supplier_id": po.supplier_id,
            "destination_location_id": po.destination_location_id, "currency": po.currency,
            "expected_on": po.expected_on.isoformat() if po.expected_on else None, "note": po.note,
            "lines": [{"variant_id": ln.variant_id, "quantity": ln.quantity, "unit_cost": str(ln.unit_cost),
                       "received": ln.received} for ln in po.lines]}


def _lead_time(session: Session, po: PurchaseOrder) -> int:
    supplier = session.get(Supplier, po.supplier_id)
    default = supplier.lead_time_days if supplier else 0
    vids = [ln.variant_id for ln in po.lines]
    leads = session.scalars(select(SupplierItem.lead_time_days).where(
        SupplierItem.supplier_id == po.supplier_id, SupplierItem.variant_id.in_(vids or [0])))
    return max([default if d is None else d for d in leads] or [default])


def _info(session: Session, order_id: int, replayed: bool = False) -> OrderInfo:
    po = session.scalar(select(PurchaseOrder).where(PurchaseOrder.id == order_id)
                        .options(selectinload(PurchaseOrder.lines)).execution_options(populate_existing=True))
    if po is None:
        raise NotFound(f"purchase order {order_id} does not exist")
    supplier = session.get(Supplier, po.supplier_id)
    dest = session.scalar(select(Location.code).where(Location.id == po.destination_location_id))
    creator = session.scalar(select(User.username).where(User.id == po.created_by)) if po.created_by else ""
    meta = variant_labels(session, [ln.variant_id for ln in po.lines])
    lines = [OrderLineInfo(ln.id, ln.variant_id, *meta[ln.variant_id], ln.supplier_sku, ln.quantity, ln.unit_cost,
                           ln.received) for ln in po.lines]
    receipts = [ReceiptInfo(r.id, r.created_at, code, r.units, r.over_receipt, user or "", op_id) for r, code, user, op_id in
                session.execute(select(PurchaseReceipt, Location.code, User.username, StockOperation.operation_id)
                                .join(Location, Location.id == PurchaseReceipt.location_id)
                                .join(StockOperation, StockOperation.id == PurchaseReceipt.stock_operation_pk)
                                .outerjoin(User, User.id == PurchaseReceipt.user_id)
                                .where(PurchaseReceipt.order_id == po.id).order_by(PurchaseReceipt.id))]
    return OrderInfo(po.id, po.number, po.state.value, po.version, po.supplier_id, supplier.name if supplier else "",
                     (supplier.email or "") if supplier else "", po.destination_location_id, dest or "", po.currency,
                     po.expected_on, po.note, creator or "", po.created_at, po.sent_at, po.received_at, po.closed_at,
                     lines, receipts, replayed)


# -- drafts ---------------------------------------------------------------------------------------------
def _new_order(session: Session, actor: Actor, supplier: Supplier, destination_id: int, note: str) -> PurchaseOrder:
    lead = supplier.lead_time_days
    po = PurchaseOrder(number=provisional_number(), state=PurchaseOrderState.DRAFT, supplier_id=supplier.id,
                       destination_location_id=destination_id, currency=supplier.currency, note=(note or "")[:500],
                       created_by=actor.user_id,
                       expected_on=dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=lead))
    session.add(po)
    session.flush()
    po.number = f"PO-{po.id:06d}"
    return po


def _set_lines(po: PurchaseOrder, priced: list[tuple[int, int, Decimal, str]]) -> None:
    po.lines = [PurchaseOrderLine(variant_id=v, quantity=q, unit_cost=c, supplier_sku=s, position=i, received=0)
                for i, (v, q, c, s) in enumerate(priced)]


def create_order(db: Database, actor: Actor, *, supplier_id: int, destination_location_id: int,
                 lines: list[Any] = (), note: str = "", operation_id: str | None = None) -> OrderInfo:  # type: ignore[assignment]
    """A draft purchase order in the supplier's currency. Lines: (variant id, quantity[, unit cost]) or
    dicts; the cost defaults to the supplier item's. The same ``operation_id`` again returns the order
    the first call created (``replayed``) and creates nothing."""
    clean = _clean_lines(list(lines))

    def create_once(session: Session) -> OrderInfo:
        previous = claim_operation(session, operation_id, "purchase_order.create", actor)
        if previous is not None:
            return _info(session, int(previous["id"]), replayed=True)
        supplier = session.get(Supplier, supplier_id)
        if supplier is None:
            raise NotFound(f"supplier {supplier_id} does not exist")
        _check_destination(session, destination_location_id)
        priced = _priced_lines(session, supplier, supplier.currency, clean)
        po = _new_order(session, actor, supplier, destination_location_id, note)
        _set_lines(po, priced)
        session.flush()
        po.expected_on = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=_lead_time(session, po))
        session.flush()
        audit(session, actor, "purchase_order", po.id, "create", None, _snapshot(po), operation_id)
        store_operation_result(session, operation_id, {"id": po.id, "number": po.number})
        return _info(session, po.id)

    return db.run_write(create_once)


def add_lines_to_draft(session: Session, actor: Actor, *, supplier_id: int, destination_location_id: int,
                       lines: list[tuple[int, int]], note: str = "") -> tuple[dict[str, Any], bool]:
    """Inside the caller's transaction: add quantities to the open draft of (supplier, destination), or
    to a new one. Returns ({"id", "number"}, created)."""
    supplier = session.get(Supplier, supplier_id)
    if supplier is None:
        raise NotFound(f"supplier {supplier_id} does not exist")
    _check_destination(session, destination_location_id)
    priced = _priced_lines(session, supplier, supplier.currency, _clean_lines(list(lines)))
    po = session.scalar(select(PurchaseOrder).where(
        PurchaseOrder.supplier_id == supplier_id, PurchaseOrder.destination_location_id == destination_location_id,
        PurchaseOrder.state == PurchaseOrderState.DRAFT, PurchaseOrder.currency == supplier.currency)
        .order_by(PurchaseOrder.id).limit(1).with_for_update().options(selectinload(PurchaseOrder.lines)))
    created = po is None
    if po is None:
        po = _new_order(session, actor, supplier, destination_location_id, note)
        before = None
    else:
        before = _snapshot(po)
    existing = {ln.variant_id: ln for ln in po.lines}
    position = len(po.lines)
    for vid, qty, cost, ssku in priced:
        if vid in existing:
            existing[vid].quantity += qty
        else:
            po.lines.append(PurchaseOrderLine(variant_id=vid, quantity=qty, unit_cost=cost, supplier_sku=ssku,
                                              position=position, received=0))
            position += 1
    session.flush()
    po.expected_on = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=_lead_time(session, po))
    po.updated_at = utcnow()
    session.flush()
    audit(session, actor, "purchase_order", po.id, "create" if created else "update", before, _snapshot(po))
    return {"id": po.id, "number": po.number}, created


def update_draft(db: Database, actor: Actor, order_id: int, *, expected_version: int, lines: list[Any] | None = None,
                 note: str | None = None, destination_location_id: int | None = None,
                 expected_on: dt.date | None = None) -> OrderInfo:
    """Replace a draft's lines, note, destination or expected date. Only a draft can be edited; a stale
    ``expected_version`` is a conflict."""
    clean = _clean_lines(list(lines)) if lines is not None else None

    def replace_draft(session: Session) -> OrderInfo:
        po = _lock(session, order_id)
        _require_state(po, PurchaseOrderState.DRAFT, step="editing")
        if po.version != expected_version:
            raise ConflictError("purchase order", po.id, po.number, expected_version, po.version, _snapshot(po))
        before = _snapshot(po)
        if destination_location_id is not None and destination_location_id != po.destination_location_id:
            _check_destination(session, destination_location_id)
            po.destination_location_id = destination_location_id
        if note is not None:
            po.note = note[:500]
        if clean is not None:
            supplier = session.get(Supplier, po.supplier_id)
            priced = _priced_lines(session, supplier, po.currency, clean)
            po.lines = []
            session.flush()
            _set_lines(po, priced)
            session.flush()
            po.expected_on = dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=_lead_time(session, po))
        if expected_on is not None:
            po.expected_on = expected_on
        po.updated_at = utcnow()
        session.flush()
        audit(session, actor, "purchase_order", po.id, "update", before, _snapshot(po))
        return _info(session, po.id)

    return db.run_write(replace_draft)


# -- sending ----------------------------------------------------------------------------------------------
def _replay(session: Session, actor: Actor, operation_id: str | None, action: str, order_id: int) -> OrderInfo | None:
    """Claim ``operation_id`` for a step on ``order_id``; when it was used before, the order as it is now
    (marked ``replayed``): the step is not taken twice."""
    previous = claim_operation(session, operation_id, action, actor)
    if previous is None:
        return None
    return _info(session, int(previous.get("id", order_id)), replayed=True)


def _done(session: Session, operation_id: str | None, po: PurchaseOrder) -> None:
    store_operation_result(session, operation_id, {"id": po.id, "number": po.number, "state": po.state.value})


def send_order(db: Database, actor: Actor, order_id: int, *, expected_version: int | None = None,
               mail: Any = None, operation_id: str | None = None) -> OrderInfo:
    """Fix a draft and mark it sent; the expected date becomes today plus the longest lead time of its
    lines. With ``mail`` (a :class:`backoffice.services.po_documents.OrderMail`), the document is
    e-mailed to the supplier in the same step: if the mail server refuses, the order stays a draft."""

    def send_once(session: Session) -> OrderInfo:
        replayed = _replay(session, actor, operation_id, "purchase_order.send", order_id)
        if replayed is not None:
            return replayed
        po = _lock(session, order_id)
        _require_state(po, PurchaseOrderState.DRAFT, step="sending")
        if expected_version is not None and po.version != expected_version:
            raise ConflictError("purchase order", po.id, po.number, expected_version, po.version, _snapshot(po))
        if not po.lines:
            raise ValidationError([(po.number, "lines", "an order needs at least one line to be sent")])
        before = _snapshot(po)
        now = utcnow()
        open_empty_levels(session, [ln.variant_id for ln in po.lines], po.destination_location_id)
        po.state, po.sent_at = PurchaseOrderState.SENT, now
        po.expected_on = now.date() + dt.timedelta(days=_lead_time(session, po))
        session.flush()
        info = _info(session, po.id)
        after = _snapshot(po)
        if mail is not None:
            from backoffice.services.po_documents import mail_order

            after["mailed_to"] = mail_order(session, info, mail)
        audit(session, actor, "purchase_order", po.id, "send", before, after, operation_id)
        _done(session, operation_id, po)
        return info

    return db.run_write(send_once, attempts=1 if mail is not None else 6)


def email_order(db: Database, actor: Actor, order_id: int, *, mail: Any) -> list[str]:
    """E-mail a sent order's document (again) to the supplier; returns the recipients."""

    def mail_again(session: Session) -> list[str]:
        po = _lock(session, order_id)
        _require_state(po, PurchaseOrderState.SENT, PurchaseOrderState.PARTIAL, step="e-mailing")
        from backoffice.services.po_documents import mail_order

        recipients = mail_order(session, _info(session, po.id), mail)
        audit(session, actor, "purchase_order", po.id, "email", None, {"mailed_to": recipients})
        return recipients

    return db.run_write(mail_again, attempts=1)


# -- receiving --------------------------------------------------------------------------------------------
def _supplier_location(session: Session, actor: Actor) -> int:
    found = session.scalar(select(Location.id).where(Location.kind == LocationKind.SUPPLIER, Location.active.is_(True))
                           .order_by(Location.code == SUPPLIER_CODE, Location.id).limit(1))
    if found is not None:
        return found
    return system_location(session, actor, SUPPLIER_CODE, "Suppliers (receipts)", LocationKind.SUPPLIER).id


def receive_order(db: Database, actor: Actor, order_id: int, *, quantities: dict[int, int], operation_id: str,
                  location_id: int | None = None, allow_over_receipt: bool = False, note: str = "") -> OrderInfo:
    """Receive some or all of a sent order into ``location_id`` (default: its destination).
    ``quantities``: variant id -> units arriving now. Posting the same ``operation_id`` again returns
    the order as it is and moves nothing."""
    bad_id = not operation_id or len(operation_id) > 64
    wanted = arriving_quantities(quantities, [("receipt", "operation_id", "must be 1 to 64 characters")] if bad_id else [])

    def post_receipt(session: Session) -> OrderInfo:
        if session.scalar(select(StockOperation.id).where(StockOperation.operation_id == operation_id)) is not None:
            return _info(session, order_id, replayed=True)   # checked first: a replay of "--all" asks for nothing
        if not wanted:
            raise nothing_to_receive()
        po = _lock(session, order_id)
        _require_state(po, PurchaseOrderState.SENT, PurchaseOrderState.PARTIAL, step="receiving")
        target = location_id if location_id is not None else po.destination_location_id
        loc = session.get(Location, target)
        if loc is None:
            raise ValidationError([(po.number, "location", f"location {target} does not exist")])
        if loc.kind not in _STOCKED or not loc.active:
            raise ValidationError([(po.number, "location", f"{loc.code} is a {loc.kind.value} location; receive into "
                                                           "an active warehouse or store")])
        by_variant = {ln.variant_id: ln for ln in po.lines}
        skus = dict(session.execute(select(Variant.id, Variant.sku).where(Variant.id.in_(list(wanted)))).all())
        bad, over = [], False
        for vid, q in sorted(wanted.items()):
            ln = by_variant.get(vid)
            label = f"SKU {skus.get(vid, vid)}"
            if ln is None:
                bad.append((label, "quantity", f"is not on {po.number}"))
            elif q > ln.outstanding:
                over = True
                if not allow_over_receipt:
                    bad.append((label, "quantity", f"{q} received but only {ln.outstanding} outstanding of "
                                                   f"{ln.quantity} ordered; confirm the over-receipt to accept it"))
        if bad:
            raise ValidationError(bad)
        before = _snapshot(po)
        source = _supplier_location(session, actor)
        result = post_in_transaction(session, actor, operation_id, "receipt",
                       [MoveLine(vid, source, target, q) for vid, q in sorted(wanted.items())],
                       po.number, f"received {po.number}" + (f": {note}" if note else ""))
        if not result.applied:
            return _info(session, order_id, replayed=True)
        for vid, q in wanted.items():
            by_variant[vid].received += q
        now = utcnow()
        po.received_at = now
        po.state = (PurchaseOrderState.RECEIVED if all(ln.received >= ln.quantity for ln in po.lines)
                    else PurchaseOrderState.PARTIAL)
        session.add(PurchaseReceipt(order_id=po.id, stock_operation_pk=result.stock_operation_id, location_id=target,
                                    units=sum(wanted.values()), over_receipt=over, note=(note or "")[:500],
                                    user_id=actor.user_id, created_at=now))
        session.flush()
        audit(session, actor, "purchase_order", po.id, "receive", before,
              {**_snapshot(po), "location": loc.code, "over_receipt": over}, operation_id)
        return _info(session, po.id)

    return db.run_write(post_receipt)


def close_order(db: Database, actor: Actor, order_id: int, *, reason: str = "",
                operation_id: str | None = None) -> OrderInfo:
    """Settle a received or partly received order: nothing more is expected."""
    return _settle(db, actor, order_id, reason, operation_id, "close",
                   (PurchaseOrderState.PARTIAL, PurchaseOrderState.RECEIVED), PurchaseOrderState.CLOSED, "closing")


def cancel_order(db: Database, actor: Actor, order_id: int, *, reason: str = "",
                 operation_id: str | None = None) -> OrderInfo:
    """Call off a draft or a sent order before anything arrived."""
    return _settle(db, actor, order_id, reason, operation_id, "cancel",
                   (PurchaseOrderState.DRAFT, PurchaseOrderState.SENT), PurchaseOrderState.CANCELLED, "cancelling")


def _settle(db: Database, actor: Actor, order_id: int, reason: str, operation_id: str | None, action: str,
            states: tuple[PurchaseOrderState, ...], final: PurchaseOrderState, step: str) -> OrderInfo:
    """Close or cancel: the order ends in ``final`` from one of ``states``; nothing moves."""

    def settle_once(session: Session) -> OrderInfo:
        replayed = _replay(session, actor, operation_id, f"purchase_order.{action}", order_id)
        if replayed is not None:
            return replayed
        po = _lock(session, order_id)
        _require_state(po, *states, step=step)
        before = _snapshot(po)
        po.state, po.closed_at = final, utcnow()
        session.flush()
        audit(session, actor, "purchase_order", po.id, action, before, {**_snapshot(po), "reason": reason},
              operation_id)
        _done(session, operation_id, po)
        return _info(session, po.id)

    return db.run_write(settle_once)


# -- reads ----------------------------------------------------------------------------------------------
def get_order(db: Database, order_id: int) -> OrderInfo:
    with db.read() as session:
        return _info(session, order_id)


def find_order(db: Database, number_or_id: str) -> OrderInfo:
    """By number (PO-000012) or id (12)."""
    with db.read() as session:
        return _info(session, document_id(session, PurchaseOrder, number_or_id, "purchase order"))


@dataclass(frozen=True)
class OrderSummary(DocumentSummary):
    supplier: str
    destination: str
    currency: str
    lines: int
    units: int
    outstanding: int
    total: Decimal
    expected_on: dt.date | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    late: bool


def list_orders(db: Database, *, states: tuple[str, ...] = (), supplier_id: int | None = None,
                before_id: int | None = None, limit: int = 200, today: dt.date | None = None) -> list[OrderSummary]:
    """Newest first, a keyset page at a time; ``late``: sent or partly received, past the expected date."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    agg = (select(PurchaseOrderLine.order_id.label("oid"), func.count().label("n"),
                  func.sum(PurchaseOrderLine.quantity).label("units"),
                  func.sum(case((PurchaseOrderLine.quantity > PurchaseOrderLine.received,
                                 PurchaseOrderLine.quantity - PurchaseOrderLine.received), else_=0)).label("open"),
                  func.sum(PurchaseOrderLine.quantity * PurchaseOrderLine.unit_cost).label("total"))
           .group_by(PurchaseOrderLine.order_id).subquery())
    stmt = (select(PurchaseOrder.id, PurchaseOrder.number, PurchaseOrder.state, Supplier.name, Location.code,
                   PurchaseOrder.currency, agg.c.n, agg.c.units, agg.c.open, agg.c.total, PurchaseOrder.expected_on,
                   PurchaseOrder.created_at, PurchaseOrder.sent_at)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .join(Location, Location.id == PurchaseOrder.destination_location_id)
            .outerjoin(agg, agg.c.oid == PurchaseOrder.id))
    stmt = newest_first(stmt, PurchaseOrder, states=states, before_id=before_id, limit=limit)
    if supplier_id is not None:
        stmt = stmt.where(PurchaseOrder.supplier_id == supplier_id)
    out = []
    with db.read() as session:
        for r in session.execute(stmt):
            state = r[2].value
            open_units = max(0, int(r[8] or 0))
            late = state in ("sent", "partial") and r[10] is not None and r[10] < today
            out.append(OrderSummary(r[0], r[1], state, r[3], r[4], r[5], int(r[6] or 0), int(r[7] or 0),
                                    open_units if state in ("draft", "sent", "partial") else 0,
                                    Decimal(r[9] or 0).quantize(Decimal("0.01")), r[10], r[11], r[12], late))
    return out


def incoming_subquery():  # type: ignore[no-untyped-def]
    """(variant_id, location_id, qty): units still expected on sent or partly received orders."""
    return (select(PurchaseOrderLine.variant_id.label("variant_id"),
                   PurchaseOrder.destination_location_id.label("location_id"),
                   func.sum(PurchaseOrderLine.quantity - PurchaseOrderLine.received).label("qty"))
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
            .where(PurchaseOrder.state.in_([PurchaseOrderState.SENT.value, PurchaseOrderState.PARTIAL.value]),
                   PurchaseOrderLine.quantity > PurchaseOrderLine.received)
            .group_by(PurchaseOrderLine.variant_id, PurchaseOrder.destination_location_id).subquery("incoming"))


def operation_applied(db: Database, operation_id: str | None) -> bool:
    """Whether a write with ``operation_id`` already happened (a replay will report its first result)."""
    from backoffice.models import AppliedOperation

    if not operation_id:
        return False
    with db.read() as session:
        return session.get(AppliedOperation, operation_id) is not None


def order_document(db: Database, order_id: int, store_name: str = "Backoffice") -> Any:
    """The document the supplier gets for a saved order (a ``po_documents.PurchaseDocument``), with its
    supplier's contact and terms."""
    from backoffice.services.po_documents import build_document

    info = get_order(db, order_id)
    with db.read() as session:
        return build_document(info, session.get(Supplier, info.supplier_id), store_name)
