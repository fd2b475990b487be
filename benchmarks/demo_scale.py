"""Benchmark: the demo store generator at full scale on PostgreSQL, against a raw COPY of the same rows.

    python benchmarks/demo_scale.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                                    [--products 100000] [--seed 42] [--photos]

1. Creates a scratch database ``bench_demo_<random>`` on the server named by --url (dropped at the end,
   also on failure or Ctrl-C), migrates it, and times ``generate_demo`` (one transaction, committed).
   Per-table times come from the generator's own progress steps (each step builds the table's rows
   and COPYs them), so rows/s per table include generating the data.
2. Raw limit: copies each generated table out to memory (COPY ... TO STDOUT, binary, not timed), then
   times COPY FROM STDIN (binary) of the same bytes into ``CREATE TABLE x_raw (LIKE x)`` — no indexes,
   no constraints, no generation — in one transaction with its commit, and prints app/raw.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from sqlalchemy import make_url  # noqa: E402

from backoffice import migrations  # noqa: E402
from backoffice.db import Database  # noqa: E402
from backoffice.services.demo import generate_demo  # noqa: E402
from backoffice.services.image_store import ImageStore  # noqa: E402
from backoffice.services.users import ensure_user  # noqa: E402

# The generator's progress labels, in order, and the tables they write.
STEP_TABLES = {
    "categories": "categories", "attributes": "attributes", "attribute values": "attribute_values",
    "locations": "locations", "suppliers": "suppliers", "products": "products", "product tags": "product_tags",
    "variants": "variants", "variant options": "variant_options", "supplier items": "supplier_items",
    "customers": "customers", "orders": "orders", "order lines": "order_lines",
    "stock documents (opening, receipts, sales)": "stock_operations", "stock levels": "stock_levels",
    "the stock ledger": "stock_moves",
}


def libpq_url(url: str, database: str | None = None) -> str:
    u = make_url(url).set(drivername="postgresql")
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


def raw_schema_statements(conn: psycopg.Connection, tables: list[str]) -> list[str]:
    """The primary keys, unique constraints, indexes and foreign keys of ``tables``, rewritten for their
    ``_raw`` copies (foreign keys to a table of the set point at its copy), in the order the generator
    rebuilds them: keys, indexes, then foreign keys."""
    def raw(ref: str) -> str:
        return f"{ref}_raw" if ref in tables else ref

    cons = conn.execute(
        """
        SELECT con.conrelid::regclass::text, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        WHERE con.conrelid = ANY(%s::regclass[]) AND con.contype IN ('p', 'u', 'f')
        ORDER BY con.contype DESC, 1, 2
        """,
        (tables,),
    ).fetchall()
    idx = conn.execute(
        """
        SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = ANY(%s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
        ORDER BY 1, 2
        """,
        (tables,),
    ).fetchall()
    keys = [f'ALTER TABLE "{t}_raw" ADD CONSTRAINT "{n}_raw" {d}' for t, n, k, d in cons if k in "pu"]
    indexes = [re.sub(r"^CREATE (UNIQUE )?INDEX (\S+) ON (\S+) ", lambda m: f"CREATE {m[1] or ''}INDEX {m[2]}_raw ON {m[3]}_raw ", d)
               for _, _, d in idx]
    fks = [f'ALTER TABLE "{t}_raw" ADD CONSTRAINT "{n}_raw" '
           + re.sub(r"REFERENCES (\w+)\(", lambda m: f"REFERENCES {raw(m[1])}(", d)
           for t, n, k, d in cons if k == "f"]
    return keys + indexes + fks


def fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:>12,.0f}" if seconds > 0 else f"{'-':>12}"


def run(url: str, products: int, seed: int, photos: bool = False) -> int:
    name = f"bench_demo_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(libpq_url(url), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    print(f"scratch database {name} on {make_url(url).render_as_string(hide_password=True)}")
    db = None
    try:
        db = Database(libpq_url(url, name))
        migrations.upgrade(db)
        actor = ensure_user(db, "bench")

        # -- the application's path ---------------------------------------------------------------------
        marks: list[tuple[float, str]] = []
        started = time.perf_counter()
        photo_dir = tempfile.TemporaryDirectory(prefix="bench-demo-photos-") if photos else None
        summary = generate_demo(db, actor, products=products, seed=seed, anchor=dt.date(2026, 1, 31),
                                progress=lambda fraction, text: marks.append((time.perf_counter(), text)),
                                image_store=ImageStore(photo_dir.name) if photo_dir else None)
        if photo_dir is not None:
            photo_dir.cleanup()
        app_seconds = time.perf_counter() - started
        marks.append((started + app_seconds, "end"))
        # A long step reports progress more than once with the same text: keep its first report.
        marks = [m for i, m in enumerate(marks) if i == 0 or m[1] != marks[i - 1][1]]

        with psycopg.connect(libpq_url(url, name)) as conn:
            counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in STEP_TABLES.values()}

        print(f"\ngenerate_demo(products={products:,}, seed={seed}) on PostgreSQL")
        print(f"{'step':<44}{'rows':>12}{'seconds':>10}{'rows/s':>13}")
        for (t0, text), (t1, _) in zip(marks, marks[1:]):
            label = text.rstrip("…").removeprefix("Writing ")
            table = STEP_TABLES.get(label)
            rows = counts.get(table, 0) if table else 0
            shown = table or label
            print(f"{shown:<44}{rows if table else '':>12}{t1 - t0:>10.2f}"
                  f"{fmt_rate(rows, t1 - t0) if table else '':>13}")
        total_rows = sum(counts.values())
        print(f"{'TOTAL (one transaction, committed)':<44}{total_rows:>12,}{app_seconds:>10.2f}"
              f"{fmt_rate(total_rows, app_seconds):>13}")
        print(f"summary: {summary.to_dict()}")
        verdict = "OK" if app_seconds < 120 else "TOO SLOW"
        print(f"requirement: generation under 120 s -> {app_seconds:.1f} s {verdict}")

        # -- the raw limit: the same rows, COPY into unindexed tables ------------------------------------
        print("\nraw COPY (binary) of the same rows into CREATE TABLE x_raw (LIKE x), no indexes or constraints")
        print(f"{'table':<44}{'rows':>12}{'seconds':>10}{'rows/s':>13}")
        raw_total = 0.0
        with psycopg.connect(libpq_url(url, name)) as conn:
            for table in STEP_TABLES.values():
                buf = bytearray()
                with conn.cursor().copy(f'COPY "{table}" TO STDOUT (FORMAT BINARY)') as out:
                    for block in out:
                        buf += block
                conn.execute(f'CREATE TABLE "{table}_raw" (LIKE "{table}")')
                conn.commit()
                t0 = time.perf_counter()
                with conn.cursor().copy(f'COPY "{table}_raw" FROM STDIN (FORMAT BINARY)') as cp:
                    view = memoryview(buf)
                    for i in range(0, len(view), 8 << 20):
                        cp.write(view[i:i + (8 << 20)])
                conn.commit()
                seconds = time.perf_counter() - t0
                raw_total += seconds
                print(f"{table:<44}{counts[table]:>12,}{seconds:>10.2f}{fmt_rate(counts[table], seconds):>13}")
                del buf
        print(f"{'TOTAL':<44}{total_rows:>12,}{raw_total:>10.2f}{fmt_rate(total_rows, raw_total):>13}")

        # -- the same keys, indexes and foreign keys built on the raw copies, plus ANALYZE -----------------
        with psycopg.connect(libpq_url(url, name)) as conn:
            statements = raw_schema_statements(conn, list(STEP_TABLES.values()))
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute("SET work_mem = '128MB'")
            t0 = time.perf_counter()
            for statement in statements:
                conn.execute(statement)
            t1 = time.perf_counter()
            conn.execute("ANALYZE " + ", ".join(f'"{t}_raw"' for t in STEP_TABLES.values()))
            conn.commit()
            t2 = time.perf_counter()
        build, analyze = t1 - t0, t2 - t1
        floor = raw_total + build + analyze
        print(f"{'+ the same keys, indexes, foreign keys':<44}{len(statements):>12}{build:>10.2f}")
        print(f"{'+ ANALYZE':<44}{'':>12}{analyze:>10.2f}")
        print(f"{'TOTAL raw load of the same schema':<44}{total_rows:>12,}{floor:>10.2f}{fmt_rate(total_rows, floor):>13}")

        print(f"\nratio app/raw COPY: {app_seconds / raw_total:.2f}x   (app {app_seconds:.2f} s, which also "
              f"generates the data, maintains or rebuilds the schema's keys, indexes and foreign keys and "
              f"analyzes; raw COPY {raw_total:.2f} s)")
        print(f"ratio app/raw load of the same schema: {app_seconds / floor:.2f}x   "
              f"(raw COPY + the same keys, indexes, foreign keys and ANALYZE: {floor:.2f} s)")
        return 0 if app_seconds < 120 else 1
    finally:
        if db is not None:
            db.dispose()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        print(f"dropped {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL server (the database named is only used to create the scratch one)")
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--photos", action="store_true",
                        help="also make the product photos (into an empty, temporary image store)")
    args = parser.parse_args()
    return run(args.url, args.products, args.seed, args.photos)


if __name__ == "__main__":
    raise SystemExit(main())
