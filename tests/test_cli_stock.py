"""``backoffice stock …`` end to end: the same services, plain output, retries that never post twice."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.db import Database
from backoffice.services import inventory
from backoffice.services.inventory import MoveLine
from tests.conftest import rows_written


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
    from backoffice.services import job_runs   # the scheduled job's failure is on record for `schedule status`

    (last,) = [r for r in job_runs.last_runs(db) if r.job == "stock-alerts"]
    assert (last.status, last.summary.startswith("no mail server is set")) == ("failed", True)


def ledger_state(db: Database) -> dict[str, object]:
    """What a stock command can write, to compare before and after a replay."""
    from sqlalchemy import select

    from backoffice.models import AppliedOperation, AuditEntry, StockLevel, StockMove, StockOperation, Transfer, TransferLine

    with db.read() as session:
        return {
            "counts": [rows_written(session, m) for m in
                       (StockOperation, StockMove, AuditEntry, AppliedOperation, Transfer)],
            "levels": session.execute(select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand,
                                             StockLevel.version).order_by(StockLevel.id)).all(),
            "transfers": session.execute(select(Transfer.number, Transfer.state, Transfer.version)
                                         .order_by(Transfer.id)).all(),
            "lines": session.execute(select(TransferLine.shipped, TransferLine.received, TransferLine.lost,
                                            TransferLine.returned).order_by(TransferLine.id)).all(),
        }


def twice(runner: CliRunner, db: Database, *args: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    """Run a write with --json, then again with the same --op-id: the replay exits 0, reports the same
    transfer as the first run did, and leaves the database as the first run left it."""
    first = run(runner, db, *args, "--json")
    assert first.exit_code == 0, first.output + first.stderr
    before = ledger_state(db)
    again = run(runner, db, *args, "--json")
    assert again.exit_code == 0, again.output + again.stderr
    assert ledger_state(db) == before
    one, two = json.loads(first.stdout), json.loads(again.stdout)
    assert one["replayed"] is False and two["replayed"] is True
    assert {k: v for k, v in two.items() if k != "replayed"} == {k: v for k, v in one.items() if k != "replayed"}
    return one, two


def test_every_stock_write_retried_with_its_op_id_reports_the_first_result(runner: CliRunner, db: Database, actor,  # type: ignore[no-untyped-def]
                                                                           store) -> None:
    a, b = store.variant_ids[:2]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    inventory.post_moves(db, actor, operation_id="in-1", reason="receipt",
                         lines=[MoveLine(a, store.locations["SUP"], wh, 20), MoveLine(b, store.locations["SUP"], wh, 20)])
    runner.invoke(main, ["users", "add", "tester", "--role", "warehouse", "--db", url_of(db)])
    # a draft (no stock moves) made once
    draft, _ = twice(runner, db, "stock", "transfer", "create", "--from", "WH1", "--to", "SHOP", "--line", "MC-S=4",
                     "--line", "MC-M=2", "--op-id", "t-draft")
    assert draft["state"] == "draft"
    shipped, _ = twice(runner, db, "stock", "transfer", "ship", draft["number"], "--op-id", "t-ship")
    assert shipped["state"] == "shipped"
    # received in full: the retry finds nothing left in transit, and still reports the receipt
    received, _ = twice(runner, db, "stock", "transfer", "receive", draft["number"], "--all", "--op-id", "t-recv")
    assert received["state"] == "received" and inventory.on_hand(db, a, shop) == 4
    text = run(runner, db, "stock", "transfer", "receive", draft["number"], "--all", "--op-id", "t-recv")
    assert text.exit_code == 0 and "nothing moved" in text.output
    # part received, then closed with a loss
    second, _ = twice(runner, db, "stock", "transfer", "create", "--from", "WH1", "--to", "SHOP", "--line", "MC-S=5",
                      "--ship", "--op-id", "t2-ship")
    twice(runner, db, "stock", "transfer", "receive", second["number"], "--line", "MC-S=2", "--op-id", "t2-recv")
    closed, _ = twice(runner, db, "stock", "transfer", "close", second["number"], "--shortfall", "loss",
                      "--reason", "crushed", "--op-id", "t2-close")
    assert closed["state"] == "closed" and closed["lines"][0]["lost"] == 3
    # cancelled as a draft (no stock operation to remember the id by) and once shipped
    third = json.loads(run(runner, db, "stock", "transfer", "create", "--from", "WH1", "--to", "SHOP", "--line",
                           "MC-M=1", "--json").stdout)
    cancelled, _ = twice(runner, db, "stock", "transfer", "cancel", third["number"], "--op-id", "t3-cancel")
    assert cancelled["state"] == "cancelled"
    fourth = json.loads(run(runner, db, "stock", "transfer", "create", "--from", "WH1", "--to", "SHOP", "--line",
                            "MC-M=1", "--ship", "--json").stdout)
    twice(runner, db, "stock", "transfer", "cancel", fourth["number"], "--op-id", "t4-cancel")
    # an id is not reused for another transfer
    reused = run(runner, db, "stock", "transfer", "cancel", fourth["number"], "--op-id", "t3-cancel")
    assert reused.exit_code == 1 and f"'t3-cancel' was already used by transfer {third['number']}" in reused.stderr
    # adjustments
    before_adjust = inventory.on_hand(db, b, wh)
    first = run(runner, db, "stock", "adjust", "--location", "WH1", "--line", "MC-M=-2", "--reason", "damage",
                "--op-id", "adj-1")
    state = ledger_state(db)
    again = run(runner, db, "stock", "adjust", "--location", "WH1", "--line", "MC-M=-2", "--reason", "damage",
                "--op-id", "adj-1")
    assert first.exit_code == again.exit_code == 0 and "nothing moved" in again.output
    assert ledger_state(db) == state and inventory.on_hand(db, b, wh) == before_adjust - 2
    assert inventory.ledger_mismatches(db) == []


def test_mail_settings_retried_with_its_op_id_are_saved_once(runner: CliRunner, db: Database, actor) -> None:  # type: ignore[no-untyped-def]
    runner.invoke(main, ["users", "add", "tester", "--role", "manager", "--db", url_of(db)])
    args = ("stock", "mail-settings", "--host", "mail.example.com", "--port", "587", "--sender", "shop@example.com",
            "--recipient", "stock@example.com", "--op-id", "mail-1")
    first = run(runner, db, *args)
    assert first.exit_code == 0, first.stderr
    state = ledger_state(db)
    again = run(runner, db, *args)
    assert again.exit_code == 0 and again.stdout == first.stdout
    assert ledger_state(db) == state  # no second audit row, no second applied operation
