"""Stock adjustments and stock counts.

An adjustment corrects the books against reality, with a reason: a count correction, damage, loss, or
stock found. Units that disappear move from the location to the adjustment (loss) location, units found
move the other way, so the ledger stays complete and the total is conserved.

A stock count is a session for one location: counted quantities are entered line by line (a scanner adds
one per scan), the differences against the on-hand figures are reviewed, and posting writes them all as
one adjustment document. The differences are computed again at posting time under the stock locks, so
moves posted while people were counting are taken into account.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backoffice.db import Database
from backoffice.models import (
    CountState,
    Location,
    LocationKind,
    Product,
    StockCount,
    StockCountLine,
    StockLevel,
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
from backoffice.services.inventory import MoveLine, PostResult, post_in_transaction
from backoffice.services.documents import loss_location
from backoffice.services.orders import release_beyond_on_hand

ADJUSTMENT_REASONS = ("count", "damage", "loss", "found")


class CountStateError(ValidationError):
    """The count is not open any more."""


def _internal_location(session: Session, location_id: int) -> Location:
    loc = session.get(Location, int(location_id))
    if loc is None:
        raise NotFound(f"location {location_id} does not exist")
    if loc.kind not in (LocationKind.WAREHOUSE, LocationKind.STORE):
        raise ValidationError([("adjustment", "location", f"{loc.code} is a {loc.kind.value} location; stock is "
                                                           "adjusted and counted at warehouses and stores")])
    return loc


def adjust_stock(db: Database, actor: Actor, *, location_id: int, changes: dict[int, int], reason: str,
                 note: str = "", operation_id: str) -> PostResult:
    """Change on-hand by ``changes`` (variant id -> +found / -missing units) at one location."""
    problems = []
    if reason not in ADJUSTMENT_REASONS:
        problems.append(("adjustment", "reason", f"{reason!r} is not one of {', '.join(ADJUSTMENT_REASONS)}"))
    for vid, q in changes.items():
        if isinstance(q, bool) or not isinstance(q, int):
            problems.append((f"variant {vid}", "quantity", f"{q!r} is not a whole number"))
    if not any(q for q in changes.values() if isinstance(q, int)):
        problems.append(("adjustment", "quantities", "nothing to adjust: every change is zero"))
    if problems:
        raise ValidationError(problems)

    def adjust_at_location(session: Session) -> PostResult:
        loc = _internal_location(session, location_id)
        loss = loss_location(session, actor)
        lines = [MoveLine(vid, loc.id, loss.id, -q) if q < 0 else MoveLine(vid, loss.id, loc.id, q)
                 for vid, q in sorted(changes.items()) if q]
        result = post_in_transaction(session, actor, operation_id, reason, lines, f"adjustment at {loc.code}", note)
        if result.applied:
            release_beyond_on_hand(session, actor, {(vid, loc.id) for vid, q in changes.items() if q < 0},
                                   why=f"{reason} at {loc.code}", operation_id=operation_id)
        return result

    return db.run_write(adjust_at_location)


# -- counts ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CountLineInfo:
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    counted: int
    on_hand: int          # the books now (or when posted)

    @property
    def difference(self) -> int:
        return self.counted - self.on_hand


@dataclass(frozen=True)
class CountInfo:
    id: int
    number: str
    state: str
    version: int
    location_id: int
    location: str
    note: str
    created_at: dt.datetime
    posted_at: dt.datetime | None
    lines: list[CountLineInfo]

    @property
    def differences(self) -> list[CountLineInfo]:
        return [ln for ln in self.lines if ln.difference]


def start_count(db: Database, actor: Actor, *, location_id: int, note: str = "",
                operation_id: str | None = None) -> CountInfo:
    """A new open count; with ``operation_id``, a retry returns the count the first call started."""

    def create_count(session: Session) -> CountInfo:
        previous = claim_operation(session, operation_id, "start_count", actor)
        if previous is not None:
            return _count_info(session, int(previous["count_id"]))
        loc = _internal_location(session, location_id)
        count = StockCount(number=provisional_number(), location_id=loc.id, state=CountState.OPEN, note=note[:500],
                           created_by=actor.user_id)
        session.add(count)
        session.flush()
        count.number = f"SC-{count.id:06d}"
        session.flush()
        audit(session, actor, "stock_count", count.id, "create", None, {"number": count.number, "location": loc.code})
        if operation_id:
            store_operation_result(session, operation_id, {"count_id": count.id})
        return _count_info(session, count.id)

    return db.run_write(create_count)


def record_counts(db: Database, actor: Actor, count_id: int, counted: dict[int, int], *, add: bool = False,
                  operation_id: str | None = None) -> CountInfo:
    """Set (or with ``add``, increase: one scan = +1) the counted quantity of variants on an open count;
    with ``operation_id`` a retried scan counts once."""
    problems = [(f"variant {vid}", "counted", f"{q!r} must be a whole number, zero or more")
                for vid, q in counted.items()
                if isinstance(q, bool) or not isinstance(q, int) or (q < 0 and not add)]
    if problems:
        raise ValidationError(problems)

    def record_lines(session: Session) -> CountInfo:
        if claim_operation(session, operation_id, "record_counts", actor) is not None:
            return _count_info(session, count_id)
        count = session.scalar(select(StockCount).where(StockCount.id == count_id).with_for_update()
                               .options(selectinload(StockCount.lines)))
        if count is None:
            raise NotFound(f"stock count {count_id} does not exist")
        if count.state is not CountState.OPEN:
            raise CountStateError([(count.number, "state", f"is {count.state.value}; only an open count can change")])
        known = set(session.scalars(select(Variant.id).where(Variant.id.in_(list(counted)))))
        missing = [vid for vid in counted if vid not in known]
        if missing:
            raise ValidationError([(f"variant {vid}", "variant", "does not exist") for vid in missing])
        lines = {ln.variant_id: ln for ln in count.lines}
        for vid, q in counted.items():
            line = lines.get(vid)
            if line is None:
                if q < 0:
                    raise ValidationError([(f"variant {vid}", "counted", "cannot go below zero")])
                count.lines.append(StockCountLine(variant_id=vid, counted=q))
            else:
                new = line.counted + q if add else q
                if new < 0:
                    raise ValidationError([(f"variant {vid}", "counted", "cannot go below zero")])
                line.counted = new
        count.updated_at = utcnow()
        session.flush()
        return _count_info(session, count.id)

    return db.run_write(record_lines)


def post_count(db: Database, actor: Actor, count_id: int, *, operation_id: str) -> CountInfo:
    """Post every difference between counted and on-hand as one adjustment (reason "count")."""

    def post_differences(session: Session) -> CountInfo:
        if claim_operation(session, operation_id, "post_count", actor) is not None:
            return _count_info(session, count_id)  # posted before under this operation id
        count = session.scalar(select(StockCount).where(StockCount.id == count_id).with_for_update()
                               .options(selectinload(StockCount.lines)))
        if count is None:
            raise NotFound(f"stock count {count_id} does not exist")
        if count.state is not CountState.OPEN:
            raise CountStateError([(count.number, "state", f"is {count.state.value}; only an open count can be posted")])
        if not count.lines:
            raise ValidationError([(count.number, "lines", "nothing was counted")])
        loss = loss_location(session, actor)
        vids = sorted(ln.variant_id for ln in count.lines)
        # Lock the levels in (variant, location) order, then read the books under the lock.
        books = dict(session.execute(
            select(StockLevel.variant_id, StockLevel.on_hand)
            .where(StockLevel.location_id == count.location_id, StockLevel.variant_id.in_(vids))
            .order_by(StockLevel.variant_id).with_for_update()).all())
        moves = []
        for ln in sorted(count.lines, key=lambda x: x.variant_id):
            ln.on_hand_at_post = int(books.get(ln.variant_id, 0))
            diff = ln.counted - ln.on_hand_at_post
            if diff < 0:
                moves.append(MoveLine(ln.variant_id, count.location_id, loss.id, -diff))
            elif diff > 0:
                moves.append(MoveLine(ln.variant_id, loss.id, count.location_id, diff))
        if moves:
            post_in_transaction(session, actor, f"{operation_id}:moves"[:64], "count", moves, count.number,
                                f"stock count {count.number}")
            release_beyond_on_hand(session, actor, {(m.variant_id, m.from_location_id) for m in moves
                                                    if m.from_location_id == count.location_id},
                                   why=f"stock count {count.number}", operation_id=operation_id)
        count.state, count.posted_at = CountState.POSTED, utcnow()
        session.flush()
        audit(session, actor, "stock_count", count.id, "post", None,
              {"number": count.number, "lines": len(count.lines), "differences": len(moves)}, operation_id)
        return _count_info(session, count.id)

    return db.run_write(post_differences)


def cancel_count(db: Database, actor: Actor, count_id: int, *, operation_id: str | None = None) -> CountInfo:

    def cancel_open_count(session: Session) -> CountInfo:
        if claim_operation(session, operation_id, "cancel_count", actor) is not None:
            return _count_info(session, count_id)
        count = session.scalar(select(StockCount).where(StockCount.id == count_id).with_for_update())
        if count is None:
            raise NotFound(f"stock count {count_id} does not exist")
        if count.state is not CountState.OPEN:
            raise CountStateError([(count.number, "state", f"is {count.state.value}; only an open count can be cancelled")])
        count.state = CountState.CANCELLED
        session.flush()
        audit(session, actor, "stock_count", count.id, "cancel", None, {"number": count.number})
        return _count_info(session, count.id)

    return db.run_write(cancel_open_count)


def get_count(db: Database, count_id: int) -> CountInfo:
    with db.read() as session:
        return _count_info(session, count_id)


def _count_info(session: Session, count_id: int) -> CountInfo:
    count = session.scalar(select(StockCount).where(StockCount.id == count_id).options(selectinload(StockCount.lines))
                           .execution_options(populate_existing=True))
    if count is None:
        raise NotFound(f"stock count {count_id} does not exist")
    loc = session.get(Location, count.location_id)
    vids = [ln.variant_id for ln in count.lines] or [0]
    meta = {vid: (sku, barcode, f"{title} · {vtitle}" if vtitle else title) for vid, sku, barcode, title, vtitle in session.execute(
        select(Variant.id, Variant.sku, Variant.barcode, Product.title, Variant.title)
        .join(Product, Product.id == Variant.product_id).where(Variant.id.in_(vids)))}
    books = dict(session.execute(select(StockLevel.variant_id, StockLevel.on_hand)
                                 .where(StockLevel.location_id == count.location_id, StockLevel.variant_id.in_(vids))).all())
    lines = [CountLineInfo(ln.variant_id, *meta[ln.variant_id], ln.counted,
                           ln.on_hand_at_post if ln.on_hand_at_post is not None else int(books.get(ln.variant_id, 0)))
             for ln in count.lines]
    return CountInfo(count.id, count.number, count.state.value, count.version, count.location_id, loc.code if loc else "",
                     count.note, count.created_at, count.posted_at, lines)


def to_dict(info: CountInfo) -> dict[str, Any]:
    return {"number": info.number, "state": info.state, "location": info.location,
            "lines": [{"sku": ln.sku, "counted": ln.counted, "on_hand": ln.on_hand, "difference": ln.difference}
                      for ln in info.lines]}
