"""Benchmark: the store API under concurrent clients: grid pages, single-variant PATCHes, the change feed.

    python benchmarks/api.py [--url URL] [--products 100000] [--clients 16] [--seconds 15]
                             [--pages 5] [--skip-feed]

Runs on a private copy of the shared demo store (see scratch.py; about 10 variants a product: 100k
products is about 1M variants), dropped at the end. The server is ``backoffice serve``'s app
(``create_app_for_url`` with rate limits out of the way) on uvicorn, in a process of its own on a free
loopback port. Each client is a thread with its own ``httpx.Client`` (keep-alive), signed in through
``POST /v1/auth/token`` before anything is timed.

1. **Grid pages**: ``--clients`` clients each read ``GET /v1/catalog/variants?limit=100`` pages for
   ``--seconds``: an order picked at random (sort key and direction), its first page, then up to
   ``--pages`` further pages through ``next_cursor``, then another order. Every response must be a 200
   with 100 rows. Prints p50/p90/p99/max latency and pages/s; target p99 < 50 ms at 1M variants. One
   client alone is measured first (a few seconds), to tell the page's own time from queueing.
2. **Single-variant PATCHes**: the same number of clients, each with variants of its own (none shared),
   ``PATCH /v1/variants/{id}`` with a new price and ``If-Match`` the variant's ETag (from the previous
   answer), for ``--seconds``. Every answer must be a 200; the variants' versions in the database must
   have gone up by exactly the number of PATCHes. Prints PATCHes/s (target 1,000/s) and latencies.
3. **Change feed**, when the app has ``/v1/changes/variants`` and benchmarks/feed.py is there: the whole
   variants feed through the API against the raw SQL page read it wraps, with feed.py's own walk (the
   same measure as feed.py, pages of 5,000); prints rows/s of both and API/raw (target ≥ 0.5x).
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx
from common import DEFAULT_URL
from scratch import scratch_store, settle
from sqlalchemy import text

from backoffice.db import Database
from backoffice.models import Role
from backoffice.services import users
from backoffice.services.users import ensure_user

USERNAME = "api-bench"
PASSWORD = "api benchmark password"
PAGE = 100
SORTS = ("id", "price", "sku", "title", "updated_at", "stock", "vendor")
GRID_P99_TARGET_MS = 50.0
PATCH_TARGET_PER_S = 1000.0
FEED_TARGET = 0.5

SERVER = textwrap.dedent("""
    import sys, uvicorn
    from backoffice.server import create_app_for_url
    app = create_app_for_url(sys.argv[1], rate=1e9, burst=10**9)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
""")


# -- the server ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str) -> tuple[subprocess.Popen, str]:
    """The store API's app on uvicorn in a process of its own; returns it and its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port)], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("the server did not answer /health within 60 s")


def signed_in(base: str) -> httpx.Client:
    """A keep-alive client with the benchmark user's access token (no compression: loopback)."""
    client = httpx.Client(base_url=base, timeout=60, headers={"Accept-Encoding": "identity"})
    r = client.post("/v1/auth/token", json={"username": USERNAME, "password": PASSWORD})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


# -- running clients -------------------------------------------------------------------------------------
@dataclass
class Tally:
    """What the clients measured: latency of each timed request, and anything unexpected."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: list[float], errors: list[str]) -> None:
        with self.lock:
            self.latencies.extend(seconds)
            self.errors.extend(errors)


def run_clients(base: str, clients: int, seconds: float,
                work: Callable[[int, httpx.Client, float, list[float], list[str]], None]) -> tuple[Tally, float]:
    """``clients`` threads, each signed in, run ``work(index, client, until, latencies, errors)`` until
    ``until`` (all start together); returns the tally and the wall time of the timed part."""
    sessions = [signed_in(base) for _ in range(clients)]
    tally = Tally()
    ready = threading.Barrier(clients + 1)
    until: list[float] = []

    def body(index: int) -> None:
        mine: list[float] = []
        errors: list[str] = []
        ready.wait()
        try:
            work(index, sessions[index], until[0], mine, errors)
        except Exception as exc:  # noqa: BLE001  (a client's failure is reported, not a hang)
            errors.append(f"client {index}: {type(exc).__name__}: {exc}")
        tally.add(mine, errors)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    until.append(time.perf_counter() + seconds)
    started = time.perf_counter()
    ready.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    for s in sessions:
        s.close()
    return tally, wall


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def latency_line(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"p50 {percentile(ms, 50):6.1f} ms  p90 {percentile(ms, 90):6.1f} ms  p99 {percentile(ms, 99):6.1f} ms  "
            f"max {max(ms):6.1f} ms  mean {statistics.fmean(ms):6.1f} ms")


# -- 1. grid pages ---------------------------------------------------------------------------------------
def grid_pages(base: str, clients: int, seconds: float, pages: int) -> float:
    def work(index: int, client: httpx.Client, until: float, latencies: list[float], errors: list[str]) -> None:
        rng = random.Random(index)
        client.get("/v1/catalog/variants", params={"limit": PAGE}).raise_for_status()    # warm, not timed
        while time.perf_counter() < until:
            params: dict[str, str | int] = {"limit": PAGE, "sort": rng.choice(SORTS),
                                            "descending": rng.choice(("true", "false"))}
            for _ in range(1 + pages):
                started = time.perf_counter()
                r = client.get("/v1/catalog/variants", params=params)
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200 or len(r.json()["rows"]) != PAGE:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                cursor = r.json()["next_cursor"]
                if not cursor or time.perf_counter() >= until:
                    break
                params["cursor"] = cursor

    tally, wall = run_clients(base, clients, seconds, work)
    if tally.errors:
        raise SystemExit("grid pages failed:\n" + "\n".join(tally.errors[:10]))
    p99 = percentile(tally.latencies, 99) * 1000
    print(f"grid pages ({PAGE} rows, {clients} clients, {wall:.1f} s): {len(tally.latencies):,} pages, "
          f"{len(tally.latencies) / wall:,.0f} pages/s", flush=True)
    print(f"  {latency_line(tally.latencies)}", flush=True)
    print(f"  p99 / target: {p99:.1f} / {GRID_P99_TARGET_MS:.0f} ms = {p99 / GRID_P99_TARGET_MS:.2f}x "
          f"({'met' if p99 < GRID_P99_TARGET_MS else 'NOT met'})", flush=True)
    return p99


# -- 2. single-variant PATCHes ---------------------------------------------------------------------------
def variant_patches(db: Database, base: str, clients: int, seconds: float) -> float:
    per_client = 200
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, version, price FROM variants ORDER BY id LIMIT :n"),
                            {"n": clients * per_client}).all()
    if len(rows) < clients:
        raise SystemExit("too few variants for the PATCH benchmark")
    before = sum(r.version for r in rows)
    shares = [rows[i::clients] for i in range(clients)]     # each client its own variants

    def work(index: int, client: httpx.Client, until: float, latencies: list[float], errors: list[str]) -> None:
        mine = [[r.id, r.version, Decimal(r.price)] for r in shares[index]]
        n = 0
        while time.perf_counter() < until:
            variant = mine[n % len(mine)]
            n += 1
            variant[2] = variant[2] + Decimal("0.01") if variant[2] < Decimal("9000") else Decimal("1.00")
            started = time.perf_counter()
            r = client.patch(f"/v1/variants/{variant[0]}", json={"price": f"{variant[2]:.2f}"},
                             headers={"If-Match": f'"{variant[1]}"'})
            latencies.append(time.perf_counter() - started)
            if r.status_code != 200:
                errors.append(f"variant {variant[0]}: {r.status_code} {r.text[:200]}")
                return
            variant[1] = int(r.headers["etag"].strip('"'))

    settle(db)
    tally, wall = run_clients(base, clients, seconds, work)
    if tally.errors:
        raise SystemExit("PATCHes failed:\n" + "\n".join(tally.errors[:10]))
    done = len(tally.latencies)
    with db.engine.connect() as conn:
        after = conn.execute(text("SELECT sum(version) FROM variants WHERE id = ANY(:ids)"),
                             {"ids": [r.id for r in rows]}).scalar()
    if after - before != done:
        raise SystemExit(f"{done} PATCHes answered 200 but the versions went up by {after - before}")
    rate = done / wall
    print(f"variant PATCHes with If-Match ({clients} clients, {wall:.1f} s): {done:,} PATCHes, "
          f"{rate:,.0f}/s (versions up by exactly {done:,})", flush=True)
    print(f"  {latency_line(tally.latencies)}", flush=True)
    print(f"  rate / target: {rate:,.0f} / {PATCH_TARGET_PER_S:,.0f} per s = {rate / PATCH_TARGET_PER_S:.2f}x "
          f"({'met' if rate >= PATCH_TARGET_PER_S else 'NOT met'})", flush=True)
    return rate


# -- 3. the change feed ----------------------------------------------------------------------------------
def change_feed(db: Database, base: str) -> float | None:
    paths = httpx.get(f"{base}/openapi.json", timeout=30).json()["paths"]
    if not any(p.startswith("/v1/changes/") for p in paths):
        print("change feed: the app has no /v1/changes/variants; skipped", flush=True)
        return None
    try:
        import feed  # the feed's own benchmark: the same walks, the same measure
    except ImportError:
        print("change feed: benchmarks/feed.py is not there; skipped", flush=True)
        return None
    from backoffice.services import change_feed as feed_service

    feed.prepare(db)
    sql = str(feed_service.page_statement(db, feed.KIND).compile(dialect=db.engine.dialect))
    dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    page = 5000
    if hasattr(feed, "walk_both"):          # both paths in lockstep, page by page (it checks the counts)
        walked = feed.walk_both(base, dsn, sql, page, False)
        api_rows = raw_rows = int(walked["rows"])
        api_s, raw_s = walked["api"], walked["raw"]
    elif hasattr(feed, "raw_walk") and hasattr(feed, "api_walk"):
        raw_rows, raw_s, _ = feed.raw_walk(dsn, sql, page)
        api_rows, api_s, _ = feed.api_walk(base, page, False)
    else:
        print("change feed: benchmarks/feed.py has no walk this script knows; skipped", flush=True)
        return None
    if api_rows != raw_rows:
        raise SystemExit(f"the feed API returned {api_rows:,} rows, the raw read {raw_rows:,}")
    api, raw = api_rows / api_s, raw_rows / raw_s
    print(f"change feed (variants, pages of {page:,}): {api_rows:,} rows; API {api:,.0f} rows/s, "
          f"raw SQL {raw:,.0f} rows/s", flush=True)
    print(f"  API / raw: {api / raw:.2f}x (target ≥ {FEED_TARGET}x: {'met' if api / raw >= FEED_TARGET else 'NOT met'})",
          flush=True)
    return api / raw


def prepare(db: Database) -> None:
    bench = ensure_user(db, "bench")
    users.create_user(db, bench, USERNAME, Role.MERCHANDISER, password=PASSWORD)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=15.0, help="timed seconds of each of the two loads")
    ap.add_argument("--pages", type=int, default=5, help="pages followed through next_cursor per order")
    ap.add_argument("--skip-feed", action="store_true")
    args = ap.parse_args()
    # Build the shared store (when needed) in a process of its own, which closes every connection to it
    # when it exits: the copy below needs the store to have no connections.
    subprocess.run([sys.executable, "-c", f"from common import demo_store; demo_store({args.url!r}, {args.products})"],
                   cwd=Path(__file__).resolve().parent, check=True)
    with scratch_store(args.url, args.products) as db:
        prepare(db)
        with db.engine.connect() as conn:
            variants = conn.execute(text("SELECT count(*) FROM variants")).scalar()
        print(f"{variants:,} variants; {args.clients} clients; {os.cpu_count()} CPUs", flush=True)
        server, base = start_server(db.url.render_as_string(hide_password=False))
        try:
            grid_pages(base, 1, min(args.seconds, 5.0), args.pages)    # one client alone: no queueing
            p99 = grid_pages(base, args.clients, args.seconds, args.pages)
            rate = variant_patches(db, base, args.clients, args.seconds)
            ratio = None if args.skip_feed else change_feed(db, base)
        finally:
            server.terminate()
            server.wait(timeout=30)
        print(f"summary at {variants:,} variants: grid p99 {p99:.1f} ms (target < {GRID_P99_TARGET_MS:.0f} ms, "
              f"{p99 / GRID_P99_TARGET_MS:.2f}x of it); PATCH {rate:,.0f}/s (target {PATCH_TARGET_PER_S:,.0f}/s, "
              f"{rate / PATCH_TARGET_PER_S:.2f}x of it)"
              + ("" if ratio is None else f"; feed API/raw {ratio:.2f}x (target ≥ {FEED_TARGET}x)"), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
