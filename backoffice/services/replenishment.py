"""Reorder points that explain themselves, and suggested purchase orders.

The method, for each variant at each warehouse or store (figures in units per day):

**Demand.** The sales of the last ``window_days`` full days before the day of the run (default 90),
zero-filled, day 1 the oldest and day W yesterday. Each day gets the weight ``w_t = 0.5 ** ((W - t) /
half_life_days)`` (default half-life 28 days: yesterday counts 1, four weeks ago 0.5), and

    daily demand  μ = Σ w_t d_t / Σ w_t
    variability   σ = sqrt(Σ w_t (d_t - μ)² / Σ w_t)          (the weighted standard deviation)

What counts as a day's sales is the setting ``demand_basis``:

- ``"fulfilled"`` (the default): units shipped. Every stock move from a warehouse or store to a
  customer location is demand on the location it left, on the day it left (the operation's date): an
  order's shipments (``orders.fulfil`` posts them), a shop's till sales, the demo's history alike.
  Returns come back through the ledger the other way and are not negative demand.
- ``"ordered"``: units ordered, on the day the order was placed, cancelled units left out. Each line's
  units are demand where they were shipped from (its shipments) or are reserved (its reservations);
  units with neither (waiting for stock, or shipped before shipments were recorded) on the *fulfilment
  location* (a setting; by default the first active warehouse by code). Sales through the ledger that
  belong to no order (a till's: no shipment posted them, no order has the document's number) count
  as ordered when they leave.

Each unit is counted once: with "fulfilled" an order's shipped units are its moves and the order lines
are not read; with "ordered" the order lines are read and the moves that shipped them are not.

**Lead time** L: the preferred supplier item's lead time in days, else that supplier's default; when a
variant has no supplier item at all, the store default (and the suggestion says it cannot be ordered).

**Safety stock** SS = z × σ × √L, z the standard normal quantile of the service level (default 95 %:
z = 1.645). **Reorder point** ROP = ⌈μ × L + SS⌉. **Order-up-to level** S = ⌈μ × (L + R) + SS⌉, R the
review period (default 14 days: how long an order has to last until the next one). A buyer's override
(``stock_levels.reorder_point`` and ``stock_levels.order_up_to``) wins over the computed value and is
marked as such; S is never below ROP.

**Suggestion.** The inventory position is available (on hand − reserved) + in transit to the location
(shipped transfers) + on order (what open purchase orders still expect there, drafts included). The
need is S − position. A pair is suggested when the position is at or below ROP *and* the need is at
least one unit: ROP can equal S (no review period, slow sellers, an override), and a position that
already reaches S needs nothing. A pair without demand in the window is suggested only when a buyer
set its levels by hand (the reorder-point or order-up-to override). The need is then raised to the
minimum order quantity and rounded up to whole packs of the preferred supplier item: MOQ and packs
round a real need up, they never create one. Because drafts count as on order, and whatever was
drafted is at least the need, a second run right after the first finds every need covered: it never
orders twice, whatever the settings, MOQs and packs.

**Cover.** A line whose quantity lasts more than ``max_cover_days`` days at the daily demand (default
180), or that orders for a pair with no demand at all, is flagged with the reason (the MOQ, the packs,
a level set by hand), so the buyer looks at it before ordering.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from statistics import NormalDist
from typing import Any

from sqlalchemy import Date, and_, cast, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from backoffice.db import Database
from backoffice.models import (
    Location,
    LocationKind,
    Order,
    OrderLine,
    OrderReservation,
    OrderState,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderState,
    Shipment,
    ShipmentLine,
    StockLevel,
    StockMove,
    StockOperation,
    StoreSetting,
    Supplier,
    SupplierItem,
    Transfer,
    TransferLine,
    TransferState,
    Variant,
    VariantStatus,
)
from backoffice.services.base import (
    Actor,
    NotFound,
    ValidationError,
    audit,
    chunked_in,
    claim_operation,
    jsonable,
    store_operation_result,
)
from backoffice.services.documents import variant_label

SETTINGS_KEY = "replenishment"
DEMAND_BASES = {
    "fulfilled": "units shipped: moves from each warehouse or store to customers, by the day they left",
    "ordered": "units ordered: order lines by order date, where they were shipped from or are reserved",
}
_STOCKED = (LocationKind.WAREHOUSE.value, LocationKind.STORE.value)
OPEN_PO_STATES = (PurchaseOrderState.DRAFT.value, PurchaseOrderState.SENT.value, PurchaseOrderState.PARTIAL.value)


@dataclass(frozen=True)
class ReplenishmentSettings:
    window_days: int = 90
    half_life_days: float = 28.0
    service_level: float = 0.95
    review_days: int = 14
    default_lead_time_days: int = 14
    fulfilment_location_id: int | None = None   # None: the first active warehouse by code
    max_cover_days: int = 180    # a line ordering more days of demand than this is flagged
    demand_basis: str = "fulfilled"   # or "ordered" (see DEMAND_BASES and the module docstring)

    @property
    def z(self) -> float:
        return NormalDist().inv_cdf(self.service_level)

    def problems(self) -> list[tuple[str, str, str]]:
        out = []
        if not isinstance(self.window_days, int) or not 7 <= self.window_days <= 730:
            out.append(("settings", "window_days", f"{self.window_days!r} must be 7 to 730 days"))
        if not 1 <= float(self.half_life_days) <= 365:
            out.append(("settings", "half_life_days", f"{self.half_life_days!r} must be 1 to 365 days"))
        if not 0.5 <= float(self.service_level) < 1:
            out.append(("settings", "service_level", f"{self.service_level!r} must be at least 0.5 and below 1"))
        if not isinstance(self.review_days, int) or not 0 <= self.review_days <= 365:
            out.append(("settings", "review_days", f"{self.review_days!r} must be 0 to 365 days"))
        if not isinstance(self.default_lead_time_days, int) or not 0 <= self.default_lead_time_days <= 730:
            out.append(("settings", "default_lead_time_days", f"{self.default_lead_time_days!r} must be 0 to 730 days"))
        if (isinstance(self.max_cover_days, bool) or not isinstance(self.max_cover_days, int)
                or not 1 <= self.max_cover_days <= 3650):
            out.append(("settings", "max_cover_days", f"{self.max_cover_days!r} must be 1 to 3,650 days"))
        if self.demand_basis not in DEMAND_BASES:
            out.append(("settings", "demand_basis", f"{self.demand_basis!r} must be one of {', '.join(DEMAND_BASES)}"))
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReplenishmentSettings:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def get_settings(db: Database) -> ReplenishmentSettings:
    with db.read() as session:
        return _settings(session)


def _settings(session: Session) -> ReplenishmentSettings:
    row = session.scalar(select(StoreSetting).where(StoreSetting.key == SETTINGS_KEY))
    return ReplenishmentSettings.from_dict(row.value) if row else ReplenishmentSettings()


def save_settings(db: Database, actor: Actor, settings: ReplenishmentSettings, *,
                  operation_id: str | None = None) -> ReplenishmentSettings:
    """Store the settings; the same ``operation_id`` again returns what the first call saved."""
    if settings.problems():
        raise ValidationError(settings.problems())

    def store_settings(session: Session) -> ReplenishmentSettings:
        previous = claim_operation(session, operation_id, "replenishment.settings", actor)
        if previous is not None:
            return ReplenishmentSettings.from_dict(previous)
        if settings.fulfilment_location_id is not None:
            loc = session.get(Location, settings.fulfilment_location_id)
            if loc is None or loc.kind.value not in _STOCKED:
                raise ValidationError([("settings", "fulfilment_location_id", "must be a warehouse or store")])
        row = session.scalar(select(StoreSetting).where(StoreSetting.key == SETTINGS_KEY))
        before = row.value if row else None
        if row is None:
            session.add(StoreSetting(key=SETTINGS_KEY, value=asdict(settings)))
        else:
            row.value = asdict(settings)
        session.flush()
        audit(session, actor, "setting", SETTINGS_KEY, "update", before, asdict(settings), operation_id)
        store_operation_result(session, operation_id, asdict(settings))
        return settings

    return db.run_write(store_settings)


# -- the arithmetic (pure, tested on known answers) -------------------------------------------------------
def day_weights(window_days: int, half_life_days: float) -> list[float]:
    """w_t for t = 1..W (index t - 1): yesterday 1, ``half_life_days`` earlier 0.5."""
    return [0.5 ** ((window_days - t) / half_life_days) for t in range(1, window_days + 1)]


def demand_stats(daily: dict[int, float], window_days: int, half_life_days: float,
                 weights: list[float] | None = None) -> tuple[float, float]:
    """(μ, σ) of a zero-filled daily series given sparsely as {day 1..W: units}, weighted as described
    in the module docstring (``weights``: :func:`day_weights`, when computing many series)."""
    weights = weights or day_weights(window_days, half_life_days)
    total = sum(weights)
    mean = sum(weights[t - 1] * q for t, q in daily.items() if 1 <= t <= window_days) / total
    second = sum(weights[t - 1] * q * q for t, q in daily.items() if 1 <= t <= window_days) / total
    return mean, math.sqrt(max(0.0, second - mean * mean))


def reorder_levels(mean: float, sigma: float, lead_time_days: int, review_days: int, z: float) -> tuple[float, int, int]:
    """(safety stock, reorder point, order-up-to level)."""
    safety = z * sigma * math.sqrt(lead_time_days)
    # A whisker above an integer is float noise, not a unit more.
    rop = math.ceil(round(mean * lead_time_days + safety, 6))
    order_up_to = math.ceil(round(mean * (lead_time_days + review_days) + safety, 6))
    return safety, rop, max(order_up_to, rop)


def order_quantity(need: int, min_order_qty: int, pack_size: int) -> int:
    """``need`` raised to the minimum order quantity and rounded up to whole packs; no need, no order."""
    if need <= 0:
        return 0
    q = max(need, min_order_qty, 1)
    return math.ceil(q / pack_size) * pack_size


def cover_flag(quantity: int, need: int, mean: float, max_cover_days: int, window_days: int, min_order_qty: int,
               pack_size: int, manual: bool) -> tuple[float | None, str]:
    """(days of demand ``quantity`` lasts, None without demand; the reason to look twice, or "")."""
    if mean <= 0:
        why = "a level set by hand" if manual else "the order-up-to level"
        return None, (f"no sales in the last {window_days} days: {quantity:,} ordered only because of {why}")
    cover = round(quantity / mean, 1)      # the one value the view, the CLI and this text show
    if cover <= max_cover_days:
        return cover, ""
    if need / mean > max_cover_days:    # the level itself asks for that much
        reason = "the level set by hand asks for it" if manual else "the order-up-to level asks for it"
    elif min_order_qty >= quantity:
        reason = f"the minimum order quantity {min_order_qty:,} raises a need of {need:,}"
    else:
        reason = f"packs of {pack_size:,} raise a need of {need:,}"
    return cover, (f"orders {round(cover):,} days of demand (more than {max_cover_days:,}): {reason}")


# -- what the suggestion shows ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Suggestion:
    variant_id: int
    location_id: int
    sku: str
    title: str
    location: str
    on_hand: int
    reserved: int
    in_transit: int
    on_order: int              # open purchase orders with the supplier (sent, partly received)
    drafted: int               # on draft purchase orders
    daily_demand: float
    demand_sigma: float
    lead_time_days: int
    lead_time_source: str      # "supplier item", "supplier", "store default"
    safety_stock: float
    reorder_point: int
    order_up_to: int
    reorder_point_override: bool
    order_up_to_override: bool
    need: int                  # order-up-to level minus position (always at least 1 on a suggestion)
    quantity: int              # rounded to MOQ and packs
    supplier_id: int | None
    supplier: str
    supplier_item_id: int | None
    supplier_sku: str
    min_order_qty: int
    pack_size: int
    unit_cost: Decimal | None
    currency: str
    expected_on: dt.date | None
    surplus_location: str = ""  # another location holding stock above its order-up-to level
    surplus: int = 0
    problem: str = ""           # why it cannot be ordered as it is (no supplier item)
    notes: tuple[str, ...] = field(default_factory=tuple)
    cover_days: float | None = None   # days of demand the quantity lasts; None: no demand at all
    flag: str = ""                    # why this line deserves a second look (more cover than the setting)

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def position(self) -> int:
        return self.available + self.in_transit + self.on_order + self.drafted

    @property
    def key(self) -> tuple[int, int]:
        return (self.variant_id, self.location_id)

    @property
    def line_total(self) -> Decimal | None:
        return None if self.unit_cost is None else (self.unit_cost * self.quantity).quantize(Decimal("0.01"))

    @property
    def orderable(self) -> bool:
        return self.supplier_item_id is not None and not self.problem

    @property
    def flagged(self) -> bool:
        return bool(self.flag)

    def explanation(self) -> str:
        parts = [f"available {self.available} + in transit {self.in_transit} + on order {self.on_order + self.drafted}"
                 f" = {self.position} ≤ reorder point {self.reorder_point}"
                 + (" (override)" if self.reorder_point_override else ""),
                 f"demand {self.daily_demand:.2f}/day (σ {self.demand_sigma:.2f}), lead time {self.lead_time_days} d"
                 f" ({self.lead_time_source}), safety stock {self.safety_stock:.1f}",
                 f"order up to {self.order_up_to}" + (" (override)" if self.order_up_to_override else "")
                 + f": need {self.need}, order {self.quantity}"
                 + (f" (MOQ {self.min_order_qty}, packs of {self.pack_size})" if self.orderable else "")]
        return "; ".join(parts + list(self.notes) + ([self.flag] if self.flag else []))

    def to_dict(self) -> dict[str, Any]:
        d = jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})
        d.update(available=self.available, position=self.position, line_total=jsonable(self.line_total))
        return d


@dataclass
class _Pair:
    on_hand: int = 0
    reserved: int = 0
    rop_override: int | None = None
    s_override: int | None = None
    in_transit: int = 0
    on_order: int = 0
    drafted: int = 0
    mean: float = 0.0
    sigma: float = 0.0


def _day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value)[:10])


def _utc_date(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def fulfilment_location(session: Session, settings: ReplenishmentSettings) -> int | None:
    if settings.fulfilment_location_id is not None:
        return settings.fulfilment_location_id
    return session.scalar(select(Location.id).where(Location.kind == LocationKind.WAREHOUSE, Location.active.is_(True))
                          .order_by(Location.code).limit(1))


def demand(db: Database, *, as_of: dt.date | None = None, settings: ReplenishmentSettings | None = None,
           variant_ids: list[int] | None = None) -> dict[tuple[int, int], tuple[float, float]]:
    """(variant, location) -> (μ, σ) of daily demand at the active warehouses and stores, as the
    suggestions use it (pairs without demand in the window left out)."""
    with db.read() as session:
        settings = settings or _settings(session)
        as_of = as_of or dt.datetime.now(dt.timezone.utc).date()
        locations = dict(session.execute(select(Location.id, Location.code).where(
            Location.kind.in_(_STOCKED), Location.active.is_(True))).all())
        return _demand(session, settings, as_of, locations, variant_ids)


def _demand(session: Session, settings: ReplenishmentSettings, as_of: dt.date, locations: dict[int, str],
            variant_ids: list[int] | None) -> dict[tuple[int, int], tuple[float, float]]:
    W = settings.window_days
    start = as_of - dt.timedelta(days=W)
    lo, hi = _midnight(start), _midnight(as_of)
    daily: dict[tuple[int, int], dict[int, float]] = defaultdict(dict)

    def add(key: tuple[int, int], day: Any, qty: Any) -> None:
        t = (_day(day) - start).days + 1   # the first day of the window is day 1
        if 1 <= t <= W and key[1] in locations and qty:
            daily[key][t] = daily[key].get(t, 0.0) + float(qty)

    if settings.demand_basis == "ordered":
        _ordered_demand(session, settings, lo, hi, variant_ids, add)
    _shipped_demand(session, lo, hi, locations, variant_ids, add, tills_only=settings.demand_basis == "ordered")
    weights = day_weights(W, settings.half_life_days)
    return {key: demand_stats(days, W, settings.half_life_days, weights) for key, days in daily.items()}


def _shipped_demand(session: Session, lo: dt.datetime, hi: dt.datetime, locations: dict[int, str],
                    variant_ids: list[int] | None, add: Any, *, tills_only: bool) -> None:
    """Moves from a warehouse or store to a customer location in [lo, hi), by the day of their operation;
    ``tills_only``: only those of no order (no shipment posted them, no order has their document's number)."""
    customer = aliased(Location)
    day = _utc_date(session, StockOperation.created_at).label("day")
    conds = list(chunked_in(session, StockMove.variant_id, variant_ids)) if variant_ids is not None else [None]
    for cond in conds:
        stmt = (select(StockMove.variant_id, StockMove.from_location_id, day, func.sum(StockMove.quantity))
                .join(StockOperation, StockOperation.id == StockMove.operation_pk)
                .join(customer, customer.id == StockMove.to_location_id)
                .where(customer.kind == LocationKind.CUSTOMER, StockOperation.created_at >= lo,
                       StockOperation.created_at < hi, StockMove.from_location_id.in_(list(locations)))
                .group_by(StockMove.variant_id, StockMove.from_location_id, day))
        if tills_only:
            stmt = stmt.where(~exists(select(Shipment.id).where(Shipment.operation_id == StockOperation.operation_id)),
                              ~exists(select(Order.id).where(Order.number == StockOperation.document)))
        if cond is not None:
            stmt = stmt.where(cond)
        for vid, loc, d, q in session.execute(stmt):
            add((vid, loc), d, q)


def _ordered_demand(session: Session, settings: ReplenishmentSettings, lo: dt.datetime, hi: dt.datetime,
                    variant_ids: list[int] | None, add: Any) -> None:
    """Units ordered in [lo, hi) by order date, cancelled units left out: shipped ones on the location of
    their shipment, reserved ones on the reserving location, the rest on the fulfilment location. An
    order the store cancelled before it was processed is left out whole."""
    fulfil = fulfilment_location(session, settings)
    day = _utc_date(session, Order.ordered_at).label("day")
    counted = and_(Order.ordered_at >= lo, Order.ordered_at < hi,
                   ~and_(Order.state == OrderState.NEW.value, Order.status == "cancelled"))
    shipped = (select(func.coalesce(func.sum(ShipmentLine.quantity), 0))
               .where(ShipmentLine.order_line_id == OrderLine.id).scalar_subquery())
    reserved = (select(func.coalesce(func.sum(OrderReservation.quantity), 0))
                .where(OrderReservation.order_line_id == OrderLine.id).scalar_subquery())
    rest = OrderLine.quantity - OrderLine.cancelled - shipped - reserved
    conds = list(chunked_in(session, OrderLine.variant_id, variant_ids)) if variant_ids is not None else [None]
    for cond in conds:
        where = [counted] + ([cond] if cond is not None else [])
        for vid, loc, d, q in session.execute(
                select(OrderLine.variant_id, Shipment.location_id, day, func.sum(ShipmentLine.quantity))
                .join(OrderLine, OrderLine.id == ShipmentLine.order_line_id)
                .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
                .join(Order, Order.id == OrderLine.order_id).where(*where)
                .group_by(OrderLine.variant_id, Shipment.location_id, day)):
            add((vid, loc), d, q)
        for vid, loc, d, q in session.execute(
                select(OrderLine.variant_id, OrderReservation.location_id, day, func.sum(OrderReservation.quantity))
                .join(OrderLine, OrderLine.id == OrderReservation.order_line_id)
                .join(Order, Order.id == OrderLine.order_id).where(*where)
                .group_by(OrderLine.variant_id, OrderReservation.location_id, day)):
            add((vid, loc), d, q)
        if fulfil is None:
            continue
        for vid, d, q in session.execute(
                select(OrderLine.variant_id, day, func.sum(rest))
                .join(Order, Order.id == OrderLine.order_id).where(*where, rest > 0)
                .group_by(OrderLine.variant_id, day)):
            add((vid, fulfil), d, q)


def compute(session: Session, *, settings: ReplenishmentSettings | None = None, as_of: dt.date | None = None,
            location_id: int | None = None, variant_ids: list[int] | None = None) -> list[Suggestion]:
    """The suggestions of the store now (inside the caller's session): warehouses before stores, then by
    location, supplier and SKU."""
    settings = settings or _settings(session)
    as_of = as_of or dt.datetime.now(dt.timezone.utc).date()
    found_locations = session.execute(select(Location.id, Location.code, Location.kind).where(
        Location.kind.in_(_STOCKED), Location.active.is_(True))).all()
    locations = {lid: code for lid, code, _ in found_locations}
    stores = {lid for lid, _, kind in found_locations if kind is LocationKind.STORE}
    if location_id is not None and location_id not in locations:
        raise ValidationError([("suggestions", "location", f"location {location_id} is not an active warehouse or store")])
    demand = _demand(session, settings, as_of, locations, variant_ids)

    # Candidates: pairs with demand or an override (nothing else can reach its reorder point).
    overrides = select(StockLevel.variant_id).where(or_(StockLevel.reorder_point.is_not(None),
                                                        StockLevel.order_up_to.is_not(None)))
    if variant_ids is not None:
        candidates_v = set(variant_ids)
    else:
        candidates_v = {v for v, _ in demand} | set(session.scalars(overrides.distinct()))
    active = set()
    vids = sorted(candidates_v)
    for cond in chunked_in(session, Variant.id, vids):
        active.update(session.scalars(select(Variant.id).where(cond, Variant.status == VariantStatus.ACTIVE)))
    vids = sorted(active)
    pairs: dict[tuple[int, int], _Pair] = defaultdict(_Pair)
    for key, (mean, sigma) in demand.items():
        if key[0] in active:
            pairs[key].mean, pairs[key].sigma = mean, sigma
    for cond in chunked_in(session, StockLevel.variant_id, vids):
        for v, loc, oh, res, rop, s in session.execute(
                select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved,
                       StockLevel.reorder_point, StockLevel.order_up_to)
                .where(cond, StockLevel.location_id.in_(list(locations)))):
            p = pairs[(v, loc)]
            p.on_hand, p.reserved, p.rop_override, p.s_override = int(oh), int(res), rop, s
    for cond in chunked_in(session, TransferLine.variant_id, vids):
        for v, loc, q in session.execute(
                select(TransferLine.variant_id, Transfer.destination_location_id,
                       func.sum(TransferLine.shipped - TransferLine.received - TransferLine.lost - TransferLine.returned))
                .join(Transfer, Transfer.id == TransferLine.transfer_id)
                .where(cond, Transfer.state.in_([TransferState.SHIPPED.value, TransferState.PARTIAL.value]))
                .group_by(TransferLine.variant_id, Transfer.destination_location_id)):
            if (v, loc) in pairs:
                pairs[(v, loc)].in_transit = int(q or 0)
    for cond in chunked_in(session, PurchaseOrderLine.variant_id, vids):
        for v, loc, state, q in session.execute(
                select(PurchaseOrderLine.variant_id, PurchaseOrder.destination_location_id, PurchaseOrder.state,
                       func.sum(PurchaseOrderLine.quantity - PurchaseOrderLine.received))
                .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
                .where(cond, PurchaseOrder.state.in_(OPEN_PO_STATES),
                       PurchaseOrderLine.quantity > PurchaseOrderLine.received)
                .group_by(PurchaseOrderLine.variant_id, PurchaseOrder.destination_location_id, PurchaseOrder.state)):
            if (v, loc) in pairs:
                if state is PurchaseOrderState.DRAFT:
                    pairs[(v, loc)].drafted += int(q or 0)
                else:
                    pairs[(v, loc)].on_order += int(q or 0)

    # The preferred supplier item of each variant (else its cheapest, then the oldest).
    items: dict[int, Any] = {}
    for cond in chunked_in(session, SupplierItem.variant_id, vids):
        for row in session.execute(
                select(SupplierItem.variant_id, SupplierItem.id, SupplierItem.supplier_id, Supplier.name,
                       SupplierItem.supplier_sku, SupplierItem.unit_cost, SupplierItem.currency,
                       SupplierItem.min_order_qty, SupplierItem.pack_size, SupplierItem.lead_time_days,
                       Supplier.lead_time_days, Supplier.currency)
                .join(Supplier, Supplier.id == SupplierItem.supplier_id).where(cond)
                .order_by(SupplierItem.variant_id, SupplierItem.preferred.desc(), SupplierItem.unit_cost, SupplierItem.id)):
            items.setdefault(row[0], row)

    z = settings.z
    levels: dict[tuple[int, int], tuple[float, int, int, int]] = {}
    for (v, loc), p in pairs.items():
        item = items.get(v)
        lead = (int(item[9]) if item is not None and item[9] is not None else int(item[10]) if item is not None
                else settings.default_lead_time_days)
        safety, rop, s = reorder_levels(p.mean, p.sigma, lead, settings.review_days, z)
        rop = p.rop_override if p.rop_override is not None else rop
        s = max(p.s_override if p.s_override is not None else s, rop)
        levels[(v, loc)] = (safety, rop, s, lead)

    by_variant: dict[int, list[tuple[int, _Pair]]] = defaultdict(list)
    for (v, loc), p in pairs.items():
        by_variant[v].append((loc, p))
    triggered = []
    for (v, loc), p in pairs.items():
        if location_id is not None and loc != location_id:
            continue
        safety, rop, s, lead = levels[(v, loc)]
        overridden = p.rop_override is not None or p.s_override is not None
        position = p.on_hand - p.reserved + p.in_transit + p.on_order + p.drafted
        # At or below the reorder point AND short of the order-up-to level: ROP can equal S, and a
        # position at S needs nothing (asking for "at least one more" ordered again on every run).
        # No demand and no level set by hand: nothing to buy, whatever the MOQ.
        if position > rop or s - position < 1 or (p.mean <= 0 and not overridden):
            continue
        triggered.append((v, loc, p, safety, rop, s, lead, s - position))
    if not triggered:
        return []

    meta: dict[int, tuple[str, str]] = {}
    tv = sorted({t[0] for t in triggered})
    for cond in chunked_in(session, Variant.id, tv):
        for vid, sku, ptitle, vtitle in session.execute(
                select(Variant.id, Variant.sku, Product.title, Variant.title)
                .join(Product, Product.id == Variant.product_id).where(cond)):
            meta[vid] = (sku, variant_label(ptitle, vtitle))
    out = []
    for v, loc, p, safety, rop, s, lead, need in triggered:
        item = items.get(v)
        source = ("supplier item" if item is not None and item[9] is not None else "supplier" if item is not None
                  else "store default")
        # Surplus elsewhere: stock above that location's own order-up-to level.
        best_loc, best = "", 0
        for other, op in by_variant[v]:
            if other == loc:
                continue
            surplus = op.on_hand - op.reserved - levels[(v, other)][2]
            if surplus > best:
                best_loc, best = locations[other], surplus
        notes = []
        if best:
            notes.append(f"{best_loc} holds {best} above its order-up-to level: a transfer could cover "
                         f"{min(best, need)} of the {need} needed")
        problem = "" if item is not None else "no supplier item: add one before ordering"
        if item is not None and item[6] != item[11]:
            problem = (f"{item[3]} prices it in {item[6]} but orders in {item[11]}: fix the supplier item's "
                       "currency before ordering")
        quantity = order_quantity(need, item[7], item[8]) if item is not None else need
        cover, flag = cover_flag(quantity, need, p.mean, settings.max_cover_days, settings.window_days,
                                 item[7] if item is not None else 1, item[8] if item is not None else 1,
                                 p.rop_override is not None or p.s_override is not None)
        sku, title = meta.get(v, (str(v), ""))
        out.append(Suggestion(
            v, loc, sku, title, locations[loc], p.on_hand, p.reserved, p.in_transit, p.on_order, p.drafted,
            round(p.mean, 4), round(p.sigma, 4), lead, source, round(safety, 2), rop, s, p.rop_override is not None,
            p.s_override is not None, need, quantity, item[2] if item else None, item[3] if item else "",
            item[1] if item else None, item[4] if item else "", item[7] if item else 1, item[8] if item else 1,
            item[5] if item else None, item[6] if item else "", as_of + dt.timedelta(days=lead),
            best_loc, best, problem, tuple(notes), cover, flag))
    out.sort(key=lambda s_: (s_.location_id in stores, s_.location, s_.supplier, s_.sku))  # warehouses first
    return out


# -- totals and the plan shown before drafts are written ---------------------------------------------------
@dataclass(frozen=True)
class SupplierTotal:
    supplier: str            # "" for suggestions that cannot be ordered (no supplier item)
    currency: str
    lines: int
    units: int
    value: Decimal           # the priced lines' total
    flagged: int = 0


def supplier_totals(rows: list[Suggestion]) -> list[SupplierTotal]:
    """One total per supplier and currency, by supplier name."""
    acc: dict[tuple[str, str], list[Any]] = {}
    for r in rows:
        t = acc.setdefault((r.supplier, r.currency), [0, 0, Decimal("0.00"), 0])
        t[0] += 1
        t[1] += r.quantity
        t[2] += r.line_total or Decimal("0.00")
        t[3] += 1 if r.flag else 0
    return [SupplierTotal(sup, cur, n, units, value, flagged) for (sup, cur), (n, units, value, flagged)
            in sorted(acc.items(), key=lambda kv: (kv[0][0] == "", kv[0][0].lower(), kv[0][1]))]


def currency_totals(rows: list[Suggestion]) -> dict[str, Decimal]:
    """The value of the priced suggestions per currency."""
    out: dict[str, Decimal] = {}
    for r in rows:
        if r.line_total is not None:
            out[r.currency] = out.get(r.currency, Decimal("0.00")) + r.line_total
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class DraftsPlan:
    """What "Create draft orders" is about to write, for the buyer to confirm."""
    orders: int              # purchase orders touched: one per supplier and destination
    lines: int
    units: int
    value: dict[str, Decimal]
    flagged: int             # lines ordering more cover than the setting (or with no demand)
    skipped: int             # picked or listed suggestions that cannot be ordered

    def text(self) -> str:
        from backoffice.services.po_documents import format_money

        money = ", ".join(format_money(v, c) for c, v in self.value.items()) or "no value"
        out = (f"{self.orders:,} draft order(s), {self.lines:,} line(s), {self.units:,} units, {money}")
        if self.flagged:
            out += f"; {self.flagged:,} line(s) flagged for more cover than the setting"
        if self.skipped:
            out += f"; {self.skipped:,} suggestion(s) cannot be ordered and are left out"
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "lines": self.lines, "units": self.units,
                "value": {c: str(v) for c, v in self.value.items()}, "flagged": self.flagged, "skipped": self.skipped}


def plan_drafts(rows: list[Suggestion]) -> DraftsPlan:
    """The drafts ``rows`` would become (grouped as :func:`create_drafts` groups them)."""
    ok = [r for r in rows if r.orderable]
    return DraftsPlan(len({(r.supplier_id, r.location_id) for r in ok}), len(ok), sum(r.quantity for r in ok),
                      currency_totals(ok), sum(1 for r in ok if r.flag), len(rows) - len(ok))


def suggest(db: Database, *, location_id: int | None = None, as_of: dt.date | None = None,
            settings: ReplenishmentSettings | None = None) -> list[Suggestion]:
    with db.read() as session:
        return compute(session, settings=settings, as_of=as_of, location_id=location_id)


# -- suggestions → draft purchase orders -----------------------------------------------------------------
@dataclass(frozen=True)
class DraftsResult:
    orders: list[dict[str, Any]]              # {"id", "number", "supplier", "destination", "lines", "created"}
    lines: int
    covered: list[tuple[int, int]]            # keys asked for whose need was already covered: nothing added
    replayed: bool = False
    units: int = 0
    value: dict[str, str] = field(default_factory=dict)   # currency -> total of the lines added

    def to_dict(self) -> dict[str, Any]:
        return {"orders": self.orders, "lines": self.lines, "covered": [list(k) for k in self.covered],
                "replayed": self.replayed, "units": self.units, "value": dict(self.value)}


def create_drafts(db: Database, actor: Actor, *, keys: list[tuple[int, int]] | None = None,
                  location_id: int | None = None, as_of: dt.date | None = None,
                  operation_id: str | None = None) -> DraftsResult:
    """Turn suggestions into draft purchase orders, one per supplier and destination (an open draft
    for the pair is reused). ``keys`` picks (variant, location) suggestions; None takes them all.

    The suggestions are computed again inside the write transaction, after taking the purchasing lock,
    so what is already on order (drafts included) is subtracted: a second run, a double click or two
    buyers at once never order the same need twice. A picked suggestion that cannot be ordered (no
    supplier item, a currency other than the supplier's) refuses the whole batch, naming it."""
    from backoffice.services.purchase_orders import add_lines_to_draft, lock_purchasing

    def write_drafts(session: Session) -> DraftsResult:
        previous = claim_operation(session, operation_id, "purchasing.create_drafts", actor)
        if previous is not None:
            return DraftsResult(previous.get("orders", []), previous.get("lines", 0),
                                [tuple(k) for k in previous.get("covered", [])], replayed=True,
                                units=previous.get("units", 0), value=previous.get("value", {}))
        lock_purchasing(session)
        wanted = None if keys is None else {(int(v), int(loc)) for v, loc in keys}
        vids = None if wanted is None else sorted({v for v, _ in wanted})
        found = compute(session, as_of=as_of, location_id=location_id, variant_ids=vids)
        chosen = [s for s in found if wanted is None or s.key in wanted]
        covered = sorted(wanted - {s.key for s in chosen}) if wanted is not None else []
        problems = [(f"SKU {s.sku} at {s.location}", "supplier", s.problem) for s in chosen if s.problem]
        if keys is None:   # everything: the unorderable ones are reported by the listing, not an error
            chosen, problems = [s for s in chosen if s.orderable], []
        if problems:
            raise ValidationError(problems)
        groups: dict[tuple[int, int], list[Suggestion]] = defaultdict(list)
        for s in chosen:
            groups[(s.supplier_id, s.location_id)].append(s)
        orders = []
        for (supplier_id, loc), items in sorted(groups.items()):
            info, created = add_lines_to_draft(session, actor, supplier_id=supplier_id, destination_location_id=loc,
                                               lines=[(s.variant_id, s.quantity) for s in items],
                                               note="from replenishment suggestions")
            orders.append({"id": info["id"], "number": info["number"], "supplier": items[0].supplier,
                           "destination": items[0].location, "lines": len(items), "created": created})
        drafted = [s for items in groups.values() for s in items]
        result = DraftsResult(orders, sum(o["lines"] for o in orders), covered, units=sum(s.quantity for s in drafted),
                              value={c: str(v) for c, v in currency_totals(drafted).items()})
        audit(session, actor, "replenishment", "suggestions", "create_drafts", None, result.to_dict(), operation_id)
        store_operation_result(session, operation_id, result.to_dict())
        return result

    return db.run_write(write_drafts)


def set_overrides(db: Database, actor: Actor, *, variant_id: int, location_id: int, reorder_point: int | None,
                  order_up_to: int | None, operation_id: str | None = None) -> dict[str, Any]:
    """A buyer's reorder point and order-up-to level for one variant at one location (None: computed).
    Returns {"variant_id", "location_id", "reorder_point", "order_up_to", "replayed"}; the same
    ``operation_id`` again returns the first result and changes nothing."""
    problems = []
    for name, value in (("reorder_point", reorder_point), ("order_up_to", order_up_to)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            problems.append((f"variant {variant_id}", name, f"{value!r} must be a whole number, zero or more"))
    if reorder_point is not None and order_up_to is not None and order_up_to < reorder_point:
        problems.append((f"variant {variant_id}", "order_up_to",
                         f"{order_up_to} is below the reorder point {reorder_point}"))
    if problems:
        raise ValidationError(problems)

    def set_levels(session: Session) -> dict[str, Any]:

        previous = claim_operation(session, operation_id, "replenishment.override", actor)
        if previous is not None:
            return {**previous, "replayed": True}

        loc = session.get(Location, location_id)
        if loc is None or loc.kind.value not in _STOCKED:
            raise ValidationError([(f"location {location_id}", "location", "is not a warehouse or store")])
        if session.get(Variant, variant_id) is None:
            raise NotFound(f"variant {variant_id} does not exist")
        from backoffice.services.inventory import open_level

        open_level(session, variant_id, location_id)
        level = session.scalar(select(StockLevel).where(and_(StockLevel.variant_id == variant_id,
                                                             StockLevel.location_id == location_id)).with_for_update())
        before = {"reorder_point": level.reorder_point, "order_up_to": level.order_up_to}
        level.reorder_point, level.order_up_to = reorder_point, order_up_to
        session.flush()
        audit(session, actor, "stock_level", level.id, "update", before,
              {"reorder_point": reorder_point, "order_up_to": order_up_to}, operation_id)
        result = {"variant_id": variant_id, "location_id": location_id, "reorder_point": reorder_point,
                  "order_up_to": order_up_to}
        store_operation_result(session, operation_id, result)
        return {**result, "replayed": False}

    return db.run_write(set_levels)
