"""Benchmark: importing 100k-row product files (CSV and XLSX) with full validation, against a raw
COPY into a staging table plus upserts, in the same run.

    python benchmarks/import_products.py [--url URL] [--products 100000] [--rows 100000] [--repeat 2]
                                         [--cases prices,new]

Runs on a private copy of the shared demo store (see scratch.py), dropped at the end. Each run uses
fresh rows (other variants, other new SKUs), so every import really writes.

Cases:
- ``prices``: a price list, columns ``sku, price``: 100k existing variants (without compare-at price),
  each price raised 5 %.
- ``new``: 10k new products of 10 variants each (100k rows) in native columns: handle, title,
  description, vendor, product_type, status, tags, sku, price, compare_at_price, cost, weight_grams,
  option1_name/value (Size), option2_name/value (Colour), the options' values existing in the store.

App (CSV): ``read_products_file`` then ``apply_import`` — every cell parsed and checked, rows matched
with the store, versions checked, one changeset with an entry per changed or created row, audit, one
transaction. Raw: ``COPY … FROM STDIN (FORMAT csv, HEADER)`` of the same file's bytes into a temporary
staging table, then the upserts that put the same data in the store — ``prices``: INSERT … SELECT …
ON CONFLICT (sku) DO UPDATE (price, version, updated_at); ``new``: products (ON CONFLICT (handle) DO
UPDATE), their tags, variants (ON CONFLICT (sku) DO UPDATE) and variant options (staging table
analysed, work_mem 64 MB) — and the commit. No validation, no changeset, no audit. Each raw statement's
time is printed too. Target: app/raw ≤ 3x.

XLSX: the same kind of file (other rows) as a workbook. The app's XLSX import (read with calamine
+ apply) is compared with the raw calamine read of that workbook (every row into Python lists) plus
the app's CSV import time of the same run. Target: app XLSX ≤ calamine read + app CSV.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from common import DEFAULT_URL, timed
from scratch import scratch_store, settle
from sqlalchemy import make_url, select

from backoffice.models import Variant
from backoffice.services import importexport as ie
from backoffice.services.users import ensure_user

PRICE_HEADER = ["sku", "price"]
NEW_HEADER = ["handle", "title", "description", "vendor", "product_type", "status", "tags", "sku", "price",
              "compare_at_price", "cost", "weight_grams", "option1_name", "option1_value", "option2_name",
              "option2_value"]
SIZES = ["XS", "S", "M", "L", "XL"]
COLOURS = ["Black", "Navy"]
VENDORS = ["Atlas Outfitters", "Maison Lumière", "Norda", "Fjell & Co", "Harbour Goods"]
TYPES = ["Sweaters", "T-Shirts", "Trousers", "Jackets", "Scarves"]

RAW_PRICES = """
CREATE TEMP TABLE stage (sku text, price numeric(12,2)) ON COMMIT DROP;
COPY stage FROM STDIN (FORMAT csv, HEADER);
INSERT INTO variants (product_id, sku, price)
SELECT 0, sku, price FROM stage
ON CONFLICT (sku) DO UPDATE SET price = EXCLUDED.price, version = variants.version + 1, updated_at = now();
"""

RAW_NEW = """
SET LOCAL work_mem = '64MB';
CREATE TEMP TABLE stage (handle text, title text, description text, vendor text, product_type text, status text,
                         tags text, sku text, price numeric(12,2), compare_at_price numeric(12,2),
                         cost numeric(12,2), weight_grams int, option1_name text, option1_value text,
                         option2_name text, option2_value text, n serial) ON COMMIT DROP;
COPY stage (handle, title, description, vendor, product_type, status, tags, sku, price, compare_at_price, cost,
            weight_grams, option1_name, option1_value, option2_name, option2_value) FROM STDIN (FORMAT csv, HEADER);
ANALYZE stage;
INSERT INTO products (handle, title, description, vendor, product_type, status)
SELECT DISTINCT ON (handle) handle, title, description, vendor, product_type, status FROM stage ORDER BY handle, n
ON CONFLICT (handle) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
    vendor = EXCLUDED.vendor, product_type = EXCLUDED.product_type, status = EXCLUDED.status,
    version = products.version + 1, updated_at = now();
INSERT INTO product_tags (product_id, tag)
SELECT DISTINCT p.id, trim(t) FROM stage s JOIN products p ON p.handle = s.handle,
    unnest(string_to_array(s.tags, ',')) AS t WHERE trim(t) <> ''
ON CONFLICT DO NOTHING;
INSERT INTO variants (product_id, sku, title, price, compare_at_price, cost, weight_grams, position)
SELECT p.id, s.sku, concat_ws(' / ', s.option1_value, s.option2_value), s.price, s.compare_at_price, s.cost,
       s.weight_grams, row_number() OVER (PARTITION BY s.handle ORDER BY s.n) - 1
FROM stage s JOIN products p ON p.handle = s.handle
ON CONFLICT (sku) DO UPDATE SET price = EXCLUDED.price, compare_at_price = EXCLUDED.compare_at_price,
    cost = EXCLUDED.cost, weight_grams = EXCLUDED.weight_grams, version = variants.version + 1, updated_at = now();
INSERT INTO variant_options (variant_id, attribute_id, attribute_value_id)
SELECT v.id, av.attribute_id, av.id
FROM stage s JOIN variants v ON v.sku = s.sku,
     LATERAL (VALUES (s.option1_name, s.option1_value), (s.option2_name, s.option2_value)) AS o(name, value)
     JOIN attributes a ON lower(a.name) = lower(o.name)
     JOIN attribute_values av ON av.attribute_id = a.id AND av.value = o.value
ON CONFLICT DO NOTHING;
"""


# -- files ----------------------------------------------------------------------------------------------
def price_rows(block: list[tuple[str, Decimal]]) -> list[list[str]]:
    return [[sku, str((price * Decimal("1.05") + Decimal("0.01")).quantize(Decimal("0.01"), ROUND_HALF_UP))]
            for sku, price in block]


def new_rows(tag: str, n: int) -> list[list[str]]:
    rows = []
    per = len(SIZES) * len(COLOURS)
    for p in range(n // per):
        handle = f"bench-{tag}-{p:06d}"
        title = f"Bench {TYPES[p % 5][:-1]} {tag.upper()} {p}"
        base = Decimal(19 + p % 80) + Decimal("0.99")
        k = 0
        for size in SIZES:
            for colour in COLOURS:
                first = k == 0
                rows.append([handle, title, f"The {title}: made for the benchmark." if first else "",
                             VENDORS[p % 5] if first else "", TYPES[p % 5] if first else "", "active" if first else "",
                             "bench, new" if first else "", f"B{tag.upper()}{p:06d}-{size}-{colour[:3].upper()}",
                             str(base + k), str(base + k + 10) if p % 3 == 0 else "", str((base / 2).quantize(Decimal("0.01"))),
                             str(200 + 10 * k), "Size", size, "Colour", colour])
                k += 1
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """As a spreadsheet holds them: amounts and weights as numbers, the rest as text."""
    import xlsxwriter

    numeric = {i for i, h in enumerate(header) if h in ("price", "compare_at_price", "cost", "weight_grams")}
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Products")
    for c, h in enumerate(header):
        ws.write_string(0, c, h)
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row):
            if v == "":
                continue
            if c in numeric:
                ws.write_number(r, c, float(v))
            else:
                ws.write_string(r, c, v)
    wb.close()
    return path


# -- the two sides --------------------------------------------------------------------------------------
def app_import(db, actor, path: Path) -> tuple[ie.ImportResult, float, float]:  # type: ignore[no-untyped-def]
    parsed, t_read = timed(f"app: read_products_file({path.suffix[1:]})", ie.read_products_file, path)
    result, t_apply = timed("app: apply_import (check, write, changeset, audit, commit)", ie.apply_import, db, actor,
                            parsed)
    print(f"  app total{'':<49}{t_read + t_apply:9.3f} s   ({result.changed_rows:,} rows changed: "
          f"{result.new_products:,} new products, {result.new_variants:,} new variants, "
          f"{result.updated_variants:,} updated variants)")
    return result, t_read, t_apply


def raw_import(libpq: str, path: Path, sql: str) -> int:
    import psycopg

    n = 0
    with psycopg.connect(libpq) as conn, conn.cursor() as cur:   # one transaction, committed on exit
        for stmt in (s.strip() for s in sql.split(";") if s.strip()):
            started = time.perf_counter()
            if "FROM STDIN" in stmt:
                with cur.copy(stmt) as copy, path.open("rb") as fh:
                    while data := fh.read(1 << 20):
                        copy.write(data)
            else:
                cur.execute(stmt)
                n = max(n, cur.rowcount)
            print(f"    {time.perf_counter() - started:7.3f} s  {' '.join(stmt.split())[:70]}")
    return n


def calamine_read(path: Path) -> int:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    rows = list(wb.get_sheet_by_index(0).iter_rows())
    wb.close()
    return len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cases", default="prices,new")
    args = ap.parse_args()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    summary: list[str] = []
    with scratch_store(args.url, args.products) as db, tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        libpq = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
        actor = ensure_user(db, "bench")
        folder = Path(tmp)
        if "prices" in cases:
            with db.read() as s:
                pool = s.execute(select(Variant.sku, Variant.price).where(Variant.compare_at_price.is_(None))
                                 .order_by(Variant.id)).all()
            if len(pool) < 3 * args.rows * args.repeat:
                raise SystemExit(f"only {len(pool):,} variants without compare-at; use fewer --rows or --repeat")
            blocks = [pool[i * args.rows:(i + 1) * args.rows] for i in range(3 * args.repeat)]
            summary += run_case(db, actor, libpq, folder, "prices", PRICE_HEADER, RAW_PRICES, args.repeat,
                                lambda i: price_rows(blocks[i]))
        if "new" in cases:
            summary += run_case(db, actor, libpq, folder, "new", NEW_HEADER, RAW_NEW, args.repeat,
                                lambda i: new_rows(f"r{i}", args.rows))
    print("\n".join(summary))


def run_case(db, actor, libpq: str, folder: Path, case: str, header: list[str], raw_sql: str, repeat: int,  # type: ignore[no-untyped-def]
             rows_for) -> list[str]:
    apps, raws, xlsx_apps, calamines = [], [], [], []
    for run in range(repeat):
        rows = rows_for(3 * run)
        csv_app = write_csv(folder / f"{case}-{run}-app.csv", header, rows)
        csv_raw = write_csv(folder / f"{case}-{run}-raw.csv", header, rows_for(3 * run + 1))
        xlsx_app = write_xlsx(folder / f"{case}-{run}-app.xlsx", header, rows_for(3 * run + 2))
        print(f"run {run + 1}, case {case!r}: {len(rows):,} rows "
              f"(CSV {csv_app.stat().st_size / 1e6:.1f} MB, XLSX {xlsx_app.stat().st_size / 1e6:.1f} MB)")
        # Each import makes the tables bigger: the XLSX import goes first in every other run, so neither
        # format always meets the larger store.
        if run % 2:
            settle(db)
            _, x_read, x_apply = app_import(db, actor, xlsx_app)
        settle(db)
        _, t_read, t_apply = app_import(db, actor, csv_app)
        settle(db)
        _, t_raw = timed("raw: COPY into staging + upserts, commit", raw_import, libpq, csv_raw, raw_sql)
        app = t_read + t_apply
        print(f"  CSV ratio app/raw {app / t_raw:.2f}x")
        if not run % 2:
            settle(db)
            _, x_read, x_apply = app_import(db, actor, xlsx_app)
        _, t_cal = timed("raw: calamine read of the workbook", calamine_read, xlsx_app)
        print(f"  XLSX app {x_read + x_apply:.3f} s vs calamine + app CSV {t_cal + app:.3f} s")
        apps.append(app)
        raws.append(t_raw)
        xlsx_apps.append(x_read + x_apply)
        calamines.append(t_cal)
    app, raw, xapp, cal = (statistics.median(v) for v in (apps, raws, xlsx_apps, calamines))
    return [(f"{case} CSV: app {app:.2f} s, raw {raw:.2f} s (medians; best {min(apps):.2f} / {min(raws):.2f} s): "
             f"ratio {app / raw:.2f}x (target ≤ 3x)"),
            (f"{case} XLSX: app {xapp:.2f} s vs calamine read {cal:.2f} s + app CSV {app:.2f} s = {cal + app:.2f} s "
             f"(medians): {'met' if xapp <= cal + app else 'NOT met'}")]


if __name__ == "__main__":
    main()
