"""Reading stock: levels per variant and location, and the ledger history. No writes here.

Built like the catalog grid's reads: keyset pages (``after`` the last row's key), never OFFSET, so the
Inventory view and ``backoffice stock levels`` stay fast on 1M variants x 10 locations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, tuple_
from sqlalchemy.orm import aliased

from backoffice.db import Database
from backoffice.models import (
    Category,
    Location,
    LocationKind,
    Product,
    StockLevel,
    StockMove,
    StockOperation,
    Transfer,
    TransferLine,
    TransferState,
    User,
    Variant,
)
from backoffice.services.alerts import effective_threshold
from backoffice.services.purchase_orders import incoming_subquery


@dataclass(frozen=True)
class StockFilter:
    text: str = ""                   # SKU, barcode (exact) or title
    location_id: int | None = None
    category_id: int | None = None   # with its subcategories
    low_only: bool = False           # at or below the threshold
    zero_only: bool = False          # nothing available
    variant_id: int | None = None


@dataclass(frozen=True)
class StockRow:
    variant_id: int
    location_id: int
    sku: str
    barcode: str | None
    title: str
    location: str
    on_hand: int
    reserved: int
    in_transit: int          # on its way here on shipped transfers
    threshold: int | None
    reorder_point: int | None
    incoming: int = 0        # still expected here on sent or partly received purchase orders

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    @property
    def key(self) -> tuple[int, int]:
        return (self.variant_id, self.location_id)

    @property
    def low(self) -> bool:
        return self.threshold is not None and self.available <= self.threshold


def _in_transit_to():  # type: ignore[no-untyped-def]
    return (select(TransferLine.variant_id.label("variant_id"), Transfer.destination_location_id.label("location_id"),
                   func.sum(TransferLine.shipped - TransferLine.received - TransferLine.lost - TransferLine.returned)
                   .label("qty"))
            .join(Transfer, Transfer.id == TransferLine.transfer_id)
            .where(Transfer.state.in_([TransferState.SHIPPED.value, TransferState.PARTIAL.value]))
            .group_by(TransferLine.variant_id, Transfer.destination_location_id).subquery("in_transit"))


def _query(f: StockFilter) -> Select:
    transit = _in_transit_to()
    incoming = incoming_subquery()
    threshold = effective_threshold(StockLevel.low_stock_threshold, StockLevel.location_id, Product)
    stmt = (select(StockLevel.variant_id, StockLevel.location_id, Variant.sku, Variant.barcode, Product.title,
                   Variant.title, Location.code, StockLevel.on_hand, StockLevel.reserved,
                   func.coalesce(transit.c.qty, 0), threshold.label("threshold"), StockLevel.reorder_point,
                   func.coalesce(incoming.c.qty, 0))
            .join(Variant, Variant.id == StockLevel.variant_id).join(Product, Product.id == Variant.product_id)
            .join(Location, Location.id == StockLevel.location_id)
            .outerjoin(transit, and_(transit.c.variant_id == StockLevel.variant_id,
                                     transit.c.location_id == StockLevel.location_id))
            .outerjoin(incoming, and_(incoming.c.variant_id == StockLevel.variant_id,
                                      incoming.c.location_id == StockLevel.location_id))
            .where(Location.kind.in_([LocationKind.WAREHOUSE.value, LocationKind.STORE.value])))
    text = f.text.strip()
    if text:
        needle = f"%{text.lower()}%"
        stmt = stmt.where(or_(Variant.barcode == text, func.lower(Variant.sku).like(needle),
                              func.lower(Product.title).like(needle)))
    if f.location_id is not None:
        stmt = stmt.where(StockLevel.location_id == f.location_id)
    if f.variant_id is not None:
        stmt = stmt.where(StockLevel.variant_id == f.variant_id)
    if f.category_id is not None:
        c = aliased(Category)
        sub = select(c.path).where(c.id == f.category_id).scalar_subquery()
        stmt = stmt.where(Product.category_id.in_(select(Category.id).where(Category.path.like(sub + "%"))))
    if f.zero_only:
        stmt = stmt.where(StockLevel.on_hand - StockLevel.reserved <= 0)
    if f.low_only:
        stmt = stmt.where(threshold.is_not(None), StockLevel.on_hand - StockLevel.reserved <= threshold)
    return stmt


def _row(r: Any) -> StockRow:
    return StockRow(r[0], r[1], r[2], r[3], f"{r[4]} · {r[5]}" if r[5] else r[4], r[6], int(r[7]), int(r[8]),
                    int(r[9] or 0), None if r[10] is None else int(r[10]), r[11], int(r[12] or 0))


def stock_page(db: Database, f: StockFilter = StockFilter(), *, after: tuple[int, int] | None = None,
               limit: int = 200) -> list[StockRow]:
    """The next page in (variant, location) order after the key ``after``."""
    stmt = _query(f)
    if after is not None:
        stmt = stmt.where(tuple_(StockLevel.variant_id, StockLevel.location_id) > tuple_(*after))
    with db.read() as session:
        return [_row(r) for r in session.execute(stmt.order_by(StockLevel.variant_id, StockLevel.location_id).limit(limit))]


def stock_count(db: Database, f: StockFilter = StockFilter()) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(_query(f).subquery())) or 0)


def availability(db: Database, variant_id: int) -> list[StockRow]:
    """One variant at every warehouse and store."""
    return stock_page(db, StockFilter(variant_id=variant_id), limit=1000)


# -- history --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LedgerRow:
    move_id: int
    at: dt.datetime
    sku: str
    quantity: int            # signed when a location is given: + arrived there, - left it
    from_location: str
    to_location: str
    reason: str
    document: str
    user: str
    operation_id: str


def stock_history(db: Database, *, variant_id: int | None = None, location_id: int | None = None,
                  before_id: int | None = None, limit: int = 500) -> list[LedgerRow]:
    """The ledger, newest first, for a variant and/or a location (keyset on the move id)."""
    src, dst = aliased(Location), aliased(Location)
    stmt = (select(StockMove.id, StockOperation.created_at, Variant.sku, StockMove.quantity, src.code, dst.code,
                   StockOperation.reason, StockOperation.document, User.username, StockOperation.operation_id,
                   StockMove.to_location_id)
            .join(StockOperation, StockOperation.id == StockMove.operation_pk)
            .join(Variant, Variant.id == StockMove.variant_id)
            .join(src, src.id == StockMove.from_location_id).join(dst, dst.id == StockMove.to_location_id)
            .outerjoin(User, User.id == StockOperation.user_id)
            .order_by(StockMove.id.desc()).limit(limit))
    if variant_id is not None:
        stmt = stmt.where(StockMove.variant_id == variant_id)
    if location_id is not None:
        stmt = stmt.where(or_(StockMove.from_location_id == location_id, StockMove.to_location_id == location_id))
    if before_id is not None:
        stmt = stmt.where(StockMove.id < before_id)
    with db.read() as session:
        rows = session.execute(stmt).all()
    out = []
    for mid, at, sku, qty, frm, to, reason, document, user, op_id, to_id in rows:
        signed = qty if location_id is None or to_id == location_id else -qty
        out.append(LedgerRow(mid, at, sku, signed, frm, to, reason, document or "", user or "", op_id))
    return out


def location_by_code(db: Database, code: str) -> dict[str, Any]:
    from backoffice.services.base import NotFound

    with db.read() as session:
        loc = session.scalar(select(Location).where(func.upper(Location.code) == code.strip().upper()))
        if loc is None:
            known = ", ".join(session.scalars(select(Location.code).order_by(Location.code)))
            raise NotFound(f"no location with code {code!r} (known: {known or 'none'})")
        return {"id": loc.id, "code": loc.code, "name": loc.name, "kind": loc.kind.value}
