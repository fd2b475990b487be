"""Benchmark: ingest of generated 3000x2000 JPEGs (original kept, web version and thumbnail made, rows
and audit written), against a raw Pillow loop doing the same image work in a process pool, in the same run.

    python benchmarks/images.py [--url URL] [--count 1000] [--workers 2]

App path: ``image_matching.plan_upload`` (names matched to products by handle) then ``images.ingest``
(process pool of ``--workers``: read with the checks, hash, decode, EXIF orientation, sRGB, resize to a
2048 px edge, JPEG q85 optimised and progressive, 320 px thumbnail, three files written atomically to the
content-addressed store; then one transaction with the rows, versions and audit) on a scratch PostgreSQL
database made for the run and dropped at the end.
Raw path: the same files through a ``ProcessPoolExecutor`` of the same size doing only the Pillow work
(decode, orient, resize, encode web and thumbnail, hash) and writing the three files to a folder the
same way (temp file, fsync, rename).
The raw loop runs before and after the app path and the faster of the two counts (a busy shared machine
only makes the ratio worse). Files are made from a few distinct photos with a different JPEG comment
each (same decoding work, different content hashes), so making them stays quick. Target: app/raw ≤ 1.2x.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import io
import multiprocessing
import os
import random
import shutil
import struct
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw, ImageOps  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402

from backoffice import migrations  # noqa: E402
from backoffice.db import Database  # noqa: E402
from backoffice.services import catalog, image_matching, images  # noqa: E402
from backoffice.services.image_store import ImageStore  # noqa: E402
from backoffice.services.users import ensure_user  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DISTINCT = 12
PRODUCTS = 50


def base_photos(size: tuple[int, int] = (3000, 2000)) -> list[bytes]:
    rnd = random.Random(5)
    out = []
    for _ in range(DISTINCT):
        im = Image.new("RGB", size, tuple(rnd.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(im)
        for _ in range(60):
            x, y, r = rnd.randrange(size[0]), rnd.randrange(size[1]), rnd.randrange(40, 600)
            draw.ellipse((x, y, x + r, y + r), fill=tuple(rnd.randrange(256) for _ in range(3)))
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=92)
        out.append(buf.getvalue())
    return out


def with_comment(jpeg: bytes, comment: bytes) -> bytes:
    """The same JPEG with a COM segment after SOI: other bytes, same pixels."""
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[2:]


def raw_one(path: str, out_dir: str) -> int:
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (2048, 1365))
    im.load()
    ImageOps.exif_transpose(im, in_place=True)
    im = im.resize(_fit(im.size, 2048), Image.Resampling.LANCZOS, reducing_gap=3.0)
    web = io.BytesIO()
    im.save(web, "JPEG", quality=85, optimize=True, progressive=True)
    thumb_im = im.resize(_fit(im.size, 320), Image.Resampling.LANCZOS, reducing_gap=3.0)
    thumb = io.BytesIO()
    thumb_im.save(thumb, "JPEG", quality=80, optimize=True, progressive=True)
    for name, blob in ((digest, data), (hashlib.sha256(web.getvalue()).hexdigest(), web.getvalue()),
                       (hashlib.sha256(thumb.getvalue()).hexdigest(), thumb.getvalue())):
        tmp = os.path.join(out_dir, f".tmp-{name}")
        with open(tmp, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())   # as durable as the store's files: a crash never leaves half a file
        os.replace(tmp, os.path.join(out_dir, name))
    return len(web.getvalue())


def _fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    scale = min(1.0, edge / max(size))
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def raw_pool(paths: list[str], out_dir: str, workers: int) -> None:
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(raw_one, paths, [out_dir] * len(paths), chunksize=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-images-"))
    name = f"bench_images_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(make_url(args.url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    db: Database | None = None
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db = Database(make_url(args.url).set(drivername="postgresql+psycopg", database=name))
        migrations.upgrade(db)
        actor = ensure_user(db, "bench")
        handles = [f"bench-product-{i}" for i in range(PRODUCTS)]
        for h in handles:
            catalog.create_product(db, actor, values={"handle": h, "title": h}, variants=[{"sku": h.upper(), "price": "1.00"}])

        print(f"making {args.count:,} 3000x2000 JPEGs in {work} …", flush=True)
        photos = base_photos()
        upload_dir = work / "upload"
        upload_dir.mkdir()
        paths = []
        for i in range(args.count):
            path = upload_dir / f"{handles[i % PRODUCTS]}_{i // PRODUCTS + 1}.jpg"
            path.write_bytes(with_comment(photos[i % DISTINCT], f"shot {i}".encode()))
            paths.append(str(path))

        raw_s = time_raw(paths, work / "raw-1", args.workers)
        started = time.perf_counter()
        plan = image_matching.plan_upload(db, [str(upload_dir)])
        assert len(plan.matched) == args.count, plan.counts()
        result = images.ingest(db, actor, plan.matched, store=ImageStore(_fresh(work / "store")), workers=args.workers)
        app_s = time.perf_counter() - started
        assert len(result.added) == args.count, (len(result.added), result.failed[:3])
        print(f"app ingest        {app_s:7.2f} s   {args.count / app_s:6.1f} images/s   "
              f"(web versions save {result.bytes_saved / 1e6:.0f} MB)", flush=True)
        raw_s = min(raw_s, time_raw(paths, work / "raw-2", args.workers))   # the faster raw run counts
        print(f"app/raw = {app_s / raw_s:.2f}x (target ≤ 1.2x)")
    finally:
        if db is not None:
            db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


def time_raw(paths: list[str], out: Path, workers: int) -> float:
    started = time.perf_counter()
    raw_pool(paths, str(_fresh(out)), workers)
    seconds = time.perf_counter() - started
    print(f"raw Pillow pool   {seconds:7.2f} s   {len(paths) / seconds:6.1f} images/s", flush=True)
    return seconds


def _fresh(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    main()
