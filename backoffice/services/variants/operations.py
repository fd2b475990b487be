"""Bulk operations on variants, and the price/stock matrix of one product.

Bulk field changes (price, compare-at, cost, weight, status, enable/disable) go through
``services.bulk``: planned on a selection or on every variant matching a filter (``VariantFilter``
with ``option_value_ids`` gives "all XL in category Shirts"), previewed, applied as one changeset,
revertible. Low-stock thresholds live on stock levels (per variant and location): they are planned and
previewed the same way, written in one version-checked transaction, recorded as a changeset of kind
"threshold" and reverted with ``revert_thresholds``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    INTERNAL_KINDS,
    Attribute,
    AttributeValue,
    Changeset,
    ChangesetEntry,
    Location,
    Product,
    StockLevel,
    Variant,
    VariantOption,
    VariantStatus,
    utcnow,
)
from backoffice.services import bulk
from backoffice.services.base import Actor, NotFound, ValidationError, audit, chunked_in
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.changesets import (
    ApplyResult,
    Conflict,
    RowChange,
    apply_in_session,
    register_reverter,
    replayed,
)
from backoffice.services.variants.pricing import overridden

# field name in the view / CLI -> how bulk.py spells it
BULK_FIELDS = ("price", "compare_at_price", "cost", "weight_grams", "status", "enable", "disable")


def bulk_operation(field_name: str, value: Any = None) -> bulk.BulkOperation:
    """The bulk.py operation that sets one variant field to ``value`` (enable/disable take none)."""
    if field_name in bulk.MONEY_FIELDS:
        try:
            amount = Decimal(str(value).strip())
        except Exception:
            raise ValidationError([("operation", field_name, f"{value!r} is not an amount")]) from None
        return bulk.BulkOperation("money", field_name, steps=(bulk.PriceStep("set", amount),))
    if field_name == "weight_grams":
        try:
            grams = int(str(value).strip())
        except ValueError:
            raise ValidationError([("operation", "weight_grams", f"{value!r} is not a whole number of grams")]) from None
        if grams < 0:
            raise ValidationError([("operation", "weight_grams", "must not be negative")])
        return bulk.BulkOperation("set", "weight_grams", value=grams)
    if field_name == "status":
        return bulk.BulkOperation("set", "variant_status", value=str(value))
    if field_name == "enable":
        return bulk.BulkOperation("set", "variant_status", value=VariantStatus.ACTIVE.value)
    if field_name == "disable":
        return bulk.BulkOperation("set", "variant_status", value=VariantStatus.DISABLED.value)
    raise ValidationError([("operation", "field", f"{field_name!r} is not one of {', '.join(BULK_FIELDS)}")])


def plan_bulk(db: Database, field_name: str, value: Any, target: bulk.Target) -> bulk.Plan:
    return bulk.plan(db, bulk_operation(field_name, value), target)


def apply_bulk(db: Database, actor: Actor, plan: bulk.Plan, *, operation_id: str | None = None) -> ApplyResult:
    return bulk.apply_plan(db, actor, plan.operation, plan.target, previewed=plan.versions, operation_id=operation_id)


def option_filter(db: Database, options: dict[str, str], base: VariantFilter = VariantFilter()) -> VariantFilter:
    """``base`` narrowed to variants carrying these values ({"size": "XL"})."""
    ids = []
    with db.read() as session:
        for code, value in options.items():
            vid = session.scalar(select(AttributeValue.id).join(Attribute, Attribute.id == AttributeValue.attribute_id)
                                 .where(Attribute.code == code, AttributeValue.value == value))
            if vid is None:
                raise ValidationError([(f"attribute {code}", "value", f"{value!r} is not one of its values")])
            ids.append(vid)
    return replace(base, option_value_ids=tuple(base.option_value_ids) + tuple(ids))


# -- thresholds -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThresholdRow:
    variant_id: int
    sku: str
    location_id: int
    location: str
    level_id: int | None        # None: the level row does not exist yet (created with no stock)
    version: int | None
    old: int | None
    new: int | None


@dataclass
class ThresholdPlan:
    rows: list[ThresholdRow]
    considered: int
    threshold: int | None

    @property
    def affected(self) -> int:
        return len(self.rows)

    @property
    def versions(self) -> bulk.Versions:
        """What :func:`apply_thresholds_to` checks the rows against: per ("location <id>", variant id) the
        version of the stock level as read (0: it had no level row there yet)."""
        return {threshold_key(r): r.version or 0 for r in self.rows}


def threshold_key(row: ThresholdRow) -> tuple[str, int]:
    return f"location {row.location_id}", row.variant_id


def _check_threshold(threshold: int | None) -> None:
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0):
        raise ValidationError([("operation", "threshold", f"{threshold!r} must be a whole number, zero or more")])


def _threshold_rows(session: Session, variant_ids: list[int], threshold: int | None,
                    location_ids: list[int] | None) -> list[ThresholdRow]:
    stmt = select(Location.id, Location.code).where(Location.kind.in_(list(INTERNAL_KINDS)), Location.active)
    if location_ids:
        stmt = select(Location.id, Location.code).where(Location.id.in_(location_ids))
    locations = list(session.execute(stmt.order_by(Location.id)))
    if location_ids and len(locations) != len(set(location_ids)):
        raise NotFound("a chosen location does not exist")
    skus = {vid: sku for cond in chunked_in(session, Variant.id, variant_ids)
            for vid, sku in session.execute(select(Variant.id, Variant.sku).where(cond))}
    unknown = [vid for vid in variant_ids if vid not in skus]
    if unknown:
        raise ValidationError([(f"variant {vid}", "variant", "does not exist") for vid in unknown[:100]])
    levels = {(vid, lid): (level_id, version, old) for cond in chunked_in(session, StockLevel.variant_id, variant_ids)
              for vid, lid, level_id, version, old in session.execute(
                  select(StockLevel.variant_id, StockLevel.location_id, StockLevel.id, StockLevel.version,
                         StockLevel.low_stock_threshold).where(cond))}
    rows = []
    for vid in variant_ids:
        for lid, code in locations:
            level_id, version, old = levels.get((vid, lid), (None, None, None))
            if old != threshold:
                rows.append(ThresholdRow(vid, skus.get(vid, str(vid)), lid, code, level_id, version, old, threshold))
    return rows


def plan_thresholds(db: Database, target: bulk.Target, threshold: int | None,
                    location_ids: list[int] | None = None) -> ThresholdPlan:
    """The low-stock threshold ``threshold`` (None: back to the defaults) for the target variants at
    the given internal locations (all active ones when None)."""
    _check_threshold(threshold)
    variant_ids = bulk.target_variant_ids(db, target)
    with db.read() as session:
        rows = _threshold_rows(session, variant_ids, threshold, location_ids)
    return ThresholdPlan(rows, len(variant_ids), threshold)


def _threshold_text(threshold: int | None, description: str) -> str:
    return description or (f"Set the low-stock threshold to {threshold}" if threshold is not None
                           else "Clear the low-stock threshold")


def _write_thresholds(session: Session, actor: Actor, rows: list[ThresholdRow], description: str,
                      reverts_id: int | None, operation_id: str | None = None) -> ApplyResult:
    done = replayed(session, operation_id)   # applied before (a retry, a double click): report it, write nothing
    if done is not None:
        return done
    conflicts: list[Conflict] = []
    now = utcnow()
    entries = []
    ids = sorted({r.variant_id for r in rows})
    current = {(vid, lid): (level_id, version, old) for cond in chunked_in(session, StockLevel.variant_id, ids)
               for vid, lid, level_id, version, old in session.execute(
                   select(StockLevel.variant_id, StockLevel.location_id, StockLevel.id, StockLevel.version,
                          StockLevel.low_stock_threshold).where(cond).order_by(StockLevel.id).with_for_update())}
    table = StockLevel.__table__
    for r in sorted(rows, key=lambda r: (r.variant_id, r.location_id)):
        now_row = current.get((r.variant_id, r.location_id))
        if r.level_id is None and now_row is None:
            from backoffice.services.inventory import open_level

            open_level(session, r.variant_id, r.location_id)   # on hand 0, version 1 (no staff role inserts levels)
            level_id = session.execute(select(table.c.id).where(table.c.variant_id == r.variant_id,
                                                                table.c.location_id == r.location_id)).scalar_one()
            session.execute(table.update().where(table.c.id == level_id)
                            .values(low_stock_threshold=r.new, updated_at=now))
            entries.append((level_id, 0, 1, r))
            continue
        if now_row is None or r.level_id is None or now_row[1] != r.version:
            conflicts.append(Conflict("stock_level", now_row[0] if now_row else 0, f"SKU {r.sku} at {r.location}",
                                      "low_stock_threshold", r.old, r.new, now_row[2] if now_row else None,
                                      now_row[1] if now_row else 0))
            continue
        session.execute(table.update().where(table.c.id == r.level_id, table.c.version == r.version)
                        .values(low_stock_threshold=r.new, version=table.c.version + 1, updated_at=now))
        entries.append((r.level_id, r.version, r.version + 1, r))
    if not entries:
        return ApplyResult(None, 0, conflicts)
    changeset = Changeset(operation_id=operation_id, created_at=now, user_id=actor.user_id, username=actor.username,
                          kind="threshold", description=description[:500], row_count=len(entries), reverts_id=reverts_id)
    session.add(changeset)
    session.flush()
    session.execute(insert(ChangesetEntry.__table__), [
        {"changeset_id": changeset.id, "entity": "stock_level", "entity_id": level_id, "version_before": before,
         "version_after": after,
         "before": {"low_stock_threshold": r.old, "variant_id": r.variant_id, "location_id": r.location_id,
                    "sku": r.sku, "location": r.location} if before else {},
         "after": {"low_stock_threshold": r.new, "variant_id": r.variant_id, "location_id": r.location_id,
                   "sku": r.sku, "location": r.location}}
        for level_id, before, after, r in entries])
    audit(session, actor, "changeset", changeset.id, "threshold", None,
          {"description": description, "rows": len(entries), "conflicts": len(conflicts), "reverts": reverts_id})
    return ApplyResult(changeset.id, len(entries), conflicts)


def apply_thresholds(db: Database, actor: Actor, plan: ThresholdPlan, *, description: str = "",
                     operation_id: str | None = None) -> ApplyResult:
    text = _threshold_text(plan.threshold, description)
    return db.run_write(lambda session: _write_thresholds(session, actor, plan.rows, text, None, operation_id))


def apply_thresholds_to(db: Database, actor: Actor, target: bulk.Target, threshold: int | None,
                        location_ids: list[int] | None = None, *, previewed: bulk.Versions | None = None,
                        description: str = "", operation_id: str | None = None) -> ApplyResult:
    """Set the threshold of the target variants as one changeset, planned again inside the write.

    ``previewed`` (``ThresholdPlan.versions`` of the preview the user saw): only the levels that preview
    changed are written, and those changed since (their version moved, or a level row appeared where there
    was none) are left as they are and reported as conflicts. Without it, every level that differs now."""
    _check_threshold(threshold)
    variant_ids = bulk.target_variant_ids(db, target)

    def plan_and_write(session: Session) -> ApplyResult:
        rows = _threshold_rows(session, variant_ids, threshold, location_ids)
        if previewed is not None:
            rows = [_as_previewed(r, previewed[threshold_key(r)]) for r in rows if threshold_key(r) in previewed]
        return _write_thresholds(session, actor, rows, _threshold_text(threshold, description), None, operation_id)

    return db.run_write(plan_and_write)


def _as_previewed(row: ThresholdRow, version: int) -> ThresholdRow:
    """The row as the preview read it: no level row (version 0), or the level at that version (a level
    gone since keeps a level id no row has, so the write reports it as a conflict)."""
    if version == 0:
        return replace(row, level_id=None, version=None)
    return replace(row, level_id=row.level_id if row.level_id is not None else -1, version=version)


def revert_thresholds(db: Database, actor: Actor, changeset_id: int, *, operation_id: str | None = None) -> ApplyResult:
    """Put back the thresholds a "threshold" changeset replaced; levels changed since are conflicts.
    (``changesets.revert_changeset`` comes here for changesets of kind "threshold": registered below.)"""
    with db.read() as session:
        cs = session.get(Changeset, changeset_id)
        if cs is None or cs.kind != "threshold":
            raise NotFound(f"changeset {changeset_id} is not a threshold change")
        entries = session.scalars(select(ChangesetEntry).where(ChangesetEntry.changeset_id == changeset_id)
                                  .order_by(ChangesetEntry.id)).all()
        rows = [ThresholdRow(e.after["variant_id"], e.after["sku"], e.after["location_id"], e.after["location"],
                             e.entity_id, e.version_after, e.after["low_stock_threshold"],
                             (e.before or {}).get("low_stock_threshold")) for e in entries]
        description = f"Revert #{cs.id}: {cs.description}"
    return db.run_write(lambda session: _write_thresholds(session, actor, rows, description, changeset_id, operation_id))


register_reverter("threshold", revert_thresholds)


# -- matrix ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatrixCell:
    variant_ids: tuple[int, ...]
    versions: tuple[int, ...]
    skus: tuple[str, ...]
    prices: tuple[Decimal, ...]
    stock: int
    overrides: int                   # how many of the cell's variants keep their own price
    row: str = ""                    # the cell's value of the row attribute ("" when the variants have none)
    column: str = ""                 # and of the column attribute

    @property
    def price_min(self) -> Decimal:
        return min(self.prices)

    @property
    def price_max(self) -> Decimal:
        return max(self.prices)


@dataclass(frozen=True)
class Matrix:
    product_id: int
    handle: str
    title: str
    attributes: tuple[tuple[str, str], ...]      # (code, name) of every attribute the product's variants use
    row_attribute: str
    column_attribute: str                        # "" when the product has one attribute or none
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[MatrixCell, ...]                # the cells that hold variants, each naming its row and column
    base_price: Decimal | None = None
    _by_key: dict[tuple[str, str], MatrixCell] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {(c.row, c.column): c for c in self.cells})

    def cell(self, row: str, column: str) -> MatrixCell | None:
        return self._by_key.get((row, column))

    @property
    def variant_count(self) -> int:
        return sum(len(c.variant_ids) for c in self.cells)


def matrix(db: Database, product_id: int, row_attribute: str = "", column_attribute: str = "",
           *, include_archived: bool = False) -> Matrix:
    """One product's variants laid out by two attributes: each cell the price(s) and total stock of the
    variants with that pair of values (several when the product has a third attribute)."""
    from backoffice.services.variants.pricing import base_prices

    with db.read() as session:
        product = session.get(Product, product_id)
        if product is None:
            raise NotFound(f"product {product_id} does not exist")
        stmt = select(Variant.id, Variant.version, Variant.sku, Variant.price).where(Variant.product_id == product_id)
        if not include_archived:
            stmt = stmt.where(Variant.status != VariantStatus.ARCHIVED)
        variants = list(session.execute(stmt.order_by(Variant.position, Variant.id)))
        ids = [v[0] for v in variants]
        opts: dict[int, dict[str, str]] = defaultdict(dict)
        used: dict[str, tuple[int, str]] = {}
        order: dict[tuple[str, str], int] = {}
        for cond in chunked_in(session, VariantOption.variant_id, ids):
            for vid, code, name, apos, value, vpos in session.execute(
                    select(VariantOption.variant_id, Attribute.code, Attribute.name, Attribute.position,
                           AttributeValue.value, AttributeValue.position)
                    .join(Attribute, Attribute.id == VariantOption.attribute_id)
                    .join(AttributeValue, AttributeValue.id == VariantOption.attribute_value_id).where(cond)):
                opts[vid][code] = value
                used[code] = (apos, name)
                order[(code, value)] = vpos
        stock = {vid: int(total) for cond in chunked_in(session, StockLevel.variant_id, ids)
                 for vid, total in session.execute(select(StockLevel.variant_id, func.sum(StockLevel.on_hand))
                                                   .where(cond).group_by(StockLevel.variant_id))}
        marked = overridden(session, ids)
        base = base_prices(session, [product_id]).get(product_id)
    codes = sorted(used, key=lambda c: used[c])
    for name in (row_attribute, column_attribute):
        if name and name not in used:
            raise ValidationError([("matrix", name, f"the variants of {product.handle} have no attribute {name!r}")])
    row_attr = row_attribute or (codes[0] if codes else "")
    col_attr = column_attribute or next((c for c in codes if c != row_attr), "")
    if col_attr == row_attr:
        col_attr = ""

    def values_of(code: str) -> tuple[str, ...]:
        if not code:
            return ("",)
        found = {o.get(code, "") for o in opts.values()} | ({""} if any(code not in opts[v] for v in ids) else set())
        return tuple(sorted(found, key=lambda v: (v == "", order.get((code, v), 0), v)))

    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for vid, version, sku, price in variants:
        o = opts.get(vid, {})
        groups[(o.get(row_attr, "") if row_attr else "", o.get(col_attr, "") if col_attr else "")].append(
            (vid, version, sku, price))
    cells = tuple(MatrixCell(tuple(v[0] for v in vs), tuple(v[1] for v in vs), tuple(v[2] for v in vs),
                             tuple(v[3] for v in vs), sum(stock.get(v[0], 0) for v in vs),
                             sum(1 for v in vs if v[0] in marked), row, column)
                  for (row, column), vs in groups.items())
    return Matrix(product_id, product.handle, product.title, tuple((c, used[c][1]) for c in codes), row_attr, col_attr,
                  values_of(row_attr), values_of(col_attr), cells, base)


def set_matrix_prices(db: Database, actor: Actor, product_id: int, prices: dict[tuple[str, str], Any],
                      grid: Matrix, *, mark_override: bool = True, operation_id: str | None = None) -> ApplyResult:
    """Set the price of every variant in the given cells (as read in ``grid``: versions checked) as one
    changeset; with ``mark_override`` they keep that price when the product is repriced by rules."""
    from backoffice.models import VariantPriceOverride
    from backoffice.services.catalog import parse_money

    problems: list = []
    changes: list[RowChange] = []
    for (row, column), value in prices.items():
        cell = grid.cell(row, column)
        label = " / ".join(x for x in (row, column) if x) or grid.handle
        if cell is None:
            problems.append((f"cell {label}", "", "has no variant"))
            continue
        price = parse_money(value, f"cell {label}", "price", problems, required=True)
        if price is None:
            continue
        changes += [RowChange("variant", vid, version, {"price": price}, {"price": old})
                    for vid, version, old in zip(cell.variant_ids, cell.versions, cell.prices, strict=True)]
    if problems:
        raise ValidationError(problems)

    def write_prices(session: Session) -> ApplyResult:
        result = apply_in_session(session, actor, changes, description=f"Matrix prices of {grid.handle}",
                                  kind="edit", operation_id=operation_id)
        if mark_override and result.changeset_id is not None:
            ids = [vid for (entity, vid) in result.versions if entity == "variant"]
            have = overridden(session, ids)
            session.add_all(VariantPriceOverride(variant_id=i, created_at=utcnow(), username=actor.username)
                            for i in ids if i not in have)
        return result

    return db.run_write(write_prices)
