"""Benchmark: a mass price change over 100k variants (+7 %, rounded to .99), with its changeset and
audit rows, against raw SQL doing the same work in the same run.

    python benchmarks/bulk_price.py [--url URL] [--products 100000] [--rows 100000]

App path: ``bulk.plan`` (reads the target rows, computes every new price, checks compare-at) then
``bulk.apply_plan`` (one transaction: rows locked, versions checked, staged UPDATE … FROM, one changeset
entry per row with before/after, one audit row).
Raw path: on a *different* block of the same size, in one transaction: UPDATE … FROM a VALUES-free
computed subquery (price × 1.07 rounded to .99 in SQL) plus INSERT … SELECT of one audit row per
variant with the old and new price as JSON. Both transactions commit. Prints app/raw (target ≤ 2x).
"""

from __future__ import annotations

import argparse
from decimal import Decimal

from common import DEFAULT_URL, demo_store, timed
from sqlalchemy import select, text

from backoffice.models import Variant
from backoffice.services import bulk
from backoffice.services.bulk import BulkOperation, PriceStep, Target
from backoffice.services.users import ensure_user

RAW_SQL = """
WITH target AS (
    SELECT id, price AS old_price,
           GREATEST(0.99, ROUND(price * 1.07 - 0.99) + 0.99) AS new_price
    FROM variants WHERE id > :lo AND id <= :hi AND compare_at_price IS NULL
), upd AS (
    UPDATE variants v SET price = t.new_price, version = v.version + 1, updated_at = now()
    FROM target t WHERE v.id = t.id
    RETURNING v.id, t.old_price, t.new_price
)
INSERT INTO audit_log (at, user_id, username, entity, entity_id, action, before, after)
SELECT now(), NULL, 'raw', 'variant', upd.id::text, 'update',
       jsonb_build_object('price', upd.old_price::text), jsonb_build_object('price', upd.new_price::text)
FROM upd
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    db = demo_store(args.url, args.products)
    actor = ensure_user(db, "bench")
    with db.read() as s:
        ids = list(s.scalars(select(Variant.id).where(Variant.compare_at_price.is_(None)).order_by(Variant.id)))
    if len(ids) < 2 * args.rows:
        raise SystemExit(f"the store has only {len(ids)} variants without compare-at; use more --products")
    offset = len(ids) // 2  # a fresh block each run would need a fresh store; use the upper and lower halves
    app_ids = ids[:args.rows]
    raw_lo, raw_hi = ids[offset] - 1, ids[offset + args.rows - 1]

    print(f"mass price change over {args.rows:,} variants (+7 %, round to .99)")
    op = BulkOperation("money", "price", steps=(PriceStep("percent", Decimal(7)), PriceStep("round_ending", Decimal("0.99"))))
    p, t_plan = timed("app: plan (read, compute, validate)", bulk.plan, db, op, Target(variant_ids=tuple(app_ids)))
    result, t_apply = timed("app: apply (update, changeset entries, audit, commit)", bulk.apply_plan, db, actor, p)
    app = t_plan + t_apply
    print(f"  app total{'':<49}{app:9.3f} s   ({result.applied_rows:,} rows changed)")

    def raw() -> int:
        with db.engine.begin() as conn:
            return conn.execute(text(RAW_SQL), {"lo": raw_lo, "hi": raw_hi}).rowcount

    raw_rows, t_raw = timed("raw: UPDATE … FROM + INSERT … SELECT audit, commit", raw)
    print(f"  ({raw_rows:,} rows changed by the raw path)")
    print(f"ratio app/raw: {app / t_raw:.2f}x (target ≤ 2x)")


if __name__ == "__main__":
    main()
