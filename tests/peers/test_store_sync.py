"""The store connector against a running Medusa 2 server: the whole catalog pushed and read back field by
field, prices changed by a changeset (and its revert) reaching the store, an order bought through Medusa's
store API pulled, reserved and shipped here with the shipment showing in Medusa, a stock level changed in
Medusa's admin detected and not overwritten, a push killed midway resumed without duplicates, and
reconciliation finding and fixing an injected difference.

The Medusa server is shared by the test process: each test makes its own products (handles and SKUs with
a random stem) and its own back-office database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.connectors import key_env
from backoffice.connectors.base import ProductPush, PushOutcome
from backoffice.connectors.engine import SyncEngine
from backoffice.connectors.medusa import MedusaAdapter
from backoffice.db import Database
from backoffice.operations import LocalOperations
from backoffice.operations.bulk import BulkOperation, PriceStep, Target
from backoffice.services import catalog, inventory, store_links
from backoffice.services.base import Actor
from backoffice.services.users import ensure_user
from tests.conftest import STAFF_PASSWORD
from tests.peers.medusa import storefront
from tests.peers.medusa.server import MedusaServer

pytestmark = [pytest.mark.store_peer]

D = Decimal
SIZES = ("S", "M", "L")


class Shop:
    """A back-office catalog of ``products`` products (2 or 3 sizes each, some drafts and archived, some
    with compare-at prices and barcodes), stock at two warehouses, connected to ``medusa`` as ``shop``
    with WH1 and WH2 linked to the server's two stock locations."""

    def __init__(self, db: Database, actor: Actor, medusa: MedusaServer, *, products: int = 6,
                 connect: bool = True) -> None:
        self.db, self.actor, self.medusa = db, actor, medusa
        self.stem = "t" + uuid.uuid4().hex[:8]
        self.barcode_stem = f"{int(self.stem[1:], 16) % 10**6:06d}"     # barcodes are unique in a store too
        self.ops = LocalOperations(db, actor, owns_database=False)
        catalog.create_attribute(db, actor, code="size", name="Size", values=list(SIZES))
        self.locations = {code: inventory.create_location(db, actor, code=code, name=name, kind=kind).entity_id
                          for code, name, kind in (("WH1", "Berlin", "warehouse"), ("WH2", "Amsterdam", "store"),
                                                   ("LOSS", "Adjustments", "adjustment"),
                                                   ("CUS", "Customers", "customer"))}
        self.product_ids: list[int] = []
        self.variants: dict[str, int] = {}           # sku -> variant id
        stock1, stock2 = {}, {}
        for i in range(products):
            sizes = SIZES if i % 2 else SIZES[:2]
            status = "draft" if i % 7 == 3 else ("archived" if i % 11 == 5 else "active")
            change = catalog.create_product(db, actor, values={
                "handle": f"{self.stem}-tee-{i}", "title": f"Tee {i} {self.stem}", "description": f"Cotton tee number {i}.",
                "vendor": "Norda" if i % 2 else "Kestrel", "product_type": "Tops" if i % 3 else "Basics",
                "status": status, "tags": ["cotton", f"batch-{i % 3}"],
            }, variants=[{"sku": f"{self.stem.upper()}-{i}-{s}", "price": str(D("19.90") + i % 5 + j),
                          "compare_at_price": "39.00" if i % 4 == 0 else None,
                          "barcode": f"{self.barcode_stem}{i:05d}{j}" if i % 5 == 0 else None, "options": {"size": s}}
                         for j, s in enumerate(sizes)])
            self.product_ids.append(change.entity_id)
            for j, child in enumerate(change.children):
                sku = f"{self.stem.upper()}-{i}-{sizes[j]}"
                self.variants[sku] = child.entity_id
                stock1[child.entity_id] = 5 + (i + j) % 7
                if j != 1:
                    stock2[child.entity_id] = 1 + (i * j) % 4
        self.ops.adjustments.adjust(self.locations["WH1"], stock1, reason="found")
        self.ops.adjustments.adjust(self.locations["WH2"], stock2, reason="found")
        if connect:
            self.ops.connectors.add("medusa", "shop", medusa.base_url, medusa.api_key,
                                    settings={"sales_channel_id": medusa.sales_channel_id})
            self.ops.connectors.link_location("shop", "WH1", medusa.location_ids[0])
            self.ops.connectors.link_location("shop", "WH2", medusa.location_ids[1])

    def adapter(self) -> MedusaAdapter:
        return MedusaAdapter(self.medusa.base_url, self.medusa.api_key, {"sales_channel_id": self.medusa.sales_channel_id})

    def store_products(self) -> dict[str, Any]:
        """The store's products of this shop by handle (read through the adapter)."""
        with self.adapter() as adapter:
            return {p.handle: p for page in adapter.products() for p in page if p.handle.startswith(self.stem)}

    def store_stock(self) -> dict[tuple[str, str], int]:
        """(sku, our location code) -> the store's stocked quantity."""
        links = store_links.variant_links(self.db, self.connection_id)
        by_item = {link.inventory_item_id: link.sku for link in links.values() if link.inventory_item_id}
        code_of = {self.medusa.location_ids[0]: "WH1", self.medusa.location_ids[1]: "WH2"}
        out = {}
        with self.adapter() as adapter:
            for page in adapter.stock_levels(inventory_item_ids=sorted(by_item)):
                for level in page:
                    if level.location_id in code_of:
                        out[(by_item[level.inventory_item_id], code_of[level.location_id])] = level.on_hand
        return out

    def our_stock(self) -> dict[tuple[str, str], int]:
        """(sku, location code) -> on hand here, for every linked variant at both linked locations."""
        return {(r.sku, r.location_code): r.on_hand
                for r in store_links.stock_rows(self.db, self.connection_id, only_different=False)}

    @property
    def connection_id(self) -> int:
        return store_links.get_connection(self.db, "shop").id

    def count_in_store(self, handle_prefix: str | None = None) -> tuple[int, int]:
        """(products, variants) of this shop in Medusa, counted straight from its admin API."""
        prefix = handle_prefix or self.stem
        with self.medusa.client() as api:
            products = api.get("/admin/products", params={"q": prefix, "limit": 1000,
                                                          "fields": "id,handle,variants.sku"}).json()["products"]
        mine = [p for p in products if p["handle"].startswith(prefix)]
        return len(mine), sum(len(p["variants"]) for p in mine)


def _stock_of(ops: LocalOperations, variant_id: int, location_id: int) -> tuple[int, int]:
    """(on hand, reserved) here."""
    from sqlalchemy import select

    from backoffice.models import StockLevel
    with ops._db.read() as session:  # type: ignore[attr-defined]
        row = session.execute(select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.variant_id == variant_id, StockLevel.location_id == location_id)).one_or_none()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


# -- the catalog ----------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_a_thousand_products_pushed_then_read_back_field_by_field(pg_db: Database, medusa: MedusaServer) -> None:
    actor = ensure_user(pg_db, "tester", password=STAFF_PASSWORD)
    started = time.monotonic()
    shop = Shop(pg_db, actor, medusa, products=int(os.environ.get("BACKOFFICE_STORE_TEST_PRODUCTS", "1000")))
    built = time.monotonic()
    report = shop.ops.connectors.sync("shop", direction="push")
    print(f"catalog built in {built - started:.1f} s; pushed in {report.seconds:.1f} s "
          f"({report.calls} calls, {report.mean_ms:.0f} ms mean)")
    n = len(shop.product_ids)
    assert report.state == "ok", report.errors
    assert (report.products_created, report.products_failed) == (n, 0)
    assert report.stock_set == len(store_links.stock_rows(pg_db, shop.connection_id, only_different=False))

    docs = store_links.product_documents(pg_db, shop.product_ids)
    store = shop.store_products()
    assert len(store) == n
    for doc in docs.values():
        sp = store[doc["handle"]]
        assert (sp.title, sp.status, sp.description, sp.vendor, sp.product_type, sorted(sp.tags)) == \
            (doc["title"], doc["status"], doc["description"], doc["vendor"], doc["product_type"], sorted(doc["tags"])), doc["handle"]
        variants = {v.sku: v for v in sp.variants}
        assert set(variants) == {v["sku"] for v in doc["variants"]}
        for v in doc["variants"]:
            sv = variants[v["sku"]]
            assert sv.options == {"Size": v["options"]["Size"]}
            assert (sv.price, sv.compare_at_price, sv.barcode) == (v["price"], v["compare_at_price"], v["barcode"]), v["sku"]
    # stock at both locations equals on hand here, pair by pair
    assert shop.store_stock() == shop.our_stock()

    # pulled back, nothing differs: no drift, nothing to push again
    again = shop.ops.connectors.sync("shop")
    assert again.state == "ok" and again.store_products_seen >= n
    assert (again.catalog_drift, again.products_planned, again.prices_planned, again.stock_planned) == (0, 0, 0, 0)
    assert shop.count_in_store() == (n, sum(len(d["variants"]) for d in docs.values()))


def test_a_bulk_price_change_and_its_revert_reach_the_store(db: Database, actor: Actor, medusa: MedusaServer) -> None:
    shop = Shop(db, actor, medusa, products=6)
    assert shop.ops.connectors.sync("shop", direction="push").state == "ok"
    ids = tuple(shop.variants.values())
    before = {sku: v.price for sku, v in _store_variants(shop).items()}
    result = shop.ops.bulk.apply(BulkOperation(kind="money", field="price",
                                               steps=(PriceStep("percent", D("10")), PriceStep("round_ending", D("0.99")))),
                                 Target(variant_ids=ids), description="autumn prices")
    assert result.applied_rows == len(ids)
    report = shop.ops.connectors.sync("shop", direction="push")
    assert report.state == "ok", report.errors
    assert (report.prices_pushed, report.products_planned) == (len(ids), 0)
    ours = {r["sku"]: r["price"] for d in store_links.product_documents(db, shop.product_ids).values()
            for r in d["variants"]}
    after = {sku: v.price for sku, v in _store_variants(shop).items()}
    assert after == ours and after != before

    shop.ops.changesets.revert(result.changeset_id)
    report = shop.ops.connectors.sync("shop", direction="push")
    assert report.prices_pushed == len(ids)
    assert {sku: v.price for sku, v in _store_variants(shop).items()} == before
    # and nothing is sent twice
    assert shop.ops.connectors.sync("shop", direction="push").prices_pushed == 0


def _store_variants(shop: Shop) -> dict[str, Any]:
    with shop.adapter() as adapter:
        return adapter.variants_by_sku(list(shop.variants))


def test_a_store_edit_to_a_product_is_put_back_by_the_next_sync(db: Database, actor: Actor, medusa: MedusaServer) -> None:
    """The back-office owns the catalog: a title changed in Medusa's admin is seen on pull and sent again."""
    shop = Shop(db, actor, medusa, products=2)
    shop.ops.connectors.sync("shop")
    link = store_links.product_links(db, shop.connection_id, shop.product_ids[:1])[shop.product_ids[0]]
    with medusa.client() as api:
        assert api.post(f"/admin/products/{link[0]}", json={"title": "Edited in Medusa"}).status_code == 200
    report = shop.ops.connectors.sync("shop")
    assert report.catalog_drift >= 1 and report.products_updated == 1
    doc = store_links.product_documents(db, shop.product_ids[:1])[shop.product_ids[0]]
    assert shop.store_products()[doc["handle"]].title == doc["title"]


# -- orders ----------------------------------------------------------------------------------------------------
def test_an_order_bought_in_the_store_is_reserved_and_shipped_here_and_the_shipment_shows_there(
        db: Database, actor: Actor, medusa: MedusaServer) -> None:
    shop = Shop(db, actor, medusa, products=2)
    sku = next(iter(shop.variants))
    vid = shop.variants[sku]
    # stock only at WH1 for the variant sold, so both systems take it from the same place
    on_wh2 = _stock_of(shop.ops, vid, shop.locations["WH2"])[0]
    if on_wh2:
        shop.ops.adjustments.adjust(shop.locations["WH2"], {vid: -on_wh2}, reason="loss")
    on_wh1 = _stock_of(shop.ops, vid, shop.locations["WH1"])[0]
    assert shop.ops.connectors.sync("shop").state == "ok"
    store_variant = store_links.variant_links(db, shop.connection_id, [vid])[vid]

    order = storefront.place_order(medusa, [(store_variant.store_variant_id, 2)])
    report = shop.ops.connectors.sync("shop", direction="pull")
    assert report.orders_new == 1 and report.orders_failed == 0, report.errors
    ours = shop.ops.orders.find(f"SHOP-{order['display_id']}")
    assert [(ln.sku, ln.quantity) for ln in ours.lines] == [(sku, 2)]
    assert ours.lines[0].reserved == 2 and ours.channel == "shop"
    assert _stock_of(shop.ops, vid, shop.locations["WH1"]) == (on_wh1, 2)
    # pulled again (the overlap window reads it again): nothing new
    again = shop.ops.connectors.sync("shop", direction="pull")
    assert again.orders_new == 0 and len(shop.ops.orders.list(limit=100)) == 1

    shipped = shop.ops.orders.fulfil(ours.id, location_id=shop.locations["WH1"], carrier="DHL", tracking="JD01")
    assert shipped.state == "fulfilled"
    report = shop.ops.connectors.sync("shop", direction="push")
    assert report.fulfilments_pushed == 1 and report.state == "ok", report.errors
    with medusa.client() as api:
        got = api.get(f"/admin/orders/{order['id']}", params={"fields": "id,*fulfillments,*items,items.detail.*"}).json()["order"]
    assert len(got["fulfillments"]) == 1
    assert got["fulfillments"][0]["metadata"]["reference"] == shipped.shipments[0].number
    assert sum(int(i["detail"]["fulfilled_quantity"]) for i in got["items"]) == 2
    # the store took the two units off itself: both sides agree, nothing to fix, nothing pushed twice
    assert shop.ops.connectors.sync("shop", direction="push").fulfilments_pushed == 0
    rec = shop.ops.connectors.reconcile("shop")
    assert rec.difference_count == 0, rec.differences
    assert shop.store_stock()[(sku, "WH1")] == on_wh1 - 2


def test_an_order_cancelled_in_the_store_is_cancelled_here(db: Database, actor: Actor, medusa: MedusaServer) -> None:
    shop = Shop(db, actor, medusa, products=2)
    shop.ops.connectors.sync("shop")
    sku = next(iter(shop.variants))
    vid = shop.variants[sku]
    link = store_links.variant_links(db, shop.connection_id, [vid])[vid]
    order = storefront.place_order(medusa, [(link.store_variant_id, 1)])
    shop.ops.connectors.sync("shop", direction="pull")
    ours = shop.ops.orders.find(f"SHOP-{order['display_id']}")
    assert ours.lines[0].reserved == 1
    with medusa.client() as api:
        assert api.post(f"/admin/orders/{order['id']}/cancel").status_code == 200
    report = shop.ops.connectors.sync("shop", direction="pull")
    assert report.orders_updated == 1, report.errors
    after = shop.ops.orders.get(ours.id)
    assert after.state == "cancelled" and after.lines[0].reserved == 0


# -- stock -------------------------------------------------------------------------------------------------------
def test_stock_changed_in_the_store_is_not_overwritten_and_reconcile_fixes_it_on_request(
        db: Database, actor: Actor, medusa: MedusaServer) -> None:
    shop = Shop(db, actor, medusa, products=3)
    assert shop.ops.connectors.sync("shop").state == "ok"
    sku = next(iter(shop.variants))
    vid = shop.variants[sku]
    link = store_links.variant_links(db, shop.connection_id, [vid])[vid]
    ours_before = _stock_of(shop.ops, vid, shop.locations["WH1"])[0]
    # meanwhile: staff correct the level in Medusa's admin, and units are found here
    storefront.set_stock(medusa, link.inventory_item_id, medusa.location_ids[0], 42)
    shop.ops.adjustments.adjust(shop.locations["WH1"], {vid: 3}, reason="found")

    report = shop.ops.connectors.sync("shop", direction="push")
    assert report.state == "partial" and report.stock_conflict_count == 1
    (conflict,) = report.stock_conflicts
    assert (conflict.sku, conflict.location, conflict.ours, conflict.expected, conflict.store) == \
        (sku, "WH1", ours_before + 3, ours_before, 42)
    assert shop.store_stock()[(sku, "WH1")] == 42                 # not overwritten
    # the next run reports it again rather than overwriting it
    assert shop.ops.connectors.sync("shop", direction="push").stock_conflict_count == 1

    rec = shop.ops.connectors.reconcile("shop")
    assert rec.difference_count == 1 and rec.differences[0].store == 42 and not rec.differences[0].fixed
    assert shop.store_stock()[(sku, "WH1")] == 42
    fixed = shop.ops.connectors.reconcile("shop", fix=True)
    assert fixed.fixed == 1 and fixed.state == "ok"
    assert shop.store_stock()[(sku, "WH1")] == ours_before + 3
    assert shop.ops.connectors.reconcile("shop").difference_count == 0
    assert shop.ops.connectors.sync("shop", direction="push").stock_conflict_count == 0


def test_reconciliation_finds_and_fixes_an_injected_difference(db: Database, actor: Actor, medusa: MedusaServer) -> None:
    shop = Shop(db, actor, medusa, products=4)
    shop.ops.connectors.sync("shop")
    assert shop.ops.connectors.reconcile("shop").difference_count == 0
    skus = list(shop.variants)[:2]
    links = store_links.variant_links(db, shop.connection_id, [shop.variants[s] for s in skus])
    for s in skus:
        storefront.set_stock(medusa, links[shop.variants[s]].inventory_item_id, medusa.location_ids[1], 99)
    rec = shop.ops.connectors.reconcile("shop")
    assert sorted((d.sku, d.location, d.store) for d in rec.differences) == sorted((s, "WH2", 99) for s in skus)
    assert rec.state == "partial"
    assert shop.ops.connectors.reconcile("shop", fix=True).fixed == 2
    assert shop.store_stock() == shop.our_stock()
    runs = shop.ops.connectors.runs("shop")
    assert [r.kind for r in runs[:3]] == ["reconcile"] * 3 and all(r.calls > 0 for r in runs[:3])


# -- crashes and dry runs ----------------------------------------------------------------------------------------------
class _CrashAfterAnswer(MedusaAdapter):
    """The store answered the batch, then the process died before the answer was recorded."""

    def push_products(self, items: list[ProductPush]) -> list[PushOutcome]:  # type: ignore[override]
        super().push_products(items)
        raise KeyboardInterrupt("killed")


def test_a_push_killed_after_the_store_answered_resumes_without_duplicates(db: Database, actor: Actor,
                                                                          medusa: MedusaServer) -> None:
    shop = Shop(db, actor, medusa, products=5)
    settings = {"sales_channel_id": medusa.sales_channel_id}
    crashing = _CrashAfterAnswer(medusa.base_url, medusa.api_key, settings)
    with pytest.raises(KeyboardInterrupt):
        SyncEngine(db, actor, "shop", adapter=crashing).sync(direction="push")
    crashing.close()
    assert store_links.product_links(db, shop.connection_id, shop.product_ids) == {}     # nothing recorded
    assert shop.count_in_store()[0] == 5                                                 # but all in the store

    report = shop.ops.connectors.sync("shop", direction="push")
    assert report.state == "ok", report.errors
    assert (report.products_created, report.products_matched) == (0, 5)
    assert shop.count_in_store() == (5, len(shop.variants))
    assert len(store_links.variant_links(db, shop.connection_id)) == len(shop.variants)
    assert shop.ops.connectors.outbox("shop", states=["pending", "sending", "failed"]) == []


def test_the_sync_command_killed_midway_and_run_again_leaves_no_duplicates(sqlite_db: Database, medusa: MedusaServer) -> None:
    products = 240
    actor = ensure_user(sqlite_db, "tester", password=STAFF_PASSWORD)
    shop = Shop(sqlite_db, actor, medusa, products=products)
    url = sqlite_db.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, key_env("shop"): medusa.api_key, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    command = [sys.executable, "-m", "backoffice", "store", "sync", "shop", "--push", "--db", url]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            if shop.count_in_store()[0] >= 60:      # some batches are in the store, the rest are not
                break
            time.sleep(0.2)
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    in_store = shop.count_in_store()[0]
    assert 0 < in_store < products

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "failed" not in done.stdout.split("products:")[1].split("\n")[0] or " 0 failed" in done.stdout
    count, variants = shop.count_in_store()
    assert (count, variants) == (products, len(shop.variants))
    with medusa.client() as api:
        skus = [v["sku"] for p in api.get("/admin/products", params={
            "q": shop.stem, "limit": 1000, "fields": "id,handle,variants.sku"}).json()["products"]
            for v in p["variants"]]
    assert len(skus) == len(set(skus)) == len(shop.variants)
    assert len(store_links.product_links(sqlite_db, shop.connection_id, shop.product_ids)) == products
    # and once more: nothing to send
    third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert third.returncode == 0 and "0 created, 0 updated, 0 matched" in third.stdout, third.stdout


def test_a_dry_run_plans_and_writes_nothing(db: Database, actor: Actor, medusa: MedusaServer) -> None:
    shop = Shop(db, actor, medusa, products=3)
    report = shop.ops.connectors.sync("shop", dry_run=True)
    assert report.dry_run and report.products_planned == 3 and report.products_created == 0
    assert shop.count_in_store()[0] == 0
    assert store_links.product_links(db, shop.connection_id, shop.product_ids) == {}
    assert shop.ops.connectors.outbox("shop") == []
    assert store_links.cursors(db, shop.connection_id) == {}
    # the real run does what the dry run announced
    assert shop.ops.connectors.sync("shop").products_created == 3


# -- the command line ---------------------------------------------------------------------------------------------------
def test_store_commands_connect_sync_and_reconcile(sqlite_db: Database, medusa: MedusaServer) -> None:
    actor = ensure_user(sqlite_db, "tester", password=STAFF_PASSWORD)
    shop = Shop(sqlite_db, actor, medusa, products=2, connect=False)
    url = sqlite_db.engine.url.render_as_string(hide_password=False)
    run = CliRunner()
    out = run.invoke(main, ["store", "add", "medusa", medusa.base_url, "--name", "shop", "--api-key", medusa.api_key,
                            "--sales-channel", medusa.sales_channel_id, "--db", url])
    assert out.exit_code == 0, out.output
    assert "accepts the key" in out.output
    listed = run.invoke(main, ["store", "locations", "shop", "--db", url])
    assert all(loc in listed.output for loc in medusa.location_ids)
    for code, loc in zip(("WH1", "WH2"), medusa.location_ids):
        assert run.invoke(main, ["store", "link-location", "shop", code, loc, "--db", url]).exit_code == 0
    dry = run.invoke(main, ["store", "sync", "shop", "--dry-run", "--db", url])
    assert dry.exit_code == 0 and "would send:  2 products" in dry.output, dry.output
    synced = run.invoke(main, ["store", "sync", "shop", "--db", url])
    assert synced.exit_code == 0 and "2 created" in synced.output, synced.output
    # a difference injected in the store: reconcile reports it (exit 3), --fix sets ours (exit 0)
    sku = next(iter(shop.variants))
    link = store_links.variant_links(sqlite_db, store_links.get_connection(sqlite_db, "shop").id)[shop.variants[sku]]
    storefront.set_stock(medusa, link.inventory_item_id, medusa.location_ids[0], 77)
    rec = run.invoke(main, ["store", "reconcile", "shop", "--db", url])
    assert rec.exit_code == 3 and sku in rec.output and "1 different" in rec.output, rec.output
    fixed = run.invoke(main, ["store", "reconcile", "shop", "--fix", "--db", url])
    assert fixed.exit_code == 0 and "1 fixed" in fixed.output, fixed.output
    log = run.invoke(main, ["store", "log", "shop", "--db", url])
    assert log.output.count("reconcile") == 2 and log.output.count(" sync ") >= 2, log.output
    # a wrong key: one clear line, exit 1, nothing half-done
    assert run.invoke(main, ["store", "set-key", "shop", "--api-key", "sk_wrong", "--db", url]).exit_code == 0
    bad = run.invoke(main, ["store", "sync", "shop", "--db", url])
    assert bad.exit_code == 1 and "failed" in bad.output, bad.output


def test_an_unreachable_store_fails_the_run_and_loses_nothing(db: Database, actor: Actor, medusa: MedusaServer) -> None:
    shop = Shop(db, actor, medusa, products=2, connect=False)
    shop.ops.connectors.add("medusa", "shop", "http://127.0.0.1:9", "sk_x")
    report = shop.ops.connectors.sync("shop")
    assert report.state == "failed" and report.errors
    runs = shop.ops.connectors.runs("shop")
    assert runs[0].state == "failed" and runs[0].error
    assert not shop.ops.connectors.health("shop").ok


# -- through the store API ----------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_connecting_and_syncing_through_the_store_api_with_roles(pg_db: Database, medusa: MedusaServer) -> None:
    """An API profile runs the same calls on the server (the key goes to the server's keyring); a manager
    syncs, a merchandiser may not even list the stores."""
    from backoffice.operations import PermissionDenied
    from backoffice.remote.session import sign_in
    from backoffice.server import create_app_for_url
    from backoffice.services import users
    from tests.api_support import PASSWORD, add_staff, start_server, url_of

    add_staff(pg_db)
    shop = Shop(pg_db, users.sign_in(pg_db, "admin"), medusa, products=3, connect=False)
    running, stop = start_server(create_app_for_url(url_of(pg_db), rate=10_000, burst=10_000))
    admin = manager = merchandiser = None
    try:
        admin = sign_in(running.base_url, "admin", PASSWORD)
        admin.connectors.add("medusa", "shop", medusa.base_url, medusa.api_key,
                             settings={"sales_channel_id": medusa.sales_channel_id})
        assert {loc.id for loc in admin.connectors.store_locations("shop")} >= set(medusa.location_ids)
        admin.connectors.link_location("shop", "WH1", medusa.location_ids[0])
        manager = sign_in(running.base_url, "manager", PASSWORD)
        seen: list[float] = []
        report = manager.connectors.sync("shop", progress=lambda f, _t: seen.append(f or 0.0))
        assert report.state == "ok" and report.products_created == 3, report.errors
        assert shop.count_in_store()[0] == 3
        assert manager.connectors.get("shop").last_run.state == "ok"
        with pytest.raises(PermissionDenied):
            manager.connectors.link_location("shop", "WH2", medusa.location_ids[1])
        merchandiser = sign_in(running.base_url, "merchandiser", PASSWORD)
        with pytest.raises(PermissionDenied):
            merchandiser.connectors.list()
        with pytest.raises(PermissionDenied):
            merchandiser.connectors.sync("shop")
    finally:
        for ops in (admin, manager, merchandiser):
            if ops is not None:
                ops.close()
        stop()
