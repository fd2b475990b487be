"""Orders move stock: reservation at allocated locations, fulfilment through the ledger, cancellation.

The store writes an order with its lines and ``state = 'new'``. :func:`process_orders` picks new orders
up in batches and reserves their units; it is idempotent per order and safe to run concurrently with
itself and with the GUI: each batch locks the orders it takes (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
the write lock on SQLite) and moves them out of ``new`` in the same transaction, so an order is reserved
once however often and however many times at once the service runs. It also retries the units of open
orders that waited for stock.

**Allocation** (a setting, explained on each order): the preferred location of the order's sales channel
first, then the locations with the most available (on hand − reserved), splitting a line across
locations when one cannot cover it (or, with splitting off, the one location that covers it, else the
one with the most). What no location can cover waits (back-ordered) until stock arrives, or, when the
setting says ``refuse``, the whole order is refused (cancelled, nothing reserved). A product that allows
backorders reserves the rest at the first location anyway, so its available goes below zero.

**Invariants** (checked by the tests after every step): ``stock_levels.reserved`` equals the sum of
``order_reservations`` per variant and location; each line's quantity equals fulfilled + cancelled +
reserved + waiting; on hand equals the ledger; available is never negative for a product that does not
allow backorders (reservations take only what is available; stock leaves only from what is available
or from the order's own reservation).

Levels are locked in (variant, location) order after the order rows, as every other stock writer does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, or_, select, text, tuple_, update
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    INTERNAL_KINDS,
    OPEN_STATES,
    AuditEntry,
    Customer,
    Location,
    LocationKind,
    Order,
    OrderLine,
    OrderReservation,
    OrderState,
    Product,
    Return,
    ReturnLine,
    Shipment,
    ShipmentLine,
    StockLevel,
    StoreSetting,
    Variant,
    utcnow,
)
from backoffice.services.base import (
    Actor,
    ConflictError,
    NotFound,
    ValidationError,
    audit,
    chunked_in,
    claim_operation,
    dialect_insert,
    jsonable,
    provisional_number,
    store_operation_result,
)
from backoffice.services import bundles
from backoffice.services.inventory import InsufficientStock, MoveLine, post_in_transaction

SETTINGS_KEY = "orders"
ALLOCATION_RULES = {
    "channel_then_most_available": "the sales channel's preferred location first, then the locations with the most available",
    "most_available": "the locations with the most available first",
}
SHORTAGE_POLICIES = {
    "backorder": "units no location can cover wait for stock (back-ordered)",
    "refuse": "an order that cannot be fully reserved is refused (cancelled)",
}
PAYMENT_STATUSES = ("pending", "authorised", "paid", "partially_refunded", "refunded", "cancelled")
STOCKED = (LocationKind.WAREHOUSE, LocationKind.STORE)
BATCH = 500


# -- settings ---------------------------------------------------------------------------------------------
@dataclass
class OrderSettings:
    allocation: str = "channel_then_most_available"
    split: bool = True                                       # a line may be reserved at several locations
    channel_locations: dict[str, int] = field(default_factory=dict)   # sales channel -> preferred location id
    shortage: str = "backorder"                              # or "refuse"
    write_off_location_id: int | None = None                 # damaged returns; None: the first adjustment location
    overdue_days: int = 2                                    # an open order older than this is overdue

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderSettings:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        if "channel_locations" in known:
            known["channel_locations"] = {str(k): int(v) for k, v in dict(known["channel_locations"]).items()}
        return cls(**known)

    def problems(self) -> list[tuple[str, str, str]]:
        out = []
        if self.allocation not in ALLOCATION_RULES:
            out.append(("order settings", "allocation", f"{self.allocation!r} is not one of {', '.join(ALLOCATION_RULES)}"))
        if self.shortage not in SHORTAGE_POLICIES:
            out.append(("order settings", "shortage", f"{self.shortage!r} is not one of {', '.join(SHORTAGE_POLICIES)}"))
        if isinstance(self.overdue_days, bool) or not isinstance(self.overdue_days, int) or not 0 <= self.overdue_days <= 365:
            out.append(("order settings", "overdue_days", f"{self.overdue_days!r} must be a whole number of days from 0 to 365"))
        for channel in self.channel_locations:
            if not channel.strip() or len(channel) > 40:
                out.append(("order settings", "channel_locations", f"channel {channel!r} must be 1 to 40 characters"))
        return out

    def explain(self, locations: dict[int, str]) -> str:
        rule = ALLOCATION_RULES.get(self.allocation, self.allocation)
        prefs = ", ".join(f"{c} → {locations.get(loc, loc)}" for c, loc in sorted(self.channel_locations.items()))
        return (f"Allocation: {rule}; " + ("a line may be split across locations" if self.split else "one location per line")
                + (f"; preferred locations: {prefs}" if prefs and self.allocation == "channel_then_most_available" else "")
                + f"; {SHORTAGE_POLICIES.get(self.shortage, self.shortage)}.")


def settings_in(session: Session) -> OrderSettings:
    """The order settings, read in the caller's session."""
    row = session.scalar(select(StoreSetting).where(StoreSetting.key == SETTINGS_KEY))
    return OrderSettings.from_dict(row.value) if row else OrderSettings()


def get_settings(db: Database) -> OrderSettings:
    with db.read() as session:
        return settings_in(session)


def save_settings(db: Database, actor: Actor, settings: OrderSettings, *, operation_id: str | None = None) -> OrderSettings:
    if settings.problems():
        raise ValidationError(settings.problems())

    def store(session: Session) -> OrderSettings:
        previous = claim_operation(session, operation_id, "orders.settings", actor)
        if previous is not None:
            return OrderSettings.from_dict(previous)
        wanted = [loc for loc in settings.channel_locations.values()]
        if settings.write_off_location_id is not None:
            wanted.append(settings.write_off_location_id)
        found = {loc.id: loc for loc in session.scalars(select(Location).where(Location.id.in_(wanted or [0])))}
        problems = []
        for channel, loc_id in sorted(settings.channel_locations.items()):
            loc = found.get(loc_id)
            if loc is None or loc.kind not in STOCKED or not loc.active:
                problems.append(("order settings", "channel_locations",
                                 f"channel {channel}: location {loc_id} is not an active warehouse or store"))
        if settings.write_off_location_id is not None:
            loc = found.get(settings.write_off_location_id)
            if loc is None or loc.kind is not LocationKind.ADJUSTMENT:
                problems.append(("order settings", "write_off_location_id",
                                 f"location {settings.write_off_location_id} is not a write-off (adjustment) location"))
        if problems:
            raise ValidationError(problems)
        row = session.scalar(select(StoreSetting).where(StoreSetting.key == SETTINGS_KEY))
        before = row.value if row else None
        if row is None:
            session.add(StoreSetting(key=SETTINGS_KEY, value=settings.to_dict()))
        else:
            row.value = settings.to_dict()
        session.flush()
        audit(session, actor, "setting", SETTINGS_KEY, "update", before, settings.to_dict(), operation_id)
        store_operation_result(session, operation_id, settings.to_dict())
        return settings

    return db.run_write(store)


# -- levels: locked reads and reservation deltas ----------------------------------------------------------------
def lock_levels(session: Session, variant_ids: list[int]) -> dict[tuple[int, int], list[int]]:
    """(variant, location) -> [on hand, reserved] of these variants' levels, locked until the transaction
    ends, in (variant, location) order."""
    ids = sorted(set(variant_ids))
    if not ids:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(text("SELECT variant_id, location_id, on_hand, reserved FROM bo_lock_levels(CAST(:ids AS bigint[]))"),
                               {"ids": ids}).all()
    else:
        rows = [r for cond in chunked_in(session, StockLevel.variant_id, ids) for r in session.execute(
            select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved).where(cond))]
    return {(r[0], r[1]): [int(r[2]), int(r[3])] for r in rows}


def change_reserved(session: Session, deltas: dict[tuple[int, int], int]) -> None:
    """Add each delta to ``reserved`` of its (variant, location) level (created when missing). The
    database refuses a level whose reserved would go below zero."""
    changes = sorted((k, d) for k, d in deltas.items() if d)
    if not changes:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT bo_reserve(CAST(:changes AS jsonb))"),
                        {"changes": json.dumps([{"v": v, "l": loc, "d": d} for (v, loc), d in changes])})
        return
    now = utcnow()
    session.execute(dialect_insert(session)(StockLevel).on_conflict_do_nothing(index_elements=["variant_id", "location_id"]),
                    [{"variant_id": v, "location_id": loc, "on_hand": 0, "reserved": 0, "version": 1,
                      "created_at": now, "updated_at": now} for (v, loc), _ in changes])
    levels = StockLevel.__table__
    session.execute(update(levels).where(levels.c.variant_id == bindparam("v"), levels.c.location_id == bindparam("l"))
                    .values(reserved=levels.c.reserved + bindparam("d"), version=levels.c.version + 1,
                            updated_at=bindparam("now")),
                    [{"v": v, "l": loc, "d": d, "now": now} for (v, loc), d in changes])


_RESERVE_MANY = text(
    "INSERT INTO order_reservations (order_line_id, location_id, variant_id, quantity, created_at) "
    "SELECT c.l, c.loc, c.v, c.q, :now FROM unnest(CAST(:lines AS bigint[]), CAST(:locs AS bigint[]), "
    "CAST(:vs AS bigint[]), CAST(:qs AS int[])) AS c(l, loc, v, q) "
    "ON CONFLICT (order_line_id, location_id) DO UPDATE SET quantity = order_reservations.quantity + excluded.quantity")
_ORDER_UPDATES = text(
    "UPDATE orders o SET state = c.state, allocation_note = c.note, cancel_reason = coalesce(c.reason, o.cancel_reason), "
    "processed_at = coalesce(o.processed_at, :now), version = o.version + 1 "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:states AS text[]), CAST(:notes AS text[]), CAST(:reasons AS text[])) "
    "AS c(id, state, note, reason) WHERE o.id = c.id")


def _add_reservations(session: Session, rows: dict[tuple[int, int], tuple[int, int]]) -> None:
    """(line id, location id) -> (variant id, units): added to the line's reservation there."""
    if not rows:
        return
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # one statement (an executemany is one statement per row, each firing the row-audit trigger)
        items = sorted(rows.items())
        session.execute(_RESERVE_MANY, {"lines": [k[0] for k, _ in items], "locs": [k[1] for k, _ in items],
                                        "vs": [v for _, (v, _) in items], "qs": [q for _, (_, q) in items], "now": now})
        return
    ins = dialect_insert(session)(OrderReservation)
    stmt = ins.on_conflict_do_update(index_elements=["order_line_id", "location_id"],
                                     set_={"quantity": OrderReservation.quantity + ins.excluded.quantity})
    session.execute(stmt, [{"order_line_id": line, "location_id": loc, "variant_id": v, "quantity": q, "created_at": now}
                           for (line, loc), (v, q) in sorted(rows.items())])


def _take_reservations(session: Session, rows: dict[tuple[int, int], int]) -> None:
    """(line id, location id) -> units released from the line's reservation there (a row at zero goes)."""
    if not rows:
        return
    table = OrderReservation.__table__
    params = [{"line": line, "loc": loc, "q": q} for (line, loc), q in sorted(rows.items()) if q]
    if not params:
        return
    here = (table.c.order_line_id == bindparam("line")) & (table.c.location_id == bindparam("loc"))
    session.execute(delete(table).where(here, table.c.quantity <= bindparam("q")), params)
    session.execute(update(table).where(here, table.c.quantity > bindparam("q"))
                    .values(quantity=table.c.quantity - bindparam("q")), params)


# -- allocation --------------------------------------------------------------------------------------------
@dataclass
class _Line:
    id: int
    order_id: int
    variant_id: int
    quantity: int
    fulfilled: int
    cancelled: int
    reserved: dict[int, int]   # location id -> units

    @property
    def outstanding(self) -> int:
        return self.quantity - self.fulfilled - self.cancelled

    @property
    def waiting(self) -> int:
        return self.outstanding - sum(self.reserved.values())


def state_of(lines: list[_Line]) -> OrderState:
    if all(ln.cancelled == ln.quantity for ln in lines):
        return OrderState.CANCELLED
    if all(ln.outstanding == 0 for ln in lines):
        return OrderState.FULFILLED
    if any(ln.fulfilled > 0 for ln in lines):
        return OrderState.PARTIALLY_FULFILLED
    if all(ln.waiting == 0 for ln in lines):
        return OrderState.ALLOCATED
    return OrderState.OPEN


class _Allocator:
    """Allocates units of lines against locked levels, keeping the levels it has promised up to date, so
    the orders of one batch are allocated one after the other as if each committed on its own."""

    def __init__(self, session: Session, settings: OrderSettings, variant_ids: list[int], backorder: set[int]) -> None:
        self.settings = settings
        self.locations = {r.id: r.code for r in session.execute(
            select(Location.id, Location.code).where(Location.kind.in_(STOCKED), Location.active.is_(True)))}
        self.levels = lock_levels(session, variant_ids)
        self.backorder = backorder     # variants whose product allows backorders
        self.deltas: dict[tuple[int, int], int] = defaultdict(int)
        self.new_rows: dict[tuple[int, int], tuple[int, int]] = {}

    def available(self, variant_id: int, location_id: int) -> int:
        on_hand, reserved = self.levels.get((variant_id, location_id), (0, 0))
        return on_hand - reserved

    def order_of_locations(self, variant_id: int, preferred: int | None) -> list[int]:
        ranked = sorted(self.locations, key=lambda loc: (-self.available(variant_id, loc), self.locations[loc]))
        if preferred in self.locations and self.settings.allocation == "channel_then_most_available":
            ranked.remove(preferred)
            ranked.insert(0, preferred)
        return ranked

    def plan(self, line: _Line, preferred: int | None) -> tuple[list[tuple[int, int]], int, bool]:
        """([(location, units)], units left waiting, backordered beyond stock) for the line's waiting units."""
        need = line.waiting
        if need <= 0:
            return [], 0, False
        ranked = self.order_of_locations(line.variant_id, preferred)
        taken: list[tuple[int, int]] = []
        if self.settings.split:
            for loc in ranked:
                if need == 0:
                    break
                q = min(need, max(0, self.available(line.variant_id, loc)))
                if q:
                    taken.append((loc, q))
                    need -= q
        elif ranked:
            covering = [loc for loc in ranked if self.available(line.variant_id, loc) >= need]
            loc = covering[0] if covering else max(ranked, key=lambda x: (self.available(line.variant_id, x), -ranked.index(x)))
            q = min(need, max(0, self.available(line.variant_id, loc)))
            if q:
                taken.append((loc, q))
                need -= q
        beyond = False
        if need and line.variant_id in self.backorder and ranked:
            first = taken[0][0] if taken else ranked[0]
            taken = [(loc, q + (need if loc == first else 0)) for loc, q in taken] if taken else [(first, need)]
            need, beyond = 0, True
        return taken, need, beyond

    def reserve(self, line: _Line, taken: list[tuple[int, int]]) -> None:
        for loc, q in taken:
            level = self.levels.setdefault((line.variant_id, loc), [0, 0])
            level[1] += q
            self.deltas[(line.variant_id, loc)] += q
            line.reserved[loc] = line.reserved.get(loc, 0) + q
            v, had = self.new_rows.get((line.id, loc), (line.variant_id, 0))
            self.new_rows[(line.id, loc)] = (v, had + q)


def _lines_of(session: Session, order_ids: list[int]) -> dict[int, list[_Line]]:
    out: dict[int, list[_Line]] = defaultdict(list)
    lines: dict[int, _Line] = {}
    for cond in chunked_in(session, OrderLine.order_id, order_ids):
        for r in session.execute(select(OrderLine.id, OrderLine.order_id, OrderLine.variant_id, OrderLine.quantity,
                                        OrderLine.fulfilled, OrderLine.cancelled).where(cond).order_by(OrderLine.id)):
            ln = _Line(r.id, r.order_id, r.variant_id, r.quantity, r.fulfilled, r.cancelled, {})
            lines[ln.id] = ln
            out[ln.order_id].append(ln)
    for cond in chunked_in(session, OrderReservation.order_line_id, sorted(lines)):
        for line_id, loc, q in session.execute(select(OrderReservation.order_line_id, OrderReservation.location_id,
                                                      OrderReservation.quantity).where(cond)):
            lines[line_id].reserved[loc] = q
    for ls in out.values():
        ls.sort(key=lambda ln: ln.id)
    return out


def _codes(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Location.id, Location.code)).all())


def _skus(session: Session, variant_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for cond in chunked_in(session, Variant.id, sorted(set(variant_ids))):
        out.update(session.execute(select(Variant.id, Variant.sku).where(cond)).all())
    return out


@dataclass(frozen=True)
class ProcessResult:
    orders: int            # orders taken out of "new" by this run
    reserved_units: int    # units reserved by this run (new orders and waiting units of open ones)
    waiting_units: int     # units of open orders still waiting for stock after this run (all orders)
    refused: int           # orders refused (the setting "refuse" and not enough stock)
    retried: int = 0       # open orders whose waiting units were tried again


def _allocate_orders(session: Session, actor: Actor, orders: list[Any], settings: OrderSettings,
                     operation_id: str | None) -> tuple[int, int, int]:
    """Allocate the waiting units of ``orders`` (rows locked by the caller, with id, number, channel,
    state): reservations, levels, states and notes written, one audit row each. (reserved, waiting, refused)."""
    if not orders:
        return 0, 0, 0
    by_order = _lines_of(session, [o.id for o in orders])
    variant_ids = sorted({ln.variant_id for ls in by_order.values() for ln in ls})
    skus: dict[int, str] = {}
    backorder: set[int] = set()
    for cond in chunked_in(session, Variant.id, variant_ids):   # one read: SKUs and which may be back-ordered
        for vid, sku, allowed in session.execute(select(Variant.id, Variant.sku, Product.allow_backorder)
                                                 .join(Product, Product.id == Variant.product_id).where(cond)):
            skus[vid] = sku
            if allowed:
                backorder.add(vid)
    alloc = _Allocator(session, settings, variant_ids, backorder)
    codes = _codes(session)
    now = utcnow()
    reserved_units = waiting_units = refused = 0
    order_updates: list[dict[str, Any]] = []
    line_cancels: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    rule = settings.explain(codes)
    for o in orders:
        lines = by_order.get(o.id, [])
        preferred = settings.channel_locations.get(o.channel)
        parts, plans = [], []
        short = False
        for ln in lines:
            taken, left, beyond = alloc.plan(ln, preferred)
            plans.append((ln, taken))
            for loc, q in taken:   # held while the order's later lines are planned: a variant may be on two lines
                alloc.levels.setdefault((ln.variant_id, loc), [0, 0])[1] += q
            if ln.waiting <= 0:
                continue
            where = ", ".join(f"{q} at {codes[loc]}" for loc, q in taken) or "none available"
            parts.append(f"{skus[ln.variant_id]} × {ln.waiting}: {where}" + (f", {left} waiting" if left and taken else "")
                         + (" (backorder allowed: beyond stock)" if beyond else ""))
            short = short or left > 0
        for ln, taken in plans:    # released again: reserve() takes them for good below, unless refused
            for loc, q in taken:
                alloc.levels[(ln.variant_id, loc)][1] -= q
        before_state = OrderState(o.state)
        if o.status == "cancelled" and before_state is OrderState.NEW:
            # the store cancelled it before we saw it: nothing to reserve
            for ln in lines:
                line_cancels.append({"line": ln.id, "c": ln.outstanding})
            order_updates.append({"oid": o.id, "state": OrderState.CANCELLED.value, "note": "",
                                  "reason": "cancelled by the store", "now": now})
            audits.append(_audit_row(actor, o.id, "cancel", {"state": before_state.value},
                                     {"state": "cancelled", "reason": "cancelled by the store",
                                      "units": sum(ln.outstanding for ln in lines)}, operation_id))
            continue
        if short and settings.shortage == "refuse" and before_state is OrderState.NEW:
            # refused as a whole: nothing reserved, every unit cancelled
            refused += 1
            reason = "refused: not enough stock (" + "; ".join(parts) + ")"
            for ln in lines:
                line_cancels.append({"line": ln.id, "c": ln.outstanding})
            order_updates.append({"oid": o.id, "state": OrderState.CANCELLED.value, "note": (rule + " " + "; ".join(parts))[:1000],
                                  "reason": reason[:200], "now": now})
            audits.append(_audit_row(actor, o.id, "refuse", {"state": before_state.value},
                                     {"state": "cancelled", "reason": reason}, operation_id))
            continue
        for ln, taken in plans:
            alloc.reserve(ln, taken)
            reserved_units += sum(q for _, q in taken)
        state = state_of(lines) if lines else OrderState.CANCELLED
        waiting = sum(ln.waiting for ln in lines)
        waiting_units += waiting
        if before_state is OrderState.NEW or parts:
            note = (rule + (" " + "; ".join(parts) + "." if parts else ""))[:1000]
            order_updates.append({"oid": o.id, "state": state.value, "note": note, "reason": None, "now": now})
            audits.append(_audit_row(actor, o.id, "reserve" if before_state is OrderState.NEW else "reserve_waiting",
                                     {"state": before_state.value},
                                     {"state": state.value, "allocation": parts, "waiting": waiting}, operation_id))
    change_reserved(session, alloc.deltas)
    _add_reservations(session, alloc.new_rows)
    if line_cancels:
        table = OrderLine.__table__
        session.execute(update(table).where(table.c.id == bindparam("line"))
                        .values(cancelled=table.c.cancelled + bindparam("c")), line_cancels)
    postgres = session.get_bind().dialect.name == "postgresql"
    if order_updates and postgres:     # one statement each on PostgreSQL: the row-audit trigger fires per statement
        session.execute(_ORDER_UPDATES, {"ids": [u["oid"] for u in order_updates], "states": [u["state"] for u in order_updates],
                                         "notes": [u["note"] for u in order_updates],
                                         "reasons": [u["reason"] for u in order_updates], "now": now})
    elif order_updates:
        table = Order.__table__
        session.execute(
            update(table).where(table.c.id == bindparam("oid"))
            .values(state=bindparam("state"), allocation_note=bindparam("note"),
                    cancel_reason=func.coalesce(bindparam("reason"), table.c.cancel_reason),
                    processed_at=func.coalesce(table.c.processed_at, bindparam("now")), version=table.c.version + 1),
            order_updates)
    if audits and postgres:      # one statement of arrays: nothing to compile per row, one trigger firing
        session.execute(_AUDIT_MANY, {
            "at": [a["at"] for a in audits], "user_id": [a["user_id"] for a in audits],
            "username": [a["username"] for a in audits], "entity_id": [a["entity_id"] for a in audits],
            "action": [a["action"] for a in audits], "operation_id": [a["operation_id"] for a in audits],
            "before": [None if a["before"] is None else json.dumps(a["before"]) for a in audits],
            "after": [None if a["after"] is None else json.dumps(a["after"]) for a in audits]})
    elif audits:
        session.execute(AuditEntry.__table__.insert().inline(), audits)
    return reserved_units, waiting_units, refused


_AUDIT_MANY = text(
    "INSERT INTO audit_log (at, user_id, username, entity, entity_id, action, operation_id, before, after) "
    "SELECT a.at, a.user_id, a.username, 'order', a.entity_id, a.action, a.operation_id, CAST(a.before AS jsonb), "
    "CAST(a.after AS jsonb) FROM unnest(CAST(:at AS timestamptz[]), CAST(:user_id AS bigint[]), CAST(:username AS text[]), "
    "CAST(:entity_id AS text[]), CAST(:action AS text[]), CAST(:operation_id AS text[]), CAST(:before AS text[]), "
    "CAST(:after AS text[])) AS a(at, user_id, username, entity_id, action, operation_id, before, after)")


def _audit_row(actor: Actor, order_id: int, action: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
               operation_id: str | None) -> dict[str, Any]:
    return {"at": utcnow(), "user_id": actor.user_id, "username": actor.username, "entity": "order",
            "entity_id": str(order_id), "action": action, "operation_id": operation_id, "before": jsonable(before),
            "after": jsonable(after)}


def _lock_orders(session: Session, where: Any, limit: int, after_id: int = 0) -> list[Any]:
    stmt = (select(Order.id, Order.number, Order.channel, Order.state, Order.status).where(where, Order.id > after_id)
            .order_by(Order.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=Order)
    return session.execute(stmt).all()


def _waiting_exists() -> Any:
    reserved = (select(func.coalesce(func.sum(OrderReservation.quantity), 0))
                .where(OrderReservation.order_line_id == OrderLine.id).scalar_subquery())
    return exists(select(OrderLine.id).where(OrderLine.order_id == Order.id,
                                             OrderLine.quantity - OrderLine.fulfilled - OrderLine.cancelled > reserved))


def process_orders(db: Database, actor: Actor, *, batch: int = BATCH, retry_waiting: bool = True,
                   limit: int | None = None) -> ProcessResult:
    """Reserve every new order (batches of ``batch``, each its own transaction), then try the waiting
    units of open orders once more. Safe to run at any time, as often as wanted, in several processes."""
    totals = [0, 0, 0, 0, 0]

    def one_batch(session: Session) -> int:
        settings = settings_in(session)
        rows = _lock_orders(session, Order.state == OrderState.NEW.value, batch)
        if not rows:
            return 0
        r, w, f = _allocate_orders(session, actor, rows, settings, None)
        totals[0] += len(rows)
        totals[1] += r
        totals[2] += w
        totals[3] += f
        return len(rows)

    while limit is None or totals[0] < limit:
        if not db.run_write(one_batch):
            break
    if retry_waiting:
        after = 0

        def retry(session: Session) -> int:
            nonlocal after
            settings = settings_in(session)
            rows = _lock_orders(session, and_(Order.state.in_([OrderState.OPEN.value, OrderState.PARTIALLY_FULFILLED.value]),
                                              _waiting_exists()), batch, after)
            if not rows:
                return 0
            after = rows[-1].id
            r, w, _ = _allocate_orders(session, actor, rows, settings, None)
            totals[1] += r
            totals[2] += w
            totals[4] += len(rows)
            return len(rows)

        while db.run_write(retry):
            pass
    return ProcessResult(totals[0], totals[1], waiting_units(db), totals[3], totals[4])


def waiting_units(db: Database) -> int:
    """Units of open orders that wait for stock (neither reserved, shipped nor cancelled)."""
    with db.read() as session:
        outstanding = session.scalar(
            select(func.coalesce(func.sum(OrderLine.quantity - OrderLine.fulfilled - OrderLine.cancelled), 0))
            .join(Order, Order.id == OrderLine.order_id).where(Order.state.in_([s.value for s in OPEN_STATES])))
        reserved = session.scalar(select(func.coalesce(func.sum(OrderReservation.quantity), 0)))
    return int(outstanding or 0) - int(reserved or 0)


# -- placing an order (phone orders, the API, a connector) -----------------------------------------------------------
def place_order(db: Database, actor: Actor, *, lines: list[tuple[int, int, Decimal | str | float]],
                customer_id: int | None = None, number: str | None = None, channel: str = "web",
                status: str = "paid", currency: str = "EUR", operation_id: str | None = None,
                ordered_at: dt.datetime | None = None) -> int:
    """Write an order as the store would (lines: variant id, quantity, unit price) and reserve it at
    once, in one transaction. The order's id; the same ``operation_id`` again returns the first order.
    ``ordered_at``: when the store took it (now when None)."""
    problems: list[tuple[str, str, str]] = []
    clean: list[tuple[int, int, Decimal]] = []
    for i, (variant_id, quantity, price) in enumerate(lines, 1):
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            problems.append((f"line {i}", "quantity", f"{quantity!r} must be a whole number greater than zero"))
            continue
        try:
            unit = Decimal(str(price)).quantize(Decimal("0.01"))
        except ArithmeticError:
            problems.append((f"line {i}", "unit_price", f"{price!r} is not an amount"))
            continue
        if unit < 0:
            problems.append((f"line {i}", "unit_price", f"{unit} must not be negative"))
            continue
        clean.append((int(variant_id), quantity, unit))
    if not lines:
        problems.append(("order", "lines", "an order needs at least one line"))
    if status not in PAYMENT_STATUSES:
        problems.append(("order", "status", f"{status!r} is not one of {', '.join(PAYMENT_STATUSES)}"))
    if not channel or len(channel) > 40:
        problems.append(("order", "channel", "must be 1 to 40 characters"))
    if number is not None and not (0 < len(number.strip()) <= 40):
        problems.append(("order", "number", "must be 1 to 40 characters"))
    if problems:
        raise ValidationError(problems)

    def place(session: Session) -> int:
        previous = claim_operation(session, operation_id, "orders.place", actor)
        if previous is not None:
            return int(previous["order_id"])
        known = set(session.scalars(select(Variant.id).where(Variant.id.in_([v for v, _, _ in clean]))))
        missing = [(f"line {i}", "variant_id", f"variant {v} does not exist")
                   for i, (v, _, _) in enumerate(clean, 1) if v not in known]
        if missing:
            raise ValidationError(missing)
        if customer_id is not None and session.get(Customer, customer_id) is None:
            raise ValidationError([("order", "customer_id", f"customer {customer_id} does not exist")])
        if number and session.scalar(select(Order.id).where(Order.number == number.strip())) is not None:
            raise ValidationError([("order", "number", f"{number.strip()} is already used")])
        total = sum((q * p for _, q, p in clean), Decimal("0.00"))
        placed = bundles.expand_order_lines(session, clean)   # a bundle's line becomes its components' lines
        order = Order(number=number.strip() if number else provisional_number(), customer_id=customer_id,
                      ordered_at=ordered_at or utcnow(), status=status, currency=currency, total=total, state=OrderState.NEW,
                      channel=channel.strip())
        session.add(order)
        session.flush()
        if not number:
            order.number = f"BO-{order.id:07d}"
        order_lines = [OrderLine(order_id=order.id, variant_id=v, quantity=q, unit_price=p) for v, q, p, _ in placed]
        session.add_all(order_lines)
        session.flush()
        bundles.record_order_lines(session, [(ln.id, origin) for ln, (*_, origin) in zip(order_lines, placed) if origin])
        audit(session, actor, "order", order.id, "place", None,
              {"number": order.number, "channel": order.channel, "status": status,
               "lines": [{"variant_id": v, "quantity": q, "unit_price": str(p)} for v, q, p in clean]}, operation_id)
        row = session.execute(select(Order.id, Order.number, Order.channel, Order.state, Order.status)
                              .where(Order.id == order.id)).one()
        _allocate_orders(session, actor, [row], settings_in(session), operation_id)
        store_operation_result(session, operation_id, {"order_id": order.id})
        return order.id

    return db.run_write(place)


# -- reads ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reservation:
    location_id: int
    location: str
    quantity: int


@dataclass(frozen=True)
class OrderLineInfo:
    id: int
    variant_id: int
    sku: str
    barcode: str
    title: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    fulfilled: int
    cancelled: int
    returned: int
    reservations: list[Reservation]

    @property
    def reserved(self) -> int:
        return sum(r.quantity for r in self.reservations)

    @property
    def outstanding(self) -> int:
        return self.quantity - self.fulfilled - self.cancelled

    @property
    def waiting(self) -> int:
        return self.outstanding - self.reserved


@dataclass(frozen=True)
class ShipmentInfo:
    id: int
    number: str
    location_id: int
    location: str
    carrier: str
    tracking: str
    shipped_at: dt.datetime
    username: str
    lines: list[tuple[int, str, int]]   # (order line id, SKU, units)


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    username: str
    action: str
    text: str


@dataclass(frozen=True)
class OrderInfo:
    id: int
    number: str
    state: str
    status: str
    channel: str
    ordered_at: dt.datetime
    processed_at: dt.datetime | None
    customer_id: int | None
    customer_name: str
    customer_email: str
    currency: str
    total: Decimal
    allocation_note: str
    cancel_reason: str
    version: int
    overdue: bool
    lines: list[OrderLineInfo]
    shipments: list[ShipmentInfo]
    returns: list[dict[str, Any]]
    timeline: list[TimelineEntry]

    @property
    def units(self) -> int:
        return sum(ln.quantity for ln in self.lines)

    @property
    def waiting(self) -> int:
        return sum(ln.waiting for ln in self.lines)


@dataclass(frozen=True)
class OrderSummary:
    id: int
    number: str
    state: str
    status: str
    channel: str
    ordered_at: dt.datetime
    customer_id: int | None
    customer: str
    currency: str
    total: Decimal
    units: int
    fulfilled: int
    reserved: int
    overdue: bool
    cancelled_units: int

    @property
    def waiting(self) -> int:
        return max(0, self.units - self.fulfilled - self.cancelled_units - self.reserved)


def customer_label(name: str | None, email: str | None, customer_id: int | None) -> str:
    if customer_id is None:
        return "Guest"
    return (name or "").strip() or (email or "") or f"Customer {customer_id}"


def _overdue_before(settings: OrderSettings) -> dt.datetime:
    return utcnow() - dt.timedelta(days=settings.overdue_days)


@dataclass(frozen=True)
class OrderFilter:
    states: tuple[str, ...] = ()
    ordered_from: dt.date | None = None
    ordered_to: dt.date | None = None      # inclusive
    location_id: int | None = None          # reserved or shipped there
    customer_id: int | None = None
    overdue: bool = False
    search: str = ""                         # order number, customer name or e-mail


def _filtered(session: Session, flt: OrderFilter, stmt: Any) -> Any:
    if flt.states:
        bad = [s for s in flt.states if s not in {st.value for st in OrderState}]
        if bad:
            raise ValidationError([("orders", "state", f"{', '.join(bad)} is not one of {', '.join(s.value for s in OrderState)}")])
        stmt = stmt.where(Order.state.in_(list(flt.states)))
    if flt.ordered_from is not None:
        stmt = stmt.where(Order.ordered_at >= dt.datetime.combine(flt.ordered_from, dt.time(), dt.timezone.utc))
    if flt.ordered_to is not None:
        stmt = stmt.where(Order.ordered_at < dt.datetime.combine(flt.ordered_to + dt.timedelta(days=1), dt.time(), dt.timezone.utc))
    if flt.customer_id is not None:
        stmt = stmt.where(Order.customer_id == flt.customer_id)
    if flt.location_id is not None:
        stmt = stmt.where(or_(
            exists(select(OrderReservation.id).join(OrderLine, OrderLine.id == OrderReservation.order_line_id)
                   .where(OrderLine.order_id == Order.id, OrderReservation.location_id == flt.location_id)),
            exists(select(Shipment.id).where(Shipment.order_id == Order.id, Shipment.location_id == flt.location_id))))
    if flt.overdue:
        stmt = stmt.where(Order.state.in_([s.value for s in OPEN_STATES]),
                          Order.ordered_at < _overdue_before(settings_in(session)))
    term = flt.search.strip()
    if term:
        like = f"%{term.lower()}%"
        stmt = stmt.where(or_(func.lower(Order.number).like(like),
                              Order.customer_id.in_(select(Customer.id).where(or_(
                                  func.lower(Customer.email).like(like), func.lower(Customer.name).like(like))))))
    return stmt


def list_orders(db: Database, flt: OrderFilter = OrderFilter(), *, before_id: int | None = None,
                limit: int = 200) -> list[OrderSummary]:
    """Orders newest first, a keyset page at a time."""
    with db.read() as session:
        overdue_at = _overdue_before(settings_in(session))
        stmt = select(Order.id, Order.number, Order.state, Order.status, Order.channel, Order.ordered_at,
                      Order.customer_id, Order.currency, Order.total)
        stmt = _filtered(session, flt, stmt)
        if before_id is not None:
            stmt = stmt.where(Order.id < before_id)
        rows = session.execute(stmt.order_by(Order.id.desc()).limit(max(1, min(limit, 2000)))).all()
        ids = [r.id for r in rows]
        units: dict[int, tuple[int, int, int]] = {}
        reserved: dict[int, int] = {}
        people: dict[int, tuple[str, str | None]] = {}
        if ids:
            units = {oid: (int(q), int(f), int(c)) for oid, q, f, c in session.execute(
                select(OrderLine.order_id, func.sum(OrderLine.quantity), func.sum(OrderLine.fulfilled),
                       func.sum(OrderLine.cancelled)).where(OrderLine.order_id.in_(ids)).group_by(OrderLine.order_id))}
            reserved = {oid: int(q) for oid, q in session.execute(
                select(OrderLine.order_id, func.sum(OrderReservation.quantity))
                .join(OrderReservation, OrderReservation.order_line_id == OrderLine.id)
                .where(OrderLine.order_id.in_(ids)).group_by(OrderLine.order_id))}
            cids = sorted({r.customer_id for r in rows if r.customer_id is not None})
            people = {cid: (name, email) for cid, name, email in session.execute(
                select(Customer.id, Customer.name, Customer.email).where(Customer.id.in_(cids or [0])))}
    out = []
    for r in rows:
        q, f, c = units.get(r.id, (0, 0, 0))
        name, email = people.get(r.customer_id, ("", None)) if r.customer_id is not None else ("", None)
        state = OrderState(r.state)
        out.append(OrderSummary(r.id, r.number, state.value, r.status, r.channel, r.ordered_at, r.customer_id,
                                customer_label(name, email, r.customer_id), r.currency, r.total, q, f,
                                reserved.get(r.id, 0), state in OPEN_STATES and r.ordered_at < overdue_at, c))
    return out


def count_orders(db: Database, flt: OrderFilter = OrderFilter()) -> int:
    with db.read() as session:
        return int(session.scalar(_filtered(session, flt, select(func.count()).select_from(Order))) or 0)


def state_counts(db: Database) -> dict[str, int]:
    """Orders per state (the list's filter buttons)."""
    with db.read() as session:
        return {OrderState(s).value: int(n) for s, n in session.execute(
            select(Order.state, func.count()).group_by(Order.state))}


def _order_row(session: Session, order_id: int) -> Order:
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    return order


def get_order(db: Database, order_id: int) -> OrderInfo:
    with db.read() as session:
        return _info(session, order_id)


def find_order(db: Database, ref: str) -> OrderInfo:
    """By number (SO-0001234, as the store wrote it) or id."""
    ref = (ref or "").strip()
    with db.read() as session:
        oid = session.scalar(select(Order.id).where(Order.number == ref))
        if oid is None and ref.isdigit():
            oid = session.scalar(select(Order.id).where(Order.id == int(ref)))
        if oid is None:
            raise NotFound(f"no order {ref!r}")
        return _info(session, oid)


_ACTIONS = {"place": "Placed", "reserve": "Reserved", "reserve_waiting": "Reserved waiting units", "refuse": "Refused",
            "fulfil": "Shipped", "cancel": "Cancelled", "payment": "Payment status", "return_authorise": "Return authorised",
            "return_receive": "Return received", "return_cancel": "Return cancelled", "refund": "Refund recorded",
            "unreserve": "Released"}


def _timeline_text(action: str, after: dict[str, Any] | None) -> str:
    after = after or {}
    label = _ACTIONS.get(action, action.replace("_", " ").capitalize())
    if action in ("reserve", "reserve_waiting"):
        parts = after.get("allocation") or []
        return f"{label}: " + ("; ".join(parts) if parts else "nothing to reserve") + \
            (f" ({after['waiting']} waiting)" if after.get("waiting") else "")
    if action == "fulfil":
        return f"{label} {after.get('shipment', '')} from {after.get('location', '')}: {after.get('units', 0)} units" + \
            (f", {after.get('carrier')} {after.get('tracking')}".rstrip() if after.get("carrier") or after.get("tracking") else "")
    if action == "cancel":
        return f"{label} {after.get('units', 0)} units" + (f": {after['reason']}" if after.get("reason") else "")
    if action == "refuse":
        return f"{label}: {after.get('reason', '')}"
    if action == "unreserve":
        return f"{label} {after.get('units', 0)} units: {after.get('why', '')}" + \
            "".join(f"; {ln['quantity']} × {ln['sku']} at {ln['location']}" for ln in after.get("lines") or [])
    if action == "payment":
        return f"{label}: {after.get('status', '')}"
    if action.startswith("return") or action == "refund":
        return f"{label} {after.get('number', '')}" + (f": {after['summary']}" if after.get("summary") else "")
    return label


def _info(session: Session, order_id: int) -> OrderInfo:
    order = _order_row(session, order_id)
    settings = settings_in(session)
    codes = _codes(session)
    rows = session.execute(select(OrderLine, Variant.sku, Variant.barcode, Product.title, Variant.title)
                           .join(Variant, Variant.id == OrderLine.variant_id).join(Product, Product.id == Variant.product_id)
                           .where(OrderLine.order_id == order.id).order_by(OrderLine.id)).all()
    res: dict[int, list[Reservation]] = defaultdict(list)
    for line_id, loc, q in session.execute(
            select(OrderReservation.order_line_id, OrderReservation.location_id, OrderReservation.quantity)
            .join(OrderLine, OrderLine.id == OrderReservation.order_line_id).where(OrderLine.order_id == order.id)
            .order_by(OrderReservation.location_id)):
        res[line_id].append(Reservation(loc, codes.get(loc, str(loc)), q))
    lines = [OrderLineInfo(ln.id, ln.variant_id, sku, barcode or "", f"{ptitle} — {vtitle}" if vtitle else ptitle,
                           ln.quantity, ln.unit_price, ln.discount, ln.fulfilled, ln.cancelled, ln.returned, res.get(ln.id, []))
             for ln, sku, barcode, ptitle, vtitle in rows]
    skus = {ln.id: ln.sku for ln in lines}
    from backoffice.models import User
    shipped_lines: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for sid, lid, q in session.execute(select(ShipmentLine.shipment_id, ShipmentLine.order_line_id, ShipmentLine.quantity)
                                       .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
                                       .where(Shipment.order_id == order.id).order_by(ShipmentLine.id)):
        shipped_lines[sid].append((lid, skus.get(lid, ""), q))
    shipments = []
    for s, username in session.execute(select(Shipment, User.username).outerjoin(User, User.id == Shipment.user_id)
                                       .where(Shipment.order_id == order.id).order_by(Shipment.id)).all():
        shipments.append(ShipmentInfo(s.id, s.number, s.location_id, codes.get(s.location_id, ""), s.carrier, s.tracking,
                                      s.shipped_at, username or "", shipped_lines.get(s.id, [])))
    units = (select(func.coalesce(func.sum(ReturnLine.quantity), 0)).where(ReturnLine.return_id == Return.id)
             .scalar_subquery())
    returns = [{"id": r.id, "number": r.number, "state": r.state.value, "refund_amount": r.refund_amount,
                "refund_status": r.refund_status, "created_at": r.created_at, "units": int(n)}
               for r, n in session.execute(select(Return, units).where(Return.order_id == order.id).order_by(Return.id))]
    return_ids = [str(r["id"]) for r in returns]
    entries = session.execute(
        select(AuditEntry.at, AuditEntry.username, AuditEntry.action, AuditEntry.after)
        .where(or_(and_(AuditEntry.entity == "order", AuditEntry.entity_id == str(order.id)),
                   and_(AuditEntry.entity == "return", AuditEntry.entity_id.in_(return_ids or ["-"]))))
        .order_by(AuditEntry.at, AuditEntry.id)).all()
    timeline = [TimelineEntry(at, username or "", action, _timeline_text(action, after)) for at, username, action, after in entries]
    customer = session.get(Customer, order.customer_id) if order.customer_id is not None else None
    return OrderInfo(order.id, order.number, order.state.value, order.status, order.channel, order.ordered_at,
                     order.processed_at, order.customer_id,
                     customer_label(customer.name if customer else "", customer.email if customer else None, order.customer_id),
                     (customer.email or "") if customer else "", order.currency, order.total, order.allocation_note,
                     order.cancel_reason, order.version,
                     order.state in OPEN_STATES and order.ordered_at < _overdue_before(settings), lines, shipments,
                     returns, timeline)


# -- fulfilment --------------------------------------------------------------------------------------------------
def customer_location(session: Session) -> int:
    loc = session.scalar(select(Location.id).where(Location.kind == LocationKind.CUSTOMER, Location.active.is_(True))
                         .order_by(Location.code).limit(1))
    if loc is None:
        raise ValidationError([("store", "locations", "no active location of kind customer: add one (store locations add "
                                "CUSTOMERS 'Customers' --kind customer) so shipped goods have somewhere to go")])
    return loc


def _lock_order(session: Session, order_id: int, expected_version: int | None = None) -> Order:
    order = session.scalar(select(Order).where(Order.id == int(order_id)).with_for_update())
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    if expected_version is not None and order.version != expected_version:
        raise ConflictError("order", order.id, order.number, expected_version, order.version, {"state": order.state.value})
    return order


def _shipment_of(session: Session, operation_id: str) -> int | None:
    return session.scalar(select(Shipment.order_id).where(Shipment.operation_id == operation_id))


def _check_shipment_text(carrier: str, tracking: str, operation_id: str) -> tuple[str, str]:
    if not operation_id or len(operation_id) > 64:
        raise ValidationError([("shipment", "operation_id", "must be 1 to 64 characters")])
    carrier, tracking = " ".join((carrier or "").split()), " ".join((tracking or "").split())
    if len(carrier) > 60 or len(tracking) > 100:
        raise ValidationError([("shipment", "carrier" if len(carrier) > 60 else "tracking", "is too long")])
    return carrier, tracking


def _ship_locations(session: Session, location_id: int, number: str) -> tuple[Location, int]:
    """The location shipped from (an active warehouse or store) and the customer location, in one read."""
    rows = session.scalars(select(Location).where(or_(
        Location.id == int(location_id), and_(Location.kind == LocationKind.CUSTOMER, Location.active.is_(True))))
        .order_by(Location.code)).all()
    loc = next((r for r in rows if r.id == int(location_id)), None)
    if loc is None or loc.kind not in INTERNAL_KINDS or not loc.active:
        raise ValidationError([(number, "location", f"location {location_id} is not an active warehouse or store")])
    to = next((r.id for r in rows if r.kind is LocationKind.CUSTOMER and r.active), None)
    return loc, to if to is not None else customer_location(session)


def _order_lines(session: Session, order_id: int) -> tuple[dict[int, _Line], dict[int, str]]:
    """An order's lines with their reservations, and the SKUs of their variants, in one read."""
    lines: dict[int, _Line] = {}
    skus: dict[int, str] = {}
    for r in session.execute(select(OrderLine.id, OrderLine.variant_id, OrderLine.quantity, OrderLine.fulfilled,
                                    OrderLine.cancelled, Variant.sku, OrderReservation.location_id, OrderReservation.quantity)
                             .join(Variant, Variant.id == OrderLine.variant_id)
                             .outerjoin(OrderReservation, OrderReservation.order_line_id == OrderLine.id)
                             .where(OrderLine.order_id == order_id).order_by(OrderLine.id)):
        ln = lines.get(r[0])
        if ln is None:
            ln = lines[r[0]] = _Line(r[0], order_id, r[1], r[2], r[3], r[4], {})
            skus[r[1]] = r[5]
        if r[6] is not None:
            ln.reserved[r[6]] = r[7]
    return lines, skus


def _take_exact(session: Session, lines: dict[int, _Line], taken: dict[tuple[int, int], int]) -> None:
    """Release reservations whose held units are known (read under the order's lock): rows taken whole go
    in one DELETE, the rest shrink in one UPDATE."""
    table = OrderReservation.__table__
    whole = [(lid, loc) for (lid, loc), q in sorted(taken.items()) if q and q >= lines[lid].reserved.get(loc, 0)]
    part = {(lid, loc): q for (lid, loc), q in sorted(taken.items()) if q and q < lines[lid].reserved.get(loc, 0)}
    if whole:
        session.execute(delete(table).where(tuple_(table.c.order_line_id, table.c.location_id).in_(whole)))
    if part:
        _take_reservations(session, part)


def _wanted_units(number: str, lines: dict[int, _Line], quantities: dict[int, int] | None, default: dict[int, int],
                  left: str, nothing: str) -> dict[int, int]:
    """Units per order line asked of a shipment or a cancellation (``default`` when not given), each a
    whole number within what the line has outstanding; every problem by line, or ``nothing`` when no unit
    is asked."""
    wanted = default if quantities is None else {int(k): v for k, v in quantities.items()}
    problems = []
    for lid, q in sorted(wanted.items()):
        if lid not in lines:
            problems.append((number, f"line {lid}", "is not a line of this order"))
        elif isinstance(q, bool) or not isinstance(q, int) or q < 0:
            problems.append((number, f"line {lid}", f"{q!r} must be a whole number of units, zero or more"))
        elif q > lines[lid].outstanding:
            problems.append((number, f"line {lid}", f"{q} units asked, {lines[lid].outstanding} {left}"))
    wanted = {lid: q for lid, q in wanted.items() if isinstance(q, int) and q > 0}
    if not problems and not wanted:
        problems.append((number, "lines", nothing))
    if problems:
        raise ValidationError(problems)
    return wanted


def _ship(session: Session, actor: Actor, order_id: int, location_id: int, quantities: dict[int, int] | None,
          carrier: str, tracking: str, operation_id: str,
          places: tuple[Location, int] | None = None) -> int | None:
    """One shipment of ``order_id`` from ``location_id`` in the caller's transaction: the units shipped,
    or None when ``operation_id`` had already shipped (nothing done). ``places``: the location and the
    customer location when the caller has read them already."""
    shipped = select(Shipment.order_id).where(Shipment.operation_id == operation_id).scalar_subquery()
    row = session.execute(select(Order, shipped).where(Order.id == int(order_id)).with_for_update(of=Order)).first()
    if row is not None and row[1] is not None:       # this operation id shipped already: a retry
        return None
    if row is None:
        if _shipment_of(session, operation_id) is not None:
            return None
        raise NotFound(f"order {order_id} does not exist")
    order = row[0]
    if order.state not in OPEN_STATES or order.state is OrderState.NEW:
        raise ValidationError([(order.number, "state", f"is {order.state.value.replace('_', ' ')}: "
                                + ("process it first (orders process)" if order.state is OrderState.NEW else "nothing to ship"))])
    loc, to = places if places is not None else _ship_locations(session, location_id, order.number)
    lines, skus = _order_lines(session, order.id)
    wanted = _wanted_units(order.number, lines, quantities,
                           {lid: ln.reserved.get(loc.id, 0) for lid, ln in lines.items()}, "left to ship",
                           f"nothing to ship from {loc.code}" + (": nothing is reserved there" if quantities is None else ""))
    elsewhere: dict[tuple[int, int], int] = defaultdict(int)   # reservations at other locations these units free
    taken: dict[tuple[int, int], int] = {}
    moves = []
    for lid, q in sorted(wanted.items()):
        ln = lines[lid]
        here = min(q, ln.reserved.get(loc.id, 0))
        if here:
            taken[(lid, loc.id)] = here
        rest_elsewhere = (q - here) - min(q - here, ln.waiting)
        for other, held in sorted(ln.reserved.items()):         # what was held for these units elsewhere
            if other == loc.id or rest_elsewhere == 0:
                continue
            q2 = min(held, rest_elsewhere)
            taken[(lid, other)] = q2
            elsewhere[(ln.variant_id, other)] -= q2
            rest_elsewhere -= q2
        # the units beyond this line's reservation here must be available here (promised to no order)
        moves.append(MoveLine(ln.variant_id, loc.id, to, q, release=here))
    change_reserved(session, elsewhere)
    result = post_in_transaction(session, actor, operation_id, "sale", moves, order.number,
                                 f"shipment for {order.number}", keep_reserved=True)
    if not result.applied:
        raise ValidationError([(order.number, "operation_id", f"{operation_id} was already used for another stock operation")])
    _take_exact(session, lines, taken)
    number = _insert_shipment(session, actor, order.id, loc.id, carrier, tracking, operation_id,
                              sorted(wanted.items()))
    table = OrderLine.__table__
    session.execute(update(table).where(table.c.id.in_(sorted(wanted)))
                    .values(fulfilled=table.c.fulfilled + case(wanted, value=table.c.id)))
    for lid, q in wanted.items():
        lines[lid].fulfilled += q
    for (lid, other), q2 in taken.items():
        lines[lid].reserved[other] -= q2
    before = order.state.value
    order.state = state_of(list(lines.values()))
    order.version += 1
    session.flush()
    audit(session, actor, "order", order.id, "fulfil", {"state": before},
          {"state": order.state.value, "shipment": number, "location": loc.code,
           "units": sum(wanted.values()), "carrier": carrier, "tracking": tracking,
           "lines": [{"sku": skus[lines[lid].variant_id], "quantity": q} for lid, q in sorted(wanted.items())]},
          operation_id)
    return sum(wanted.values())


_INSERT_SHIPMENT = text(
    "INSERT INTO shipments (id, number, order_id, location_id, carrier, tracking, operation_id, user_id, shipped_at) "
    "SELECT n, 'SH-' || lpad(n::text, 7, '0'), :order_id, :location_id, :carrier, :tracking, :operation_id, :user_id, :now "
    "FROM nextval(pg_get_serial_sequence('shipments', 'id')) AS n RETURNING id, number")


def _insert_shipment(session: Session, actor: Actor, order_id: int, location_id: int, carrier: str, tracking: str,
                     operation_id: str, lines: list[tuple[int, int]]) -> str:
    """The shipment row (numbered SH-… from its id) and its lines; returns its number."""
    values = {"order_id": order_id, "location_id": location_id, "carrier": carrier, "tracking": tracking,
              "operation_id": operation_id, "user_id": actor.user_id, "now": utcnow()}
    if session.get_bind().dialect.name == "postgresql":
        shipment_id, number = session.execute(_INSERT_SHIPMENT, values).one()   # one statement, numbered as inserted
    else:
        table = Shipment.__table__
        shipment_id = session.execute(insert(table).values(number=provisional_number(), shipped_at=values.pop("now"),
                                                           **values).returning(table.c.id)).scalar_one()
        number = f"SH-{shipment_id:07d}"
        session.execute(update(table).where(table.c.id == shipment_id).values(number=number))
    session.execute(insert(ShipmentLine.__table__).values(
        [{"shipment_id": shipment_id, "order_line_id": lid, "quantity": q} for lid, q in lines]))
    return number


def fulfil(db: Database, actor: Actor, order_id: int, *, location_id: int, quantities: dict[int, int] | None = None,
           carrier: str = "", tracking: str = "", operation_id: str) -> OrderInfo:
    """Ship units of an order from one location (order line id -> units; None: everything reserved
    there): one shipment, posted through the ledger (location → customer), the reservation released.
    Units beyond the line's reservation there must be available there. The same ``operation_id``
    again ships nothing and returns the order."""
    carrier, tracking = _check_shipment_text(carrier, tracking, operation_id)

    def ship(session: Session) -> OrderInfo:
        _ship(session, actor, order_id, location_id, quantities, carrier, tracking, operation_id)
        return _info(session, order_id)

    return db.run_write(ship)


@dataclass(frozen=True)
class FulfilManyResult:
    shipped: int                                   # shipments made by this call
    units: int
    skipped: int                                   # already shipped with the same operation id (a retry)
    failed: list[tuple[str, str]] = field(default_factory=list)   # (order number, why), nothing shipped for them
    order_ids: list[int] = field(default_factory=list)           # the orders shipped by this call


def fulfil_many(db: Database, actor: Actor, *, location_id: int, order_ids: list[int] | None = None,
                carrier: str = "", operation_id: str, limit: int | None = None,
                progress: Any = None, cancel: Any = None) -> FulfilManyResult:
    """Ship everything reserved at ``location_id`` for many orders (``order_ids``, or every open order
    holding units there, oldest first): one transaction per order, so one that cannot ship (shipped or
    cancelled meanwhile) is reported and the others go on. Each order's shipment gets the operation id
    ``<operation_id>:<order id>`` (a long ``operation_id`` shortened to a hash of it), so running the same
    call again ships nothing twice."""
    carrier, _ = _check_shipment_text(carrier, "", operation_id)
    # each order's shipment: "<base>:<order id>" within 64 characters; a long id is shortened the same way each time
    base = operation_id if len(operation_id) <= 40 else hashlib.sha256(operation_id.encode()).hexdigest()[:40]
    if order_ids is None:
        with db.read() as session:
            order_ids = list(session.scalars(
                select(Order.id).where(Order.state.in_([s.value for s in OPEN_STATES if s is not OrderState.NEW]),
                                       exists().where(OrderLine.order_id == Order.id,
                                                      OrderReservation.order_line_id == OrderLine.id,
                                                      OrderReservation.location_id == int(location_id)))
                .order_by(Order.ordered_at, Order.id).limit(limit)))
    shipped = units = skipped = 0
    failed: list[tuple[str, str]] = []
    done_ids: list[int] = []
    with db.read() as session:     # read once for the whole wave (a location archived meanwhile: the post refuses)
        places = _ship_locations(session, location_id, "shipment")
    for i, oid in enumerate(order_ids):
        if cancel is not None and cancel():
            break
        op_id = f"{base}:{oid}"
        try:
            done = db.run_write(lambda session, oid=oid, op_id=op_id:    # type: ignore[misc]
                                _ship(session, actor, oid, location_id, None, carrier, "", op_id, places))
        except (ValidationError, NotFound, InsufficientStock) as exc:
            with db.read() as session:
                number = session.scalar(select(Order.number).where(Order.id == oid)) or str(oid)
            failed.append((number, str(exc)))
        else:
            if done is None:
                skipped += 1
            else:
                shipped, units = shipped + 1, units + done
                done_ids.append(oid)
        if progress is not None:
            progress(i + 1, len(order_ids))
    return FulfilManyResult(shipped, units, skipped, failed, done_ids)


def cancel(db: Database, actor: Actor, order_id: int, *, reason: str = "", quantities: dict[int, int] | None = None,
           operation_id: str | None = None, expected_version: int | None = None) -> OrderInfo:
    """Cancel what is not shipped (order line id -> units; None: everything left): waiting units first,
    then reserved ones, whose reservations are released."""
    reason = " ".join((reason or "").split())
    if len(reason) > 200:
        raise ValidationError([("order", "reason", f"is {len(reason)} characters long; at most 200")])

    def cancel_once(session: Session) -> OrderInfo:
        if claim_operation(session, operation_id, "orders.cancel", actor) is not None:
            return _info(session, order_id)
        order = _lock_order(session, order_id, expected_version)
        if order.state not in OPEN_STATES:
            raise ValidationError([(order.number, "state", f"is {order.state.value.replace('_', ' ')}: nothing left to cancel")])
        lines = {ln.id: ln for ln in _lines_of(session, [order.id]).get(order.id, [])}
        wanted = _wanted_units(order.number, lines, quantities, {lid: ln.outstanding for lid, ln in lines.items()},
                               "not shipped", "nothing to cancel")
        lock_levels(session, [lines[lid].variant_id for lid in wanted])
        deltas: dict[tuple[int, int], int] = defaultdict(int)
        taken: dict[tuple[int, int], int] = {}
        for lid, q in wanted.items():
            ln = lines[lid]
            rest = q - min(q, ln.waiting)
            for loc, held in sorted(ln.reserved.items(), key=lambda kv: -kv[1]):
                if rest == 0:
                    break
                q2 = min(held, rest)
                taken[(lid, loc)] = q2
                deltas[(ln.variant_id, loc)] -= q2
                ln.reserved[loc] -= q2
                rest -= q2
            ln.cancelled += q
        change_reserved(session, deltas)
        _take_reservations(session, taken)
        table = OrderLine.__table__
        session.execute(update(table).where(table.c.id == bindparam("line")).values(cancelled=table.c.cancelled + bindparam("q")),
                        [{"line": lid, "q": q} for lid, q in sorted(wanted.items())])
        before = order.state.value
        order.state = state_of(list(lines.values()))
        if reason:
            order.cancel_reason = reason
        order.version += 1
        session.flush()
        audit(session, actor, "order", order.id, "cancel", {"state": before},
              {"state": order.state.value, "units": sum(wanted.values()), "reason": reason,
               "released": sum(taken.values())}, operation_id)
        store_operation_result(session, operation_id, {"order_id": order.id})
        return _info(session, order.id)

    return db.run_write(cancel_once)


def record_payment(db: Database, actor: Actor, order_id: int, *, status: str, operation_id: str | None = None) -> OrderInfo:
    """The payment status as the store reports it (the back-office records it; the money stays with the
    store's payment gateway). A store-reported ``cancelled`` does not cancel the order by itself."""
    if status not in PAYMENT_STATUSES:
        raise ValidationError([("order", "status", f"{status!r} is not one of {', '.join(PAYMENT_STATUSES)}")])

    def record(session: Session) -> OrderInfo:
        if claim_operation(session, operation_id, "orders.record_payment", actor) is not None:
            return _info(session, order_id)
        order = _lock_order(session, order_id)
        if order.status != status:
            before = order.status
            order.status = status
            order.version += 1
            session.flush()
            audit(session, actor, "order", order.id, "payment", {"status": before}, {"status": status}, operation_id)
        store_operation_result(session, operation_id, {"order_id": order.id})
        return _info(session, order.id)

    return db.run_write(record)


def set_backorders(db: Database, actor: Actor, product_ids: list[int], *, allowed: bool,
                   operation_id: str | None = None) -> int:
    """Let orders for these products reserve beyond stock (or stop it). The number of products changed."""
    ids = sorted({int(p) for p in product_ids})
    if not ids:
        raise ValidationError([("products", "product_ids", "name at least one product")])

    def set_flag(session: Session) -> int:
        previous = claim_operation(session, operation_id, "orders.set_backorders", actor)
        if previous is not None:
            return int(previous["changed"])
        found = dict(session.execute(select(Product.id, Product.allow_backorder).where(Product.id.in_(ids))).all())
        missing = [i for i in ids if i not in found]
        if missing:
            raise ValidationError([("products", "product_ids", f"product {', '.join(map(str, missing[:10]))} does not exist")])
        changed = [i for i in ids if found[i] != allowed]
        if changed:
            table = Product.__table__
            session.execute(update(table).where(table.c.id.in_(changed))
                            .values(allow_backorder=allowed, version=table.c.version + 1, updated_at=utcnow()))
            for pid in changed:
                audit(session, actor, "product", pid, "update", {"allow_backorder": not allowed},
                      {"allow_backorder": allowed}, operation_id)
        store_operation_result(session, operation_id, {"changed": len(changed)})
        return len(changed)

    return db.run_write(set_flag)


# -- checks (the tests' invariants, and `orders check`) ------------------------------------------------------------
def release_beyond_on_hand(session: Session, actor: Actor, keys: set[tuple[int, int]], *, why: str,
                           operation_id: str | None = None) -> int:
    """After stock left a shelf without an order (a count found less, damage, a loss): where a level of
    ``keys`` (variant, location) now holds fewer units than orders hold there, the newest orders' reservations
    there are released until what is reserved is on the shelf (products that allow backorders keep theirs).
    The released units wait again (the next ``orders process`` looks elsewhere); each order touched is
    audited with ``why``. Runs in the caller's transaction, after the levels were locked and written.
    Returns the units released."""
    if not keys:
        return 0
    variant_ids = sorted({v for v, _ in keys})
    short: dict[tuple[int, int], int] = {}
    for cond in chunked_in(session, StockLevel.variant_id, variant_ids):
        for v, loc, on_hand, reserved in session.execute(
                select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved)
                .join(Variant, Variant.id == StockLevel.variant_id).join(Product, Product.id == Variant.product_id)
                .where(cond, Product.allow_backorder.is_(False),
                       StockLevel.reserved > case((StockLevel.on_hand > 0, StockLevel.on_hand), else_=0))):
            if (v, loc) in keys:
                short[(v, loc)] = int(reserved) - max(0, int(on_hand))
    if not short:
        return 0
    held = session.execute(
        select(OrderReservation.order_line_id, OrderReservation.location_id, OrderReservation.variant_id,
               OrderReservation.quantity, OrderLine.order_id)
        .join(OrderLine, OrderLine.id == OrderReservation.order_line_id).join(Order, Order.id == OrderLine.order_id)
        .where(or_(*[and_(OrderReservation.variant_id == v, OrderReservation.location_id == loc) for v, loc in short]))
        .order_by(Order.ordered_at.desc(), Order.id.desc(), OrderReservation.order_line_id.desc())).all()
    taken: dict[tuple[int, int], int] = {}
    deltas: dict[tuple[int, int], int] = defaultdict(int)
    touched: dict[int, list[tuple[int, int, int]]] = defaultdict(list)   # order -> (variant, location, units)
    for line_id, loc, v, q, order_id in held:
        left = short[(v, loc)] + deltas[(v, loc)]
        if left <= 0:
            continue
        q2 = min(int(q), left)
        taken[(line_id, loc)] = q2
        deltas[(v, loc)] -= q2
        touched[order_id].append((v, loc, q2))
    if not taken:
        return 0
    locked = {o.id: o for o in session.scalars(select(Order).where(Order.id.in_(sorted(touched)))
                                                  .order_by(Order.id).with_for_update())}
    change_reserved(session, deltas)
    _take_reservations(session, taken)
    skus, codes = _skus(session, [v for v, _ in deltas]), _codes(session)
    for order_id, lines in _lines_of(session, sorted(touched)).items():
        order = locked[order_id]
        before = order.state.value
        order.state = state_of(lines)
        order.version += 1
        session.flush()
        audit(session, actor, "order", order.id, "unreserve", {"state": before},
              {"state": order.state.value, "why": why, "units": sum(q for _, _, q in touched[order_id]),
               "lines": [{"sku": skus[v], "location": codes.get(loc, str(loc)), "quantity": q}
                         for v, loc, q in touched[order_id]]}, operation_id)
    return sum(taken.values())


def reservation_mismatches(db: Database) -> list[dict[str, int]]:
    """Every (variant, location) whose ``reserved`` differs from the sum of open reservations; empty when sound."""
    with db.read() as session:
        sums = (select(OrderReservation.variant_id.label("v"), OrderReservation.location_id.label("loc"),
                       func.sum(OrderReservation.quantity).label("q"))
                .group_by(OrderReservation.variant_id, OrderReservation.location_id).subquery())
        rows = session.execute(
            select(StockLevel.variant_id, StockLevel.location_id, StockLevel.reserved, func.coalesce(sums.c.q, 0))
            .outerjoin(sums, and_(sums.c.v == StockLevel.variant_id, sums.c.loc == StockLevel.location_id))
            .where(StockLevel.reserved != func.coalesce(sums.c.q, 0))).all()
        orphans = session.execute(
            select(sums.c.v, sums.c.loc, sums.c.q).outerjoin(
                StockLevel, and_(sums.c.v == StockLevel.variant_id, sums.c.loc == StockLevel.location_id))
            .where(StockLevel.id.is_(None))).all()
        lines = session.execute(
            select(OrderLine.id, OrderLine.quantity, OrderLine.fulfilled, OrderLine.cancelled,
                   func.coalesce(func.sum(OrderReservation.quantity), 0))
            .outerjoin(OrderReservation, OrderReservation.order_line_id == OrderLine.id)
            .group_by(OrderLine.id, OrderLine.quantity, OrderLine.fulfilled, OrderLine.cancelled)
            .having(OrderLine.quantity - OrderLine.fulfilled - OrderLine.cancelled
                    < func.coalesce(func.sum(OrderReservation.quantity), 0))).all()
    return ([{"variant_id": v, "location_id": loc, "reserved": r, "reservations": int(q)} for v, loc, r, q in rows]
            + [{"variant_id": v, "location_id": loc, "reserved": 0, "reservations": int(q)} for v, loc, q in orphans]
            + [{"order_line_id": i, "outstanding": q - f - c, "reservations": int(r)} for i, q, f, c, r in lines])


def reserved_at(db: Database, location_id: int) -> list[tuple[int, int]]:
    """What :func:`fulfil_many` with no ``order_ids`` would ship from ``location_id``: the open orders
    holding units there, oldest first, each as (order id, units reserved there)."""
    with db.read() as session:
        rows = session.execute(
            select(Order.id, func.sum(OrderReservation.quantity))
            .join(OrderLine, OrderLine.order_id == Order.id)
            .join(OrderReservation, OrderReservation.order_line_id == OrderLine.id)
            .where(OrderReservation.location_id == int(location_id),
                   Order.state.in_([s.value for s in OPEN_STATES if s is not OrderState.NEW]))
            .group_by(Order.id, Order.ordered_at)
            .order_by(Order.ordered_at, Order.id))
        return [(int(order_id), int(units)) for order_id, units in rows]
