"""Shared set-up for the benchmarks: a demo store on PostgreSQL, built once and reused.

``demo_store(url, products, seed)`` returns a ``Database`` for ``bench_store_<products>_<seed>`` on the
server of ``url``, creating and filling it with the demo generator when it does not exist yet or when
its schema is older than this version (so the slow build happens once, not per benchmark).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, make_url, text  # noqa: E402

from backoffice import migrations  # noqa: E402
from backoffice.db import Database  # noqa: E402
from backoffice.services.demo import generate_demo  # noqa: E402
from backoffice.services.users import ensure_user  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def demo_store(url: str = DEFAULT_URL, products: int = 100_000, seed: int = 42) -> Database:
    name = f"bench_store_{products}_{seed}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    target = make_url(url).set(drivername="postgresql+psycopg", database=name)
    if exists:
        db = Database(target)
        if migrations.current_revision(db) == migrations.head_revision() and db.has_table("products"):
            with db.engine.connect() as c:
                if c.scalar(text("SELECT count(*) FROM products")) == products:
                    admin.dispose()
                    return db
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db = Database(target)
    migrations.upgrade(db)
    started = time.perf_counter()
    print(f"building the demo store ({products:,} products) in {name} …", flush=True)
    generate_demo(db, ensure_user(db, "bench"), products=products, seed=seed)
    with db.engine.connect() as c:
        c.execute(text("COMMIT"))
    with create_engine(target, isolation_level="AUTOCOMMIT").connect() as c:
        c.execute(text("VACUUM ANALYZE"))
    print(f"  built in {time.perf_counter() - started:.1f} s", flush=True)
    return db


def timed(label: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:<58}{seconds:9.3f} s", flush=True)
    return result, seconds
