"""Store sync against a real Medusa 2 server: the connector's push, pull and incremental sync, against
Medusa's own batch endpoints called directly with httpx in the same run.

    python benchmarks/store_sync.py [--products 1000] [--db postgresql|sqlite] [--url URL] [--keep] [--profile]

A fresh Medusa server (tests/peers/medusa/server.py: a clone of its template database, stopped and dropped at
the end) and a fresh back-office database (PostgreSQL ``bench_sync_<pid>_<random>`` on the server of ``--url``,
or with ``--db sqlite`` a temporary SQLite file; dropped at the end unless ``--keep``). Set-up, not timed:
``--products`` products of 2 or 3 sizes each made through ``catalog.create_product``, received at a warehouse
and a store through ``inventory.post_moves`` (so the ledger is real), the connection added, the two locations
linked to the store's two stock locations.

Each raw path runs once before and once after the app's (on a second copy of the catalog), and the faster
run counts: the machine is shared and the store grows as the benchmark goes.

1. **Initial push**. Raw: the same products under other handles and SKUs (suffix ``-raw`` / ``-RAW``), with
   the bodies the adapter builds (``MedusaAdapter._create_body``), sent to ``POST /admin/products/batch`` in
   chunks of 100 (the answer carries the new variants' inventory items and price ids), each chunk's stock
   levels (two per variant) to ``POST /admin/inventory-items/location-levels/batch``. App:
   ``ops.connectors.sync(direction="push")``: catalog planned into the outbox, sent in batches of 100, links
   recorded, then every stock level pushed as a read-compare-set.
2. **Pull**: the ``pull.products`` cursor deleted (set-up), then ``sync(direction="pull")`` reads the whole
   store catalog (the app's products and the two raw copies) and matches it by SKU; raw: ``GET /admin/products`` with the adapter's fields and
   page size (100), ordered by updated_at, offset paging, JSON parsed.
3. **Incremental**: 1 % of the variants get a new price (one ``ops.bulk.apply`` changeset) and 1 % of the
   stock levels an adjustment (``ops.adjustments.adjust``), then ``sync(direction="push")``; raw: as many
   price updates on the raw set through ``POST /admin/products/{id}/variants/batch`` (one call per product,
   as the adapter does; the price ids known from step 1) and as many level updates in one
   ``POST /admin/inventory-items/location-levels/batch``. Then a second push, which must send nothing.

Prints a table (step, items, app s, raw s, app/raw time ratio, app items/s), the API calls of each sync
(count, mean ms, time in calls, per endpoint) and exits non-zero when a sync reports errors or the second
push sends anything. Target: the app within about 2x of the raw batch path for the initial push and the
incremental sync.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
import keyring  # noqa: E402
from common import DEFAULT_URL  # noqa: E402
import keyring.backends.null  # noqa: E402
from sqlalchemy import bindparam, create_engine, make_url, text  # noqa: E402

from backoffice import migrations  # noqa: E402
from backoffice.connectors import key_env  # noqa: E402
from backoffice.connectors import engine as sync_engine  # noqa: E402
from backoffice.connectors.medusa import _PRODUCT_FIELDS, MedusaAdapter  # noqa: E402
from backoffice.db import Database  # noqa: E402
from backoffice.operations import LocalOperations  # noqa: E402
from backoffice.operations.bulk import BulkOperation, PriceStep, Target  # noqa: E402
from backoffice.services import catalog, inventory, users  # noqa: E402
from backoffice.services import store_links as links  # noqa: E402
from backoffice.services.inventory import MoveLine  # noqa: E402

STORE = "bench"
CHUNK = 100
SIZES = ["S", "M", "L"]
VENDORS = ["Norda", "Hale & Co", "Pinecrest", "Odd Mill", "Kestrel"]
TYPES = ["Shirts", "Knitwear", "Trousers", "Outerwear"]
TAGS = ["wool", "cotton", "summer", "winter", "organic", "sale"]


# -- the back-office database ---------------------------------------------------------------------------------
class Scratch:
    """A new, migrated back-office database: PostgreSQL (created and dropped) or a temporary SQLite file."""

    def __init__(self, kind: str, url: str, keep: bool) -> None:
        self.kind, self.keep = kind, keep
        self.admin = None
        self.name = ""
        self.path = ""
        if kind == "sqlite":
            fd, self.path = tempfile.mkstemp(prefix="bench_sync_", suffix=".sqlite")
            os.close(fd)
            os.remove(self.path)
            self.db = Database(f"sqlite:///{self.path}")
        else:
            self.name = f"bench_sync_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            self.admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.db = Database(make_url(url).set(drivername="postgresql+psycopg", database=self.name))
        migrations.upgrade(self.db)

    def describe(self) -> str:
        return self.path if self.kind == "sqlite" else f"PostgreSQL database {self.name}"

    def close(self) -> None:
        self.db.dispose()
        if self.keep:
            print(f"kept the back-office database: {self.describe()}", flush=True)
        elif self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(self.path + suffix):
                    os.remove(self.path + suffix)
        if self.admin is not None:
            if not self.keep:
                with self.admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self.admin.dispose()


def settle(db: Database) -> None:
    """A CHECKPOINT (PostgreSQL) before a timed path, so it does not pay for the pages the set-up dirtied."""
    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")


# -- set-up ------------------------------------------------------------------------------------------------------
def build_catalog(db: Database, actor: Any, n: int, rng: random.Random) -> tuple[dict[str, int], list[int]]:  # noqa: ANN401
    """``n`` products of 2-3 sizes through the catalog service, received at WH1 and SHOP through the ledger;
    the location ids by code and the variant ids."""
    catalog.create_attribute(db, actor, code="size", name="Size", values=SIZES)
    locations = {code: inventory.create_location(db, actor, code=code, name=name, kind=kind).entity_id
                 for code, name, kind in (("WH1", "Main warehouse", "warehouse"), ("SHOP", "City store", "store"),
                                          ("SUP", "Suppliers", "supplier"), ("CUS", "Customers", "customer"),
                                          ("LOSS", "Loss and adjustments", "adjustment"))}
    variant_ids: list[int] = []
    started = time.perf_counter()
    for i in range(n):
        sizes = SIZES[:rng.choice((2, 3))]
        price = Decimal(rng.randrange(1500, 12000)) / 100
        change = catalog.create_product(
            db, actor,
            values={"handle": f"sync-item-{i:06d}", "title": f"Sync Item {i}", "vendor": rng.choice(VENDORS),
                    "product_type": rng.choice(TYPES), "status": "active",
                    "description": f"A benchmark product, number {i}.",
                    "tags": rng.sample(TAGS, rng.choice((1, 2)))},
            variants=[{"sku": f"SY-{i:06d}-{s}", "price": str(price), "cost": str((price * Decimal("0.4")).quantize(
                Decimal("0.01"))), "options": {"size": s}} for s in sizes])
        variant_ids += [c.entity_id for c in change.children]
    print(f"  {n:,} products, {len(variant_ids):,} variants created in {time.perf_counter() - started:.1f} s",
          flush=True)
    started = time.perf_counter()
    for code in ("WH1", "SHOP"):
        for start in range(0, len(variant_ids), 2000):
            chunk = variant_ids[start:start + 2000]
            inventory.post_moves(db, actor, operation_id=f"bench-receipt-{code}-{start}", reason="receipt",
                                 lines=[MoveLine(v, locations["SUP"], locations[code], rng.randrange(1, 60))
                                        for v in chunk])
    print(f"  {2 * len(variant_ids):,} stock levels received in {time.perf_counter() - started:.1f} s", flush=True)
    return locations, variant_ids


def raw_bodies(db: Database, adapter: MedusaAdapter, product_ids: list[int],
               suffix: str) -> list[tuple[dict[str, Any], list[int]]]:
    """The adapter's create bodies for our products under other handles and SKUs (a raw set: ``-<suffix>``
    added), with our variant ids in the order of the body's variants."""
    docs = links.product_documents(db, product_ids)
    pushes = []
    for pid in product_ids:
        doc = dict(docs[pid])
        doc["handle"] = f"{doc['handle']}-{suffix}"
        doc["variants"] = [dict(v, sku=f"{v['sku']}-{suffix.upper()}") for v in doc["variants"]]
        payload = sync_engine._product_payload(doc, "")
        pushes.append(sync_engine._product_push(payload, None, {}))
    adapter._ensure_values("type", adapter._type_ids, {p.product_type for p in pushes})
    adapter._ensure_values("tag", adapter._tag_ids, {t for p in pushes for t in p.tags})
    return [(adapter._create_body(p), [v["id"] for v in docs[pid]["variants"]]) for p, pid in zip(pushes, product_ids)]


# -- the raw paths -----------------------------------------------------------------------------------------------
RAW_FIELDS = "id,handle,variants.id,variants.sku,variants.inventory_items.inventory_item_id,variants.prices.id," \
             "variants.prices.currency_code"


def checked(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        raise RuntimeError(f"{response.request.method} {response.request.url}: HTTP {response.status_code} "
                           f"{response.text[:500]}")
    return response.json()


class RawSet:
    """What the raw path made: per variant (ours), the store's product, variant, inventory item, price id."""

    def __init__(self) -> None:
        self.variants: dict[int, tuple[str, str, str, str]] = {}
        self.calls = 0
        self.products_s = 0.0       # in POST /admin/products/batch
        self.levels_s = 0.0         # in POST /admin/inventory-items/location-levels/batch


def raw_push(http: httpx.Client, bodies: list[tuple[dict[str, Any], list[int]]], stock: dict[tuple[int, int], int],
             location_map: dict[int, str], made: RawSet) -> None:
    for start in range(0, len(bodies), CHUNK):
        chunk = bodies[start:start + CHUNK]
        started = time.perf_counter()
        answer = checked(http.post("/admin/products/batch", params={"fields": RAW_FIELDS},
                                   json={"create": [b for b, _ in chunk], "update": []}))
        made.products_s += time.perf_counter() - started
        made.calls += 1
        by_handle = {p["handle"]: p for p in answer["created"]}
        levels = []
        for body, ours in chunk:
            product = by_handle[body["handle"]]
            by_sku = {v["sku"]: v for v in product["variants"]}
            for sent, variant_id in zip(body["variants"], ours):
                v = by_sku[sent["sku"]]
                item = v["inventory_items"][0]["inventory_item_id"]
                price = next(p["id"] for p in v["prices"] if p["currency_code"] == "eur")
                made.variants[variant_id] = (product["id"], v["id"], item, price)
                for location_id, store_location in location_map.items():
                    levels.append({"inventory_item_id": item, "location_id": store_location,
                                   "stocked_quantity": stock[(variant_id, location_id)]})
        started = time.perf_counter()
        checked(http.post("/admin/inventory-items/location-levels/batch", json={"create": levels, "update": []}))
        made.levels_s += time.perf_counter() - started
        made.calls += 1


def warm_up(http: httpx.Client, body: dict[str, Any], location_ids: list[str]) -> None:
    """A few throwaway products through every endpoint the timed paths use, then deleted: the first path
    timed does not pay for the server's cold start (Node's JIT, Medusa's first workflow runs)."""
    bodies = [dict(body, handle=f"warm-up-{n}", title=f"Warm-up {n}",
                   variants=[dict(v, sku=f"WARM-{n}-{k}") for k, v in enumerate(body["variants"])]) for n in range(10)]
    for _ in range(2):
        created = checked(http.post("/admin/products/batch", params={"fields": RAW_FIELDS},
                                    json={"create": bodies, "update": []}))["created"]
        items = [v["inventory_items"][0]["inventory_item_id"] for p in created for v in p["variants"]]
        checked(http.post("/admin/inventory-items/location-levels/batch", json={"create": [
            {"inventory_item_id": i, "location_id": loc, "stocked_quantity": 5} for i in items for loc in location_ids],
            "update": []}))
        checked(http.get("/admin/products", params={"fields": _PRODUCT_FIELDS, "limit": CHUNK}))
        checked(http.get("/admin/inventory-items", params={"fields": "id,sku,*location_levels", "id[]": items}))
        for p in created[:3]:
            v = p["variants"][0]
            checked(http.post(f"/admin/products/{p['id']}/variants/batch", params={"fields": "id"}, json={"update": [
                {"id": v["id"], "prices": [{"id": v["prices"][0]["id"], "currency_code": "eur", "amount": 9.99}]}]}))
        checked(http.post("/admin/products/batch", json={"create": [], "update": [],
                                                         "delete": [p["id"] for p in created]}))


def raw_pull(http: httpx.Client) -> int:
    rows, offset = 0, 0
    while True:
        body = checked(http.get("/admin/products", params={"fields": _PRODUCT_FIELDS, "order": "updated_at",
                                                           "limit": CHUNK, "offset": offset}))
        page = body["products"]
        rows += len(page)
        offset += len(page)
        if not page or offset >= int(body["count"]):
            return rows


def raw_incremental(http: httpx.Client, made: RawSet, prices: dict[int, Decimal],
                    levels: dict[tuple[int, int], int], location_map: dict[int, str]) -> tuple[float, float]:
    """Price updates grouped by product (one variants batch call each), then the level updates in one call;
    the seconds of each."""
    started = time.perf_counter()
    by_product: dict[str, list[dict[str, Any]]] = {}
    for variant_id, price in prices.items():
        product, store_variant, _, price_id = made.variants[variant_id]
        by_product.setdefault(product, []).append({"id": store_variant, "prices": [
            {"id": price_id, "currency_code": "eur", "amount": float(price)}], "metadata": {"compare_at_price": ""}})
    for product, updates in by_product.items():
        checked(http.post(f"/admin/products/{product}/variants/batch", params={"fields": "id"},
                          json={"update": updates}))
    price_s = time.perf_counter() - started
    started = time.perf_counter()
    update = [{"inventory_item_id": made.variants[v][2], "location_id": location_map[loc], "stocked_quantity": q}
              for (v, loc), q in levels.items()]
    checked(http.post("/admin/inventory-items/location-levels/batch", json={"create": [], "update": update}))
    return price_s, time.perf_counter() - started


# -- reporting -----------------------------------------------------------------------------------------------
def call_figures(db: Database, run_id: int) -> list[tuple[str, str, int, float, float]]:
    """(method, endpoint, calls, mean ms, total s) of one run's API calls, most time first."""
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT method, endpoint, count(*), avg(elapsed_ms), sum(elapsed_ms) / 1000.0 FROM store_api_calls "
            "WHERE run_id = :r GROUP BY method, endpoint ORDER BY 5 DESC"), {"r": run_id}).all()
    return [(m, e, int(c), float(a), float(s)) for m, e, c, a, s in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql",
                        help="The back-office database: a new PostgreSQL database or a temporary SQLite file.")
    parser.add_argument("--url", default=os.environ.get("BACKOFFICE_TEST_DATABASE_URL", DEFAULT_URL),
                        help="PostgreSQL server (for the back-office database and Medusa's).")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="Keep the back-office database (or file) at the end.")
    parser.add_argument("--profile", action="store_true", help="cProfile the app's syncs (top functions printed).")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # the key is given the way a scheduled job on a machine without a keyring gives it (never the OS keyring)
    keyring.set_keyring(keyring.backends.null.Keyring())

    from tests.peers.medusa import server as medusa_peer

    print(f"starting Medusa (PostgreSQL {make_url(args.url).host}) …", flush=True)
    started = time.perf_counter()
    log_dir = Path(tempfile.mkdtemp(prefix="bench_medusa_"))
    medusa = medusa_peer.start(args.url, log_dir=log_dir)
    print(f"  Medusa on {medusa.base_url} in {time.perf_counter() - started:.1f} s (log: {medusa.log_path})",
          flush=True)
    scratch: Scratch | None = None
    failures: list[str] = []
    try:
        scratch = Scratch(args.db, args.url, args.keep)
        db = scratch.db
        print(f"back-office database: {scratch.describe()}", flush=True)
        actor = users.bootstrap_admin(db, "admin", password="bench-password-1")[0]
        ops = LocalOperations(db, actor)
        print(f"set-up: {args.products:,} products", flush=True)
        locations, variant_ids = build_catalog(db, actor, args.products, rng)
        os.environ[key_env(STORE)] = medusa.api_key
        ops.connectors.add("medusa", STORE, medusa.base_url, medusa.api_key,
                           settings={"sales_channel_id": medusa.sales_channel_id})
        ops.connectors.link_location(STORE, "WH1", medusa.location_ids[0])
        ops.connectors.link_location(STORE, "SHOP", medusa.location_ids[1])
        location_map = {locations["WH1"]: medusa.location_ids[0], locations["SHOP"]: medusa.location_ids[1]}
        with db.engine.connect() as conn:
            product_ids = list(conn.execute(text("SELECT id FROM products ORDER BY id")).scalars())
            stock = {(v, loc): q for v, loc, q in conn.execute(text(
                "SELECT variant_id, location_id, on_hand FROM stock_levels WHERE location_id IN (:a, :b)"),
                {"a": locations["WH1"], "b": locations["SHOP"]})}
        n_levels = len(stock)
        helper = MedusaAdapter(medusa.base_url, medusa.api_key, {"sales_channel_id": medusa.sales_channel_id})
        bodies = {name: raw_bodies(db, helper, product_ids, name) for name in ("raw", "raw2")}
        helper.close()

        reports: list[tuple[str, Any, float]] = []
        rows: list[tuple[str, str, float, float | None, int]] = []

        def app_sync(label: str, direction: str) -> tuple[Any, float]:
            settle(db)
            prof = cProfile.Profile() if args.profile else None
            started = time.perf_counter()
            if prof:
                prof.enable()
            report = ops.connectors.sync(STORE, direction=direction)
            seconds = time.perf_counter() - started
            if prof:
                prof.disable()
                print(f"--- profile: {label}", flush=True)
                pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
                pstats.Stats(prof).sort_stats("tottime").print_stats(20)
            print(f"  app: {label:<50}{seconds:9.2f} s ({report.state}, {report.calls} calls, "
                  f"mean {report.mean_ms:.0f} ms)", flush=True)
            reports.append((label, report, seconds))
            if report.error_count or report.state != "ok":
                failures.append(f"{label}: {report.state}, {report.error_count} error(s): {report.errors[:3]}")
            return report, seconds

        made = {"raw": RawSet(), "raw2": RawSet()}
        with httpx.Client(base_url=medusa.base_url, auth=medusa.auth, timeout=120.0) as http:
            started = time.perf_counter()
            warm_up(http, bodies["raw"][0][0], medusa.location_ids)
            print(f"  Medusa warmed up in {time.perf_counter() - started:.1f} s", flush=True)

            # Each raw path runs before and after the app's (on another copy of the catalog: handles and SKUs
            # with "-raw", then "-raw2"); the faster run counts (the machine is shared, and the store grows).
            def raw_push_set(name: str) -> float:
                started = time.perf_counter()
                raw_push(http, bodies[name], stock, location_map, made[name])
                seconds = time.perf_counter() - started
                m = made[name]
                print(f"  raw ({name}): products/batch + location-levels/batch{seconds:26.2f} s ({m.calls} calls: "
                      f"products {m.products_s:.2f} s, levels {m.levels_s:.2f} s)", flush=True)
                return seconds

            # 1. initial push
            print(f"1. initial push: {len(product_ids):,} products, {len(variant_ids):,} variants, "
                  f"{n_levels:,} stock levels; chunks of {CHUNK} products", flush=True)
            raw_before = raw_push_set("raw")
            push, app_s = app_sync("sync(direction='push'), everything", "push")
            raw_after = raw_push_set("raw2")
            if push.products_created != len(product_ids) or push.stock_set != n_levels:
                failures.append(f"initial push: {push.products_created} products created, {push.stock_set} levels set")
            rows.append(("initial push (products)", f"{len(product_ids):,}", app_s, min(raw_before, raw_after),
                         len(product_ids)))

            # 2. pull of the whole store catalog
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM store_cursors WHERE entity = 'pull.products'"))
            print("2. pull: the whole store catalog (the app's products and the two raw copies)", flush=True)

            def raw_pull_timed() -> tuple[int, float]:
                started = time.perf_counter()
                pulled = raw_pull(http)
                seconds = time.perf_counter() - started
                print(f"  raw: GET /admin/products, pages of {CHUNK}{seconds:34.2f} s ({pulled:,} products)",
                      flush=True)
                return pulled, seconds

            pulled, raw_before = raw_pull_timed()
            pull, app_s = app_sync("sync(direction='pull')", "pull")
            _, raw_after = raw_pull_timed()
            if pull.store_products_seen != pulled:
                failures.append(f"pull: the sync saw {pull.store_products_seen} products, the store has {pulled}")
            rows.append(("pull (store products)", f"{pulled:,}", app_s, min(raw_before, raw_after), pulled))

            # 3. incremental: 1 % of prices, 1 % of stock levels
            n_prices = max(1, len(variant_ids) // 100)
            n_stock = max(1, n_levels // 100)
            priced = sorted(rng.sample(variant_ids, n_prices))
            moved = rng.sample(sorted(stock), n_stock)
            result = ops.bulk.apply(BulkOperation(kind="money", field="price", steps=(
                PriceStep("percent", Decimal(7)), PriceStep("round_ending", Decimal("0.99")))),
                Target(variant_ids=tuple(priced)), description="benchmark: 1 % of prices")
            by_location: dict[int, dict[int, int]] = {}
            for v, loc in moved:
                by_location.setdefault(loc, {})[v] = 3
            for loc, changes in by_location.items():
                ops.adjustments.adjust(loc, changes, reason="found", note="benchmark: 1 % of levels")
            with db.engine.connect() as conn:
                new_prices = dict(conn.execute(text("SELECT id, price FROM variants WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)), {"ids": priced}).all())
            new_levels = {(v, loc): stock[(v, loc)] + 3 for v, loc in moved}
            print(f"3. incremental: {len(result.versions):,} prices changed (one changeset), {n_stock:,} levels "
                  f"adjusted", flush=True)

            def raw_incremental_set(name: str) -> float:
                price_s, stock_s = raw_incremental(http, made[name], new_prices, new_levels, location_map)
                calls = len({made[name].variants[v][0] for v in new_prices})
                print(f"  raw ({name}): {calls} variants/batch calls + one location-levels/batch"
                      f"{price_s + stock_s:14.2f} s (prices {price_s:.2f} s, stock {stock_s:.2f} s)", flush=True)
                return price_s + stock_s

            raw_before = raw_incremental_set("raw")
            inc, app_s = app_sync("sync(direction='push'), 1 % changed", "push")
            raw_after = raw_incremental_set("raw2")
            raw_s = min(raw_before, raw_after)
            if inc.prices_pushed != n_prices or inc.stock_set != n_stock or inc.products_planned:
                failures.append(f"incremental: {inc.products_planned} products planned, {inc.prices_pushed} prices, "
                                f"{inc.stock_set} levels (expected 0, {n_prices}, {n_stock})")
            rows.append(("incremental (prices + levels)", f"{n_prices:,} + {n_stock:,}", app_s, raw_s,
                         n_prices + n_stock))
            again, again_s = app_sync("sync(direction='push'), nothing changed", "push")
            sent = again.products_planned + again.prices_planned + again.stock_planned + again.stock_set
            if sent:
                failures.append(f"second push sent something: {again.products_planned} products, "
                                f"{again.prices_planned} prices, {again.stock_planned} levels")
            rows.append(("push again, nothing changed", "0", again_s, None, 0))

        # the table
        print()
        print(f"{'step':<32}{'items':>14}{'app s':>10}{'raw s':>10}{'app/raw':>9}{'app items/s':>13}"
              f"{'raw items/s':>13}")
        for step, items, app_s, raw_s, count in rows:
            ratio = f"{app_s / raw_s:.2f}x" if raw_s else "-"
            print(f"{step:<32}{items:>14}{app_s:>10.2f}{(f'{raw_s:.2f}' if raw_s else '-'):>10}{ratio:>9}"
                  f"{(f'{count / app_s:,.0f}' if count else '-'):>13}"
                  f"{(f'{count / raw_s:,.0f}' if raw_s and count else '-'):>13}")
        print()
        print("API calls of each sync (time in calls: the sum of the calls' response times; the rest is the "
              "back-office side):")
        for label, report, seconds in reports:
            figures = call_figures(db, report.run_id)
            in_calls = sum(f[4] for f in figures)
            print(f"  {label}: {report.calls} calls, mean {report.mean_ms:.1f} ms, {in_calls:.2f} s in calls of "
                  f"{seconds:.2f} s; products created {report.products_created}, planned {report.products_planned}, "
                  f"prices {report.prices_pushed}, stock set {report.stock_set} of {report.stock_planned}, "
                  f"store products seen {report.store_products_seen}, variants linked {report.variants_linked}, "
                  f"catalog drift {report.catalog_drift}, errors {report.error_count}")
            for method, endpoint, count, mean, total in figures:
                print(f"      {method:<5}{endpoint:<52}{count:>6} calls {mean:>9.1f} ms {total:>8.2f} s")
        print()
        print("errors: " + ("; ".join(failures) if failures else "none"), flush=True)
    finally:
        if scratch is not None:
            scratch.close()
        medusa.stop()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
