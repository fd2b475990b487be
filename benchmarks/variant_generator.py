"""Benchmark: the combination generator creating 100 products × 60 combinations (6,000 variants,
12,000 variant options, their changeset entries and audit row) in one apply, against raw SQL doing the
same writes in the same run.

    python benchmarks/variant_generator.py [--url URL] [--products 100] [--repeat 3] [--sqlite]

Runs on a scratch database of its own (PostgreSQL ``bench_variants_<pid>_<random>``, or with
``--sqlite`` a temporary SQLite file), dropped at the end.
App path: ``variants.generate`` (one transaction: products locked, the plan computed again — every
combination, its SKU from the pattern, its price, duplicate SKUs checked against the catalog and the
batch — then variants and options inserted, one changeset with an entry per created variant, audit).
Raw path: on other products of the same shape, one transaction: the SKUs formatted in Python, the
variants inserted with RETURNING ids, the options inserted, a changeset row, its entries
(INSERT … SELECT on PostgreSQL, an executemany on SQLite) and one audit row. Each repeat uses fresh
products; the ratio is of the medians. Target: app/raw ≤ 3x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import DEFAULT_URL, timed  # noqa: E402
from sqlalchemy import create_engine, insert, make_url, select, text  # noqa: E402

from backoffice import migrations  # noqa: E402
from backoffice.db import Database  # noqa: E402
from backoffice.models import AttributeValue, Changeset, ChangesetEntry, Product, Variant, VariantOption, utcnow  # noqa: E402
from backoffice.services import variants as vs  # noqa: E402
from backoffice.services.base import audit  # noqa: E402
from backoffice.services.users import ensure_user  # noqa: E402

SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
COLOURS = ["Black", "White", "Navy", "Grey", "Beige", "Olive", "Red", "Pink", "Mustard", "Brown"]
PATTERN = "{handle}-{colour:3}-{size}"


def make_products(db: Database, start: int, count: int) -> list[int]:
    now = utcnow()
    rows = [{"handle": f"bench-tee-{i}", "title": f"Bench Tee {i}", "status": "active", "version": 1,
             "created_at": now, "updated_at": now} for i in range(start, start + count)]
    with db.write() as session:
        result = session.execute(insert(Product.__table__).returning(Product.__table__.c.id,
                                                                     sort_by_parameter_order=True), rows)
        return [r[0] for r in result]


def raw_generate(db: Database, product_ids: list[int], actor) -> int:  # type: ignore[no-untyped-def]
    with db.write() as session:
        values = {(a, v): (vid, aid) for vid, aid, a, v in session.execute(
            text("SELECT av.id, a.id, a.code, av.value FROM attribute_values av JOIN attributes a ON a.id = av.attribute_id"))}
        handles = dict(session.execute(select(Product.id, Product.handle).where(Product.id.in_(product_ids))).all())
        now = utcnow()
        rows, combos = [], []
        for pid in product_ids:
            position = 0
            for size in SIZES:
                for colour in COLOURS:
                    sku = f"{handles[pid].upper()}-{colour[:3].upper()}-{size}"
                    rows.append({"product_id": pid, "sku": sku, "title": f"{size} / {colour}", "price": "20.00",
                                 "status": "active", "position": position, "version": 1, "created_at": now,
                                 "updated_at": now})
                    combos.append((values[("size", size)], values[("colour", colour)]))
                    position += 1
        table = Variant.__table__
        ids = [r[0] for r in session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)]
        options = [{"variant_id": vid, "attribute_value_id": value_id, "attribute_id": attribute_id}
                   for vid, pair in zip(ids, combos, strict=True) for value_id, attribute_id in pair]
        session.execute(insert(VariantOption.__table__), options)
        changeset = Changeset(created_at=now, user_id=actor.user_id, username=actor.username, kind="generate",
                              description="raw", row_count=len(ids))
        session.add(changeset)
        session.flush()
        if db.is_sqlite:
            session.execute(insert(ChangesetEntry.__table__), [
                {"changeset_id": changeset.id, "entity": "variant", "entity_id": vid, "version_before": 0,
                 "version_after": 1, "before": {}, "after": {"product_id": r["product_id"], "sku": r["sku"],
                                                             "title": r["title"], "price": "20.00", "status": "active"}}
                for vid, r in zip(ids, rows, strict=True)])
        else:
            session.execute(text(
                "INSERT INTO changeset_entries (changeset_id, entity, entity_id, version_before, version_after, before, "
                "after) SELECT :cs, 'variant', v.id, 0, 1, '{}'::jsonb, jsonb_build_object('product_id', v.product_id, "
                "'sku', v.sku, 'title', v.title, 'price', v.price::text, 'status', v.status) FROM variants v "
                "WHERE v.id = ANY(:ids) ORDER BY v.id"), {"cs": changeset.id, "ids": ids})
        audit(session, actor, "changeset", changeset.id, "generate", None, {"rows": len(ids)})
        return len(ids)


def run(db: Database, products: int, repeat: int) -> None:
    migrations.upgrade(db)
    actor = ensure_user(db, "bench")
    vs.create_attribute(db, actor, code="size", values=SIZES)
    vs.create_attribute(db, actor, code="colour", values=COLOURS)
    with db.read() as session:
        assert session.scalar(select(AttributeValue.id).limit(1)) is not None
    app_times, raw_times = [], []
    for r in range(repeat):
        app_ids = make_products(db, 2 * r * products, products)
        raw_ids = make_products(db, (2 * r + 1) * products, products)
        request = vs.GenerationRequest(tuple(app_ids), {"size": SIZES, "colour": COLOURS}, sku_pattern=PATTERN,
                                       price="20.00")
        result, seconds = timed(f"app: generate {products} × 60 (repeat {r + 1})", vs.generate, db, actor, request)
        assert result.created == products * 60, result
        app_times.append(seconds)
        created, seconds = timed(f"raw: the same inserts (repeat {r + 1})", raw_generate, db, raw_ids, actor)
        assert created == products * 60
        raw_times.append(seconds)
    app, raw = statistics.median(app_times), statistics.median(raw_times)
    print(f"  variants/s app {products * 60 / app:,.0f}, raw {products * 60 / raw:,.0f}")
    print(f"  app/raw {app / raw:.2f}x (target ≤ 3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="Run on a temporary SQLite file instead.")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as folder:
            db = Database(f"sqlite:///{folder}/bench.sqlite")
            try:
                run(db, args.products, args.repeat)
            finally:
                db.dispose()
        return
    name = f"bench_variants_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(make_url(args.url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(args.url).set(drivername="postgresql+psycopg", database=name))
    try:
        run(db, args.products, args.repeat)
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
