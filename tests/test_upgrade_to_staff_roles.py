"""``backoffice db upgrade`` brings a database made by the previous schema (revision 0013) to the staff
roles model without losing anything: the rows, the ledger and the audit stay as they were, the grants
and the posting function are in place, and the store keeps working."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

from backoffice import migrations
from backoffice.db import Database
from backoffice.models import Role
from backoffice.services import inventory, users
from backoffice.services.base import Actor
from tests.conftest import PG_ENV

pytestmark = pytest.mark.postgres

TABLES = ("users", "products", "variants", "locations", "stock_levels", "stock_operations", "stock_moves",
          "audit_log", "change_log")


@pytest.fixture
def old_database(pg_server_url: str) -> Iterator[str]:
    admin = make_url(os.environ[PG_ENV]).set(drivername="postgresql+psycopg")
    name = f"bo_upgrade_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    yield url
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _fill_at_0013(conn) -> None:  # type: ignore[no-untyped-def]
    """What the store held under revision 0013, written as that schema's statements (the models of this
    version describe the new schema)."""
    conn.exec_driver_sql("""
        INSERT INTO users (id, username, display_name, role, active, failed_logins, version, created_at, updated_at)
        VALUES (1, 'owner', 'Owner', 'admin', true, 0, 1, now(), now()),
               (2, 'wendy', 'Wendy', 'warehouse', true, 0, 1, now(), now());
        INSERT INTO products (id, handle, title, vendor, product_type, status, description, version, created_at, updated_at)
        VALUES (1, 'crew', 'Crew', 'Norda', 'Tops', 'active', '', 1, now(), now());
        INSERT INTO variants (id, product_id, sku, price, status, version, created_at, updated_at)
        VALUES (1, 1, 'CR-S', 10, 'active', 1, now(), now()), (2, 1, 'CR-M', 10, 'active', 1, now(), now());
        INSERT INTO locations (id, code, name, kind, active, version, created_at, updated_at)
        VALUES (1, 'SUP', 'Suppliers', 'supplier', true, 1, now(), now()),
               (2, 'WH1', 'Main', 'warehouse', true, 1, now(), now()),
               (3, 'SHOP', 'Shop', 'store', true, 1, now(), now());
        SELECT setval(pg_get_serial_sequence(t, 'id'), 10) FROM unnest(array['users', 'products', 'variants', 'locations']) t;
    """)
    lines = json.dumps([{"n": 1, "v": 1, "f": 1, "t": 2, "q": 30}, {"n": 2, "v": 2, "f": 1, "t": 2, "q": 12}])
    conn.exec_driver_sql("SELECT bo_post_moves('old-receipt', 'receipt', 'PO-1', '', 1, 'owner', %(l)s::jsonb, false)",
                         {"l": lines})
    lines = json.dumps([{"n": 1, "v": 1, "f": 2, "t": 3, "q": 5}])
    conn.exec_driver_sql("SELECT bo_post_moves('old-transfer', 'transfer', 'TR-1', '', 2, 'wendy', %(l)s::jsonb, false)",
                         {"l": lines})


def _snapshot(db: Database) -> dict[str, list]:
    with db.engine.connect() as conn:
        return {t: [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1")] for t in TABLES}


def test_upgrading_a_database_made_by_the_previous_head_loses_nothing(old_database: str) -> None:
    db = Database(old_database)
    try:
        assert migrations.upgrade(db, "0013") == (None, "0013")
        with db.engine.begin() as conn:
            _fill_at_0013(conn)
        before = _snapshot(db)
        assert len(before["stock_moves"]) == 3 and len(before["audit_log"]) == 2

        assert migrations.upgrade(db) == ("0013", migrations.head_revision())

        after = _snapshot(db)
        for table in TABLES:
            widened = [row[:len(before[table][0])] for row in after[table]] if before[table] else after[table]
            assert widened == before[table], table          # every row as it was (new columns at the end)
        assert inventory.ledger_mismatches(db) == []
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT prosecdef FROM pg_proc WHERE proname = 'bo_post_moves'").scalar() is True
            assert conn.exec_driver_sql("SELECT has_table_privilege('backoffice_warehouse', 'stock_levels', 'UPDATE')"
                                        ).scalar() is False
            assert conn.exec_driver_sql("SELECT has_table_privilege('backoffice_manager', 'audit_log', 'SELECT')").scalar()
        # the store works on: a post after the upgrade, by the account of before
        wendy = Actor(2, "wendy", Role.WAREHOUSE)
        done = inventory.post_moves(db, wendy, operation_id="new-transfer", reason="transfer",
                                    lines=[{"variant_id": 1, "from_location_id": 2, "to_location_id": 3, "quantity": 4}])
        assert done.levels == {(1, 2): 21, (1, 3): 9}
        assert inventory.ledger_mismatches(db) == []
        # and an upgrade run again changes nothing
        settled = _snapshot(db)
        assert migrations.upgrade(db) == (migrations.head_revision(), migrations.head_revision())
        assert _snapshot(db) == settled and len(settled["stock_moves"]) == 4
        assert users.list_users(db)[0]["username"] == "owner"
    finally:
        db.dispose()
