"""A private copy of the shared demo store for benchmarks that write.

``scratch_store(url, products, seed)`` makes sure the shared ``bench_store_<products>_<seed>`` exists
(see common.demo_store), copies it with ``CREATE DATABASE bench_work_<pid>_<random> TEMPLATE …`` and
yields a ``Database`` for the copy, which is dropped at the end (also on failure or Ctrl-C). The shared
store itself is never written. PostgreSQL refuses the copy while anyone is connected to the template,
so it is retried for a while.

``settle(db)`` runs a CHECKPOINT (not timed) before a timed path, so that no path pays for writing out
the pages the previous one dirtied (100k-row updates dirty a lot; the server would otherwise flush them
in the middle of whichever path comes next).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from common import demo_store
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from backoffice.db import Database

COPY_WAIT_SECONDS = 180


def settle(db: Database) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CHECKPOINT")


@contextmanager
def scratch_store(url: str, products: int = 100_000, seed: int = 42) -> Iterator[Database]:
    shared = demo_store(url, products, seed)
    template = shared.url.database
    shared.dispose()
    name = f"bench_work_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    db: Database | None = None
    try:
        started = time.perf_counter()
        print(f"copying {template} to {name} …", flush=True)
        while True:
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
                break
            except OperationalError as exc:   # "source database is being accessed by other users"
                if "being accessed" not in str(exc) or time.perf_counter() - started > COPY_WAIT_SECONDS:
                    raise
                time.sleep(1.0)
        print(f"  copied in {time.perf_counter() - started:.1f} s", flush=True)
        db = Database(make_url(url).set(drivername="postgresql+psycopg", database=name))
        yield db
    finally:
        if db is not None:
            db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
