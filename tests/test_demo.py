"""The demo store generator: shape, invariants, determinism, refusal, cancellation, audit — on both engines."""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import re
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Table, func, select, text

from backoffice.db import Database
from backoffice.models import (
    INTERNAL_KINDS,
    Attribute,
    AttributeValue,
    AuditEntry,
    Base,
    Bundle,
    BundleComponent,
    BundleOrderLine,
    Category,
    Customer,
    ImageVersion,
    Location,
    LocationKind,
    MixMatchRule,
    Order,
    OrderLine,
    OrderReservation,
    Product,
    ProductImage,
    ProductImageVariant,
    ProductStatus,
    ProductTag,
    Return,
    ReturnLine,
    Shipment,
    ShipmentLine,
    StockLevel,
    StockMove,
    StockOperation,
    Supplier,
    Variant,
    VariantOption,
)
from backoffice.services.base import Actor, ValidationError
from backoffice.services.demo import DemoCancelled, DemoSummary, generate_demo
from backoffice.services.users import ensure_user
from tests.history_support import rewriting_history

N = 200
ANCHOR = dt.date(2025, 6, 30)
DEMO_MODELS = [Category, Attribute, AttributeValue, Location, Supplier, Product, ProductTag, Variant, VariantOption,
               StockOperation, StockLevel, StockMove, Customer, Order, OrderLine, OrderReservation, Shipment,
               ShipmentLine, Return, ReturnLine, Bundle, BundleComponent, BundleOrderLine, MixMatchRule]
IMAGE_MODELS = [ProductImage, ImageVersion, ProductImageVariant]


def _generate(db: Database, actor: Actor, **kw) -> DemoSummary:
    kw.setdefault("products", N)
    kw.setdefault("anchor", ANCHOR)
    return generate_demo(db, actor, **kw)


def _count(db: Database, model) -> int:  # type: ignore[no-untyped-def]
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _ean13_ok(code: str) -> bool:
    if not re.fullmatch(r"\d{13}", code):
        return False
    digits = [int(c) for c in code]
    return (sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits[:12])) + digits[12]) % 10 == 0


def _fingerprint(db: Database, models=DEMO_MODELS) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A hash of every row of each table, in primary-key order, as the application reads them. A
    timestamp after the history (stamped by the order and returns services when the demo ran them, like
    the audit row's) stands as "when it ran": everything else must be the same."""
    after_history = dt.datetime.combine(ANCHOR + dt.timedelta(days=1), dt.time(), dt.timezone.utc)

    def value(v: object) -> object:
        return "<when the services ran>" if isinstance(v, dt.datetime) and v >= after_history else v

    out = {}
    with db.read() as s:
        for model in models:
            table: Table = model.__table__  # type: ignore[assignment]
            h = hashlib.sha256()
            for row in s.execute(select(table).order_by(*table.primary_key.columns)):
                h.update(repr(tuple(value(v) for v in row)).encode())
            out[table.name] = h.hexdigest()
    return out


def _wipe(db: Database) -> None:
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.execute(Category.__table__.update().values(parent_id=None))  # the tree refers to itself
            for model in reversed(DEMO_MODELS + IMAGE_MODELS):
                conn.execute(model.__table__.delete())
        else:
            names = ", ".join(m.__tablename__ for m in DEMO_MODELS + IMAGE_MODELS)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def _schema_diff(db: Database) -> list:  # type: ignore[type-arg]
    with db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


# -- counts and catalog ---------------------------------------------------------------------------------------
def test_counts_match_summary_and_tables(db: Database, actor: Actor) -> None:
    summary = _generate(db, actor)
    assert summary.products == N
    for field, model in [("categories", Category), ("products", Product), ("variants", Variant),
                         ("locations", Location), ("suppliers", Supplier), ("customers", Customer),
                         ("orders", Order), ("order_lines", OrderLine), ("shipments", Shipment),
                         ("returns", Return)]:
        assert getattr(summary, field) == _count(db, model), field
    # The bulk load's ledger, then what the services posted after it: a move per shipped line and per
    # received return line; a return received where its variant had no level yet opens one.
    with db.read() as s:
        shipped_lines = s.scalar(select(func.count()).select_from(ShipmentLine))
        returned_lines = s.scalar(select(func.count()).select_from(ReturnLine).join(Return)
                                  .where(Return.state == "received"))
        opened = s.scalar(select(func.count()).select_from(StockLevel).where(
            StockLevel.created_at >= dt.datetime.combine(ANCHOR + dt.timedelta(days=1), dt.time(), dt.timezone.utc)))
        restocked_into = {(v, loc) for v, loc in s.execute(
            select(StockMove.variant_id, StockMove.to_location_id).join(StockOperation)
            .where(StockOperation.reason == "return"))}
    assert summary.stock_moves + shipped_lines + returned_lines == _count(db, StockMove)
    assert summary.stock_levels + opened == _count(db, StockLevel) and opened <= len(restocked_into)
    assert _count(db, Product) == N
    # of the N products, the last ones are bundles (one variant each) and a mix-and-match rule comes with them
    assert summary.bundles == _count(db, Bundle) == 3 and summary.mix_and_match == _count(db, MixMatchRule) == 1
    with db.read() as s:
        bundle_products = set(s.scalars(select(Variant.product_id).join(Bundle, Bundle.variant_id == Variant.id)))
    assert bundle_products == set(range(N - summary.bundles + 1, N + 1))
    assert 7 * N <= summary.variants <= 13 * N
    assert 30 <= summary.categories <= 60
    assert 5 <= summary.locations <= 10 + 1
    assert 20 <= summary.suppliers <= 60
    assert 7 * N <= summary.order_lines <= 13 * N
    assert summary.orders < summary.order_lines
    assert summary.seconds > 0
    assert summary.to_dict()["variants"] == summary.variants


def test_catalog_is_well_formed(db: Database, actor: Actor) -> None:
    _generate(db, actor)
    with db.read() as s:
        cats = {c.id: c for c in s.scalars(select(Category))}
        depth = {}
        for c in cats.values():
            parent = cats.get(c.parent_id) if c.parent_id else None
            assert c.path == (parent.path if parent else "/") + f"{c.id}/"
            depth[c.id] = c.path.count("/") - 1
        assert max(depth.values()) in (2, 3) and min(depth.values()) == 1
        products = list(s.scalars(select(Product)))
        assert len({p.handle for p in products}) == N
        assert all(p.category_id in cats and p.title.count(" ") >= 2 and p.vendor and p.product_type
                   and p.seo_title and p.seo_description and p.description for p in products)
        # Every product sits in a leaf category.
        parents = {c.parent_id for c in cats.values()}
        assert all(p.category_id not in parents for p in products)
        status = collections.Counter(p.status for p in products)
        assert status[ProductStatus.ACTIVE] > 0.7 * N and status[ProductStatus.DRAFT] + status[ProductStatus.ARCHIVED] > 0
        vendors = {p.vendor for p in products}
        assert 15 <= len(vendors) <= 40
        tags = collections.Counter(s.scalars(select(ProductTag.product_id)))
        assert max(tags.values()) <= 3 and 0 < len(tags) < N   # some products have no tag
        for p in products:
            assert p.created_at.tzinfo is not None and p.created_at <= p.updated_at and p.version == 1

        variants = list(s.scalars(select(Variant)))
        assert len({v.sku for v in variants}) == len(variants)
        assert all(v.barcode and _ean13_ok(v.barcode) for v in variants)
        # A bundle is priced by its rule (checked below), has no options and is sold at less than its parts.
        bundled = set(s.scalars(select(Bundle.variant_id)))
        assert len(bundled) == 3
        for v in variants:
            assert v.price.as_tuple().exponent == -2
            if v.id in bundled:
                assert v.compare_at_price is not None and v.price < v.compare_at_price
            else:
                assert str(v.price)[-3:] in (".99", ".95"), v.price
            assert v.compare_at_price is None or v.compare_at_price >= v.price
            assert v.cost is not None and Decimal("0.25") * v.price <= v.cost < v.price
            assert v.weight_grams and v.weight_grams > 0 and v.title and v.version == 1
        assert any(v.compare_at_price is not None for v in variants)
        assert any(v.compare_at_price is None for v in variants)

        # One option row per attribute of the product, with values of that attribute.
        value_attr = dict(s.execute(select(AttributeValue.id, AttributeValue.attribute_id)).all())
        options: dict[int, dict[int, int]] = collections.defaultdict(dict)
        for vid, aid, val in s.execute(select(VariantOption.variant_id, VariantOption.attribute_id,
                                              VariantOption.attribute_value_id)):
            assert value_attr[val] == aid
            options[vid][aid] = val
        attrs_of_product: dict[int, set[int]] = collections.defaultdict(set)
        for v in variants:
            attrs_of_product[v.product_id] |= set(options[v.id])
        for v in variants:
            if v.id in bundled:
                assert options[v.id] == {}
                continue
            assert set(options[v.id]) == attrs_of_product[v.product_id] and len(options[v.id]) >= 2
        # Variants of one product differ in their options.
        combos = collections.Counter((v.product_id, tuple(sorted(options[v.id].items()))) for v in variants)
        assert max(combos.values()) == 1
        codes = set(s.scalars(select(Attribute.code)))
        assert {"size", "colour", "material"} <= codes
        sizes = list(s.scalars(select(AttributeValue.value).join(Attribute).where(Attribute.code == "size")
                               .order_by(AttributeValue.position)))
        assert sizes.index("XS") < sizes.index("M") < sizes.index("XXL")


# -- stock ----------------------------------------------------------------------------------------------------
def test_ledger_invariant_holds(db: Database, actor: Actor) -> None:
    summary = _generate(db, actor, seed=3)
    with db.read() as s:
        kind = {loc.id: loc.kind for loc in s.scalars(select(Location))}
        kinds = collections.Counter(kind.values())
        assert kinds[LocationKind.WAREHOUSE] >= 2 and kinds[LocationKind.STORE] >= 1
        for k in (LocationKind.TRANSIT, LocationKind.SUPPLIER, LocationKind.CUSTOMER, LocationKind.ADJUSTMENT):
            assert kinds[k] == 1
        levels = {(sl.variant_id, sl.location_id): sl for sl in s.scalars(select(StockLevel))}
        ledger: dict[tuple[int, int], int] = collections.defaultdict(int)
        for m in s.scalars(select(StockMove)):
            assert m.quantity > 0 and m.from_location_id != m.to_location_id
            ledger[(m.variant_id, m.to_location_id)] += m.quantity
            ledger[(m.variant_id, m.from_location_id)] -= m.quantity
        # Every (variant, internal location) pair: on hand == ledger sum, never negative.
        internal_pairs = {pair for pair in ledger if kind[pair[1]] in INTERNAL_KINDS} | set(levels)
        for pair in internal_pairs:
            if kind[pair[1]] is LocationKind.ADJUSTMENT:   # damaged returns written off
                continue
            assert kind[pair[1]] in (LocationKind.WAREHOUSE, LocationKind.STORE), pair
            level = levels.get(pair)
            on_hand = level.on_hand if level else 0
            assert on_hand == ledger.get(pair, 0) >= 0, pair
        assert sum(ledger.values()) == 0  # conservation over all locations
        per_variant = collections.Counter(v for v, _ in levels)
        assert set(per_variant.values()) <= {1, 2, 3}
        bundled = set(s.scalars(select(Bundle.variant_id)))
        assert len(bundled) == summary.bundles > 0
        assert len(per_variant) == summary.variants - summary.bundles and not bundled & set(per_variant)
        assert not bundled & {v for v, _ in ledger}   # a bundle holds no stock: no level, no move
        on_hand = [sl.on_hand for sl in levels.values()]
        assert 0 < sum(q == 0 for q in on_hand) < 0.25 * len(on_hand)
        assert sum(1 <= q <= 3 for q in on_hand) > 0
        assert any(sl.low_stock_threshold is not None for sl in levels.values())
        # A hand-set reorder point sits only on a variant that sells (a buyer does not pin a minimum on a
        # line that never moves), and it is the exception: replenishment computes the rest from demand.
        sold = {m.variant_id for m in s.scalars(select(StockMove)) if kind[m.to_location_id] is LocationKind.CUSTOMER}
        hand_set = [sl for sl in levels.values() if sl.reorder_point is not None]
        assert len(hand_set) < 0.1 * len(levels)
        assert all(sl.variant_id in sold for sl in hand_set)
        assert any(sl.on_hand <= sl.low_stock_threshold for sl in levels.values() if sl.low_stock_threshold is not None)
        ops = {op.id: op for op in s.scalars(select(StockOperation))}
        stocked = {loc for _, loc in levels}
        reasons = collections.Counter(op.reason for op in ops.values())
        assert reasons["opening_balance"] == len(stocked) and reasons["receipt"] > 0 and reasons["sale"] > 0
        assert set(reasons) == {"opening_balance", "receipt", "sale", "return"}
        codes = {loc.id: loc.code for loc in s.scalars(select(Location))}
        op_location: dict[int, int] = {}
        for m in s.scalars(select(StockMove)):
            op = ops[m.operation_pk]
            if op.reason == "sale":
                assert kind[m.from_location_id] in INTERNAL_KINDS and kind[m.to_location_id] is LocationKind.CUSTOMER
                continue
            if op.reason == "return":   # back from the customer: restocked, or written off when damaged
                assert kind[m.from_location_id] is LocationKind.CUSTOMER
                assert kind[m.to_location_id] in (*INTERNAL_KINDS, LocationKind.ADJUSTMENT)
                continue
            assert kind[m.from_location_id] is LocationKind.SUPPLIER
            op_location.setdefault(m.operation_pk, m.to_location_id)
            assert op_location[m.operation_pk] == m.to_location_id  # one receiving location per document
        for op in ops.values():
            assert op.user_id == actor.user_id
            if op.reason == "opening_balance":
                assert op.operation_id == f"demo-opening-{codes[op_location[op.id]]}-3"
        # The running balance of every level never went below zero, in the order the documents were posted.
        balance: dict[tuple[int, int], int] = collections.defaultdict(int)
        moves = sorted(s.scalars(select(StockMove)), key=lambda m: (ops[m.operation_pk].created_at, m.id))
        for m in moves:
            balance[(m.variant_id, m.to_location_id)] += m.quantity
            balance[(m.variant_id, m.from_location_id)] -= m.quantity
            if kind[m.from_location_id] in INTERNAL_KINDS:
                assert balance[(m.variant_id, m.from_location_id)] >= 0, m.id


def test_sales_post_through_the_ledger(db: Database, actor: Actor) -> None:
    """Every shipped unit is a move location -> customer in a "sale" document named after its order:
    the history's sales dated with their order, the open orders' shipments posted by the order service.
    Per variant, units shipped (the lines' fulfilled) == units moved to customers; cancelled and open
    orders' unshipped units move nothing."""
    _generate(db, actor, seed=4)
    with db.read() as s:
        kind = {loc.id: loc.kind for loc in s.scalars(select(Location))}
        orders = {o.id: o for o in s.scalars(select(Order))}
        shipped: collections.Counter = collections.Counter()
        shipped_orders = set()
        for ln in s.scalars(select(OrderLine)):
            order = orders[ln.order_id]
            if order.state.value in ("fulfilled", "cancelled") and order.ordered_at.date() < ANCHOR - dt.timedelta(days=1):
                # the history: a line is shipped whole or cancelled whole
                assert (ln.fulfilled, ln.cancelled) in ((ln.quantity, 0), (0, ln.quantity)), ln.id
                assert (ln.fulfilled > 0) == (order.status != "cancelled") == (order.state.value == "fulfilled")
                assert order.processed_at == order.ordered_at
            if ln.fulfilled:
                shipped[ln.variant_id] += ln.fulfilled
                shipped_orders.add(order.number)
        ops = {op.id: op for op in s.scalars(select(StockOperation).where(StockOperation.reason == "sale"))}
        moved: collections.Counter = collections.Counter()
        for m in s.scalars(select(StockMove).where(StockMove.operation_pk.in_(list(ops)))):
            assert kind[m.to_location_id] is LocationKind.CUSTOMER and kind[m.from_location_id] in INTERNAL_KINDS
            moved[m.variant_id] += m.quantity
        levels = {(sl.variant_id, sl.location_id) for sl in s.scalars(select(StockLevel))}
        for m in s.scalars(select(StockMove).where(StockMove.operation_pk.in_(list(ops)))):
            assert (m.variant_id, m.from_location_id) in levels  # shipped from a location that stocks it
        shipment_ops = set(s.scalars(select(Shipment.operation_id)))
    assert shipped and moved == shipped
    by_number = {o.number: o for o in orders.values()}
    assert {op.document for op in ops.values()} == shipped_orders
    history = [op for op in ops.values() if op.operation_id not in shipment_ops]
    assert len(history) + len(shipment_ops) == len(ops) and shipment_ops
    for op in history:
        assert op.created_at == by_number[op.document].ordered_at
    assert any(o.status == "cancelled" and o.state.value == "cancelled" for o in orders.values())
    assert {o.channel for o in orders.values()} == {"web", "marketplace", "pos"}


def test_open_orders_are_reserved_and_partly_shipped_by_the_services(db: Database, actor: Actor) -> None:
    """The last days' orders went through the order services: reserved (stock_levels.reserved equals
    their reservations, available never below zero), a third shipped in part, some waiting for stock;
    a handful of older orders came back through the returns service. The invariants the services keep
    hold on both engines."""
    from backoffice.services import inventory, orders as order_service

    # (a seed whose few shipments include both a tracked and an untracked one: 70 % are tracked)
    summary = _generate(db, actor, products=400, seed=9)
    assert order_service.reservation_mismatches(db) == []
    assert inventory.ledger_mismatches(db) == []
    with db.read() as s:
        states = collections.Counter(o.state.value for o in s.scalars(select(Order)))
        processed_now = Order.processed_at >= dt.datetime.combine(ANCHOR + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
        first_open = s.scalar(select(func.min(Order.ordered_at)).where(processed_now))
        n_open = s.scalar(select(func.count()).select_from(Order).where(processed_now))
        last_history = s.scalar(select(func.max(Order.ordered_at)).where(~processed_now))
        reserved = dict(((v, loc), r) for v, loc, r in s.execute(
            select(StockLevel.variant_id, StockLevel.location_id, StockLevel.reserved).where(StockLevel.reserved != 0)))
        held = dict(((v, loc), int(q)) for v, loc, q in s.execute(
            select(OrderReservation.variant_id, OrderReservation.location_id, func.sum(OrderReservation.quantity))
            .group_by(OrderReservation.variant_id, OrderReservation.location_id)))
        negative = s.scalar(select(func.count()).select_from(StockLevel).where(StockLevel.on_hand < StockLevel.reserved))
        open_lines = s.execute(select(OrderLine.quantity, OrderLine.fulfilled, OrderLine.cancelled, Order.state)
                               .join(Order, Order.id == OrderLine.order_id)
                               .where(Order.ordered_at >= first_open)).all()
        shipments = list(s.scalars(select(Shipment)))
        shipment_units = s.scalar(select(func.sum(ShipmentLine.quantity)))
        fulfilled_open = sum(f for _, f, _, _ in open_lines)
        rma = list(s.scalars(select(Return)))
        received = dict(s.execute(select(ReturnLine.order_line_id, func.sum(ReturnLine.quantity))
                                  .join(Return, Return.id == ReturnLine.return_id)
                                  .where(Return.state == "received").group_by(ReturnLine.order_line_id)).all())
        returned = dict(s.execute(select(OrderLine.id, OrderLine.returned).where(OrderLine.returned > 0)).all())
        back_moves = s.scalar(select(func.sum(StockMove.quantity)).join(StockOperation)
                              .where(StockOperation.reason == "return"))
    assert summary.open_orders == n_open > 0
    assert first_open.date() >= ANCHOR - dt.timedelta(days=1) and last_history < first_open
    # Every state an order can be in on the first day, waiting for stock included.
    assert {"allocated", "partially_fulfilled", "open", "fulfilled", "cancelled"} <= set(states)
    assert states["new"] == 0
    assert reserved == held and reserved and negative == 0
    # A third of the reserved open orders shipped, part or whole; what shipped is what the shipments say.
    assert summary.shipments == len(shipments) > 0 and shipment_units == fulfilled_open > 0
    assert any(sh.carrier and sh.tracking for sh in shipments) and any(not sh.carrier for sh in shipments)
    assert sum(q - f - c for q, f, c, _ in open_lines) > 0          # units still to ship
    # Returns: received ones counted on their lines and moved back; the rest authorised.
    assert summary.returns == len(rma) > 0
    assert {r.state.value for r in rma} == {"received", "authorised"}
    assert returned == {k: int(v) for k, v in received.items()} and back_moves == sum(returned.values())
    assert all(r.refund_status == "refunded" and r.refund_amount > 0 for r in rma if r.state.value == "received")


def test_low_stock_alerts_are_a_few_percent_of_stock_rows(db: Database, actor: Actor) -> None:
    from backoffice.services import alerts

    _generate(db, actor, products=400, seed=8)
    result = alerts.evaluate(db)
    with db.read() as s:
        rows = s.scalar(select(func.count()).select_from(StockLevel)) or 0
        from backoffice.models import StockAlert

        open_alerts = s.scalar(select(func.count()).select_from(StockAlert).where(StockAlert.closed_at.is_(None))) or 0
    assert open_alerts == result.open_now == result.opened  # the count reported is the count stored
    assert 0.005 * rows <= open_alerts <= 0.06 * rows, (open_alerts, rows)


def test_photos_are_in_the_image_store_like_uploads(db: Database, actor: Actor, tmp_path) -> None:
    """One photo per colour a product comes in, its files in the content-addressed store (original, web
    version, thumbnail), the variants of that colour showing it; a bounded set of pictures is reused."""
    from PIL import Image

    from backoffice.services import demo_photos
    from backoffice.services.image_store import ImageStore

    store = ImageStore(tmp_path / "images")
    summary = _generate(db, actor, products=60, image_store=store, photo_workers=0)
    with db.read() as s:
        images = list(s.scalars(select(ProductImage).order_by(ProductImage.id)))
        versions = {v.image_id: v for v in s.scalars(select(ImageVersion))}
        links = list(s.execute(select(ProductImageVariant.image_id, ProductImageVariant.variant_id)).all())
        colour_of = dict(s.execute(
            select(VariantOption.variant_id, AttributeValue.value).join(AttributeValue).join(Attribute)
            .where(Attribute.code == "colour")).all())
        variants = dict(s.execute(select(Variant.id, Variant.product_id)).all())
    assert summary.images == len(images) > 60
    # every product has photos but the bundles (the last products), which have none of their own
    assert summary.bundles > 0 and {i.product_id for i in images} == set(range(1, 61 - summary.bundles))
    for product in {i.product_id for i in images}:
        assert sorted(i.position for i in images if i.product_id == product) == list(
            range(sum(1 for i in images if i.product_id == product)))
    distinct = {i.content_hash for i in images}
    assert len(distinct) <= len(demo_photos.SHAPES) * len(demo_photos.COLOUR_RGB) and len(distinct) < len(images)
    for img in images:
        for h in (img.content_hash, img.web_hash, img.thumb_hash):
            assert store.has(h)
        assert versions[img.id].number == 1 and versions[img.id].edits == [] and versions[img.id].web_hash == img.web_hash
        assert img.alt_text and img.filename.endswith(".png")
    thumb = Image.open(store.path_for(images[0].thumb_hash))
    assert thumb.size[0] <= 320 and thumb.format == "JPEG"
    # Every variant shows exactly one photo: its product's picture of its colour.
    by_image = {i.id: i for i in images}
    with db.read() as s:
        for v in s.scalars(select(Bundle.variant_id)):
            del variants[v]
    assert len(links) == len(variants) and len({v for _, v in links}) == len(variants)
    for image_id, variant_id in links:
        img = by_image[image_id]
        assert img.product_id == variants[variant_id]
        assert img.alt_text.endswith(" in " + colour_of[variant_id].lower())


def test_photos_are_the_same_bytes_every_time(db: Database, actor: Actor, tmp_path) -> None:
    """Same seed, same photos (byte for byte, so the same hashes), drawn afresh in another store or
    reused from the pictures a store already holds."""
    from backoffice.services.image_store import ImageStore

    _generate(db, actor, products=20, image_store=ImageStore(tmp_path / "a"), photo_workers=0)
    first = _fingerprint(db, IMAGE_MODELS)
    for folder in ("b", "b"):  # a fresh store, then the same store again (its pictures reused)
        _wipe(db)
        _generate(db, actor, products=20, image_store=ImageStore(tmp_path / folder), photo_workers=0)
        assert _fingerprint(db, IMAGE_MODELS) == first


# -- sales ----------------------------------------------------------------------------------------------------
def test_sales_history_has_rhythm_and_adds_up(db: Database, actor: Actor) -> None:
    _generate(db, actor)
    with db.read() as s:
        orders = list(s.scalars(select(Order)))
        lines = list(s.scalars(select(OrderLine)))
        price = dict(s.execute(select(Variant.id, Variant.price)).all())
        product_of = dict(s.execute(select(Variant.id, Variant.product_id)).all())
        customers = {c.id: c for c in s.scalars(select(Customer))}
    days = [o.ordered_at.date() for o in orders]
    assert max(days) <= ANCHOR and max(days) >= ANCHOR - dt.timedelta(days=7)
    assert ANCHOR - dt.timedelta(days=730) <= min(days) <= ANCHOR - dt.timedelta(days=700)
    span = (ANCHOR - min(days)).days + 1

    by_weekday = collections.Counter(d.weekday() for d in days)
    weekend_rate = (by_weekday[5] + by_weekday[6]) / 2
    assert weekend_rate > 1.15 * len(days) / 7
    q4 = sum(1 for d in days if d.month >= 10)
    q4_days = sum(1 for i in range(span) if (ANCHOR - dt.timedelta(days=i)).month >= 10)
    assert q4 / q4_days > 1.15 * len(days) / span
    first_year = sum(1 for d in days if d <= ANCHOR - dt.timedelta(days=365))
    assert len(days) - first_year > 1.1 * first_year  # growing

    total: dict[int, Decimal] = collections.defaultdict(Decimal)
    for ln in lines:
        assert ln.unit_price == price[ln.variant_id]
        assert Decimal(0) <= ln.discount < ln.unit_price * ln.quantity
        total[ln.order_id] += ln.unit_price * ln.quantity - ln.discount
    assert all(o.total == total[o.id] for o in orders)
    qty = collections.Counter(ln.quantity for ln in lines)
    assert qty[1] > 0.6 * len(lines) and sum(qty[q] for q in (1, 2, 3)) > 0.95 * len(lines)
    assert any(ln.discount > 0 for ln in lines)
    # Long tail: the best tenth of the products sells a large share, and some never sell.
    per_product = collections.Counter()
    for ln in lines:
        per_product[product_of[ln.variant_id]] += ln.quantity
    top = sum(q for _, q in per_product.most_common(N // 10))
    assert top > 0.3 * sum(per_product.values())
    assert len(per_product) < N

    first_order: dict[int, dt.datetime] = {}
    for o in orders:
        if o.customer_id is not None:
            first_order[o.customer_id] = min(o.ordered_at, first_order.get(o.customer_id, o.ordered_at))
    assert all(customers[c].created_at <= t for c, t in first_order.items())
    assert {c.age_band for c in customers.values()} <= {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}
    countries = collections.Counter(c.country for c in customers.values())
    assert all(re.fullmatch(r"[A-Z]{2}", k) for k in countries) and len(countries) >= 5
    assert countries.most_common(1)[0][1] > 1.5 * len(customers) / len(countries)  # weighted, not uniform
    assert len({c.email for c in customers.values()}) == len(customers)
    # A name, first and last, the same person the e-mail address names.
    for c in customers.values():
        first, last = c.name.split(" ")
        assert first.istitle() and last.istitle() and c.email.startswith(f"{first.lower()}.{last.lower()}{c.id}@")


# -- determinism ----------------------------------------------------------------------------------------------
def test_same_seed_same_data_and_other_seed_other_data(db: Database, actor: Actor) -> None:
    _generate(db, actor, seed=11)
    first = _fingerprint(db)
    _wipe(db)
    _generate(db, actor, seed=11)
    assert _fingerprint(db) == first
    _wipe(db)
    _generate(db, actor, seed=12)
    other = _fingerprint(db)
    for table in ("products", "variants", "stock_levels", "orders", "order_lines"):
        assert other[table] != first[table], table


def test_other_anchor_moves_the_history(db: Database, actor: Actor) -> None:
    _generate(db, actor, anchor=dt.date(2024, 3, 1))
    with db.read() as s:
        last = s.scalar(select(func.max(Order.ordered_at)))
    assert last is not None and last.date() <= dt.date(2024, 3, 1)
    assert last.date() >= dt.date(2024, 2, 20)


@pytest.mark.postgres
def test_both_engines_produce_identical_data(sqlite_db: Database, pg_db: Database) -> None:
    for db in (sqlite_db, pg_db):
        _generate(db, ensure_user(db, "tester"), seed=5)
    assert _fingerprint(sqlite_db) == _fingerprint(pg_db)
    with pg_db.engine.connect() as conn:   # the bulk load is one audit entry, not a row_audit copy of the store
        copied = conn.exec_driver_sql("SELECT count(*) FROM row_audit WHERE table_name IN ('products', 'variants')").scalar()
        products = conn.exec_driver_sql("SELECT count(*) FROM products").scalar()
    assert products > 0 and copied == 0


# -- refusals, cancellation, audit, schema ---------------------------------------------------------------------
def test_refuses_a_store_that_already_has_products(db: Database, actor: Actor) -> None:
    with db.write() as s:
        s.add(Product(handle="real-product", title="A real product"))
    with pytest.raises(ValidationError, match="already holds 1 products; the demo store needs an empty database"):
        _generate(db, actor)
    assert _count(db, Product) == 1
    assert _count(db, Variant) == 0 and _count(db, Category) == 0


def test_refuses_bad_arguments(db: Database, actor: Actor) -> None:
    for bad in (0, -5):
        with pytest.raises(ValidationError, match="products"):
            _generate(db, actor, products=bad)
    with pytest.raises(ValidationError, match="seed"):
        _generate(db, actor, seed=-1)
    assert _count(db, Category) == 0


def test_cancel_leaves_nothing_behind(db: Database, actor: Actor) -> None:
    seen: list[str] = []

    def progress(fraction: float, text_: str) -> None:
        seen.append(text_)

    def cancel() -> bool:  # cancel once the catalog is written and stock is on its way
        return any("stock levels" in t for t in seen)

    with pytest.raises(DemoCancelled):
        _generate(db, actor, progress=progress, cancel=cancel)
    assert any("variants" in t for t in seen)
    for model in DEMO_MODELS:
        assert _count(db, model) == 0, model.__tablename__
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "store")) == 0
    assert _schema_diff(db) == []  # dropped constraints and indexes came back with the rollback
    summary = _generate(db, actor)  # and a later run works
    assert summary.products == N


def test_audit_row_progress_and_usable_schema_afterwards(db: Database, actor: Actor) -> None:
    calls: list[tuple[float, str]] = []
    summary = _generate(db, actor, progress=lambda f, t: calls.append((f, t)))
    with db.read() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.entity == "store")))
    assert len(rows) == 1
    entry = rows[0]
    assert (entry.entity_id, entry.action, entry.user_id, entry.before) == ("demo", "generate", actor.user_id, None)
    assert entry.after is not None
    loaded = {k: v for k, v in summary.to_dict().items() if k not in ("seconds", "shipments", "returns")}
    assert {k: entry.after[k] for k in loaded} == loaded   # the bulk load; the services audit their own steps
    assert 0 < entry.after["seconds"] <= summary.seconds
    assert entry.after["anchor"] == ANCHOR.isoformat() and entry.after["seed"] == 42

    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] == 1.0
    assert 10 <= len(calls) <= 45
    assert max(b - a for a, b in zip(fractions, fractions[1:])) < 0.3  # no long silent stretch
    assert any("variants" in t.lower() for _, t in calls)

    # Constraints and indexes are all back, and ids continue after the demo rows.
    assert _schema_diff(db) == []
    if not db.is_sqlite:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_constraint WHERE NOT convalidated")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM pg_index WHERE NOT indisvalid")).scalar() == 0
    with db.write() as s:
        p = Product(handle="after-demo", title="After the demo")
        c = Customer(country="DE", age_band="25-34", email="new@example.com")
        s.add_all([p, c])
        s.flush()
        v = Variant(product_id=p.id, sku="AFTER-1", price=Decimal("9.99"))
        s.add(v)
        s.flush()
        assert (p.id, c.id, v.id) == (N + 1, summary.customers + 1, summary.variants + 1)
    with pytest.raises(Exception):  # foreign keys are enforced again
        with db.write() as s:
            s.add(VariantOption(variant_id=10**9, attribute_id=1, attribute_value_id=1))


def test_smallest_store(db: Database, actor: Actor) -> None:
    summary = _generate(db, actor, products=1, seed=9)
    assert summary.products == _count(db, Product) == 1
    assert summary.variants == _count(db, Variant) >= 1
    assert summary.order_lines == _count(db, OrderLine) > 0


@pytest.mark.postgres
def test_binary_copy_encoder_round_trips_edge_values(pg_db: Database) -> None:
    """The hand-built COPY BINARY stream, on values the demo data does not reach."""
    import numpy as np

    from backoffice.services import demo

    cents = np.array([0, 1, 99, 100, 999_999, 1_000_000, 123_456_789_01, 999_999_999_999, -550, 7])
    n = len(cents)
    secs = np.array([0, 946_684_800, 946_684_799, 1_700_000_000, 4_102_444_800] * 2)
    texts = np.array(["", "Bergström", "Maison Lumière", "x" * 300, "a\tb", "tab\\slash", "日本", "-", "None", "z"],
                     dtype=object)
    table = demo._Table(
        "enc",
        [("a", demo.I8), ("b", demo.I4), ("m", demo.MONEY), ("t", demo.TS), ("s", demo.TEXT), ("f", demo.BOOL)],
        {"a": np.arange(n, dtype=np.int64) * 10**12, "b": np.arange(n, dtype=np.int32) - 5, "m": cents,
         "t": secs, "s": texts, "f": np.arange(n) % 2 == 0},
        {"b": np.arange(n) % 3 == 0, "m": np.arange(n) == 4, "s": np.arange(n) == 2},
    )
    with pg_db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE enc (a bigint, b integer, m numeric(12, 2), t timestamptz, s text, f boolean)")
            with cur.copy("COPY enc (a, b, m, t, s, f) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(demo._PG_BINARY_HEADER)
                copy.write(demo._copy_binary(table, 0, 6))
                copy.write(demo._copy_binary(table, 6, n))
                copy.write(demo._PG_BINARY_TRAILER)
            cur.execute("SELECT a, b, m, t, s, f FROM enc ORDER BY a")
            rows = cur.fetchall()
        raw.rollback()
    assert len(rows) == n
    for i, (a, b, m, t, s, f) in enumerate(rows):
        assert a == i * 10**12
        assert b == (None if i % 3 == 0 else i - 5)
        assert m == (None if i == 4 else Decimal(int(cents[i])) / 100)
        assert t == dt.datetime.fromtimestamp(int(secs[i]), dt.timezone.utc)
        assert s == (None if i == 2 else texts[i])
        assert f is (i % 2 == 0)


@pytest.mark.postgres
def test_a_role_that_does_not_own_the_tables_gets_the_same_store(pg_db: Database) -> None:
    """Without the right to drop and recreate constraints the generator loads with them in place."""
    import uuid

    from sqlalchemy import make_url

    role = f"bo_demo_{uuid.uuid4().hex[:8]}"
    with pg_db.engine.begin() as conn:
        # a role of the deployment's making, trusted to act for the app's users like the API server's
        # login (member of backoffice_server) and past the row-level security of staff logins
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN BYPASSRLS IN ROLE backoffice_server'))
        conn.execute(text(f'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO "{role}"'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        conn.execute(text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{role}"'))
        conn.execute(text(f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "{role}"'))
    limited = Database(make_url(str(pg_db.url)).set(username=role, password=None))
    try:
        summary = _generate(limited, ensure_user(limited, "clerk"), seed=5)
        assert summary.products == _count(pg_db, Product) == N
        assert _schema_diff(pg_db) == []
        with pg_db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_constraint WHERE NOT convalidated")).scalar() == 0
        first = _fingerprint(pg_db)
        _wipe(pg_db)
        _generate(pg_db, ensure_user(pg_db, "clerk"), seed=5)  # same user, now as the owner role
        assert _fingerprint(pg_db) == first  # the slow path writes exactly the same rows
    finally:
        limited.dispose()
        with pg_db.engine.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def test_every_variant_has_one_preferred_supplier_item(db: Database, actor: Actor) -> None:
    from backoffice.models import SupplierItem

    summary = _generate(db, actor)
    assert summary.supplier_items == _count(db, SupplierItem) > summary.variants
    with db.read() as s:
        preferred = dict(s.execute(select(SupplierItem.variant_id, func.count()).where(SupplierItem.preferred.is_(True))
                                   .group_by(SupplierItem.variant_id)).all())
        rows = s.execute(select(SupplierItem.unit_cost, SupplierItem.currency, SupplierItem.min_order_qty,
                                SupplierItem.pack_size, SupplierItem.lead_time_days, Supplier.currency)
                         .join(Supplier, Supplier.id == SupplierItem.supplier_id)).all()
    assert len(preferred) == summary.variants - summary.bundles and set(preferred.values()) == {1}   # bundles buy none
    assert all(cost > 0 and cur == sup_cur and moq % pack == 0 for cost, cur, moq, pack, _, sup_cur in rows)
    assert any(lead is None for *_, lead, _ in rows) and any(lead is not None for *_, lead, _ in rows)


def test_demo_state_tells_an_empty_store_a_demo_store_and_a_real_catalog_apart(db: Database, actor: Actor) -> None:
    from backoffice.services.demo import demo_state

    assert demo_state(db) == "empty"
    _generate(db, actor, products=5)
    assert demo_state(db) == "demo"
    _wipe(db)
    with db.engine.begin() as conn, rewriting_history(conn, "audit_log"):  # a database that never had the demo
        conn.execute(AuditEntry.__table__.delete().where(AuditEntry.entity == "store"))
    with db.write() as s:
        s.add(Product(handle="real-product", title="A real product"))
    assert demo_state(db) == "other"


def test_demo_suggestions_order_only_what_sells(db: Database, actor: Actor) -> None:
    """On the demo store, replenishment asks for nothing that does not sell, some variants carry a
    hand-set reorder point, and a supplier's minimum never turns a need of one unit into months of stock
    for most lines."""
    from backoffice.services import replenishment

    _generate(db, actor, seed=5, products=1000)
    with db.read() as s:
        hand_set = s.scalar(select(func.count()).select_from(StockLevel).where(StockLevel.reorder_point.is_not(None)))
    lines = replenishment.suggest(db, as_of=ANCHOR)
    assert lines and hand_set
    assert [ln.sku for ln in lines if ln.daily_demand == 0] == []
    moq_raised = [ln for ln in lines if ln.min_order_qty > max(ln.need, 1) and ln.min_order_qty > 1]
    assert len(moq_raised) < 0.1 * len(lines)


def test_the_ledger_is_numbered_in_the_order_it_happened(db: Database, actor: Actor) -> None:
    """Newest first by id is newest first by time (the history panes page on the move id), as in a
    ledger that a running store appends to."""
    _generate(db, actor, seed=4)
    with db.read() as s:
        times = list(s.scalars(select(StockOperation.created_at).order_by(StockOperation.id)))
        ops_of_moves = list(s.scalars(select(StockMove.operation_pk).order_by(StockMove.id)))
    assert len(times) > 10 and times == sorted(times)
    assert ops_of_moves == sorted(ops_of_moves)


# -- bundles --------------------------------------------------------------------------------------------------
def test_bundles_hold_no_stock_and_sell_from_their_components(db: Database, actor: Actor) -> None:
    """From BUNDLES_FROM products on, the last products are bundles of other active products' variants,
    priced by their rule (one at a percentage off, one at a fixed price), with a mix-and-match rule beside
    them. A bundle holds nothing: no stock level, ledger move, order line, reservation, supplier item or
    option row; what a location can sell is the least of its components' available ÷ quantity. A smaller
    store has none and still its N products."""
    from backoffice.models import SupplierItem
    from backoffice.services import bundles as bundle_service, inventory, orders as order_service
    from backoffice.services.demo import BUNDLES_FROM

    summary = _generate(db, actor, products=BUNDLES_FROM, seed=2)   # the smallest store that gets them
    rows = bundle_service.list_bundles(db)
    assert len(rows) == summary.bundles == 3 and summary.products == _count(db, Product) == BUNDLES_FROM
    assert {r.pricing for r in rows} == {"fixed", "discount"}
    bundled = {r.variant_id for r in rows}
    with db.read() as s:
        for column in (StockLevel.variant_id, StockMove.variant_id, OrderLine.variant_id,
                       OrderReservation.variant_id, SupplierItem.variant_id, VariantOption.variant_id):
            assert s.scalar(select(func.count()).where(column.in_(bundled))) == 0, column
        available = {(v, code): on_hand - reserved for v, code, on_hand, reserved in s.execute(
            select(StockLevel.variant_id, Location.code, StockLevel.on_hand, StockLevel.reserved)
            .join(Location, Location.id == StockLevel.location_id))}
        selling = set(s.scalars(select(Location.code).where(Location.kind.in_([LocationKind.WAREHOUSE,
                                                                                LocationKind.STORE]))))
        component_products = dict(s.execute(select(Variant.id, Product.status).join(Product)
                                             .where(Variant.id.in_({c.variant_id for r in rows for c in r.components}))).all())
    for r in rows:
        assert r.price == r.rule_price < r.component_price and r.margin is not None and r.margin > 0
        assert len(r.components) == 2 and not bundled & {c.variant_id for c in r.components}
        assert all(component_products[c.variant_id] is ProductStatus.ACTIVE for c in r.components)
        assert set(r.available) == selling
        for code, n in r.available.items():
            assert n == min(max(0, available.get((c.variant_id, code), 0)) // c.quantity for c in r.components), (r.sku, code)
        assert r.available_total > 0    # its components are stocked together somewhere
    (rule,) = bundle_service.list_rules(db)
    assert rule.quantity == 3 and rule.kind == "percent" and rule.categories and rule.active
    assert inventory.ledger_mismatches(db) == [] and order_service.reservation_mismatches(db) == []

    _wipe(db)
    smaller = _generate(db, actor, products=BUNDLES_FROM - 1, seed=2)
    assert smaller.bundles == smaller.mix_and_match == _count(db, Bundle) == _count(db, MixMatchRule) == 0
    assert smaller.products == _count(db, Product) == BUNDLES_FROM - 1
