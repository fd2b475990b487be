"""Dynamic variant pricing: price = the product's base price + a surcharge per attribute value.

A surcharge is an amount (XL +2.00) or a percentage of the base price (leather +15 %); a rule is
store-wide or for one product, and a product's own rule for a value replaces the store-wide one. So

    price = base + Σ amounts + base × Σ percents / 100        rounded half-up to the cent

Repricing computes that for every variant of the chosen products and applies the differences as one
changeset (previewed first, revertible later). Variants marked as price overrides, archived variants
and products without a base price are passed by and counted in the preview.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    PriceRule,
    Product,
    ProductBasePrice,
    SurchargeKind,
    Variant,
    VariantOption,
    VariantPriceOverride,
    VariantStatus,
    utcnow,
)
from backoffice.services import catalog
from backoffice.services.base import Actor, Change, NotFound, ValidationError, chunked_in
from backoffice.services.bulk import Versions
from backoffice.services.changesets import ApplyResult, RowChange, apply_changes, apply_in_session, replayed
from backoffice.services.price_rules import compare_at_below_price
from backoffice.services.variants.attributes import write_audited

CENT = Decimal("0.01")
REPRICE_TEXT = "Reprice variants by surcharge rules"


@dataclass(frozen=True)
class Surcharge:
    kind: str          # "amount" or "percent"
    amount: Decimal

    def describe(self) -> str:
        from backoffice.services.wording import decimal_text, money_text

        sign = "+" if self.amount >= 0 else "−"
        if self.kind == "percent":
            return f"{sign}{decimal_text(abs(self.amount))} %"   # "+15 %", never "+15.00 %" or "+1E+1 %"
        return f"{sign}{money_text(abs(self.amount))}"


def compute_price(base: Decimal, surcharges: Iterable[Surcharge]) -> Decimal:
    amounts = sum((s.amount for s in surcharges if s.kind == SurchargeKind.AMOUNT.value), Decimal(0))
    percents = sum((s.amount for s in surcharges if s.kind == SurchargeKind.PERCENT.value), Decimal(0))
    price = base + amounts + base * percents / Decimal(100)
    return max(price, Decimal(0)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RuleInfo:
    id: int
    attribute_code: str
    attribute_name: str
    value_id: int
    value: str
    kind: str
    amount: Decimal
    product_id: int | None
    product_handle: str
    version: int

    @property
    def surcharge(self) -> Surcharge:
        return Surcharge(self.kind, self.amount)


def list_rules(db: Database, *, product_id: int | None = None) -> list[RuleInfo]:
    """Store-wide rules, and with ``product_id`` that product's own rules too."""
    with db.read() as session:
        stmt = (select(PriceRule, AttributeValue, Attribute, Product.handle)
                .join(AttributeValue, AttributeValue.id == PriceRule.attribute_value_id)
                .join(Attribute, Attribute.id == AttributeValue.attribute_id)
                .outerjoin(Product, Product.id == PriceRule.product_id)
                .order_by(Attribute.position, AttributeValue.position, PriceRule.product_id.is_not(None), PriceRule.id))
        if product_id is not None:
            stmt = stmt.where((PriceRule.product_id.is_(None)) | (PriceRule.product_id == product_id))
        return [RuleInfo(r.id, a.code, a.name, v.id, v.value, r.kind.value, r.amount, r.product_id, handle or "",
                         r.version) for r, v, a, handle in session.execute(stmt)]


def _parse_amount(amount: Any, row: str, problems: list) -> Decimal | None:
    if isinstance(amount, float):
        problems.append((row, "amount", f"{amount!r} is a float; pass an amount as text or Decimal"))
        return None
    try:
        value = Decimal(str(amount).strip().replace("+", ""))
    except (InvalidOperation, ValueError):
        problems.append((row, "amount", f"{amount!r} is not an amount"))
        return None
    if not value.is_finite() or value != value.quantize(CENT) or abs(value) >= Decimal("10000000000"):
        problems.append((row, "amount", f"{amount!r} must be a number with at most two decimals"))
        return None
    return value.quantize(CENT)


def set_rule(db: Database, actor: Actor, *, attribute: str, value: str, kind: str, amount: Any,
             product_id: int | None = None, operation_id: str | None = None) -> Change:
    """Create or replace the surcharge of one attribute value (store-wide, or for one product)."""
    row = f"rule {attribute}={value}"
    problems: list = []
    if kind not in [k.value for k in SurchargeKind]:
        problems.append((row, "kind", f"{kind!r} is not amount or percent"))
    parsed = _parse_amount(amount, row, problems)
    if kind == "percent" and parsed is not None and parsed <= -100:
        problems.append((row, "amount", "a percentage must be above -100"))
    if problems:
        raise ValidationError(problems)

    def body(session: Session) -> Change:
        vid = session.scalar(select(AttributeValue.id).join(Attribute, Attribute.id == AttributeValue.attribute_id)
                             .where(Attribute.code == attribute, AttributeValue.value == value))
        if vid is None:
            raise ValidationError([(row, "value", f"{value!r} is not a value of attribute {attribute!r}")])
        if product_id is not None and session.get(Product, product_id) is None:
            raise NotFound(f"product {product_id} does not exist")
        scope = PriceRule.product_id.is_(None) if product_id is None else PriceRule.product_id == product_id
        rule = session.scalar(select(PriceRule).where(PriceRule.attribute_value_id == vid, scope).with_for_update())
        after = {"attribute": attribute, "value": value, "kind": kind, "amount": str(parsed), "product_id": product_id}
        if rule is None:
            rule = PriceRule(attribute_value_id=vid, product_id=product_id, kind=SurchargeKind(kind), amount=parsed)
            session.add(rule)
            session.flush()
            return Change("price_rule", rule.id, "create", rule.version, None, after)
        before = {"kind": rule.kind.value, "amount": str(rule.amount)}
        rule.kind, rule.amount = SurchargeKind(kind), parsed
        session.flush()
        return Change("price_rule", rule.id, "update", rule.version, before, after)

    return write_audited(db, actor, "set_price_rule", operation_id, body)


def delete_rule(db: Database, actor: Actor, rule_id: int, *, operation_id: str | None = None) -> Change:
    def body(session: Session) -> Change:
        rule = session.get(PriceRule, rule_id)
        if rule is None:
            raise NotFound(f"price rule {rule_id} does not exist")
        snap = {"attribute_value_id": rule.attribute_value_id, "kind": rule.kind.value, "amount": str(rule.amount),
                "product_id": rule.product_id}
        session.delete(rule)
        session.flush()
        return Change("price_rule", rule_id, "delete", None, snap, None)

    return write_audited(db, actor, "delete_price_rule", operation_id, body)


def set_base_price(db: Database, actor: Actor, product_id: int, base_price: Any, *,
                   operation_id: str | None = None) -> Change:
    """The price the product's variants start from (None removes it)."""
    problems: list = []
    price = None if base_price in (None, "") else catalog.parse_money(base_price, f"product {product_id}",
                                                                      "base_price", problems, required=True)
    if problems:
        raise ValidationError(problems)

    def body(session: Session) -> Change:
        if session.get(Product, product_id) is None:
            raise NotFound(f"product {product_id} does not exist")
        row = session.scalar(select(ProductBasePrice).where(ProductBasePrice.product_id == product_id).with_for_update())
        before = None if row is None else {"base_price": str(row.base_price)}
        if price is None:
            if row is not None:
                session.delete(row)
            return Change("product", product_id, "base_price", None, before, {"base_price": None})
        if row is None:
            row = ProductBasePrice(product_id=product_id, base_price=price)
            session.add(row)
        else:
            row.base_price = price
        session.flush()
        return Change("product", product_id, "base_price", row.version, before, {"base_price": str(price)})

    return write_audited(db, actor, "set_base_price", operation_id, body)


def base_prices(session: Session, product_ids: list[int]) -> dict[int, Decimal]:
    out: dict[int, Decimal] = {}
    for cond in chunked_in(session, ProductBasePrice.product_id, product_ids):
        out.update(session.execute(select(ProductBasePrice.product_id, ProductBasePrice.base_price).where(cond)).all())
    return out


def surcharges_by_value(session: Session, product_ids: list[int]) -> dict[int | None, dict[int, Surcharge]]:
    """{product id or None (store-wide): {attribute value id: surcharge}} for these products."""
    out: dict[int | None, dict[int, Surcharge]] = defaultdict(dict)
    stmt = select(PriceRule.product_id, PriceRule.attribute_value_id, PriceRule.kind, PriceRule.amount)
    rows = list(session.execute(stmt.where(PriceRule.product_id.is_(None))))
    for cond in chunked_in(session, PriceRule.product_id, product_ids):
        rows += list(session.execute(stmt.where(cond)))
    for pid, vid, kind, amount in rows:
        out[pid][vid] = Surcharge(kind.value, amount)
    return out


def surcharges_for(rules: dict[int | None, dict[int, Surcharge]], product_id: int,
                   value_ids: Iterable[int]) -> list[tuple[int, Surcharge]]:
    own, shared = rules.get(product_id, {}), rules.get(None, {})
    out = []
    for vid in value_ids:
        s = own.get(vid) or shared.get(vid)
        if s is not None:
            out.append((vid, s))
    return out


# -- overrides ------------------------------------------------------------------------------------------
def set_price_override(db: Database, actor: Actor, variant_ids: list[int], override: bool, *,
                       operation_id: str | None = None) -> Change:
    """Mark variants as keeping their own price (``override``) or as priced by the rules again."""
    ids = sorted(set(variant_ids))
    if not ids:
        raise ValidationError([("variants", "", "choose at least one variant")])

    def body(session: Session) -> Change:
        known = {vid for cond in chunked_in(session, Variant.id, ids) for vid in session.scalars(select(Variant.id).where(cond))}
        missing = [i for i in ids if i not in known]
        if missing:
            raise ValidationError([(f"variant {i}", "", "does not exist") for i in missing[:20]])
        marked = {vid for cond in chunked_in(session, VariantPriceOverride.variant_id, ids)
                  for vid in session.scalars(select(VariantPriceOverride.variant_id).where(cond))}
        if override:
            changed = [i for i in ids if i not in marked]
            now = utcnow()
            session.add_all(VariantPriceOverride(variant_id=i, created_at=now, username=actor.username) for i in changed)
        else:
            changed = [i for i in ids if i in marked]
            for cond in chunked_in(session, VariantPriceOverride.variant_id, changed):
                session.execute(delete(VariantPriceOverride).where(cond))
        session.flush()
        change = Change("variant_price_override", 0, "mark" if override else "unmark", None, None,
                        {"variants": len(changed), "override": override})
        change.children = [Change("variant", i, "price_override", None, {"price_override": not override},
                                  {"price_override": override}) for i in changed]
        return change

    return write_audited(db, actor, "set_price_override", operation_id, body)


def overridden(session: Session, variant_ids: list[int]) -> set[int]:
    return {vid for cond in chunked_in(session, VariantPriceOverride.variant_id, variant_ids)
            for vid in session.scalars(select(VariantPriceOverride.variant_id).where(cond))}


# -- repricing ------------------------------------------------------------------------------------------
@dataclass
class RepricePlan:
    changes: list[RowChange]
    considered: int                                       # variants looked at
    sample: list[tuple[str, Decimal, Decimal, str]]       # (SKU, old, new, how: "20.00 +2.00 +15 %"), first 200
    skipped_overrides: int = 0
    skipped_archived: int = 0
    products_without_base: list[str] = field(default_factory=list)  # handles
    invalid: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def affected(self) -> int:
        return len(self.changes)

    @property
    def versions(self) -> Versions:
        """What :func:`apply_reprice_to` checks the rows against: each changed variant's version as read."""
        return {(c.entity, c.entity_id): c.expected_version for c in self.changes}


def plan_reprice(db: Database, product_ids: list[int]) -> RepricePlan:
    """Every price change the rules make on the products' variants, nothing written."""
    with db.read() as session:
        return _plan_reprice(session, sorted(set(product_ids)))


def _plan_reprice(session: Session, ids: list[int]) -> RepricePlan:
    products = {pid: handle for cond in chunked_in(session, Product.id, ids)
                for pid, handle in session.execute(select(Product.id, Product.handle).where(cond))}
    bases = base_prices(session, ids)
    rules = surcharges_by_value(session, ids)
    variants = [row for cond in chunked_in(session, Variant.product_id, ids)
                for row in session.execute(select(Variant.id, Variant.product_id, Variant.version, Variant.sku,
                                                  Variant.price, Variant.compare_at_price, Variant.status)
                                           .where(cond).order_by(Variant.product_id, Variant.position, Variant.id))]
    vids = [r[0] for r in variants]
    options: dict[int, list[int]] = defaultdict(list)
    for cond in chunked_in(session, VariantOption.variant_id, vids):
        for vid, value_id in session.execute(select(VariantOption.variant_id, VariantOption.attribute_value_id)
                                             .where(cond)):
            options[vid].append(value_id)
    marked = overridden(session, vids)
    plan = RepricePlan([], len(variants), [])
    plan.products_without_base = sorted(products[pid] for pid in products if pid not in bases)
    for vid, pid, version, sku, price, compare_at, status in variants:
        if pid not in bases:
            continue
        if status == VariantStatus.ARCHIVED:
            plan.skipped_archived += 1
            continue
        if vid in marked:
            plan.skipped_overrides += 1
            continue
        applied = surcharges_for(rules, pid, sorted(options.get(vid, [])))
        new = compute_price(bases[pid], [s for _, s in applied])
        if new == price:
            continue
        if compare_at_below_price(new, compare_at):
            plan.invalid.append((f"SKU {sku}", "price", f"{new} would be above the compare-at price {compare_at}"))
            continue
        plan.changes.append(RowChange("variant", vid, version, {"price": new}, {"price": price}))
        if len(plan.sample) < 200:
            how = " ".join([str(bases[pid])] + [s.describe() for _, s in applied])
            plan.sample.append((sku, price, new, how))
    return plan


def apply_reprice(db: Database, actor: Actor, plan: RepricePlan, *, description: str = "",
                  operation_id: str | None = None) -> ApplyResult:
    """Write a previewed repricing as one changeset (revertible). Invalid rows block it."""
    if plan.invalid:
        raise ValidationError(plan.invalid[:200])
    return apply_changes(db, actor, plan.changes, description=description or REPRICE_TEXT, kind="reprice",
                         operation_id=operation_id)


def apply_reprice_to(db: Database, actor: Actor, product_ids: list[int], *, previewed: Versions | None = None,
                     description: str = "", operation_id: str | None = None) -> ApplyResult:
    """Reprice the products' variants as one changeset, planned again inside the write.

    ``previewed`` (``RepricePlan.versions`` of the preview the user saw): only the variants that preview
    changed are written, and those changed since (their version moved) are left as they are and reported
    as conflicts. Without it, every variant whose price differs now. Invalid rows refuse it."""
    ids = sorted(set(product_ids))

    def plan_and_apply(session: Session) -> ApplyResult:
        done = replayed(session, operation_id)
        if done is not None:
            return done
        plan = _plan_reprice(session, ids)
        if plan.invalid:
            raise ValidationError(plan.invalid[:200])
        changes = plan.changes
        if previewed is not None:
            changes = [replace(c, expected_version=previewed[(c.entity, c.entity_id)]) for c in changes
                       if (c.entity, c.entity_id) in previewed]
        return apply_in_session(session, actor, changes, description=description or REPRICE_TEXT, kind="reprice",
                                operation_id=operation_id)

    return db.run_write(plan_and_apply)
