"""Benchmark: the local replica of an API profile (backoffice/sync/replica.py) on the 1M-variant store.

    python benchmarks/api_sync.py [--url URL] [--products 100000] [--source local|api] [--runs 9]
                                  [--skip-incremental] [--keep DIR]

On the shared demo store ``bench_store_<products>_42`` (common.demo_store; read, and written only by the
1% price change of step 3, which is reverted as a changeset at the end). The source is the operations
contract: ``--source local`` the in-process one (``LocalOperations`` over the store), ``--source api``
the HTTP one (``RemoteOperations``) against ``backoffice serve`` started on a free loopback port.

1. **Fetch only**: every page of the products, variants and stock-levels feeds from the beginning
   (pages of ``feeds.MAX_LIMIT``), parsed, plus the small lists (locations, categories, attributes),
   stored nowhere: what any copy must at least pay. Run before and after step 2; the faster run counts.
2. **Initial sync** into a fresh replica file: ``Replica.sync``. Target: sync / fetch ≤ 1.5x; rows/s.
3. **Incremental sync** after 1% of the variants got a new price (one changeset through
   ``catalog.save_edits``): target ≤ 2 s. The changeset is then reverted and that sync timed too.
4. **Grid reads**: ``catalog.first_page`` and ``catalog.last_page`` (jump to the end), 100 rows, by id
   and by price, read from the replica against direct mode on the store's PostgreSQL, medians of
   ``--runs``. Target: replica / direct ≤ 1.2x.

Prints a table of the figures and ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from common import DEFAULT_URL, demo_store

from backoffice.operations import LocalOperations
from backoffice.services.change_feed import MAX_LIMIT
from backoffice.services.changesets.rows import RowChange
from backoffice.services.users import ensure_user
from backoffice.sync.replica import FEED_KINDS, Replica, _parsed

API_USER = "sync-bench"
API_PASSWORD = "replica benchmark password"


# -- sources -----------------------------------------------------------------------------------------------
def local_source(url: str) -> tuple[Any, Callable[[], None]]:
    """The in-process contract over the store, acting as the benchmark's own account. (The store's
    accounts have no PostgreSQL logins of their own, so ``session.connect`` would refuse to sign one in;
    ``LocalOperations`` is what it returns once signed in.)"""
    from backoffice.db import Database

    db = Database(url)
    ops = LocalOperations(db, ensure_user(db, "bench"))
    return ops, db.dispose


def api_source(url: str) -> tuple[Any, Callable[[], None]]:
    """``backoffice serve`` on a free loopback port over the store, and the HTTP contract signed in to it
    as a manager (the account is made once, by the services)."""
    import httpx

    from backoffice.db import Database
    from backoffice.models import Role
    from backoffice.remote.session import open_api
    from backoffice.services import users

    db = Database(url)
    from sqlalchemy import text

    with db.read() as s:
        exists = s.execute(text("SELECT 1 FROM users WHERE username = :u"), {"u": API_USER}).first()
    if not exists:
        users.create_user(db, ensure_user(db, "bench"), API_USER, Role.MANAGER, password=API_PASSWORD)
    db.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).with_name("backoffice")
    server = subprocess.Popen([str(exe), "serve", "--db", url, "--host", "127.0.0.1", "--port", str(port),
                               "--rate-limit", "0", "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            raise SystemExit("backoffice serve did not start")
        time.sleep(0.2)
    ops = open_api(base, API_USER, password=API_PASSWORD)

    def stop() -> None:
        ops.close()
        server.terminate()
        server.wait(timeout=30)

    return ops, stop


# -- the measurements ------------------------------------------------------------------------------------------
def fetch_only(source: Any) -> tuple[float, int]:
    """Seconds and rows of reading every feed page from the beginning (parsed) and the small lists."""
    started = time.perf_counter()
    source.store.list_locations(include_archived=True)
    source.store.list_categories()
    source.variants.attributes(include_archived=True)
    rows = 0
    for kind in FEED_KINDS:
        cursor = None
        while True:
            page = source.feeds.changes(kind, cursor, MAX_LIMIT)
            rows += len(_parsed(page))
            cursor = page.next_cursor
            if not page.has_more:
                break
    return time.perf_counter() - started, rows


def timed_sync(replica: Replica, source: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    report = replica.sync(source)
    return time.perf_counter() - started, report


def change_one_percent(source: Any) -> tuple[int, int]:
    """Every 100th variant's price + 1.00 in one changeset; (changeset id, rows)."""
    rows = source.catalog.ordered_ids()
    picked = source.catalog.rows_by_id(list(rows[::100]))
    edits = [RowChange("variant", r.variant_id, r.variant_version, {"price": r.price + Decimal("1.00")})
             for r in picked.values()]
    result = source.catalog.save_edits(edits, description="api_sync benchmark: 1% of prices (reverted)")
    if result.conflicts or result.changeset_id is None:
        raise SystemExit(f"the 1% change did not apply: {len(result.conflicts)} conflicts")
    return result.changeset_id, result.applied_rows


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()    # warm: statements built, pages cached
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def grid_reads(replica_ops: LocalOperations, direct_ops: LocalOperations, runs: int) -> list[tuple[str, float, float]]:
    out = []
    for label, call in (
        ("first page by id", lambda c: c.first_page(limit=100)),
        ("last page by id (jump to end)", lambda c: c.last_page(limit=100)),
        ("first page by price", lambda c: c.first_page(sort_key="price", limit=100)),
        ("last page by price", lambda c: c.last_page(sort_key="price", limit=100)),
    ):
        a = replica_ops.catalog
        b = direct_ops.catalog
        if call(a) != call(b):
            raise SystemExit(f"{label}: the replica's rows differ from the store's")
        out.append((label, median_ms(lambda: call(a), runs), median_ms(lambda: call(b), runs)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--source", choices=("local", "api"), default="local")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--skip-incremental", action="store_true", help="do not write the store (no step 3)")
    ap.add_argument("--keep", help="put the replica in this folder and keep it (default: a temporary one)")
    args = ap.parse_args()

    store = demo_store(args.url, args.products)
    url = store.url.render_as_string(hide_password=False)
    store.dispose()
    source, stop = (local_source if args.source == "local" else api_source)(url)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="api_sync_"))
    folder.mkdir(parents=True, exist_ok=True)
    replica = Replica(folder / "replica.sqlite")
    table: list[tuple[str, str, str]] = []
    try:
        (folder / "replica.sqlite").unlink(missing_ok=True)
        replica.db  # noqa: B018 - the schema made outside the timings (a one-off of a new profile)
        print(f"source: {args.source}; replica: {replica.path}", flush=True)

        fetch1, rows = fetch_only(source)
        print(f"  fetch only (run 1): {rows:,} rows in {fetch1:.1f} s", flush=True)
        sync_s, report = timed_sync(replica, source)
        synced = sum(report.upserted.values())
        print(f"  initial sync: {synced:,} rows in {sync_s:.1f} s ({report.pages} pages)", flush=True)
        fetch2, rows2 = fetch_only(source)
        print(f"  fetch only (run 2): {rows2:,} rows in {fetch2:.1f} s", flush=True)
        fetch = min(fetch1, fetch2)
        size = replica.path.stat().st_size / 1e6
        table += [("fetch only (faster of 2)", f"{fetch:.1f} s", f"{rows / fetch:,.0f} rows/s"),
                  ("initial sync", f"{sync_s:.1f} s", f"{synced / sync_s:,.0f} rows/s, {size:,.0f} MB"),
                  ("sync / fetch", f"{sync_s / fetch:.2f}x", "target ≤ 1.5x")]
        nothing_s, nothing = timed_sync(replica, source)
        table.append(("sync, nothing changed", f"{nothing_s * 1000:.0f} ms", f"{nothing.rows} rows"))

        if not args.skip_incremental:
            started = time.perf_counter()
            changeset, changed = change_one_percent(source)
            print(f"  1% of prices changed: {changed:,} variants in {time.perf_counter() - started:.1f} s", flush=True)
            inc_s, inc = timed_sync(replica, source)
            started = time.perf_counter()
            source.changesets.revert(changeset)
            print(f"  reverted in {time.perf_counter() - started:.1f} s", flush=True)
            back_s, back = timed_sync(replica, source)
            table += [(f"incremental, 1% changed ({inc.upserted['variants']:,} variants)", f"{inc_s:.2f} s",
                       "target ≤ 2 s"),
                      (f"incremental, the revert ({back.upserted['variants']:,} variants)", f"{back_s:.2f} s", "")]

        from backoffice.db import Database
        direct_db = Database(url)
        actor = ensure_user(direct_db, "bench")
        direct = LocalOperations(direct_db, actor)
        local = LocalOperations(replica.db, actor)
        try:
            for label, ms_replica, ms_direct in grid_reads(local, direct, args.runs):
                table.append((f"{label}: replica / direct", f"{ms_replica:.1f} / {ms_direct:.1f} ms",
                              f"{ms_replica / ms_direct:.2f}x (target ≤ 1.2x)"))
        finally:
            local.close()
            direct.close()
            direct_db.dispose()
    finally:
        replica.close()
        stop()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    width = max(len(r[0]) for r in table)
    print()
    print(f"{'':<{width}}  {'time':>22}  note")
    for label, value, note in table:
        print(f"{label:<{width}}  {value:>22}  {note}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
