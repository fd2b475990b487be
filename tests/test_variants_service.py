"""Variants: attributes and values, templates, the combination generator, surcharge pricing, bulk
variant operations and the matrix, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import AuditEntry, VariantOption
from backoffice.services import catalog, changesets, inventory
from backoffice.services import variants as vs
from backoffice.services.base import Actor, ConflictError, ValidationError
from backoffice.services.bulk import Target
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.inventory import MoveLine
from backoffice.services.variants import GenerationRequest

D = Decimal
SIZES = ["XS", "S", "M", "L", "XL"]
COLORS = ["Red", "Blue", "Green"]


@pytest.fixture
def shop(db: Database, actor: Actor):  # type: ignore[no-untyped-def]
    vs.create_attribute(db, actor, code="size", name="Size", values=SIZES)
    vs.create_attribute(db, actor, code="color", name="Colour", values=COLORS)
    vs.create_attribute(db, actor, code="material", name="Material", values=["Cotton", "Leather"])
    tee = catalog.create_product(db, actor, values={"handle": "basic-tee", "title": "Basic Tee"}).entity_id
    polo = catalog.create_product(db, actor, values={"handle": "polo", "title": "Polo"}).entity_id
    return {"tee": tee, "polo": polo}


def _skus(db: Database, product_id: int) -> list[str]:
    return sorted(v["sku"] for v in catalog.get_product(db, product_id)["variants"])


def _variants(db: Database, product_id: int) -> dict[str, dict]:
    return {v["sku"]: v for v in catalog.get_product(db, product_id)["variants"]}


# -- attributes -----------------------------------------------------------------------------------------
def test_attributes_values_order_rename_and_remove(db: Database, actor: Actor, shop) -> None:
    size = next(a for a in vs.list_attributes(db) if a.code == "size")
    assert [v.value for v in size.values] == SIZES
    vs.add_values(db, actor, size.id, ["XXL"])
    size = next(a for a in vs.list_attributes(db) if a.code == "size")
    assert size.offered() == SIZES + ["XXL"]
    ids = [v.id for v in size.values]
    vs.reorder_values(db, actor, size.id, list(reversed(ids)), expected_version=size.version)
    size2 = next(a for a in vs.list_attributes(db) if a.code == "size")
    assert size2.offered() == ["XXL", "XL", "L", "M", "S", "XS"]
    assert size2.version == size.version + 1
    with pytest.raises(ConflictError):   # the order was read before the reorder: stale
        vs.reorder_values(db, actor, size.id, ids, expected_version=size.version)
    with pytest.raises(ValidationError, match="every value"):
        vs.reorder_values(db, actor, size.id, ids[:2])
    xxl = next(v for v in size2.values if v.value == "XXL")
    vs.rename_value(db, actor, xxl.id, value="2XL", expected_version=xxl.version)
    with pytest.raises(ValidationError, match="already exists"):
        vs.rename_value(db, actor, xxl.id, value="XL")
    vs.rename_attribute(db, actor, size.id, name="Shirt size")
    # unused: deleted; used by a variant: archived (the variant keeps it)
    assert vs.remove_value(db, actor, xxl.id).action == "delete"
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["M"]}, price="10.00"))
    m = next(v for v in next(a for a in vs.list_attributes(db) if a.code == "size").values if v.value == "M")
    assert m.variant_count == 1
    assert vs.remove_value(db, actor, m.id).action == "archive"
    size3 = next(a for a in vs.list_attributes(db) if a.code == "size")
    assert "M" not in size3.offered() and "M" in [v.value for v in size3.values]
    with pytest.raises(ValidationError, match="'M' is archived"):
        vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["M", "L"]}, price="1.00"))
    assert size3.name == "Shirt size"
    material = next(a for a in vs.list_attributes(db) if a.code == "material")
    assert vs.remove_attribute(db, actor, material.id).action == "delete"
    assert vs.remove_attribute(db, actor, size.id).action == "archive"
    assert all(a.code != "size" for a in vs.list_attributes(db, include_archived=False))


def test_attribute_validation(db: Database, actor: Actor) -> None:
    with pytest.raises(ValidationError) as info:
        vs.create_attribute(db, actor, code="Bad Code", values=["A", "A", " "])
    text = str(info.value)
    assert "lower-case" in text and "A given more than once" in text and "must not be empty" in text
    with pytest.raises(ValidationError, match="reserved"):
        vs.create_attribute(db, actor, code="handle", values=["x"])


def test_templates_round_trip_and_drive_the_generator(db: Database, actor: Actor, shop) -> None:
    change = vs.save_template(db, actor, name="Apparel sizes XS–XL × colours",
                              options={"size": SIZES, "color": COLORS},
                              exclusions=[{"color": "Green", "size": "XS"}], sku_pattern="{handle}-{color:3}-{size}")
    t = vs.get_template(db, change.entity_id)
    assert t.options == {"size": SIZES, "color": COLORS}
    assert t.exclusions == [{"size": "XS", "color": "Green"}]
    assert t.summary() == "size (5) × color (3)"
    with pytest.raises(ValidationError, match="neither handle"):
        vs.save_template(db, actor, name="Broken", options={"size": SIZES}, sku_pattern="{handle}-{colour}")
    with pytest.raises(ValidationError, match="already used"):
        vs.save_template(db, actor, name=t.name, options={"size": SIZES})
    request = GenerationRequest.from_template(db, t.id, [shop["tee"]], price="12.00")
    plan = vs.plan_generation(db, request)
    assert (plan.combinations, plan.excluded, plan.to_create) == (14, 1, 14)
    vs.save_template(db, actor, name="Sizes only", options={"size": ["S", "M"]}, template_id=t.id,
                     expected_version=t.version)
    assert vs.get_template(db, t.id).options == {"size": ["S", "M"]}
    vs.delete_template(db, actor, t.id)
    assert vs.list_templates(db) == []


# -- generator ------------------------------------------------------------------------------------------
def test_sku_pattern_rendering() -> None:
    pattern = vs.SkuPattern("{handle}-{color:3}-{size}")
    assert pattern.render({"handle": "basic-tee", "color": "Blue", "size": "XL"}) == "BASIC-TEE-BLU-XL"
    assert vs.SkuPattern("{title:5}/{color}").render({"title": "Crème brûlée", "color": "Dark blue"}) == "CREME/DARK-BLUE"
    assert vs.sanitise("  a b__c! ") == "A-B-C"
    with pytest.raises(ValidationError, match="placeholders"):
        vs.SkuPattern("{handle}-{color:x}").check({"color"})
    with pytest.raises(ValidationError, match="unmatched brace"):
        vs.SkuPattern("{handle}-{color").check({"color"})


def test_generate_counts_exclusions_skus_and_rerun_adds_only_missing(db: Database, actor: Actor, shop) -> None:
    request = GenerationRequest((shop["tee"], shop["polo"]), {"size": SIZES, "color": COLORS},
                                exclusions=({"color": "Green", "size": "XS"}, {"color": "Red", "size": "XL"}),
                                sku_pattern="{handle}-{color:3}-{size}", price="20.00")
    plan = vs.plan_generation(db, request)
    assert plan.problems == []
    assert (plan.combinations, plan.excluded, plan.to_create, plan.existing) == (13, 2, 26, 0)
    rows = plan.rows()
    assert rows[0] == ("basic-tee", "XS / Red", "BASIC-TEE-RED-XS", D("20.00"), "create")
    assert "BASIC-TEE-GRE-XS" not in {r[2] for r in rows}
    result = vs.generate(db, actor, request)
    assert (result.created, result.archived, result.deleted) == (26, 0, 0)
    assert len(_skus(db, shop["tee"])) == 13 and "POLO-BLU-M" in _skus(db, shop["polo"])
    tee = _variants(db, shop["tee"])
    assert tee["BASIC-TEE-BLU-M"]["title"] == "M / Blue"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(VariantOption)) == 52
    # running it again creates nothing
    again = vs.plan_generation(db, request)
    assert (again.to_create, again.existing) == (0, 26)
    assert vs.generate(db, actor, request).created == 0
    # adding a value adds only its combinations
    bigger = GenerationRequest((shop["tee"],), {"size": SIZES, "color": COLORS},
                               exclusions=({"color": "Green", "size": "XS"},), sku_pattern="{handle}-{color:3}-{size}",
                               price="20.00")
    assert vs.generate(db, actor, bigger).created == 1      # Red XL, no longer excluded
    assert len(_skus(db, shop["tee"])) == 14
    # the generation is one changeset; reverting it archives what it created
    cs = changesets.list_changesets(db)[-1]
    assert cs.kind == "generate" and cs.row_count == 26
    changesets.revert_changeset(db, actor, cs.id)
    assert {v["status"] for v in catalog.get_product(db, shop["polo"])["variants"]} == {"archived"}


def test_generate_is_idempotent_with_an_operation_id(db: Database, actor: Actor, shop) -> None:
    request = GenerationRequest((shop["tee"],), {"size": ["S", "M"]}, price="9.00")
    op = uuid.uuid4().hex
    first = vs.generate(db, actor, request, operation_id=op)
    second = vs.generate(db, actor, request, operation_id=op)
    assert first == second and first.created == 2
    assert len(_skus(db, shop["tee"])) == 2


def test_duplicate_skus_are_refused_naming_the_row(db: Database, actor: Actor, shop) -> None:
    catalog.add_variant(db, actor, shop["polo"], values={"sku": "BASIC-TEE-RED-M", "price": "5.00"})
    request = GenerationRequest((shop["tee"],), {"size": ["M", "L"], "color": ["Red"]},
                                sku_pattern="{handle}-{color:3}-{size}", price="5.00")
    with pytest.raises(ValidationError) as info:
        vs.generate(db, actor, request)
    assert "product basic-tee, M / Red sku: 'BASIC-TEE-RED-M' is already used by another variant in the catalog" \
        in str(info.value)
    # within the batch: the pattern leaves out the colour, so two combinations get one SKU
    clash = GenerationRequest((shop["tee"],), {"size": ["M"], "color": ["Red", "Blue"]}, sku_pattern="{handle}-{size}",
                              price="5.00")
    with pytest.raises(ValidationError) as info:
        vs.generate(db, actor, clash)
    assert "product basic-tee, M / Blue sku: 'BASIC-TEE-M' is also generated for product basic-tee, M / Red" in str(info.value)
    assert _skus(db, shop["tee"]) == []      # nothing written
    with pytest.raises(ValidationError, match="has no base price"):
        vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["M"]}))
    with pytest.raises(ValidationError, match="'Purple' is not one of its values"):
        vs.generate(db, actor, GenerationRequest((shop["tee"],), {"color": ["Purple"]}, price="1.00"))


def test_removing_values_archives_variants_with_stock_or_sales_and_deletes_the_rest(db: Database, actor: Actor,
                                                                                      shop) -> None:
    wh = inventory.create_location(db, actor, code="WH", name="Warehouse", kind="warehouse").entity_id
    sup = inventory.create_location(db, actor, code="SUP", name="Supplier", kind="supplier").entity_id
    request = GenerationRequest((shop["tee"],), {"size": ["S", "M", "L"]}, price="10.00")
    vs.generate(db, actor, request)
    tee = _variants(db, shop["tee"])
    inventory.post_moves(db, actor, operation_id="r-1", reason="receipt",
                         lines=[MoveLine(tee["BASIC-TEE-S"]["id"], sup, wh, 5)])
    pruned = GenerationRequest((shop["tee"],), {"size": ["M"]}, price="10.00", prune=True)
    plan = vs.plan_generation(db, pruned)
    assert (plan.to_create, plan.existing, plan.to_archive, plan.to_delete) == (0, 1, 1, 1)
    result = vs.generate(db, actor, pruned)
    assert (result.archived, result.deleted) == (1, 1)
    after = _variants(db, shop["tee"])
    assert set(after) == {"BASIC-TEE-S", "BASIC-TEE-M"}
    assert after["BASIC-TEE-S"]["status"] == "archived" and after["BASIC-TEE-M"]["status"] == "active"
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "delete",
                                                                                  AuditEntry.entity == "variant")) == 1
    # a variant with other attributes (here none) is counted and left alone
    catalog.add_variant(db, actor, shop["tee"], values={"sku": "TEE-PLAIN", "price": "10.00"})
    assert vs.plan_generation(db, pruned).other == 1
    # the archived one is not offered again as a duplicate when S comes back
    assert vs.plan_generation(db, GenerationRequest((shop["tee"],), {"size": ["S", "M"]}, price="1.00")).to_create == 0


# -- pricing --------------------------------------------------------------------------------------------
def test_surcharge_arithmetic() -> None:
    s = vs.Surcharge
    assert vs.compute_price(D("20.00"), [s("amount", D("2.00")), s("percent", D("15"))]) == D("25.00")
    assert vs.compute_price(D("19.99"), [s("percent", D("15"))]) == D("22.99")   # 22.9885 rounds half-up
    assert vs.compute_price(D("10.00"), [s("amount", D("-1.50"))]) == D("8.50")
    assert vs.compute_price(D("1.00"), [s("amount", D("-5.00"))]) == D("0.00")


def test_reprice_by_rules_keeps_overrides_and_reverts(db: Database, actor: Actor, shop) -> None:
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["M", "XL"], "material": ["Cotton", "Leather"]},
                                             sku_pattern="{handle}-{size}-{material:1}", price="10.00"))
    vs.set_base_price(db, actor, shop["tee"], "20.00")
    vs.set_rule(db, actor, attribute="size", value="XL", kind="amount", amount="2.00")
    vs.set_rule(db, actor, attribute="material", value="Leather", kind="percent", amount="15")
    # a product's own rule replaces the store-wide one
    vs.set_rule(db, actor, attribute="size", value="XL", kind="amount", amount="3.00", product_id=shop["polo"])
    assert [(r.value, r.kind, r.amount, r.product_id) for r in vs.list_rules(db)] == [
        ("XL", "amount", D("2.00"), None), ("XL", "amount", D("3.00"), shop["polo"]),
        ("Leather", "percent", D("15.00"), None)]
    tee = _variants(db, shop["tee"])
    vs.set_price_override(db, actor, [tee["BASIC-TEE-M-C"]["id"]], True)
    plan = vs.plan_reprice(db, [shop["tee"], shop["polo"]])
    assert plan.considered == 4 and plan.skipped_overrides == 1 and plan.products_without_base == ["polo"]
    new = {sku: n for sku, _, n, _ in plan.sample}
    assert new == {"BASIC-TEE-M-L": D("23.00"), "BASIC-TEE-XL-C": D("22.00"), "BASIC-TEE-XL-L": D("25.00")}
    assert ("BASIC-TEE-XL-L", D("10.00"), D("25.00"), "20.00 +2.00 +15 %") in plan.sample
    result = vs.apply_reprice(db, actor, plan)
    assert result.applied_rows == 3
    after = _variants(db, shop["tee"])
    assert after["BASIC-TEE-M-C"]["price"] == "10.00"          # the override stays
    assert after["BASIC-TEE-XL-L"]["price"] == "25.00"
    assert vs.plan_reprice(db, [shop["tee"]]).affected == 0    # nothing left to change
    changesets.revert_changeset(db, actor, result.changeset_id)
    assert {v["price"] for v in _variants(db, shop["tee"]).values()} == {"10.00"}
    # new combinations get base + surcharges
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["XL"], "material": ["Leather"]},
                                             sku_pattern="{handle}-{size}-{material:1}"))
    with pytest.raises(ValidationError, match="is not amount or percent"):
        vs.set_rule(db, actor, attribute="size", value="XL", kind="fixed", amount="1")


def test_reprice_refuses_prices_above_compare_at(db: Database, actor: Actor, shop) -> None:
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["XL"]}, price="10.00"))
    v = next(iter(_variants(db, shop["tee"]).values()))
    catalog.update_variant(db, actor, v["id"], expected_version=v["version"], values={"compare_at_price": "11.00"})
    vs.set_base_price(db, actor, shop["tee"], "12.00")
    plan = vs.plan_reprice(db, [shop["tee"]])
    assert plan.invalid == [("SKU BASIC-TEE-XL", "price", "12.00 would be above the compare-at price 11.00")]
    with pytest.raises(ValidationError, match="BASIC-TEE-XL"):
        vs.apply_reprice(db, actor, plan)


def test_reprice_planned_again_at_apply_keeps_prices_changed_since_the_preview(db: Database, actor: Actor,
                                                                              shop) -> None:
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["M", "L", "XL"]}, price="10.00"))
    vs.set_base_price(db, actor, shop["tee"], "20.00")
    vs.set_rule(db, actor, attribute="size", value="XL", kind="amount", amount="2.00")
    plan = vs.plan_reprice(db, [shop["tee"]])
    tee = _variants(db, shop["tee"])
    assert plan.versions == {("variant", v["id"]): v["version"] for v in tee.values()}
    catalog.update_variant(db, actor, tee["BASIC-TEE-M"]["id"], expected_version=tee["BASIC-TEE-M"]["version"],
                           values={"price": "15.00"})                       # another user, meanwhile
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["S", "M", "L", "XL"]}, price="10.00"))
    s_id = _variants(db, shop["tee"])["BASIC-TEE-S"]["id"]            # generated at base: not in the preview
    catalog.update_variant(db, actor, s_id, expected_version=_variants(db, shop["tee"])["BASIC-TEE-S"]["version"],
                           values={"price": "9.00"})
    result = vs.apply_reprice_to(db, actor, [shop["tee"]], previewed=plan.versions, operation_id="rep-1")
    assert result.applied_rows == 2 and [c.label for c in result.conflicts] == ["BASIC-TEE-M"]
    prices = {sku: v["price"] for sku, v in _variants(db, shop["tee"]).items()}
    assert prices == {"BASIC-TEE-S": "9.00", "BASIC-TEE-M": "15.00", "BASIC-TEE-L": "20.00", "BASIC-TEE-XL": "22.00"}
    retry = vs.apply_reprice_to(db, actor, [shop["tee"]], previewed=plan.versions, operation_id="rep-1")
    assert retry.changeset_id == result.changeset_id
    everything = vs.apply_reprice_to(db, actor, [shop["tee"]])            # no preview: every price that differs
    assert everything.applied_rows == 2


# -- bulk -----------------------------------------------------------------------------------------------
def test_bulk_on_all_xl_in_a_category_applies_and_reverts(db: Database, actor: Actor, shop) -> None:
    shirts = catalog.create_category(db, actor, name="Shirts").entity_id
    tee = catalog.get_product(db, shop["tee"])
    catalog.update_product(db, actor, shop["tee"], expected_version=tee["version"], values={"category_id": shirts})
    both = GenerationRequest((shop["tee"], shop["polo"]), {"size": ["M", "XL"]}, price="10.00")
    vs.generate(db, actor, both)
    target = Target(filter=vs.option_filter(db, {"size": "XL"}, VariantFilter(category_id=shirts)))
    plan = vs.plan_bulk(db, "price", "14.50", target)
    assert plan.considered == 1 and plan.sample == [("SKU BASIC-TEE-XL", "price", D("10.00"), D("14.50"))]
    result = vs.apply_bulk(db, actor, plan)
    assert _variants(db, shop["tee"])["BASIC-TEE-XL"]["price"] == "14.50"
    assert _variants(db, shop["polo"])["POLO-XL"]["price"] == "10.00"
    undo = changesets.revert_changeset(db, actor, result.changeset_id)
    assert undo.applied_rows == 1 and undo.conflicts == []
    assert _variants(db, shop["tee"])["BASIC-TEE-XL"]["price"] == "10.00"
    for field_name, value, column, expected in (("weight_grams", "250", "weight_grams", 250),
                                                ("disable", None, "status", "disabled"),
                                                ("cost", "4.00", "cost", "4.00")):
        vs.apply_bulk(db, actor, vs.plan_bulk(db, field_name, value, Target(filter=VariantFilter(
            option_value_ids=target.filter.option_value_ids))))
        assert {_variants(db, p)[s][column] for p, s in ((shop["tee"], "BASIC-TEE-XL"), (shop["polo"], "POLO-XL"))} \
            == {expected}
    with pytest.raises(ValidationError, match="is not one of"):
        vs.bulk_operation("barcode", "1")


def test_bulk_thresholds_preview_apply_revert(db: Database, actor: Actor, shop) -> None:
    wh = inventory.create_location(db, actor, code="WH", name="Warehouse", kind="warehouse").entity_id
    inventory.create_location(db, actor, code="SHOP", name="Shop", kind="store")
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["M", "XL"]}, price="10.00"))
    ids = [v["id"] for v in _variants(db, shop["tee"]).values()]
    plan = vs.plan_thresholds(db, Target(variant_ids=tuple(ids)), 3, [wh])
    assert plan.affected == 2 and {r.old for r in plan.rows} == {None}
    result = vs.apply_thresholds(db, actor, plan, operation_id="thr-1")
    assert result.applied_rows == 2
    assert vs.apply_thresholds(db, actor, plan, operation_id="thr-1").changeset_id == result.changeset_id  # once
    assert vs.plan_thresholds(db, Target(variant_ids=tuple(ids)), 3, [wh]).affected == 0
    assert vs.plan_thresholds(db, Target(variant_ids=tuple(ids)), 3).affected == 2   # the shop too
    undo = changesets.revert_changeset(db, actor, result.changeset_id)   # the generic revert comes to thresholds
    assert undo.applied_rows == 2 and undo.conflicts == []
    assert changesets.list_changesets(db)[0].reverts_id == result.changeset_id
    again = vs.revert_thresholds(db, actor, result.changeset_id)          # levels changed since: conflicts
    assert again.applied_rows == 0 and len(again.conflicts) == 2
    assert {r.old for r in vs.plan_thresholds(db, Target(variant_ids=tuple(ids)), 5, [wh]).rows} == {None}
    with pytest.raises(ValidationError):
        vs.plan_thresholds(db, Target(variant_ids=tuple(ids)), -1)


def test_thresholds_planned_again_at_apply_keep_what_changed_since_the_preview(db: Database, actor: Actor,
                                                                               shop) -> None:
    wh = inventory.create_location(db, actor, code="WH", name="Warehouse", kind="warehouse").entity_id
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["S", "M", "XL"]}, price="10.00"))
    by_sku = {s: v["id"] for s, v in _variants(db, shop["tee"]).items()}
    target = Target(filter=VariantFilter(product_ids=(shop["tee"],)))
    vs.apply_thresholds(db, actor, vs.plan_thresholds(db, Target(variant_ids=(by_sku["BASIC-TEE-S"],)), 1, [wh]))
    preview = vs.plan_thresholds(db, target, 4, [wh])
    assert preview.affected == 3 and preview.versions == {
        (f"location {wh}", by_sku["BASIC-TEE-S"]): 1, (f"location {wh}", by_sku["BASIC-TEE-M"]): 0,
        (f"location {wh}", by_sku["BASIC-TEE-XL"]): 0}
    # meanwhile: another user changes S, and M gets a level row of its own
    vs.apply_thresholds(db, actor, vs.plan_thresholds(db, Target(variant_ids=(by_sku["BASIC-TEE-S"],)), 2, [wh]))
    vs.apply_thresholds(db, actor, vs.plan_thresholds(db, Target(variant_ids=(by_sku["BASIC-TEE-M"],)), 7, [wh]))
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["S", "M", "L", "XL"]}, price="10.00"))  # L: new
    result = vs.apply_thresholds_to(db, actor, target, 4, [wh], previewed=preview.versions, operation_id="thr-2")
    assert result.applied_rows == 1 and sorted(c.label for c in result.conflicts) == [
        "SKU BASIC-TEE-M at WH", "SKU BASIC-TEE-S at WH"]
    now = {r.sku: r.old for r in vs.plan_thresholds(db, target, 99, [wh]).rows}
    assert now == {"BASIC-TEE-S": 2, "BASIC-TEE-M": 7, "BASIC-TEE-L": None, "BASIC-TEE-XL": 4}
    again = vs.apply_thresholds_to(db, actor, target, 4, [wh], previewed=preview.versions, operation_id="thr-2")
    assert again.changeset_id == result.changeset_id                                   # a retry writes once
    everything = vs.apply_thresholds_to(db, actor, target, 4, [wh])                     # no preview: all that differ
    assert everything.applied_rows == 3 and everything.conflicts == []


# -- matrix ---------------------------------------------------------------------------------------------
def test_matrix_prices_and_stock(db: Database, actor: Actor, shop) -> None:
    wh = inventory.create_location(db, actor, code="WH", name="Warehouse", kind="warehouse").entity_id
    sup = inventory.create_location(db, actor, code="SUP", name="Supplier", kind="supplier").entity_id
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["S", "M"], "color": ["Red", "Blue"]},
                                             sku_pattern="{handle}-{color:1}-{size}", price="10.00"))
    tee = _variants(db, shop["tee"])
    inventory.post_moves(db, actor, operation_id="r-1", reason="receipt",
                         lines=[MoveLine(tee["BASIC-TEE-R-M"]["id"], sup, wh, 7)])
    grid = vs.matrix(db, shop["tee"])
    assert (grid.row_attribute, grid.column_attribute) == ("size", "color")
    assert grid.rows == ("S", "M") and grid.columns == ("Red", "Blue")
    cell = grid.cell("M", "Red")
    assert cell.skus == ("BASIC-TEE-R-M",) and cell.stock == 7 and cell.price_min == D("10.00")
    flipped = vs.matrix(db, shop["tee"], "color", "size")
    assert flipped.rows == ("Red", "Blue") and flipped.cell("Red", "M").stock == 7
    result = vs.set_matrix_prices(db, actor, shop["tee"], {("M", "Red"): "12.00"}, grid)
    assert result.applied_rows == 1
    again = vs.matrix(db, shop["tee"])
    assert again.cell("M", "Red").prices == (D("12.00"),) and again.cell("M", "Red").overrides == 1
    stale = vs.set_matrix_prices(db, actor, shop["tee"], {("M", "Red"): "13.00"}, grid)   # read before the change
    assert stale.applied_rows == 0 and [c.label for c in stale.conflicts] == ["BASIC-TEE-R-M"]
    assert vs.matrix(db, shop["tee"]).cell("M", "Red").prices == (D("12.00"),)
    with pytest.raises(ValidationError, match="no attribute"):
        vs.matrix(db, shop["tee"], "material")


def test_concurrent_generators_on_one_product_create_each_combination_once(db: Database, actor: Actor, shop) -> None:
    import threading

    request = GenerationRequest((shop["tee"],), {"size": SIZES, "color": COLORS}, price="10.00",
                                sku_pattern="{handle}-{color:3}-{size}")
    results, errors = [], []

    def run() -> None:
        try:
            results.append(vs.generate(db, actor, request))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.created for r in results) == [0, 15]
    assert len(_skus(db, shop["tee"])) == 15


def test_find_products_and_overview(db: Database, actor: Actor, shop) -> None:
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["S", "M"]}, price="10.00"))
    vs.set_base_price(db, actor, shop["tee"], "12.00")
    rows = vs.find_products(db)
    assert [(r.handle, r.variants, r.base_price) for r in rows] == [("basic-tee", 2, D("12.00")), ("polo", 0, None)]
    assert [r.handle for r in vs.find_products(db, "POL")] == ["polo"]
    assert len(vs.find_products(db, limit=1)) == 1
    overview = vs.overview(db)
    assert [a.code for a in overview.attributes] == ["size", "color", "material"]
    assert next(v for v in overview.attributes[0].values if v.value == "S").variant_count == 1


def test_a_variant_that_sold_is_archived_not_deleted(db: Database, actor: Actor, shop) -> None:
    from backoffice.models import Order, OrderLine, utcnow

    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["S", "M"]}, price="10.00"))
    sold = _variants(db, shop["tee"])["BASIC-TEE-S"]["id"]
    with db.write() as session:   # as the store writes its orders
        order = Order(number="1001", ordered_at=utcnow(), total=D("10.00"))
        session.add(order)
        session.flush()
        session.add(OrderLine(order_id=order.id, variant_id=sold, quantity=1, unit_price=D("10.00")))
    plan = vs.plan_generation(db, GenerationRequest((shop["tee"],), {"size": ["L"]}, price="10.00", prune=True))
    assert {r.sku: r.action for p in plan.products for r in p.remove} == {"BASIC-TEE-S": "archive",
                                                                         "BASIC-TEE-M": "delete"}
    vs.generate(db, actor, GenerationRequest((shop["tee"],), {"size": ["L"]}, price="10.00", prune=True))
    assert {s: v["status"] for s, v in _variants(db, shop["tee"]).items()} == {"BASIC-TEE-S": "archived",
                                                                               "BASIC-TEE-L": "active"}
