"""The local replica of an API profile (backoffice/sync/replica.py): after a sync it answers the grid's
and the stock views' reads exactly as the source does, row by row; a later sync brings only what
changed (and nothing when nothing did); an interrupted sync resumes without losing or doubling rows;
and on PostgreSQL, writers committing while the replica syncs again and again never leave it behind
for good. The source is the real in-process contract over the test's database."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from backoffice.db import Database
from backoffice.operations import LocalOperations
from backoffice.operations.catalog import VariantFilter
from backoffice.operations.stock import StockFilter
from backoffice.services import catalog, inventory
from backoffice.services.base import Actor, ConflictError
from backoffice.services.changesets.rows import RowChange
from backoffice.services.inventory import MoveLine
from backoffice.sync.replica import FEED_KINDS, Replica, replica_path
from tests.conftest import SmallStore

ALL = 1_000_000


@pytest.fixture
def source(db: Database, actor: Actor, store: SmallStore) -> LocalOperations:
    """The small store, grown a little: a category tree, a second attribute, more products and stock at
    two locations."""
    ops = LocalOperations(db, actor)
    top = ops.store.add_category("Clothing").entity_id
    tops = ops.store.add_category("Tops", top).entity_id
    ops.variants.create_attribute("colour", name="Colour", values=["Red", "Blue"])
    for n in range(3):
        ops.catalog.create_product(
            {"handle": f"tee-{n}", "title": f"Tee {n}", "vendor": "Norda" if n else "Other", "status": "active",
             "category_id": tops if n else top, "tags": ["cotton", f"t{n}"]},
            [{"sku": f"TEE-{n}-{s}-{c}", "price": f"{10 + n}.50", "cost": "4.00", "options": {"size": s, "colour": c}}
             for s in ("S", "M") for c in ("Red", "Blue")])
    with db.read() as s:
        variant_ids = [v for (v,) in s.execute(text("SELECT id FROM variants ORDER BY id"))]
    inventory.post_moves(db, actor, operation_id="receipt-1", reason="receipt",
                         lines=[MoveLine(v, store.locations["SUP"], store.locations["WH1"], 10) for v in variant_ids])
    inventory.post_moves(db, actor, operation_id="receipt-2", reason="receipt",
                         lines=[MoveLine(v, store.locations["SUP"], store.locations["SHOP"], 3) for v in variant_ids[:5]])
    return ops


@pytest.fixture
def replica(tmp_path: Path) -> Any:
    r = Replica(tmp_path / "replica.sqlite")
    yield r
    r.close()


def grid(ops: LocalOperations) -> dict[str, Any]:
    """Everything the grid reads, through the contract: pages in several orders (numeric keys: text
    orders follow each engine's collation), the ids, rows by id, the count and the filter choices."""
    c = ops.catalog
    ids = list(c.ordered_ids())
    return {
        "by_id": c.first_page(limit=ALL),
        "by_price_desc": c.first_page(sort_key="price", descending=True, limit=ALL),
        "by_stock": c.first_page(sort_key="stock", limit=ALL),
        "last": c.last_page(limit=5),
        "ids_by_updated": list(c.ordered_ids(sort_key="updated_at")),
        "rows_by_id": c.rows_by_id(ids),
        "count": c.count(),
        "active_norda": c.first_page(VariantFilter(statuses=("active",), vendors=("Norda",), tags=("t1",)), limit=ALL),
        "facets": c.facets(),
    }


def stock(ops: LocalOperations) -> dict[str, Any]:
    return {"levels": ops.stock.levels(limit=ALL), "count": ops.stock.count_levels(),
            "low": ops.stock.levels(StockFilter(low_only=True), limit=ALL),
            "shop": ops.stock.levels(StockFilter(text="tee"), limit=ALL)}


def lists(ops: LocalOperations) -> dict[str, Any]:
    return {"locations": ops.store.list_locations(), "categories": ops.store.list_categories(),
            "attributes": ops.variants.attributes(), "choices": ops.stock.category_choices()}


def assert_same(source: LocalOperations, replica: Replica, actor: Actor) -> None:
    """The replica answers every read of the grid and the stock views as the source does."""
    local = LocalOperations(replica.db, actor)
    try:
        expected, got = grid(source), grid(local)
        for key in expected:
            assert got[key] == expected[key], key
        assert expected["count"] == len(expected["by_id"]) > 0
        assert stock(local) == stock(source)
        assert lists(local) == lists(source)
    finally:
        local.close()


def counts(replica: Replica) -> dict[str, int]:
    with replica.db.engine.connect() as conn:
        return {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                for t in ("products", "variants", "variant_options", "product_tags", "stock_levels")}


def variant(ops: LocalOperations, sku: str) -> Any:
    return next(r for r in ops.catalog.first_page(limit=ALL) if r.sku == sku)


# -- the first load -----------------------------------------------------------------------------------------
def test_first_sync_holds_the_source_row_by_row(source: LocalOperations, replica: Replica, actor: Actor) -> None:
    assert replica.freshness() is None
    before = time.time()
    report = replica.sync(source)
    assert report.initial and not report.cancelled
    assert report.upserted == {"products": 4, "variants": 15, "stock-levels": 20}
    assert report.deleted == dict.fromkeys(FEED_KINDS, 0)
    assert_same(source, replica, actor)
    fresh = replica.freshness()
    assert fresh is not None and before - 1 <= fresh.timestamp() <= time.time()
    status = replica.status()
    assert status["kinds"]["variants"]["rows"] == 15 and status["kinds"]["variants"]["cursor"]
    assert status["lists"]["locations"] == 5


def test_the_replica_has_the_apps_schema_without_triggers(source: LocalOperations, replica: Replica) -> None:
    replica.sync(source)
    with replica.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM change_log").scalar() == 0
    # versions are the server's: what the grid sends back as If-Match
    with source._db.read() as s:
        server = dict(s.execute(text("SELECT id, version FROM variants")).all())
    with replica.db.engine.connect() as conn:
        assert dict(conn.exec_driver_sql("SELECT id, version FROM variants").all()) == server


def test_progress_is_reported_and_a_second_replica_object_sees_the_state(source: LocalOperations, replica: Replica,
                                                                          tmp_path: Path) -> None:
    seen: list[tuple[float | None, str | None]] = []
    replica.sync(source, progress=lambda fraction, text: seen.append((fraction, text)))
    assert seen[-1] == (1.0, "Up to date")
    assert all(f is None or 0.0 <= f <= 1.0 for f, _ in seen)
    again = Replica(tmp_path / "replica.sqlite")
    try:
        assert again.freshness() == replica.freshness()
        assert again.sync(source).rows == 0
    finally:
        again.close()


# -- following the source -------------------------------------------------------------------------------------
def test_incremental_sync_brings_edits_archives_deletions_and_stock(db: Database, source: LocalOperations,
                                                                    replica: Replica, actor: Actor,
                                                                    store: SmallStore) -> None:
    doomed = source.catalog.create_product({"handle": "doomed", "title": "Doomed", "status": "active"},
                                           [{"sku": "DOOM-1", "price": "1.00", "options": {"size": "S"}}])
    replica.sync(source)
    nothing = replica.sync(source)
    assert nothing.rows == 0 and nothing.pages == len(FEED_KINDS) and not nothing.initial

    # prices and a product's fields as the grid saves them (a changeset), a variant archived
    a, b, c = (variant(source, sku) for sku in ("TEE-0-S-Red", "TEE-1-M-Blue", "MC-L"))
    result = source.catalog.save_edits([
        RowChange("variant", a.variant_id, a.variant_version, {"price": Decimal("99.99")}),
        RowChange("variant", b.variant_id, b.variant_version, {"status": "archived"}),
        RowChange("product", c.product_id, c.product_version, {"title": "Merino Crew Neck", "vendor": "Nord"}),
    ], description="edits")
    assert not result.conflicts
    # stock moved between locations with a transfer, shipped and received
    transfer = source.transfers.create_and_ship(
        source_location_id=store.locations["WH1"], destination_location_id=store.locations["SHOP"],
        lines=[(a.variant_id, 4), (c.variant_id, 2)])
    source.transfers.receive(transfer.id)
    # a new product, tags changed, a category renamed, a location added
    source.catalog.create_product({"handle": "new", "title": "New", "status": "draft", "tags": ["fresh"]},
                                  [{"sku": "NEW-1", "price": "5.00", "options": {"size": "L", "colour": "Blue"}}])
    cat = next(r for r in source.store.list_categories() if r["name"] == "Tops")
    source.store.rename_category(cat["id"], "T-shirts", expected_version=cat["version"])
    source.store.add_location("WH2", "Second warehouse", "warehouse")
    # a variant gone (the services archive; a store's own tools may delete one never stocked): a tombstone
    gone = doomed.children[0].entity_id
    with db.write() as s:
        s.execute(text("DELETE FROM variants WHERE id = :v"), {"v": gone})

    report = replica.sync(source)
    assert not report.initial
    assert report.deleted == {"products": 0, "variants": 1, "stock-levels": 0}
    assert report.upserted["variants"] == 3 and report.upserted["products"] == 2   # a, b, NEW-1; c, New
    assert report.lists_changed >= 2       # the renamed category and the new location (and a transit one)
    assert_same(source, replica, actor)
    with replica.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM variant_options WHERE variant_id = ?",
                                    (gone,)).scalar() == 0
    assert replica.sync(source).rows == 0


def test_a_sku_moving_between_variants_is_followed(db: Database, source: LocalOperations, replica: Replica,
                                                   actor: Actor) -> None:
    """Two SKUs swapped in three writes: in feed order the first variant arrives holding a SKU the replica
    still gives the other one; the UNIQUE rule must not stop the sync."""
    replica.sync(source)
    a, b = variant(source, "TEE-0-S-Red"), variant(source, "TEE-0-S-Blue")
    catalog.update_variant(db, actor, a.variant_id, expected_version=a.variant_version, values={"sku": "TMP"})
    catalog.update_variant(db, actor, b.variant_id, expected_version=b.variant_version, values={"sku": "TEE-0-S-Red"})
    catalog.update_variant(db, actor, a.variant_id, expected_version=a.variant_version + 1,
                           values={"sku": "TEE-0-S-Blue"})
    replica.sync(source)
    assert_same(source, replica, actor)


def test_new_attribute_values_met_in_the_feed(db: Database, source: LocalOperations, replica: Replica,
                                              actor: Actor) -> None:
    replica.sync(source)
    source.variants.add_values(next(a.id for a in source.variants.attributes() if a.code == "size"), ["XL"])
    source.catalog.create_product({"handle": "big", "title": "Big", "status": "active"},
                                  [{"sku": "BIG-XL", "price": "9.00", "options": {"size": "XL"}}])
    replica.sync(source)
    assert variant(LocalOperations(replica.db, actor), "BIG-XL").options == "XL"
    assert_same(source, replica, actor)


# -- interruptions --------------------------------------------------------------------------------------------
def test_a_cancelled_sync_resumes_without_losing_or_doubling_rows(db: Database, source: LocalOperations,
                                                                  tmp_path: Path, actor: Actor) -> None:
    replica = Replica(tmp_path / "small-pages.sqlite", page_size=2)
    try:
        asked = []
        report = replica.sync(source, cancel=lambda: asked.append(1) or True)
        assert report.cancelled and report.pages == 1 and len(asked) == 1
        assert counts(replica)["products"] == 2 and replica.freshness() is None
        # the source moves on meanwhile: a price changed on a product already stored
        a = variant(source, "MC-S")
        source.catalog.save_edits([RowChange("variant", a.variant_id, a.variant_version, {"price": Decimal("1.00")})],
                                  description="price")
        pages = []
        replica.sync(source, cancel=lambda: len(pages) >= 3, progress=lambda f, t: pages.append(t))
        report = replica.sync(source)
        assert not report.cancelled and report.pages > 1 and not report.initial
        assert_same(source, replica, actor)
        with db.read() as s:
            expected = {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                        for t in ("products", "variants", "variant_options", "product_tags", "stock_levels")}
        assert counts(replica) == expected
        assert replica.freshness() is not None
    finally:
        replica.close()


class Broken:
    """A source whose variants feed fails on its second page (the network gone mid-sync)."""

    def __init__(self, ops: LocalOperations) -> None:
        self._ops = ops
        self.store, self.variants, self.catalog = ops.store, ops.variants, ops.catalog
        self.transfers, self.purchase_orders = ops.transfers, ops.purchase_orders
        self.feeds = self
        self.calls = 0

    def changes(self, kind: str, cursor: str | None = None, limit: int = 1000) -> Any:
        if kind == "variants":
            self.calls += 1
            if self.calls == 2:
                raise ConnectionError("the server went away")
        return self._ops.feeds.changes(kind, cursor, limit)


def test_a_failing_source_leaves_the_pages_stored_and_the_next_sync_completes(source: LocalOperations,
                                                                              tmp_path: Path, actor: Actor) -> None:
    replica = Replica(tmp_path / "failing.sqlite", page_size=3)
    try:
        with pytest.raises(ConnectionError):
            replica.sync(Broken(source))
        assert counts(replica)["variants"] == 3 and replica.freshness() is None
        replica.sync(source)
        assert_same(source, replica, actor)
    finally:
        replica.close()


def test_an_old_or_broken_file_is_rebuilt(tmp_path: Path, source: LocalOperations, actor: Actor) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"not a database at all" * 100)
    replica = Replica(path)
    try:
        replica.sync(source)
        assert_same(source, replica, actor)
    finally:
        replica.close()


def test_replica_paths_are_per_profile_and_safe() -> None:
    plain, odd, lookalike = replica_path("shop"), replica_path("a/b: c"), replica_path("a_b__c")
    assert plain.name == "shop.sqlite" and plain.parent.name == "replicas"
    assert "/" not in odd.name[:-7] and odd.parent == plain.parent
    assert odd != lookalike


# -- a storm of writers (PostgreSQL) --------------------------------------------------------------------------
@pytest.mark.postgres
def test_writers_during_repeated_syncs_end_equal(pg_db: Database, tmp_path: Path) -> None:
    from backoffice.services.users import ensure_user

    db = pg_db
    actor = ensure_user(db, "tester")
    store = SmallStore(db, actor)
    ops = LocalOperations(db, actor)
    for n in range(4):
        ops.catalog.create_product({"handle": f"p{n}", "title": f"P{n}", "status": "active"},
                                   [{"sku": f"P{n}-{s}", "price": "10.00", "options": {"size": s}}
                                    for s in ("S", "M", "L")])
    with db.read() as s:
        variant_ids = [v for (v,) in s.execute(text("SELECT id FROM variants ORDER BY id"))]
    inventory.post_moves(db, actor, operation_id="seed", reason="receipt",
                         lines=[MoveLine(v, store.locations["SUP"], store.locations["WH1"], 100) for v in variant_ids])
    stop = threading.Event()
    errors: list[BaseException] = []
    writes = [0]

    def prices(seed: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            vid = variant_ids[(seed * 7 + n) % len(variant_ids)]
            current = catalog.get_variant(db, vid)
            try:
                catalog.update_variant(db, actor, vid, expected_version=current["version"],
                                       values={"price": f"{(seed * 31 + n) % 90 + 1}.{n % 100:02d}"})
                writes[0] += 1
            except ConflictError:
                pass
            except BaseException as exc:   # noqa: BLE001 - reported by the test
                errors.append(exc)
                return

    def moves(seed: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            vid = variant_ids[(seed * 5 + n) % len(variant_ids)]
            there, back = (store.locations["WH1"], store.locations["SHOP"])[:: 1 if n % 2 else -1]
            try:
                inventory.post_moves(db, actor, operation_id=f"storm-{seed}-{n}", reason="transfer",
                                     lines=[MoveLine(vid, there, back, 1)])
                writes[0] += 1
            except Exception:   # not enough stock at the moment: the ledger refuses, as it must
                pass

    threads = [threading.Thread(target=prices, args=(i,)) for i in range(2)] + \
              [threading.Thread(target=moves, args=(i,)) for i in range(2)]
    replica = Replica(tmp_path / "storm.sqlite", page_size=4)
    try:
        for t in threads:
            t.start()
        try:
            deadline = time.monotonic() + 4
            syncs = 0
            while time.monotonic() < deadline:
                replica.sync(ops)
                syncs += 1
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert not errors, errors
        assert syncs >= 2 and writes[0] > 20
        replica.sync(ops)
        assert_same(ops, replica, actor)
        assert replica.sync(ops).rows == 0
    finally:
        replica.close()


# -- what the stock views sum: open transfers and purchase orders ---------------------------------------------
def test_in_transit_and_incoming_follow_transfers_and_purchase_orders(source: LocalOperations, replica: Replica,
                                                                     actor: Actor, store: SmallStore) -> None:
    """A shipped transfer's units are in transit at its destination and a sent order's are incoming at
    its own, in the replica's stock rows as in the server's; receiving them moves the figures on both."""
    replica.sync(source)
    a, b = variant(source, "TEE-0-S-Red"), variant(source, "MC-M")
    transfer = source.transfers.create_and_ship(
        source_location_id=store.locations["WH1"], destination_location_id=store.locations["SHOP"],
        lines=[(a.variant_id, 4), (b.variant_id, 2)])
    supplier = source.suppliers.create({"name": "Wool & Co", "currency": "EUR"}).id
    for v in (a, b):
        source.suppliers.save_item(supplier_id=supplier, variant_id=v.variant_id,
                                   values={"supplier_sku": f"W-{v.sku}", "unit_cost": "3.00"})
    order = source.purchase_orders.create(supplier_id=supplier, destination_location_id=store.locations["WH1"],
                                          lines=[(a.variant_id, 7, "3.00"), (b.variant_id, 5, "2.50")])
    order = source.purchase_orders.send(order.id, expected_version=order.version)
    assert order.state == "sent"
    report = replica.sync(source)
    assert report.lists_changed >= 2
    server = stock(source)
    assert any(r.in_transit == 4 for r in server["levels"]) and any(r.incoming == 7 for r in server["levels"])
    assert_same(source, replica, actor)
    assert replica.sync(source).rows == 0          # nothing changed: no document read again

    # part of each arrives: the rest stays in transit / incoming
    source.transfers.receive(transfer.id, {a.variant_id: 1})
    source.purchase_orders.receive(order.id, {a.variant_id: 7})
    assert replica.sync(source).lists_changed >= 2
    assert_same(source, replica, actor)
    # all of it: nothing is under way any more, and the replica holds no open document
    source.transfers.receive(transfer.id)
    source.purchase_orders.close(order.id, reason="the rest will not come")
    replica.sync(source)
    assert_same(source, replica, actor)
    assert all(r.in_transit == 0 and r.incoming == 0 for r in stock(LocalOperations(replica.db, actor))["levels"])
    with replica.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM transfers").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM purchase_order_lines").scalar() == 0


def test_an_account_that_may_not_read_purchase_orders_still_syncs(source: LocalOperations, db: Database,
                                                                   replica: Replica, actor: Actor,
                                                                   store: SmallStore) -> None:
    """A merchandiser may not list purchase orders: the replica holds none for them (nothing incoming),
    the open transfers all the same, and the sync completes."""
    from backoffice.models import Role

    a = variant(source, "MC-S")
    source.transfers.create_and_ship(source_location_id=store.locations["WH1"],
                                     destination_location_id=store.locations["SHOP"], lines=[(a.variant_id, 3)])
    merchandiser = LocalOperations(db, Actor(actor.user_id, actor.username, Role.MERCHANDISER))
    report = replica.sync(merchandiser)
    assert not report.cancelled and replica.freshness() is not None
    rows = {r.key: r for r in stock(LocalOperations(replica.db, actor))["levels"]}
    assert rows[(a.variant_id, store.locations["SHOP"])].in_transit == 3


def test_a_first_load_builds_the_indexes_it_left_out(source: LocalOperations, tmp_path: Path, actor: Actor) -> None:
    """The big tables are loaded without their secondary indexes, which are all there again once the
    first sync completes, also when it was cancelled part way and finished by a later sync."""
    replica = Replica(tmp_path / "indexes.sqlite", page_size=2)
    try:
        def indexes() -> set[str]:
            with replica.db.engine.connect() as conn:
                return {n for (n,) in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
        before = indexes()
        assert {"ix_variants_price_id", "ix_stock_levels_location_id_variant_id"} <= before
        replica.sync(source, cancel=lambda: True)
        assert "ix_variants_price_id" not in indexes()
        replica.sync(source)
        assert indexes() == before
        with replica.db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM replica_indexes").scalar() == 0
        assert_same(source, replica, actor)
    finally:
        replica.close()


# -- the grid's pictures ----------------------------------------------------------------------------------------
def test_thumbnails_follow_uploads_reorders_assignments_and_deletions(db: Database, source: LocalOperations,
                                                                       replica: Replica, actor: Actor,
                                                                       tmp_path: Path) -> None:
    """Each grid row's thumbnail hash (the variant's own image, else the product's main one) is the
    server's after images are uploaded, assigned to a variant, reordered and deleted."""
    from backoffice.services import images
    from backoffice.services.image_matching import PlannedFile, Target
    from backoffice.services.image_store import ImageStore
    from tests.image_samples import halves_jpeg, noisy_jpeg

    replica.sync(source)
    tee = variant(source, "TEE-1-S-Red")
    files = [halves_jpeg(tmp_path / "tee-1_1.jpg"), noisy_jpeg(tmp_path / "tee-1_2.jpg", (300, 200), seed=3)]
    images.ingest(db, actor, [PlannedFile(str(p), p.name, Target(tee.product_id, "tee-1", "tee-1", None), n)
                              for n, p in enumerate(files, 1)], store=ImageStore(tmp_path / "store"))

    def thumbs(ops: LocalOperations) -> dict[int, str | None]:
        return {r.variant_id: r.thumb_hash for r in ops.catalog.first_page(limit=ALL)}

    local = LocalOperations(replica.db, actor)
    try:
        replica.sync(source)
        expected = thumbs(source)
        assert expected[tee.variant_id] is not None and thumbs(local) == expected
        assert_same(source, replica, actor)
        gallery = images.list_gallery(db, tee.product_id)
        second = gallery[1]
        images.assign_variants(db, actor, second.id, [tee.variant_id], expected_version=second.version)
        replica.sync(source)
        assert thumbs(local)[tee.variant_id] == second.thumb_hash == thumbs(source)[tee.variant_id]
        assert thumbs(local) == thumbs(source)
        first = images.get_image(db, gallery[0].id)
        images.delete_image(db, actor, first.id, expected_version=first.version)
        replica.sync(source)
        assert thumbs(local) == thumbs(source)
        assert replica.sync(source).rows == 0
    finally:
        local.close()


def test_a_rebuilt_replica_keeps_the_changes_waiting_in_its_outbox(tmp_path: Path) -> None:
    """A newer schema rebuilds the copy of the server's data, never the person's unsent changes."""
    import sqlite3

    from backoffice.sync.outbox import Outbox

    path = tmp_path / "profile.sqlite"
    first = Replica(path)
    first.db   # noqa: B018 - the file and its schema
    outbox = Outbox(path)
    entries = [outbox.enqueue("catalog.save_edits", {"rows": [], "description": f"edit {n}"}) for n in range(3)]
    outbox.close()
    first.close()
    with sqlite3.connect(path) as conn:          # as if written by an older version of the app
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    again = Replica(path)
    again.db   # noqa: B018 - rebuilt here
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] != "0001"
    reopened = Outbox(path)
    try:
        assert [(e.id, e.idempotency_key, e.status, e.payload) for e in reopened.entries()] == \
               [(e.id, e.idempotency_key, "pending", e.payload) for e in entries]
        assert reopened.pending_count() == 3
    finally:
        reopened.close()
        again.close()
