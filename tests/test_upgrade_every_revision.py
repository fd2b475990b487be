"""``backoffice db upgrade`` brings a populated database at *every* earlier revision to head without
losing anything, on PostgreSQL and on SQLite.

One walker database climbs the revisions one at a time (read from the script directory, so a new
migration is covered as soon as it exists). At each revision R it gets a slice of a store written as R's
schema has it (products with variants, locations, stock moves with their levels, users, the audit,
suppliers and purchase orders, reports, orders… whatever tables R has, only R's columns), then a copy of
it at R is upgraded to head by the command line and checked:

- every row of every table R had is still there with the same values in R's columns (the change feed
  and the row audit may gain rows: migrations and their data updates write to them, never remove);
- the stock levels equal the ledger's sums;
- the store works: stock is received through the inventory service and a price edited through the
  operations, as the account made at R;
- ``db current`` says head, and ``db upgrade`` run again changes nothing.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from backoffice import migrations
from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import Role
from backoffice.operations.catalog import RowChange
from backoffice.operations.session import operations_for
from backoffice.services import inventory
from backoffice.services.base import Actor
from tests.schema_support import all_revisions, counts_of, event_window, fill_slice, pg_databases, rows_of, table_columns

pytestmark = pytest.mark.slow

# Tables migrations may add rows to (a feed backfilled, the row audit of a migration's data update):
# their rows from before stay, more may come.
GROWING = {"change_log", "row_audit"}
RECEIVED = 4


Derived = Callable[[dict[str, list[int]], int], dict[str, Any]]


def _slice(token: str) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Derived]]:
    """What one revision's slice holds beyond what the schema alone decides."""
    overrides = {
        "users": [{"username": f"owner{token}", "role": "admin", "active": True}],
        "locations": [{"code": f"SUP{token}", "kind": "supplier"}, {"code": f"WH{token}", "kind": "warehouse"},
                      {"code": f"SHOP{token}", "kind": "store"}],
        "products": [{"handle": f"crew-{token}", "title": f"Crew {token}", "status": "active"}],
        "variants": [{"sku": f"CR-{token}-S", "price": Decimal("10.00"), "status": "active"},
                     {"sku": f"CR-{token}-M", "price": Decimal("12.00"), "status": "active"}],
        "stock_operations": [{"operation_id": f"receipt-{token}", "reason": "receipt"},
                             {"operation_id": f"transfer-{token}", "reason": "transfer"}],
        "stock_moves": [{"quantity": 30}, {"quantity": 12}, {"quantity": 5}],
        "stock_levels": [{"on_hand": 30 - 5}, {"on_hand": 12}, {"on_hand": 5}],
        "price_events": [event_window()],
    }

    def moves(ids: dict[str, list[int]], n: int) -> dict[str, Any]:
        """Two receipts (supplier -> warehouse), then a transfer of the first variant to the shop."""
        sup, wh, shop = ids["locations"]
        v0, v1 = ids["variants"]
        receipt, transfer = ids["stock_operations"]
        return [{"variant_id": v0, "from_location_id": sup, "to_location_id": wh, "operation_pk": receipt},
                {"variant_id": v1, "from_location_id": sup, "to_location_id": wh, "operation_pk": receipt},
                {"variant_id": v0, "from_location_id": wh, "to_location_id": shop, "operation_pk": transfer}][n]

    def levels(ids: dict[str, list[int]], n: int) -> dict[str, Any]:
        _, wh, shop = ids["locations"]
        v0, v1 = ids["variants"]
        return [{"variant_id": v0, "location_id": wh}, {"variant_id": v1, "location_id": wh},
                {"variant_id": v0, "location_id": shop}][n]

    def transfer(ids: dict[str, list[int]], _n: int) -> dict[str, Any]:
        return {"source_location_id": ids["locations"][1], "destination_location_id": ids["locations"][2]}

    def bundle(ids: dict[str, list[int]], _n: int) -> dict[str, Any]:
        """The second variant is the bundle (the first, which stock is received for below, its component)."""
        return {"variant_id": ids["variants"][1]}

    return overrides, {"stock_moves": moves, "stock_levels": levels, "transfers": transfer, "bundles": bundle}


class Walker:
    """The database that climbs the revisions, and copies of it as it is at one."""

    def __init__(self, url: str, copy: Callable[[], str], drop: Callable[[str], None]) -> None:
        self.url, self._copy, self._drop = url, copy, drop

    def climb_to(self, revision: str) -> None:
        db = Database(self.url)
        try:
            migrations.upgrade(db, revision)
            assert migrations.current_revision(db) == revision
        finally:
            db.dispose()

    def fill(self, revision: str) -> tuple[dict[str, list[str]], dict[str, list[tuple]]]:
        """Add this revision's slice; the tables and columns there, and every row."""
        db = Database(self.url)
        try:
            token = f"r{revision}"
            overrides, derived = _slice(token)
            with db.engine.begin() as conn:
                fill_slice(conn, token, overrides, derived)
            with db.engine.connect() as conn:
                columns = table_columns(conn)
                return columns, rows_of(conn, columns)
        finally:
            db.dispose()

    @contextlib.contextmanager
    def copy(self) -> Iterator[str]:
        url = self._copy()
        try:
            yield url
        finally:
            self._drop(url)


@pytest.fixture
def sqlite_walker(tmp_path: Path) -> Walker:
    path = tmp_path / "walker.sqlite"

    def copy() -> str:
        target = tmp_path / f"copy-{uuid.uuid4().hex[:8]}.sqlite"
        with contextlib.closing(sqlite3.connect(path)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
        return f"sqlite:///{target}"

    def drop(url: str) -> None:
        for end in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + end).unlink(missing_ok=True)

    return Walker(f"sqlite:///{path}", copy, drop)


@pytest.fixture
def pg_walker(pg_server_url: str) -> Iterator[Walker]:
    with pg_databases("bo_walk") as new:
        walker_url = new()
        walker_name = walker_url.rsplit("/", 1)[-1].split("?")[0]
        from tests.schema_support import drop_pg_database

        yield Walker(walker_url, lambda: new(template=walker_name), drop_pg_database)


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, (args, result.output, result.stderr if result.stderr_bytes else "")
    return result.output


def _multiset_contains(after: list[tuple], before: list[tuple]) -> bool:
    return not (Counter(map(repr, before)) - Counter(map(repr, after)))


def _check_upgrade(url: str, revision: str, columns: dict[str, list[str]], before: dict[str, list[tuple]]) -> None:
    head = migrations.head_revision()
    out = _run("--db", url, "db", "upgrade")
    assert f"migrated from {revision} to {head}" in out, out
    assert re.search(rf"database: {head}; application: {head}", _run("--db", url, "db", "current"))

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            kept = rows_of(conn, columns)
        for table in columns:
            if table == "alembic_version":
                continue
            if table in GROWING:
                assert _multiset_contains(kept[table], before[table]), f"{table}: rows lost upgrading from {revision}"
            else:
                assert kept[table] == before[table], f"{table}: rows changed upgrading from {revision}"
        assert inventory.ledger_mismatches(db) == [], revision

        # the store works on, as the account made at this revision
        token = f"r{revision}"
        with db.read() as session:
            from sqlalchemy import text

            user_id = session.execute(text("SELECT id FROM users WHERE username = :u"), {"u": f"owner{token}"}).scalar_one()
            sup, wh = (session.execute(text("SELECT id FROM locations WHERE code = :c"), {"c": c}).scalar_one()
                       for c in (f"SUP{token}", f"WH{token}"))
            variant = session.execute(text("SELECT id FROM variants WHERE sku = :s"), {"s": f"CR-{token}-S"}).scalar_one()
        owner = Actor(user_id, f"owner{token}", Role.ADMIN)
        posted = inventory.post_moves(db, owner, operation_id=f"after-{uuid.uuid4().hex}", reason="receipt",
                                      lines=[{"variant_id": variant, "from_location_id": sup, "to_location_id": wh,
                                              "quantity": RECEIVED}])
        assert posted.levels[(variant, wh)] == 25 + RECEIVED
        assert inventory.ledger_mismatches(db) == []
        ops = operations_for(db, f"owner{token}")
        read = ops.catalog.variant(variant)
        edited = ops.catalog.save_edits([RowChange("variant", variant, read["version"], {"price": Decimal("11.50")},
                                                   {"price": read["price"]})], description="after the upgrade")
        assert edited.conflicts == [] and Decimal(str(ops.catalog.variant(variant)["price"])) == Decimal("11.50")

        # and an upgrade run again changes nothing
        with db.engine.connect() as conn:
            settled_columns = table_columns(conn)
            settled = rows_of(conn, settled_columns)
            settled_counts = counts_of(conn)
    finally:
        db.dispose()
    assert "is up to date" in _run("--db", url, "db", "upgrade")
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            assert table_columns(conn) == settled_columns
            assert counts_of(conn) == settled_counts
            assert rows_of(conn, settled_columns) == settled
    finally:
        db.dispose()


def _walk(walker: Walker) -> dict[str, float]:
    revisions = all_revisions()
    assert revisions[-1] == migrations.head_revision() and len(revisions) >= 2
    took = {}
    for revision in revisions[:-1]:
        started = time.perf_counter()
        walker.climb_to(revision)
        columns, before = walker.fill(revision)
        assert [t for t, rows in before.items() if not rows] == [], f"tables left empty at {revision}"
        with walker.copy() as url:
            _check_upgrade(url, revision, columns, before)
        took[revision] = round(time.perf_counter() - started, 2)
    return took


def test_sqlite_file_at_every_revision_upgrades_to_head_keeping_its_rows(sqlite_walker: Walker) -> None:
    took = _walk(sqlite_walker)
    assert list(took) == all_revisions()[:-1]


@pytest.mark.postgres
def test_postgresql_database_at_every_revision_upgrades_to_head_keeping_its_rows(pg_walker: Walker) -> None:
    took = _walk(pg_walker)
    assert list(took) == all_revisions()[:-1]
