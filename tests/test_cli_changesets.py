"""``backoffice changesets …``: list, show and revert applied edits from the command line; a revert
never overwrites rows changed since (they are reported and the exit status says so)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner

from backoffice.cli import main
from backoffice.db import Database
from backoffice.services import catalog


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def run(db: Database, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--user", "tester", *args, "--db", url_of(db)])


def variant_of(db: Database, store, variant_id: int) -> dict:  # type: ignore[no-untyped-def]
    [variant] = [v for v in catalog.get_product(db, store.product.entity_id)["variants"] if v["id"] == variant_id]
    return variant


def prices(db: Database, store) -> tuple[Decimal, ...]:  # type: ignore[no-untyped-def]
    return tuple(Decimal(str(variant_of(db, store, v)["price"])) for v in store.variant_ids)


def test_import_then_list_show_and_revert_with_a_conflict(db: Database, actor, store, tmp_path: Path) -> None:
    m = store.variant_ids[1]
    price_list = tmp_path / "prices.csv"
    price_list.write_text("sku,price\nMC-S,64.99\nMC-M,65.99\nMC-L,66.99\n", encoding="utf-8")
    imported = run(db, "import", "products", str(price_list))
    assert imported.exit_code == 0, imported.output + imported.stderr
    listing = run(db, "changesets", "list")
    assert listing.exit_code == 0
    newest = listing.output.splitlines()[0]
    assert "import" in newest and "3 rows" in newest and "tester" in newest
    changeset_id = int(newest.split()[0].lstrip("#"))

    shown = run(db, "changesets", "show", str(changeset_id))
    assert shown.exit_code == 0
    assert "price: 59.99 → 64.99" in shown.output and "price: 59.99 → 66.99" in shown.output

    # Someone edits MC-M after the import: the revert restores S and L and leaves M alone.
    catalog.update_variant(db, actor, m, expected_version=variant_of(db, store, m)["version"], values={"price": "70.00"})
    reverted = run(db, "changesets", "revert", str(changeset_id), "--op-id", "revert-1")
    assert reverted.exit_code == 3, reverted.output + reverted.stderr
    assert "2 rows restored" in reverted.output
    assert "conflict: variant MC-M price: changed since to 70.00" in reverted.stderr
    assert prices(db, store) == (Decimal("59.99"), Decimal("70.00"), Decimal("59.99"))
    again = run(db, "changesets", "revert", str(changeset_id), "--op-id", "revert-1")  # a retry: applied once
    assert again.exit_code in (0, 3)
    assert prices(db, store) == (Decimal("59.99"), Decimal("70.00"), Decimal("59.99"))
    after = run(db, "changesets", "list", "--limit", "5")
    assert f"reverts #{changeset_id}" in after.output and "reverted by" in after.output
    assert after.output.count("revert ") == 1


def test_unknown_changeset_is_one_error_line(db: Database, actor) -> None:
    shown = run(db, "changesets", "show", "999")
    reverted = run(db, "changesets", "revert", "999")
    for result in (shown, reverted):
        assert result.exit_code != 0
        assert result.stderr.strip() == "backoffice: error: changeset 999 does not exist"
