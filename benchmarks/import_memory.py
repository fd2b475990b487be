"""Benchmark: peak memory of checking (dry run) a 2M-row product CSV, which must not grow with the file.

    python benchmarks/import_memory.py [--rows 2000000] [--per-product 10] [--url URL] [--keep DIR]

Writes a native CSV of ``--rows`` rows (products of ``--per-product`` variants: handle, title, vendor,
sku, price; about 37 bytes a row), then in a fresh Python process reads it with
``read_products_file`` and checks it with ``dry_run`` against an empty store (SQLite in a temporary
folder, or the PostgreSQL database of ``--url``, whose products must not use the benchmark's SKUs), and
prints the process's peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) next to the
same figure for a file of a tenth of the rows and for the process before reading anything. Target:
< 500 MB for 2M rows. The rows are held in a temporary SQLite file (rows.py) and checked in chunks of
50,000, so the peak is set by the chunk, not by the file.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HEADER = ["handle", "title", "vendor", "sku", "price"]
VENDORS = ["Atlas Outfitters", "Norda", "Harbour Goods", "Fjell & Co"]

CHILD = r"""
import json, resource, sys, time
start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
from backoffice.db import Database
from backoffice.services import importexport as ie
db = Database(sys.argv[2])
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
parsed = ie.read_products_file(sys.argv[1], max_bytes=1 << 40)
t1 = time.perf_counter()
report = ie.dry_run(db, parsed)
t2 = time.perf_counter()
print(json.dumps({"start_kb": start, "imported_kb": imported,
                  "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "read_s": t1 - t0, "check_s": t2 - t1, "rows": report.rows, "counts": report.counts(),
                  "problems": report.problem_count, "spilled": parsed.store.spilled}))
"""


def write_file(path: Path, rows: int, per_product: int = 10) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        for i in range(rows):
            p = i // per_product
            first = i % per_product == 0
            w.writerow([f"mem-{p:07d}", f"Memory Tee {p}" if first else "", VENDORS[p % 4] if first else "",
                        f"MEM-{p:07d}-{i % per_product}", f"{19 + p % 80}.{i % 10}9"])
    return path


def measure(path: Path, url: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), url], check=True, capture_output=True, text=True,
                         cwd=str(Path(__file__).resolve().parents[1]))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--per-product", type=int, default=10, help="variants per product (1: every row a product)")
    ap.add_argument("--url", default=None, help="a database to check against (default: a new SQLite store)")
    ap.add_argument("--keep", default=None, help="folder for the files (default: a temporary one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_import_memory_") as tmp:
        folder = Path(args.keep or tmp)
        url = args.url
        if url is None:
            from backoffice import migrations
            from backoffice.db import Database

            url = f"sqlite:///{folder / 'store.sqlite'}"
            migrations.upgrade(Database(url))
        results = []
        for rows in (args.rows // 10, args.rows):
            started = time.perf_counter()
            path = write_file(folder / f"products-{rows}.csv", rows, args.per_product)
            print(f"{rows:,} rows: {path.stat().st_size / 1e6:.1f} MB written in {time.perf_counter() - started:.1f} s")
            r = measure(path, url)
            results.append((rows, r))
            print(f"  read {r['read_s']:.1f} s, dry run {r['check_s']:.1f} s: {r['counts']}; "
                  f"{r['problems']:,} problems; rows spilled to disk: {r['spilled']}")
            print(f"  peak memory {r['peak_kb'] / 1024:.0f} MB (the process with the app imported: "
                  f"{r['imported_kb'] / 1024:.0f} MB)")
            path.unlink()
        (small, rs), (big, rb) = results
        print(f"peak memory: {rs['peak_kb'] / 1024:.0f} MB for {small:,} rows, {rb['peak_kb'] / 1024:.0f} MB for "
              f"{big:,} rows (target < 500 MB): {'met' if rb['peak_kb'] < 500 * 1024 else 'NOT met'}")


if __name__ == "__main__":
    main()
