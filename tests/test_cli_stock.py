"""``backoffice stock …`` end to end: the same services, plain output, retries that never post twice."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.db import Database
from backoffice.services import inventory
from backoffice.services.inventory import MoveLine


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def run(runner: CliRunner, db: Database, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(main, ["--user", "tester", *args, "--db", url_of(db)])


def test_transfer_lifecycle_from_the_command_line(runner: CliRunner, db: Database, actor, store) -> None:
    a, b = store.variant_ids[:2]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    inventory.post_moves(db, actor, operation_id="in-1", reason="receipt",
                         lines=[MoveLine(a, store.locations["SUP"], wh, 10), MoveLine(b, store.locations["SUP"], wh, 4)])
    runner.invoke(main, ["users", "add", "tester", "--role", "warehouse", "--db", url_of(db)])
    created = run(runner, db, "stock", "transfer", "create", "--from", "wh1", "--to", "SHOP", "--line", "MC-S=6",
                  "--line", "MC-M=2", "--ship", "--op-id", "ship-cli-1", "--json")
    assert created.exit_code == 0, created.output + created.stderr
    data = json.loads(created.output)
    assert data["state"] == "shipped" and [ln["shipped"] for ln in data["lines"]] == [6, 2]
    # the same command retried (say after a timeout): no second transfer, no second shipment
    retried = run(runner, db, "stock", "transfer", "create", "--from", "WH1", "--to", "SHOP", "--line", "MC-S=6",
                  "--line", "MC-M=2", "--ship", "--op-id", "ship-cli-1", "--json")
    assert retried.exit_code == 0 and json.loads(retried.output)["number"] == data["number"]
    assert json.loads(retried.output)["replayed"] is True
    assert inventory.on_hand(db, a, wh) == 4
    partial = run(runner, db, "stock", "transfer", "receive", data["number"], "--line", "MC-S=5", "--op-id", "r1")
    again = run(runner, db, "stock", "transfer", "receive", data["number"], "--line", "MC-S=5", "--op-id", "r1")
    assert partial.exit_code == again.exit_code == 0 and "partial" in partial.output and "nothing moved" in again.output
    assert inventory.on_hand(db, a, shop) == 5
    closed = run(runner, db, "stock", "transfer", "close", data["number"], "--shortfall", "loss", "--reason", "broken")
    assert closed.exit_code == 0 and "closed" in closed.output
    levels = run(runner, db, "stock", "levels", "--location", "SHOP", "--format", "json")
    # MC-M never arrived: its row at SHOP (opened when it shipped) holds nothing
    assert [(r["sku"], r["on_hand"]) for r in json.loads(levels.output)] == [("MC-S", 5), ("MC-M", 0)]
    table = run(runner, db, "stock", "levels", "--location", "WH1")
    assert [line.split()[:3] for line in table.output.splitlines()[1:]] == [["MC-S", "WH1", "4"], ["MC-M", "WH1", "2"]]
    listing = run(runner, db, "stock", "transfer", "list")
    assert data["number"] in listing.output and "closed" in listing.output


def test_stock_errors_are_one_clear_line(runner: CliRunner, db: Database, actor, store) -> None:
    runner.invoke(main, ["users", "add", "tester", "--role", "warehouse", "--db", url_of(db)])
    too_much = run(runner, db, "stock", "transfer", "create", "--from", "WH1", "--to", "SHOP", "--line", "MC-S=3", "--ship")
    assert too_much.exit_code == 1
    assert too_much.stderr.strip().splitlines() == ["backoffice: error: not enough stock: MC-S at WH1: 0 available, 3 requested"]
    listing = run(runner, db, "stock", "transfer", "list")
    assert "TR-" not in listing.output  # the refused "create --ship" left no draft behind
    unknown = run(runner, db, "stock", "transfer", "create", "--from", "WH1", "--to", "SHOP", "--line", "NOPE=1")
    assert unknown.exit_code == 1 and "unknown SKU or barcode: NOPE" in unknown.stderr
    bad_qty = run(runner, db, "stock", "transfer", "create", "--from", "WH1", "--to", "SHOP", "--line", "MC-S=-1")
    assert bad_qty.exit_code == 2 and "must be greater than zero" in bad_qty.stderr
    bad_loc = run(runner, db, "stock", "levels", "--location", "MARS")
    assert bad_loc.exit_code == 1 and "no location with code 'MARS'" in bad_loc.stderr


def test_adjust_and_alerts_from_the_command_line(runner: CliRunner, db: Database, actor, store) -> None:
    from backoffice.services import alerts

    a = store.variant_ids[0]
    runner.invoke(main, ["users", "add", "tester", "--role", "warehouse", "--db", url_of(db)])
    found = run(runner, db, "stock", "adjust", "--location", "WH1", "--line", "MC-S=+3", "--reason", "found",
                "--op-id", "adj-cli")
    assert found.exit_code == 0, found.stderr
    assert inventory.on_hand(db, a, store.locations["WH1"]) == 3
    alerts.set_default(db, actor, threshold=5)
    checked = run(runner, db, "stock", "alerts")
    assert checked.exit_code == 0 and "1 item(s) low on stock (1 new" in checked.output and "MC-S" in checked.output
    no_mail = run(runner, db, "stock", "alerts", "--send")
    assert no_mail.exit_code == 1 and "no mail server is set" in no_mail.stderr
