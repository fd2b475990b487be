"""Bundles: fixed bundles of component SKUs, their pricing and derived availability; mix-and-match rules.

**A fixed bundle** is a variant (its own SKU, sold like any product) with a pricing rule and components
(variant, quantity). Its price follows the rule: ``fixed`` (the amount) or ``discount`` (the sum of its
components' prices, less ``percent_off`` %, less ``amount``; never below zero), written to the variant's
price whenever the bundle is saved. Its margin is that price less the cost of its components.

**No stock of its own**: the ledger refuses any move of a bundle SKU (:func:`refuse_bundle_moves`, called by
the inventory service before every posting). What a location can sell is derived: the minimum over the
components of (on hand − reserved) ÷ quantity, floored. An order line for a bundle is placed as lines of
its components (:func:`expand_order_lines`), each remembered in ``bundle_order_lines``; from there orders
reserve, ship and cancel component units through the ledger like any other line, so alerts and
replenishment see the components' demand.

**Rules**: a component is an existing variant that is not a bundle (so no cycles), listed once, with a
whole quantity above zero; a variant holding stock or reservations cannot become a bundle.

**Mix-and-match**: any N items from a set (products and/or categories, a category taking the ones below
it) for a price, or at a percentage off. :func:`price_mix_match` groups a basket's eligible items most
expensive first, N at a time; the items left over (fewer than N) are the cheapest ones and pay full price,
and a group that would cost more at the rule's price than at full price is not formed. A percentage is
taken of everything grouped and rounded once to the cent. This grouping gives the customer the best price
(tests/test_bundles_properties.py checks it against every possible grouping).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Bundle,
    BundleComponent,
    BundleOrderLine,
    BundlePricing,
    Category,
    Location,
    LocationKind,
    MixMatchKind,
    MixMatchRule,
    OrderLine,
    Product,
    ProductStatus,
    StockLevel,
    Variant,
)
from backoffice.services.base import (
    Actor,
    ConflictError,
    NotFound,
    ValidationError,
    audit,
    chunked_in,
    claim_operation,
    store_operation_result,
)

CENT = Decimal("0.01")
SELLING = (LocationKind.WAREHOUSE, LocationKind.STORE)


# -- values -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ComponentRow:
    variant_id: int
    sku: str
    title: str
    quantity: int
    price: Decimal
    cost: Decimal | None


@dataclass(frozen=True)
class BundleRow:
    id: int
    variant_id: int
    product_id: int
    sku: str
    title: str
    pricing: str                 # "fixed" or "discount"
    amount: Decimal              # fixed: the price; discount: an amount off
    percent_off: Decimal         # discount: a percentage off the components' prices
    price: Decimal               # the variant's price (what the store sells it at)
    rule_price: Decimal          # the price the rule gives with today's component prices
    component_price: Decimal     # the components' prices × quantities
    component_cost: Decimal | None   # None when a component has no cost
    margin: Decimal | None
    margin_percent: Decimal | None
    components: list[ComponentRow]
    available: dict[str, int]    # location code -> bundles that can be sold there
    version: int

    @property
    def available_total(self) -> int:
        return sum(self.available.values())


@dataclass(frozen=True)
class ComponentSpec:
    sku: str
    quantity: int


@dataclass(frozen=True)
class RuleRow:
    id: int
    name: str
    quantity: int
    kind: str                  # "price" (any N for amount) or "percent" (any N at amount % off)
    amount: Decimal
    product_ids: list[int]
    category_ids: list[int]
    active: bool
    version: int
    products: list[str] = field(default_factory=list)      # handles, for display
    categories: list[str] = field(default_factory=list)    # names


@dataclass(frozen=True)
class Quote:
    rule: str
    full_price: Decimal        # the basket at the variants' prices
    total: Decimal             # with the rule applied
    discount: Decimal
    groups: list[list[str]]    # SKUs of each discounted group
    full_price_skus: list[str]   # the rest, at full price


# -- parsing ------------------------------------------------------------------------------------------------
def parse_components(text: str, row: str = "bundle") -> list[ComponentSpec]:
    """``SKU-A*2; SKU-B`` (or ``SKU-A:2``) as component specs; ValidationError naming ``row``."""
    specs: list[ComponentSpec] = []
    for part in (p.strip() for p in (text or "").replace("\n", ";").split(";")):
        if not part:
            continue
        sep = "*" if "*" in part else ":" if ":" in part else None
        sku, qty = (part.rsplit(sep, 1) if sep else (part, "1"))
        try:
            quantity = int(qty.strip())
        except ValueError:
            raise ValidationError([(row, "bundle_components", f"{part!r}: the quantity {qty.strip()!r} is not a whole number")]) from None
        specs.append(ComponentSpec(sku.strip(), quantity))
    return specs


def format_components(components: list[ComponentRow] | list[tuple[str, int]]) -> str:
    pairs = [(c.sku, c.quantity) if isinstance(c, ComponentRow) else c for c in components]
    return "; ".join(f"{sku}*{q}" for sku, q in pairs)


def _money(value: Any, row: str, name: str, problems: list) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip().rstrip("%").strip()).quantize(CENT, ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        problems.append((row, name, f"{value!r} is not an amount"))
        return None
    if amount < 0:
        problems.append((row, name, f"{amount} must not be negative"))
        return None
    return amount


def rule_price(pricing: BundlePricing, amount: Decimal, percent_off: Decimal, component_price: Decimal) -> Decimal:
    if pricing is BundlePricing.FIXED:
        return amount.quantize(CENT)
    price = component_price * (Decimal(100) - percent_off) / Decimal(100) - amount
    return max(Decimal("0.00"), price.quantize(CENT, ROUND_HALF_UP))


# -- stock: what the ledger refuses, what can be sold -----------------------------------------------------------
def bundle_variant_ids(session: Session, variant_ids: list[int]) -> set[int]:
    out: set[int] = set()
    for cond in chunked_in(session, Bundle.variant_id, sorted(set(variant_ids))):
        out.update(session.scalars(select(Bundle.variant_id).where(cond)))
    return out


def refuse_bundle_moves(session: Session, variant_ids: list[int]) -> None:
    """ValidationError when a stock move names a bundle SKU: a bundle holds no stock of its own."""
    bundles = bundle_variant_ids(session, variant_ids)
    if not bundles:
        return
    skus = sorted(session.scalars(select(Variant.sku).where(Variant.id.in_(sorted(bundles)))))
    raise ValidationError([(f"SKU {sku}", "variant", "is a bundle: it holds no stock of its own; "
                            "receive, count or move its components instead") for sku in skus])


def _components_of(session: Session, bundle_ids: list[int]) -> dict[int, list[ComponentRow]]:
    out: dict[int, list[ComponentRow]] = defaultdict(list)
    for cond in chunked_in(session, BundleComponent.bundle_id, bundle_ids):
        for r in session.execute(
                select(BundleComponent.bundle_id, Variant.id, Variant.sku, Product.title, Variant.title,
                       BundleComponent.quantity, Variant.price, Variant.cost)
                .join(Variant, Variant.id == BundleComponent.component_variant_id)
                .join(Product, Product.id == Variant.product_id).where(cond).order_by(Variant.sku)):
            title = r[3] + (f" – {r[4]}" if r[4] else "")
            out[r[0]].append(ComponentRow(r[1], r[2], title, r[5], r[6], r[7]))
    return out


def _selling_locations(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Location.id, Location.code).where(
        Location.kind.in_(SELLING), Location.active.is_(True)).order_by(Location.code)).all())


def derived_availability(components: list[tuple[int, int]], levels: dict[tuple[int, int], tuple[int, int]],
                         locations: list[int]) -> dict[int, int]:
    """location -> bundles sellable there: min over components of (on hand − reserved) // quantity, never
    below zero; zero for a bundle without components."""
    out: dict[int, int] = {}
    for loc in locations:
        counts = []
        for variant_id, quantity in components:
            on_hand, reserved = levels.get((variant_id, loc), (0, 0))
            counts.append(max(0, on_hand - reserved) // quantity)
        out[loc] = min(counts) if counts else 0
    return out


def _availability(session: Session, components: dict[int, list[ComponentRow]]) -> dict[int, dict[str, int]]:
    locations = _selling_locations(session)
    variant_ids = sorted({c.variant_id for cs in components.values() for c in cs})
    levels: dict[tuple[int, int], tuple[int, int]] = {}
    for cond in chunked_in(session, StockLevel.variant_id, variant_ids):
        for v, loc, on_hand, reserved in session.execute(
                select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved).where(cond)):
            levels[(v, loc)] = (int(on_hand), int(reserved))
    out = {}
    for bundle_id, cs in components.items():
        by_loc = derived_availability([(c.variant_id, c.quantity) for c in cs], levels, list(locations))
        out[bundle_id] = {locations[loc]: n for loc, n in by_loc.items()}
    return out


# -- reads -------------------------------------------------------------------------------------------------
def _rows(session: Session, where: Any = None, text: str = "") -> list[BundleRow]:
    stmt = (select(Bundle, Variant.sku, Variant.product_id, Product.title, Variant.title, Variant.price)
            .join(Variant, Variant.id == Bundle.variant_id).join(Product, Product.id == Variant.product_id))
    if where is not None:
        stmt = stmt.where(where)
    if text.strip():
        like = f"%{text.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Variant.sku).like(like), func.lower(Product.title).like(like)))
    found = session.execute(stmt.order_by(Variant.sku)).all()
    components = _components_of(session, [r[0].id for r in found])
    available = _availability(session, {r[0].id: components.get(r[0].id, []) for r in found})
    rows = []
    for b, sku, product_id, product_title, variant_title, price in found:
        cs = components.get(b.id, [])
        component_price = sum((c.price * c.quantity for c in cs), Decimal("0.00"))
        cost = None if any(c.cost is None for c in cs) or not cs else sum(
            (c.cost * c.quantity for c in cs), Decimal("0.00"))  # type: ignore[operator]
        margin = None if cost is None else (price - cost).quantize(CENT)
        percent = None if margin is None or not price else (margin * 100 / price).quantize(Decimal("0.1"), ROUND_HALF_UP)
        rows.append(BundleRow(
            b.id, b.variant_id, product_id, sku, product_title + (f" – {variant_title}" if variant_title else ""),
            b.pricing.value, b.amount, b.percent_off, price, rule_price(b.pricing, b.amount, b.percent_off, component_price),
            component_price, cost, margin, percent, cs, available.get(b.id, {}), b.version))
    return rows


def list_bundles(db: Database, *, text: str = "") -> list[BundleRow]:
    """Every bundle by SKU (``text``: part of the SKU or title), with prices, margin and availability."""
    with db.read() as session:
        return _rows(session, text=text)


def get_bundle(db: Database, ref: str | int) -> BundleRow:
    """A bundle by its SKU or its bundle id."""
    with db.read() as session:
        where = Bundle.id == ref if isinstance(ref, int) else Variant.sku == str(ref).strip()
        rows = _rows(session, where)
        if not rows:
            raise NotFound(f"no bundle {ref}" + (": the SKU exists but is not a bundle"
                                                  if isinstance(ref, str) and session.scalar(
                                                      select(Variant.id).where(Variant.sku == ref.strip())) else ""))
        return rows[0]


# -- writes ------------------------------------------------------------------------------------------------
def _resolve_components(session: Session, specs: list[ComponentSpec], bundle_variant_id: int | None,
                        row: str) -> list[tuple[int, int]]:
    problems: list[tuple[str, str, str]] = []
    if not specs:
        problems.append((row, "components", "a bundle needs at least one component"))
    skus = [s.sku for s in specs]
    found = dict(session.execute(select(Variant.sku, Variant.id).where(Variant.sku.in_(skus))).all()) if skus else {}
    bundles = bundle_variant_ids(session, list(found.values()))
    seen: set[str] = set()
    out = []
    for s in specs:
        where = f"component {s.sku}"
        if isinstance(s.quantity, bool) or not isinstance(s.quantity, int) or s.quantity <= 0:
            problems.append((row, where, f"quantity {s.quantity!r} must be a whole number greater than zero"))
        elif s.sku in seen:
            problems.append((row, where, "is listed twice: give it once with the total quantity"))
        elif s.sku not in found:
            problems.append((row, where, "no variant has this SKU"))
        elif found[s.sku] == bundle_variant_id:
            problems.append((row, where, "is the bundle itself"))
        elif found[s.sku] in bundles:
            problems.append((row, where, "is a bundle: a component must be a product with stock of its own"))
        else:
            out.append((found[s.sku], s.quantity))
        seen.add(s.sku)
    if problems:
        raise ValidationError(problems)
    return out


def _write_components(session: Session, bundle: Bundle, components: list[tuple[int, int]]) -> None:
    session.execute(delete(BundleComponent).where(BundleComponent.bundle_id == bundle.id))
    session.add_all([BundleComponent(bundle_id=bundle.id, component_variant_id=v, quantity=q) for v, q in components])
    session.flush()


def _reprice(session: Session, bundle: Bundle) -> tuple[Decimal, Decimal]:
    """Set the bundle variant's price from its rule; (before, after)."""
    component_price = sum((p * q for p, q in session.execute(
        select(Variant.price, BundleComponent.quantity).join(BundleComponent, BundleComponent.component_variant_id == Variant.id)
        .where(BundleComponent.bundle_id == bundle.id)).all()), Decimal("0.00"))
    variant = session.get(Variant, bundle.variant_id)
    assert variant is not None
    before = variant.price
    after = rule_price(bundle.pricing, bundle.amount, bundle.percent_off, component_price)
    if before != after:
        variant.price = after
        session.flush()
    return before, after


def _snapshot(session: Session, bundle: Bundle) -> dict[str, Any]:
    comps = session.execute(select(Variant.sku, BundleComponent.quantity)
                            .join(Variant, Variant.id == BundleComponent.component_variant_id)
                            .where(BundleComponent.bundle_id == bundle.id).order_by(Variant.sku)).all()
    return {"pricing": bundle.pricing.value, "amount": str(bundle.amount), "percent_off": str(bundle.percent_off),
            "components": format_components([(s, q) for s, q in comps])}


def clean_pricing(pricing: str, amount: Any, percent_off: Any, row: str = "bundle") -> tuple[BundlePricing, Decimal, Decimal]:
    problems: list[tuple[str, str, str]] = []
    try:
        kind = BundlePricing(str(pricing).strip().lower())
    except ValueError:
        raise ValidationError([(row, "pricing", f"{pricing!r} must be fixed or discount")]) from None
    money = _money(amount if amount not in (None, "") else "0", row, "amount", problems)
    percent = _money(percent_off if percent_off not in (None, "") else "0", row, "percent_off", problems)
    if percent is not None and percent > 100:
        problems.append((row, "percent_off", f"{percent} % is more than 100 %"))
    if kind is BundlePricing.FIXED and percent:
        problems.append((row, "percent_off", "a fixed-price bundle takes no percentage off"))
    if problems:
        raise ValidationError(problems)
    return kind, money, percent  # type: ignore[return-value]


def save_in_session(session: Session, actor: Actor, *, sku: str, title: str = "", pricing: str, amount: Any = 0,
                    percent_off: Any = 0, components: list[ComponentSpec] | None, expected_version: int | None,
                    operation_id: str | None, row: str = "bundle") -> tuple[Bundle, str]:
    """Create or change the bundle of ``sku`` in the caller's transaction (the import uses it too); the
    bundle and ``create``/``update``/``unchanged``."""
    sku = (sku or "").strip()
    if not sku or len(sku) > 100:
        raise ValidationError([(row, "sku", "must be 1 to 100 characters")])
    kind, money, percent = clean_pricing(pricing, amount, percent_off, row)
    variant = session.scalar(select(Variant).where(Variant.sku == sku))
    bundle = None if variant is None else session.scalar(select(Bundle).where(Bundle.variant_id == variant.id))
    if bundle is not None and expected_version is not None and bundle.version != expected_version:
        raise ConflictError("bundle", bundle.id, sku, expected_version, bundle.version)
    if bundle is None and components is None:
        raise ValidationError([(row, "components", "a new bundle needs its components")])
    if variant is None:
        name = " ".join((title or sku).split())[:255]
        handle = "bundle-" + "".join(ch if ch.isalnum() else "-" for ch in sku.lower()).strip("-")
        if session.scalar(select(Product.id).where(Product.handle == handle)) is not None:
            handle = f"{handle}-{session.scalar(select(func.count(Product.id)))}"
        product = Product(handle=handle, title=name, status=ProductStatus.DRAFT, product_type="Bundle")
        session.add(product)
        session.flush()
        variant = Variant(product_id=product.id, sku=sku, price=Decimal("0.00"))
        session.add(variant)
        session.flush()
        audit(session, actor, "product", product.id, "create", None, {"handle": handle, "title": name, "sku": sku},
              operation_id)
    elif bundle is None:
        held = session.execute(select(func.coalesce(func.sum(func.abs(StockLevel.on_hand)), 0),
                                      func.coalesce(func.sum(StockLevel.reserved), 0))
                               .where(StockLevel.variant_id == variant.id)).one()
        if held[0] or held[1]:
            raise ValidationError([(row, "sku", f"{sku} holds stock ({held[0]} on hand, {held[1]} reserved): "
                                    "move or count it out before making it a bundle")])
        if session.scalar(select(BundleComponent.bundle_id).where(BundleComponent.component_variant_id == variant.id)
                          .limit(1)) is not None:
            raise ValidationError([(row, "sku", f"{sku} is a component of another bundle: a bundle cannot be a component")])
    resolved = None if components is None else _resolve_components(session, components, variant.id, row)
    action = "create" if bundle is None else "update"
    before = None if bundle is None else _snapshot(session, bundle)
    if bundle is None:
        bundle = Bundle(variant_id=variant.id, pricing=kind, amount=money, percent_off=percent)
        session.add(bundle)
        session.flush()
    elif (bundle.pricing, bundle.amount, bundle.percent_off) != (kind, money, percent):
        bundle.pricing, bundle.amount, bundle.percent_off = kind, money, percent
        session.flush()
    if resolved is not None:
        current = sorted((v, q) for v, q in session.execute(
            select(BundleComponent.component_variant_id, BundleComponent.quantity).where(BundleComponent.bundle_id == bundle.id)))
        if current != sorted(resolved):
            _write_components(session, bundle, resolved)
            if action == "update":
                bundle.version += 1     # components are part of the bundle: a stale editor must see a conflict
                session.flush()
    price_before, price_after = _reprice(session, bundle)
    after = dict(_snapshot(session, bundle), price=str(price_after))
    if before is not None and dict(before, price=str(price_before)) == after:
        return bundle, "unchanged"
    audit(session, actor, "bundle", bundle.id, action, None if before is None else dict(before, price=str(price_before)),
          dict(after, sku=sku), operation_id)
    return bundle, action


def save_bundle(db: Database, actor: Actor, *, sku: str, title: str = "", pricing: str, amount: Any = 0,
                percent_off: Any = 0, components: list[ComponentSpec] | None = None,
                expected_version: int | None = None, operation_id: str | None = None) -> BundleRow:
    """Create a bundle (a new SKU becomes a draft product of type Bundle; an existing SKU without stock
    becomes a bundle) or change its pricing and, when given, its components. The variant's price is set
    from the rule. A stale ``expected_version`` is a ConflictError."""

    def save(session: Session) -> BundleRow:
        previous = claim_operation(session, operation_id, "bundles.save", actor)
        if previous is not None:
            return _rows(session, Bundle.id == previous["bundle_id"])[0]
        bundle, _ = save_in_session(session, actor, sku=sku, title=title, pricing=pricing, amount=amount,
                                    percent_off=percent_off, components=components,
                                    expected_version=expected_version, operation_id=operation_id)
        store_operation_result(session, operation_id, {"bundle_id": bundle.id})
        return _rows(session, Bundle.id == bundle.id)[0]

    return db.run_write(save)


def set_components(db: Database, actor: Actor, bundle_id: int, components: list[ComponentSpec], *,
                   expected_version: int | None = None, operation_id: str | None = None) -> BundleRow:
    """Replace a bundle's components (and reprice a discount bundle)."""

    def write(session: Session) -> BundleRow:
        previous = claim_operation(session, operation_id, "bundles.set_components", actor)
        if previous is not None:
            return _rows(session, Bundle.id == bundle_id)[0]
        bundle = session.get(Bundle, int(bundle_id))
        if bundle is None:
            raise NotFound(f"no bundle {bundle_id}")
        sku = session.scalar(select(Variant.sku).where(Variant.id == bundle.variant_id))
        save_in_session(session, actor, sku=sku or "", pricing=bundle.pricing.value, amount=bundle.amount,
                        percent_off=bundle.percent_off, components=components, expected_version=expected_version,
                        operation_id=operation_id)
        store_operation_result(session, operation_id, {"bundle_id": bundle.id})
        return _rows(session, Bundle.id == bundle.id)[0]

    return db.run_write(write)


def delete_bundle(db: Database, actor: Actor, bundle_id: int, *, expected_version: int | None = None,
                  operation_id: str | None = None) -> int:
    """Remove a bundle's rule and components: its variant stays, an ordinary product again (past orders
    keep their component lines). Returns the variant id."""

    def remove(session: Session) -> int:
        previous = claim_operation(session, operation_id, "bundles.delete", actor)
        if previous is not None:
            return int(previous["variant_id"])
        bundle = session.get(Bundle, int(bundle_id))
        if bundle is None:
            raise NotFound(f"no bundle {bundle_id}")
        if expected_version is not None and bundle.version != expected_version:
            raise ConflictError("bundle", bundle.id, str(bundle.id), expected_version, bundle.version)
        before = _snapshot(session, bundle)
        variant_id = bundle.variant_id
        session.execute(delete(BundleComponent).where(BundleComponent.bundle_id == bundle.id))
        session.delete(bundle)
        session.flush()
        audit(session, actor, "bundle", bundle_id, "delete", before, None, operation_id)
        store_operation_result(session, operation_id, {"variant_id": variant_id})
        return variant_id

    return db.run_write(remove)


# -- orders ------------------------------------------------------------------------------------------------
def expand_order_lines(session: Session, lines: list[tuple[int, int, Decimal]]
                       ) -> list[tuple[int, int, Decimal, tuple[int, int, int] | None]]:
    """Order lines (variant, quantity, unit price) with each bundle line replaced by its components' lines:
    quantity × component quantity units each, the bundle's price shared by the components' prices (so the
    lines' amounts add up to the bundle's, give or take a cent of rounding per line). Each line carries
    (bundle variant, bundles, units per bundle) when it came from a bundle, else None."""
    bundles = {b.variant_id: b for b in session.scalars(select(Bundle).where(
        Bundle.variant_id.in_(sorted({v for v, _, _ in lines}))))} if lines else {}
    if not bundles:
        return [(v, q, p, None) for v, q, p in lines]
    components = _components_of(session, [b.id for b in bundles.values()])
    out: list[tuple[int, int, Decimal, tuple[int, int, int] | None]] = []
    problems = []
    for i, (v, q, p) in enumerate(lines, 1):
        bundle = bundles.get(v)
        if bundle is None:
            out.append((v, q, p, None))
            continue
        cs = components.get(bundle.id, [])
        if not cs:
            problems.append((f"line {i}", "variant_id", f"bundle {v} has no components: it cannot be sold"))
            continue
        weight = sum((c.price * c.quantity for c in cs), Decimal("0"))
        for c in cs:
            share = (c.price * c.quantity / weight) if weight else Decimal(1) / len(cs)
            unit = (p * share / c.quantity).quantize(CENT, ROUND_HALF_UP)
            out.append((c.variant_id, q * c.quantity, unit, (v, q, c.quantity)))
    if problems:
        raise ValidationError(problems)
    return out


def record_order_lines(session: Session, rows: list[tuple[int, tuple[int, int, int]]]) -> None:
    """Remember which bundle each component line (order line id, (bundle variant, bundles, per bundle)) came from."""
    session.add_all([BundleOrderLine(order_line_id=lid, bundle_variant_id=b, bundle_quantity=n, per_bundle=per)
                     for lid, (b, n, per) in rows])
    session.flush()


# -- mix-and-match ----------------------------------------------------------------------------------------------
def _rule_row(session: Session, r: MixMatchRule) -> RuleRow:
    products = [h for (h,) in session.execute(select(Product.handle).where(Product.id.in_(r.product_ids or [])))]
    cats = [n for (n,) in session.execute(select(Category.name).where(Category.id.in_(r.category_ids or [])))]
    return RuleRow(r.id, r.name, r.quantity, r.kind.value, r.amount, list(r.product_ids or []),
                   list(r.category_ids or []), r.active, r.version, sorted(products), sorted(cats))


def list_rules(db: Database) -> list[RuleRow]:
    with db.read() as session:
        return [_rule_row(session, r) for r in session.scalars(select(MixMatchRule).order_by(MixMatchRule.name))]


def _find_rule(session: Session, ref: int | str) -> MixMatchRule:
    rule = session.get(MixMatchRule, ref) if isinstance(ref, int) else session.scalar(
        select(MixMatchRule).where(func.lower(MixMatchRule.name) == str(ref).strip().lower()))
    if rule is None:
        raise NotFound(f"no mix-and-match rule {ref}")
    return rule


def save_rule(db: Database, actor: Actor, *, name: str, quantity: int, kind: str, amount: Any,
              product_ids: list[int] = (), category_ids: list[int] = (), active: bool = True,
              rule_id: int | None = None, expected_version: int | None = None,
              operation_id: str | None = None) -> RuleRow:
    """Create (no ``rule_id``) or change a mix-and-match rule: any ``quantity`` items from the products and
    categories for ``amount`` (kind ``price``) or at ``amount`` % off (kind ``percent``)."""
    row = f"rule {name!r}"
    problems: list[tuple[str, str, str]] = []
    name = " ".join((name or "").split())
    if not name or len(name) > 200:
        problems.append((row, "name", "must be 1 to 200 characters"))
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 2:
        problems.append((row, "quantity", f"{quantity!r} must be a whole number of at least 2"))
    try:
        rule_kind = MixMatchKind(str(kind).strip().lower())
    except ValueError:
        problems.append((row, "kind", f"{kind!r} must be price or percent"))
        rule_kind = None
    money = _money(amount, row, "amount", problems)
    if rule_kind is MixMatchKind.PERCENT and money is not None and money > 100:
        problems.append((row, "amount", f"{money} % is more than 100 %"))
    products, categories = sorted({int(p) for p in product_ids}), sorted({int(c) for c in category_ids})
    if not products and not categories:
        problems.append((row, "set", "name at least one product or category"))
    if problems:
        raise ValidationError(problems)

    def save(session: Session) -> RuleRow:
        previous = claim_operation(session, operation_id, "bundles.save_rule", actor)
        if previous is not None:
            return _rule_row(session, _find_rule(session, int(previous["rule_id"])))
        known_p = set(session.scalars(select(Product.id).where(Product.id.in_(products))))
        known_c = set(session.scalars(select(Category.id).where(Category.id.in_(categories))))
        missing = [(row, "product_ids", f"product {p} does not exist") for p in products if p not in known_p]
        missing += [(row, "category_ids", f"category {c} does not exist") for c in categories if c not in known_c]
        clash = session.scalar(select(MixMatchRule.id).where(func.lower(MixMatchRule.name) == name.lower(),
                                                             MixMatchRule.id != (rule_id or 0)))
        if clash is not None:
            missing.append((row, "name", "another rule has this name"))
        if missing:
            raise ValidationError(missing)
        values = {"name": name, "quantity": quantity, "kind": rule_kind, "amount": money, "product_ids": products,
                  "category_ids": categories, "active": bool(active)}
        if rule_id is None:
            rule = MixMatchRule(**values)
            session.add(rule)
            session.flush()
            audit(session, actor, "mix_match_rule", rule.id, "create", None, values, operation_id)
        else:
            rule = _find_rule(session, int(rule_id))
            if expected_version is not None and rule.version != expected_version:
                raise ConflictError("mix-and-match rule", rule.id, rule.name, expected_version, rule.version)
            before = {k: getattr(rule, k) for k in values}
            for k, v in values.items():
                setattr(rule, k, v)
            session.flush()
            audit(session, actor, "mix_match_rule", rule.id, "update", before, values, operation_id)
        store_operation_result(session, operation_id, {"rule_id": rule.id})
        return _rule_row(session, rule)

    return db.run_write(save)


def delete_rule(db: Database, actor: Actor, rule_id: int, *, operation_id: str | None = None) -> None:
    def remove(session: Session) -> None:
        if claim_operation(session, operation_id, "bundles.delete_rule", actor) is not None:
            return
        rule = _find_rule(session, int(rule_id))
        audit(session, actor, "mix_match_rule", rule.id, "delete", {"name": rule.name}, None, operation_id)
        session.delete(rule)
        session.flush()

    db.run_write(remove)


def price_mix_match(quantity: int, kind: str, amount: Decimal, items: list[tuple[str, Decimal, bool]]) -> Quote:
    """The price of a basket under one rule: ``items`` as (SKU, price, eligible). Eligible items are grouped
    most expensive first, ``quantity`` at a time; leftovers (the cheapest) and ineligible items pay full price."""
    full = sum((p for _, p, _ in items), Decimal("0.00"))
    eligible = sorted(((s, p) for s, p, ok in items if ok), key=lambda sp: (-sp[1], sp[0]))
    groups: list[list[str]] = []
    discount = Decimal("0.00")
    grouped = 0
    for start in range(0, len(eligible) - quantity + 1, quantity):
        group = eligible[start:start + quantity]
        group_sum = sum((p for _, p in group), Decimal("0.00"))
        if kind == MixMatchKind.PRICE.value and group_sum <= amount or kind != MixMatchKind.PRICE.value and amount <= 0:
            break    # groups only get cheaper from here: none would save
        groups.append([s for s, _ in group])
        discount += group_sum - amount if kind == MixMatchKind.PRICE.value else group_sum
        grouped = start + quantity
    if kind != MixMatchKind.PRICE.value:   # a percentage of everything grouped, rounded once
        discount = (discount * amount / Decimal(100)).quantize(CENT, ROUND_HALF_UP)
    rest = [s for s, _ in eligible[grouped:]] + [s for s, _, ok in items if not ok]
    return Quote("", full, full - discount, discount, groups, rest)


def quote(db: Database, rule: int | str, skus: list[str]) -> Quote:
    """The price of a basket (SKUs, repeated for several units) under one mix-and-match rule."""
    with db.read() as session:
        r = _find_rule(session, rule)
        wanted = sorted(set(skus))
        found = {row.sku: row for row in session.execute(
            select(Variant.sku, Variant.price, Variant.product_id, Category.path)
            .join(Product, Product.id == Variant.product_id).outerjoin(Category, Category.id == Product.category_id)
            .where(Variant.sku.in_(wanted)))}
    missing = [s for s in wanted if s not in found]
    if missing:
        raise ValidationError([("basket", f"SKU {s}", "no variant has this SKU") for s in missing])
    products, categories = set(r.product_ids or []), {int(c) for c in (r.category_ids or [])}

    def eligible(sku: str) -> bool:
        row = found[sku]
        if row.product_id in products:
            return True
        path_ids = {int(x) for x in (row.path or "").split("/") if x}
        return bool(path_ids & categories)

    result = price_mix_match(r.quantity, r.kind.value, r.amount, [(s, found[s].price, eligible(s)) for s in skus])
    return Quote(r.name, result.full_price, result.total, result.discount, result.groups, result.full_price_skus)


def store_line_ids(db: Database, order_id: int, store_variant_ids: list[int]) -> list[int | None]:
    """Our order line for each line of a store's order (its variant ids, in the store's order), once placed:
    a bundle's line was placed as its components' lines, which match no store line (None); every other
    line is ours in the same order."""
    with db.read() as session:
        rows = session.execute(select(OrderLine.id, BundleOrderLine.bundle_variant_id)
                               .outerjoin(BundleOrderLine, BundleOrderLine.order_line_id == OrderLine.id)
                               .where(OrderLine.order_id == order_id).order_by(OrderLine.id)).all()
    plain = iter([line_id for line_id, bundle in rows if bundle is None])
    expanded = {bundle for _, bundle in rows if bundle is not None}
    return [None if v in expanded else next(plain, None) for v in store_variant_ids]
