"""Bulk operations on the catalog: compute, preview, apply as a changeset.

An operation (raise prices 7% then round to .99, set vendor, add a tag, find and replace in titles...)
is applied to a *target*: selected variant ids, or every variant matching a grid filter, loaded here in
full rather than only the rows the grid happens to have on screen. ``plan`` computes every new value and
returns a preview (counts, a sample of old → new, the distribution of price changes, invalid rows);
``apply_plan`` takes the operation and the target again and plans them anew inside its write transaction
(the rows read locked), so a preview's rows never travel back to be written: a client keeps only the
preview's summary and ``Plan.versions`` (each changed row's version), and rows whose version moved since
the preview are reported as conflicts and left as they are. The write goes through
``changesets.apply_in_session`` (version-checked, one revertible changeset).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import Category, Product, ProductStatus, ProductTag, Variant, VariantStatus
from backoffice.services.base import Actor, ValidationError, chunked_in, jsonable
from backoffice.services.catalog_grid import VariantFilter, apply_filter
from backoffice.services.changesets import ApplyResult, Conflict, RowChange, apply_in_session, replayed
from backoffice.services.price_rules import compare_at_below_price
from backoffice.services.wording import decimal_text, money_text

MONEY_FIELDS = ("price", "compare_at_price", "cost")
PRODUCT_SET_FIELDS = ("status", "vendor", "product_type", "category_id")
VARIANT_SET_FIELDS = ("variant_status", "weight_grams")
PRODUCT_TEXT_FIELDS = ("title", "description", "seo_title", "seo_description", "vendor", "product_type")
VARIANT_TEXT_FIELDS = ("sku", "barcode")
CENT = Decimal("0.01")
CHUNK = 5000


@dataclass(frozen=True)
class PriceStep:
    """One step of a money calculation, applied in order:
    set (value), add (amount, negative subtracts), percent (+7 raises 7 %), from_cost (margin %:
    price = cost / (1 - margin)), round_ending (0.99 → nearest price ending in .99), round_step (0.05 →
    nearest multiple), floor (never below)."""

    op: str
    value: Decimal

    OPS = ("set", "add", "percent", "from_cost", "round_ending", "round_step", "floor")


FIELD_NAMES = {"price": "Price", "compare_at_price": "Compare-at price", "cost": "Cost"}


def describe_step(step: PriceStep) -> str:
    """One money step in words: "raise by 10 %", "add 2.50", "round to ending .99"."""
    v = Decimal(step.value)
    if step.op == "set":
        return f"set to {money_text(v)}"
    if step.op == "add":
        return f"{'add' if v >= 0 else 'subtract'} {money_text(abs(v))}"
    if step.op == "percent":
        return f"{'raise' if v >= 0 else 'lower'} by {decimal_text(abs(v))} %"
    if step.op == "from_cost":
        return f"from cost with a {decimal_text(v)} % margin"
    if step.op == "round_ending":
        return f"round to ending {money_text(v)[1:]}"
    if step.op == "round_step":
        return f"round to a multiple of {money_text(v)}"
    if step.op == "floor":
        return f"never below {money_text(v)}"
    return f"{step.op} {decimal_text(v)}"


@dataclass(frozen=True)
class BulkOperation:
    kind: str                       # money, set, tags_add, tags_remove, replace, category_replace, category_remove
    field: str = ""
    steps: tuple[PriceStep, ...] = ()
    value: Any = None               # for kind "set"
    tags: tuple[str, ...] = ()      # for tags_add / tags_remove
    find: str = ""
    replace: str = ""
    regex: bool = False
    case_sensitive: bool = False

    def describe(self) -> str:
        """The operation in words, as a changeset description: "Price: raise by 10 %, then round to
        ending .99" (numbers written out in full, see ``wording.decimal_text``)."""
        if self.kind == "money":
            label = FIELD_NAMES.get(self.field, self.field.replace("_", " ").capitalize())
            return f"{label}: " + ", then ".join(describe_step(s) for s in self.steps)
        if self.kind == "set":
            return f"set {self.field.replace('_', ' ')} to {self.value}"
        if self.kind in ("tags_add", "tags_remove"):
            return f"{'add' if self.kind == 'tags_add' else 'remove'} tags {', '.join(self.tags)}"
        if self.kind == "replace":
            return f"replace {self.find!r} with {self.replace!r} in {self.field.replace('_', ' ')}"
        if self.kind == "category_replace":
            return f"move products of category {self.find} to category {self.value}"
        if self.kind == "category_remove":
            return f"remove category {self.value}" if self.value is not None else "remove the category"
        return self.kind


@dataclass(frozen=True)
class Target:
    """Either explicit variant ids (a selection) or a filter (every matching row)."""

    variant_ids: tuple[int, ...] = ()
    filter: VariantFilter | None = None


Versions = dict[tuple[str, int], int]    # (entity, id) -> the version a preview read


@dataclass
class Plan:
    operation: BulkOperation
    changes: list[RowChange]
    considered: int                                  # rows looked at
    sample: list[tuple[str, str, Any, Any]]          # (row label, field, old, new), first 50
    invalid: list[tuple[str, str, str]]              # (row label, field, reason): these block the apply
    stats: dict[str, Decimal] = field(default_factory=dict)  # min/median/max change, for money
    # (row label, price after, cost after) of every changed row whose price would be below its cost: allowed,
    # but only once the user confirms it (the GUI asks; the CLI wants --allow-below-cost or a yes).
    below_cost: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)
    target: Target = field(default_factory=Target)
    entity: str = "variant"                          # the rows it changes: "variant" or "product"
    # rows of an earlier preview that changed since it (planned again for ``apply_plan``): left as they are
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def affected(self) -> int:
        return len(self.changes)

    @property
    def versions(self) -> Versions | None:
        """The version of each row the plan changes, as read: what ``apply_plan`` checks the rows against.
        None for a plan with invalid rows (it cannot be applied: ``apply_plan`` plans anew and refuses)."""
        if self.invalid:
            return None
        return {(c.entity, c.entity_id): c.expected_version for c in self.changes}

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.below_cost)


# -- money ----------------------------------------------------------------------------------------------
def compute_money(value: Decimal | None, steps: tuple[PriceStep, ...], cost: Decimal | None) -> Decimal | None:
    x = value
    for step in steps:
        v = Decimal(step.value)
        if step.op == "set":
            x = v
        elif x is None:
            continue
        elif step.op == "add":
            x = x + v
        elif step.op == "percent":
            x = x * (Decimal(100) + v) / Decimal(100)
        elif step.op == "from_cost":
            if cost is None:
                raise ValueError("has no cost to compute from")
            if v >= 100:
                raise ValueError(f"a margin of {decimal_text(v)} % is impossible")
            x = cost * Decimal(100) / (Decimal(100) - v)
        elif step.op == "round_ending":
            up = x.to_integral_value(rounding=ROUND_FLOOR) + v  # the nearest such price is this one or one below/above
            if up < x:
                up += 1
            down = up - 1
            x = up if down < 0 or (up - x) <= (x - down) else down
        elif step.op == "round_step":
            if v <= 0:
                raise ValueError("the rounding step must be positive")
            x = (x / v).quantize(Decimal(1), rounding=ROUND_HALF_UP) * v
        elif step.op == "floor":
            x = max(x, v)
        else:
            raise ValueError(f"unknown step {step.op!r}")
        x = x.quantize(CENT, rounding=ROUND_HALF_UP)
    return x


def _validate_operation(op: BulkOperation) -> None:
    problems = []
    if op.kind == "money":
        if op.field not in MONEY_FIELDS:
            problems.append(("operation", "field", f"{op.field!r} is not one of {', '.join(MONEY_FIELDS)}"))
        if not op.steps:
            problems.append(("operation", "steps", "at least one step is needed"))
        for s in op.steps:
            if s.op not in PriceStep.OPS:
                problems.append(("operation", "steps", f"unknown step {s.op!r}"))
    elif op.kind == "set":
        if op.field not in PRODUCT_SET_FIELDS + VARIANT_SET_FIELDS:
            problems.append(("operation", "field", f"{op.field!r} cannot be set in bulk"))
        if op.field == "status" and op.value not in [s.value for s in ProductStatus]:
            problems.append(("operation", "value", f"{op.value!r} is not a product status"))
        if op.field == "variant_status" and op.value not in [s.value for s in VariantStatus]:
            problems.append(("operation", "value", f"{op.value!r} is not a variant status"))
    elif op.kind in ("tags_add", "tags_remove"):
        if not op.tags or any(not t.strip() for t in op.tags):
            problems.append(("operation", "tags", "give at least one non-empty tag"))
    elif op.kind == "replace":
        if op.field not in PRODUCT_TEXT_FIELDS + VARIANT_TEXT_FIELDS:
            problems.append(("operation", "field", f"{op.field!r} is not a text field"))
        if not op.find:
            problems.append(("operation", "find", "must not be empty"))
        if op.regex:
            try:
                re.compile(op.find)
            except re.error as exc:
                problems.append(("operation", "find", f"is not a valid regular expression: {exc}"))
    elif op.kind == "category_replace":
        if not str(op.find).strip().isdigit():
            problems.append(("operation", "find", "give the category to replace"))
        if op.value is None or not str(op.value).strip().isdigit():
            problems.append(("operation", "value", "give the category to put in its place"))
    elif op.kind == "category_remove":
        if op.value is not None and not str(op.value).strip().isdigit():
            problems.append(("operation", "value", f"{op.value!r} is not a category id"))
    else:
        problems.append(("operation", "kind", f"unknown operation {op.kind!r}"))
    if problems:
        raise ValidationError(problems)


def replacer(op: BulkOperation) -> Callable[[str], str]:
    flags = 0 if op.case_sensitive else re.IGNORECASE
    pattern = re.compile(op.find if op.regex else re.escape(op.find), flags)
    replacement = op.replace if op.regex else op.replace.replace("\\", "\\\\")
    return lambda text: pattern.sub(replacement, text)


# -- targets --------------------------------------------------------------------------------------------
def target_variant_ids(db: Database, target: Target) -> list[int]:
    """The ids of the variants a target names (a selection, or every variant its filter matches)."""
    with db.read() as session:
        return _variant_ids(session, target)


def _variant_ids(session: Session, target: Target) -> list[int]:
    if target.variant_ids:
        return sorted(set(target.variant_ids))
    stmt = apply_filter(select(Variant.id).join(Product, Product.id == Variant.product_id), target.filter or VariantFilter())
    return list(session.scalars(stmt.order_by(Variant.id)))


def _changes_variants(op: BulkOperation) -> bool:
    return op.kind == "money" or op.field in VARIANT_SET_FIELDS or (op.kind == "replace" and op.field in VARIANT_TEXT_FIELDS)


# -- plan -----------------------------------------------------------------------------------------------
def plan(db: Database, op: BulkOperation, target: Target) -> Plan:
    """Compute every change the operation makes on the target, without writing anything."""
    _validate_operation(op)
    with db.read() as session:
        return _plan(session, op, target, None)


def _plan(session: Session, op: BulkOperation, target: Target, previewed: Versions | None,
          locked: dict[int, dict[str, Any]] | None = None) -> Plan:
    """The plan of ``op`` on ``target``; with ``previewed`` (the versions a preview read), only on the
    previewed rows, and those whose version moved since become conflicts. ``locked``: read the variants
    FOR UPDATE and keep their stored values there (for ``changesets.apply_in_session``)."""
    entity = "variant" if _changes_variants(op) else "product"
    if previewed is None:
        ids = _variant_ids(session, target)
    else:
        ids = sorted(i for e, i in previewed if e == entity)
    if entity == "variant":
        p = _plan_variants(session, op, ids, previewed, locked)
    else:
        p = _plan_products(session, op, ids, previewed)
    p.target = target
    return p


def _conflict(entity: str, entity_id: int, label: str, name: str, yours: Any, theirs: Any, version: int) -> Conflict:
    return Conflict(entity, entity_id, label, name, None, jsonable(yours), jsonable(theirs), version)


def _plan_variants(session: Session, op: BulkOperation, ids: list[int], previewed: Versions | None = None,
                   locked: dict[int, dict[str, Any]] | None = None) -> Plan:
    changes: list[RowChange] = []
    sample: list[tuple[str, str, Any, Any]] = []
    invalid: list[tuple[str, str, str]] = []
    conflicts: list[Conflict] = []
    deltas: list[Decimal] = []
    below_cost: list[tuple[str, Decimal, Decimal]] = []
    fix = replacer(op) if op.kind == "replace" else None
    column = {"variant_status": "status"}.get(op.field, op.field)
    # Prices repeat across a catalog (49.99 on thousands of rows): each distinct input is computed once.
    uses_cost = any(step.op == "from_cost" for step in op.steps)
    computed: dict[tuple[Any, Any], Decimal | None] = {}
    conn = session.connection()
    for cond in chunked_in(session, Variant.id, ids):
        stmt = select(Variant.id, Variant.version, Variant.sku, Variant.price, Variant.compare_at_price,
                      Variant.cost, getattr(Variant, column)).where(cond).order_by(Variant.id)
        for vid, version, sku, price, compare_at, cost, old in conn.execute(
                stmt.with_for_update() if locked is not None else stmt):
            old = old.value if hasattr(old, "value") else old
            label = f"SKU {sku}"
            stale = previewed is not None and previewed.get(("variant", vid)) != version
            try:
                if op.kind == "money":
                    key = (old, cost if uses_cost else None)
                    if key in computed:
                        new = computed[key]
                    else:
                        new = computed[key] = compute_money(old, op.steps, cost)
                elif op.kind == "replace":
                    new = fix(old) if old is not None else None  # type: ignore[misc]
                else:
                    new = op.value
            except ValueError as exc:
                if stale:
                    conflicts.append(_conflict("variant", vid, sku, column, None, old, version))
                else:
                    invalid.append((label, op.field, str(exc)))
                continue
            if stale:   # changed since the preview: left as it is, whatever the operation would make of it now
                conflicts.append(_conflict("variant", vid, sku, column, new, old, version))
                continue
            if new == old:
                continue
            if op.kind == "money":
                if new is not None and new < 0:
                    invalid.append((label, op.field, f"would become {money_text(new)}, below zero"))
                    continue
                final_price = new if op.field == "price" else price
                final_compare = new if op.field == "compare_at_price" else compare_at
                if compare_at_below_price(final_price, final_compare):
                    invalid.append((label, op.field, f"compare-at {money_text(final_compare)} would be below the price "
                                                     f"{money_text(final_price)}"))
                    continue
                if old is not None and new is not None:
                    deltas.append(new - old)
                final_cost = new if op.field == "cost" else cost
                if (op.field in ("price", "cost") and final_price is not None and final_cost is not None
                        and final_price < final_cost):
                    below_cost.append((label, final_price, final_cost))
            changes.append(RowChange("variant", vid, version, {column: new}, {column: old}))
            if locked is not None:
                locked[vid] = {"version": version, "sku": sku, "price": price, "compare_at_price": compare_at,
                               "cost": cost, column: old}
            if len(sample) < 50:
                sample.append((label, op.field, old, new))
    if op.kind == "replace" and op.field == "sku":
        uses = Counter(c.values["sku"] for c in changes)
        dupes = {s for s, n in uses.items() if n > 1}
        invalid.extend((f"variant {c.entity_id}", "sku", f"{c.values['sku']!r} would be used twice")
                       for c in changes if c.values["sku"] in dupes)
    stats = {}
    if deltas:
        stats = {"min": min(deltas), "median": Decimal(statistics.median(deltas)).quantize(CENT), "max": max(deltas)}
    return Plan(op, changes, len(ids), sample, invalid, stats, below_cost, entity="variant", conflicts=conflicts)


def _plan_products(session: Session, op: BulkOperation, variant_ids: list[int],
                   previewed: Versions | None = None) -> Plan:
    if previewed is None:
        product_ids: set[int] = set()
        for cond in chunked_in(session, Variant.id, variant_ids):
            product_ids.update(session.scalars(select(Variant.product_id).where(cond)))
        ids = sorted(product_ids)
    else:
        ids = sorted(i for e, i in previewed if e == "product")
    wanted_categories = []
    if op.kind == "set" and op.field == "category_id" and op.value is not None:
        wanted_categories = [("value", op.value)]
    elif op.kind == "category_replace":
        wanted_categories = [("find", op.find), ("value", op.value)]
    elif op.kind == "category_remove" and op.value is not None:
        wanted_categories = [("value", op.value)]
    for name, category_id in wanted_categories:
        if session.get(Category, int(category_id)) is None:
            raise ValidationError([("operation", name, f"category {category_id} does not exist")])
    column = "category_id" if op.kind.startswith("category_") else op.field
    changes: list[RowChange] = []
    sample: list[tuple[str, str, Any, Any]] = []
    invalid: list[tuple[str, str, str]] = []
    conflicts: list[Conflict] = []
    fix = replacer(op) if op.kind == "replace" else None

    def planned(pid: int, version: int, handle: str, name: str, old: Any, new: Any, shown: tuple[Any, Any]) -> None:
        if previewed is not None and previewed.get(("product", pid)) != version:
            conflicts.append(_conflict("product", pid, handle, name, new, old, version))
        elif new != old:
            changes.append(RowChange("product", pid, version, {name: new}, {name: old}))
            if len(sample) < 50:
                sample.append((f"product {handle}", name, *shown))

    for chunk in [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]:
        if op.kind in ("tags_add", "tags_remove"):
            current: dict[int, list[str]] = {pid: [] for pid in chunk}
            for cond in chunked_in(session, ProductTag.product_id, chunk):
                for pid, tag in session.execute(select(ProductTag.product_id, ProductTag.tag).where(cond)):
                    current[pid].append(tag)
            meta = [row for cond in chunked_in(session, Product.id, chunk)
                    for row in session.execute(select(Product.id, Product.version, Product.handle).where(cond))]
            wanted = {t.strip() for t in op.tags}
            for pid, version, handle in meta:
                old = sorted(current[pid])
                new = sorted(set(old) | wanted) if op.kind == "tags_add" else sorted(set(old) - wanted)
                planned(pid, version, handle, "tags", old, new, (", ".join(old), ", ".join(new)))
            continue
        rows = [row for cond in chunked_in(session, Product.id, chunk)
                for row in session.execute(select(Product.id, Product.version, Product.handle, getattr(Product, column))
                                           .where(cond).order_by(Product.id))]
        for pid, version, handle, old in rows:
            old = old.value if hasattr(old, "value") else old
            if op.kind == "category_replace":
                new = int(op.value) if old == int(op.find) else old
            elif op.kind == "category_remove":
                new = None if op.value is None or old == int(op.value) else old
            elif column == "category_id":
                new = None if op.value is None else int(op.value)
            else:
                new = fix(old or "") if fix else op.value
            stale = previewed is not None and previewed.get(("product", pid)) != version
            if column == "title" and not str(new).strip() and not stale:
                invalid.append((f"product {handle}", "title", "would become empty"))
                continue
            planned(pid, version, handle, column, old, new, (old, new))
    return Plan(op, changes, len(ids), sample, invalid, {}, entity="product", conflicts=conflicts)


def below_cost_text(p: Any, limit: int = 20) -> list[str]:
    """The below-cost rows of a plan (or of anything with a ``below_cost`` list of (row, price, cost)) in
    words, one a line: "SKU MC-S: price 18.00 is below its cost 21.00"."""
    rows = p.below_cost
    lines = [f"{label}: price {money_text(price)} is below its cost {money_text(cost)}"
             for label, price, cost in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"… and {len(rows) - limit:,} more")
    return lines


# -- apply ----------------------------------------------------------------------------------------------
def apply_plan(db: Database, actor: Actor, op: BulkOperation, target: Target, *, previewed: Versions | None = None,
               description: str = "", operation_id: str | None = None, allow_below_cost: bool = True) -> ApplyResult:
    """Apply ``op`` to ``target`` as one changeset, planned again inside the write transaction.

    ``previewed`` (``Plan.versions`` of the preview the user saw): only the rows that preview changed are
    written, and those changed since (their version moved) are left as they are and reported as
    conflicts, as are rows changed between the plan and the write. Without it, every row the operation
    changes now. Invalid rows block it; rows priced below their cost block it only when
    ``allow_below_cost`` is False (the caller has not asked the user yet)."""
    _validate_operation(op)

    def plan_and_apply(session: Session) -> ApplyResult:
        done = replayed(session, operation_id)
        if done is not None:
            return done
        locked: dict[int, dict[str, Any]] = {}
        p = _plan(session, op, target, previewed, locked)
        if p.invalid:
            raise ValidationError(p.invalid[:200])
        if p.below_cost and not allow_below_cost:
            raise ValidationError([(label, "price", f"{money_text(price)} is below its cost {money_text(cost)}; "
                                    "confirm to apply it anyway") for label, price, cost in p.below_cost[:200]])
        result = apply_in_session(session, actor, p.changes, description=description or op.describe(), kind="bulk",
                                  operation_id=operation_id,
                                  locked_variants=locked if p.entity == "variant" else None)
        result.conflicts[:0] = p.conflicts
        return result

    return db.run_write(plan_and_apply)
