"""Benchmark: exporting every variant of the 100k-product store (about 1M rows) to CSV and XLSX, against
the raw database and library limits in the same run.

    python benchmarks/export_products.py [--url URL] [--products 100000] [--repeat 2] [--formats csv,xlsx]

Reads only: it uses the shared demo store (see common.py) and writes files to a temporary folder.

CSV. App: ``export_products(db, path, "csv")`` — native columns (product fields, category path, tags,
variant fields, option1..3 name/value), formula neutralisation, a UTF-8 BOM and header, rows grouped
by product, written beside the target and renamed into place. Raw: one hand-written ``COPY (SELECT …)
TO STDOUT WITH CSV`` of the same columns and rows in the same order (the few category paths read
first with a recursive query and inlined, tags aggregated per product, one outer join per attribute
for the options), no neutralisation, each row written to a file as it arrives. Target: app/raw ≤ 1.3x.

XLSX. App: ``export_products(db, path, "xlsx")``. Raw: the same SELECT through a server-side cursor,
every row written with xlsxwriter in constant_memory mode (write_string / write_number per non-empty
cell, the money format on prices), header row included. Target: app/raw ≤ 1.2x.
Ratios are of the medians over --repeat runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import psycopg
import psycopg.sql
from common import DEFAULT_URL, demo_store, timed
from sqlalchemy import make_url

from backoffice.services.importexport import export_products
from backoffice.services.importexport.common import native_header

RAW_SELECT = """
SELECT p.handle, p.title, p.description, p.vendor, p.product_type, p.status, cat.path, t.tags, p.seo_title,
       p.seo_description, v.sku, v.barcode, v.price, v.compare_at_price, v.cost, v.weight_grams, v.status,
       n[1], o[1], n[2], o[2], n[3], o[3]
FROM variants v
JOIN products p ON p.id = v.product_id
LEFT JOIN (VALUES {paths}) AS cat(id, path) ON cat.id = p.category_id
LEFT JOIN (SELECT product_id, string_agg(tag, ', ' ORDER BY tag COLLATE "C") AS tags
           FROM product_tags GROUP BY product_id) t ON t.product_id = p.id
LEFT JOIN variant_options o1 ON o1.variant_id = v.id AND o1.attribute_id = 1
LEFT JOIN attribute_values a1 ON a1.id = o1.attribute_value_id
LEFT JOIN variant_options o2 ON o2.variant_id = v.id AND o2.attribute_id = 2
LEFT JOIN attribute_values a2 ON a2.id = o2.attribute_value_id
LEFT JOIN variant_options o3 ON o3.variant_id = v.id AND o3.attribute_id = 3
LEFT JOIN attribute_values a3 ON a3.id = o3.attribute_value_id,
LATERAL (SELECT array_remove(ARRAY[CASE WHEN o1.variant_id IS NOT NULL THEN 'Size' END,
                                   CASE WHEN o2.variant_id IS NOT NULL THEN 'Colour' END,
                                   CASE WHEN o3.variant_id IS NOT NULL THEN 'Material' END], NULL) AS n,
                array_remove(ARRAY[a1.value, a2.value, a3.value]::text[], NULL) AS o) opts
ORDER BY p.id, v.position, v.id
"""


CATEGORY_PATHS = """
WITH RECURSIVE cat(id, path) AS (
    SELECT id, name::text FROM categories WHERE parent_id IS NULL
    UNION ALL
    SELECT c.id, cat.path || ' > ' || c.name FROM categories c JOIN cat ON c.parent_id = cat.id
)
SELECT id, path FROM cat
"""


def raw_select(conn: psycopg.Connection) -> str:
    """The SELECT, with the (few) category paths read first and inlined as a VALUES list."""
    paths = conn.execute(CATEGORY_PATHS).fetchall()
    values = ", ".join(f"({cid}, {psycopg.sql.Literal(path).as_string(conn)})" for cid, path in paths) or "(0, '')"
    return RAW_SELECT.format(paths=values)


def raw_csv(url: str, path: Path) -> int:
    n = 0
    with psycopg.connect(url) as conn, conn.cursor() as cur, path.open("wb") as fh:
        conn.execute("SET work_mem = '64MB'")
        conn.execute("SET jit = off")
        with cur.copy(f"COPY ({raw_select(conn)}) TO STDOUT WITH CSV") as copy:
            for data in copy:
                fh.write(data)
                n += 1
    return n


def raw_xlsx(url: str, path: Path) -> int:
    import xlsxwriter

    n = 0
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False,
                                        "strings_to_formulas": False, "strings_to_urls": False})
    ws = wb.add_worksheet("Products")
    money = wb.add_format({"num_format": "0.00"})
    for i, name in enumerate(native_header()):
        ws.write_string(0, i, name)
    ws_s, ws_n = ws.write_string, ws.write_number
    with psycopg.connect(url) as conn:
        conn.execute("SET work_mem = '64MB'")
        conn.execute("SET jit = off")
        with conn.cursor(name="raw_export") as cur:
            cur.itersize = 5000
            cur.execute(raw_select(conn))
            row = 0
            for r in cur:
                row += 1
                for c, v in enumerate(r):
                    if v is None or v == "":
                        continue
                    if type(v) is str:
                        ws_s(row, c, v)
                    elif 12 <= c <= 14:
                        ws_n(row, c, float(v), money)
                    else:
                        ws_n(row, c, v)
            n = row
    wb.close()
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--formats", default="csv,xlsx")
    args = ap.parse_args()
    db = demo_store(args.url, args.products)
    libpq = make_url(db.url).set(drivername="postgresql").render_as_string(hide_password=False)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    raw_fn = {"csv": raw_csv, "xlsx": raw_xlsx}
    target = {"csv": 1.3, "xlsx": 1.2}
    summary = []
    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        for fmt in formats:
            apps, raws = [], []
            for run in range(args.repeat):
                print(f"run {run + 1}: export of every variant to {fmt.upper()}")
                app_path, raw_path = Path(tmp) / f"app.{fmt}", Path(tmp) / f"raw.{fmt}"
                n_app, t_app = timed(f"app: export_products(…, {fmt!r})", export_products, db, app_path, fmt)
                n_raw, t_raw = timed(f"raw: {'COPY … TO STDOUT WITH CSV' if fmt == 'csv' else 'fetch + xlsxwriter constant_memory'}",
                                     raw_fn[fmt], libpq, raw_path)
                print(f"  rows {n_app:,} / {n_raw:,}; bytes {app_path.stat().st_size:,} / {raw_path.stat().st_size:,}; "
                      f"ratio {t_app / t_raw:.2f}x")
                apps.append(t_app)
                raws.append(t_raw)
                app_path.unlink()
                raw_path.unlink()
            app, raw = statistics.median(apps), statistics.median(raws)
            summary.append(f"{fmt.upper()}: app {app:.2f} s, raw {raw:.2f} s (medians; best {min(apps):.2f} / "
                           f"{min(raws):.2f} s): ratio {app / raw:.2f}x (target ≤ {target[fmt]}x)")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
