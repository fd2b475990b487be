"""Benchmark: the whole variants change feed read through the store API against the raw SQL page read it
wraps.

    python benchmarks/feed.py [--url URL] [--products 100000] [--page 5000] [--repeat 3] [--gzip]

Runs on a private copy of the shared demo store (see scratch.py; about 10 variants a product, every one
in the change log since the generator's COPY went through the log's triggers), dropped at the end.

- **API**: ``backoffice serve`` (uvicorn) in a process of its own on a free loopback port, and an httpx
  client in this process signed in as a manager: ``GET /v1/changes/variants?limit=PAGE&cursor=…`` from
  the beginning until ``has_more`` is false, each body parsed as JSON. The server reads each page with one
  statement (the log's range scan after the cursor, the rows joined by id, options packed), shapes each
  row and writes the JSON. Without ``--gzip`` the client asks for no compression (loopback: compressing
  only costs); with it, the usual ``Accept-Encoding: gzip``.
- **Raw**: the same statement (``change_feed.page_statement``, compiled for psycopg, one row more than the
  page as the service asks) on one open psycopg connection, with the same keyset, rows fetched as tuples.

Both paths walk in lockstep, page by page from the same position (raw, then API), so a change in the
machine's load touches both; the row counts of every page must agree.

Prints rows/s of both per repeat (with the share of the API's time the client spends parsing JSON), and
``API/raw`` of the median rows/s (target ≥ 0.5x).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from common import DEFAULT_URL
from scratch import scratch_store

from backoffice.db import Database
from backoffice.models import Role
from backoffice.services import change_feed, users
from backoffice.services.users import ensure_user

PASSWORD = "feed benchmark password"
KIND = "variants"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(url: str, port: int) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("backoffice")
    proc = subprocess.Popen([str(exe), "serve", "--db", url, "--host", "127.0.0.1", "--port", str(port),
                             "--rate-limit", "0", "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"backoffice serve exited with {proc.returncode}")
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("backoffice serve did not answer /health within 60 s")


def walk_both(base: str, dsn: str, sql: str, page: int, gzip: bool) -> dict[str, float]:
    """Walk the feed from the beginning with both paths in lockstep, page by page from the same position
    (the machine's load moves during a run; each page is timed raw, then through the API, so a busy
    moment touches both). Returns the rows, pages and seconds of each path (and of the client's parse)."""
    with httpx.Client(base_url=base, timeout=600) as c, psycopg.connect(dsn, autocommit=True) as conn:
        r = c.post("/v1/auth/token", json={"username": "feed-bench", "password": PASSWORD})
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['access_token']}",
                   "Accept-Encoding": "gzip" if gzip else "identity"}
        c.get(f"/v1/changes/{KIND}", params={"limit": 1}, headers=headers).raise_for_status()   # warm both
        conn.execute(sql, {"txid": 0, "seq": 0, "limit": 1}).fetchall()
        out = {"rows": 0, "pages": 0, "raw": 0.0, "api": 0.0, "parse": 0.0}
        txid = seq = 0
        cursor: str | None = None
        while True:
            # raw: the statement as the service runs it (one row more than the page, to tell has_more)
            started = time.perf_counter()
            got = conn.execute(sql, {"txid": txid, "seq": seq, "limit": page + 1}).fetchall()
            more = len(got) > page
            got = got[:page]
            out["raw"] += time.perf_counter() - started
            if got:
                txid, seq = got[-1][0], got[-1][1]
            # API: the same page over HTTP, parsed
            params: dict[str, str | int] = {"limit": page}
            if cursor:
                params["cursor"] = cursor
            started = time.perf_counter()
            r = c.get(f"/v1/changes/{KIND}", params=params, headers=headers)
            r.raise_for_status()
            parse_started = time.perf_counter()
            body = r.json()
            out["parse"] += time.perf_counter() - parse_started
            out["api"] += time.perf_counter() - started
            if len(body["rows"]) != len(got) or body["has_more"] != more:
                raise SystemExit(f"page {out['pages'] + 1}: the API returned {len(body['rows'])} rows, the raw read "
                                 f"{len(got)}")
            out["rows"] += len(got)
            out["pages"] += 1
            cursor = body["next_cursor"]
            if not more:
                return out


def prepare(db: Database) -> None:
    bench = ensure_user(db, "bench")
    users.create_user(db, bench, "feed-bench", Role.MANAGER, password=PASSWORD)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--products", type=int, default=100_000)
    ap.add_argument("--page", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--gzip", action="store_true", help="let the client ask for gzip (the default of httpx)")
    args = ap.parse_args()
    # Build the shared store (when needed) in a process of its own, which closes every connection to it
    # when it exits: the copy below needs the store to have no connections.
    subprocess.run([sys.executable, "-c", f"from common import demo_store; demo_store({args.url!r}, {args.products})"],
                   cwd=Path(__file__).resolve().parent, check=True)
    with scratch_store(args.url, args.products) as db:
        prepare(db)
        url = db.url.render_as_string(hide_password=False)
        dsn = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with db.engine.connect() as conn:
            logged = conn.exec_driver_sql("SELECT count(*) FROM change_log WHERE entity = 'variants'").scalar()
            variants = conn.exec_driver_sql("SELECT count(*) FROM variants").scalar()
        print(f"{variants:,} variants, {logged:,} variant changes logged; pages of {args.page:,}", flush=True)
        sql = str(change_feed.page_statement(db, KIND).compile(dialect=db.engine.dialect))
        port = free_port()
        server = start_server(url, port)
        try:
            api_rates, raw_rates = [], []
            for run in range(1, args.repeat + 1):
                w = walk_both(f"http://127.0.0.1:{port}", dsn, sql, args.page, args.gzip)
                rows, pages = w["rows"], w["pages"]
                raw_rates.append(rows / w["raw"])
                api_rates.append(rows / w["api"])
                print(f"run {run}: {rows:,} rows in {pages} pages: raw {w['raw']:.2f} s ({rows / w['raw']:,.0f} rows/s, "
                      f"{w['raw'] / pages * 1000:.0f} ms/page); API {w['api']:.2f} s ({rows / w['api']:,.0f} rows/s, "
                      f"{w['api'] / pages * 1000:.0f} ms/page, of which the client's JSON parse "
                      f"{w['parse'] / pages * 1000:.0f} ms); API/raw {w['raw'] / w['api']:.2f}x", flush=True)
            api, raw = statistics.median(api_rates), statistics.median(raw_rates)
            print(f"median rows/s: API {api:,.0f}, raw {raw:,.0f}")
            print(f"ratio API/raw: {api / raw:.2f}x (rows/s, medians; target ≥ 0.5x)"
                  f"{' with gzip' if args.gzip else ''}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
