"""Concurrent stock transfers on PostgreSQL: the app's path against raw SQL of the same shape.

16 workers (threads, one connection each) post transfers between 5 locations over 20 SKUs with plenty of
stock, first through the app and then as raw statements of the same shape, in the same run:

- app, ledger post: ``inventory.post_moves`` (operation id, lock levels in order, check, update, ledger,
  audit) — the step every transfer, receipt and adjustment goes through;
- app, documents: ``transfers.create_transfer`` + ``ship_transfer`` + ``receive_transfer`` (three
  transactions per transfer: draft, ship into transit, receive);
- raw: BEGIN; INSERT the operation id ON CONFLICT DO NOTHING; SELECT the two level rows FOR UPDATE in
  (variant, location) order; check; two UPDATEs; INSERT the ledger line; INSERT an audit row; COMMIT.

Prints transfers/s for each and the ratio app/raw (target for the ledger post: >= 0.5x), then checks for
anomalies: negative on-hand, on-hand != ledger sum, total not conserved, an operation id twice.

    python benchmarks/transfers.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from sqlalchemy import create_engine, func, make_url, select, text  # noqa: E402

from backoffice import migrations  # noqa: E402
from backoffice.db import Database  # noqa: E402
from backoffice.models import StockLevel, StockOperation  # noqa: E402
from backoffice.services import catalog, inventory, transfers  # noqa: E402
from backoffice.services.inventory import InsufficientStock, MoveLine  # noqa: E402
from backoffice.services.users import ensure_user  # noqa: E402

WORKERS, SKUS, LOCATIONS, STOCK_EACH = 16, 20, 5, 100_000


def fresh_database(url: str, name: str) -> Database:
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db = Database(make_url(url).set(drivername="postgresql+psycopg", database=name))
    migrations.upgrade(db)
    return db


def setup(db: Database) -> tuple[list[int], list[int], list]:
    admin = ensure_user(db, "bench")
    product = catalog.create_product(db, admin, values={"handle": "bench", "title": "Bench"},
                                     variants=[{"sku": f"B-{i:02d}", "price": "1.00"} for i in range(SKUS)])
    variants = [c.entity_id for c in product.children]
    places = [inventory.create_location(db, admin, code=f"L{i}", name=f"Location {i}", kind="warehouse").entity_id
              for i in range(LOCATIONS)]
    sup = inventory.create_location(db, admin, code="SUP", name="Suppliers", kind="supplier").entity_id
    inventory.post_moves(db, admin, operation_id="opening", reason="opening_balance",
                         lines=[MoveLine(v, sup, loc, STOCK_EACH) for v in variants for loc in places])
    staff = [ensure_user(db, f"clerk{i}", role="warehouse") for i in range(WORKERS)]
    return variants, places, staff


def run_workers(seconds: float, work) -> tuple[int, int, list[str]]:  # type: ignore[no-untyped-def]
    done, refused, errors = [0] * WORKERS, [0] * WORKERS, []
    stop = time.perf_counter() + seconds

    def loop(i: int) -> None:
        rnd = random.Random(i)
        while time.perf_counter() < stop:
            try:
                work(i, rnd)
                done[i] += 1
            except InsufficientStock:
                refused[i] += 1
            except Exception as exc:  # noqa: BLE001 - reported as an anomaly
                errors.append(repr(exc)[:200])

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done), sum(refused), errors


def raw_worker_factory(dsn: str, variants: list[int], places: list[int], user_ids: list[int]):  # type: ignore[no-untyped-def]
    conns: dict[int, psycopg.Connection] = {}

    def work(i: int, rnd: random.Random) -> None:
        conn = conns.get(i) or conns.setdefault(i, psycopg.connect(dsn))
        v = rnd.choice(variants)
        a, b = rnd.sample(places, 2)
        q = rnd.randint(1, 4)
        op_id = f"raw-{i}-{uuid.uuid4().hex[:16]}"
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("INSERT INTO stock_operations (operation_id, reason, document, note, user_id, created_at) "
                        "VALUES (%s, 'transfer', '', '', %s, now()) ON CONFLICT (operation_id) DO NOTHING RETURNING id",
                        (op_id, user_ids[i]))
            op_pk = cur.fetchone()[0]
            cur.execute("SELECT id, location_id, on_hand FROM stock_levels WHERE variant_id = %s AND location_id = ANY(%s) "
                        "ORDER BY variant_id, location_id FOR UPDATE", (v, [a, b]))
            rows = {loc: (lid, oh) for lid, loc, oh in cur.fetchall()}
            if rows[a][1] < q:
                raise InsufficientStock([])
            cur.execute("UPDATE stock_levels SET on_hand = on_hand - %s, version = version + 1, updated_at = now() "
                        "WHERE id = %s", (q, rows[a][0]))
            cur.execute("UPDATE stock_levels SET on_hand = on_hand + %s, version = version + 1, updated_at = now() "
                        "WHERE id = %s", (q, rows[b][0]))
            cur.execute("INSERT INTO stock_moves (operation_pk, variant_id, from_location_id, to_location_id, quantity) "
                        "VALUES (%s, %s, %s, %s, %s)", (op_pk, v, a, b, q))
            cur.execute("INSERT INTO audit_log (at, user_id, username, entity, entity_id, action, operation_id, before, after) "
                        "VALUES (now(), %s, 'raw', 'stock_operation', %s, 'post', %s, %s, %s)",
                        (user_ids[i], str(op_pk), op_id, json.dumps({"levels": []}), json.dumps({"lines": []})))
    return work, conns


def anomalies(db: Database, expected_total: int) -> list[str]:
    found = []
    with db.read() as s:
        if s.scalar(select(func.count()).select_from(StockLevel).where(StockLevel.on_hand < 0)):
            found.append("negative on-hand")
        total = s.scalar(select(func.sum(StockLevel.on_hand)))
        if total != expected_total:
            found.append(f"total {total} != {expected_total}")
        if s.scalar(select(func.count()).select_from(StockOperation)) != s.scalar(
                select(func.count(func.distinct(StockOperation.operation_id)))):
            found.append("an operation id posted twice")
    mismatches = inventory.ledger_mismatches(db)
    if mismatches:
        found.append(f"{len(mismatches)} level(s) differ from the ledger")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seconds", type=float, default=20.0, help="Length of each timed run.")
    args = parser.parse_args()
    db = fresh_database(args.url, "bench_transfers")
    variants, places, staff = setup(db)
    expected = SKUS * LOCATIONS * STOCK_EACH
    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    print(f"{WORKERS} workers, {SKUS} SKUs x {LOCATIONS} locations, {args.seconds:.0f} s per run", flush=True)

    def app_post(i: int, rnd: random.Random) -> None:
        v = rnd.choice(variants)
        a, b = rnd.sample(places, 2)
        inventory.post_moves(db, staff[i], operation_id=f"app-{i}-{uuid.uuid4().hex[:16]}", reason="transfer",
                             lines=[MoveLine(v, a, b, rnd.randint(1, 4))])

    def app_document(i: int, rnd: random.Random) -> None:
        v = rnd.choice(variants)
        a, b = rnd.sample(places, 2)
        q = rnd.randint(1, 4)
        t = transfers.create_transfer(db, staff[i], source_location_id=a, destination_location_id=b, lines=[(v, q)])
        op_id = f"doc-{i}-{uuid.uuid4().hex[:16]}"
        transfers.ship_transfer(db, staff[i], t.id, operation_id=op_id)
        transfers.receive_transfer(db, staff[i], t.id, quantities={v: q}, operation_id=op_id + "-r")

    raw_work, conns = raw_worker_factory(dsn, variants, places, [s.user_id for s in staff])
    results = {}
    for label, work in (("raw SQL, same shape", raw_work), ("app: inventory.post_moves", app_post),
                        ("app: transfer document (create+ship+receive)", app_document)):
        done, refused, errors = run_workers(args.seconds, work)
        rate = done / args.seconds
        results[label] = rate
        print(f"  {label:<48}{rate:9.1f} transfers/s  ({done:,} posted, {refused:,} refused, {len(errors)} errors)",
              flush=True)
        for e in errors[:3]:
            print(f"    error: {e}")
    for c in conns.values():
        c.close()
    raw = results["raw SQL, same shape"]
    post = results["app: inventory.post_moves"]
    doc = results["app: transfer document (create+ship+receive)"]
    print(f"ratio app/raw, ledger post:   {post / raw:.2f}x  (target >= 0.5x)")
    print(f"ratio app/raw, whole document (3 transactions vs 1): {doc / raw:.2f}x; "
          f"per stock-moving step (ship, receive): {2 * doc / raw:.2f}x")
    found = anomalies(db, expected)
    print("anomalies: " + (", ".join(found) if found else "0"))
    db.dispose()


if __name__ == "__main__":
    main()
