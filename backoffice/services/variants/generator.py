"""The combination generator: every combination of the chosen attribute values, for one product or many.

``plan_generation`` (nothing written) lists, per product, the combinations to create with their SKU
and price, the ones that already exist (kept: running the generator again adds only what is missing),
and with ``prune`` the existing variants whose combination is no longer chosen: archived when they
have stock or sales, deleted when they have neither. Every SKU is checked against the whole catalog
and within the batch; a clash is an error naming the product and the combination.
``generate`` plans again inside one transaction and writes it as one changeset (reverting it archives
the created variants).

SKU patterns: ``{handle}``, ``{title}`` and attribute codes (``{size}``, ``{color}``), each optionally
cut to its first N characters with ``:N`` (``{color:3}``). Values are upper-cased and sanitised:
accents dropped, anything but letters and digits becomes a dash.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Product,
    StockLevel,
    Variant,
    VariantOption,
    VariantStatus,
    utcnow,
)
from backoffice.services import catalog
from backoffice.services.base import (
    Actor,
    ValidationError,
    audit,
    chunked_in,
    claim_operation,
    store_operation_result,
)
from backoffice.services.changesets import RowChange, apply_in_session
from backoffice.services.variants import pricing
from backoffice.services.variants.attributes import get_template, resolve_values
from backoffice.services.variants.sku_pattern import SkuPattern

@dataclass(frozen=True)
class NewVariant:
    sku: str
    options: dict[str, str]          # attribute code -> value, in attribute order
    price: Decimal | None            # None only in a plan with a problem (no price to give it)
    value_ids: tuple[int, ...]

    @property
    def title(self) -> str:
        return " / ".join(self.options.values())


@dataclass(frozen=True)
class RemovedVariant:
    variant_id: int
    sku: str
    title: str
    action: str                      # "archive" (has stock or sales) or "delete"
    version: int
    status: str


@dataclass
class ProductGeneration:
    product_id: int
    handle: str
    title: str
    create: list[NewVariant] = field(default_factory=list)
    existing: int = 0                # chosen combinations the product already has
    remove: list[RemovedVariant] = field(default_factory=list)
    other: int = 0                   # variants with other attributes than the chosen ones: left as they are


@dataclass
class GenerationPlan:
    products: list[ProductGeneration]
    combinations: int                # per product, after exclusions
    excluded: int                    # per product
    problems: list[tuple[str, str, str]]

    @property
    def to_create(self) -> int:
        return sum(len(p.create) for p in self.products)

    @property
    def existing(self) -> int:
        return sum(p.existing for p in self.products)

    @property
    def other(self) -> int:
        return sum(p.other for p in self.products)

    @property
    def to_archive(self) -> int:
        return sum(1 for p in self.products for r in p.remove if r.action == "archive")

    @property
    def to_delete(self) -> int:
        return sum(1 for p in self.products for r in p.remove if r.action == "delete")

    def rows(self) -> list[tuple[str, str, str, Decimal | None, str]]:
        """(product handle, options, SKU, price, action) for a preview list."""
        out: list[tuple[str, str, str, Decimal | None, str]] = []
        for p in self.products:
            out += [(p.handle, n.title, n.sku, n.price, "create") for n in p.create]
            out += [(p.handle, r.title, r.sku, None, r.action) for r in p.remove]
        return out


@dataclass(frozen=True)
class GenerationResult:
    changeset_id: int | None
    created: int
    archived: int
    deleted: int
    existing: int
    skus: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class GenerationRequest:
    product_ids: tuple[int, ...]
    options: dict[str, list[str]]                    # attribute code -> chosen values
    exclusions: tuple[dict[str, str], ...] = ()      # partial combinations: {"color": "Red", "size": "XS"}
    sku_pattern: str = ""
    price: Decimal | str | None = None               # for products without a base price
    prune: bool = False                              # remove variants whose combination is not chosen

    @classmethod
    def from_template(cls, db: Database, template_id: int, product_ids: list[int], **overrides: Any) -> GenerationRequest:
        t = get_template(db, template_id)
        values = {"options": t.options, "exclusions": tuple(t.exclusions), "sku_pattern": t.sku_pattern} | overrides
        return cls(tuple(product_ids), **values)


def _excluded(combo: dict[str, str], exclusions: tuple[dict[str, str], ...]) -> bool:
    return any(ex and all(combo.get(k) == v for k, v in ex.items()) for ex in exclusions)


def _blocking_references() -> list[Any]:
    """Columns of every table whose rows keep a variant from being deleted (a foreign key to variants
    without ON DELETE CASCADE / SET NULL): the ledger, sales, transfers, counts, purchase orders… Read
    from the models, so a table added later counts too. Stock levels are looked at apart (below)."""
    from backoffice.models import Base

    out = []
    for table in Base.metadata.sorted_tables:
        if table.name == StockLevel.__tablename__:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name == Variant.__tablename__ and (fk.ondelete or "").upper() not in ("CASCADE", "SET NULL"):
                out.append(fk.parent)
    return out


def _has_history(session: Session, variant_ids: list[int]) -> set[int]:
    """Variants with stock now, or any ledger line, sale, transfer, count or order: they are archived,
    not deleted. (Stock level rows at zero do not count: they are deleted with the variant.)"""
    out: set[int] = set()
    checks: list[tuple[Any, Any]] = [(StockLevel.variant_id, (StockLevel.on_hand != 0) | (StockLevel.reserved != 0))]
    checks += [(column, None) for column in _blocking_references()]
    for column, extra in checks:
        for cond in chunked_in(session, column, variant_ids):
            stmt = select(column).where(cond).distinct()
            if extra is not None:
                stmt = stmt.where(extra)
            out.update(session.scalars(stmt))
    return out


def _plan(session: Session, request: GenerationRequest) -> GenerationPlan:
    problems: list = []
    product_ids = sorted(set(request.product_ids))
    if not product_ids:
        problems.append(("products", "", "choose at least one product"))
    if not request.options:
        problems.append(("options", "", "choose at least one attribute and its values"))
    resolved = resolve_values(session, request.options, problems)
    pattern = SkuPattern(request.sku_pattern or "{handle}-" + "-".join(f"{{{a.code}}}" for a, _ in resolved))
    try:
        pattern.check({a.code for a, _ in resolved})
    except ValidationError as exc:
        problems.extend(exc.problems)
    fixed_price = None
    if request.price not in (None, ""):
        fixed_price = catalog.parse_money(request.price, "generator", "price", problems, required=True)
    if problems:
        return GenerationPlan([], 0, 0, problems)

    combos: list[tuple[dict[str, str], tuple[int, ...]]] = []
    excluded = 0
    for picked in itertools.product(*[values for _, values in resolved]):
        combo = {a.code: v.value for (a, _), v in zip(resolved, picked, strict=True)}
        if _excluded(combo, request.exclusions):
            excluded += 1
            continue
        combos.append((combo, tuple(sorted(v.id for v in picked))))
    attribute_ids = {a.id for a, _ in resolved}

    products = {p.id: p for cond in chunked_in(session, Product.id, product_ids)
                for p in session.scalars(select(Product).where(cond))}
    for pid in product_ids:
        if pid not in products:
            problems.append((f"product {pid}", "", "does not exist"))
    bases = pricing.base_prices(session, product_ids)
    rules = pricing.surcharges_by_value(session, product_ids)
    variants = [row for cond in chunked_in(session, Variant.product_id, product_ids)
                for row in session.execute(select(Variant.id, Variant.product_id, Variant.sku, Variant.title,
                                                  Variant.version, Variant.status).where(cond).order_by(Variant.id))]
    option_rows: dict[int, dict[int, int]] = {}
    for cond in chunked_in(session, VariantOption.variant_id, [v[0] for v in variants]):
        for vid, aid, value_id in session.execute(select(VariantOption.variant_id, VariantOption.attribute_id,
                                                         VariantOption.attribute_value_id).where(cond)):
            option_rows.setdefault(vid, {})[aid] = value_id
    by_product: dict[int, list[Any]] = {}
    for row in variants:
        by_product.setdefault(row[1], []).append(row)

    plans: list[ProductGeneration] = []
    batch_skus: dict[str, str] = {}
    for pid in product_ids:
        product = products.get(pid)
        if product is None:
            continue
        plan = ProductGeneration(pid, product.handle, product.title)
        have: dict[tuple[int, ...], Any] = {}
        same_dimensions: list[Any] = []
        for row in by_product.get(pid, []):
            opts = option_rows.get(row[0], {})
            if set(opts) == attribute_ids:
                have[tuple(sorted(opts.values()))] = row
                same_dimensions.append(row)
            elif row[5] != VariantStatus.ARCHIVED:
                plan.other += 1
        wanted = set()
        for combo, key in combos:
            wanted.add(key)
            if key in have:
                plan.existing += 1
                continue
            where = f"product {product.handle}, {' / '.join(combo.values())}"
            sku = pattern.render({"handle": product.handle, "title": product.title, **combo})
            if not catalog.SKU_RE.match(sku) or len(sku) > 100:
                problems.append((where, "sku", f"{sku!r} is not a valid SKU (letters, digits, . _ / -; at most 100)"))
            elif sku in batch_skus:
                problems.append((where, "sku", f"{sku!r} is also generated for {batch_skus[sku]}"))
            batch_skus.setdefault(sku, where)
            price: Decimal | None
            if pid in bases:
                price = pricing.compute_price(bases[pid], [s for _, s in pricing.surcharges_for(rules, pid, key)])
            elif fixed_price is not None:
                price = fixed_price
            else:
                problem = (f"product {product.handle}", "price", "has no base price: set one or give a price")
                if problem not in problems:
                    problems.append(problem)
                price = None
            plan.create.append(NewVariant(sku, combo, price, key))
        if request.prune:
            gone = [row for row in same_dimensions if tuple(sorted(option_rows[row[0]].values())) not in wanted
                    and row[5] != VariantStatus.ARCHIVED]
            history = _has_history(session, [row[0] for row in gone])
            plan.remove = [RemovedVariant(r[0], r[2], r[3], "archive" if r[0] in history else "delete", r[4],
                                          r[5].value) for r in gone]
        plans.append(plan)
    if batch_skus:
        taken = {sku for cond in chunked_in(session, Variant.sku, list(batch_skus))
                 for sku in session.scalars(select(Variant.sku).where(cond))}
        for sku in sorted(taken):
            problems.append((batch_skus[sku], "sku", f"{sku!r} is already used by another variant in the catalog"))
    return GenerationPlan(plans, len(combos), excluded, problems)


def plan_generation(db: Database, request: GenerationRequest) -> GenerationPlan:
    """What ``generate`` would do, with every problem listed; nothing is written."""
    with db.read() as session:
        return _plan(session, request)


def generate(db: Database, actor: Actor, request: GenerationRequest, *, operation_id: str | None = None,
             description: str = "") -> GenerationResult:
    """Create the missing combinations (and with ``prune`` archive or delete the unchosen ones) in one
    transaction, recorded as one changeset. Any problem refuses the whole run (ValidationError)."""

    def generate_in(session: Session) -> GenerationResult:
        previous = claim_operation(session, operation_id, "generate_variants", actor)
        if previous is not None:
            return GenerationResult(**previous)
        # two generators on one product queue here instead of both adding the same combinations
        ids = sorted(set(request.product_ids))
        for cond in chunked_in(session, Product.id, ids):
            session.execute(select(Product.id).where(cond).order_by(Product.id).with_for_update()).all()
        plan = _plan(session, request)
        if plan.problems:
            raise ValidationError(plan.problems)
        positions = dict(session.execute(select(Variant.product_id, func.max(Variant.position))
                                         .where(Variant.product_id.in_([p.product_id for p in plan.products]))
                                         .group_by(Variant.product_id)).all())
        now = utcnow()
        rows, keys = [], []
        for p in plan.products:
            position = positions.get(p.product_id, -1)
            for n in p.create:
                position += 1
                rows.append({"product_id": p.product_id, "sku": n.sku, "title": n.title[:255], "price": n.price,
                             "status": VariantStatus.ACTIVE.value, "position": position, "version": 1,
                             "created_at": now, "updated_at": now})
                keys.append(n)
        created: list[int] = []
        if rows:
            table = Variant.__table__
            ids_by_sku = {}
            for start in range(0, len(rows), 1000):
                chunk = rows[start:start + 1000]
                result = session.execute(insert(table).returning(table.c.id, table.c.sku, sort_by_parameter_order=True),
                                         chunk)
                ids_by_sku.update({sku: vid for vid, sku in result})
            options = []
            for n in keys:
                vid = ids_by_sku[n.sku]
                created.append(vid)
                attribute_of = _attribute_ids(session, n.value_ids)
                options += [{"variant_id": vid, "attribute_id": attribute_of[value_id], "attribute_value_id": value_id}
                            for value_id in n.value_ids]
            for start in range(0, len(options), 2000):
                session.execute(insert(VariantOption.__table__), options[start:start + 2000])
        archive = [RowChange("variant", r.variant_id, r.version, {"status": VariantStatus.ARCHIVED.value},
                             {"status": r.status}) for p in plan.products for r in p.remove if r.action == "archive"]
        doomed = [r for p in plan.products for r in p.remove if r.action == "delete"]
        for r in doomed:
            audit(session, actor, "variant", r.variant_id, "delete", {"sku": r.sku, "title": r.title}, None, operation_id)
        doomed_ids = [r.variant_id for r in doomed]
        for cond in chunked_in(session, StockLevel.variant_id, doomed_ids):   # empty level rows only: stock that
            session.execute(delete(StockLevel).where(cond, StockLevel.on_hand == 0, StockLevel.reserved == 0))
            # arrived meanwhile keeps its row, and the foreign key then refuses the delete (nothing is lost)
        for cond in chunked_in(session, VariantOption.variant_id, doomed_ids):
            session.execute(delete(VariantOption).where(cond))
        for cond in chunked_in(session, Variant.id, doomed_ids):
            session.execute(delete(Variant).where(cond))
        changeset_id = None
        if created or archive:
            n = len(plan.products)
            text = description or f"Generate variants for {n} product{'s' if n != 1 else ''}"
            applied = apply_in_session(session, actor, archive, description=text, kind="generate",
                                       created_variants=sorted(created))
            changeset_id = applied.changeset_id
        result = GenerationResult(changeset_id, len(created), len(archive), len(doomed), plan.existing,
                                  [n.sku for n in keys])
        store_operation_result(session, operation_id, result.to_dict())
        return result

    try:
        return db.run_write(generate_in)
    except IntegrityError as exc:
        text = str(exc.orig).splitlines()[0]
        if "sku" in text.lower():   # a concurrent writer took one of the SKUs first
            raise ValidationError([("generator", "sku", f"a SKU was taken meanwhile: {text}")]) from exc
        raise ValidationError([("generator", "", f"rejected by the database: {text}")]) from exc


_ATTRIBUTE_CACHE_KEY = "_variant_generator_attribute_of"


def _attribute_ids(session: Session, value_ids: tuple[int, ...]) -> dict[int, int]:
    """The attribute of each value, cached on the session for the length of the transaction."""
    from backoffice.models import AttributeValue

    cache: dict[int, int] = session.info.setdefault(_ATTRIBUTE_CACHE_KEY, {})
    missing = [v for v in value_ids if v not in cache]
    if missing:
        cache.update(session.execute(select(AttributeValue.id, AttributeValue.attribute_id)
                                     .where(AttributeValue.id.in_(missing))).all())
    return cache
