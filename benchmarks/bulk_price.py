"""Benchmark: a mass price change over 100k variants (+7 %, rounded to .99), with its changeset and
audit rows, against raw SQL doing the same work in the same run.

    python benchmarks/bulk_price.py [--url URL] [--products 100000] [--rows 100000] [--repeat 3]

Runs on a private copy of the shared demo store (see scratch.py), dropped at the end.
App path: ``bulk.plan`` (reads the target rows, computes every new price, checks compare-at) then
``bulk.apply_plan`` with the plan's versions (one transaction: the rows planned again and locked, versions
checked against the preview's, staged UPDATE … FROM, one changeset entry per row with before/after, one
audit row).
Raw path: on a *different* block of the same size, in one transaction: a changeset row, UPDATE … FROM
a computed subquery (price × 1.07 rounded to .99 in SQL) plus INSERT … SELECT of one changeset entry per
variant with the version and the old and new price as JSON (the same records the app writes), one audit
row. Both transactions commit. Each repeat uses fresh blocks of rows; the ratio is
of the medians. Target: app/raw ≤ 2x.
"""

from __future__ import annotations

import argparse
import statistics
from decimal import Decimal

from common import DEFAULT_URL, timed
from scratch import scratch_store, settle
from sqlalchemy import select, text

from backoffice.models import Variant
from backoffice.services import bulk
from backoffice.services.bulk import BulkOperation, PriceStep, Target
from backoffice.services.users import ensure_user

RAW_SQL = """
WITH cs AS (
    INSERT INTO changesets (created_at, username, kind, description, row_count)
    VALUES (now(), 'raw', 'bulk', 'raw price change', 0) RETURNING id
), target AS (
    SELECT id, version, price AS old_price, GREATEST(0.99, ROUND(price * 1.07 - 0.99) + 0.99) AS new_price
    FROM variants WHERE id >= :lo AND id <= :hi AND compare_at_price IS NULL
), upd AS (
    UPDATE variants v SET price = t.new_price, version = v.version + 1, updated_at = now()
    FROM target t WHERE v.id = t.id
    RETURNING v.id, t.version, t.old_price, t.new_price
)
INSERT INTO changeset_entries (changeset_id, entity, entity_id, version_before, version_after, before, after)
SELECT cs.id, 'variant', upd.id, upd.version, upd.version + 1,
       jsonb_build_object('price', upd.old_price::text), jsonb_build_object('price', upd.new_price::text)
FROM upd, cs
"""

# the older raw path: one audit_log row per variant (no changeset, no foreign key to check)
RAW_AUDIT_LOG_SQL = """
WITH target AS (
    SELECT id, price AS old_price, GREATEST(0.99, ROUND(price * 1.07 - 0.99) + 0.99) AS new_price
    FROM variants WHERE id >= :lo AND id <= :hi AND compare_at_price IS NULL
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

RAW_AUDIT = """
INSERT INTO audit_log (at, user_id, username, entity, entity_id, action, before, after)
SELECT now(), NULL, 'raw', 'changeset', max(id)::text, 'bulk', NULL, jsonb_build_object('rows', :rows)
FROM changesets
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--audit-log-raw", action="store_true",
                    help="also time the older raw path (one audit_log row per variant instead of changeset entries)")
    args = ap.parse_args()
    with scratch_store(args.url, args.products) as db:
        actor = ensure_user(db, "bench")
        with db.read() as s:
            ids = list(s.scalars(select(Variant.id).where(Variant.compare_at_price.is_(None)).order_by(Variant.id)))
        per_run = 3 if args.audit_log_raw else 2
        if len(ids) < per_run * args.rows * args.repeat:
            raise SystemExit(f"the store has only {len(ids):,} variants without compare-at; use fewer --rows or --repeat")
        blocks = [ids[i * args.rows:(i + 1) * args.rows] for i in range(per_run * args.repeat)]
        op = BulkOperation("money", "price", steps=(PriceStep("percent", Decimal(7)),
                                                     PriceStep("round_ending", Decimal("0.99"))))
        apps, raws = [], []
        for run in range(args.repeat):
            app_ids, raw_ids = blocks[per_run * run], blocks[per_run * run + 1]
            print(f"run {run + 1}: mass price change over {args.rows:,} variants (+7 %, round to .99)")
            settle(db)
            p, t_plan = timed("app: plan (read, compute, validate)", bulk.plan, db, op, Target(variant_ids=tuple(app_ids)))
            result, t_apply = timed("app: apply (update, changeset entries, audit, commit)", bulk.apply_plan, db, actor,
                                    p.operation, p.target, previewed=p.versions)
            app = t_plan + t_apply
            print(f"  app total{'':<49}{app:9.3f} s   ({result.applied_rows:,} rows changed)")

            def raw(lo: int = raw_ids[0], hi: int = raw_ids[-1]) -> int:
                with db.engine.begin() as conn:
                    n = conn.execute(text(RAW_SQL), {"lo": lo, "hi": hi}).rowcount
                    conn.execute(text(RAW_AUDIT), {"rows": n})
                    return n

            settle(db)
            raw_rows, t_raw = timed("raw: UPDATE … FROM + INSERT … SELECT entries, audit, commit", raw)
            print(f"  ({raw_rows:,} rows changed by the raw path)   ratio {app / t_raw:.2f}x")
            if args.audit_log_raw:
                def older(lo: int = blocks[per_run * run + 2][0], hi: int = blocks[per_run * run + 2][-1]) -> int:
                    with db.engine.begin() as conn:
                        return conn.execute(text(RAW_AUDIT_LOG_SQL), {"lo": lo, "hi": hi}).rowcount

                settle(db)
                _, t_older = timed("raw, older form: UPDATE … FROM + audit_log row per variant", older)
                print(f"  ratio against it {app / t_older:.2f}x (for reference)")
            apps.append(app)
            raws.append(t_raw)
        app, raw_t = statistics.median(apps), statistics.median(raws)
        print(f"median app {app:.3f} s, median raw {raw_t:.3f} s; best app {min(apps):.3f} s, best raw {min(raws):.3f} s")
        print(f"ratio app/raw: {app / raw_t:.2f}x (medians; target ≤ 2x)")


if __name__ == "__main__":
    main()
