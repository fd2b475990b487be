"""Orders on the demo store: reserving new orders and shipping them, the app against raw SQL of the same shape.

On a private copy of the demo store (scratch.py: ``bench_store_<products>_<seed>`` copied as a template,
dropped at the end), ``--orders`` new orders of 1-3 lines (1 or 2 units each) are written in bulk as the store
writes them, once per path, over two disjoint sets of well-stocked variants (so both paths find the same
situation); each set is written just before its path reserves it:

1. reserve: ``orders.process_orders`` (batches of ``--batch``: lock the new orders FOR UPDATE SKIP LOCKED,
   their lines, lock their levels, allocate, insert reservations, add to ``reserved``, update the orders,
   one audit row per order) against psycopg doing the same per batch with one statement per step;
2. fulfil: ``orders.fulfil_many`` per location (``backoffice orders fulfil --all-reserved --location``),
   one transaction per (order, location holding its reservations): lock the order, a stock operation with
   its moves, on hand and reserved down, the reservations released, a shipment with its lines, lines and
   order updated, audit rows — against psycopg doing the same statements per (order, location), in
   shipments/s. The app's last 5 % of orders are shipped one by one with ``orders.fulfil`` (which also
   returns the whole order as the order view shows it), reported on its own. ``--fulfil`` orders of each
   set are shipped (default all).

Prints orders/s for both paths and app/raw (target >= 0.5x), then checks that reserved equals the sum of
open reservations and on hand equals the ledger for the touched variants.

    python benchmarks/orders.py [--url URL] [--products 100000] [--orders 100000] [--fulfil N] [--batch 500]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg  # noqa: E402
from scratch import scratch_store, settle  # noqa: E402
from sqlalchemy import text  # noqa: E402

from backoffice.db import Database  # noqa: E402
from backoffice.services import orders  # noqa: E402
from backoffice.services.users import ensure_user  # noqa: E402


def pick_variants(db: Database, wanted: int) -> tuple[list[int], list[int]]:
    """Two disjoint sets of variants with at least 40 units available at the stocked locations."""
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.variant_id FROM stock_levels s JOIN locations l ON l.id = s.location_id "
            "WHERE l.kind IN ('warehouse', 'store') AND l.active GROUP BY s.variant_id "
            "HAVING sum(s.on_hand - s.reserved) >= 40 ORDER BY s.variant_id LIMIT :n"), {"n": 2 * wanted}).scalars().all()
    return rows[0::2], rows[1::2]


def write_orders(db: Database, prefix: str, variants: list[int], n: int) -> None:
    """``n`` new orders of 1-3 lines, written by the server in two statements (as a store's bulk import)."""
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO orders (number, ordered_at, status, currency, total, state, channel) "
            "SELECT :p || g, now(), 'paid', 'EUR', 10, 'new', CASE WHEN g % 10 = 0 THEN 'pos' ELSE 'web' END "
            "FROM generate_series(1, :n) AS g"), {"p": prefix, "n": n})
        conn.execute(text(
            "INSERT INTO order_lines (order_id, variant_id, quantity, unit_price, discount, fulfilled, cancelled, returned) "
            "SELECT o.id, (CAST(:v AS bigint[]))[1 + (hashint8(o.id * 3 + k) & 2147483647) % cardinality(CAST(:v AS bigint[]))], "
            "       1 + (o.id + k) % 2, 5, 0, 0, 0, 0 "
            "FROM orders o CROSS JOIN generate_series(0, 2) AS k "
            "WHERE o.number LIKE :like AND k <= o.id % 3 ORDER BY o.id, k"), {"v": variants, "like": prefix + "%"})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # the path before left dead index entries (orders no longer new, reservations taken): vacuumed, so
        # neither path scans past the other's leftovers
        conn.exec_driver_sql("VACUUM ANALYZE orders, order_lines, order_reservations, stock_levels")


# -- raw SQL of the same shape ------------------------------------------------------------------------------
def raw_process(dsn: str, user_id: int, batch: int) -> int:
    """What process_orders does per batch, as plain statements: returns the orders reserved."""
    done = 0
    with psycopg.connect(dsn) as conn:
        stocked = [r[0] for r in conn.execute("SELECT id FROM locations WHERE kind IN ('warehouse', 'store') AND active")]
        while True:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT id FROM orders WHERE state = 'new' ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
                            (batch,))
                ids = [r[0] for r in cur.fetchall()]
                if not ids:
                    return done
                cur.execute("SELECT id, order_id, variant_id, quantity - fulfilled - cancelled FROM order_lines "
                            "WHERE order_id = ANY(%s) ORDER BY id", (ids,))
                lines = cur.fetchall()
                cur.execute("SELECT variant_id, location_id, on_hand, reserved FROM stock_levels WHERE variant_id = ANY(%s) "
                            "ORDER BY variant_id, location_id FOR UPDATE", (sorted({ln[2] for ln in lines}),))
                levels = {(v, loc): oh - r for v, loc, oh, r in cur.fetchall() if loc in stocked}
                by_variant: dict[int, list[int]] = defaultdict(list)
                for v, loc in levels:
                    by_variant[v].append(loc)
                res_line, res_var, res_loc, res_q = [], [], [], []
                deltas: dict[tuple[int, int], int] = defaultdict(int)
                for lid, _oid, v, need in lines:       # most available first, split
                    for loc in sorted(by_variant[v], key=lambda x: -levels[(v, x)]):
                        q = min(need, max(0, levels[(v, loc)]))
                        if q:
                            levels[(v, loc)] -= q
                            deltas[(v, loc)] += q
                            res_line.append(lid), res_var.append(v), res_loc.append(loc), res_q.append(q)
                            need -= q
                        if not need:
                            break
                cur.execute("INSERT INTO order_reservations (order_line_id, location_id, variant_id, quantity, created_at) "
                            "SELECT * , now() FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::int[]) "
                            "ON CONFLICT (order_line_id, location_id) DO UPDATE "
                            "SET quantity = order_reservations.quantity + excluded.quantity",
                            (res_line, res_loc, res_var, res_q))
                keys = sorted(deltas)
                cur.execute("UPDATE stock_levels s SET reserved = s.reserved + c.d, version = s.version + 1, updated_at = now() "
                            "FROM unnest(%s::bigint[], %s::bigint[], %s::int[]) AS c(v, l, d) "
                            "WHERE s.variant_id = c.v AND s.location_id = c.l",
                            ([k[0] for k in keys], [k[1] for k in keys], [deltas[k] for k in keys]))
                notes = ["Allocation: the locations with the most available first." for _ in ids]
                cur.execute("UPDATE orders o SET state = 'allocated', allocation_note = c.note, "
                            "processed_at = coalesce(o.processed_at, now()), version = o.version + 1 "
                            "FROM unnest(%s::bigint[], %s::text[]) AS c(id, note) WHERE o.id = c.id", (ids, notes))
                cur.execute("INSERT INTO audit_log (at, user_id, username, entity, entity_id, action, operation_id, before, after) "
                            "SELECT now(), %s, 'bench', 'order', c.id::text, 'reserve', NULL, %s::jsonb, c.after::jsonb "
                            "FROM unnest(%s::bigint[], %s::text[]) AS c(id, after)",
                            (user_id, json.dumps({"state": "new"}), ids,
                             [json.dumps({"state": "allocated", "allocation": [], "waiting": 0}) for _ in ids]))
                done += len(ids)


def shipments_of(dsn: str, prefix: str, limit: int) -> list[tuple[int, int]]:
    """(order id, location id) for every location holding reservations of the first ``limit`` orders."""
    with psycopg.connect(dsn) as conn:
        return [tuple(r) for r in conn.execute(
            "SELECT DISTINCT ol.order_id, r.location_id FROM order_reservations r "
            "JOIN order_lines ol ON ol.id = r.order_line_id "
            "WHERE ol.order_id IN (SELECT id FROM orders WHERE number LIKE %s ORDER BY id LIMIT %s) "
            "ORDER BY 1, 2", (prefix + "%", limit))]


def raw_fulfil(dsn: str, pairs: list[tuple[int, int]], user_id: int, customer: int) -> None:
    """What fulfil does for one order at one location, as plain statements, one transaction per pair."""
    with psycopg.connect(dsn) as conn:
        for order_id, loc in pairs:
            op_id = f"raw-ship-{uuid.uuid4().hex}"
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT id, state FROM orders WHERE id = %s FOR UPDATE", (order_id,))
                cur.execute("SELECT ol.id, ol.variant_id, ol.quantity, ol.fulfilled, ol.cancelled, r.location_id, r.quantity "
                            "FROM order_lines ol LEFT JOIN order_reservations r ON r.order_line_id = ol.id "
                            "WHERE ol.order_id = %s ORDER BY ol.id", (order_id,))
                rows = cur.fetchall()
                ship = [(lid, v, rq) for lid, v, _q, _f, _c, rloc, rq in rows if rloc == loc]
                cur.execute("SELECT id, on_hand, reserved FROM stock_levels WHERE variant_id = ANY(%s) AND location_id = %s "
                            "ORDER BY variant_id FOR UPDATE", (sorted({v for _, v, _ in ship}), loc))
                cur.fetchall()
                cur.execute("INSERT INTO stock_operations (operation_id, reason, document, note, user_id, created_at) "
                            "VALUES (%s, 'sale', '', '', %s, now()) RETURNING id", (op_id, user_id))
                op_pk = cur.fetchone()[0]
                vs, qs = [v for _, v, _ in ship], [q for _, _, q in ship]
                cur.execute("INSERT INTO stock_moves (operation_pk, variant_id, from_location_id, to_location_id, quantity) "
                            "SELECT %s, v, %s, %s, q FROM unnest(%s::bigint[], %s::int[]) AS c(v, q)",
                            (op_pk, loc, customer, vs, qs))
                cur.execute("UPDATE stock_levels s SET on_hand = s.on_hand - c.q, reserved = s.reserved - c.q, "
                            "version = s.version + 1, updated_at = now() FROM (SELECT v, sum(q) AS q FROM "
                            "unnest(%s::bigint[], %s::int[]) AS c(v, q) GROUP BY v) AS c "
                            "WHERE s.variant_id = c.v AND s.location_id = %s", (vs, qs, loc))
                cur.execute("DELETE FROM order_reservations WHERE order_line_id = ANY(%s) AND location_id = %s",
                            ([lid for lid, _, _ in ship], loc))
                cur.execute("INSERT INTO shipments (number, order_id, location_id, carrier, tracking, operation_id, user_id, "
                            "shipped_at) VALUES (%s, %s, %s, '', '', %s, %s, now()) RETURNING id",
                            (op_id[:40], order_id, loc, op_id, user_id))
                sid = cur.fetchone()[0]
                cur.execute("INSERT INTO shipment_lines (shipment_id, order_line_id, quantity) "
                            "SELECT %s, l, q FROM unnest(%s::bigint[], %s::int[]) AS c(l, q)",
                            (sid, [lid for lid, _, _ in ship], qs))
                cur.execute("UPDATE order_lines ol SET fulfilled = ol.fulfilled + c.q FROM unnest(%s::bigint[], %s::int[]) "
                            "AS c(l, q) WHERE ol.id = c.l", ([lid for lid, _, _ in ship], qs))
                left = sum(q - f - c for _, _, q, f, c, _, _ in rows) - sum(qs)
                cur.execute("UPDATE orders SET state = %s, version = version + 1 WHERE id = %s",
                            ("fulfilled" if left == 0 else "partially_fulfilled", order_id))
                cur.execute("INSERT INTO audit_log (at, user_id, username, entity, entity_id, action, operation_id, before, after) "
                            "VALUES (now(), %s, 'bench', 'stock_operation', %s, 'post', %s, '{}'::jsonb, %s::jsonb), "
                            "(now(), %s, 'bench', 'order', %s, 'fulfil', %s, '{}'::jsonb, %s::jsonb)",
                            (user_id, str(op_pk), op_id, json.dumps({"reason": "sale", "lines": len(ship)}),
                             user_id, str(order_id), op_id, json.dumps({"shipment": sid, "units": sum(qs)})))


def app_fulfil(db: Database, actor, pairs: list[tuple[int, int]]) -> None:  # type: ignore[no-untyped-def]
    """``orders.fulfil_many`` per location (what ``orders fulfil --all-reserved --location`` runs): one
    transaction per order, as many as the raw path's."""
    by_location: dict[int, list[int]] = defaultdict(list)
    for order_id, loc in pairs:
        by_location[loc].append(order_id)
    for loc, ids in sorted(by_location.items()):
        result = orders.fulfil_many(db, actor, location_id=loc, order_ids=ids, operation_id=f"app-{uuid.uuid4().hex[:20]}")
        assert result.shipped == len(ids) and not result.failed, result


def app_fulfil_one_by_one(db: Database, actor, pairs: list[tuple[int, int]]) -> None:  # type: ignore[no-untyped-def]
    """``orders.fulfil`` per (order, location), each returning the order as the order view shows it."""
    for order_id, loc in pairs:
        orders.fulfil(db, actor, order_id, location_id=loc, operation_id=f"app-ship-{uuid.uuid4().hex}")


def check(db: Database) -> list[str]:
    found = []
    with db.engine.connect() as conn:
        bad = conn.execute(text(
            "WITH r AS (SELECT variant_id, location_id, sum(quantity) AS q FROM order_reservations GROUP BY 1, 2) "
            "SELECT count(*) FROM stock_levels s LEFT JOIN r USING (variant_id, location_id) "
            "WHERE s.reserved <> coalesce(r.q, 0)")).scalar_one()
        if bad:
            found.append(f"{bad} level(s) whose reserved differs from the reservations")
        negative = conn.execute(text("SELECT count(*) FROM stock_levels WHERE on_hand < 0 OR reserved < 0")).scalar_one()
        if negative:
            found.append(f"{negative} negative level(s)")
        ledger = conn.execute(text(
            "WITH touched AS (SELECT DISTINCT variant_id FROM order_lines ol JOIN orders o ON o.id = ol.order_id "
            "                 WHERE o.number LIKE 'BENCH-%'), "
            "f AS (SELECT m.variant_id AS v, m.to_location_id AS loc, m.quantity AS q FROM stock_moves m JOIN touched t "
            "      ON t.variant_id = m.variant_id UNION ALL SELECT m.variant_id, m.from_location_id, -m.quantity "
            "      FROM stock_moves m JOIN touched t ON t.variant_id = m.variant_id), "
            "l AS (SELECT v, loc, sum(q) AS q FROM f GROUP BY 1, 2) "
            "SELECT count(*) FROM stock_levels s JOIN touched t ON t.variant_id = s.variant_id "
            "LEFT JOIN l ON l.v = s.variant_id AND l.loc = s.location_id WHERE s.on_hand <> coalesce(l.q, 0)")).scalar_one()
        if ledger:
            found.append(f"{ledger} level(s) differ from the ledger")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--products", type=int, default=100_000, help="Size of the demo store to copy.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--orders", type=int, default=100_000, help="New orders per path.")
    parser.add_argument("--fulfil", type=int, default=None, help="Orders of each path to ship (default: all).")
    parser.add_argument("--batch", type=int, default=orders.BATCH, help="Orders per processing transaction.")
    parser.add_argument("--profile", action="store_true", help="cProfile the app paths (top functions printed).")
    args = parser.parse_args()
    n, to_ship = args.orders, args.orders if args.fulfil is None else min(args.fulfil, args.orders)

    with scratch_store(args.url, args.products, args.seed) as db:
        actor = ensure_user(db, "bench")
        dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with db.engine.connect() as conn:
            customer = conn.execute(text("SELECT id FROM locations WHERE kind = 'customer' AND active ORDER BY code LIMIT 1")).scalar_one()
        app_variants, raw_variants = pick_variants(db, max(1000, n // 2))
        print(f"{n:,} new orders per path over {len(app_variants):,} + {len(raw_variants):,} variants", flush=True)

        def written(prefix: str, variants: list[int]) -> None:
            write_orders(db, prefix, variants, n)
            with db.engine.connect() as conn:
                units = conn.execute(text("SELECT count(*), sum(quantity) FROM order_lines ol JOIN orders o "
                                          "ON o.id = ol.order_id WHERE o.number LIKE :p"), {"p": prefix + "%"}).one()
            print(f"  {prefix}: {n:,} new orders written, {units[0]:,} lines, {units[1]:,} units", flush=True)

        def profiled(label: str, fn, *a, **kw):  # type: ignore[no-untyped-def]
            settle(db)
            prof = cProfile.Profile() if args.profile else None
            started = time.perf_counter()
            if prof:
                prof.enable()
            result = fn(*a, **kw)
            seconds = time.perf_counter() - started
            if prof:
                prof.disable()
                pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
            print(f"  {label:<52}{seconds:9.2f} s", flush=True)
            return result, seconds

        print("reserve (each path's orders written just before it runs: the only new orders then)", flush=True)
        written("BENCH-R-", raw_variants)
        raw_done, raw_s = profiled("raw SQL, same shape", raw_process, dsn, actor.user_id, args.batch)
        written("BENCH-A-", app_variants)
        app_result, app_s = profiled("app: orders.process_orders", orders.process_orders, db, actor, batch=args.batch,
                                     retry_waiting=False)
        assert raw_done == n and app_result.orders == n, (raw_done, app_result)
        reserve = (n / app_s, n / raw_s)
        print(f"  app {reserve[0]:,.0f} orders/s, raw {reserve[1]:,.0f} orders/s, app/raw {reserve[0] / reserve[1]:.2f}x "
              f"(target >= 0.5x); app waiting units: {app_result.waiting_units:,}", flush=True)

        app_pairs, raw_pairs = shipments_of(dsn, "BENCH-A-", to_ship), shipments_of(dsn, "BENCH-R-", to_ship)
        # the app's last orders go through orders.fulfil one by one (the order view's path), the rest in bulk
        single = app_pairs[-max(1, len(app_pairs) // 20):]
        single_orders = {o for o, _ in single}
        bulk = [p for p in app_pairs if p[0] not in single_orders]
        print(f"fulfil ({to_ship:,} orders per path: {len(app_pairs):,} and {len(raw_pairs):,} shipments; of the app's, "
              f"{len(single):,} one by one)", flush=True)
        _, raw_fs = profiled("raw SQL, same shape", raw_fulfil, dsn, raw_pairs, actor.user_id, customer)
        _, app_fs = profiled("app: orders.fulfil_many per location", app_fulfil, db, actor, bulk)
        _, one_fs = profiled("app: orders.fulfil, one order at a time", app_fulfil_one_by_one, db, actor, single)
        raw_rate = len(raw_pairs) / raw_fs
        for label, count, seconds in (("fulfil_many", len(bulk), app_fs), ("fulfil one by one", len(single), one_fs)):
            rate = count / seconds
            print(f"  {label}: app {rate:,.0f} shipments/s, raw {raw_rate:,.0f} shipments/s, app/raw {rate / raw_rate:.2f}x"
                  + (" (target >= 0.5x)" if label == "fulfil_many" else " (returns the whole order each time)"), flush=True)
        found = check(db)
        print("anomalies: " + (", ".join(found) if found else "0"), flush=True)


if __name__ == "__main__":
    main()
