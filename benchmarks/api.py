"""Benchmark: the store API under concurrent clients: grid pages, single-variant PATCHes, the change feed.

    python benchmarks/api.py [--url URL] [--products 100000] [--clients 16] [--seconds 15]
                             [--pages 5] [--skip-feed]

Runs on a private copy of the shared demo store (see scratch.py; about 10 variants a product: 100k
products is about 1M variants), dropped at the end. The server is ``backoffice serve``'s app
(``create_app_for_url`` with rate limits out of the way) on uvicorn, in a process of its own on a free
loopback port. Each client is a process of its own with an ``httpx.Client`` (keep-alive), signed in through
``POST /v1/auth/token`` before anything is timed.

1. **Grid pages**: ``--clients`` clients each read ``GET /v1/catalog/variants?limit=100`` pages for
   ``--seconds``: an order picked at random among the index-backed ones (sort key and direction), its
   first page, then up to ``--pages`` further pages through ``next_cursor``, then another order. Every
   response must be a 200 with 100 rows. Prints p50/p90/p99/max latency and pages/s; target p99 < 50 ms
   at 1M variants. One client alone is measured first, to tell the page's own time from queueing. The
   stock order (a sum over locations per variant, which no index holds) is timed on its own.
2. **Single-variant PATCHes**: the same number of clients, each with variants of its own (none shared),
   ``PATCH /v1/variants/{id}`` with a new price and ``If-Match`` the variant's ETag (from the previous
   answer), for ``--seconds``. Every answer must be a 200; the variants' versions in the database must
   have gone up by exactly the number of PATCHes. Prints PATCHes/s (target 1,000/s) and latencies.
3. **The floor**: the same clients, in the same run, against a bare FastAPI app on the same uvicorn
   (no database, no sign-in) that answers every grid page with the bytes of a real one and every PATCH
   with a real variant: what this machine's HTTP stack and clients allow at most. Prints the app's
   figures against it.
4. **Where the CPU goes**: for each load, the processor time of the clients' processes, the server
   process and PostgreSQL's processes per request, and what that allows on this machine's CPUs (a closed
   loop of N clients that never pause waits at least N ÷ throughput per request: Little's law).
5. **Change feed**, when the app has ``/v1/changes/variants`` and benchmarks/feed.py is there: the whole
   variants feed through the API against the raw SQL page read it wraps, with feed.py's own walk (the
   same measure as feed.py, pages of 5,000); prints rows/s of both and API/raw (target ≥ 0.5x).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

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
SORTS = ("id", "price", "sku", "title", "updated_at", "vendor")      # index-backed (migration 0012)
UNINDEXED_SORTS = ("stock",)
GRID_P99_TARGET_MS = 50.0
PATCH_TARGET_PER_S = 1000.0
FEED_TARGET = 0.5

SERVER = textwrap.dedent("""
    import sys, uvicorn
    from backoffice.server import create_app_for_url
    app = create_app_for_url(sys.argv[1], rate=1e9, burst=10**9)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
""")
# The floor: the same framework and server answering canned bytes (a real page, a real variant).
FLOOR = textwrap.dedent("""
    import sys, uvicorn
    from fastapi import FastAPI, Request, Response
    page, variant = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
    app = FastAPI()

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.get("/v1/catalog/variants")
    def grid(request: Request):
        return Response(page, media_type="application/json")

    @app.patch("/v1/variants/{variant_id}")
    def patch(variant_id: int, body: dict, request: Request):
        version = int(request.headers["if-match"].strip('"')) + 1
        return Response(variant, media_type="application/json", headers={"ETag": f'"{version}"'})

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning", access_log=False)
""")


# -- the server ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, program: str = SERVER, *args: str) -> tuple[subprocess.Popen, str]:
    """The store API's app (or another program: the floor) on uvicorn in a process of its own; returns
    it and its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", program, *((url,) if url else args), str(port)],
                            stdout=subprocess.DEVNULL)
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


def signed_in(base: str, floor: bool = False) -> httpx.Client:
    """A keep-alive client with the benchmark user's access token (no compression: loopback); the
    floor's clients send a token too, which the floor ignores."""
    client = httpx.Client(base_url=base, timeout=60, headers={"Accept-Encoding": "identity"})
    if floor:
        client.headers["Authorization"] = "Bearer floor"
        return client
    r = client.post("/v1/auth/token", json={"username": USERNAME, "password": PASSWORD})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


# -- where the CPU goes ----------------------------------------------------------------------------------
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK        # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@dataclass
class Cpu:
    """Processor seconds used during a load by the clients (this process and its children), the server
    and PostgreSQL."""

    clients: float = 0.0
    server: float = 0.0
    database: float = 0.0

    backends: dict[int, float] = field(default_factory=dict)   # PostgreSQL's processes: pid -> seconds

    @classmethod
    def now(cls, server_pid: int) -> Cpu:
        t = os.times()                  # this process and its ended children (the clients)
        backends = {p: _proc_cpu(p) for p in _postgres_pids()}
        return cls(t.user + t.system + t.children_user + t.children_system, _proc_cpu(server_pid),
                   sum(backends.values()), backends)

    def since(self, before: Cpu) -> Cpu:
        # PostgreSQL's processes come and go: count each one's time since it was first seen (a process that
        # ended in between is missed; the server's pool keeps its connections, so there are few).
        database = sum(t - before.backends.get(p, 0.0) for p, t in self.backends.items())
        return Cpu(self.clients - before.clients, self.server - before.server, database)

    def line(self, requests: int, clients: int, what: str) -> str:
        per = [1000 * x / max(1, requests) for x in (self.clients, self.server, self.database)]
        total = sum(per)
        cpus = os.cpu_count() or 1
        most = 1000 * cpus / total if total else float("inf")
        return (f"  CPU per {what}: clients {per[0]:.2f} ms, server {per[1]:.2f} ms, PostgreSQL {per[2]:.2f} ms "
                f"= {total:.2f} ms; {cpus} CPUs allow at most {most:,.0f} {what}s/s, so {clients} clients that "
                f"never pause wait at least {1000 * clients / most:.1f} ms per {what} on average (Little's law)")


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


@dataclass
class Load:
    tally: Tally
    wall: float
    cpu: Cpu

    @property
    def rate(self) -> float:
        return len(self.tally.latencies) / self.wall

    @property
    def p99_ms(self) -> float:
        return percentile(self.tally.latencies, 99) * 1000


def run_clients(base: str, server_pid: int, clients: int, seconds: float,
                work: Callable[[int, httpx.Client, float, list[float], list[str]], None], *,
                floor: bool = False) -> Load:
    """``clients`` processes (like as many desktops: no client waits for another's turn at this
    interpreter's lock), each signed in, run ``work(index, client, until, latencies, errors)`` for
    ``seconds``, all starting together; returns the tally, the wall time of the timed part and the CPU
    used (the clients' processes counted once they have ended)."""
    context = multiprocessing.get_context("fork")       # the work functions are closures: not pickled
    ready = context.Barrier(clients + 1)
    results = context.Queue()

    def body(index: int) -> None:
        mine: list[float] = []
        errors: list[str] = []
        try:
            client = signed_in(base, floor)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"client {index}: could not sign in: {exc}")
            client = None
        ready.wait()
        if client is not None:
            try:
                work(index, client, time.perf_counter() + seconds, mine, errors)
            except Exception as exc:  # noqa: BLE001  (a client's failure is reported, not a hang)
                errors.append(f"client {index}: {type(exc).__name__}: {exc}")
            client.close()
        results.put((mine, errors))

    procs = [context.Process(target=body, args=(i,), daemon=True) for i in range(clients)]
    for proc in procs:
        proc.start()
    before = Cpu.now(server_pid)
    ready.wait()
    started = time.perf_counter()
    tally = Tally()
    for _ in procs:
        tally.add(*results.get())
    wall = time.perf_counter() - started
    for proc in procs:
        proc.join()
    return Load(tally, wall, Cpu.now(server_pid).since(before))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def latency_line(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"p50 {percentile(ms, 50):6.1f} ms  p90 {percentile(ms, 90):6.1f} ms  p99 {percentile(ms, 99):6.1f} ms  "
            f"max {max(ms):6.1f} ms  mean {statistics.fmean(ms):6.1f} ms")


# -- 1. grid pages ---------------------------------------------------------------------------------------
def grid_work(pages: int, sorts: tuple[str, ...] = SORTS) -> Callable[..., None]:
    def work(index: int, client: httpx.Client, until: float, latencies: list[float], errors: list[str]) -> None:
        rng = random.Random(index)
        client.get("/v1/catalog/variants", params={"limit": PAGE}).raise_for_status()    # warm, not timed
        while time.perf_counter() < until:
            params: dict[str, str | int] = {"limit": PAGE, "sort": rng.choice(sorts),
                                            "descending": rng.choice(("true", "false"))}
            for _ in range(1 + pages):
                started = time.perf_counter()
                r = client.get("/v1/catalog/variants", params=params)
                latencies.append(time.perf_counter() - started)
                body = r.json() if r.status_code == 200 else {}
                if r.status_code != 200 or len(body["rows"]) != PAGE:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                cursor = body["next_cursor"]
                if not cursor or time.perf_counter() >= until:
                    break
                params["cursor"] = cursor

    return work


def report(label: str, load: Load, clients: int, what: str) -> None:
    if load.tally.errors:
        raise SystemExit(f"{label} failed:\n" + "\n".join(load.tally.errors[:10]))
    print(f"{label} ({clients} clients, {load.wall:.1f} s): {len(load.tally.latencies):,} {what}s, "
          f"{load.rate:,.0f}/s", flush=True)
    print(f"  {latency_line(load.tally.latencies)}", flush=True)
    print(load.cpu.line(len(load.tally.latencies), clients, what), flush=True)


def grid_pages(base: str, server_pid: int, clients: int, seconds: float, pages: int) -> Load:
    load = run_clients(base, server_pid, clients, seconds, grid_work(pages))
    report(f"grid pages ({PAGE} rows, sorts {'/'.join(SORTS)})", load, clients, "page")
    p99 = load.p99_ms
    print(f"  p99 / target: {p99:.1f} / {GRID_P99_TARGET_MS:.0f} ms = {p99 / GRID_P99_TARGET_MS:.2f}x "
          f"({'met' if p99 < GRID_P99_TARGET_MS else 'NOT met'})", flush=True)
    return load


def unindexed_pages(base: str, pages: int) -> None:
    """The orders no index holds, one client, a first page and ``pages`` more each way."""
    client = signed_in(base)
    try:
        for sort in UNINDEXED_SORTS:
            times = []
            for descending in ("false", "true"):
                params: dict[str, str | int] = {"limit": PAGE, "sort": sort, "descending": descending}
                for _ in range(1 + pages):
                    started = time.perf_counter()
                    r = client.get("/v1/catalog/variants", params=params)
                    times.append(time.perf_counter() - started)
                    r.raise_for_status()
                    if not r.json()["next_cursor"]:
                        break
                    params["cursor"] = r.json()["next_cursor"]
            print(f"grid pages sorted by {sort} (no index: a sum over locations per variant), one client: "
                  f"{latency_line(times)}", flush=True)
    finally:
        client.close()


# -- 2. single-variant PATCHes ---------------------------------------------------------------------------
def patch_work(shares: list[list[Any]]) -> Callable[..., None]:
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

    return work


def patch_shares(db: Database, clients: int) -> tuple[list[Any], list[list[Any]]]:
    per_client = 200
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, version, price FROM variants ORDER BY id LIMIT :n"),
                            {"n": clients * per_client}).all()
    if len(rows) < clients:
        raise SystemExit("too few variants for the PATCH benchmark")
    return rows, [rows[i::clients] for i in range(clients)]     # each client its own variants


def variant_patches(db: Database, base: str, server_pid: int, clients: int, seconds: float) -> Load:
    rows, shares = patch_shares(db, clients)
    before = sum(r.version for r in rows)
    settle(db)
    load = run_clients(base, server_pid, clients, seconds, patch_work(shares))
    report("variant PATCHes with If-Match", load, clients, "PATCH")
    done = len(load.tally.latencies)
    with db.engine.connect() as conn:
        after = conn.execute(text("SELECT sum(version) FROM variants WHERE id = ANY(:ids)"),
                             {"ids": [r.id for r in rows]}).scalar()
    if after - before != done:
        raise SystemExit(f"{done} PATCHes answered 200 but the versions went up by {after - before}")
    print(f"  versions went up by exactly {done:,}", flush=True)
    print(f"  rate / target: {load.rate:,.0f} / {PATCH_TARGET_PER_S:,.0f} per s = "
          f"{load.rate / PATCH_TARGET_PER_S:.2f}x ({'met' if load.rate >= PATCH_TARGET_PER_S else 'NOT met'})",
          flush=True)
    return load


# -- 3. the floor ----------------------------------------------------------------------------------------
def the_floor(db: Database, base: str, clients: int, seconds: float, pages: int,
              grid: Load, patches: Load) -> None:
    """The same loads against canned answers on the same framework and server."""
    sample = signed_in(base)
    try:
        page = sample.get("/v1/catalog/variants", params={"limit": PAGE}).content
        first = patch_shares(db, 1)[0][0]
        variant = sample.get(f"/v1/variants/{first.id}").content
    finally:
        sample.close()
    with tempfile.TemporaryDirectory() as tmp:
        page_file, variant_file = Path(tmp, "page.json"), Path(tmp, "variant.json")
        page_file.write_bytes(page)
        variant_file.write_bytes(variant)
        proc, floor_base = start_server("", FLOOR, str(page_file), str(variant_file))
        try:
            g = run_clients(floor_base, proc.pid, clients, seconds, grid_work(pages), floor=True)
            report("floor: canned grid pages, no database", g, clients, "page")
            p = run_clients(floor_base, proc.pid, clients, seconds, patch_work(patch_shares(db, clients)[1]),
                            floor=True)
            report("floor: canned PATCH answers, no database", p, clients, "PATCH")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"  the app against the floor: grid pages/s {grid.rate / g.rate:.2f}x, p99 {grid.p99_ms / g.p99_ms:.2f}x "
          f"(floor p99 {g.p99_ms:.1f} ms); PATCHes/s {patches.rate / p.rate:.2f}x (floor {p.rate:,.0f}/s)", flush=True)


# -- 4. the change feed ----------------------------------------------------------------------------------
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
    ap.add_argument("--seconds", type=float, default=15.0, help="timed seconds of each load")
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
            alone = grid_pages(base, server.pid, 1, min(args.seconds, 5.0), args.pages)   # no queueing
            grid = grid_pages(base, server.pid, args.clients, args.seconds, args.pages)
            unindexed_pages(base, 2)
            patches = variant_patches(db, base, server.pid, args.clients, args.seconds)
            the_floor(db, base, args.clients, args.seconds, args.pages, grid, patches)
            ratio = None if args.skip_feed else change_feed(db, base)
        finally:
            server.terminate()
            server.wait(timeout=30)
        p99 = grid.p99_ms
        print(f"summary at {variants:,} variants: grid p99 {p99:.1f} ms with {args.clients} clients (target < "
              f"{GRID_P99_TARGET_MS:.0f} ms, {p99 / GRID_P99_TARGET_MS:.2f}x of it; one client alone p99 "
              f"{alone.p99_ms:.1f} ms); PATCH {patches.rate:,.0f}/s (target {PATCH_TARGET_PER_S:,.0f}/s, "
              f"{patches.rate / PATCH_TARGET_PER_S:.2f}x of it)"
              + ("" if ratio is None else f"; feed API/raw {ratio:.2f}x (target ≥ {FEED_TARGET}x)"), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
