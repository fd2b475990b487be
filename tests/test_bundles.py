"""Bundles on both engines: pricing and margin, component rules, derived availability, orders reserving and
shipping the components through the ledger, bundles refused by the ledger, mix-and-match prices, and the
bundles area over a real store API server."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backoffice.cli import main
from backoffice.db import Database
from backoffice.models import AuditEntry, BundleOrderLine, OrderLine, StockLevel, StockMove, Variant
from backoffice.operations import LocalOperations
from backoffice.services import bundles, catalog, inventory, orders, users
from backoffice.services import importexport as ie
from backoffice.services.base import Actor, ConflictError, NotFound, ValidationError
from backoffice.services.bundles import ComponentSpec
from backoffice.services.inventory import MoveLine
from tests.api_support import PASSWORD, RunningServer
from tests.conftest import SmallStore


def op() -> str:
    return uuid.uuid4().hex


def receive(db: Database, actor: Actor, store: SmallStore, sku_qty: dict[str, int], location: str = "WH1") -> None:
    ids = variant_ids(db)
    inventory.post_moves(db, actor, operation_id=op(), reason="receipt", lines=[
        MoveLine(ids[sku], store.locations["SUP"], store.locations[location], q) for sku, q in sku_qty.items()])


def variant_ids(db: Database) -> dict[str, int]:
    with db.read() as s:
        return dict(s.execute(select(Variant.sku, Variant.id)).all())


def add_hat(db: Database, actor: Actor) -> None:
    catalog.create_product(db, actor, values={"handle": "hat", "title": "Hat", "status": "active"},
                           variants=[{"sku": "HAT", "price": "20.00", "cost": "8.00"}])


def test_pricing_margin_and_component_rules(db: Database, actor: Actor, store: SmallStore) -> None:
    add_hat(db, actor)
    row = bundles.save_bundle(db, actor, sku="KIT-1", title="Winter kit", pricing="discount", percent_off="10",
                              components=[ComponentSpec("MC-M", 2), ComponentSpec("HAT", 1)])
    # (2 × 59.99 + 20.00) × 0.9 = 125.98; cost 2 × 21 + 8 = 50
    assert row.component_price == Decimal("139.98") and row.price == row.rule_price == Decimal("125.98")
    assert row.component_cost == Decimal("50.00") and row.margin == Decimal("75.98")
    assert row.margin_percent == Decimal("60.3")
    assert [(c.sku, c.quantity) for c in row.components] == [("HAT", 1), ("MC-M", 2)]
    # the variant's price is the rule's price, read back from the database
    with db.read() as s:
        assert s.scalar(select(Variant.price).where(Variant.sku == "KIT-1")) == Decimal("125.98")
    fixed = bundles.save_bundle(db, actor, sku="KIT-1", pricing="fixed", amount="99.00", expected_version=row.version)
    assert fixed.price == Decimal("99.00") and fixed.version == row.version + 1
    assert [(c.sku, c.quantity) for c in fixed.components] == [("HAT", 1), ("MC-M", 2)]   # kept when not given
    # saving the same again writes nothing (no version bump, no audit row)
    with db.read() as s:
        audits = s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "bundle"))
    same = bundles.save_bundle(db, actor, sku="KIT-1", pricing="fixed", amount="99", expected_version=fixed.version,
                               components=[ComponentSpec("HAT", 1), ComponentSpec("MC-M", 2)])
    assert same.version == fixed.version
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "bundle")) == audits
    with pytest.raises(ConflictError):
        bundles.save_bundle(db, actor, sku="KIT-1", pricing="fixed", amount="90", expected_version=row.version)
    # bad components: every problem named, nothing written
    with pytest.raises(ValidationError) as bad:
        bundles.save_bundle(db, actor, sku="KIT-2", pricing="fixed", amount="10", components=[
            ComponentSpec("KIT-1", 1), ComponentSpec("NOPE", 1), ComponentSpec("HAT", 0), ComponentSpec("MC-S", 1),
            ComponentSpec("MC-S", 2)])
    text = str(bad.value)
    assert "component KIT-1: is a bundle" in text and "component NOPE: no variant has this SKU" in text
    assert "component HAT: quantity 0" in text and "component MC-S: is listed twice" in text
    with pytest.raises(ValidationError, match="is the bundle itself"):
        bundles.save_bundle(db, actor, sku="KIT-1", pricing="fixed", amount="1", components=[ComponentSpec("KIT-1", 1)])
    with pytest.raises(ValidationError, match="a bundle cannot be a component"):
        bundles.save_bundle(db, actor, sku="HAT", pricing="fixed", amount="1", components=[ComponentSpec("MC-S", 1)])
    with pytest.raises(ValidationError, match="percent_off: 120.00 % is more than 100 %"):
        bundles.save_bundle(db, actor, sku="KIT-3", pricing="discount", percent_off="120", components=[ComponentSpec("HAT", 1)])
    assert [b.sku for b in bundles.list_bundles(db)] == ["KIT-1"]
    # a SKU holding stock cannot become a bundle
    receive(db, actor, store, {"MC-L": 1})
    with pytest.raises(ValidationError, match="MC-L holds stock"):
        bundles.save_bundle(db, actor, sku="MC-L", pricing="fixed", amount="1", components=[ComponentSpec("HAT", 1)])


def test_availability_is_derived_and_the_ledger_refuses_a_bundle(db: Database, actor: Actor, store: SmallStore) -> None:
    add_hat(db, actor)
    bundles.save_bundle(db, actor, sku="KIT", pricing="fixed", amount="100",
                        components=[ComponentSpec("MC-M", 2), ComponentSpec("HAT", 3)])
    receive(db, actor, store, {"MC-M": 7, "HAT": 10})
    receive(db, actor, store, {"MC-M": 2}, "SHOP")
    row = bundles.get_bundle(db, "KIT")
    assert row.available == {"SHOP": 0, "WH1": 3}     # WH1: min(7 // 2, 10 // 3) = 3; SHOP: no hats
    ids = variant_ids(db)
    with pytest.raises(ValidationError, match="SKU KIT variant: is a bundle"):
        receive(db, actor, store, {"KIT": 1})
    with pytest.raises(ValidationError, match="is a bundle"):
        inventory.post_moves(db, actor, operation_id=op(), reason="transfer", lines=[
            MoveLine(ids["KIT"], store.locations["WH1"], store.locations["SHOP"], 1)])
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(StockMove).where(StockMove.variant_id == ids["KIT"])) == 0
    with pytest.raises(NotFound, match="not a bundle"):
        bundles.get_bundle(db, "HAT")


def test_an_order_for_bundles_reserves_ships_and_cancels_components(db: Database, actor: Actor,
                                                                       store: SmallStore) -> None:
    add_hat(db, actor)
    bundles.save_bundle(db, actor, sku="KIT", pricing="fixed", amount="100.00",
                        components=[ComponentSpec("MC-M", 2), ComponentSpec("HAT", 1)])
    receive(db, actor, store, {"MC-M": 10, "HAT": 10})
    ids = variant_ids(db)
    order_id = orders.place_order(db, actor, lines=[(ids["KIT"], 3, "100.00"), (ids["HAT"], 1, "20.00")])
    info = orders.get_order(db, order_id)
    assert info.total == Decimal("320.00")
    assert sorted((ln.sku, ln.quantity, ln.reserved) for ln in info.lines) == [
        ("HAT", 1, 1), ("HAT", 3, 3), ("MC-M", 6, 6)]
    with db.read() as s:
        assert sorted(s.execute(select(Variant.sku, BundleOrderLine.bundle_quantity, BundleOrderLine.per_bundle)
                                .join(OrderLine, OrderLine.id == BundleOrderLine.order_line_id)
                                .join(Variant, Variant.id == OrderLine.variant_id)).all()) == [("HAT", 3, 1), ("MC-M", 3, 2)]
        levels = {v: (oh, r) for v, oh, r in s.execute(select(StockLevel.variant_id, StockLevel.on_hand, StockLevel.reserved)
                                                       .where(StockLevel.location_id == store.locations["WH1"]))}
    assert levels[ids["MC-M"]] == (10, 6) and levels[ids["HAT"]] == (10, 4) and ids["KIT"] not in levels
    assert bundles.get_bundle(db, "KIT").available["WH1"] == 2     # min((10 - 6) // 2, (10 - 4) // 1)
    mm_line = next(ln.id for ln in info.lines if ln.sku == "MC-M")
    orders.fulfil(db, actor, order_id, location_id=store.locations["WH1"], quantities={mm_line: 4}, operation_id=op())
    orders.cancel(db, actor, order_id)
    assert inventory.ledger_mismatches(db) == [] and orders.reservation_mismatches(db) == []
    with db.read() as s:
        to_customer = dict(s.execute(select(StockMove.variant_id, func.sum(StockMove.quantity))
                                     .where(StockMove.to_location_id == store.locations["CUS"])
                                     .group_by(StockMove.variant_id)).all())
        reserved = s.scalar(select(func.sum(StockLevel.reserved)))
    assert to_customer == {ids["MC-M"]: 4} and reserved == 0
    # a store's order lines map to ours around the bundle's component lines
    mixed = orders.place_order(db, actor, lines=[(ids["HAT"], 1, "20.00"), (ids["KIT"], 1, "100.00"),
                                                 (ids["MC-S"], 1, "59.99")])
    ours = {ln.sku: ln.id for ln in orders.get_order(db, mixed).lines if ln.sku in ("MC-S",)}
    first = min(ln.id for ln in orders.get_order(db, mixed).lines)
    assert bundles.store_line_ids(db, mixed, [ids["HAT"], ids["KIT"], ids["MC-S"]]) == [first, None, ours["MC-S"]]


def test_mix_and_match_groups_the_most_expensive_items(db: Database, actor: Actor, store: SmallStore) -> None:
    add_hat(db, actor)
    cheap = catalog.create_product(db, actor, values={"handle": "socks", "title": "Socks", "status": "active"},
                                   variants=[{"sku": "SOCK", "price": "5.00"}])
    rule = bundles.save_rule(db, actor, name="Any 2 for 60", quantity=2, kind="price", amount="60",
                             product_ids=[store.product.entity_id, cheap.entity_id])
    q = bundles.quote(db, "any 2 for 60", ["MC-S", "SOCK", "MC-M", "HAT", "MC-L"])
    # MC-L + MC-M (119.98 → 60) grouped; MC-S + SOCK would cost 64.99 → 60 too; HAT is not in the set
    assert q.full_price == Decimal("204.97") and q.discount == Decimal("59.98") + Decimal("4.99")
    assert q.total == q.full_price - q.discount and len(q.groups) == 2 and q.full_price_skus == ["HAT"]
    percent = bundles.save_rule(db, actor, name="Any 3 at 10 % off", quantity=3, kind="percent", amount="10",
                                product_ids=[store.product.entity_id])
    p = bundles.quote(db, percent.id, ["MC-S", "MC-M", "MC-L", "MC-S"])
    assert p.discount == Decimal("18.00") and p.full_price_skus == ["MC-S"]     # 10 % of 179.97, one left over
    edited = bundles.save_rule(db, actor, rule_id=rule.id, expected_version=rule.version, name="Any 2 for 55",
                               quantity=2, kind="price", amount="55", product_ids=[store.product.entity_id])
    assert edited.version == rule.version + 1 and [r.name for r in bundles.list_rules(db)] == [
        "Any 2 for 55", "Any 3 at 10 % off"]
    with pytest.raises(ConflictError):
        bundles.save_rule(db, actor, rule_id=rule.id, expected_version=rule.version, name="x", quantity=2,
                          kind="price", amount="1", product_ids=[store.product.entity_id])
    with pytest.raises(ValidationError) as bad:
        bundles.save_rule(db, actor, name="", quantity=1, kind="free", amount="-1")
    assert {p[1] for p in bad.value.problems} == {"name", "quantity", "kind", "amount", "set"}
    bundles.delete_rule(db, actor, percent.id)
    assert [r.name for r in bundles.list_rules(db)] == ["Any 2 for 55"]


def test_bundles_over_the_store_api(db: Database, api: RunningServer) -> None:
    from backoffice.remote.session import sign_in

    admin = users.sign_in(db, "admin")
    SmallStore(db, admin)
    add_hat(db, admin)
    merch = sign_in(api.base_url, "merchandiser", PASSWORD)
    warehouse = sign_in(api.base_url, "warehouse", PASSWORD)
    try:
        key = op()
        row = merch.bundles.save("KIT", pricing="discount", amount="5", components=[ComponentSpec("HAT", 2)], op_id=key)
        again = merch.bundles.save("KIT", pricing="discount", amount="5", components=[ComponentSpec("HAT", 2)], op_id=key)
        assert row.price == again.price == Decimal("35.00") and again.version == row.version
        listed = merch.bundles.list()
        assert [(b.sku, b.price, b.component_cost) for b in listed] == [("KIT", Decimal("35.00"), Decimal("16.00"))]
        assert warehouse.bundles.availability("KIT").by_location == {"SHOP": 0, "WH1": 0}
        with pytest.raises(Exception, match="may not run bundles.save"):
            warehouse.bundles.save("KIT", pricing="fixed", amount="1")
    finally:
        merch.close()
        warehouse.close()
    local = LocalOperations(db, admin, owns_database=False)
    assert local.bundles.get("KIT").components[0].quantity == 2


# -- import/export ---------------------------------------------------------------------------------------
def _import(db: Database, actor: Actor, path) -> ie.ImportResult:  # type: ignore[no-untyped-def]
    return ie.apply_import(db, actor, ie.read_products_file(path))


def _state(db: Database) -> list[tuple]:
    with db.read() as s:
        return sorted(s.execute(select(Variant.sku, Variant.price, Variant.version)).all()) + [
            (b.sku, b.pricing, b.amount, b.percent_off, b.version, tuple((c.sku, c.quantity) for c in b.components))
            for b in bundles.list_bundles(db)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_bundles_round_trip_in_the_product_file(db: Database, actor: Actor, store: SmallStore, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    add_hat(db, actor)
    plain = tmp_path / f"plain.{fmt}"
    ie.export_products(db, plain, fmt)
    assert "bundle_components" not in ie.read_products_file(plain).header     # no bundles: the file as it always was
    bundles.save_bundle(db, actor, sku="KIT", pricing="discount", percent_off="10", amount="1",
                        components=[ComponentSpec("MC-M", 2), ComponentSpec("HAT", 1)])
    bundles.save_bundle(db, actor, sku="DUO", pricing="fixed", amount="99.00",
                        components=[ComponentSpec("MC-S", 1), ComponentSpec("MC-L", 1)])
    path = tmp_path / f"all.{fmt}"
    assert ie.export_products(db, path, fmt) == 6
    parsed = ie.read_products_file(path)
    row = next(r for r in parsed.rows if "KIT" in r)
    assert [parsed.clean(row[parsed.columns[c]]) for c in ("bundle_components", "bundle_pricing", "bundle_amount",
                                                            "bundle_percent_off")] == ["HAT*1; MC-M*2", "discount", "1.00", "10.00"]
    before = _state(db)
    for _ in range(2):        # export -> import of the same file changes nothing, twice
        result = _import(db, actor, path)
        assert result.changeset_id is None and result.changed_rows == 0 and _state(db) == before


def test_bundle_cells_are_checked_by_row_and_imported(db: Database, actor: Actor, store: SmallStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    add_hat(db, actor)
    bad = tmp_path / "bad.csv"
    bad.write_text("sku,handle,title,price,bundle_components,bundle_pricing,bundle_amount\n"
                   "SET-1,set-1,Set,10.00,MC-S*2; NOPE*1,fixed,10\n"
                   "SET-2,set-2,Set 2,10.00,HAT*x,fixed,10\n"
                   "SET-3,set-3,Set 3,10.00,HAT*1,sometimes,10\n", encoding="utf-8")
    report = ie.dry_run(db, ie.read_products_file(bad))
    assert [p.label() for p in report.problems] == [
        "row 2 bundle_components: component NOPE: no variant has this SKU",
        "row 3 bundle_components: 'HAT*x': the quantity 'x' is not a whole number",
        "row 4 bundle_pricing: 'sometimes' must be fixed or discount"]
    with pytest.raises(ie.ImportRejected, match="row 2 bundle_components"):
        _import(db, actor, bad)
    assert bundles.list_bundles(db) == [] and "SET-1" not in variant_ids(db)     # nothing written
    good = tmp_path / "good.csv"      # a new bundle made of a new SKU of the same file
    good.write_text("sku,handle,title,price,bundle_components,bundle_pricing,bundle_percent_off\n"
                    "CUP,cup,Cup,4.00,,,\n"
                    "SET-1,set-1,Set,1.00,MC-S*2; CUP*1,discount,50\n", encoding="utf-8")
    result = _import(db, actor, good)
    assert result.new_variants == 2 and "1 bundle created or changed" in result.notes
    kit = bundles.get_bundle(db, "SET-1")
    assert [(c.sku, c.quantity) for c in kit.components] == [("CUP", 1), ("MC-S", 2)] and kit.price == Decimal("61.99")


# -- the command line ----------------------------------------------------------------------------------------
def run(db: Database, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--user", "tester", *args, "--db", db.engine.url.render_as_string(hide_password=False)])


def test_the_command_line(db: Database, actor: Actor, store: SmallStore) -> None:
    add_hat(db, actor)
    made = run(db, "bundles", "create", "KIT", "--title", "Kit", "--component", "MC-M:2", "--component", "HAT:1",
               "--discount", "10%")
    assert made.exit_code == 0 and "price 125.98" in made.output
    listed = run(db, "bundles", "list", "--json")
    assert listed.exit_code == 0 and [(r["sku"], r["price"]) for r in json.loads(listed.output)] == [("KIT", "125.98")]
    assert json.loads(run(db, "bundles", "availability", "KIT", "--json").output)["by_location"] == {"SHOP": 0, "WH1": 0}
    edited = run(db, "bundles", "edit", "KIT", "--fixed-price", "100")
    assert edited.exit_code == 0 and bundles.get_bundle(db, "KIT").price == Decimal("100.00")
    for args, message in ((("create", "BAD", "--component", "NOPE:1", "--fixed-price", "5"), "component NOPE: no variant has this SKU"),
                          (("create", "BAD", "--component", "HAT:x"), "the quantity 'x' is not a whole number"),
                          (("create", "BAD", "--component", "HAT:1", "--fixed-price", "1", "--discount", "5%"), "not both"),
                          (("show", "HAT"), "not a bundle")):
        bad = run(db, "bundles", *args)
        assert bad.exit_code == 1 and message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    rule = run(db, "bundles", "rules", "add", "Any 2", "--quantity", "2", "--price", "100", "--product",
               str(store.product.entity_id))
    assert rule.exit_code == 0, rule.output
    quote = json.loads(run(db, "bundles", "rules", "quote", "Any 2", "MC-S", "MC-M", "--json").output)
    assert (quote["full_price"], quote["total"]) == ("119.98", "100.00")
    assert run(db, "bundles", "delete", "KIT").exit_code == 0 and bundles.list_bundles(db) == []
