"""``backoffice locations|categories|products add`` from an empty database, and every one of these writes
run twice with the same --op-id: the second exits 0, reports the first result and changes nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import AppliedOperation, AuditEntry, Category, Location, Product, Variant
from tests.conftest import rows_written


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def run(runner: CliRunner, db: Database, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(main, ["--user", "tester", *args, "--db", url_of(db)])


def state(db: Database) -> dict[str, object]:
    """Everything these commands can write, to compare before and after a replay."""
    with db.read() as session:
        return {
            "counts": [rows_written(session, m) for m in
                       (Location, Category, Product, Variant, AuditEntry, AppliedOperation)],
            "locations": session.execute(select(Location.code, Location.name, Location.kind, Location.active,
                                                Location.version).order_by(Location.id)).all(),
            "categories": session.execute(select(Category.name, Category.parent_id, Category.path, Category.version)
                                          .order_by(Category.id)).all(),
        }


def twice(runner: CliRunner, db: Database, *args: str) -> tuple[str, str]:
    """Run a write, then the same with the same --op-id: the replay exits 0, reports the first result and
    leaves the database as the first run left it."""
    first = run(runner, db, *args)
    assert first.exit_code == 0, first.output + first.stderr
    before = state(db)
    again = run(runner, db, *args)
    assert again.exit_code == 0, again.output + again.stderr
    assert state(db) == before
    return first.stdout, again.stdout


def test_a_store_set_up_from_nothing_and_every_write_replayed(runner: CliRunner, db: Database, actor) -> None:  # type: ignore[no-untyped-def]
    runner.invoke(main, ["users", "add", "tester", "--role", "admin", "--db", url_of(db)])
    out, replay = twice(runner, db, "locations", "add", "wh1", "Main warehouse", "--op-id", "s-1")
    assert out == "Created location WH1 (warehouse): Main warehouse.\n"
    assert replay == out.replace(".\n", " (already applied with this operation id: nothing changed).\n")
    twice(runner, db, "locations", "add", "SHOP", "City store", "--kind", "store", "--op-id", "s-2")
    out, replay = twice(runner, db, "locations", "edit", "SHOP", "--name", "High Street store", "--op-id", "s-3")
    assert "name City store → High Street store" in out and "name City store → High Street store" in replay
    out, replay = twice(runner, db, "locations", "archive", "SHOP", "--op-id", "s-4", "--json")
    assert json.loads(replay) == json.loads(out) | {"replayed": True}
    twice(runner, db, "locations", "restore", "SHOP", "--op-id", "s-5")
    listing = run(runner, db, "locations", "list")
    assert listing.stdout.splitlines()[1:] == ["SHOP         store               0  High Street store",
                                               "WH1          warehouse           0  Main warehouse"]

    out, replay = twice(runner, db, "categories", "add", "Clothing/Tops", "--op-id", "c-1")
    assert out == "Created category Clothing > Tops (2 levels).\n" and "already applied" in replay
    twice(runner, db, "categories", "add", "Sale", "--op-id", "c-2")
    # the replay of a move finds nothing at the old path any more, and still reports the first move
    out, replay = twice(runner, db, "categories", "move", "Clothing/Tops", "--to", "Sale", "--op-id", "c-3")
    assert out.startswith("Moved category Clothing > Tops to Sale > Tops") and replay.startswith(out[:-2])
    twice(runner, db, "categories", "rename", "Sale/Tops", "Shirts", "--op-id", "c-4")
    tree = run(runner, db, "categories", "list")
    assert tree.stdout.splitlines() == ["Clothing", "Sale", "  Shirts"]

    twice(runner, db, "variants", "add-attribute", "size", "S,M,L", "--op-id", "a-1")
    args = ("products", "add", "--title", "Linen Shirt", "--vendor", "Norda", "--category", "Sale/Shirts",
            "--status", "active", "--variant", "LS-S,price=39.00,cost=14.50,size=S",
            "--variant", "LS-M,price=39.00,cost=14.50,size=M,barcode=4006381333931", "--op-id", "p-1")
    out, replay = twice(runner, db, *args)
    assert out.startswith("Created product linen-shirt (id ") and out.endswith("with 2 variants: LS-S, LS-M.\n")
    tree = run(runner, db, "categories", "list")
    assert tree.stdout.splitlines() == ["Clothing", "Sale", "  Shirts  (1 product)"]
    with db.read() as session:
        assert session.execute(select(Variant.sku, Variant.price, Variant.cost, Variant.barcode)
                               .order_by(Variant.sku)).all() == [
            ("LS-M", pytest.approx(39), pytest.approx(14.5), "4006381333931"),
            ("LS-S", pytest.approx(39), pytest.approx(14.5), None)]


def test_product_form_errors_name_each_row_and_write_nothing(runner: CliRunner, db: Database, actor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner.invoke(main, ["users", "add", "tester", "--role", "merchandiser", "--db", url_of(db)])
    run(runner, db, "variants", "add-attribute", "size", "S,M")
    bad = run(runner, db, "products", "add", "tee", "--title", "Tee", "--variant", "T-1,price=5.00,size=S",
              "--variant", "T-1,price=-1,size=XL")
    assert bad.exit_code == 1
    assert bad.stderr.splitlines()[-1] == ("backoffice: error: variant 2 price: -1 is negative; variant 2 sku: 'T-1' "
                                           "is also the SKU of variant 1")
    no_price = run(runner, db, "products", "add", "tee", "--title", "Tee", "--variant", "T-1,size=S")
    assert no_price.exit_code == 2 and "--variant 1 'T-1,size=S': give its price" in no_price.stderr
    unknown = run(runner, db, "products", "add", "tee", "--title", "Tee", "--category", "Nowhere",
                  "--variant", "T-1,price=5")
    assert unknown.exit_code == 1 and "no category 'Nowhere'" in unknown.stderr
    form = tmp_path / "tee.json"
    form.write_text(json.dumps({"title": "Organic Tee", "vendor": "Norda", "variants": [
        {"sku": "OT-S", "price": "19.00", "options": {"size": "S"}},
        {"sku": "OT-M", "price": "19.00", "options": {"size": "XL"}}]}))
    from_file = run(runner, db, "products", "add", "--json", str(form))
    assert from_file.exit_code == 1
    assert from_file.stderr.splitlines()[-1] == ("backoffice: error: variant 2 options.size: 'XL' is not a value of "
                                                 "attribute 'size' (S, M)")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Product)) == 0
    form.write_text(form.read_text().replace('"XL"', '"M"'))
    made = run(runner, db, "products", "add", "--json", str(form), "--print-json")
    assert made.exit_code == 0, made.stderr
    data = json.loads(made.stdout)
    assert data["after"]["handle"] == "organic-tee" and [c["after"]["sku"] for c in data["children"]] == ["OT-S", "OT-M"]


def test_archiving_a_location_with_stock_is_refused_with_a_clear_line(runner: CliRunner, db: Database, actor, store) -> None:  # type: ignore[no-untyped-def]
    from backoffice.services import inventory
    from backoffice.services.inventory import MoveLine

    inventory.post_moves(db, actor, operation_id="in-1", reason="receipt",
                         lines=[MoveLine(store.variant_ids[0], store.locations["SUP"], store.locations["WH1"], 4)])
    runner.invoke(main, ["users", "add", "tester", "--role", "warehouse", "--db", url_of(db)])
    refused = run(runner, db, "locations", "archive", "WH1")
    assert refused.exit_code == 1
    assert refused.stderr.splitlines()[-1] == ("backoffice: error: location WH1 stock: holds 4 units of 1 variant; "
                                               "transfer or adjust them to zero first")
    reused = run(runner, db, "locations", "archive", "SHOP", "--op-id", "in-1x")
    assert reused.exit_code == 0
    wrong_kind = run(runner, db, "locations", "restore", "SHOP", "--op-id", "in-1x")
    assert wrong_kind.exit_code == 1 and "already used for archive_location, not restore_location" in wrong_kind.stderr
