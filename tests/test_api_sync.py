"""The replica of an API profile kept through the store API itself: under a storm of writes by other
clients (through the API and straight into the database), repeated syncs over HTTP end with a replica
that answers every read of the grid and the stock views as the server does, row by row."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.db import Database
from backoffice.operations import ConflictError, LocalOperations, ServiceError
from backoffice.operations.catalog import RowChange
from backoffice.remote.session import sign_in
from backoffice.server import create_app_for_url
from backoffice.services import users
from backoffice.sync.replica import Replica
from tests.api_support import PASSWORD, add_staff, start_server, url_of
from tests.conftest import SmallStore
from tests.test_replica import grid, lists, stock

pytestmark = pytest.mark.postgres


def test_a_storm_of_writers_then_the_replica_synced_over_http_equals_the_server(pg_db: Database,
                                                                                tmp_path: Path) -> None:
    db = pg_db
    add_staff(db)
    admin = users.sign_in(db, "admin")
    store = SmallStore(db, admin)
    direct = LocalOperations(db, admin, owns_database=False)
    for n in range(4):
        direct.catalog.create_product({"handle": f"p{n}", "title": f"P{n}", "status": "active", "vendor": "Norda",
                                       "tags": ["t1"]},
                                      [{"sku": f"P{n}-{s}", "price": "10.00", "options": {"size": s}}
                                       for s in ("S", "M", "L")])
    variant_ids = list(direct.catalog.ordered_ids())
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    direct.adjustments.adjust(wh, {v: 50 for v in variant_ids}, reason="found")
    running, stop_server = start_server(create_app_for_url(url_of(db), rate=10_000, burst=10_000))
    merch = sign_in(running.base_url, "merchandiser", PASSWORD)
    mover = sign_in(running.base_url, "warehouse", PASSWORD)
    reader = sign_in(running.base_url, "purchaser", PASSWORD)
    stop = threading.Event()
    errors: list[BaseException] = []
    writes = [0]

    def api_prices() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            vid = variant_ids[(n * 7) % len(variant_ids)]
            row = merch.catalog.rows_by_id([vid])[vid]
            try:
                result = merch.catalog.save_edits(
                    [RowChange("variant", vid, row.variant_version, {"price": Decimal(f"{n % 90 + 1}.{n % 100:02d}")},
                               {"price": row.price})], description="storm")
                writes[0] += 1 if not result.conflicts else 0
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
                return

    def api_moves() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            vid = variant_ids[(n * 5) % len(variant_ids)]
            there, back = (wh, shop) if n % 2 else (shop, wh)
            try:
                mover.transfers.create_and_ship(source_location_id=there, destination_location_id=back,
                                                lines=[(vid, 1)])
                writes[0] += 1
            except ServiceError:
                pass                    # not enough stock there at the moment: refused, as it must be
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    def direct_edits() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            vid = variant_ids[(n * 3) % len(variant_ids)]
            row = direct.catalog.rows_by_id([vid])[vid]
            try:
                direct.catalog.save_edits([RowChange("variant", vid, row.variant_version,
                                                     {"cost": Decimal(f"{n % 40 + 1}.00")}, {"cost": row.cost})],
                                          description="direct")
                writes[0] += 1
            except ConflictError:
                pass
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    threads = [threading.Thread(target=f) for f in (api_prices, api_moves, direct_edits)]
    replica = Replica(tmp_path / "api.sqlite", page_size=5)
    try:
        for t in threads:
            t.start()
        syncs = 0
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                replica.sync(reader)
                syncs += 1
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        assert not errors, errors
        assert syncs >= 2 and writes[0] > 20
        replica.sync(reader)
        local = LocalOperations(replica.db, reader.actor)
        server = LocalOperations(db, users.sign_in(db, "purchaser"), owns_database=False)
        try:
            expected, got = grid(server), grid(local)
            for key in expected:
                assert got[key] == expected[key], key
            assert stock(local) == stock(server)
            assert lists(local) == lists(server)
        finally:
            local.close()
        assert replica.sync(reader).rows == 0            # nothing more to bring
    finally:
        replica.close()
        for ops in (merch, mover, reader):
            ops.close()
        stop_server()
