"""Stock moves through the ledger: the only way stock changes.

``post_moves`` applies one stock operation (a receipt, a transfer leg, an adjustment...) made of lines
"quantity of variant from location A to location B", atomically:

1. the operation id is inserted first, UNIQUE: a second post with the same id (a retry, a double click,
   a replayed outbox entry) finds it and returns the first result without moving anything;
2. stock-level rows of internal locations are created if missing, then locked in one fixed order
   (variant id, location id) so concurrent posts cannot deadlock each other;
3. each level changes by its net quantity; a level that would go below zero is refused (the database's
   CHECK on_hand >= 0 backs this up);
4. the ledger lines and an audit row are written in the same transaction.

Serialization failures and deadlocks (PostgreSQL) or a busy file (SQLite) are retried a bounded number
of times by ``Database.run_write``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models.base import UTCDateTime
from backoffice.models import INTERNAL_KINDS, Location, LocationKind, StockLevel, StockMove, StockOperation, Variant, utcnow
from backoffice.services.bundles import refuse_bundle_moves
from backoffice.services.base import (
    Actor,
    Change,
    ConflictError,
    NotFound,
    PermissionDenied,
    ServiceError,
    ValidationError,
    audit,
    audit_change,
    claim_operation,
    dialect_insert,
    snapshot,
    store_operation_result,
)

REASONS = ("receipt", "transfer", "adjustment", "count", "damage", "loss", "found", "sale", "return",
           "opening_balance")


class InsufficientStock(ServiceError):
    def __init__(self, shortages: list[dict[str, Any]]) -> None:
        self.shortages = shortages
        parts = [f"{s['sku']} at {s['location']}: {s.get('available', s['on_hand'])} available, {s['requested']} requested"
                 for s in shortages]
        super().__init__("not enough stock: " + "; ".join(parts))


@dataclass(frozen=True)
class MoveLine:
    variant_id: int
    from_location_id: int
    to_location_id: int
    quantity: int
    release: int = 0   # units of the source level's reserved this move consumes (an order shipped)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MoveLine:
        return cls(int(data["variant_id"]), int(data["from_location_id"]), int(data["to_location_id"]),
                   data["quantity"])


@dataclass(frozen=True)
class PostResult:
    operation_id: str
    stock_operation_id: int
    applied: bool  # False when this operation id had already been posted: nothing moved this time
    levels: dict[tuple[int, int], int]  # (variant id, location id) -> on_hand after the operation

    def to_dict(self) -> dict[str, Any]:
        return {"operation_id": self.operation_id, "stock_operation_id": self.stock_operation_id,
                "applied": self.applied,
                "levels": [{"variant_id": v, "location_id": loc, "on_hand": q} for (v, loc), q in sorted(self.levels.items())]}


@dataclass(frozen=True)
class _Loc:
    id: int
    code: str
    kind: LocationKind
    active: bool

    @property
    def is_internal(self) -> bool:
        return self.kind in INTERNAL_KINDS


def _validate(lines: list[MoveLine], operation_id: str, reason: str) -> None:
    problems: list[tuple[str, str, str]] = []
    if not operation_id or len(operation_id) > 64:
        problems.append(("operation", "operation_id", "must be 1 to 64 characters"))
    if reason not in REASONS:
        problems.append(("operation", "reason", f"{reason!r} is not one of {', '.join(REASONS)}"))
    if not lines:
        problems.append(("operation", "lines", "at least one line is needed"))
    for i, line in enumerate(lines, 1):
        q = line.quantity
        if isinstance(q, bool) or not isinstance(q, int):
            problems.append((f"line {i}", "quantity", f"{q!r} is not a whole number"))
        elif q <= 0:
            problems.append((f"line {i}", "quantity", f"{q} must be greater than zero"))
        if line.from_location_id == line.to_location_id:
            problems.append((f"line {i}", "to_location_id", "is the same as the source location"))
    if problems:
        raise ValidationError(problems)


def post_moves(db: Database, actor: Actor, *, operation_id: str, reason: str, lines: list[MoveLine | dict[str, Any]],
               document: str = "", note: str = "") -> PostResult:
    moves = [line if isinstance(line, MoveLine) else MoveLine.from_dict(line) for line in lines]
    _validate(moves, operation_id, reason)

    def post_moves_once(session: Session) -> PostResult:
        return post_in_transaction(session, actor, operation_id, reason, moves, document, note)

    try:
        return db.run_write(post_moves_once)
    except IntegrityError as exc:
        if "on_hand" in str(exc.orig).lower():  # the CHECK caught what the service check did not
            raise InsufficientStock([]) from exc
        raise


def post_in_transaction(session: Session, actor: Actor, operation_id: str, reason: str, moves: list[MoveLine],
          document: str, note: str, *, keep_reserved: bool = False) -> PostResult:
    """Post inside the caller's transaction (documents change their state and post in one: transfers,
    purchase-order receipts, adjustments and counts call this within their own ``run_write``). With
    ``keep_reserved`` stock promised to orders (``reserved``) cannot leave: only what is available can."""
    refuse_bundle_moves(session, [m.variant_id for m in moves])   # a bundle holds no stock: its components do
    conn = session.connection()  # Core statements straight on the connection: this path runs for every move
    if conn.dialect.name == "postgresql":
        return _post_on_server(session, conn, actor, operation_id, reason, moves, document, note, keep_reserved)
    ins = dialect_insert(session)
    op_pk = conn.execute(
        ins(StockOperation)
        .values(operation_id=operation_id, reason=reason, document=document, note=note, user_id=actor.user_id,
                created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["operation_id"])
        .returning(StockOperation.id)
    ).scalar()
    if op_pk is None:
        return _already_posted(session, operation_id)

    # Resolve the locations and variants named by the lines.
    location_ids = sorted({m.from_location_id for m in moves} | {m.to_location_id for m in moves})
    locations = {row.id: _Loc(row.id, row.code, LocationKind(row.kind), row.active) for row in conn.execute(
        select(Location.id, Location.code, Location.kind, Location.active).where(Location.id.in_(location_ids)))}
    variant_ids = sorted({m.variant_id for m in moves})
    skus = dict(conn.execute(select(Variant.id, Variant.sku).where(Variant.id.in_(variant_ids))).all())
    problems = []
    for i, m in enumerate(moves, 1):
        for name, loc_id in (("from_location_id", m.from_location_id), ("to_location_id", m.to_location_id)):
            loc = locations.get(loc_id)
            if loc is None:
                problems.append((f"line {i}", name, f"location {loc_id} does not exist"))
            elif not loc.active:
                problems.append((f"line {i}", name, f"location {loc.code} is inactive"))
        if m.variant_id not in skus:
            problems.append((f"line {i}", "variant_id", f"variant {m.variant_id} does not exist"))
    if problems:
        raise ValidationError(problems)
    _check_user_locations(session, actor, moves, locations)

    # Net change per (variant, internal location); external locations have no level rows.
    delta: dict[tuple[int, int], int] = defaultdict(int)
    release: dict[tuple[int, int], int] = defaultdict(int)
    for i, m in enumerate(moves, 1):
        if not 0 <= m.release <= m.quantity:
            problems.append((f"line {i}", "release", f"{m.release} must be between 0 and the quantity"))
        if locations[m.from_location_id].is_internal:
            delta[(m.variant_id, m.from_location_id)] -= m.quantity
            release[(m.variant_id, m.from_location_id)] += m.release
        if locations[m.to_location_id].is_internal:
            delta[(m.variant_id, m.to_location_id)] += m.quantity
    keys = sorted(delta)

    # Make sure every level row exists, then lock them all in (variant, location) order.
    if keys:
        now = utcnow()
        conn.execute(
            ins(StockLevel)
            .values([{"variant_id": v, "location_id": loc, "on_hand": 0, "reserved": 0, "version": 1,
                      "created_at": now, "updated_at": now} for v, loc in keys])
            .on_conflict_do_nothing(index_elements=["variant_id", "location_id"])
        )
    levels: dict[tuple[int, int], tuple[int, int]] = {}
    reserved: dict[tuple[int, int], int] = {}
    for chunk_start in range(0, len(variant_ids), 500):
        chunk = variant_ids[chunk_start:chunk_start + 500]
        rows = conn.execute(
            select(StockLevel.id, StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand,
                   StockLevel.reserved)
            .where(StockLevel.variant_id.in_(chunk), StockLevel.location_id.in_([k[1] for k in keys] or [0]))
            .order_by(StockLevel.variant_id, StockLevel.location_id)
            .with_for_update()
        ).all()
        for r in rows:
            levels[(r.variant_id, r.location_id)] = (r.id, r.on_hand)
            reserved[(r.variant_id, r.location_id)] = r.reserved

    if problems:
        raise ValidationError(problems)
    for key in keys:
        if release[key] > reserved[key]:
            raise ValidationError([(f"{skus[key[0]]} at {locations[key[1]].code}", "release",
                                    f"{release[key]} reserved units to release, {reserved[key]} reserved")])
    shortages = []
    for key in keys:
        level_id, on_hand = levels[key]
        usable = (min(on_hand, max(0, on_hand - reserved[key]) + release[key]) if keep_reserved and delta[key] < 0
                  else on_hand)
        if usable + delta[key] < 0:
            shortages.append({"variant_id": key[0], "sku": skus[key[0]], "location_id": key[1],
                              "location": locations[key[1]].code, "on_hand": on_hand, "available": usable,
                              "requested": -delta[key]})
    if shortages:
        raise InsufficientStock(shortages)

    changed = [(levels[key][0], delta[key], release[key]) for key in keys if delta[key] or release[key]]
    if changed:
        # Relative updates (on_hand + delta) on rows we hold locked; the CHECK is the last line of defence.
        levels_table = StockLevel.__table__
        conn.execute(
            update(levels_table)
            .where(levels_table.c.id == bindparam("level_id"))
            .values(on_hand=levels_table.c.on_hand + bindparam("delta"), reserved=levels_table.c.reserved - bindparam("rel"),
                    version=levels_table.c.version + 1, updated_at=bindparam("now", type_=UTCDateTime())),
            [{"level_id": level_id, "delta": d, "rel": rel, "now": utcnow()} for level_id, d, rel in changed],
        )
    conn.execute(
        ins(StockMove.__table__),
        [{"operation_pk": op_pk, "variant_id": m.variant_id, "from_location_id": m.from_location_id,
          "to_location_id": m.to_location_id, "quantity": m.quantity} for m in moves],
    )
    after = {key: levels[key][1] + delta[key] for key in keys}
    audit(
        session, actor, "stock_operation", op_pk, "post",
        {"levels": [{"sku": skus[k[0]], "location": locations[k[1]].code, "on_hand": levels[k][1]} for k in keys]},
        {"reason": reason, "document": document, "note": note,
         "lines": [{"sku": skus[m.variant_id], "from": locations[m.from_location_id].code,
                    "to": locations[m.to_location_id].code, "quantity": m.quantity} for m in moves],
         "levels": [{"sku": skus[k[0]], "location": locations[k[1]].code, "on_hand": after[k]} for k in keys]},
        operation_id,
    )
    return PostResult(operation_id, op_pk, True, after)


def _check_user_locations(session: Session, actor: Actor, moves: list[MoveLine], locations: dict[int, _Loc]) -> None:
    """A user limited to some locations posts only lines that touch one of them (what bo_post_moves
    checks on PostgreSQL)."""
    from backoffice.services.users import allowed_location_ids

    allowed = allowed_location_ids(session, actor.user_id)
    if allowed is None:
        return
    codes = ", ".join(sorted(loc.code for loc in locations.values() if loc.id in allowed)) or \
        ", ".join(str(i) for i in sorted(allowed))
    refused = [f"line {i}: you may post stock only at {codes}; this line moves "
               f"{locations[m.from_location_id].code} → {locations[m.to_location_id].code}"
               for i, m in enumerate(moves, 1) if m.from_location_id not in allowed and m.to_location_id not in allowed]
    if refused:
        raise PermissionDenied(f"{actor.username}: " + "; ".join(refused))


_POST_FUNCTION = text("SELECT bo_post_moves(:op, :reason, :document, :note, :user_id, :username, "
                      "CAST(:lines AS jsonb), :keep_reserved)")


def _post_on_server(session: Session, conn: Any, actor: Actor, operation_id: str, reason: str, moves: list[MoveLine],
                    document: str, note: str, keep_reserved: bool) -> PostResult:
    """PostgreSQL: the same steps as the Python path below, in one server-side call (migration 0004), so a
    post costs one round trip however many lines it has."""
    lines = json.dumps([{"n": i, "v": m.variant_id, "f": m.from_location_id, "t": m.to_location_id, "q": m.quantity,
                         **({"r": m.release} if m.release else {})} for i, m in enumerate(moves, 1)])
    try:
        result = conn.execute(_POST_FUNCTION, {
            "op": operation_id, "reason": reason, "document": document, "note": note, "user_id": actor.user_id,
            "username": actor.username, "lines": lines, "keep_reserved": keep_reserved}).scalar_one()
    except DBAPIError as exc:
        diag = getattr(exc.orig, "diag", None)
        message = getattr(diag, "message_primary", None)
        if message == "bo:shortage":
            raise InsufficientStock(json.loads(diag.message_detail)) from None
        if message == "bo:validation":
            raise ValidationError([tuple(p) for p in json.loads(diag.message_detail)]) from None
        if message == "bo:location":
            problems = json.loads(diag.message_detail)
            raise PermissionDenied(f"{actor.username}: " + "; ".join(f"{p[0]}: {p[2]}" for p in problems)) from None
        if message == "bo:not_staff":
            raise PermissionDenied(f"the database login {diag.message_detail} is not an active Backoffice "
                                   "account") from None
        raise
    if result["status"] == "replayed":
        return _already_posted(session, operation_id)
    return PostResult(operation_id, result["op_pk"], True, {(v, loc): q for v, loc, q in result["levels"]})


def _already_posted(session: Session, operation_id: str) -> PostResult:
    op = session.execute(select(StockOperation).where(StockOperation.operation_id == operation_id)).scalar_one()
    pairs = session.execute(
        select(StockMove.variant_id, StockMove.from_location_id, StockMove.to_location_id)
        .where(StockMove.operation_pk == op.id)
    ).all()
    keys = sorted({(v, f) for v, f, _ in pairs} | {(v, t) for v, _, t in pairs})
    levels = {}
    for v, loc in keys:
        on_hand = session.scalar(
            select(StockLevel.on_hand).where(StockLevel.variant_id == v, StockLevel.location_id == loc)
        )
        if on_hand is not None:
            levels[(v, loc)] = on_hand
    return PostResult(operation_id, op.id, False, levels)


# -- reads ----------------------------------------------------------------------------------------------
def open_empty_levels(session: Session, variant_ids: list[int], location_id: int) -> None:
    """Empty level rows (on hand 0) for these variants at an internal location where they have none yet,
    so stock on its way there (a shipped transfer, a sent purchase order) is listed before the first unit
    arrives. On hand 0 equals the empty ledger: the invariants hold. One cached executemany statement."""
    if session.get_bind().dialect.name == "postgresql":
        open_levels_on_server(session, variant_ids, location_id)
        return
    now = utcnow()
    session.execute(dialect_insert(session)(StockLevel).on_conflict_do_nothing(index_elements=["variant_id", "location_id"]),
                    [{"variant_id": v, "location_id": location_id, "on_hand": 0, "reserved": 0, "version": 1,
                      "created_at": now, "updated_at": now} for v in sorted(set(variant_ids))])


def open_levels_on_server(session: Session, variant_ids: list[int], location_id: int) -> None:
    """PostgreSQL: empty level rows through ``bo_open_levels`` (no staff role may insert level rows)."""
    session.execute(text("SELECT bo_open_levels(CAST(:ids AS bigint[]), :loc)"),
                    {"ids": sorted(set(int(v) for v in variant_ids)), "loc": int(location_id)})


def open_level(session: Session, variant_id: int, location_id: int) -> None:
    """One empty level row (on hand 0) unless it exists: for a threshold or reorder point set before
    any stock arrived."""
    if session.get_bind().dialect.name == "postgresql":
        open_levels_on_server(session, [variant_id], location_id)
        return
    now = utcnow()
    session.execute(dialect_insert(session)(StockLevel).values(
        variant_id=variant_id, location_id=location_id, on_hand=0, reserved=0, version=1, created_at=now,
        updated_at=now).on_conflict_do_nothing(index_elements=["variant_id", "location_id"]))


def ledger_balance(db: Database, variant_id: int, location_id: int) -> int:
    """Sum of the ledger for one (variant, location): what arrived minus what left."""
    with db.read() as session:
        inflow = session.scalar(select(func.coalesce(func.sum(StockMove.quantity), 0)).where(
            StockMove.variant_id == variant_id, StockMove.to_location_id == location_id))
        outflow = session.scalar(select(func.coalesce(func.sum(StockMove.quantity), 0)).where(
            StockMove.variant_id == variant_id, StockMove.from_location_id == location_id))
        return int(inflow) - int(outflow)


def on_hand(db: Database, variant_id: int, location_id: int) -> int:
    with db.read() as session:
        value = session.scalar(select(StockLevel.on_hand).where(
            StockLevel.variant_id == variant_id, StockLevel.location_id == location_id))
        return int(value or 0)


def ledger_mismatches(db: Database) -> list[dict[str, int]]:
    """Every (variant, internal location) whose on_hand differs from its ledger sum; empty when sound."""
    with db.read() as session:
        inflow = (select(StockMove.variant_id.label("v"), StockMove.to_location_id.label("loc"),
                         StockMove.quantity.label("q")))
        outflow = (select(StockMove.variant_id.label("v"), StockMove.from_location_id.label("loc"),
                          (-StockMove.quantity).label("q")))
        flows = inflow.union_all(outflow).subquery()
        ledger = (select(flows.c.v, flows.c.loc, func.sum(flows.c.q).label("total"))
                  .group_by(flows.c.v, flows.c.loc).subquery())
        internal = select(Location.id).where(Location.kind.in_([k.value for k in INTERNAL_KINDS]))
        rows = session.execute(
            select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand,
                   func.coalesce(ledger.c.total, 0))
            .outerjoin(ledger, (ledger.c.v == StockLevel.variant_id) & (ledger.c.loc == StockLevel.location_id))
            .where(StockLevel.on_hand != func.coalesce(ledger.c.total, 0))
        ).all()
        orphans = session.execute(
            select(ledger.c.v, ledger.c.loc, ledger.c.total)
            .outerjoin(StockLevel, (ledger.c.v == StockLevel.variant_id) & (ledger.c.loc == StockLevel.location_id))
            .where(StockLevel.id.is_(None), ledger.c.loc.in_(internal), ledger.c.total != 0)
        ).all()
    return ([{"variant_id": v, "location_id": loc, "on_hand": oh, "ledger": int(t)} for v, loc, oh, t in rows]
            + [{"variant_id": v, "location_id": loc, "on_hand": 0, "ledger": int(t)} for v, loc, t in orphans])


# -- locations ------------------------------------------------------------------------------------------
LOCATION_FIELDS = ("code", "name", "kind", "active")


def _clean_location_name(name: Any, row: str, problems: list) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        problems.append((row, "name", "must not be empty"))
    elif len(text) > 200:
        problems.append((row, "name", f"is {len(text)} characters long; at most 200"))
    return text


def _clean_location_kind(kind: Any, row: str, problems: list) -> LocationKind | None:
    try:
        return LocationKind(str(kind or "").strip().lower())
    except ValueError:
        problems.append((row, "kind", f"{kind!r} is not one of {', '.join(k.value for k in LocationKind)}"))
        return None


def _location_write(db: Database, actor: Actor, action: str, operation_id: str | None, body) -> Change:  # type: ignore[no-untyped-def]
    """One location write: the operation id claimed first (a replay returns the first result and writes
    nothing), then ``body(session)`` makes the change, then it is audited and its result stored."""
    def write_location(session: Session) -> Change:
        previous = claim_operation(session, operation_id, action, actor)
        if previous is not None:
            return Change.from_dict(previous)
        change = body(session)
        if change.after:   # an edit that changed nothing leaves no audit row
            audit_change(session, actor, change, operation_id)
        store_operation_result(session, operation_id, change.to_dict())
        return change

    try:
        return db.run_write(write_location)
    except IntegrityError as exc:  # a concurrent writer took the code first
        raise ValidationError([("location", "code", "is already used")]) from exc


def create_location(db: Database, actor: Actor, *, code: str, name: str, kind: str,
                    operation_id: str | None = None) -> Change:
    """A new location. Codes are upper-case, unique and without spaces (WH1, SHOP-CITY)."""
    problems: list = []
    code = (code or "").strip().upper()
    row = f"location {code!r}"
    if not code or len(code) > 50 or any(c.isspace() for c in code):
        problems.append((row, "code", "must be 1 to 50 characters without spaces"))
    clean_name = _clean_location_name(name, row, problems)
    kind_value = _clean_location_kind(kind, row, problems)
    if problems:
        raise ValidationError(problems)

    def body(session: Session) -> Change:
        if session.scalar(select(Location.id).where(func.upper(Location.code) == code)) is not None:
            raise ValidationError([(f"location {code}", "code", "is already used")])
        loc = Location(code=code, name=clean_name, kind=kind_value)
        session.add(loc)
        session.flush()
        return Change("location", loc.id, "create", loc.version, None, snapshot(loc, LOCATION_FIELDS))

    return _location_write(db, actor, "create_location", operation_id, body)


def _lock_location(session: Session, location_id: int, expected_version: int | None) -> Location:
    loc = session.scalar(select(Location).where(Location.id == int(location_id)).with_for_update())
    if loc is None:
        raise NotFound(f"location {location_id} does not exist")
    if expected_version is not None and loc.version != expected_version:
        raise ConflictError("location", loc.id, loc.code, expected_version, loc.version, snapshot(loc, LOCATION_FIELDS))
    return loc


def _location_usage(session: Session, loc: Location) -> tuple[int, int, int]:
    """(units on hand there (reserved ones are among them), variants holding them, open documents naming it)."""
    from backoffice.models import PurchaseOrder, PurchaseOrderState, Transfer, TransferState

    units, variants = session.execute(
        select(func.coalesce(func.sum(StockLevel.on_hand), 0), func.count())
        .where(StockLevel.location_id == loc.id, (StockLevel.on_hand > 0) | (StockLevel.reserved > 0))
    ).one()
    open_transfers = session.scalar(select(func.count()).select_from(Transfer).where(
        (Transfer.source_location_id == loc.id) | (Transfer.destination_location_id == loc.id)
        | (Transfer.transit_location_id == loc.id),
        Transfer.state.in_([TransferState.DRAFT, TransferState.SHIPPED, TransferState.PARTIAL]))) or 0
    open_orders = session.scalar(select(func.count()).select_from(PurchaseOrder).where(
        PurchaseOrder.destination_location_id == loc.id,
        PurchaseOrder.state.in_([PurchaseOrderState.DRAFT, PurchaseOrderState.SENT, PurchaseOrderState.PARTIAL]))) or 0
    return int(units), int(variants), int(open_transfers) + int(open_orders)


def update_location(db: Database, actor: Actor, location_id: int, *, expected_version: int | None = None,
                    name: str | None = None, kind: str | None = None, operation_id: str | None = None) -> Change:
    """Rename a location or change its kind. A location that has ever held stock keeps its side of the
    ledger: it cannot turn from internal (warehouse, store, transit) to external or back."""
    problems: list = []
    row = f"location {location_id}"
    clean_name = _clean_location_name(name, row, problems) if name is not None else None
    kind_value = _clean_location_kind(kind, row, problems) if kind is not None else None
    if problems:
        raise ValidationError(problems)

    def body(session: Session) -> Change:
        loc = _lock_location(session, location_id, expected_version)
        before = snapshot(loc, LOCATION_FIELDS)
        if kind_value is not None and kind_value.is_internal != loc.kind.is_internal:
            used = session.scalar(select(func.count()).select_from(StockMove).where(
                (StockMove.from_location_id == loc.id) | (StockMove.to_location_id == loc.id))) or 0
            if used:
                side = "internal" if loc.kind.is_internal else "external"
                raise ValidationError([(f"location {loc.code}", "kind", f"{loc.kind.value} is {side} and the location "
                                        f"has {used:,} stock moves; it cannot become {kind_value.value}")])
        if clean_name is not None:
            loc.name = clean_name
        if kind_value is not None:
            loc.kind = kind_value
        session.flush()
        after = snapshot(loc, LOCATION_FIELDS)
        keys = [k for k in after if after[k] != before[k]]
        return Change("location", loc.id, "update", loc.version, {k: before[k] for k in keys},
                      {k: after[k] for k in keys})

    return _location_write(db, actor, "update_location", operation_id, body)


def archive_location(db: Database, actor: Actor, location_id: int, *, expected_version: int | None = None,
                     operation_id: str | None = None) -> Change:
    """Make a location inactive (no stock can move to or from it; its history stays). Refused while it
    holds stock or is named by an open transfer or purchase order."""

    def body(session: Session) -> Change:
        loc = _lock_location(session, location_id, expected_version)
        if not loc.active:
            raise ValidationError([(f"location {loc.code}", "active", "is already archived")])
        units, variants, documents = _location_usage(session, loc)
        if units:
            raise ValidationError([(f"location {loc.code}", "stock", f"holds {units:,} units of {variants:,} "
                                    f"variant{'s' if variants != 1 else ''}; transfer or adjust them to zero first")])
        if documents:
            raise ValidationError([(f"location {loc.code}", "documents", f"is named by {documents:,} open transfer(s) "
                                    "or purchase order(s); finish or cancel them first")])
        loc.active = False
        session.flush()
        return Change("location", loc.id, "archive", loc.version, {"active": True}, {"active": False})

    return _location_write(db, actor, "archive_location", operation_id, body)


def restore_location(db: Database, actor: Actor, location_id: int, *, expected_version: int | None = None,
                     operation_id: str | None = None) -> Change:
    """Make an archived location active again."""

    def body(session: Session) -> Change:
        loc = _lock_location(session, location_id, expected_version)
        if loc.active:
            raise ValidationError([(f"location {loc.code}", "active", "is not archived")])
        loc.active = True
        session.flush()
        return Change("location", loc.id, "restore", loc.version, {"active": False}, {"active": True})

    return _location_write(db, actor, "restore_location", operation_id, body)


def list_locations(db: Database, *, include_archived: bool = True, with_stock: bool = False) -> list[dict[str, Any]]:
    """Every location by code. ``with_stock``: also the units each holds (a scan of its stock levels, so
    only the location manager asks for it)."""
    with db.read() as session:
        held: dict[int, int] = {}
        if with_stock:
            held = dict(session.execute(
                select(StockLevel.location_id, func.coalesce(func.sum(StockLevel.on_hand), 0))
                .group_by(StockLevel.location_id)).all())
        stmt = select(Location).order_by(Location.code)
        if not include_archived:
            stmt = stmt.where(Location.active.is_(True))
        return [{"id": loc.id, "code": loc.code, "name": loc.name, "kind": loc.kind.value, "internal": loc.is_internal,
                 "active": loc.active, "version": loc.version}
                | ({"on_hand": int(held.get(loc.id, 0))} if with_stock else {})
                for loc in session.scalars(stmt)]
