"""``backoffice products bulk``: the bulk edit dialog for scripts. The same filter options as the export,
the same plan and preview, one revertible changeset; rows priced below cost are listed by the dry run and
applied only with --allow-below-cost (or a yes on a terminal); --op-id makes a retry write nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.cli import products as products_cli
from backoffice.db import Database
from backoffice.services import catalog, changesets

D = Decimal


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def run(db: Database, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--user", "tester", *args, "--db", url_of(db)], input=input)


def prices(db: Database, product_id: int) -> dict[str, str]:
    return {v["sku"]: v["price"] for v in catalog.get_product(db, product_id)["variants"]}


@pytest.fixture
def cap(db: Database, actor, store):  # type: ignore[no-untyped-def]
    """A product the Norda filters do not match."""
    return catalog.create_product(db, actor, values={"handle": "cap", "title": "Wool Cap", "vendor": "Other",
                                                     "tags": ["wool"]},
                                  variants=[{"sku": "CAP-1", "price": "15.00", "cost": "4.00"}])


def test_dry_run_previews_and_writes_nothing(db: Database, store, cap) -> None:
    before = prices(db, store.product.entity_id)
    result = run(db, "products", "bulk", "--vendor", "Norda", "--set", "price=+10%", "--round", ".99", "--dry-run")
    assert result.exit_code == 0, result.output + result.stderr
    lines = result.output.splitlines()
    assert lines[0] == "Price: raise by 10 %, then round to ending .99 · 3 variants matching vendor Norda"
    assert lines[1].startswith("3 of 3 variants will change (change per row: lowest +6.00")
    assert any(line.split() == ["SKU", "MC-S", "price:", "59.99", "→", "65.99"] for line in lines)
    assert lines[-1] == "Dry run: nothing was written."
    assert "E+" not in result.output
    assert prices(db, store.product.entity_id) == before and changesets.list_changesets(db) == []


def test_apply_is_one_revertible_changeset_and_a_replay_writes_nothing(db: Database, store, cap) -> None:
    args = ("products", "bulk", "--vendor", "Norda", "--set", "price=+10%", "--round", ".99", "--op-id", "raise-1")
    first = run(db, *args)
    assert first.exit_code == 0, first.output + first.stderr
    [cs] = changesets.list_changesets(db)
    assert f"Applied as changeset #{cs.id}: 3 rows changed." in first.output
    assert (cs.kind, cs.row_count) == ("bulk", 3)
    assert cs.description == "Price: raise by 10 %, then round to ending .99 · 3 variants matching vendor Norda"
    assert prices(db, store.product.entity_id) == {"MC-S": "65.99", "MC-M": "65.99", "MC-L": "65.99"}
    assert prices(db, cap.entity_id) == {"CAP-1": "15.00"}       # not matched by the filter

    again = run(db, *args)   # a retry: nothing is raised twice, the first changeset is reported
    assert again.exit_code == 0, again.output + again.stderr
    assert f"(changeset #{cs.id}) (already applied with this operation id: nothing changed)" in again.output
    assert prices(db, store.product.entity_id) == {"MC-S": "65.99", "MC-M": "65.99", "MC-L": "65.99"}
    assert len(changesets.list_changesets(db)) == 1

    reverted = run(db, "changesets", "revert", str(cs.id))
    assert reverted.exit_code == 0, reverted.output + reverted.stderr
    assert prices(db, store.product.entity_id) == {"MC-S": "59.99", "MC-M": "59.99", "MC-L": "59.99"}


def test_below_cost_rows_are_listed_and_need_the_flag(db: Database, store, cap) -> None:
    base = ("products", "bulk", "--tag", "wool", "--set", "price=20")
    dry = run(db, *base, "--dry-run")
    assert dry.exit_code == 0, dry.output + dry.stderr
    assert "Below cost: 3 rows would be priced below their cost:" in dry.output
    for size in ("S", "M", "L"):
        assert f"SKU MC-{size}: price 20.00 is below its cost 21.00" in dry.output
    assert "CAP-1: price" not in dry.output                      # 20.00 is above its 4.00 cost

    refused = run(db, *base)
    assert refused.exit_code == 1
    assert refused.stderr.strip() == ("backoffice: error: 3 rows would be priced below cost; nothing was written "
                                      "(add --allow-below-cost to apply anyway)")
    assert changesets.list_changesets(db) == []
    assert prices(db, store.product.entity_id)["MC-S"] == "59.99"

    allowed = run(db, *base, "--allow-below-cost")
    assert allowed.exit_code == 0, allowed.output + allowed.stderr
    assert "4 rows changed" in allowed.output
    assert prices(db, store.product.entity_id) == {"MC-S": "20.00", "MC-M": "20.00", "MC-L": "20.00"}


def test_on_a_terminal_the_below_cost_rows_are_confirmed(db: Database, store, cap,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(products_cli, "_terminal", lambda: True)
    no = run(db, "products", "bulk", "--vendor", "Norda", "--set", "cost=+100", input="n\n")
    assert no.exit_code == 1 and "3 rows would be priced below cost. Apply anyway?" in no.stderr
    assert changesets.list_changesets(db) == []
    yes = run(db, "products", "bulk", "--vendor", "Norda", "--set", "cost=+100", input="y\n")
    assert yes.exit_code == 0, yes.output + yes.stderr
    assert {v["cost"] for v in catalog.get_product(db, store.product.entity_id)["variants"]} == {"121.00"}


def test_product_fields_tags_status_vendor_category(db: Database, actor, store, cap) -> None:
    shirts = catalog.create_category(db, actor, name="Knitwear").entity_id
    steps = [
        (("--vendor", "Norda", "--set", "tags+=sale, wool"), "Tags added: sale, wool · 1 product matching vendor Norda"),
        (("--tag", "wool", "--set", "tags-=winter"), "Tags removed: winter · 2 products matching tag wool"),
        (("--text", "Merino", "--set", "status=draft"), "Status: set to “draft” · 1 product matching “Merino”"),
        (("--filter", '{"vendors": ["Other"]}', "--set", "vendor=Norda"),
         "Vendor: set to “Norda” · 1 product matching a filter"),
        (("--vendor", "Norda", "--set", "category=Knitwear"), "Category: set to Knitwear · 2 products matching vendor Norda"),
        (("--vendor", "Norda", "--set", "product_type=Hats"), "Type: set to “Hats” · 2 products matching vendor Norda"),
    ]
    for args, description in steps:
        result = run(db, "products", "bulk", *args)
        assert result.exit_code == 0, (args, result.output, result.stderr)
        assert changesets.list_changesets(db, limit=1)[0].description == description
    merino, wool_cap = (catalog.get_product(db, p.entity_id) for p in (store.product, cap))
    assert sorted(merino["tags"]) == ["sale", "wool"] and wool_cap["tags"] == ["wool"]
    assert merino["status"] == "draft" and wool_cap["vendor"] == "Norda"
    assert merino["category_id"] == wool_cap["category_id"] == shirts
    assert merino["product_type"] == wool_cap["product_type"] == "Hats"
    removed = run(db, "products", "bulk", "--vendor", "Norda", "--set", "category=")
    assert removed.exit_code == 0 and catalog.get_product(db, cap.entity_id)["category_id"] is None


@pytest.mark.parametrize("args,message", [
    (("--set", "price=10%"), "write +10% to raise or -10% to lower"),
    (("--set", "price=abc"), "write an amount (12.50)"),
    (("--set", "price=1.234"), "has more than 2 decimals"),
    (("--set", "colour=red"), "'colour' cannot be changed in bulk"),
    (("--set", "status=gone"), "the status is one of"),
    (("--set", "status=draft", "--round", ".99"), "--round only goes with"),
    (("--set", "price=+1", "--round", "0"), "the step must be more than zero"),
    (("--set", "tags+= , "), "give at least one tag"),
])
def test_bad_arguments_are_one_line_and_write_nothing(db: Database, store, args, message) -> None:
    result = run(db, "products", "bulk", "--vendor", "Norda", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert changesets.list_changesets(db) == []


def test_rows_that_cannot_change_are_named_and_nothing_is_written(db: Database, actor, store) -> None:
    catalog.create_product(db, actor, values={"handle": "cap", "title": "Wool Cap", "vendor": "Norda"},
                           variants=[{"sku": "CAP-1", "price": "15.00", "compare_at_price": "16.00"}])
    result = run(db, "products", "bulk", "--vendor", "Norda", "--set", "price=+10%")
    assert result.exit_code == 1
    assert "backoffice: SKU CAP-1 price: compare-at 16.00 would be below the price 16.50" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == \
        "backoffice: error: 1 row cannot take this change; nothing was written"
    assert changesets.list_changesets(db) == []


def test_unknown_category_is_a_clear_error(db: Database, store) -> None:
    result = run(db, "products", "bulk", "--category", "Nowhere", "--set", "status=draft")
    assert result.exit_code == 1
    assert result.stderr.startswith("backoffice: error: --category: unknown category 'Nowhere'")


def test_variants_bulk_lists_below_cost_rows_and_needs_the_flag(db: Database, store) -> None:
    dry = run(db, "variants", "bulk", "--set", "price=20.00", "--product", "merino-crew", "--dry-run")
    assert dry.exit_code == 0, dry.output + dry.stderr
    assert "Below cost: 3 rows would be priced below their cost:" in dry.output
    assert "SKU MC-M: price 20.00 is below its cost 21.00" in dry.output
    refused = run(db, "variants", "bulk", "--set", "price=20.00", "--product", "merino-crew")
    assert refused.exit_code == 1 and "add --allow-below-cost" in refused.stderr
    assert changesets.list_changesets(db) == []
    allowed = run(db, "variants", "bulk", "--set", "price=20.00", "--product", "merino-crew", "--allow-below-cost")
    assert allowed.exit_code == 0, allowed.output + allowed.stderr
    assert prices(db, store.product.entity_id) == {"MC-S": "20.00", "MC-M": "20.00", "MC-L": "20.00"}


@pytest.mark.parametrize("args,header,sample", [
    (("--set", "price=-10%", "--round", "0.05"), "Price: lower by 10 %, then round to a multiple of 0.05", "59.99 → 54.00"),
    (("--set", "price=+2.5"), "Price: add 2.50", "59.99 → 62.49"),
    (("--set", "compare_at=79.00"), "Compare-at price: set to 79.00", "— → 79.00"),
    (("--set", "cost=-1"), "Cost: subtract 1.00", "21.00 → 20.00"),
])
def test_money_changes_read_as_the_dialog_writes_them(db: Database, store, args, header, sample) -> None:
    result = run(db, "products", "bulk", "--vendor", "Norda", *args, "--dry-run")
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output.splitlines()[0] == f"{header} · 3 variants matching vendor Norda"
    assert sample in result.output
