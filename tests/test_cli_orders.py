"""``backoffice orders|returns|customers …`` end to end, and the same flow through the store API."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import Customer
from backoffice.services import inventory, orders
from tests.test_orders import assert_sound, level, stock, store_order


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def run(db: Database, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--user", "tester", *args, "--db", url_of(db)])


def ok(result):  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output + (result.stderr if result.stderr_bytes else "")
    return result.output


def test_process_fulfil_return_from_the_command_line(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    stock(db, actor, store, WH1={"MC-S": 4, "MC-M": 1})
    oid = store_order(db, store, [("MC-S", 3), ("MC-M", 2)], number="SO-77")
    out = ok(run(db, "orders", "process"))
    assert out.startswith("1 new orders processed: 4 units reserved, 0 refused") and "1 units wait for stock" in out
    assert "0 new orders processed: 0 units reserved" in ok(run(db, "orders", "process"))     # once only
    shown = json.loads(ok(run(db, "orders", "show", "SO-77", "--json")))
    assert shown["state"] == "open" and [ln["fulfilled"] for ln in shown["lines"]] == [0, 0]
    listed = json.loads(ok(run(db, "orders", "list", "--state", "open", "--json")))
    assert listed["count"] == 1 and listed["orders"][0]["waiting"] == 1

    args = ("orders", "fulfil", "SO-77", "--from", "WH1", "--line", "MC-S=2", "--carrier", "DHL", "--tracking", "JD1",
            "--op-id", "cli-ship-1", "--json")
    first = json.loads(ok(run(db, *args)))
    again = json.loads(ok(run(db, *args)))
    assert first["state"] == again["state"] == "partially_fulfilled" and len(again["shipments"]) == 1
    assert level(db, store, "MC-S", "WH1") == (2, 1)
    too_many = run(db, "orders", "fulfil", "SO-77", "--from", "WH1", "--line", "MC-S=5")
    assert too_many.exit_code != 0 and "MC-S: 4 more units than SO-77 has left" in too_many.output + too_many.stderr

    rma = json.loads(ok(run(db, "returns", "authorise", "SO-77", "--line", "MC-S=1", "--damaged", "MC-S=1",
                            "--reason", "defective", "--refund", "119.98", "--json")))
    assert rma["state"] == "authorised" and [ln["condition"] for ln in rma["lines"]] == ["restock", "damaged"]
    got = json.loads(ok(run(db, "returns", "receive", rma["number"], "--at", "SHOP", "--op-id", "rcv", "--json")))
    assert got["state"] == "received" and level(db, store, "MC-S", "SHOP") == (1, 0)
    assert "refunded" in ok(run(db, "returns", "refund", rma["number"], "refunded"))

    cancelled = json.loads(ok(run(db, "orders", "cancel", "SO-77", "--reason", "out of stock", "--json")))
    assert cancelled["state"] == "fulfilled" and cancelled["cancel_reason"] == "out of stock"
    assert level(db, store, "MC-S", "WH1") == (2, 0) and level(db, store, "MC-M", "WH1") == (1, 0)
    assert "Reserved stock equals" in ok(run(db, "orders", "check"))
    assert_sound(db)
    assert orders.get_order(db, oid).lines[0].returned == 2


def test_settings_and_customers_from_the_command_line(db: Database, actor, store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = ok(run(db, "orders", "settings", "--shortage", "refuse", "--channel", "pos=SHOP", "--no-split"))
    assert "pos → SHOP" in out and "refused" in out and "one location per line" in out
    assert orders.get_settings(db).channel_locations == {"pos": store.locations["SHOP"]}
    bad = run(db, "orders", "settings", "--channel", "pos=SUP")
    assert bad.exit_code != 0 and "not an active warehouse or store" in bad.output + bad.stderr

    with db.write() as session:
        session.add(Customer(email="mia@example.com", name="Mia Berg", country="SE", age_band="25-34"))
    with db.read() as session:
        cid = session.scalar(select(Customer.id))
    listed = json.loads(ok(run(db, "customers", "list", "--search", "berg", "--json")))
    assert listed["count"] == 1 and listed["customers"][0]["name"] == "Mia Berg"
    assert "+46 70" in ok(run(db, "customers", "edit", str(cid), "--set", "phone=+46 70 123"))
    target = tmp_path / "mia.json"
    ok(run(db, "customers", "export", str(cid), str(target)))
    assert json.loads(target.read_text(encoding="utf-8"))["customer"]["phone"] == "+46 70 123"
    ok(run(db, "customers", "erase", str(cid), "--yes"))
    shown = json.loads(ok(run(db, "customers", "show", str(cid), "--json")))
    assert shown["email"] == "" and shown["name"] == "" and shown["erased_at"]


@pytest.fixture
def served(pg_db: Database):  # type: ignore[no-untyped-def]
    from backoffice.server import create_app_for_url
    from tests.api_support import add_staff, start_server

    add_staff(pg_db)
    running, stop = start_server(create_app_for_url(url_of(pg_db), rate=10_000, burst=10_000))
    yield running
    stop()


@pytest.mark.postgres
def test_orders_through_the_store_api(pg_db: Database, served) -> None:  # type: ignore[no-untyped-def]  # type: ignore[no-untyped-def]
    """The remote implementation of the contract: the warehouse processes and ships, a merchandiser may
    read orders but not ship them, and a retried shipment under the same key ships once."""
    from backoffice.remote.session import sign_in
    from backoffice.services import users
    from backoffice.services.base import PermissionDenied
    from tests.api_support import PASSWORD
    from tests.conftest import SmallStore

    admin = users.sign_in(pg_db, "admin")
    store = SmallStore(pg_db, admin)
    stock(pg_db, admin, store, WH1={"MC-L": 3})
    oid = store_order(pg_db, store, [("MC-L", 2)], number="SO-API")
    warehouse = sign_in(served.base_url, "warehouse", PASSWORD)
    merch = sign_in(served.base_url, "merchandiser", PASSWORD)
    try:
        result = warehouse.orders.process()
        assert (result.orders, result.reserved_units) == (1, 2)
        info = warehouse.orders.find("SO-API")
        assert info.state == "allocated" and info.lines[0].reservations[0].location == "WH1"
        assert info.lines[0].waiting == 0 and info.lines[0].unit_price == D("59.99")
        shipped = warehouse.orders.fulfil(oid, location_id=store.locations["WH1"], carrier="UPS", op_id="api-ship-1")
        replayed = warehouse.orders.fulfil(oid, location_id=store.locations["WH1"], carrier="UPS", op_id="api-ship-1")
        assert shipped.state == replayed.state == "fulfilled" and len(replayed.shipments) == 1
        assert replayed.shipments[0].carrier == "UPS"
        assert level(pg_db, store, "MC-L", "WH1") == (1, 0)
        assert inventory.ledger_balance(pg_db, store.variant_ids[2], store.locations["CUS"]) == 2
        assert merch.orders.get(oid).total == D("10.00")
        with pytest.raises(PermissionDenied):
            merch.orders.cancel(oid)
        second = store_order(pg_db, store, [("MC-L", 1)], number="SO-API-2")
        warehouse.orders.process()
        with pytest.raises(PermissionDenied):
            merch.orders.fulfil_many(location_id=store.locations["WH1"])
        wave = warehouse.orders.fulfil_many(location_id=store.locations["WH1"], carrier="UPS", op_id="api-wave")
        assert (wave.shipped, wave.units, wave.order_ids, wave.failed) == (1, 1, [second], [])
        assert warehouse.orders.get(second).state == "fulfilled" and level(pg_db, store, "MC-L", "WH1") == (0, 0)
        assert_sound(pg_db)
    finally:
        warehouse.close()
        merch.close()


def test_ship_everything_reserved_at_a_location_order_by_order(db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    """``orders fulfil --all-reserved``: one shipment per order holding units at the location, the units
    that are reserved there and no others; a rerun with the same --op-id ships nothing twice; an order
    that cannot ship is named and the others go on."""
    stock(db, actor, store, WH1={"MC-S": 4, "MC-M": 2}, SHOP={"MC-L": 3})
    a = store_order(db, store, [("MC-S", 2), ("MC-M", 1)], number="SO-A")
    b = store_order(db, store, [("MC-S", 2), ("MC-L", 1)], number="SO-B")     # MC-L only at SHOP
    c = store_order(db, store, [("MC-L", 2)], number="SO-C")                   # nothing at WH1
    orders.process_orders(db, actor)
    args = ("orders", "fulfil", "--all-reserved", "--from", "WH1", "--carrier", "DHL", "--op-id", "wave-1", "--json")
    first = json.loads(ok(run(db, *args)))
    assert first == {"shipped": 2, "units": 5, "skipped": 0, "failed": []}
    assert level(db, store, "MC-S", "WH1") == (0, 0) and level(db, store, "MC-M", "WH1") == (1, 0)
    assert level(db, store, "MC-L", "SHOP") == (3, 3)                      # SO-B's and SO-C's units stay put
    states = {o: orders.get_order(db, o).state for o in (a, b, c)}
    assert states == {a: "fulfilled", b: "partially_fulfilled", c: "allocated"}
    assert [s.carrier for s in orders.get_order(db, a).shipments] == ["DHL"]
    assert json.loads(ok(run(db, *args))) == {"shipped": 0, "units": 0, "skipped": 0, "failed": []}   # none left there
    # the same wave id over the same orders again: each recognised as shipped, nothing moves
    again = orders.fulfil_many(db, actor, location_id=store.locations["WH1"], order_ids=[a, b], operation_id="wave-1")
    assert (again.shipped, again.skipped, again.failed) == (0, 2, [])
    # an order with nothing reserved at the location is reported; the others ship
    mixed = orders.fulfil_many(db, actor, location_id=store.locations["SHOP"], order_ids=[a, c, b], operation_id="wave-2")
    assert (mixed.shipped, mixed.units, mixed.order_ids) == (2, 3, [c, b])
    assert mixed.failed == [("SO-A", "SO-A state: is fulfilled: nothing to ship")]
    assert level(db, store, "MC-L", "SHOP") == (0, 0)
    bad = run(db, "orders", "fulfil", "SO-A", "--all-reserved", "--from", "WH1")
    assert bad.exit_code == 2 and "give no REF" in bad.output
    assert_sound(db)
