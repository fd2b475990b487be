"""``backoffice purchasing …`` end to end with click's CliRunner: suggestions and drafts (twice: once),
suppliers and items, a purchase order sent, received in part with an operation id, and errors as one
line with a non-zero exit."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import Order, OrderLine, PurchaseOrder
from backoffice.services import inventory, replenishment, suppliers
from backoffice.services.replenishment import ReplenishmentSettings

TODAY = dt.date(2026, 6, 30)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, db: Database, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(main, ["--user", "tester", *args, "--db", db.engine.url.render_as_string(hide_password=False)])


@pytest.fixture
def shop(db: Database, actor, store):  # type: ignore[no-untyped-def]
    sup = suppliers.create_supplier(db, actor, {"name": "Norda Knits", "currency": "EUR", "email": "o@norda.test"}).entity_id
    for vid in store.variant_ids[:2]:
        suppliers.upsert_item(db, actor, supplier_id=sup, variant_id=vid,
                              values={"unit_cost": "10.00", "min_order_qty": 10, "pack_size": 5, "lead_time_days": 7,
                                      "preferred": True})
    # store orders not shipped yet: demand on the units ordered
    replenishment.save_settings(db, actor, ReplenishmentSettings(window_days=28, half_life_days=7.0,
                                                                 demand_basis="ordered"))
    with db.write() as s:
        for back in range(1, 29):
            day = TODAY - dt.timedelta(days=back)
            o = Order(number=f"SO-{back}", ordered_at=dt.datetime(day.year, day.month, day.day, 9, tzinfo=dt.UTC),
                      total=Decimal("1.00"))
            s.add(o)
            s.flush()
            s.add(OrderLine(order_id=o.id, variant_id=store.variant_ids[0], quantity=3, unit_price=Decimal("1.00")))
    return sup


def test_suggest_and_create_drafts_once(runner: CliRunner, db: Database, actor, store, shop) -> None:  # type: ignore[no-untyped-def]
    listed = run(runner, db, "purchasing", "suggest", "--as-of", TODAY.isoformat())
    assert listed.exit_code == 0, listed.output + listed.stderr
    assert "MC-S" in listed.output and "Norda Knits" in listed.output and "3.00" in listed.output
    as_json = json.loads(run(runner, db, "purchasing", "suggest", "--as-of", TODAY.isoformat(), "--format", "json").output)
    [row] = as_json
    assert (row["sku"], row["reorder_point"], row["order_up_to"], row["quantity"]) == ("MC-S", 21, 63, 65)
    created = run(runner, db, "purchasing", "suggest", "--as-of", TODAY.isoformat(), "--create-drafts", "--location", "WH1")
    assert created.exit_code == 0 and "PO-000001 created: 1 line(s) from Norda Knits for WH1" in created.output
    again = run(runner, db, "purchasing", "suggest", "--as-of", TODAY.isoformat(), "--create-drafts")
    assert again.exit_code == 0 and "Nothing to reorder." in again.output and "No draft purchase orders needed" in again.output
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 1


def test_purchase_order_from_the_command_line(runner: CliRunner, db: Database, actor, store, shop) -> None:  # type: ignore[no-untyped-def]
    a = store.variant_ids[0]
    wh = store.locations["WH1"]
    assert "Norda Knits" in run(runner, db, "purchasing", "suppliers").output
    items = run(runner, db, "purchasing", "items", "--supplier", "norda knits")
    assert items.exit_code == 0 and "* MC-S" in items.output and "10.00 EUR" in items.output
    made = run(runner, db, "purchasing", "po", "create", "--supplier", "Norda Knits", "--to", "WH1", "--line", "MC-S=10",
               "--json")
    assert made.exit_code == 0, made.output + made.stderr
    number = json.loads(made.output)["number"]
    sent = run(runner, db, "purchasing", "po", "send", number)
    assert sent.exit_code == 0 and "sent" in sent.output
    first = run(runner, db, "purchasing", "po", "receive", number, "--line", "MC-S=4", "--op-id", "rcv-1")
    retry = run(runner, db, "purchasing", "po", "receive", number, "--line", "MC-S=4", "--op-id", "rcv-1")
    assert first.exit_code == retry.exit_code == 0
    assert "partial" in first.output and "nothing moved" in retry.output
    assert inventory.on_hand(db, a, wh) == 4
    over = run(runner, db, "purchasing", "po", "receive", number, "--line", "MC-S=7")
    assert over.exit_code == 1 and over.stderr.count("\n") == 1
    assert "7 received but only 6 outstanding" in over.stderr and inventory.on_hand(db, a, wh) == 4
    done = run(runner, db, "purchasing", "po", "receive", number, "--line", "MC-S=7", "--over")
    assert done.exit_code == 0 and "received" in done.output and inventory.on_hand(db, a, wh) == 11
    assert run(runner, db, "purchasing", "po", "close", number).exit_code == 0
    listing = run(runner, db, "purchasing", "po", "list")
    assert number in listing.output and "closed" in listing.output
    bad = run(runner, db, "purchasing", "po", "create", "--supplier", "Norda Knits", "--to", "WH1", "--line", "MC-L=3")
    assert bad.exit_code == 1 and "has no supplier item for MC-L" in bad.stderr and bad.stderr.count("\n") == 1
    edit = run(runner, db, "purchasing", "po", "cancel", number)
    assert edit.exit_code == 1 and "cancelling needs draft or sent" in edit.stderr


def test_export_and_items(runner: CliRunner, db: Database, actor, store, shop, tmp_path) -> None:  # type: ignore[no-untyped-def]
    item = run(runner, db, "purchasing", "item", "--supplier", "Norda Knits", "--sku", "MC-L", "--cost", "4.20",
               "--pack", "3")
    assert item.exit_code == 0 and "added" in item.output
    made = run(runner, db, "purchasing", "po", "create", "--supplier", "1", "--to", "WH1", "--line", "MC-L=3", "--json")
    number = json.loads(made.output)["number"]
    out = tmp_path / "po.pdf"
    assert run(runner, db, "purchasing", "po", "export", number, str(out)).exit_code == 0
    assert out.read_bytes()[:5] == b"%PDF-"
    missing = run(runner, db, "purchasing", "po", "show", "PO-999999")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_settings_and_overrides(runner: CliRunner, db: Database, actor, store, shop) -> None:  # type: ignore[no-untyped-def]
    shown = run(runner, db, "purchasing", "settings", "--service-level", "0.99", "--review", "7", "--fulfilment", "WH1")
    assert shown.exit_code == 0, shown.output + shown.stderr
    assert "Service level 99.0% (z = 2.326)" in shown.output and "review period 7 days" in shown.output
    assert replenishment.get_settings(db).fulfilment_location_id == store.locations["WH1"]
    assert "Demand: units ordered, where they are reserved or shipped." in shown.output
    shipped = run(runner, db, "purchasing", "settings", "--demand-basis", "fulfilled")
    assert shipped.exit_code == 0 and "Demand: units shipped, where they left from." in shipped.output
    assert replenishment.get_settings(db).demand_basis == "fulfilled"
    # the shop's orders were never shipped: nothing sold on that basis
    rows = json.loads(run(runner, db, "purchasing", "suggest", "--as-of", TODAY.isoformat(), "--format", "json").output)
    assert rows == []
    assert run(runner, db, "purchasing", "settings", "--demand-basis", "ordered").exit_code == 0
    wrong = run(runner, db, "purchasing", "settings", "--demand-basis", "shipped")
    assert wrong.exit_code != 0 and replenishment.get_settings(db).demand_basis == "ordered"
    over = run(runner, db, "purchasing", "override", "--sku", "MC-M", "--location", "WH1", "--reorder-point", "4",
               "--order-up-to", "9")
    assert over.exit_code == 0 and "reorder point 4, order up to 9" in over.output
    rows = json.loads(run(runner, db, "purchasing", "suggest", "--as-of", TODAY.isoformat(), "--format", "json").output)
    mc_m = next(r for r in rows if r["sku"] == "MC-M")
    assert (mc_m["reorder_point"], mc_m["order_up_to"], mc_m["reorder_point_override"], mc_m["quantity"]) == (4, 9, True, 10)
    bad = run(runner, db, "purchasing", "override", "--sku", "MC-M", "--location", "WH1", "--reorder-point", "9",
              "--order-up-to", "4")
    assert bad.exit_code == 1 and "below the reorder point" in bad.stderr


def test_suggest_table_totals_and_confirmation(runner: CliRunner, db: Database, actor, store, shop,
                                               monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from backoffice.cli import purchasing as cli_purchasing

    day = TODAY.isoformat()
    listed = run(runner, db, "purchasing", "suggest", "--as-of", day)
    assert listed.exit_code == 0, listed.output + listed.stderr
    assert re.search(r"^MC-S +Merino Crew +WH1 ", listed.output, re.M)   # the product title beside the SKU
    assert "Totals by supplier:" in listed.output
    assert "Norda Knits" in listed.output and "1 lines" in listed.output and "650.00 EUR" in listed.output
    assert "Total: 1 lines, 65 units, 650.00 EUR" in listed.output
    # on a terminal it asks first; "no" writes nothing
    monkeypatch.setattr(cli_purchasing, "_interactive", lambda: True)
    declined = runner.invoke(main, ["--user", "tester", "purchasing", "suggest", "--as-of", day, "--create-drafts",
                                    "--db", db.engine.url.render_as_string(hide_password=False)], input="n\n")
    assert declined.exit_code == 0, declined.output
    assert "To write: 1 draft order(s), 1 line(s), 65 units, 650.00 EUR." in declined.output
    assert "Create these draft orders?" in declined.output and "Nothing written." in declined.output
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 0
    # --yes does not ask; a script (no terminal) is never asked either
    yes = run(runner, db, "purchasing", "suggest", "--as-of", day, "--create-drafts", "--yes")
    assert yes.exit_code == 0 and "Create these draft orders?" not in yes.output
    assert "Written: 1 draft order(s), 1 line(s), 65 units, 650.00 EUR." in yes.output
    monkeypatch.setattr(cli_purchasing, "_interactive", lambda: False)
    again = run(runner, db, "purchasing", "suggest", "--as-of", day, "--create-drafts")
    assert again.exit_code == 0 and "No draft purchase orders needed" in again.output
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 1


def test_flagged_lines_in_the_table(runner: CliRunner, db: Database, actor, store, shop) -> None:  # type: ignore[no-untyped-def]
    """A line ordering more days of cover than the setting is marked and explained in the table."""
    assert run(runner, db, "purchasing", "settings", "--max-cover", "10").exit_code == 0
    listed = run(runner, db, "purchasing", "suggest", "--as-of", TODAY.isoformat())
    assert "flag: orders 22 days of demand (more than 10): the order-up-to level asks for it" in listed.output
    rows = json.loads(run(runner, db, "purchasing", "suggest", "--as-of", TODAY.isoformat(), "--format", "json").output)
    assert rows[0]["cover_days"] == pytest.approx(65 / 3, abs=0.1) and rows[0]["flag"]


def test_every_write_replays_with_its_operation_id(runner: CliRunner, db: Database, actor, store, shop) -> None:  # type: ignore[no-untyped-def]
    from backoffice.models import AuditEntry, Supplier, SupplierItem

    def twice(*args: str) -> tuple:  # type: ignore[type-arg]
        first, second = run(runner, db, *args), run(runner, db, *args)
        assert first.exit_code == 0, first.output + first.stderr
        assert second.exit_code == 0, second.output + second.stderr
        return first, second

    def count(model) -> int:  # type: ignore[no-untyped-def]
        with db.read() as s:
            return s.scalar(select(func.count()).select_from(model))

    a, second = twice("purchasing", "supplier-add", "--name", "Tessuti", "--currency", "EUR", "--op-id", "sup-1")
    assert "nothing written" in second.output and count(Supplier) == 2
    assert a.output.split(" (")[0] == second.output.split(" (")[0]        # "Supplier Tessuti added (id N)"
    _, second = twice("purchasing", "item", "--supplier", "Tessuti", "--sku", "MC-L", "--cost", "3.00", "--op-id", "it-1")
    assert "nothing written" in second.output and count(SupplierItem) == 3
    _, second = twice("purchasing", "override", "--sku", "MC-L", "--location", "WH1", "--reorder-point", "2",
                      "--op-id", "ov-1")
    assert "reorder point 2" in second.output and "nothing written" in second.output
    _, second = twice("purchasing", "settings", "--review", "3", "--op-id", "set-1")
    assert "review period 3 days" in second.output and "Already saved" in second.output
    made, second = twice("purchasing", "po", "create", "--supplier", "Tessuti", "--to", "WH1", "--line", "MC-L=6",
                         "--op-id", "po-1", "--json")
    assert json.loads(made.output)["number"] == json.loads(second.output)["number"]
    assert json.loads(second.output)["replayed"] and count(PurchaseOrder) == 1
    number = json.loads(made.output)["number"]
    _, second = twice("purchasing", "po", "send", number, "--op-id", "send-1")
    assert "sent" in second.output and "nothing written" in second.output
    _, second = twice("purchasing", "po", "receive", number, "--all", "--op-id", "rcv-all")
    assert "received" in second.output and "nothing moved" in second.output
    assert inventory.on_hand(db, store.variant_ids[2], store.locations["WH1"]) == 6
    _, second = twice("purchasing", "po", "close", number, "--op-id", "close-1")
    assert "closed" in second.output and "nothing written" in second.output
    other, _ = twice("purchasing", "po", "create", "--supplier", "Tessuti", "--to", "WH1", "--line", "MC-L=1",
                     "--op-id", "po-2", "--json")
    _, second = twice("purchasing", "po", "cancel", json.loads(other.output)["number"], "--op-id", "cancel-1")
    assert "cancelled" in second.output and "nothing written" in second.output
    with db.read() as s:   # each step audited once
        actions = [a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.entity == "purchase_order"))]
    assert sorted(actions) == ["cancel", "close", "create", "create", "receive", "send"]
    # an id used for another step is refused, not silently replayed
    wrong = run(runner, db, "purchasing", "po", "cancel", number, "--op-id", "send-1")
    assert wrong.exit_code == 1 and "already used for purchase_order.send" in wrong.stderr
