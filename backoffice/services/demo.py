"""The demo store: a realistic, deterministic catalog, stock ledger and two years of sales.

``generate_demo(db, actor, products=N)`` fills an empty database with about N products, 10 N variants
(3 option rows each), 1-3 stock levels per variant, about 10 N order lines of sales history ending at
``anchor``, and the stock ledger that explains every level: an opening balance per location, quarterly
replenishments from suppliers, and each shipped order posted as a sale (moves location -> customer), so
on hand equals the ledger sum and the units shipped equal the sales moves. The orders of the last two
days (at most ``OPEN_MAX``) are left as the store writes them (state new, nothing shipped); once the
load has committed, the real services take over: ``orders.process_orders`` reserves them, ``orders.fulfil``
ships about a third in part, and ``returns.authorise``/``receive`` bring a dozen older orders' goods back
(see ``_open_store``), so the Orders view and the return reports have content on the first day. From
``BUNDLES_FROM`` products on, the last three of the N are bundles of the others' variants, written by the
bundles service in the load's transaction, with a mix-and-match rule (``_add_bundles``): they hold no stock
and get no stock, sales, supplier, option or photo rows. With an image store, every
product gets a photo per colour (drawn pictures, a bounded set reused, processed like uploads; see
``demo_photos``). Same seed and anchor, same data, byte
for byte: every random number comes from numpy ``Generator(PCG64([seed, stream]))`` (one stream per
part, so a change to one part does not reshuffle the others) and nothing depends on the wall clock
except the audit rows' own timestamps and the times the services stamp on what they do after the load.

How it stays fast (100k products, 9.8M rows, in 30-40 s on two cores; see benchmarks/demo_scale.py):
- every column is built with vectorised numpy over whole tables (no per-row Python), in a background
  thread that builds the next table while the current one is being written;
- PostgreSQL: rows go in with ``COPY ... (FORMAT BINARY)`` through the session's own psycopg
  connection, so everything is one transaction. The binary stream is built with numpy too (one byte
  matrix per chunk, NULLs and short strings masked out). The keys, foreign keys and secondary indexes
  of the big tables are dropped inside the transaction and recreated after the load from the catalog's
  own definitions (``pg_get_constraintdef`` / ``pg_get_indexdef``): checking a foreign key row by row
  costs ~6 s per million rows and per key, validating it afterwards with one join ~0.5 s, and one sort
  per index beats maintaining it row by row (measured on this machine). A rollback (error or
  cancel) restores all of it.
- SQLite: ``executemany`` on the raw sqlite3 connection inside the ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from backoffice.db import Database
from backoffice.models import (
    Attribute,
    AttributeValue,
    Category,
    Customer,
    Location,
    Order,
    OrderLine,
    Product,
    ProductTag,
    StockLevel,
    StockMove,
    StockOperation,
    Supplier,
    SupplierItem,
    Variant,
    VariantOption,
)
from backoffice.models import ImageVersion, ProductImage, ProductImageVariant
from backoffice.services.base import Actor, ServiceError, ValidationError, audit
from backoffice.services.image_store import ImageStore

log = logging.getLogger(__name__)

MAX_PRODUCTS = 1_000_000
SALES_DAYS = 730  # two years of sales, the last day being the anchor
LINES_PER_PRODUCT = 10
QUARTER_DAYS = 91  # stock is replenished from suppliers at the start of each quarter of the history
OPEN_DAYS = 2      # the orders of the last days are open: reserved and partly shipped by the order services
OPEN_MAX = 150     # at most this many (the latest): the services take a few seconds at any size


# ---------------------------------------------------------------------------------------------------------
# API
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoSummary:
    """Counts of rows written, plus the seconds it took."""

    categories: int
    products: int
    variants: int
    locations: int
    stock_levels: int
    stock_moves: int
    suppliers: int
    customers: int
    orders: int
    order_lines: int
    seconds: float
    supplier_items: int = 0
    images: int = 0
    open_orders: int = 0       # written as new, then reserved by the order services
    shipments: int = 0         # of open orders, shipped by the order services after the load
    returns: int = 0           # authorised (most of them received) by the returns service after the load
    bundles: int = 0           # of the products (the last ones), each one variant, a bundle of other products' variants
    mix_and_match: int = 0     # mix-and-match rules

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class DemoCancelled(ServiceError):
    """The user cancelled the demo generation; nothing was written."""

    def __init__(self) -> None:
        super().__init__("demo store generation cancelled; nothing was written")


ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


def generate_demo(db: Database, actor: Actor, *, products: int, seed: int = 42,
                  anchor: dt.date | None = None, progress: ProgressFn | None = None,
                  cancel: CancelFn | None = None, image_store: ImageStore | None = None,
                  photo_workers: int = 2) -> DemoSummary:
    """Fill an empty store with ``products`` demo products and everything around them, in one
    transaction, and audit it once. Raises ValidationError for bad arguments or a non-empty catalog and
    DemoCancelled when ``cancel()`` says so (between steps); in both cases nothing is written.

    With ``image_store``, each product gets a photo per colour it comes in, stored there like uploads
    (made in ``photo_workers`` processes while the tables are written; 0: in a thread of this process)."""
    problems = []
    if isinstance(products, bool) or not isinstance(products, int | np.integer) or products < 1:
        problems.append(("demo", "products", f"must be a whole number of at least 1, not {products!r}"))
    elif products > MAX_PRODUCTS:
        problems.append(("demo", "products", f"at most {MAX_PRODUCTS:,} products, not {products:,}"))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        problems.append(("demo", "seed", f"must be a whole number of at least 0, not {seed!r}"))
    if problems:
        raise ValidationError(problems)
    products, seed = int(products), int(seed)
    until: int | None = None
    if anchor is None:
        now = dt.datetime.now(dt.timezone.utc)
        anchor, until = now.date(), int(now.timestamp())   # today's orders happen before now, not later today
    elif isinstance(anchor, dt.datetime):
        anchor = anchor.date()

    started = time.perf_counter()
    sink_cls: type[_Sink] = _SqliteSink if db.is_sqlite else _PgSink
    steps = _Steps(progress, cancel, sink_cls.WEIGHTS)
    steps.check()
    # From BUNDLES_FROM products on, the last few products are bundles of the others (see _add_bundles).
    n_bundles = len(_BUNDLES) if products >= BUNDLES_FROM else 0
    builder = _Builder(products=products - n_bundles, seed=seed, anchor=anchor, user_id=actor.user_id,
                       username=actor.username, image_store=image_store, photo_workers=photo_workers,
                       cancel=cancel, until=until)
    builder.n_bundles = n_bundles

    plan = builder.tables()
    with contextlib.ExitStack() as stack:
        stack.callback(builder.stop_photos)
        summary = _write(db, actor, builder, plan, sink_cls, steps, started, seed, anchor)
    # Committed: from here on the store is there, so the rest runs to its end (cancelling now would
    # leave a store that says "nothing was written").
    steps.cancel = None
    shipments, returns = _open_store(db, actor, builder, steps)
    summary = dataclasses.replace(summary, shipments=shipments, returns=returns,
                                  seconds=round(time.perf_counter() - started, 3))
    steps.done()
    log.info("demo store: %s", summary)
    return summary


def _write(db: Database, actor: Actor, builder: _Builder, plan: list[tuple[str, str, Callable[[], _Table]]],
           sink_cls: type[_Sink], steps: _Steps, started: float, seed: int, anchor: dt.date) -> DemoSummary:
    def waiting() -> None:
        steps.check()
        done, total = builder.photo_progress
        if steps.key == "product_images" and total:
            steps.say(f"Making product photos… {done} of {total}")

    with db.write() as session, contextlib.closing(_built_ahead(plan, waiting)) as tables:
        sink = sink_cls(session)
        if session.get_bind().dialect.name == "postgresql":
            # a synthetic store, audited as one entry below: not copied into row_audit row by row
            session.execute(text("SELECT set_config('backoffice.row_audit', 'off', true)"))
        steps.begin("prepare", "Preparing the database…")
        sink.lock(_ALL_TABLES)
        _check_empty(session)
        sink.defer_constraints(_BULK_TABLES)
        counts: dict[str, int] = {}
        for name, label, _ in plan:
            steps.begin(name, f"Writing {label}…")
            table = next(tables)  # built in the background meanwhile; waits only if it is not ready
            assert table.name == name
            sink.write(table, steps.check)
            counts[name] = table.rows
        steps.begin("analyze", "Updating statistics…")
        sink.analyze(list(counts))
        steps.begin("rebuild", "Rebuilding indexes and checking references…")
        sink.restore_constraints(steps.within)
        sink.reset_sequences([name for name in counts if name in _SERIAL_TABLES])
        steps.check()
        bundles, rules = _add_bundles(session, actor, builder) if builder.n_bundles else (0, 0)
        summary = DemoSummary(
            categories=counts["categories"], products=counts["products"] + bundles,
            variants=counts["variants"] + bundles,
            locations=counts["locations"], stock_levels=counts["stock_levels"],
            stock_moves=counts["stock_moves"], suppliers=counts["suppliers"], customers=counts["customers"],
            orders=counts["orders"], order_lines=counts["order_lines"],
            seconds=round(time.perf_counter() - started, 3), supplier_items=counts["supplier_items"],
            images=counts.get("product_images", 0), open_orders=int(builder.o_open.sum()), bundles=bundles,
            mix_and_match=rules,
        )
        loaded = {k: v for k, v in summary.to_dict().items() if k not in ("shipments", "returns")}
        audit(session, actor, "store", "demo", "generate", None, {**loaded, "seed": seed, "anchor": anchor.isoformat()})
        steps.begin("save", "Saving…")
    return summary


# ---------------------------------------------------------------------------------------------------------
# After the load: the open orders and a few returns go through the real services
# ---------------------------------------------------------------------------------------------------------
_CARRIERS = [("DHL", "JD01460000"), ("UPS", "1Z999AA1"), ("DPD", "0150"), ("GLS", "ZG"), ("PostNL", "3SBOL")]
# Why things come back, and how often (keys of backoffice.services.returns.REASONS).
_RETURN_REASONS = [("wrong_size", 34), ("changed_mind", 20), ("not_as_described", 15), ("defective", 12),
                   ("damaged_in_transit", 8), ("late", 5), ("other", 6)]
N_RETURNS = 12


def _open_store(db: Database, actor: Actor, builder: _Builder, steps: _Steps) -> tuple[int, int]:
    """What a store that has been running looks like on the first day: the open orders reserved by
    ``orders.process_orders``, about a third of them shipped in part (some with a carrier and tracking
    number) by ``orders.fulfil``, and a handful of older shipped orders returned through
    ``returns.authorise``/``receive`` (most received and refunded). Same seed, same plan: the choices
    are drawn from the builder's streams and the database's own deterministic ids; only the timestamps
    these services stamp (when they ran) come from the clock. (shipments, returns)"""
    from backoffice.models import OrderReservation  # noqa: PLC0415 - only here
    from backoffice.services import orders as order_service  # noqa: PLC0415 - the services import this module's neighbours
    from backoffice.services import returns as return_service  # noqa: PLC0415

    seed = builder.seed
    steps.begin("open_orders", "Reserving the open orders…")
    order_service.process_orders(db, actor)
    steps.begin("shipments", "Shipping some of the open orders…")
    with db.read() as session:
        held = session.execute(
            select(OrderLine.order_id, OrderReservation.order_line_id, OrderReservation.location_id,
                   OrderReservation.quantity)
            .join(OrderLine, OrderLine.id == OrderReservation.order_line_id)
            .order_by(OrderLine.order_id, OrderReservation.order_line_id, OrderReservation.location_id)).all()
        waiting = set(session.scalars(select(Order.id).where(Order.state == "open")))
    shipments = builder.shipment_plan([tuple(r) for r in held], waiting)
    for order_id, location_id, quantities, carrier, tracking in shipments:
        order_service.fulfil(db, actor, order_id, location_id=location_id, quantities=quantities, carrier=carrier,
                             tracking=tracking, operation_id=f"demo-ship-{builder.o_number[order_id - 1]}-{seed}")
    steps.begin("returns", "Returns of older orders…")
    plan = builder.return_plan()
    for order_id, lines, refund, location_id, receive in plan:
        number = builder.o_number[order_id - 1]
        # (no operation id where the service would keep it apart from the rows it writes: a store
        # emptied by hand and filled again must not find the first run's returns there)
        rma = return_service.authorise(db, actor, order_id, lines=lines, refund_amount=refund,
                                       note="Returned by the customer")
        if receive:
            return_service.receive(db, actor, rma.id, location_id=location_id,
                                   operation_id=f"demo-return-{number}-{seed}")
            return_service.record_refund(db, actor, rma.id, status="refunded")
    from backoffice.services.product_templates import add_demo_templates  # noqa: PLC0415 - only here

    add_demo_templates(db, actor)   # a couple of product templates, so Merchandising → Product templates… has some
    return len(shipments), len(plan)


# ---------------------------------------------------------------------------------------------------------
# Bundles: the last products of a store of BUNDLES_FROM products or more, written in the load's transaction
# ---------------------------------------------------------------------------------------------------------
BUNDLES_FROM = 50
# (title, pricing, percent off (discount) or the share of the components' price it costs (fixed), pairs of
# product kinds to make it of, in order of preference, and units of each)
_BUNDLES: list[tuple[str, str, int, list[tuple[str, str]], tuple[int, int]]] = [
    ("Bedroom Set", "discount", 15, [("bedding", "cushions"), ("bedding", "throws"), ("throws", "cushions"),
                                     ("towels", "towels")], (1, 2)),
    ("Gift Set", "fixed", 85, [("belt", "wallet"), ("scarf", "hat"), ("wallet", "scarf"), ("hat", "belt")], (1, 1)),
    ("Weekend Look", "discount", 10, [("sweater", "trousers"), ("shirt", "trousers"), ("tshirt", "trousers"),
                                      ("jacket", "trousers")], (1, 1)),
]
# name, N, percent off, the kind whose categories it covers
_MIX_MATCH = ("Any 3 T-shirts at 15 % off", 3, 15, "tshirt")


def _bundle_pick(b: _Builder, pairs: list[tuple[str, str]], qty: tuple[int, int],
                 used: np.ndarray) -> tuple[int, int]:
    """Two variants (indexes) of two different active products of the kinds of the first pair that has
    them, both active and stocked at one location (enough for two bundles there), so the bundle can be
    sold; failing that any two such variants, and failing that any two active variants."""
    sv = b.s_variant - 1
    vp = b.v_product[sv]
    active = (b.v_status[sv] == 0) & (b.p_status[vp] == 0) & ~used[vp]
    kinds = list(_KINDS)
    pk = b.p_kind[vp]
    options: list[tuple[np.ndarray, np.ndarray]] = []
    for ka, kb in pairs:
        options.append((active & (pk == kinds.index(ka)) & (b.s_qty >= 2 * qty[0]),
                        active & (pk == kinds.index(kb)) & (b.s_qty >= 2 * qty[1])))
    options.append((active & (b.s_qty >= 2 * qty[0]), active & (b.s_qty >= 2 * qty[1])))
    for ok_a, ok_b in options:
        at: dict[int, list[int]] = {}
        for j in np.flatnonzero(ok_b)[:2000].tolist():
            at.setdefault(int(b.s_location[j]), []).append(j)
        for i in np.flatnonzero(ok_a)[:2000].tolist():
            j = next((j for j in at.get(int(b.s_location[i]), []) if vp[j] != vp[i]), None)
            if j is not None:
                return int(sv[i]), int(sv[j])
    free = np.flatnonzero((b.v_status == 0) & (b.p_status[b.v_product] == 0) & ~used[b.v_product])
    first = int(free[0])
    second = int(free[b.v_product[free] != b.v_product[first]][0])
    return first, second


def _add_bundles(session: Session, actor: Actor, b: _Builder) -> tuple[int, int]:
    """The store's last products: fixed bundles of two other products' variants (one a percentage off its
    components, one at a round fixed price), made through the bundles service so they are priced by its
    rule; and a mix-and-match rule. A bundle holds no stock: it gets no stock level, ledger move, sale,
    supplier item, photo or option rows (what can be sold is derived from its components). (bundles, rules)"""
    from backoffice.models import MixMatchKind, MixMatchRule, ProductStatus, VariantStatus  # noqa: PLC0415
    from backoffice.services import bundles as bundle_service  # noqa: PLC0415 - it imports the models this module does

    launched = dt.datetime.fromtimestamp(b.anchor_ts - 14 * 86_400, dt.timezone.utc)  # two weeks before the anchor
    used = np.zeros(b.P, dtype=bool)
    cent = Decimal("0.01")
    for i, (name, pricing, figure, pairs, (qa, qb)) in enumerate(_BUNDLES[: b.n_bundles]):
        va, vb = _bundle_pick(b, pairs, (qa, qb), used)
        pa, pb = int(b.v_product[va]), int(b.v_product[vb])
        used[[pa, pb]] = True
        pid, sku = b.P + i + 1, f"BDL{b.P + i + 1:06d}"
        skus = dict(session.execute(select(Variant.id, Variant.sku).where(Variant.id.in_([va + 1, vb + 1]))).all())
        component_price = Decimal(int(b.v_price[va]) * qa + int(b.v_price[vb]) * qb) / 100
        if pricing == "fixed":
            amount, percent = max(Decimal("1.00"), (component_price * figure / 100).quantize(Decimal(1)) - cent), 0
            price = amount
        else:
            amount, percent = Decimal("0.00"), figure
            price = bundle_service.rule_price(bundle_service.BundlePricing.DISCOUNT, amount, Decimal(percent),
                                              component_price)
        second = f"{qb} × {b.p_titles[pb]}" if qb > 1 else b.p_titles[pb]
        title = f"{name}: {b.p_titles[pa]} & {second}"[:255]
        vendor = _VENDORS[int(b.p_vendor[pa])]
        offer = f"{figure} % off the two bought apart" if pricing == "discount" else f"for {price} instead of {component_price}"
        text_ = f"The {b.p_titles[pa]} and {second}, together {offer}."
        product = Product(handle=f"{_slug(title)}-{pid}", title=title, description=text_, vendor=vendor,
                          product_type="Bundle", status=ProductStatus.ACTIVE, category_id=int(b.p_category[pa]),
                          seo_title=f"{title} | {vendor}"[:255], seo_description=text_[:160],
                          created_at=launched, updated_at=launched)
        session.add(product)
        session.flush()
        assert product.id == pid, (product.id, pid)
        body = np.array([200_000_000_000 + (b.ean_offset + b.V + i) % 100_000_000_000], dtype=np.int64)
        session.add(Variant(product_id=pid, sku=sku, barcode=str(_ean13(body)[0]), title="Set", price=price,
                            compare_at_price=component_price,
                            cost=Decimal(int(b.v_cost[va]) * qa + int(b.v_cost[vb]) * qb) / 100,
                            weight_grams=int(b.v_grams[va]) * qa + int(b.v_grams[vb]) * qb,
                            status=VariantStatus.ACTIVE, position=0, created_at=launched, updated_at=launched))
        session.flush()
        bundle_service.save_in_session(
            session, actor, sku=sku, pricing=pricing, amount=amount, percent_off=percent,
            components=[bundle_service.ComponentSpec(skus[va + 1], qa), bundle_service.ComponentSpec(skus[vb + 1], qb)],
            expected_version=None, operation_id=None)
    rule_name, n, percent_off, kind = _MIX_MATCH
    categories = [int(c) for c, k in zip(b.leaf_ids.tolist(), b.leaf_kinds) if k == kind]
    rule = MixMatchRule(name=rule_name, quantity=n, kind=MixMatchKind.PERCENT, amount=Decimal(percent_off),
                        product_ids=[], category_ids=categories, active=True, created_at=launched, updated_at=launched)
    session.add(rule)
    session.flush()
    audit(session, actor, "mix_match_rule", rule.id, "create", None,
          {"name": rule_name, "quantity": n, "kind": "percent", "amount": str(percent_off), "category_ids": categories})
    return b.n_bundles, 1


def demo_state(db: Database) -> str:
    """What a store holds, for whoever offers to fill it: "empty" (no products), "demo" (the products
    are a demo store this generator wrote) or "other" (someone's real catalog)."""
    from backoffice.models import AuditEntry  # noqa: PLC0415

    with db.read() as session:
        if session.scalar(select(Product.id).limit(1)) is None:
            return "empty"
        made = session.scalar(select(AuditEntry.id).where(AuditEntry.entity == "store", AuditEntry.entity_id == "demo",
                                                          AuditEntry.action == "generate").limit(1))
    return "demo" if made is not None else "other"


# ---------------------------------------------------------------------------------------------------------
# Steps: progress and cancellation
# ---------------------------------------------------------------------------------------------------------
class _Steps:
    """Turns steps (weighted by their measured share of the time) into progress reports, and checks for
    cancellation at every step and between the pieces of long ones."""

    SUB_STEP = 0.05  # within a step, report again only after this much overall progress

    def __init__(self, progress: ProgressFn | None, cancel: CancelFn | None, weights: dict[str, float]) -> None:
        self.progress, self.cancel, self.weights = progress, cancel, weights
        self.total = sum(weights.values())
        self.done_weight = self.current = self.reported = 0.0
        self.text = self.key = ""

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise DemoCancelled()

    def begin(self, key: str, text: str) -> None:
        self.check()
        self.key = key
        self.done_weight += self.current
        self.current = self.weights.get(key, 0.0)
        self.text = text
        self._report(self.done_weight / self.total)

    def say(self, text: str) -> None:
        """New words for the current step, at the progress already reported (nothing if unchanged)."""
        if text != self.text:
            self.text = text
            self._report(self.reported)

    def within(self, fraction: float) -> None:
        """``fraction`` of the current step is done."""
        self.check()
        overall = (self.done_weight + fraction * self.current) / self.total
        if overall - self.reported >= self.SUB_STEP:
            self._report(overall)

    def _report(self, fraction: float) -> None:
        self.reported = fraction
        if self.progress is not None:
            self.progress(min(0.99, fraction), self.text)

    def done(self) -> None:
        if self.progress is not None:
            self.progress(1.0, "Demo store ready")


def _built_ahead(tables: Sequence[tuple[str, str, Callable[[], _Table]]],
                 waiting: Callable[[], None] | None = None) -> Iterator[_Table]:
    """Build each table in a background thread while the previous one is being written, so the database
    never waits for numpy (one builder thread, in order: the data does not depend on the timing).
    ``waiting()`` is called every 0.2 s while the next table is not ready (progress, cancellation)."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for _, _, build in tables:
                if stop.is_set():
                    return
                ready.put(build())
            ready.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            ready.put(exc)

    worker = threading.Thread(target=produce, name="demo-builder", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = ready.get(timeout=0.2)
            except queue.Empty:
                if waiting is not None:
                    waiting()
                continue
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # let a producer blocked on put() finish and see the stop flag
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        worker.join()


# ---------------------------------------------------------------------------------------------------------
# Tables as columns
# ---------------------------------------------------------------------------------------------------------
I8, I4, MONEY, TS, TEXT, BOOL, JSONB = "i8", "i4", "money", "ts", "text", "bool", "jsonb"
# MONEY columns hold integer cents; TS columns integer seconds since 1970-01-01 UTC; TEXT object arrays
# of str; BOOL numpy bools. A column may have a boolean NULL mask in ``nulls``.


@dataclass
class _Table:
    name: str
    columns: list[tuple[str, str]]
    data: dict[str, np.ndarray]
    nulls: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return len(self.data[self.columns[0][0]])


_ALL_TABLES = [m.__tablename__ for m in (
    Category, Attribute, AttributeValue, Location, Supplier, Product, ProductTag, Variant, VariantOption,
    SupplierItem, StockOperation, StockLevel, StockMove, Customer, Order, OrderLine, ProductImage, ImageVersion,
    ProductImageVariant)]
# The big tables, whose foreign keys and secondary indexes are rebuilt after the load on PostgreSQL.
_BULK_TABLES = ["products", "product_tags", "variants", "variant_options", "supplier_items", "stock_operations",
                "stock_levels", "stock_moves", "customers", "orders", "order_lines", "product_images",
                "image_versions", "product_image_variants"]
_SERIAL_TABLES = set(_ALL_TABLES) - {"product_tags", "variant_options", "product_image_variants"}


def _check_empty(session: Session) -> None:
    n = session.scalar(select(func.count()).select_from(Product)) or 0
    if n:
        raise ValidationError(f"the database already holds {n} products; the demo store needs an empty database")
    from backoffice.models import Bundle, MixMatchRule  # noqa: PLC0415 - only here

    for model in (Variant, Category, Attribute, AttributeValue, Location, Supplier, SupplierItem, StockOperation,
                  StockLevel, StockMove, Customer, Order, OrderLine, Bundle, MixMatchRule):
        n = session.scalar(select(func.count()).select_from(model)) or 0
        if n:
            what = model.__tablename__.replace("_", " ")
            raise ValidationError(f"the database already holds {n} {what}; the demo store needs an empty database")


# ---------------------------------------------------------------------------------------------------------
# Encoding columns
# ---------------------------------------------------------------------------------------------------------
_EPOCH_2000 = 946_684_800  # PostgreSQL's timestamp epoch, in Unix seconds
_PG_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
_PG_BINARY_TRAILER = b"\xff\xff"
_FIXED_WIDTH = {I8: 8, I4: 4, TS: 8, BOOL: 1, MONEY: 16}


def _ts_strings(secs: np.ndarray) -> np.ndarray:
    """The text SQLAlchemy itself stores in SQLite for these columns: naive UTC with microseconds."""
    uniq, inv = np.unique(secs, return_inverse=True)
    iso = np.datetime_as_string(uniq.astype("datetime64[s]"), unit="s").tolist()
    return np.array([s.replace("T", " ") + ".000000" for s in iso], dtype=object)[inv]


def _fixed_bytes(kind: str, values: np.ndarray) -> np.ndarray:
    """(n, width) big-endian bytes of a fixed-width column in PostgreSQL's binary format."""
    n = len(values)
    if kind in (I8, I4):
        return values.astype(">i8" if kind == I8 else ">i4").view(np.uint8).reshape(n, -1)
    if kind == TS:
        return ((values.astype(np.int64) - _EPOCH_2000) * 1_000_000).astype(">i8").view(np.uint8).reshape(n, 8)
    if kind == BOOL:
        return values.astype(np.uint8).reshape(n, 1)
    # MONEY, integer cents -> numeric: ndigits, weight, sign, dscale, then four base-10000 digits
    # (two before the decimal point, two after). PostgreSQL strips the leading and trailing zero digits.
    cents = values.astype(np.int64)
    whole, frac = np.abs(cents) // 100, np.abs(cents) % 100
    m = np.empty((n, 8), dtype=">i2")
    m[:, 0], m[:, 1], m[:, 3] = 4, 2, 2
    m[:, 2] = np.where(cents < 0, 0x4000, 0)
    m[:, 4] = whole // 100_000_000
    m[:, 5] = (whole // 10_000) % 10_000
    m[:, 6] = whole % 10_000
    m[:, 7] = frac * 100
    return m.view(np.uint8).reshape(n, 16)


def _text_bytes(values: np.ndarray) -> np.ndarray:
    """A numpy bytes array (UTF-8, NUL padded) of an object array of str."""
    strs = ["" if v is None else v for v in values.tolist()]
    try:
        return np.array(strs, dtype="S")  # ASCII, the common case: encoded in C
    except UnicodeEncodeError:
        return np.array([v.encode("utf-8") for v in strs], dtype="S")


def _copy_binary(table: _Table, start: int, stop: int) -> bytes:
    """Rows ``start:stop`` in PostgreSQL's COPY BINARY format, vectorised: each row is laid out at its
    widest in one (rows, width) byte matrix, a mask drops the bytes that NULLs and shorter strings do not
    use, and what is left is the exact stream."""
    n = stop - start
    cols: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = []  # (payload, lengths, NULL mask)
    for name, kind in table.columns:
        values = table.data[name][start:stop]
        nulls = table.nulls[name][start:stop] if name in table.nulls and table.nulls[name][start:stop].any() else None
        if kind in (TEXT, JSONB):
            if kind == JSONB:  # jsonb's binary input: a version byte (1), then the JSON text
                values = np.array(["\x01" + ("" if v is None else v) for v in values.tolist()], dtype=object)
            text = _text_bytes(values)
            lengths = np.strings.str_len(text).astype(np.int32)
            payload = text.view(np.uint8).reshape(n, text.dtype.itemsize)
            cols.append((payload, lengths, nulls))
        else:
            cols.append((_fixed_bytes(kind, values), None, nulls))
    width = 2 + sum(4 + payload.shape[1] for payload, _, _ in cols)
    mat = np.empty((n, width), dtype=np.uint8)
    keep: np.ndarray | None = None
    mat[:, 0:2] = np.array([len(cols)], dtype=">i2").view(np.uint8)
    off = 2
    for payload, lengths, nulls in cols:
        w = payload.shape[1]
        if lengths is None and nulls is None:
            mat[:, off:off + 4] = np.array([w], dtype=">i4").view(np.uint8)
        else:
            used = np.full(n, w, dtype=np.int32) if lengths is None else lengths
            if nulls is not None:
                used = np.where(nulls, 0, used)
            field_len = used if nulls is None else np.where(nulls, -1, used)
            mat[:, off:off + 4] = field_len.astype(">i4").view(np.uint8).reshape(n, 4)
            if keep is None:
                keep = np.ones((n, width), dtype=bool)
            keep[:, off + 4:off + 4 + w] = np.arange(w)[None, :] < used[:, None]
        mat[:, off + 4:off + 4 + w] = payload
        off += 4 + w
    return mat.tobytes() if keep is None else mat[keep].tobytes()


def _sqlite_column(kind: str, values: np.ndarray, nulls: np.ndarray | None) -> list[Any]:
    if kind in (I8, I4):
        out = values.tolist()
    elif kind == MONEY:
        out = (values / 100.0).tolist()  # what SQLAlchemy stores for Numeric on SQLite (REAL affinity)
    elif kind == TS:
        out = _ts_strings(values).tolist()
    elif kind == BOOL:
        out = values.astype(np.int64).tolist()
    else:
        out = values.tolist()
    if nulls is not None and nulls.any():
        for i in np.flatnonzero(nulls).tolist():
            out[i] = None
    return out


# ---------------------------------------------------------------------------------------------------------
# Sinks: where the tables go
# ---------------------------------------------------------------------------------------------------------
class _Sink:
    # Seconds each step takes (measured at 100k products on PostgreSQL, 2k on SQLite), for progress.
    WEIGHTS: dict[str, float] = {}

    def __init__(self, session: Session) -> None:
        # session.connection() begins the session's transaction (BEGIN IMMEDIATE on SQLite); the raw
        # DBAPI connection under it shares that transaction.
        self.raw: Any = session.connection().connection.driver_connection

    def lock(self, tables: Sequence[str]) -> None: ...
    def defer_constraints(self, tables: Sequence[str]) -> None: ...
    def write(self, table: _Table, check: Callable[[], None]) -> None: ...
    def restore_constraints(self, done: Callable[[float], None]) -> None: ...
    def reset_sequences(self, tables: Sequence[str]) -> None: ...
    def analyze(self, tables: Sequence[str]) -> None: ...


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _PgSink(_Sink):
    CHUNK = 100_000
    WEIGHTS = {"prepare": 0.05, "products": 1.2, "product_tags": 0.1, "variants": 1.9, "variant_options": 1.2,
               "supplier_items": 0.6,
               "stock_levels": 1.8, "stock_moves": 2.5, "customers": 0.2, "orders": 0.5, "order_lines": 0.7,
               "stock_operations": 0.6, "product_images": 0.4, "image_versions": 0.3, "product_image_variants": 0.8,
               "analyze": 1.2, "rebuild": 17.5, "save": 0.05, "open_orders": 0.5, "shipments": 1.5, "returns": 0.3}

    def __init__(self, session: Session) -> None:
        from psycopg.copy import QueuedLibpqWriter  # noqa: PLC0415 - only with PostgreSQL

        super().__init__(session)
        self._writer_cls = QueuedLibpqWriter
        self.recreate: list[str] = []

    def _exec(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.raw.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def lock(self, tables: Sequence[str]) -> None:
        # Writers wait; readers still read (until the constraint rebuild needs the tables alone).
        self._exec(f"LOCK TABLE {', '.join(map(_quote, tables))} IN EXCLUSIVE MODE")
        # Memory for this transaction's index sorts and foreign-key validation joins (not the server's).
        self._exec("SET LOCAL maintenance_work_mem = '512MB'")
        self._exec("SET LOCAL work_mem = '128MB'")

    def defer_constraints(self, tables: Sequence[str]) -> None:
        """Drop the keys, foreign keys and indexes of ``tables`` (and foreign keys elsewhere that point at
        them), remembering their exact definitions to recreate them after the load. Loading into bare
        tables and then building each index with one sort and checking each foreign key with one join
        is several times faster than maintaining them row by row; it all commits or rolls back together.
        Only the tables' owner may do this: another role loads with everything in place (slower)."""
        import psycopg  # noqa: PLC0415 - only with PostgreSQL

        try:
            with self.raw.transaction():  # a savepoint inside the session's transaction
                self._defer(tables)
        except psycopg.errors.InsufficientPrivilege as exc:
            log.warning("demo store: cannot defer constraints (%s); loading with them in place", exc)
            self.recreate = []

    def _defer(self, tables: Sequence[str]) -> None:
        cons = self._exec(
            """
            SELECT con.conrelid::regclass::text, con.conname, con.contype, pg_get_constraintdef(con.oid)
            FROM pg_constraint con
            WHERE (con.contype = 'f' AND (con.conrelid = ANY(%(t)s::regclass[]) OR con.confrelid = ANY(%(t)s::regclass[])))
               OR (con.contype IN ('p', 'u') AND con.conrelid = ANY(%(t)s::regclass[]))
            ORDER BY 1, 2
            """,
            {"t": list(tables)},
        )
        idx = self._exec(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%(t)s::regclass[])
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                              WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
            ORDER BY 1
            """,
            {"t": list(tables)},
        )
        by_type = {t: [c for c in cons if c[2] == t] for t in "pfu"}
        for tbl, name, _, _ in by_type["f"] + by_type["u"] + by_type["p"]:
            self._exec(f"ALTER TABLE {tbl} DROP CONSTRAINT {_quote(name)}")
        for name, _ in idx:
            self._exec(f"DROP INDEX {name}")
        add = "ALTER TABLE {} ADD CONSTRAINT {} {}"
        self.recreate = (
            [add.format(tbl, _quote(name), d) for tbl, name, _, d in by_type["p"] + by_type["u"]]
            + [definition for _, definition in idx]
            + [add.format(tbl, _quote(name), d) for tbl, name, _, d in by_type["f"]]
        )

    def write(self, table: _Table, check: Callable[[], None]) -> None:
        cols = ", ".join(_quote(name) for name, _ in table.columns)
        stmt = f"COPY {_quote(table.name)} ({cols}) FROM STDIN (FORMAT BINARY)"
        # The queued writer sends from a thread: the next chunk is encoded while the server stores this one.
        with self.raw.cursor() as cur, cur.copy(stmt, writer=self._writer_cls(cur)) as copy:
            copy.write(_PG_BINARY_HEADER)
            for start in range(0, table.rows, self.CHUNK):
                check()
                copy.write(_copy_binary(table, start, min(table.rows, start + self.CHUNK)))
            copy.write(_PG_BINARY_TRAILER)

    def restore_constraints(self, done: Callable[[float], None]) -> None:
        for i, statement in enumerate(self.recreate):
            done(i / len(self.recreate))
            self._exec(statement)
        self.recreate = []

    def reset_sequences(self, tables: Sequence[str]) -> None:
        for name in tables:
            self._exec(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE(max(id), 1), max(id) IS NOT NULL)"
                f" FROM {_quote(name)}",
                (name,),
            )

    def analyze(self, tables: Sequence[str]) -> None:
        # Planner statistics now rather than whenever autovacuum gets there: reports run right away.
        self._exec(f"ANALYZE {', '.join(map(_quote, tables))}")


class _SqliteSink(_Sink):
    CHUNK = 50_000
    WEIGHTS = {"prepare": 0.01, "products": 0.03, "product_tags": 0.01, "variants": 0.2, "variant_options": 0.18,
               "supplier_items": 0.08,
               "stock_levels": 0.19, "stock_moves": 0.2, "customers": 0.02, "orders": 0.05, "order_lines": 0.09,
               "stock_operations": 0.04, "product_images": 0.05, "image_versions": 0.03,
               "product_image_variants": 0.05, "analyze": 0.03, "save": 0.08, "open_orders": 0.05, "shipments": 0.1,
               "returns": 0.03}

    def write(self, table: _Table, check: Callable[[], None]) -> None:
        cols = ", ".join(_quote(name) for name, _ in table.columns)
        marks = ", ".join("?" for _ in table.columns)
        sql = f"INSERT INTO {_quote(table.name)} ({cols}) VALUES ({marks})"
        for start in range(0, table.rows, self.CHUNK):
            check()
            stop = min(table.rows, start + self.CHUNK)
            columns = [
                _sqlite_column(kind, table.data[name][start:stop],
                               None if name not in table.nulls else table.nulls[name][start:stop])
                for name, kind in table.columns
            ]
            self.raw.executemany(sql, zip(*columns))

    def analyze(self, tables: Sequence[str]) -> None:
        self.raw.execute("ANALYZE")


# ---------------------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------------------
# Product kinds: product type, SKU code, title nouns, materials, size family, median price (EUR), grams.
_KINDS: dict[str, tuple[str, str, list[str], list[str], str, float, int]] = {
    "sweater": ("Sweater", "SWT", ["Crew Sweater", "V-Neck Sweater", "Cardigan", "Turtleneck", "Half-Zip Sweater"],
                ["Merino", "Cashmere", "Cotton", "Lambswool", "Alpaca", "Organic Cotton"], "apparel", 79, 450),
    "tshirt": ("T-Shirt", "TEE", ["Crew T-Shirt", "V-Neck T-Shirt", "Pocket Tee", "Long-Sleeve Tee", "Tank Top"],
               ["Cotton", "Organic Cotton", "Linen", "Jersey", "Bamboo"], "apparel", 25, 180),
    "dress": ("Dress", "DRS", ["Wrap Dress", "Midi Dress", "Shirt Dress", "Slip Dress", "Maxi Dress"],
              ["Linen", "Silk", "Viscose", "Cotton", "Jersey"], "apparel", 89, 350),
    "jacket": ("Jacket", "JKT", ["Parka", "Bomber Jacket", "Trench Coat", "Overshirt", "Puffer Jacket", "Field Jacket"],
               ["Wool", "Nylon", "Cotton Twill", "Down", "Waxed Cotton", "Denim"], "apparel", 149, 900),
    "trousers": ("Trousers", "TRS", ["Chinos", "Slim Jeans", "Straight Jeans", "Cargo Trousers", "Pleated Trousers"],
                 ["Cotton Twill", "Denim", "Linen", "Wool", "Corduroy"], "apparel", 69, 550),
    "skirt": ("Skirt", "SKT", ["Midi Skirt", "Pleated Skirt", "Mini Skirt", "Wrap Skirt"],
              ["Linen", "Denim", "Wool", "Silk", "Corduroy"], "apparel", 59, 300),
    "shirt": ("Shirt", "SHT", ["Oxford Shirt", "Flannel Shirt", "Button-Down Shirt", "Camp Shirt", "Band-Collar Shirt"],
              ["Cotton", "Linen", "Brushed Cotton", "Chambray", "Organic Cotton"], "apparel", 59, 280),
    "scarf": ("Scarf", "SCF", ["Scarf", "Wrap", "Snood", "Bandana"],
              ["Wool", "Cashmere", "Silk", "Merino", "Cotton"], "onesize", 39, 150),
    "bag": ("Bag", "BAG", ["Tote Bag", "Backpack", "Crossbody Bag", "Weekender", "Messenger Bag"],
            ["Leather", "Canvas", "Nylon", "Suede", "Recycled Nylon"], "onesize", 99, 800),
    "hat": ("Hat", "HAT", ["Beanie", "Baseball Cap", "Bucket Hat", "Fedora"],
            ["Wool", "Cotton", "Merino", "Felt", "Straw"], "onesize", 32, 120),
    "belt": ("Belt", "BLT", ["Belt", "Dress Belt", "Braided Belt"],
             ["Leather", "Suede", "Canvas"], "apparel", 45, 200),
    "wallet": ("Wallet", "WLT", ["Wallet", "Card Holder", "Coin Purse"],
               ["Leather", "Suede", "Canvas", "Recycled Nylon"], "onesize", 45, 120),
    "kids_top": ("Kids Top", "KTP", ["T-Shirt", "Hoodie", "Sweatshirt", "Polo Shirt"],
                 ["Cotton", "Organic Cotton", "Fleece", "Jersey"], "kids", 22, 150),
    "kids_bottom": ("Kids Bottoms", "KBT", ["Joggers", "Shorts", "Jeans", "Leggings"],
                    ["Cotton", "Denim", "Fleece", "Organic Cotton"], "kids", 25, 220),
    "kids_outer": ("Kids Outerwear", "KOW", ["Rain Jacket", "Puffer Jacket", "Fleece Jacket", "Snowsuit"],
                   ["Nylon", "Fleece", "Recycled Polyester", "Down"], "kids", 59, 500),
    "sneakers": ("Sneakers", "SNK", ["Low-Top Sneakers", "High-Top Sneakers", "Runners", "Court Sneakers"],
                 ["Leather", "Suede", "Canvas", "Mesh", "Knit"], "shoes", 99, 800),
    "boots": ("Boots", "BOT", ["Chelsea Boots", "Hiking Boots", "Ankle Boots", "Lace-Up Boots"],
              ["Leather", "Suede", "Nubuck", "Waxed Leather"], "shoes", 159, 1300),
    "sandals": ("Sandals", "SND", ["Slides", "Sandals", "Espadrilles", "Flip-Flops"],
                ["Leather", "Cork", "Canvas", "Rubber"], "shoes", 49, 400),
    "bedding": ("Bedding", "BED", ["Duvet Cover", "Sheet Set", "Pillowcase Set", "Fitted Sheet"],
                ["Linen", "Cotton Percale", "Cotton Sateen", "Bamboo", "Washed Linen"], "bedding", 79, 1200),
    "towels": ("Towels", "TWL", ["Bath Towel", "Hand Towel", "Towel Set", "Bath Sheet"],
               ["Cotton", "Organic Cotton", "Waffle Cotton", "Linen", "Bamboo"], "onesize", 29, 600),
    "cushions": ("Cushions", "CSH", ["Cushion Cover", "Cushion", "Floor Cushion"],
                 ["Velvet", "Linen", "Cotton", "Wool", "Boucle"], "onesize", 35, 400),
    "throws": ("Throws", "THR", ["Throw", "Blanket", "Knitted Throw"],
               ["Wool", "Cotton", "Cashmere", "Mohair", "Fleece"], "onesize", 89, 1100),
}

# The category tree: (name, children); a leaf is (name, kind, share of the catalog).
_TREE: list[tuple[str, list[Any]]] = [
    ("Women", [
        ("Clothing", [("Sweaters & Cardigans", "sweater", 5), ("T-Shirts & Tops", "tshirt", 6),
                      ("Dresses", "dress", 5), ("Jackets & Coats", "jacket", 4), ("Trousers & Jeans", "trousers", 4),
                      ("Skirts", "skirt", 3)]),
        ("Accessories", [("Scarves", "scarf", 2), ("Bags", "bag", 3), ("Hats", "hat", 1)]),
    ]),
    ("Men", [
        ("Clothing", [("Sweaters", "sweater", 4), ("T-Shirts", "tshirt", 5), ("Shirts", "shirt", 4),
                      ("Jackets & Coats", "jacket", 4), ("Trousers & Jeans", "trousers", 4)]),
        ("Accessories", [("Belts", "belt", 2), ("Wallets", "wallet", 2), ("Hats", "hat", 1)]),
    ]),
    ("Kids", [("Tops", "kids_top", 3), ("Bottoms", "kids_bottom", 3), ("Outerwear", "kids_outer", 2)]),
    ("Shoes", [("Sneakers", "sneakers", 5), ("Boots", "boots", 3), ("Sandals", "sandals", 2)]),
    ("Home", [("Bedding", "bedding", 3), ("Towels", "towels", 2), ("Cushions", "cushions", 2), ("Throws", "throws", 2)]),
]

# Size families: the values in order, how many consecutive sizes a product offers (values, weights), how
# many colours (values, weights), and a price factor per size.
_SIZE_FAMILIES: dict[str, tuple[list[str], list[int], list[float], list[int], list[float], list[float]]] = {
    "apparel": (["XS", "S", "M", "L", "XL", "XXL"], [3, 4, 5, 6], [0.15, 0.3, 0.3, 0.25],
                [1, 2, 3, 4], [0.2, 0.35, 0.3, 0.15], [1, 1, 1, 1, 1, 1]),
    "kids": (["2Y", "4Y", "6Y", "8Y", "10Y", "12Y"], [3, 4, 5, 6], [0.15, 0.3, 0.3, 0.25],
             [1, 2, 3, 4], [0.2, 0.35, 0.3, 0.15], [0.85, 0.9, 0.95, 1.0, 1.05, 1.1]),
    "shoes": ([str(n) for n in range(36, 47)], [5, 6, 7, 8, 9], [0.2, 0.2, 0.2, 0.2, 0.2],
              [1, 2, 3], [0.45, 0.4, 0.15], [1.0] * 11),
    "bedding": (["Single", "Double", "Queen", "King"], [2, 3, 4], [0.3, 0.4, 0.3],
                [2, 3, 4, 5], [0.25, 0.25, 0.25, 0.25], [1.0, 1.25, 1.4, 1.55]),
    "onesize": (["One Size"], [1], [1.0], [2, 3, 4, 5, 6, 7, 8, 9, 10], [1 / 9] * 9, [1.0]),
}
_SIZE_CODES = {"One Size": "OS", "Single": "SGL", "Double": "DBL", "Queen": "QN", "King": "KG"}
# How well each size sells, by family position (middle sizes best).
_SIZE_POPULARITY = {"apparel": [0.5, 1.0, 1.6, 1.5, 0.9, 0.4], "kids": [0.7, 1.0, 1.1, 1.1, 1.0, 0.8],
                    "shoes": [0.3, 0.5, 0.8, 1.0, 1.2, 1.3, 1.3, 1.2, 0.9, 0.6, 0.3],
                    "bedding": [0.7, 1.3, 1.0, 0.8], "onesize": [1.0]}

_COLOURS = [("Black", "BLK", 3.0), ("White", "WHT", 2.2), ("Navy", "NVY", 2.0), ("Grey", "GRY", 1.8),
            ("Beige", "BGE", 1.2), ("Camel", "CML", 0.9), ("Olive", "OLV", 0.8), ("Forest Green", "FGN", 0.6),
            ("Burgundy", "BUR", 0.7), ("Red", "RED", 0.6), ("Pink", "PNK", 0.5), ("Sky Blue", "SKY", 0.7),
            ("Mustard", "MUS", 0.4), ("Charcoal", "CHR", 1.0), ("Brown", "BRN", 0.9), ("Cream", "CRM", 0.8)]

_ADJECTIVES = ["Classic", "Essential", "Everyday", "Relaxed", "Slim", "Oversized", "Heritage", "Urban", "Coastal",
               "Alpine", "Vintage", "Modern", "Soft", "Lightweight", "Premium", "Signature", "Nordic", "Tailored",
               "Cosy", "Weekend", "Studio", "Travel", "Harbour", "Summit"]

_VENDORS = ["Northwind Apparel", "Fjord & Pine", "Atlas Outfitters", "Maison Lumière", "Bergström", "Coastline Co.",
            "Kestrel", "Oak & Thread", "Lindqvist", "Rivergate", "Solano", "Alder Studio", "Hallam & Reed",
            "Aurelia", "Brindle", "Corvo", "Driftwood", "Elmstead", "Foxglove", "Granite Peak", "Hawthorne",
            "Isola", "Juniper Lane", "Larkspur", "Meridian", "Nomad Supply", "Orla", "Pemberton", "Quarry Goods",
            "Rowan & Ash", "Saltmarsh", "Tidewater", "Umber", "Vesper", "Willow & Wren", "Yarrow", "Zephyr Knits",
            "Blue Heron", "Copperfield", "Marlow & Finch"]

_TAGS = ["new", "bestseller", "sale", "organic", "sustainable", "limited-edition", "summer", "winter", "spring",
         "autumn", "gift-idea", "premium", "basics", "made-in-eu", "recycled", "vegan", "staff-pick", "online-only",
         "back-in-stock", "last-chance", "wardrobe-essential", "handmade", "fair-trade", "travel"]

_PHRASES = ["a wardrobe staple you will reach for every day", "cut for an easy, relaxed fit",
            "finished by hand with attention to every seam", "designed to last for many seasons",
            "made in small batches by family-run workshops", "an update of one of our best-loved designs",
            "light enough to layer and warm enough to wear alone", "made to be worn, washed and worn again"]

_FIRST_NAMES = ["anna", "ben", "clara", "david", "elena", "felix", "greta", "hugo", "ines", "jonas", "katja", "lars",
                "marie", "nils", "olga", "paul", "rosa", "simon", "tina", "ugo", "vera", "willem", "yara", "zoe",
                "lucas", "emma", "noah", "mia", "leon", "sofia", "mateo", "julia", "oscar", "alice", "tom", "lea",
                "finn", "nora", "jan", "ida"]
_LAST_NAMES = ["muller", "schmidt", "martin", "bernard", "smith", "jones", "devries", "jansen", "rossi", "russo",
               "garcia", "lopez", "nowak", "kowalski", "andersson", "nielsen", "murphy", "kelly", "dubois", "moreau",
               "weber", "fischer", "peeters", "janssens", "gruber", "huber", "silva", "santos", "berg", "lindberg",
               "novak", "horvat", "bianchi", "romano", "fernandez", "wagner", "becker", "hofmann", "leroy", "baker"]
_EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example", "post.example"]

_COUNTRIES = [("DE", 24), ("FR", 14), ("GB", 12), ("NL", 8), ("IT", 7), ("ES", 7), ("BE", 5), ("AT", 5), ("CH", 4),
              ("PL", 4), ("SE", 3), ("US", 3), ("DK", 2), ("IE", 2)]
_AGE_BANDS = [("18-24", 14), ("25-34", 30), ("35-44", 25), ("45-54", 16), ("55-64", 10), ("65+", 5)]

_WAREHOUSES = [("WH-BER", "Berlin Central Warehouse"), ("WH-RTM", "Rotterdam Distribution Centre"),
               ("WH-LYS", "Lyon Warehouse")]
_STORES = [("ST-MUC", "Munich Flagship Store"), ("ST-HAM", "Hamburg Store"), ("ST-AMS", "Amsterdam Store"),
           ("ST-VIE", "Vienna Store")]
_VIRTUAL = [("TRANSIT", "In transit", "transit"), ("SUPPLIERS", "Suppliers (receipts)", "supplier"),
            ("CUSTOMERS", "Customers (sales)", "customer"), ("ADJUST", "Adjustments and losses", "adjustment")]

_SUPPLIER_PLACES = ["Baltic", "Lusitania", "Anatolia", "Porto", "Lombardy", "Flanders", "Silesia", "Tuscany",
                    "Catalonia", "Bohemia", "Galicia", "Moravia", "Thrace", "Andalusia", "Piedmont", "Saxony"]
_SUPPLIER_TRADES = ["Textiles", "Knitwear", "Leather Goods", "Footwear", "Home Linen", "Apparel Co.",
                    "Manufacturing", "Weaving Mills"]
_SUPPLIER_TERMS = ["Net 30", "Net 45", "Net 60", "Prepayment", "2/10 Net 30"]
_SUPPLIER_CURRENCIES = [("EUR", 70), ("USD", 12), ("GBP", 8), ("TRY", 5), ("PLN", 5)]
_FX_PER_EUR = {"EUR": 1.0, "USD": 1.08, "GBP": 0.85, "TRY": 35.0, "PLN": 4.3}   # fixed demo rates

# Sales rhythm: Monday..Sunday, January..December, hours of the day (UTC).
_WEEKDAY_FACTOR = np.array([0.85, 0.88, 0.9, 0.95, 1.05, 1.3, 1.35])
_MONTH_FACTOR = np.array([0.85, 0.78, 0.9, 0.95, 1.0, 0.95, 0.9, 0.88, 1.0, 1.12, 1.5, 1.65])
_HOUR_WEIGHT = np.array([0.6, 0.4, 0.3, 0.25, 0.25, 0.35, 0.6, 1.0, 1.4, 1.6, 1.7, 1.8, 1.9, 1.8, 1.7, 1.7, 1.8,
                         2.0, 2.3, 2.6, 2.8, 2.6, 2.0, 1.2])
_ANNUAL_GROWTH = 1.35


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("&", "and")).strip("-")


def _obj(values: Sequence[str]) -> np.ndarray:
    return np.array(values, dtype=object)


def _weights(pairs: Sequence[tuple[Any, float]]) -> tuple[list[Any], np.ndarray]:
    w = np.array([p[1] for p in pairs], dtype=float)
    return [p[0] for p in pairs], w / w.sum()


def _ean13(body12: np.ndarray) -> np.ndarray:
    """EAN-13 codes (object array of str) for 12-digit integer bodies, with their check digit."""
    digits = (body12[:, None] // (10 ** np.arange(11, -1, -1, dtype=np.int64))[None, :]) % 10
    total = (digits * np.tile([1, 3], 6)[None, :]).sum(axis=1)
    check = (10 - total % 10) % 10
    full = body12 * 10 + check
    return np.char.zfill(full.astype("U13"), 13).astype(object)


# ---------------------------------------------------------------------------------------------------------
# The builder: one method per table, each vectorised over the whole table
# ---------------------------------------------------------------------------------------------------------
class _Builder:
    def __init__(self, *, products: int, seed: int, anchor: dt.date, user_id: int, username: str = "",
                 image_store: ImageStore | None = None, photo_workers: int = 2, cancel: CancelFn | None = None,
                 until: int | None = None) -> None:
        self.P, self.seed, self.anchor, self.user_id, self.username = products, seed, anchor, user_id, username
        midnight = dt.datetime(anchor.year, anchor.month, anchor.day, tzinfo=dt.timezone.utc)
        self.anchor_ts = int(midnight.timestamp())          # start of the anchor day
        # the anchor day is today: its events fit between midnight and now (squeezed, in the same order)
        self.until = None if until is None or until >= self.anchor_ts + 86_400 else max(until, self.anchor_ts + 60)
        self.sales_start = self.anchor_ts - (SALES_DAYS - 1) * 86_400
        self.catalog_start = self.sales_start - 365 * 86_400
        self.opening_ts = self.anchor_ts                     # stock levels last counted on the anchor day
        self.ledger_start = self.sales_start - 2 * 86_400   # the opening balance, before the first sale
        self.image_store, self.photo_workers, self.cancel = image_store, photo_workers, cancel
        self._photo_thread: threading.Thread | None = None
        self._photo_stop = threading.Event()
        self._photos: dict[tuple[str, str], dict[str, Any]] = {}
        self._photo_error: BaseException | None = None
        self.photo_progress = (0, 0)  # (pictures made, pictures needed), updated by the photo thread
        self.n_bundles = 0            # bundle products written after these (not built here: no stock, no sales)

    def rng(self, stream: int) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64([self.seed, stream]))

    def tables(self) -> list[tuple[str, str, Callable[[], _Table]]]:
        """(table name, label, build) in the order they must be built and written (parents first)."""
        return [
            ("categories", "categories", self.categories),
            ("attributes", "attributes", self.attributes),
            ("attribute_values", "attribute values", self.attribute_values),
            ("locations", "locations", self.locations),
            ("suppliers", "suppliers", self.suppliers),
            ("products", "products", self.products),
            ("product_tags", "product tags", self.product_tags),
            ("variants", "variants", self.variants),
            ("variant_options", "variant options", self.variant_options),
            ("supplier_items", "supplier items", self.supplier_items),
            ("customers", "customers", self.customers),
            ("orders", "orders", self.orders),
            ("order_lines", "order lines", self.order_lines),
            ("stock_operations", "stock documents (opening, receipts, sales)", self.stock_operations),
            ("stock_levels", "stock levels", self.stock_levels_table),
            ("stock_moves", "the stock ledger", self.stock_moves),
        ] + ([] if self.image_store is None else [
            ("product_images", "product photos", self.product_images),
            ("image_versions", "photo versions", self.image_versions),
            ("product_image_variants", "photos of each colour's variants", self.product_image_variants),
        ])

    # -- small helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _editable(n: int, created: np.ndarray | int, updated: np.ndarray | int | None = None) -> dict[str, np.ndarray]:
        created_arr = np.broadcast_to(np.asarray(created, dtype=np.int64), (n,))
        updated_arr = created_arr if updated is None else np.broadcast_to(np.asarray(updated, dtype=np.int64), (n,))
        return {"id": np.arange(1, n + 1, dtype=np.int64), "created_at": created_arr, "updated_at": updated_arr,
                "version": np.ones(n, dtype=np.int32)}

    _EDITABLE_COLS = [("id", I8), ("created_at", TS), ("updated_at", TS), ("version", I4)]

    # -- catalog structure -----------------------------------------------------------------------------
    def categories(self) -> _Table:
        ids, parents, names, paths, positions = [], [], [], [], []
        leaf_ids, leaf_kinds, leaf_shares = [], [], []
        # Breadth first, so ids grow by level and a parent always precedes its children.
        queue: list[tuple[int | None, str, int, Any]] = [(None, "/", pos, node) for pos, node in enumerate(_TREE)]
        while queue:
            parent_id, parent_path, pos, node = queue.pop(0)
            cid = len(ids) + 1
            name = node[0]
            ids.append(cid)
            parents.append(parent_id)
            names.append(name)
            paths.append(f"{parent_path}{cid}/")
            positions.append(pos)
            if len(node) == 3:  # leaf
                leaf_ids.append(cid)
                leaf_kinds.append(node[1])
                leaf_shares.append(node[2])
            else:
                queue.extend((cid, paths[-1], p, child) for p, child in enumerate(node[1]))
        self.leaf_ids = np.array(leaf_ids, dtype=np.int64)
        self.leaf_kinds = leaf_kinds
        self.leaf_shares = np.array(leaf_shares, dtype=float) / sum(leaf_shares)
        n = len(ids)
        parent_arr = np.array([p or 0 for p in parents], dtype=np.int64)
        self.n_categories = n
        return _Table(
            "categories",
            [("parent_id", I8), ("name", TEXT), ("path", TEXT), ("position", I4)] + self._EDITABLE_COLS,
            {"parent_id": parent_arr, "name": _obj(names), "path": _obj(paths),
             "position": np.array(positions, dtype=np.int32), **self._editable(n, self.catalog_start)},
            {"parent_id": np.array([p is None for p in parents])},
        )

    def attributes(self) -> _Table:
        # Attribute values, in attribute order: sizes by family, colours, materials.
        self.size_values: list[str] = []
        self.family_offset: dict[str, int] = {}
        for fam, spec in _SIZE_FAMILIES.items():
            self.family_offset[fam] = len(self.size_values)
            self.size_values.extend(spec[0])
        materials: list[str] = []
        for kind in _KINDS.values():
            materials.extend(m for m in kind[3] if m not in materials)
        self.materials = materials
        n_size, n_col = len(self.size_values), len(_COLOURS)
        self.size_value_id0 = 1
        self.colour_value_id0 = 1 + n_size
        self.material_value_id0 = 1 + n_size + n_col
        codes, names = ["size", "colour", "material"], ["Size", "Colour", "Material"]
        return _Table(
            "attributes",
            [("code", TEXT), ("name", TEXT), ("position", I4)] + self._EDITABLE_COLS,
            {"code": _obj(codes), "name": _obj(names), "position": np.arange(3, dtype=np.int32),
             **self._editable(3, self.catalog_start)},
        )

    def attribute_values(self) -> _Table:
        values = self.size_values + [c[0] for c in _COLOURS] + self.materials
        attr = [1] * len(self.size_values) + [2] * len(_COLOURS) + [3] * len(self.materials)
        pos = list(range(len(self.size_values))) + list(range(len(_COLOURS))) + list(range(len(self.materials)))
        n = len(values)
        return _Table(
            "attribute_values",
            [("attribute_id", I8), ("value", TEXT), ("position", I4)] + self._EDITABLE_COLS,
            {"attribute_id": np.array(attr, dtype=np.int64), "value": _obj(values),
             "position": np.array(pos, dtype=np.int32), **self._editable(n, self.catalog_start)},
        )

    def locations(self) -> _Table:
        rng = self.rng(1)
        n_wh = int(rng.integers(2, 4))          # 2-3 warehouses
        n_st = int(rng.integers(1, 4))          # 1-3 stores
        rows = ([(c, n, "warehouse") for c, n in _WAREHOUSES[:n_wh]] + [(c, n, "store") for c, n in _STORES[:n_st]]
                + list(_VIRTUAL))
        self.stocked_locations = np.arange(1, n_wh + n_st + 1, dtype=np.int64)   # warehouses and stores
        self.stocked_is_warehouse = np.array([k == "warehouse" for _, _, k in rows[: n_wh + n_st]])
        self.location_codes = [c for c, _, _ in rows]
        self.supplier_location_id = 1 + [k for _, _, k in rows].index("supplier")
        self.customer_location_id = 1 + [k for _, _, k in rows].index("customer")
        n = len(rows)
        self.n_locations = n
        return _Table(
            "locations",
            [("code", TEXT), ("name", TEXT), ("kind", TEXT), ("active", BOOL)] + self._EDITABLE_COLS,
            {"code": _obj([r[0] for r in rows]), "name": _obj([r[1] for r in rows]),
             "kind": _obj([r[2] for r in rows]), "active": np.ones(n, dtype=bool),
             **self._editable(n, self.catalog_start)},
        )

    def suppliers(self) -> _Table:
        rng = self.rng(2)
        n = int(np.clip(20 + self.P // 2500 + rng.integers(0, 6), 20, 60))
        combos = rng.choice(len(_SUPPLIER_PLACES) * len(_SUPPLIER_TRADES), size=n, replace=False)
        names = [f"{_SUPPLIER_PLACES[c // len(_SUPPLIER_TRADES)]} {_SUPPLIER_TRADES[c % len(_SUPPLIER_TRADES)]}"
                 for c in combos.tolist()]
        first = rng.integers(0, len(_FIRST_NAMES), n)
        last = rng.integers(0, len(_LAST_NAMES), n)
        contacts = [f"{_FIRST_NAMES[a].title()} {_LAST_NAMES[b].title()}" for a, b in zip(first.tolist(), last.tolist())]
        currencies, cw = _weights(_SUPPLIER_CURRENCIES)
        cur = rng.choice(len(currencies), size=n, p=cw)
        self.sup_currency = np.array([currencies[c] for c in cur.tolist()], dtype=object)
        self.sup_names = names
        phones = rng.integers(1_000_000, 9_999_999, n)
        area = rng.integers(20, 99, n)
        return _Table(
            "suppliers",
            [("name", TEXT), ("email", TEXT), ("contact_name", TEXT), ("phone", TEXT), ("currency", TEXT),
             ("payment_terms", TEXT), ("lead_time_days", I4), ("notes", TEXT)] + self._EDITABLE_COLS,
            {"name": _obj(names), "email": _obj([f"orders@{_slug(s)}.example.com" for s in names]),
             "contact_name": _obj(contacts),
             "phone": _obj([f"+{30 + int(a) % 20} {a} {p}" for a, p in zip(area.tolist(), phones.tolist())]),
             "currency": _obj([currencies[c] for c in cur.tolist()]),
             "payment_terms": _obj([_SUPPLIER_TERMS[i] for i in rng.integers(0, len(_SUPPLIER_TERMS), n).tolist()]),
             "lead_time_days": rng.integers(5, 61, n).astype(np.int32),
             "notes": _obj([""] * n), **self._editable(n, self.catalog_start)},
        )

    # -- products --------------------------------------------------------------------------------------
    def products(self) -> _Table:
        rng = self.rng(3)
        P = self.P
        leaf = rng.choice(len(self.leaf_ids), size=P, p=self.leaf_shares)
        kind_names = list(_KINDS)
        kind_of_leaf = np.array([kind_names.index(k) for k in self.leaf_kinds])
        kind = kind_of_leaf[leaf]
        self.p_kind = kind
        self.p_category = self.leaf_ids[leaf]
        # Title parts: adjective, material and noun, each drawn within the product's kind.
        adj = rng.integers(0, len(_ADJECTIVES), P)
        n_mat = np.array([len(_KINDS[k][3]) for k in kind_names])
        n_noun = np.array([len(_KINDS[k][2]) for k in kind_names])
        mat_local = (rng.random(P) * n_mat[kind]).astype(np.int64)
        noun_local = (rng.random(P) * n_noun[kind]).astype(np.int64)
        material_global = np.array([[self.materials.index(m) for m in _KINDS[k][3]] + [-1] * (n_mat.max() - len(_KINDS[k][3]))
                                    for k in kind_names])
        self.p_material = material_global[kind, mat_local]
        vendor_w = 1.0 / np.arange(1, len(_VENDORS) + 1) ** 0.7
        vendor = rng.choice(len(_VENDORS), size=P, p=vendor_w / vendor_w.sum())
        status = rng.choice(3, size=P, p=[0.86, 0.07, 0.07])  # active, draft, archived
        self.p_status = status
        self.p_vendor = vendor
        status_names = _obj(["active", "draft", "archived"])

        # Variants: a run of consecutive sizes x a set of colours.
        fam_names = list(_SIZE_FAMILIES)
        fam_of_kind = np.array([fam_names.index(_KINDS[k][4]) for k in kind_names])
        fam = fam_of_kind[kind]
        n_sizes = np.empty(P, dtype=np.int64)
        n_colours = np.empty(P, dtype=np.int64)
        for f, name in enumerate(fam_names):
            values, s_vals, s_w, c_vals, c_w, _ = _SIZE_FAMILIES[name]
            mask = fam == f
            k = int(mask.sum())
            n_sizes[mask] = rng.choice(s_vals, size=k, p=np.array(s_w) / sum(s_w))
            n_colours[mask] = rng.choice(c_vals, size=k, p=np.array(c_w) / sum(c_w))
        fam_len = np.array([len(_SIZE_FAMILIES[f][0]) for f in fam_names])
        size_start = (rng.random(P) * (fam_len[fam] - n_sizes + 1)).astype(np.int64)
        # Colours: the n most likely under Gumbel noise on the colour weights, kept in catalog order.
        cw = np.log(np.array([c[2] for c in _COLOURS]))
        keys = cw[None, :] + rng.gumbel(size=(P, len(_COLOURS)))
        rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
        chosen = rank < n_colours[:, None]
        self.p_fam, self.p_nsizes, self.p_ncolours, self.p_size_start = fam, n_sizes, n_colours, size_start
        self.p_colour_flat = np.nonzero(chosen)[1].astype(np.int64)             # row-major: grouped by product
        self.p_colour_off = np.concatenate([[0], np.cumsum(n_colours)[:-1]])

        # Prices in cents: log-normal around the kind's median, ending in .99 or .95.
        median = np.array([_KINDS[k][5] for k in kind_names], dtype=float)[kind]
        base = median * np.exp(rng.normal(0.0, 0.35, P))
        self.p_base_price = base
        self.p_ending = np.where(rng.random(P) < 0.75, 99, 95)
        self.p_compare_factor = np.where(rng.random(P) < 0.18, rng.uniform(1.15, 1.6, P), 0.0)
        self.p_cost_ratio = rng.uniform(0.32, 0.6, P)
        self.p_grams = np.array([_KINDS[k][6] for k in kind_names], dtype=float)[kind] * rng.uniform(0.8, 1.25, P)

        # Created before the sales history starts; some edited since.
        created = self.catalog_start + (rng.random(P) * (self.sales_start - 86_400 - self.catalog_start)).astype(np.int64)
        edited = rng.random(P) < 0.45
        updated = np.where(edited, created + (rng.random(P) * (self.anchor_ts - created)).astype(np.int64), created)
        self.p_created, self.p_updated = created, updated

        # Text, per product (P strings each; vectorised enough at 100k).
        kinds = [_KINDS[k] for k in kind_names]
        adj_l, mat_l, noun_l, kind_l, vend_l = adj.tolist(), mat_local.tolist(), noun_local.tolist(), kind.tolist(), vendor.tolist()
        titles = [f"{_ADJECTIVES[a]} {kinds[k][3][m]} {kinds[k][2][nn]}"
                  for a, m, nn, k in zip(adj_l, mat_l, noun_l, kind_l)]
        ids = np.arange(1, P + 1, dtype=np.int64)
        handles = [f"{_slug(t)}-{i}" for t, i in zip(titles, ids.tolist())]
        phrase = rng.integers(0, len(_PHRASES), P).tolist()
        nsz, ncol, fam_l, start_l = n_sizes.tolist(), n_colours.tolist(), fam.tolist(), size_start.tolist()
        fam_values = [_SIZE_FAMILIES[f][0] for f in fam_names]
        descriptions, seo_desc = [], []
        for t, k, m, v, ph, s, c, f, st in zip(titles, kind_l, mat_l, vend_l, phrase, nsz, ncol, fam_l, start_l):
            sizes = fam_values[f][st] if s == 1 else f"{fam_values[f][st]} to {fam_values[f][st + s - 1]}"
            colours = "one colour" if c == 1 else f"{c} colours"
            text = (f"The {t} by {_VENDORS[v]}: {_PHRASES[ph]}. Made from {kinds[k][3][m].lower()}, "
                    f"available in {colours}, size {sizes}.")
            descriptions.append(text)
            seo_desc.append(text[:160])
        self.p_titles = titles
        self.p_handles = handles
        self.p_sku_prefix = _obj([f"{kinds[k][1]}{i:06d}" for k, i in zip(kind_l, ids.tolist())])
        return _Table(
            "products",
            [("handle", TEXT), ("title", TEXT), ("description", TEXT), ("vendor", TEXT), ("product_type", TEXT),
             ("status", TEXT), ("category_id", I8), ("seo_title", TEXT), ("seo_description", TEXT)]
            + self._EDITABLE_COLS,
            {"handle": _obj(handles), "title": _obj(titles), "description": _obj(descriptions),
             "vendor": _obj(_VENDORS)[vendor], "product_type": _obj([k[0] for k in kinds])[kind],
             "status": status_names[status], "category_id": self.p_category,
             "seo_title": _obj([f"{t} | {_VENDORS[v]}" for t, v in zip(titles, vend_l)]),
             "seo_description": _obj(seo_desc), **self._editable(P, created, updated)},
        )

    def product_tags(self) -> _Table:
        rng = self.rng(4)
        P, T = self.P, len(_TAGS)
        n_tags = rng.choice(4, size=P, p=[0.3, 0.35, 0.22, 0.13])
        order = np.argsort(rng.random((P, T)), axis=1)
        pick = np.zeros((P, T), dtype=bool)
        np.put_along_axis(pick, order, np.arange(T)[None, :] < n_tags[:, None], axis=1)
        rows, cols = np.nonzero(pick)   # by product, then tag index: the primary key order
        tags = _obj(_TAGS)
        # Primary key order is (product_id, tag): sort each product's tags by their text.
        tag_rank = np.argsort(np.argsort(_TAGS))
        order = np.lexsort((tag_rank[cols], rows))
        return _Table("product_tags", [("product_id", I8), ("tag", TEXT)],
                      {"product_id": rows[order].astype(np.int64) + 1, "tag": tags[cols[order]]})

    def variants(self) -> _Table:
        rng = self.rng(5)
        P = self.P
        n = self.p_nsizes * self.p_ncolours
        V = int(n.sum())
        pidx = np.repeat(np.arange(P), n)
        first = np.concatenate([[0], np.cumsum(n)[:-1]])
        j = np.arange(V) - first[pidx]
        ncol = self.p_ncolours[pidx]
        size_in_run, colour_in_set = j // ncol, j % ncol
        fam_names = list(_SIZE_FAMILIES)
        fam_off = np.array([self.family_offset[f] for f in fam_names])
        fam = self.p_fam[pidx]
        size_pos = self.p_size_start[pidx] + size_in_run                       # position within the family
        size_val = fam_off[fam] + size_pos                                     # index into size_values
        colour = self.p_colour_flat[self.p_colour_off[pidx] + colour_in_set]   # index into _COLOURS
        self.V, self.v_product, self.v_size, self.v_colour = V, pidx, size_val, colour
        self.v_colour_in_set = colour_in_set
        self._start_photos()

        # Price: the product's base times the size factor, ending .99/.95; compare-at above; cost below.
        size_factor = np.concatenate([np.array(_SIZE_FAMILIES[f][5], dtype=float) for f in fam_names])
        euros = np.maximum(np.floor(self.p_base_price[pidx] * size_factor[size_val]), 0).astype(np.int64)
        price = euros * 100 + self.p_ending[pidx]
        cf = self.p_compare_factor[pidx]
        compare = np.floor(price * cf / 100).astype(np.int64) * 100 + 99
        compare = np.maximum(compare, price)
        compare_null = cf == 0
        cost = np.round(price * (self.p_cost_ratio[pidx] * rng.uniform(0.95, 1.05, V))).astype(np.int64)
        grams = np.round(self.p_grams[pidx] * (0.9 + 0.04 * size_pos)).astype(np.int32)
        self.v_price, self.v_cost, self.v_grams = price, cost, grams

        # Status: archived products' variants are archived; a few others disabled or archived.
        status = rng.choice(3, size=V, p=[0.96, 0.03, 0.01])
        status = np.where(self.p_status[pidx] == 2, 2, status)
        self.v_status = status

        # Text from small vocabularies: "M / Navy" titles and "SWT000123-M-NVY" SKUs.
        n_col = len(_COLOURS)
        combo = size_val * n_col + colour
        titles, codes = [], []
        for s in self.size_values:
            for cname, ccode, _ in _COLOURS:
                titles.append(cname if s == "One Size" else f"{s} / {cname}")
                codes.append(f"-{_SIZE_CODES.get(s, s)}-{ccode}")
        sku = self.p_sku_prefix[pidx] + _obj(codes)[combo]
        # EAN-13 from the in-store prefix 20-29 (never a real GS1 company number): unique per variant.
        offset = int(self.rng(6).integers(0, 10**9))
        self.ean_offset = offset
        body = 200_000_000_000 + (offset + np.arange(V, dtype=np.int64)) % 100_000_000_000
        self.v_created, self.v_updated = self.p_created[pidx], self.p_updated[pidx]
        return _Table(
            "variants",
            [("product_id", I8), ("sku", TEXT), ("barcode", TEXT), ("title", TEXT), ("price", MONEY),
             ("compare_at_price", MONEY), ("cost", MONEY), ("weight_grams", I4), ("status", TEXT),
             ("position", I4)] + self._EDITABLE_COLS,
            {"product_id": pidx.astype(np.int64) + 1, "sku": sku, "barcode": _ean13(body),
             "title": _obj(titles)[combo], "price": price, "compare_at_price": compare, "cost": cost,
             "weight_grams": grams, "status": _obj(["active", "disabled", "archived"])[status],
             "position": j.astype(np.int32), **self._editable(V, self.v_created, self.v_updated)},
            {"compare_at_price": compare_null},
        )

    def supplier_items(self) -> _Table:
        """Who sells each variant: the product's supplier (preferred) and, for about a third of the
        products, a second one a little dearer. Costs are the variant's cost in the supplier's currency;
        packs, minimum quantities and lead times (60 % use the supplier's default) vary by product."""
        rng = self.rng(12)
        V, P, S = self.V, self.P, len(self.sup_names)
        main = rng.integers(0, S, P)
        alt = (main + 1 + rng.integers(0, max(1, S - 1), P)) % S
        has_alt = rng.random(P) < 0.33
        pack = np.array([1, 1, 2, 3, 6, 10, 12])[rng.integers(0, 7, P)]
        moq = pack * np.array([1, 2, 4, 5])[rng.integers(0, 4, P)]
        # A supplier sells a slow line by the piece: packs and minimums fit about two months of a
        # variant's sales (a bag that sells one a quarter is not bought sixty at a time).
        monthly = np.bincount(self.v_product, weights=self._popularity(), minlength=P) * (
            LINES_PER_PRODUCT * P * 1.3 / 24) / np.maximum(1, np.bincount(self.v_product, minlength=P))
        cap = np.maximum(1, np.floor(2 * monthly)).astype(np.int64)
        pack = np.where(pack <= cap, pack, 1)
        moq = np.maximum(pack, np.where(moq <= cap, moq, pack * (cap // pack)))
        lead = rng.integers(5, 46, P).astype(np.int32)
        lead_null = rng.random(P) < 0.6
        vp = self.v_product
        with_alt = np.flatnonzero(has_alt[vp])
        variant = np.concatenate([np.arange(V), with_alt])                   # variant index per row
        supplier = np.concatenate([main[vp], alt[vp[with_alt]]])
        preferred = np.concatenate([np.ones(V, dtype=bool), np.zeros(len(with_alt), dtype=bool)])
        markup = np.concatenate([np.ones(V), 1.05 + 0.1 * rng.random(len(with_alt))])
        order = np.lexsort((supplier, variant))
        variant, supplier, preferred, markup = variant[order], supplier[order], preferred[order], markup[order]
        currency = self.sup_currency[supplier]
        rate = np.array([_FX_PER_EUR[c] for c in currency.tolist()]) if len(currency) else np.zeros(0)
        cost = np.maximum(np.round(self.v_cost[variant] * rate * markup), 1).astype(np.int64)
        prefixes = _obj([re.sub(r"[^A-Z]", "", name.upper())[:3] or "SUP" for name in self.sup_names])
        ids = _obj(list(map(str, (variant + 1).tolist())))
        n, pidx = len(variant), vp[variant]
        return _Table(
            "supplier_items",
            [("supplier_id", I8), ("variant_id", I8), ("supplier_sku", TEXT), ("unit_cost", MONEY), ("currency", TEXT),
             ("min_order_qty", I4), ("pack_size", I4), ("lead_time_days", I4), ("preferred", BOOL)]
            + self._EDITABLE_COLS,
            {"supplier_id": supplier.astype(np.int64) + 1, "variant_id": variant.astype(np.int64) + 1,
             "supplier_sku": prefixes[supplier] + "-" + ids, "unit_cost": cost, "currency": currency,
             "min_order_qty": moq[pidx].astype(np.int32), "pack_size": pack[pidx].astype(np.int32),
             "lead_time_days": lead[pidx], "preferred": preferred, **self._editable(n, self.catalog_start)},
            {"lead_time_days": lead_null[pidx]},
        )

    def variant_options(self) -> _Table:
        V = self.V
        vid = np.repeat(np.arange(1, V + 1, dtype=np.int64), 3)
        attr = np.tile(np.array([1, 2, 3], dtype=np.int64), V)
        value = np.empty((V, 3), dtype=np.int64)
        value[:, 0] = self.size_value_id0 + self.v_size
        value[:, 1] = self.colour_value_id0 + self.v_colour
        value[:, 2] = self.material_value_id0 + self.p_material[self.v_product]
        return _Table("variant_options", [("variant_id", I8), ("attribute_id", I8), ("attribute_value_id", I8)],
                      {"variant_id": vid, "attribute_id": attr, "attribute_value_id": value.ravel()})

    # -- popularity (used by stock and sales) ----------------------------------------------------------
    def _popularity(self) -> np.ndarray:
        """Share of sales per variant: Zipf over products (drafts and some others never sell), middle sizes
        and staple colours sell best within a product."""
        if hasattr(self, "v_share"):
            return self.v_share
        rng = self.rng(7)
        P = self.P
        rank = rng.permutation(P) + 1
        w_p = rank.astype(float) ** -0.85
        w_p[self.p_status == 1] = 0.0                  # drafts were never on sale
        w_p[self.p_status == 2] *= 0.4                 # archived: sold in the past
        w_p[rng.random(P) < 0.05] = 0.0               # and some products simply never sold
        size_pop = np.concatenate([np.array(_SIZE_POPULARITY[f], dtype=float) for f in _SIZE_FAMILIES])
        colour_pop = np.array([c[2] for c in _COLOURS])
        w_v = size_pop[self.v_size] * colour_pop[self.v_colour] * np.where(self.v_status == 0, 1.0, 0.3)
        per_product = np.bincount(self.v_product, weights=w_v, minlength=P)
        w = w_p[self.v_product] * w_v / per_product[self.v_product]
        if w.sum() == 0:       # a tiny catalog of drafts: let something sell anyway
            w = w_v
        self.v_share = w / w.sum()
        return self.v_share

    # -- stock -----------------------------------------------------------------------------------------
    def _level_pairs(self) -> None:
        """Which locations stock each variant: 1-3 of the warehouses and stores, warehouses likelier.
        Sets the (variant, location) index arrays, in (variant, location) order, and each variant's first
        level and number of levels (sales pick one of them)."""
        if hasattr(self, "l_vi"):
            return
        rng = self.rng(8)
        V, L = self.V, len(self.stocked_locations)
        k = np.minimum(rng.choice([1, 2, 3], size=V, p=[0.35, 0.4, 0.25]), L)
        loc_w = np.log(np.where(self.stocked_is_warehouse, 3.0, 1.0))
        keys = loc_w[None, :] + rng.gumbel(size=(V, L))
        rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
        self.l_vi, self.l_li = np.nonzero(rank < k[:, None])   # by variant, then location
        self.l_k = k.astype(np.int64)
        self.l_first = np.concatenate([[0], np.cumsum(self.l_k)[:-1]]).astype(np.int64)

    def _ledger_plan(self) -> None:
        """The documents and moves that explain the stock levels: per location an opening balance (the
        stock left at the end, so the running balance never goes below it); per location and quarter a
        replenishment from suppliers of exactly what that quarter sells there, received the evening
        before the quarter starts; per shipped order a sale, one move per line, location -> customer."""
        if hasattr(self, "ops"):
            return
        n_levels = len(self.l_vi)
        ship = self.ln_shipped
        lvl, qty, day = self.ln_level[ship], self.ln_qty[ship], self.ln_day[ship]
        quarter = day // QUARTER_DAYS
        n_q = (SALES_DAYS + QUARTER_DAYS - 1) // QUARTER_DAYS
        sold = np.bincount(lvl * n_q + quarter, weights=qty, minlength=n_levels * n_q).astype(np.int64)
        r_level, r_quarter = np.divmod(np.flatnonzero(sold), n_q)
        r_qty = sold[r_level * n_q + r_quarter]
        L = len(self.stocked_locations)
        loc_pos = np.zeros(int(self.stocked_locations.max()) + 1, dtype=np.int64)
        loc_pos[self.stocked_locations] = np.arange(L)
        # Receipt documents: one per (quarter, location) that received anything, in that order.
        r_doc_key = r_quarter * L + loc_pos[self.s_location[r_level]]
        doc_keys, r_doc = np.unique(r_doc_key, return_inverse=True)
        n_open, n_rec = L, len(doc_keys)
        shipped_orders = np.flatnonzero(self.o_shipped)
        sale_op_of_order = np.zeros(len(self.o_time), dtype=np.int64)
        sale_op_of_order[shipped_orders] = n_open + n_rec + 1 + np.arange(len(shipped_orders))
        self.ops = (n_open, doc_keys, shipped_orders)

        # Moves: opening balances (by location, variant), receipts (by document, variant), sales (by line).
        keep = np.flatnonzero(self.s_qty > 0)
        opening = keep[np.lexsort((self.s_variant[keep], self.s_location[keep]))]
        r_order = np.lexsort((self.s_variant[r_level], r_doc))
        sup, cust = self.supplier_location_id, self.customer_location_id
        lines_order = self.ln_order[ship]
        self.m_op = np.concatenate([1 + loc_pos[self.s_location[opening]], n_open + 1 + r_doc[r_order],
                                    sale_op_of_order[lines_order]])
        self.m_variant = np.concatenate([self.s_variant[opening], self.s_variant[r_level[r_order]], self.s_variant[lvl]])
        self.m_from = np.concatenate([np.full(len(opening) + len(r_order), sup, np.int64), self.s_location[lvl]])
        self.m_to = np.concatenate([self.s_location[opening], self.s_location[r_level[r_order]],
                                    np.full(len(lvl), cust, np.int64)])
        self.m_qty = np.concatenate([self.s_qty[opening], r_qty[r_order], qty]).astype(np.int32)
        # Documents and moves are numbered in the order they happened, as a live ledger appends them, so
        # "newest first" by id is newest first by time (the history panes page on the id).
        r_time = self.sales_start + (doc_keys // L) * QUARTER_DAYS * 86_400 - 6 * 3600
        op_time = np.concatenate([np.full(n_open, self.ledger_start), r_time, self.o_time[shipped_orders]])
        self.op_order = np.argsort(op_time, kind="stable")          # row i of the table is document op_order[i]
        new_id = np.empty(len(op_time), dtype=np.int64)
        new_id[self.op_order] = np.arange(1, len(op_time) + 1)
        self.m_op = new_id[self.m_op - 1]
        chronological = np.argsort(self.m_op, kind="stable")
        self.m_op, self.m_variant, self.m_from, self.m_to, self.m_qty = (
            a[chronological] for a in (self.m_op, self.m_variant, self.m_from, self.m_to, self.m_qty))

    def stock_levels(self) -> _Table:
        self._level_pairs()
        rng = self.rng(13)
        vi, li = self.l_vi, self.l_li
        n = len(vi)
        # Quantities: about two months of sales in a warehouse, two weeks in a store, plus a floor;
        # overdispersed so that zeros and low counts exist for the low-stock reports.
        monthly = self._popularity()[vi] * (LINES_PER_PRODUCT * self.P * 1.3) / 24
        wh = self.stocked_is_warehouse[li]
        mean = np.where(wh, 14 + 2.5 * monthly, 5 + 0.7 * monthly)
        shape = 2.5
        on_hand = rng.negative_binomial(shape, shape / (shape + mean)).astype(np.int64)
        on_hand = np.minimum(on_hand, 5000)
        on_hand[rng.random(n) < 0.03] = 0    # sold out
        # Thresholds: about a week's cover, a fifth to a quarter of the usual stock (at least 1), so a
        # few percent of the rows are low, as in a store that reorders in time; set on a third of the rows.
        threshold = np.maximum(1, np.floor(mean * rng.uniform(0.12, 0.25, n))).astype(np.int64)
        reorder = threshold + np.maximum(1, np.floor(mean * rng.uniform(0.1, 0.3, n))).astype(np.int64)
        threshold_null = rng.random(n) >= 0.35
        # A hand-set reorder point is rare (replenishment computes the rest from demand), and a buyer sets
        # one only on a line that sells every week or so (three a month or more), one in four of those.
        reorder_null = ~((monthly >= 3) & (rng.random(n) < 0.25))
        self.s_variant, self.s_location, self.s_qty = vi.astype(np.int64) + 1, self.stocked_locations[li], on_hand
        return _Table(
            "stock_levels",
            [("variant_id", I8), ("location_id", I8), ("on_hand", I4), ("reserved", I4),
             ("low_stock_threshold", I4), ("reorder_point", I4)] + self._EDITABLE_COLS,
            {"variant_id": self.s_variant, "location_id": self.s_location, "on_hand": on_hand.astype(np.int32),
             "reserved": np.zeros(n, dtype=np.int32), "low_stock_threshold": threshold.astype(np.int32),
             "reorder_point": reorder.astype(np.int32), **self._editable(n, self.opening_ts)},
            {"low_stock_threshold": threshold_null, "reorder_point": reorder_null},
        )

    def stock_operations(self) -> _Table:
        # Written before the levels (the moves point at them), so the levels are built here first.
        if not hasattr(self, "s_qty"):
            self._levels_table = self.stock_levels()
        self._ledger_plan()
        n_open, doc_keys, shipped_orders = self.ops
        L = len(self.stocked_locations)
        codes = _obj([self.location_codes[i - 1] for i in self.stocked_locations.tolist()])
        seed = str(self.seed)
        r_quarter, r_loc = np.divmod(doc_keys, L)
        r_time = self.sales_start + r_quarter * QUARTER_DAYS * 86_400 - 6 * 3600
        r_date = _obj(np.datetime_as_string(r_time.astype("datetime64[s]"), unit="D").tolist())
        numbers = self.o_number[shipped_orders]
        n_sales = len(shipped_orders)
        n = n_open + len(doc_keys) + n_sales
        operation_id = np.concatenate([
            "demo-opening-" + codes + "-" + seed,
            "demo-receipt-" + codes[r_loc] + "-" + r_date + "-" + seed,
            "demo-sale-" + numbers + "-" + seed])
        reason = np.concatenate([_obj(["opening_balance"] * n_open), _obj(["receipt"] * len(doc_keys)),
                                 _obj(["sale"] * n_sales)])
        document = np.concatenate(["Opening balance " + codes, "Replenishment " + codes[r_loc] + " " + r_date, numbers])
        note = np.concatenate([_obj([f"Demo store opening stock (seed {self.seed})"] * n_open),
                               _obj(["Quarterly replenishment from suppliers"] * len(doc_keys)),
                               _obj(["Shipped to the customer"] * n_sales)])
        created = np.concatenate([np.full(n_open, self.ledger_start), r_time, self.o_time[shipped_orders]])
        return _Table(
            "stock_operations",
            [("id", I8), ("operation_id", TEXT), ("reason", TEXT), ("document", TEXT), ("note", TEXT),
             ("user_id", I8), ("created_at", TS)],
            {"id": np.arange(1, n + 1, dtype=np.int64), "operation_id": operation_id[self.op_order],
             "reason": reason[self.op_order], "document": document[self.op_order], "note": note[self.op_order],
             "user_id": np.full(n, self.user_id, dtype=np.int64),
             "created_at": created.astype(np.int64)[self.op_order]},
        )

    def stock_levels_table(self) -> _Table:
        return self._levels_table

    def stock_moves(self) -> _Table:
        self._ledger_plan()
        n = len(self.m_op)
        return _Table(
            "stock_moves",
            [("id", I8), ("operation_pk", I8), ("variant_id", I8), ("from_location_id", I8), ("to_location_id", I8),
             ("quantity", I4)],
            {"id": np.arange(1, n + 1, dtype=np.int64), "operation_pk": self.m_op.astype(np.int64),
             "variant_id": self.m_variant.astype(np.int64), "from_location_id": self.m_from.astype(np.int64),
             "to_location_id": self.m_to.astype(np.int64), "quantity": self.m_qty},
        )

    # -- photos ----------------------------------------------------------------------------------------
    def _photo_keys(self) -> list[tuple[str, str]]:
        from backoffice.services.demo_photos import SHAPE_OF_KIND  # noqa: PLC0415 - only with photos

        kind_names = list(_KINDS)
        shape_of_product = [SHAPE_OF_KIND[kind_names[k]] for k in self.p_kind.tolist()]
        colour_names = [c[0] for c in _COLOURS]
        pid = np.repeat(np.arange(self.P), self.p_ncolours)
        self.i_product = pid
        self.i_key = [(shape_of_product[p], colour_names[c]) for p, c in zip(pid.tolist(), self.p_colour_flat.tolist())]
        return sorted(set(self.i_key))

    def _start_photos(self) -> None:
        """Make the photos the catalog needs in the background, while the rest is being written."""
        if self.image_store is None or self._photo_thread is not None:
            return
        from backoffice.services.demo_photos import make_photos  # noqa: PLC0415 - only with photos

        keys = self._photo_keys()
        stop, user_cancel = self._photo_stop, self.cancel

        def cancelled() -> bool:
            return stop.is_set() or (user_cancel is not None and bool(user_cancel()))

        def progressed(done: int, total: int) -> None:
            self.photo_progress = (done, total)

        def run() -> None:
            try:
                self._photos = make_photos(keys, str(self.image_store.root), workers=self.photo_workers,
                                           cancel=cancelled, progress=progressed)
            except BaseException as exc:  # noqa: BLE001 - raised in the builder that needs the photos
                self._photo_error = exc

        self.image_store.check_writable()
        self._photo_thread = threading.Thread(target=run, name="demo-photos", daemon=True)
        self._photo_thread.start()

    def stop_photos(self) -> None:
        if self._photo_thread is not None:
            self._photo_stop.set()
            self._photo_thread.join()

    def _photo_values(self) -> dict[str, np.ndarray]:
        if hasattr(self, "i_values"):
            return self.i_values
        assert self._photo_thread is not None
        self._photo_thread.join()
        if self._photo_error is not None:
            raise self._photo_error
        if any(k not in self._photos for k in set(self.i_key)):
            raise DemoCancelled()
        fields = ("content_hash", "original_format", "original_bytes", "width", "height", "web_hash", "web_format",
                  "web_width", "web_height", "web_bytes", "thumb_hash")
        self.i_values = {f: np.array([self._photos[k][f] for k in self.i_key],
                                     dtype=object if isinstance(self._photos[self.i_key[0]][f], str) else np.int64)
                         for f in fields}
        return self.i_values

    def product_images(self) -> _Table:
        v = self._photo_values()
        n, pid = len(self.i_key), self.i_product
        position = (np.arange(n) - self.p_colour_off[pid]).astype(np.int32)
        colour = _obj([c for _, c in self.i_key])
        handles, titles = _obj(self.p_handles)[pid], _obj(self.p_titles)[pid]
        slug = _obj([_slug(c) for c in colour.tolist()])
        return _Table(
            "product_images",
            [("product_id", I8), ("position", I4), ("content_hash", TEXT), ("filename", TEXT), ("alt_text", TEXT),
             ("width", I4), ("height", I4), ("original_format", TEXT), ("original_bytes", I4),
             ("current_version", I4), ("web_hash", TEXT), ("web_format", TEXT), ("web_width", I4),
             ("web_height", I4), ("web_bytes", I4), ("thumb_hash", TEXT)] + self._EDITABLE_COLS,
            {"product_id": pid.astype(np.int64) + 1, "position": position, "content_hash": v["content_hash"],
             "filename": handles + "-" + slug + ".png", "alt_text": titles + " in " + _obj([c.lower() for c in colour.tolist()]),
             "width": v["width"].astype(np.int32), "height": v["height"].astype(np.int32),
             "original_format": v["original_format"], "original_bytes": v["original_bytes"].astype(np.int32),
             "current_version": np.ones(n, dtype=np.int32), "web_hash": v["web_hash"], "web_format": v["web_format"],
             "web_width": v["web_width"].astype(np.int32), "web_height": v["web_height"].astype(np.int32),
             "web_bytes": v["web_bytes"].astype(np.int32), "thumb_hash": v["thumb_hash"],
             **self._editable(n, self.p_created[pid], self.p_created[pid])},
        )

    def image_versions(self) -> _Table:
        v = self._photo_values()
        n = len(self.i_key)
        return _Table(
            "image_versions",
            [("id", I8), ("image_id", I8), ("number", I4), ("edits", JSONB), ("note", TEXT), ("web_hash", TEXT),
             ("web_width", I4), ("web_height", I4), ("web_bytes", I4), ("thumb_hash", TEXT), ("created_at", TS),
             ("created_by", TEXT)],
            {"id": np.arange(1, n + 1, dtype=np.int64), "image_id": np.arange(1, n + 1, dtype=np.int64),
             "number": np.ones(n, dtype=np.int32), "edits": _obj(["[]"] * n), "note": _obj(["uploaded"] * n),
             "web_hash": v["web_hash"], "web_width": v["web_width"].astype(np.int32),
             "web_height": v["web_height"].astype(np.int32), "web_bytes": v["web_bytes"].astype(np.int32),
             "thumb_hash": v["thumb_hash"], "created_at": self.p_created[self.i_product].astype(np.int64),
             "created_by": _obj([self.username] * n)},
        )

    def product_image_variants(self) -> _Table:
        # Each variant shows the photo of its colour: image ids follow the products' colour lists.
        image = self.p_colour_off[self.v_product] + self.v_colour_in_set + 1
        variant = np.arange(1, self.V + 1, dtype=np.int64)
        order = np.lexsort((variant, image))
        return _Table("product_image_variants", [("image_id", I8), ("variant_id", I8)],
                      {"image_id": image[order].astype(np.int64), "variant_id": variant[order]})

    # -- sales -----------------------------------------------------------------------------------------
    def _day_weights(self) -> np.ndarray:
        days = self.sales_start + np.arange(SALES_DAYS, dtype=np.int64) * 86_400
        d64 = days.astype("datetime64[s]").astype("datetime64[D]")
        weekday = (d64.astype(np.int64) + 3) % 7                      # 1970-01-01 was a Thursday
        month = d64.astype("datetime64[M]").astype(np.int64) % 12
        trend = _ANNUAL_GROWTH ** (np.arange(SALES_DAYS) / 365.0)
        noise = np.exp(self.rng(9).normal(0.0, 0.08, SALES_DAYS))
        return trend * _WEEKDAY_FACTOR[weekday] * _MONTH_FACTOR[month] * noise

    def customers(self) -> _Table:
        rng = self.rng(10)
        # Orders first (their count sets the number of customers); lines per order: mostly 1-3.
        lines_target = LINES_PER_PRODUCT * self.P
        lpo_values, lpo_w = np.array([1, 2, 3, 4, 5, 6, 7, 8]), np.array([50, 24, 13, 6, 3.5, 1.8, 1.0, 0.7])
        lpo_w = lpo_w / lpo_w.sum()
        n_orders = max(1, int(round(lines_target / float((lpo_values * lpo_w).sum()))))
        self.o_nlines = rng.choice(lpo_values, size=n_orders, p=lpo_w)
        day_w = self._day_weights()
        per_day = rng.multinomial(n_orders, day_w / day_w.sum())
        day = np.repeat(np.arange(SALES_DAYS), per_day)
        hour = rng.choice(24, size=n_orders, p=_HOUR_WEIGHT / _HOUR_WEIGHT.sum())
        t = self.sales_start + day * 86_400 + hour * 3600 + rng.integers(0, 3600, n_orders)
        self.o_time = self._before_now(np.sort(t))

        # Customers sign up over time (15% before the history starts), in id order.
        n_cust = max(10, int(round(n_orders / 2.8)))
        early = rng.random(n_cust) < 0.15
        signup_day = rng.choice(SALES_DAYS, size=n_cust, p=day_w / day_w.sum())
        signup = np.where(early, self.sales_start - rng.integers(86_400, 365 * 86_400, n_cust),
                          self.sales_start + signup_day * 86_400 + rng.integers(0, 86_400, n_cust))
        signup = self._before_now(np.sort(signup))
        signup[0] = min(signup[0], self.sales_start - 86_400)
        # Each order's customer signed up before it: loyal early customers come back more often,
        # a third of the orders come from recent sign-ups; a few are guest checkouts.
        eligible = np.searchsorted(signup, self.o_time, side="right")            # >= 1
        recent = rng.random(n_orders) < 0.33
        back = np.minimum(rng.geometric(0.02, n_orders) - 1, eligible - 1)
        pick = np.where(recent, eligible - 1 - back, (rng.random(n_orders) ** 1.3 * eligible).astype(np.int64))
        self.o_customer = pick.astype(np.int64) + 1
        self.o_guest = rng.random(n_orders) < 0.04

        countries, cw = _weights(_COUNTRIES)
        bands, bw = _weights(_AGE_BANDS)
        first_i = rng.integers(0, len(_FIRST_NAMES), n_cust)
        last_i = rng.integers(0, len(_LAST_NAMES), n_cust)
        first, last = _obj(_FIRST_NAMES)[first_i], _obj(_LAST_NAMES)[last_i]
        domain = _obj(["@" + d for d in _EMAIL_DOMAINS])[rng.integers(0, len(_EMAIL_DOMAINS), n_cust)]
        ids = np.arange(1, n_cust + 1, dtype=np.int64)
        email = first + "." + last + _obj(list(map(str, ids.tolist()))) + domain
        name = (_obj([n.title() for n in _FIRST_NAMES])[first_i] + " "
                + _obj([n.title() for n in _LAST_NAMES])[last_i])
        return _Table(
            "customers",
            [("id", I8), ("email", TEXT), ("name", TEXT), ("country", TEXT), ("age_band", TEXT), ("created_at", TS)],
            {"id": ids, "email": email, "name": name,
             "country": _obj(countries)[rng.choice(len(countries), size=n_cust, p=cw)],
             "age_band": _obj(bands)[rng.choice(len(bands), size=n_cust, p=bw)], "created_at": signup},
        )

    def order_lines(self) -> _Table:
        return self._lines_table

    def orders(self) -> _Table:
        rng = self.rng(11)
        n_orders = len(self.o_time)
        n_lines = int(self.o_nlines.sum())
        order_of_line = np.repeat(np.arange(n_orders), self.o_nlines)
        starts = np.concatenate([[0], np.cumsum(self.o_nlines)[:-1]]).astype(np.int64)
        share = self._popularity()
        cdf = np.cumsum(share)
        variant = np.minimum(np.searchsorted(cdf, rng.random(n_lines) * cdf[-1], side="right"), self.V - 1)
        qty = rng.choice([1, 2, 3, 4, 5], size=n_lines, p=[0.8, 0.13, 0.05, 0.015, 0.005])
        # The latest orders are still open: the store wrote them, the back-office has not shipped them.
        self.o_open = self._open_orders()
        channel = self._channels_and_waiting_lines(variant, starts)
        unit = self.v_price[variant]
        # Discounts: more lines are discounted in November and December.
        month = self.o_time.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12
        p_disc = np.where(month >= 10, 0.25, 0.1)[order_of_line]
        pct = rng.choice([10, 15, 20, 25, 30], size=n_lines)
        discount = np.where(rng.random(n_lines) < p_disc, (unit * qty * pct + 50) // 100, 0)
        net = unit * qty - discount
        total = np.add.reduceat(net, starts)
        status = rng.choice(3, size=n_orders, p=[0.965, 0.025, 0.01])
        status[self.o_open & (status == 1)] = 0   # an open order is paid (or cancelled by the store) but not refunded
        # Paid and refunded orders shipped (refunds here are money back, the goods not returned); cancelled
        # ones never did; open ones not yet. Each order line is settled accordingly.
        self.o_shipped = (status != 2) & ~self.o_open
        o_cancelled = (status == 2) & ~self.o_open
        self.ln_shipped = self.o_shipped[order_of_line]
        ln_cancelled = o_cancelled[order_of_line]
        zero = np.zeros(n_lines, dtype=np.int32)
        self._lines_table = _Table(
            "order_lines",
            [("id", I8), ("order_id", I8), ("variant_id", I8), ("quantity", I4), ("unit_price", MONEY),
             ("discount", MONEY), ("fulfilled", I4), ("cancelled", I4), ("returned", I4)],
            {"id": np.arange(1, n_lines + 1, dtype=np.int64), "order_id": order_of_line.astype(np.int64) + 1,
             "variant_id": variant.astype(np.int64) + 1, "quantity": qty.astype(np.int32), "unit_price": unit,
             "discount": discount, "fulfilled": np.where(self.ln_shipped, qty, 0).astype(np.int32),
             "cancelled": np.where(ln_cancelled, qty, 0).astype(np.int32), "returned": zero},
        )
        ids = np.arange(1, n_orders + 1, dtype=np.int64)
        numbers = np.char.add("SO-", np.char.zfill(ids.astype("U"), 7)).astype(object)
        # Where each line shipped from: one of the locations that stock its variant.
        self._level_pairs()
        pick = (self.rng(14).random(n_lines) * self.l_k[variant]).astype(np.int64)
        self.ln_level = self.l_first[variant] + pick
        self.ln_qty, self.ln_order = qty.astype(np.int64), order_of_line
        self.ln_net = net.astype(np.int64)
        self.ln_day = (self.o_time[order_of_line] - self.sales_start) // 86_400
        self.o_number = numbers
        state = np.where(self.o_open, "new", np.where(o_cancelled, "cancelled", "fulfilled")).astype(object)
        return _Table(
            "orders",
            [("id", I8), ("number", TEXT), ("customer_id", I8), ("ordered_at", TS), ("status", TEXT),
             ("currency", TEXT), ("total", MONEY), ("state", TEXT), ("channel", TEXT), ("processed_at", TS)],
            {"id": ids, "number": numbers, "customer_id": self.o_customer, "ordered_at": self.o_time,
             "status": _obj(["paid", "refunded", "cancelled"])[status], "currency": _obj(["EUR"] * n_orders),
             "total": total, "state": state, "channel": channel, "processed_at": self.o_time},
            {"customer_id": self.o_guest, "processed_at": self.o_open},
        )

    def _before_now(self, t: np.ndarray) -> np.ndarray:
        """Times of the anchor day squeezed between its midnight and ``until`` (when the anchor is today),
        order kept; other days unchanged."""
        if self.until is None:
            return t
        today = t >= self.anchor_ts
        squeezed = self.anchor_ts + (t - self.anchor_ts) * (self.until - self.anchor_ts) // 86_400
        return np.where(today, squeezed, t)

    def _open_orders(self) -> np.ndarray:
        """The orders of the last ``OPEN_DAYS`` days of the history (at most ``OPEN_MAX``, the latest):
        written as the store writes them (state new), reserved and partly shipped by the order services
        after the load (``_open_store``)."""
        is_open = self.o_time >= self.anchor_ts - (OPEN_DAYS - 1) * 86_400
        idx = np.flatnonzero(is_open)
        if len(idx) > OPEN_MAX:
            is_open[idx[:-OPEN_MAX]] = False
        return is_open

    def _channels_and_waiting_lines(self, variant: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Each order's sales channel; and a few open orders ask first for a variant that is sold out
        everywhere (changed in ``variant``), so some orders wait for stock on the first day."""
        rng = self.rng(15)
        channel = _obj(["web", "marketplace", "pos"])[rng.choice(3, size=len(self.o_time), p=[0.86, 0.1, 0.04])]
        if not hasattr(self, "s_qty"):
            self._levels_table = self.stock_levels()
        stock = np.bincount(self.s_variant - 1, weights=self.s_qty, minlength=self.V)
        sold_out = np.flatnonzero((stock == 0) & (self.v_status == 0) & (self._popularity() > 0))
        open_orders = np.flatnonzero(self.o_open)
        if len(sold_out) and len(open_orders):
            k = min(len(open_orders), max(1, int(round(0.06 * len(open_orders)))))
            chosen = np.sort(rng.choice(open_orders, size=k, replace=False))
            variant[starts[chosen]] = sold_out[rng.integers(0, len(sold_out), k)]
        return channel

    def shipment_plan(self, held: list[tuple[int, int, int, int]],
                      waiting: set[int]) -> list[tuple[int, int, dict[int, int], str, str]]:
        """About a third of the reserved open orders, each shipped from the location holding most of it:
        (order id, location id, {order line id: units}, carrier, tracking). An order reserved at several
        locations, or still waiting for some units, ships what that location holds (partly fulfilled);
        of the others, half ship whole and half ship part (a line less, or a unit less)."""
        by_order: dict[int, dict[int, dict[int, int]]] = {}
        for order_id, line_id, location_id, q in held:
            by_order.setdefault(order_id, {}).setdefault(location_id, {})[line_id] = q
        ids = sorted(by_order)
        if not ids:
            return []
        rng = self.rng(16)
        chosen = np.sort(rng.choice(np.array(ids), size=max(1, round(len(ids) / 3)), replace=False)).tolist()
        whole = rng.random(len(chosen)) < 0.5
        tracked = rng.random(len(chosen)) < 0.7
        carrier = rng.integers(0, len(_CARRIERS), len(chosen))
        digits = rng.integers(10**8, 10**9, len(chosen))
        out = []
        for i, order_id in enumerate(chosen):
            places = by_order[order_id]
            location_id = max(places, key=lambda loc: (sum(places[loc].values()), -loc))
            lines = dict(sorted(places[location_id].items()))
            if len(places) == 1 and order_id not in waiting and not whole[i] and sum(lines.values()) > 1:
                last = max(lines)
                if len(lines) > 1:
                    del lines[last]
                else:
                    lines[last] -= 1
            name, prefix = _CARRIERS[int(carrier[i])]
            out.append((order_id, location_id, lines, name if tracked[i] else "",
                        f"{prefix}{int(digits[i])}" if tracked[i] else ""))
        return out

    def return_plan(self) -> list[tuple[int, list[tuple[int, int, str, str]], str, int, bool]]:
        """A handful of returns on orders shipped one to eight weeks before the anchor: (order id, lines
        as (order line id, units, reason, condition), refund amount, receiving location id, received?).
        The refund is what the units cost the customer; the goods go back where they left from."""
        rng = self.rng(17)
        line_ids = np.flatnonzero(self.ln_shipped & (self.ln_day >= SALES_DAYS - 1 - 56) & (self.ln_day <= SALES_DAYS - 1 - 7))
        orders = np.unique(self.ln_order[line_ids])
        if not len(orders):
            return []
        chosen = np.sort(rng.choice(orders, size=min(N_RETURNS, len(orders)), replace=False))
        reasons, weights = _weights(_RETURN_REASONS)
        first = np.searchsorted(self.ln_order, chosen)
        out = []
        for i, o in enumerate(chosen.tolist()):
            lines = list(range(int(first[i]), int(first[i]) + int(self.o_nlines[o])))
            take = lines if rng.random() < 0.2 else [lines[int(rng.integers(0, len(lines)))]]
            rows, refund = [], 0
            for ln in take:
                units = int(rng.integers(1, int(self.ln_qty[ln]) + 1))
                reason = reasons[int(rng.choice(len(reasons), p=weights))]
                damaged = reason in ("defective", "damaged_in_transit") and rng.random() < 0.6
                rows.append((ln + 1, units, reason, "damaged" if damaged else "restock"))
                refund += int(self.ln_net[ln]) * units // int(self.ln_qty[ln])
            location = int(self.s_location[self.ln_level[take[0]]])
            out.append((o + 1, rows, f"{refund // 100}.{refund % 100:02d}", location, i % 6 != 5))
        return out
