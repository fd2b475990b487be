"""Benchmark: reports on the 100k-product demo store (2 years of sales, about 1M order lines) on
PostgreSQL, against hand-written SQL and raw library writes in the same run.

    python benchmarks/reports.py [--url URL] [--products 100000] [--repeat 3] [--rows N] [--skip-export]

1. Monthly sales by category. App: ``backoffice.reports.runner.run`` of a definition grouped by
   month and category (revenue, distinct orders, units; paid orders), compiled to SQLAlchemy Core and
   read into a DataFrame. Raw: the same aggregate written by hand, run with psycopg and fetched.
   Target: app/raw ≤ 1.5x (medians of --repeat).
2. Export of every order line (about 1M rows, 6 columns). CSV — app: ``export_report(…, "csv")``
   (streamed from a server-side cursor, formula neutralisation, written beside the target and renamed);
   raw: ``COPY (SELECT …) TO STDOUT WITH CSV`` of the same rows written to a file. Target ≤ 1.3x.
   XLSX — app: ``export_report(…, "xlsx")`` (styled header, formats, money read as Decimal rounded to
   the currency and written with a currency format, autofilter, totals, print setup, parameters sheet,
   the file given the user's umask and renamed into place); raw: the same SELECT through a server-side cursor written with xlsxwriter constant_memory,
   one write call per cell. Target ≤ 1.2x. Peak memory: the growth of the process's resident size
   while each export runs, sampled every 20 ms (flat: it does not grow with the row count).

The shared demo store (common.py) is migrated in place when it is older than this version.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
from pathlib import Path

import psycopg
from common import DEFAULT_URL, demo_store, timed
from sqlalchemy import create_engine, make_url, text

from backoffice import migrations
from backoffice.db import Database
from backoffice.reports.definition import Column, Filter, GroupBy, ReportDefinition
from backoffice.reports.exporters import export_report
from backoffice.reports.runner import run

RAW_MONTHLY = """
SELECT CAST(date_trunc('month', timezone('UTC', o.ordered_at)) AS date) AS month,
       coalesce(c.name, '(none)') AS category,
       coalesce(sum(ol.quantity * ol.unit_price - ol.discount), 0) AS revenue,
       count(DISTINCT ol.order_id) AS orders,
       coalesce(sum(ol.quantity), 0) AS units
FROM order_lines ol
JOIN orders o ON o.id = ol.order_id
JOIN variants v ON v.id = ol.variant_id
JOIN products p ON p.id = v.product_id
LEFT JOIN categories c ON c.id = p.category_id
WHERE o.status = 'paid'
GROUP BY 1, 2
ORDER BY 1, 2
"""

RAW_LINES = """
SELECT o.number, o.ordered_at, v.sku, ol.quantity, ol.unit_price, ol.quantity * ol.unit_price - ol.discount
FROM order_lines ol JOIN orders o ON o.id = ol.order_id JOIN variants v ON v.id = ol.variant_id {limit}
"""

MONTHLY = ReportDefinition(
    name="monthly-by-category", source="sales_lines",
    group_by=[GroupBy("ordered_at", "month"), GroupBy("category")],
    columns=[Column("revenue", "sum"), Column("order_id", "count_distinct"), Column("quantity", "sum")],
    filters=[Filter("order_status", "eq", "paid")])


def lines_report(rows: int | None) -> ReportDefinition:
    return ReportDefinition(name="order-lines", source="sales_lines", limit=rows,
                            columns=[Column("order_number"), Column("ordered_at"), Column("sku"),
                                     Column("quantity"), Column("unit_price"), Column("revenue")])


class PeakRss:
    """The highest resident set size seen while the block runs, minus the size when it started."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = self.start = 0
        self._stop = threading.Event()

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self.page

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> PeakRss:
        self.start = self.peak = self._rss()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1e6


def ensure_current(url: str, products: int, seed: int) -> None:
    name = f"bench_store_{products}_{seed}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    admin.dispose()
    if exists:
        db = Database(make_url(url).set(drivername="postgresql+psycopg", database=name))
        if db.has_table("alembic_version") and migrations.current_revision(db) != migrations.head_revision():
            before, after = migrations.upgrade(db)
            print(f"migrated {name} from {before} to {after}")
        db.dispose()


def raw_dsn(db: Database) -> str:
    return db.url.set(drivername="postgresql").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=None, help="export at most this many rows (default: all)")
    parser.add_argument("--skip-export", action="store_true")
    args = parser.parse_args()
    ensure_current(args.url, args.products, args.seed)
    db = demo_store(args.url, args.products, args.seed)
    dsn = raw_dsn(db)
    with db.engine.connect() as c:
        lines = c.scalar(text("SELECT count(*) FROM order_lines"))
    print(f"store: {db.display_url()}, {lines:,} order lines")

    print("\n1. monthly sales by category")
    app_t, raw_t = [], []
    for i in range(args.repeat):
        result, s = timed(f"app: report runner (run {i + 1})", run, db, MONTHLY)
        app_t.append(s)

        def raw() -> list:
            with psycopg.connect(dsn) as conn:
                return conn.execute(RAW_MONTHLY).fetchall()

        rows, s = timed(f"raw: hand-written SQL (run {i + 1})", raw)
        raw_t.append(s)
        assert len(rows) == len(result.frame), (len(rows), len(result.frame))
    ratio = statistics.median(app_t) / statistics.median(raw_t)
    print(f"  {len(result.frame)} rows; app/raw = {ratio:.2f}x (target ≤ 1.5x)")

    if args.skip_export:
        return
    limit = f"LIMIT {int(args.rows)}" if args.rows else ""
    defn = lines_report(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"\n2. export of {args.rows or lines:,} order lines")
        with PeakRss() as mem:
            res, app_csv = timed("app: export_report csv", export_report, db, defn, folder / "app.csv")
        app_csv_mb = mem.growth_mb

        def raw_copy() -> None:
            with psycopg.connect(dsn) as conn, conn.cursor() as cur, open(folder / "raw.csv", "wb") as fh:
                with cur.copy(f"COPY ({RAW_LINES.format(limit=limit)}) TO STDOUT WITH CSV HEADER") as copy:
                    for data in copy:
                        fh.write(data)

        _, raw_csv = timed("raw: COPY TO STDOUT WITH CSV", raw_copy)
        print(f"  {res.rows:,} rows; csv app/raw = {app_csv / raw_csv:.2f}x (target ≤ 1.3x); "
              f"peak memory growth {app_csv_mb:.0f} MB")

        with PeakRss() as mem:
            res, app_xlsx = timed("app: export_report xlsx", export_report, db, defn, folder / "app.xlsx")
        app_xlsx_mb = mem.growth_mb

        def raw_xlsx() -> None:
            import xlsxwriter

            wb = xlsxwriter.Workbook(str(folder / "raw.xlsx"), {"constant_memory": True, "remove_timezone": True})
            ws = wb.add_worksheet()
            money = wb.add_format({"num_format": "#,##0.00"})
            when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
            for c, h in enumerate(("Order", "Ordered", "SKU", "Units", "Unit price", "Revenue")):
                ws.write_string(0, c, h)
            r = 0
            with psycopg.connect(dsn) as conn, conn.cursor(name="lines") as cur:
                cur.itersize = 10_000
                cur.execute(RAW_LINES.format(limit=limit))
                for number, at, sku, qty, price, revenue in cur:
                    r += 1
                    ws.write_string(r, 0, number)
                    ws.write_datetime(r, 1, at, when)
                    ws.write_string(r, 2, sku)
                    ws.write_number(r, 3, qty)
                    ws.write_number(r, 4, float(price), money)
                    ws.write_number(r, 5, float(revenue), money)
            wb.close()

        with PeakRss() as mem:
            _, raw_x = timed("raw: xlsxwriter constant_memory", raw_xlsx)
        print(f"  {res.rows:,} rows; xlsx app/raw = {app_xlsx / raw_x:.2f}x (target ≤ 1.2x); peak memory growth "
              f"app {app_xlsx_mb:.0f} MB, raw {mem.growth_mb:.0f} MB")


if __name__ == "__main__":
    main()
