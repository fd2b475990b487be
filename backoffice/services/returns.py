"""Returns (RMA): an authorisation against an order's shipped lines, received into a location.

Authorising writes what may come back (units per shipped line, reason, condition) and the refund decided;
nothing moves. Receiving posts the goods through the ledger from the customer location: restockable units
into the receiving warehouse or store, damaged ones to the write-off location (a setting of the orders; by
default the first adjustment location), and counts them as returned on the order's lines. The refund
itself stays with the store's payment gateway: the back-office records the amount decided and the status
the store reports.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    INTERNAL_KINDS,
    Location,
    LocationKind,
    Order,
    OrderLine,
    Product,
    Return,
    ReturnLine,
    ReturnState,
    Variant,
    utcnow,
)
from backoffice.services.base import (
    Actor,
    NotFound,
    ValidationError,
    audit,
    claim_operation,
    provisional_number,
    store_operation_result,
)
from backoffice.services.inventory import MoveLine, post_in_transaction
from backoffice.services.orders import customer_location, settings_in

REASONS = {
    "wrong_size": "Wrong size or fit",
    "not_as_described": "Not as described",
    "defective": "Defective",
    "damaged_in_transit": "Damaged in transit",
    "changed_mind": "Changed mind",
    "late": "Arrived too late",
    "other": "Other",
}
CONDITIONS = ("restock", "damaged")
REFUND_STATUSES = ("pending", "refunded", "declined")


@dataclass(frozen=True)
class ReturnLineInfo:
    id: int
    order_line_id: int
    variant_id: int
    sku: str
    title: str
    quantity: int
    reason: str
    condition: str


@dataclass(frozen=True)
class ReturnInfo:
    id: int
    number: str
    order_id: int
    order_number: str
    state: str
    note: str
    refund_amount: Decimal
    refund_status: str
    location_id: int | None
    location: str
    created_at: dt.datetime
    received_at: dt.datetime | None
    version: int
    lines: list[ReturnLineInfo]

    @property
    def units(self) -> int:
        return sum(ln.quantity for ln in self.lines)


def _info(session: Session, return_id: int) -> ReturnInfo:
    r = session.get(Return, return_id)
    if r is None:
        raise NotFound(f"return {return_id} does not exist")
    order_number = session.scalar(select(Order.number).where(Order.id == r.order_id)) or ""
    rows = session.execute(select(ReturnLine, OrderLine.variant_id, Variant.sku, Product.title)
                           .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
                           .join(Variant, Variant.id == OrderLine.variant_id).join(Product, Product.id == Variant.product_id)
                           .where(ReturnLine.return_id == r.id).order_by(ReturnLine.id)).all()
    code = session.scalar(select(Location.code).where(Location.id == r.location_id)) if r.location_id else ""
    return ReturnInfo(r.id, r.number, r.order_id, order_number, r.state.value, r.note, r.refund_amount, r.refund_status,
                      r.location_id, code or "", r.created_at, r.received_at, r.version,
                      [ReturnLineInfo(rl.id, rl.order_line_id, v, sku, title, rl.quantity, rl.reason, rl.condition)
                       for rl, v, sku, title in rows])


def get_return(db: Database, return_id: int) -> ReturnInfo:
    with db.read() as session:
        return _info(session, return_id)


def find_return(db: Database, ref: str) -> ReturnInfo:
    ref = (ref or "").strip()
    with db.read() as session:
        rid = session.scalar(select(Return.id).where(Return.number == ref.upper()))
        if rid is None and ref.isdigit():
            rid = int(ref)
        if rid is None:
            raise NotFound(f"no return {ref!r}")
        return _info(session, rid)


def list_returns(db: Database, *, states: tuple[str, ...] = (), order_id: int | None = None,
                 before_id: int | None = None, limit: int = 200) -> list[ReturnInfo]:
    with db.read() as session:
        stmt = select(Return.id).order_by(Return.id.desc()).limit(max(1, min(limit, 1000)))
        if states:
            stmt = stmt.where(Return.state.in_(list(states)))
        if order_id is not None:
            stmt = stmt.where(Return.order_id == order_id)
        if before_id is not None:
            stmt = stmt.where(Return.id < before_id)
        return [_info(session, rid) for rid in session.scalars(stmt)]


def _returnable(session: Session, order_id: int) -> dict[int, int]:
    """Order line id -> units shipped and not yet returned or promised to an open return."""
    shipped = {lid: f - r for lid, f, r in session.execute(
        select(OrderLine.id, OrderLine.fulfilled, OrderLine.returned).where(OrderLine.order_id == order_id))}
    pending = dict(session.execute(
        select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity)).join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order_id, Return.state == ReturnState.AUTHORISED).group_by(ReturnLine.order_line_id)).all())
    return {lid: q - int(pending.get(lid, 0)) for lid, q in shipped.items()}


def _money(value: Any, row: str, problems: list) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        problems.append((row, "refund_amount", f"{value!r} is not an amount"))
        return Decimal("0.00")
    if amount < 0:
        problems.append((row, "refund_amount", f"{amount} must not be negative"))
    return amount


def authorise(db: Database, actor: Actor, order_id: int, *, lines: list[tuple[int, int, str, str]], note: str = "",
              refund_amount: Decimal | str = "0", operation_id: str | None = None) -> ReturnInfo:
    """A return authorisation: (order line id, units, reason, condition "restock" or "damaged") per line,
    at most what was shipped and not returned yet. The same ``operation_id`` again returns the first one."""
    problems: list[tuple[str, str, str]] = []
    amount = _money(refund_amount, "return", problems)
    note = " ".join((note or "").split())
    if len(note) > 1000:
        problems.append(("return", "note", "is longer than 1,000 characters"))
    if not lines:
        problems.append(("return", "lines", "a return needs at least one line"))
    for i, (_lid, q, reason, condition) in enumerate(lines, 1):
        if isinstance(q, bool) or not isinstance(q, int) or q <= 0:
            problems.append((f"line {i}", "quantity", f"{q!r} must be a whole number greater than zero"))
        if reason not in REASONS:
            problems.append((f"line {i}", "reason", f"{reason!r} is not one of {', '.join(REASONS)}"))
        if condition not in CONDITIONS:
            problems.append((f"line {i}", "condition", f"{condition!r} is not one of {', '.join(CONDITIONS)}"))
    if problems:
        raise ValidationError(problems)

    def write(session: Session) -> ReturnInfo:
        previous = claim_operation(session, operation_id, "returns.authorise", actor)
        if previous is not None:
            return _info(session, int(previous["return_id"]))
        order = session.scalar(select(Order).where(Order.id == int(order_id)).with_for_update())
        if order is None:
            raise NotFound(f"order {order_id} does not exist")
        left = _returnable(session, order.id)
        asked: dict[int, int] = defaultdict(int)
        for lid, q, _r, _c in lines:
            asked[int(lid)] += q
        bad = []
        for lid, q in sorted(asked.items()):
            if lid not in left:
                bad.append((order.number, f"line {lid}", "is not a line of this order"))
            elif q > left[lid]:
                bad.append((order.number, f"line {lid}", f"{q} units to return, {max(0, left[lid])} shipped and not yet "
                            "returned or authorised"))
        if bad:
            raise ValidationError(bad)
        r = Return(number=provisional_number(), order_id=order.id, note=note, refund_amount=amount, user_id=actor.user_id,
                   created_at=utcnow())
        session.add(r)
        session.flush()
        r.number = f"RMA-{r.id:06d}"
        session.add_all([ReturnLine(return_id=r.id, order_line_id=int(lid), quantity=q, reason=reason, condition=condition)
                         for lid, q, reason, condition in lines])
        session.flush()
        summary = f"{sum(asked.values())} units, refund {amount}"
        audit(session, actor, "return", r.id, "return_authorise", None,
              {"number": r.number, "order": order.number, "summary": summary, "refund_amount": str(amount),
               "lines": [{"order_line_id": lid, "quantity": q, "reason": reason, "condition": condition}
                         for lid, q, reason, condition in lines]}, operation_id)
        store_operation_result(session, operation_id, {"return_id": r.id})
        return _info(session, r.id)

    return db.run_write(write)


def _lock(session: Session, return_id: int) -> Return:
    r = session.scalar(select(Return).where(Return.id == int(return_id)).with_for_update())
    if r is None:
        raise NotFound(f"return {return_id} does not exist")
    return r


def write_off_location(session: Session) -> int:
    settings = settings_in(session)
    if settings.write_off_location_id is not None:
        return settings.write_off_location_id
    loc = session.scalar(select(Location.id).where(Location.kind == LocationKind.ADJUSTMENT, Location.active.is_(True))
                         .order_by(Location.code).limit(1))
    if loc is None:
        raise ValidationError([("store", "locations", "no active location of kind adjustment to write damaged returns "
                                "off to: add one, or choose one in the order settings")])
    return loc


def receive(db: Database, actor: Actor, return_id: int, *, location_id: int, operation_id: str) -> ReturnInfo:
    """The goods arrive: restockable units into ``location_id``, damaged ones to the write-off location,
    in one stock operation. The same ``operation_id`` again moves nothing."""
    if not operation_id or len(operation_id) > 64:
        raise ValidationError([("return", "operation_id", "must be 1 to 64 characters")])

    def write(session: Session) -> ReturnInfo:
        replayed = session.scalar(select(Return.id).where(Return.operation_id == operation_id))
        if replayed is not None:
            return _info(session, replayed)
        r = _lock(session, return_id)
        if r.state is not ReturnState.AUTHORISED:
            raise ValidationError([(r.number, "state", f"is {r.state.value}: only an authorised return can be received")])
        loc = session.get(Location, int(location_id))
        if loc is None or loc.kind not in INTERNAL_KINDS or not loc.active:
            raise ValidationError([(r.number, "location", f"location {location_id} is not an active warehouse or store")])
        session.scalar(select(Order.id).where(Order.id == r.order_id).with_for_update())
        source = customer_location(session)
        damaged_to = write_off_location(session) if any(rl.condition == "damaged" for rl in r.lines) else None
        variants = dict(session.execute(select(OrderLine.id, OrderLine.variant_id).where(
            OrderLine.id.in_([rl.order_line_id for rl in r.lines]))).all())
        moves = [MoveLine(variants[rl.order_line_id], source, loc.id if rl.condition == "restock" else damaged_to, rl.quantity)
                 for rl in r.lines]
        result = post_in_transaction(session, actor, operation_id, "return", moves, r.number,
                                     f"{r.number} received at {loc.code}")
        if not result.applied:
            raise ValidationError([(r.number, "operation_id", f"{operation_id} was already used for another stock operation")])
        for rl in r.lines:
            line = session.get(OrderLine, rl.order_line_id)
            line.returned += rl.quantity
        before = r.state.value
        r.state, r.location_id, r.received_at, r.operation_id = ReturnState.RECEIVED, loc.id, utcnow(), operation_id
        r.version += 1
        session.flush()
        restocked = sum(rl.quantity for rl in r.lines if rl.condition == "restock")
        audit(session, actor, "return", r.id, "return_receive", {"state": before},
              {"number": r.number, "state": r.state.value, "location": loc.code,
               "summary": f"{restocked} restocked at {loc.code}, {sum(rl.quantity for rl in r.lines) - restocked} written off"},
              operation_id)
        return _info(session, r.id)

    return db.run_write(write)


def cancel(db: Database, actor: Actor, return_id: int, *, operation_id: str | None = None) -> ReturnInfo:
    def write(session: Session) -> ReturnInfo:
        if claim_operation(session, operation_id, "returns.cancel", actor) is not None:
            return _info(session, return_id)
        r = _lock(session, return_id)
        if r.state is not ReturnState.AUTHORISED:
            raise ValidationError([(r.number, "state", f"is {r.state.value}: only an authorised return can be cancelled")])
        r.state = ReturnState.CANCELLED
        r.version += 1
        session.flush()
        audit(session, actor, "return", r.id, "return_cancel", {"state": "authorised"},
              {"number": r.number, "state": "cancelled"}, operation_id)
        store_operation_result(session, operation_id, {"return_id": r.id})
        return _info(session, r.id)

    return db.run_write(write)


def record_refund(db: Database, actor: Actor, return_id: int, *, status: str, amount: Decimal | str | None = None,
                  operation_id: str | None = None) -> ReturnInfo:
    """The refund as the store's gateway reports it (status, and the amount when it differs)."""
    problems: list[tuple[str, str, str]] = []
    if status not in REFUND_STATUSES:
        problems.append(("return", "refund_status", f"{status!r} is not one of {', '.join(REFUND_STATUSES)}"))
    value = _money(amount, "return", problems) if amount is not None else None
    if problems:
        raise ValidationError(problems)

    def write(session: Session) -> ReturnInfo:
        if claim_operation(session, operation_id, "returns.record_refund", actor) is not None:
            return _info(session, return_id)
        r = _lock(session, return_id)
        before = {"refund_status": r.refund_status, "refund_amount": str(r.refund_amount)}
        r.refund_status = status
        if value is not None:
            r.refund_amount = value
        r.version += 1
        session.flush()
        audit(session, actor, "return", r.id, "refund", before,
              {"number": r.number, "refund_status": status, "refund_amount": str(r.refund_amount),
               "summary": f"{status} {r.refund_amount}"}, operation_id)
        store_operation_result(session, operation_id, {"return_id": r.id})
        return _info(session, r.id)

    return db.run_write(write)
