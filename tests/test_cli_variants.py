"""``backoffice variants …`` end to end with click's CliRunner, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from backoffice.cli import main
from backoffice.db import Database
from backoffice.services import catalog
from tests.conftest import rows_written


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, db: Database, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(main, ["--user", "tester", *args, "--db", db.engine.url.render_as_string(hide_password=False)])


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result.output


def test_attributes_generate_dry_run_then_create_and_rerun(runner: CliRunner, db: Database, actor) -> None:
    catalog.create_product(db, actor, values={"handle": "basic-tee", "title": "Basic Tee"})
    ok(run(runner, db, "variants", "add-attribute", "size", "S,M,L", "--name", "Size"))
    ok(run(runner, db, "variants", "add-attribute", "color", "Red,Blue"))
    listed = ok(run(runner, db, "variants", "attributes"))
    assert "size" in listed and "S, M, L" in listed
    args = ["variants", "generate", "basic-tee", "--attribute", "size=S,M,L", "--attribute", "color=Red,Blue",
            "--exclude", "color=Blue,size=S", "--sku-pattern", "{handle}-{color:3}-{size}", "--price", "19.00"]
    dry = ok(run(runner, db, *args, "--dry-run"))
    assert "BASIC-TEE-RED-S" in dry and "BASIC-TEE-BLU-S" not in dry
    assert "would create 5, keep 0 existing" in dry
    assert catalog.get_product(db, 1)["variants"] == []
    created = json.loads(ok(run(runner, db, *args, "--json")))
    assert created["created"] == 5 and created["changeset_id"]
    assert "Created 0, kept 5 existing" in ok(run(runner, db, *args))
    matrix = ok(run(runner, db, "variants", "matrix", "basic-tee"))
    assert "Red" in matrix.splitlines()[0] and "19.00 / 0" in matrix


def test_reprice_with_rules_and_overrides(runner: CliRunner, db: Database, actor) -> None:
    catalog.create_product(db, actor, values={"handle": "tee", "title": "Tee"})
    ok(run(runner, db, "variants", "add-attribute", "size", "M,XL"))
    ok(run(runner, db, "variants", "generate", "tee", "--attribute", "size=M,XL", "--price", "10.00"))
    ok(run(runner, db, "variants", "base-price", "tee", "20.00"))
    ok(run(runner, db, "variants", "rule", "size=XL", "+2.00"))
    ok(run(runner, db, "variants", "rule", "size=M", "10%", "--product", "tee"))
    assert "all products" in ok(run(runner, db, "variants", "rules"))
    ok(run(runner, db, "variants", "override", "TEE-M"))
    dry = ok(run(runner, db, "variants", "reprice", "tee", "--dry-run"))
    assert "TEE-XL" in dry and "22.00" in dry and "TEE-M " not in dry
    assert "1 of 2 variants change; 1 overrides" in dry
    applied = ok(run(runner, db, "variants", "reprice", "--all"))
    assert "Applied 1" in applied
    prices = {v["sku"]: v["price"] for v in catalog.get_product(db, 1)["variants"]}
    assert prices == {"TEE-M": "10.00", "TEE-XL": "22.00"}
    bulk = ok(run(runner, db, "variants", "bulk", "--set", "price=30.00", "--option", "size=XL", "--dry-run"))
    assert "1 of 1 variants would change" in bulk
    ok(run(runner, db, "variants", "bulk", "--set", "disable", "--option", "size=XL"))
    assert {v["sku"]: v["status"] for v in catalog.get_product(db, 1)["variants"]}["TEE-XL"] == "disabled"


def test_errors_are_one_line_and_non_zero(runner: CliRunner, db: Database, actor) -> None:
    catalog.create_product(db, actor, values={"handle": "tee", "title": "Tee"})
    ok(run(runner, db, "variants", "add-attribute", "size", "M"))
    unknown = run(runner, db, "variants", "generate", "nope", "--attribute", "size=M")
    assert unknown.exit_code != 0 and "unknown product: nope" in unknown.output + unknown.stderr
    bad = run(runner, db, "variants", "generate", "tee", "--attribute", "size=M,Q", "--price", "1.00")
    assert bad.exit_code == 1
    assert bad.stderr.strip().count("\n") == 0 and "'Q' is not one of its values" in bad.stderr
    catalog.add_variant(db, actor, 1, values={"sku": "TEE-M", "price": "1.00"})
    dup = run(runner, db, "variants", "generate", "tee", "--attribute", "size=M", "--price", "1.00")
    assert dup.exit_code == 1 and "product tee, M sku: 'TEE-M' is already used" in dup.stderr
    usage = run(runner, db, "variants", "generate", "tee")
    assert usage.exit_code == 2


def test_templates_values_and_thresholds(runner: CliRunner, db: Database, actor) -> None:
    from backoffice.services import inventory

    inventory.create_location(db, actor, code="WH", name="Warehouse", kind="warehouse")
    catalog.create_product(db, actor, values={"handle": "tee", "title": "Tee"})
    ok(run(runner, db, "variants", "add-attribute", "size", "S,M"))
    ok(run(runner, db, "variants", "add-values", "size", "L,XL"))
    ok(run(runner, db, "variants", "save-template", "Sizes", "--attribute", "size=S,M,L,XL", "--exclude", "size=S",
           "--sku-pattern", "{handle}-{size}"))
    assert "Sizes" in ok(run(runner, db, "variants", "templates"))
    made = ok(run(runner, db, "variants", "generate", "tee", "--template", "Sizes", "--price", "5.00"))
    assert "Created 3" in made
    assert sorted(v["sku"] for v in catalog.get_product(db, 1)["variants"]) == ["TEE-L", "TEE-M", "TEE-XL"]
    assert "deleted" in ok(run(runner, db, "variants", "remove-value", "size", "S"))
    assert "archived" in ok(run(runner, db, "variants", "remove-value", "size", "M"))
    thresholds = ok(run(runner, db, "variants", "bulk", "--set", "threshold=4", "--product", "tee"))
    assert "Changed 3 stock levels" in thresholds
    bad = run(runner, db, "variants", "bulk", "--set", "threshold=lots")
    assert bad.exit_code == 2 and "whole number" in bad.stderr
    bad_price = run(runner, db, "variants", "bulk", "--set", "price=abc")
    assert bad_price.exit_code == 1 and "'abc' is not an amount" in bad_price.stderr


def db_state(db: Database) -> dict[str, object]:
    """Everything a variants command can write, to compare before and after a replay."""
    from sqlalchemy import select

    from backoffice.models import (AppliedOperation, AttributeValue, AuditEntry, Changeset, ChangesetEntry,
                                   PriceRule, ProductBasePrice, StockLevel, Variant, VariantTemplate)

    with db.read() as session:
        return {
            "counts": [rows_written(session, m) for m in
                       (AttributeValue, AuditEntry, AppliedOperation, Changeset, ChangesetEntry, PriceRule,
                        ProductBasePrice, VariantTemplate, Variant)],
            "variants": session.execute(select(Variant.sku, Variant.price, Variant.status, Variant.version)
                                        .order_by(Variant.id)).all(),
            "values": session.execute(select(AttributeValue.value, AttributeValue.archived)
                                      .order_by(AttributeValue.id)).all(),
            "levels": session.execute(select(StockLevel.id, StockLevel.low_stock_threshold, StockLevel.version)
                                      .order_by(StockLevel.id)).all(),
        }


def test_every_variants_write_retried_with_its_op_id_applies_once(runner: CliRunner, db: Database, actor) -> None:  # type: ignore[no-untyped-def]
    from backoffice.services import inventory

    inventory.create_location(db, actor, code="WH", name="Warehouse", kind="warehouse")
    catalog.create_product(db, actor, values={"handle": "tee", "title": "Tee"})

    def twice(*args: str) -> tuple[str, str]:
        first = ok(run(runner, db, *args))
        before = db_state(db)
        again = ok(run(runner, db, *args))
        assert db_state(db) == before, args
        assert "already applied with this operation id: nothing changed" in again, (args, again)
        return first, again

    first, again = twice("variants", "add-attribute", "size", "S,M,L", "--op-id", "v-1")
    assert again == first.replace(".\n", " (already applied with this operation id: nothing changed).\n")
    twice("variants", "add-values", "size", "XL", "--op-id", "v-2")
    twice("variants", "save-template", "Sizes", "--attribute", "size=S,M,L,XL", "--sku-pattern", "{handle}-{size}",
          "--op-id", "v-3")
    first, again = twice("variants", "generate", "tee", "--template", "Sizes", "--price", "5.00", "--op-id", "v-4")
    assert first.startswith("Created 4,") and again.startswith("Created 4,")   # not "Created 0, kept 4"
    twice("variants", "remove-value", "size", "XL", "--op-id", "v-5")          # archived: TEE-XL exists
    twice("variants", "base-price", "tee", "20.00", "--op-id", "v-6")
    twice("variants", "rule", "size=L", "+2.00", "--op-id", "v-7")
    twice("variants", "override", "TEE-S", "--op-id", "v-8")
    first, again = twice("variants", "reprice", "tee", "--op-id", "v-9")
    assert "Applied 3" in first and "3 rows (changeset #" in again
    twice("variants", "bulk", "--set", "price=30.00", "--option", "size=M", "--op-id", "v-10")
    twice("variants", "bulk", "--set", "threshold=4", "--product", "tee", "--op-id", "v-11")
    with db.read() as session:
        from sqlalchemy import select

        from backoffice.models import Changeset

        thresholds = session.scalar(select(Changeset.id).where(Changeset.operation_id == "v-11"))
    # a threshold changeset reverted twice with one id (it went to the thresholds' own revert, which
    # dropped the id) is reverted once
    first = ok(run(runner, db, "changesets", "revert", str(thresholds), "--op-id", "v-12"))
    before = db_state(db)
    ok(run(runner, db, "changesets", "revert", str(thresholds), "--op-id", "v-12"))
    assert db_state(db) == before
    prices = {v["sku"]: v["price"] for v in catalog.get_product(db, 1)["variants"]}
    assert prices == {"TEE-S": "5.00", "TEE-M": "30.00", "TEE-L": "22.00", "TEE-XL": "20.00"}
