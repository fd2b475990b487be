"""Replenishment suggestions on a demo store: the app's path against the raw reads it is made of.

On a demo store (an SQLite file or a PostgreSQL database filled with ``backoffice demo``), in the same
run:

- app: ``replenishment.suggest`` (demand over the window, levels, transfers in transit, open purchase
  orders, preferred supplier items, the arithmetic, surplus notes, the Suggestion rows);
- raw: the same data read with one statement each and nothing computed: the window's sales grouped by
  variant and day, every stock level, the open purchase-order lines, the supplier items.

Prints the seconds of each, the suggestions found and the ratio app/raw.

    python benchmarks/replenishment.py --url sqlite:////tmp/podemo3/store.sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from backoffice.db import Database  # noqa: E402
from backoffice.services import replenishment  # noqa: E402


def raw_reads(db: Database, days: int) -> int:
    since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
    day = "date(o.ordered_at)" if db.is_sqlite else "(o.ordered_at AT TIME ZONE 'UTC')::date"
    statements = [
        (f"SELECT l.variant_id, {day}, sum(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id "
         f"WHERE o.ordered_at >= :since AND o.status <> 'cancelled' GROUP BY l.variant_id, {day}", {"since": since}),
        ("SELECT variant_id, location_id, on_hand, reserved, reorder_point, order_up_to FROM stock_levels", {}),
        ("SELECT l.variant_id, o.destination_location_id, sum(l.quantity - l.received) FROM purchase_order_lines l "
         "JOIN purchase_orders o ON o.id = l.order_id WHERE o.state IN ('draft', 'sent', 'partial') "
         "GROUP BY l.variant_id, o.destination_location_id", {}),
        ("SELECT i.variant_id, i.id, i.supplier_id, i.unit_cost, i.min_order_qty, i.pack_size, i.lead_time_days, "
         "s.lead_time_days FROM supplier_items i JOIN suppliers s ON s.id = i.supplier_id", {}),
    ]
    rows = 0
    with db.engine.connect() as conn:
        for sql, params in statements:
            rows += len(conn.execute(text(sql), params).all())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="A demo store (backoffice demo --products N).")
    args = parser.parse_args()
    db = Database(args.url)
    window = replenishment.get_settings(db).window_days
    raw_reads(db, window)                      # warm the caches for both
    started = time.perf_counter()
    raw_rows = raw_reads(db, window)
    raw_s = time.perf_counter() - started
    started = time.perf_counter()
    found = replenishment.suggest(db)
    app_s = time.perf_counter() - started
    print(f"raw reads: {raw_rows:,} rows in {raw_s:.2f} s")
    print(f"app suggest: {len(found):,} suggestions in {app_s:.2f} s")
    print(f"ratio app/raw: {app_s / raw_s:.1f}x")
    db.dispose()


if __name__ == "__main__":
    main()
