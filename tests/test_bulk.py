"""Bulk operations: the arithmetic, targets by selection and by filter, preview, apply, revert."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.db import Database
from backoffice.services import bulk, catalog, changesets
from backoffice.services.base import Actor, ValidationError
from backoffice.services.bulk import BulkOperation, PriceStep, Target, compute_money
from backoffice.services.catalog_grid import VariantFilter
from backoffice.services.wording import count_text, decimal_text

D = Decimal


@pytest.mark.parametrize("value,steps,expected", [
    ("10.00", [("percent", "7")], "10.70"),
    ("10.40", [("round_ending", "0.99")], "9.99"),
    ("10.60", [("round_ending", "0.99")], "10.99"),
    ("19.00", [("percent", "7"), ("round_ending", "0.99")], "19.99"),   # 20.33 -> 19.99 (nearest)
    ("12.34", [("round_step", "0.05")], "12.35"),
    ("5.00", [("add", "-7"), ("floor", "1.00")], "1.00"),
    ("8.00", [("set", "12.50")], "12.50"),
    ("0.40", [("round_ending", "0.95")], "0.95"),
])
def test_money_steps(value, steps, expected) -> None:
    assert compute_money(D(value), tuple(PriceStep(o, D(v)) for o, v in steps), None) == D(expected)


def test_price_from_cost_with_margin() -> None:
    assert compute_money(D("1"), (PriceStep("from_cost", D("40")),), D("6.00")) == D("10.00")
    with pytest.raises(ValueError, match="no cost"):
        compute_money(D("1"), (PriceStep("from_cost", D("40")),), None)


@given(st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2), st.sampled_from(["0.99", "0.95", "0.00"]))
def test_round_ending_always_ends_right_and_is_nearest(value, ending) -> None:
    out = compute_money(value, (PriceStep("round_ending", D(ending)),), None)
    assert out % 1 == D(ending)
    # nearest such price, except below the first one (prices never go negative)
    assert abs(out - value) <= D("0.50") or (out == D(ending) and value < out)


def test_bulk_price_change_on_a_filter_previews_and_applies(db: Database, actor: Actor, store) -> None:
    other = catalog.create_product(db, actor, values={"handle": "cap", "title": "Wool Cap", "vendor": "Other"},
                                   variants=[{"sku": "CAP-1", "price": "15.00", "compare_at_price": "16.00"}])
    op = BulkOperation("money", "price", steps=(PriceStep("percent", D("7")), PriceStep("round_ending", D("0.99"))))
    p = bulk.plan(db, op, Target(filter=VariantFilter(vendors=("Norda",))))
    assert p.considered == 3 and p.affected == 3 and p.invalid == []
    assert p.sample[0] == ("SKU MC-S", "price", D("59.99"), D("63.99"))
    assert p.stats == {"min": D("4.00"), "median": D("4.00"), "max": D("4.00")}
    result = bulk.apply_plan(db, actor, p.operation, p.target, previewed=p.versions)
    assert result.applied_rows == 3
    assert {v["price"] for v in catalog.get_product(db, store.product.entity_id)["variants"]} == {"63.99"}
    assert catalog.get_product(db, other.entity_id)["variants"][0]["price"] == "15.00"  # not matched by the filter
    # compare-at below the new price blocks the apply and names the row
    blocked = bulk.plan(db, BulkOperation("money", "price", steps=(PriceStep("add", D("2")),)),
                        Target(variant_ids=(other.children[0].entity_id,)))
    assert blocked.invalid == [("SKU CAP-1", "price", "compare-at 16.00 would be below the price 17.00")]
    with pytest.raises(ValidationError, match="CAP-1"):
        bulk.apply_plan(db, actor, blocked.operation, blocked.target, previewed=blocked.versions)
    changesets.revert_changeset(db, actor, result.changeset_id)
    assert {v["price"] for v in catalog.get_product(db, store.product.entity_id)["variants"]} == {"59.99"}


def test_product_level_operations_on_a_selection(db: Database, actor: Actor, store) -> None:
    sel = Target(variant_ids=tuple(store.variant_ids[:2]))  # two variants of one product = one product
    p = bulk.plan(db, BulkOperation("tags_add", tags=("sale",)), sel)
    assert p.affected == 1 and p.sample == [("product merino-crew", "tags", "winter, wool", "sale, winter, wool")]
    bulk.apply_plan(db, actor, p.operation, p.target, previewed=p.versions)
    p2 = bulk.plan(db, BulkOperation("set", "status", value="draft"), sel)
    bulk.apply_plan(db, actor, p2.operation, p2.target, previewed=p2.versions)
    p3 = bulk.plan(db, BulkOperation("replace", "title", find="merino", replace="Alpaca"), sel)
    assert p3.sample == [("product merino-crew", "title", "Merino Crew", "Alpaca Crew")]
    bulk.apply_plan(db, actor, p3.operation, p3.target, previewed=p3.versions)
    data = catalog.get_product(db, store.product.entity_id)
    assert (data["tags"], data["status"], data["title"]) == (["sale", "winter", "wool"], "draft", "Alpaca Crew")
    rx = bulk.plan(db, BulkOperation("replace", "sku", find=r"^MC-(\w)$", replace=r"MCX-\1", regex=True, case_sensitive=True),
                   Target(filter=VariantFilter(product_ids=(store.product.entity_id,))))
    assert [s[3] for s in rx.sample] == ["MCX-S", "MCX-M", "MCX-L"]
    same = bulk.plan(db, BulkOperation("replace", "sku", find=r"^MC-\w$", replace="MC-ONE", regex=True),
                     Target(filter=VariantFilter(product_ids=(store.product.entity_id,))))
    assert sorted(p[0] for p in same.invalid) == sorted(f"variant {v}" for v in store.variant_ids)
    assert all("'MC-ONE' would be used twice" in p[2] for p in same.invalid)
    with pytest.raises(ValidationError):
        bulk.apply_plan(db, actor, same.operation, same.target, previewed=same.versions)


def test_bad_operations_are_refused(db: Database, actor: Actor, store) -> None:
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        bulk.plan(db, BulkOperation("replace", "title", find="(", regex=True), Target(variant_ids=(1,)))
    with pytest.raises(ValidationError, match="is not one of"):
        bulk.plan(db, BulkOperation("money", "weight", steps=(PriceStep("add", D(1)),)), Target(variant_ids=(1,)))
    with pytest.raises(ValidationError, match="category 999 does not exist"):
        bulk.plan(db, BulkOperation("set", "category_id", value=999), Target(variant_ids=tuple(store.variant_ids)))
    below = bulk.plan(db, BulkOperation("money", "price", steps=(PriceStep("add", D("-100")),)), Target(variant_ids=tuple(store.variant_ids)))
    assert len(below.invalid) == 3 and "below zero" in below.invalid[0][2]


def test_category_set_replace_remove(db: Database, actor: Actor, store) -> None:
    apparel = catalog.create_category(db, actor, name="Apparel").entity_id
    knit = catalog.create_category(db, actor, name="Knitwear", parent_id=apparel).entity_id
    other = catalog.create_product(db, actor, values={"handle": "scarf", "title": "Scarf", "category_id": apparel},
                                   variants=[{"sku": "SC-1", "price": "19.99"}])
    everyone = Target(filter=VariantFilter())
    # set: every targeted product
    bulk.apply_plan(db, actor, BulkOperation("set", "category_id", value=knit),
                    Target(variant_ids=tuple(store.variant_ids)))
    assert catalog.get_product(db, store.product.entity_id)["category_id"] == knit
    # replace: only products in the old category move; the plan counts products, not variants
    p = bulk.plan(db, BulkOperation("category_replace", find=str(knit), value=apparel), everyone)
    assert p.considered == 2 and p.affected == 1
    assert p.sample == [("product merino-crew", "category_id", knit, apparel)]
    bulk.apply_plan(db, actor, p.operation, p.target, previewed=p.versions)
    assert catalog.get_product(db, store.product.entity_id)["category_id"] == apparel
    # remove a given category: only its products lose it
    bulk.apply_plan(db, actor, BulkOperation("set", "category_id", value=knit),
                    Target(variant_ids=tuple(store.variant_ids)))
    result = bulk.apply_plan(db, actor, BulkOperation("category_remove", value=apparel), everyone)
    assert result.applied_rows == 1
    assert catalog.get_product(db, other.entity_id)["category_id"] is None
    assert catalog.get_product(db, store.product.entity_id)["category_id"] == knit
    # and the change can be reverted
    changesets.revert_changeset(db, actor, result.changeset_id)
    assert catalog.get_product(db, other.entity_id)["category_id"] == apparel


def test_category_operations_check_their_arguments(db: Database, actor: Actor, store) -> None:
    with pytest.raises(ValidationError, match="category 4242 does not exist"):
        bulk.plan(db, BulkOperation("category_replace", find="4242", value=1), Target(variant_ids=tuple(store.variant_ids)))
    with pytest.raises(ValidationError, match="give the category to put in its place"):
        bulk.plan(db, BulkOperation("category_replace", find="1"), Target(variant_ids=tuple(store.variant_ids)))


def test_create_category_builds_paths_and_refuses_duplicates(db: Database, actor: Actor) -> None:
    root = catalog.create_category(db, actor, name="Home").entity_id
    child = catalog.create_category(db, actor, name="Kitchen", parent_id=root)
    assert child.after["path"] == f"/{root}/{child.entity_id}/"
    with pytest.raises(ValidationError, match="already exists"):
        catalog.create_category(db, actor, name="Kitchen", parent_id=root)
    with pytest.raises(ValidationError, match="must not be empty"):
        catalog.create_category(db, actor, name="  ")


# -- numbers in words -----------------------------------------------------------------------------------
def _no_noise(text: str, places: int) -> bool:
    """No exponent, and no trailing zero after the first ``places`` decimals."""
    if "e" in text.lower():
        return False
    _, dot, fraction = text.partition(".")
    if not dot:
        return places == 0
    return len(fraction) >= places and (len(fraction) == places or not fraction.endswith("0"))


any_decimal = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, min_value=D("-1e12"), max_value=D("1e12")),
    st.decimals(allow_nan=False, allow_infinity=False, min_value=D("0"), max_value=D("1000"), places=2)
    .map(lambda d: d.normalize()),   # 10.00 -> 1E+1, the form that leaked into descriptions
    st.integers(min_value=-10**9, max_value=10**9).map(lambda n: D(n).scaleb(3).normalize()),
)


@given(any_decimal, st.sampled_from([0, 2]))
def test_decimal_text_never_has_an_exponent_or_trailing_zero_noise(value, places) -> None:
    text = decimal_text(value, places=places)
    assert _no_noise(text, places), text
    assert D(text) == value                      # the same number, written out in full
    assert not text.startswith("-0") or D(text) != 0


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=D("0"), max_value=D("99.99"), places=3),
       st.sampled_from(["percent", "from_cost", "add", "set", "round_step", "floor"]))
def test_operation_descriptions_write_numbers_out(value, op) -> None:
    step = PriceStep(op, value.normalize())      # normalize() is what turned 10 into "1E+1"
    text = bulk.describe_step(step)
    [number] = re.findall(r"\d[\d.]*", text)
    assert "E" not in text
    assert D(number) == value
    assert _no_noise(number, 0 if op in ("percent", "from_cost") else 2)
    assert "E" not in BulkOperation("money", "price", steps=(step,)).describe()


@pytest.mark.parametrize("value,expected", [
    ("10", "Price: raise by 10 %"), ("20.00", "Price: raise by 20 %"), ("7.50", "Price: raise by 7.5 %"),
    ("100", "Price: raise by 100 %"), ("0.125", "Price: raise by 0.125 %"),
])
def test_percent_description_reads_as_written(value, expected) -> None:
    assert BulkOperation("money", "price", steps=(PriceStep("percent", D(value).normalize()),)).describe() == expected


def test_a_bulk_changeset_description_has_no_exponent(db: Database, actor: Actor, store) -> None:
    op = BulkOperation("money", "price", steps=(PriceStep("percent", D("10").normalize()),
                                                PriceStep("round_ending", D("0.99"))))
    result = bulk.apply_plan(db, actor, op, Target(variant_ids=tuple(store.variant_ids)))
    [latest] = changesets.list_changesets(db, limit=1)
    assert latest.id == result.changeset_id
    assert latest.description == "Price: raise by 10 %, then round to ending .99"


def test_count_text_agrees_with_the_count() -> None:
    assert [count_text(n, "variant", "variants") for n in (0, 1, 2, 1234)] == \
        ["0 variants", "1 variant", "2 variants", "1,234 variants"]


# -- prices below cost ----------------------------------------------------------------------------------
def test_prices_below_cost_are_listed_and_need_confirmation(db: Database, actor: Actor, store) -> None:
    cap = catalog.create_product(db, actor, values={"handle": "cap", "title": "Wool Cap"},
                                 variants=[{"sku": "CAP-1", "price": "15.00"}])   # no cost: never below it
    target = Target(variant_ids=(*store.variant_ids, cap.children[0].entity_id))
    p = bulk.plan(db, BulkOperation("money", "price", steps=(PriceStep("set", D("20.00")),)), target)
    assert p.affected == 4 and p.invalid == []
    assert p.below_cost == [(f"SKU MC-{s}", D("20.00"), D("21.00")) for s in ("S", "M", "L")]
    assert p.needs_confirmation
    assert bulk.below_cost_text(p)[0] == "SKU MC-S: price 20.00 is below its cost 21.00"
    with pytest.raises(ValidationError, match="below its cost 21.00"):
        bulk.apply_plan(db, actor, p.operation, p.target, previewed=p.versions, allow_below_cost=False)
    assert changesets.list_changesets(db) == []            # refused: nothing written
    confirmed = bulk.apply_plan(db, actor, p.operation, p.target, previewed=p.versions, allow_below_cost=True)
    assert confirmed.applied_rows == 4   # confirmed: written
    # a cost raised above the price is the same warning; a price at or above cost is not
    up = bulk.plan(db, BulkOperation("money", "cost", steps=(PriceStep("set", D("25.00")),)),
                   Target(variant_ids=tuple(store.variant_ids)))
    assert [(label, price, cost) for label, price, cost in up.below_cost] == \
        [(f"SKU MC-{s}", D("20.00"), D("25.00")) for s in ("S", "M", "L")]
    fine = bulk.plan(db, BulkOperation("money", "price", steps=(PriceStep("set", D("25.00")),)),
                     Target(variant_ids=tuple(store.variant_ids)))
    assert fine.affected == 3 and fine.below_cost == [] and not fine.needs_confirmation


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=D("-99"), max_value=D("500"), places=2),
       st.sampled_from(["percent", "amount"]))
def test_surcharges_in_words_have_no_exponent_or_zero_noise(amount, kind) -> None:
    from backoffice.services.variants.pricing import Surcharge

    text = Surcharge(kind=kind, amount=amount.normalize()).describe()
    number = text.lstrip("+−").removesuffix(" %")
    assert _no_noise(number, 0 if kind == "percent" else 2), text
    assert D(number) == abs(amount)


# -- apply plans again, against the preview's versions ----------------------------------------------------
def test_apply_plans_again_and_rows_changed_since_the_preview_are_conflicts(db: Database, actor: Actor,
                                                                             store) -> None:
    target = Target(variant_ids=tuple(store.variant_ids))
    op = BulkOperation("money", "price", steps=(PriceStep("add", D("4")),))
    preview = bulk.plan(db, op, target)
    assert preview.affected == 3 and set(preview.versions) == {("variant", v) for v in store.variant_ids}
    mc_m = next(v for v in catalog.get_product(db, store.product.entity_id)["variants"] if v["sku"] == "MC-M")
    catalog.update_variant(db, actor, mc_m["id"], expected_version=mc_m["version"], values={"price": "70.00"})

    result = bulk.apply_plan(db, actor, op, target, previewed=preview.versions)
    assert result.applied_rows == 2
    [conflict] = result.conflicts   # what the operation would make of the row now, and what it holds
    assert (conflict.label, conflict.field, conflict.theirs, conflict.yours) == ("MC-M", "price", "70.00", "74.00")
    prices = {v["sku"]: v["price"] for v in catalog.get_product(db, store.product.entity_id)["variants"]}
    assert prices == {"MC-S": "63.99", "MC-M": "70.00", "MC-L": "63.99"}
    assert set(result.versions) == {("variant", v) for v in store.variant_ids if v != mc_m["id"]}

    # without a preview's versions, every row the operation changes now is written
    again = bulk.apply_plan(db, actor, op, target)
    assert (again.applied_rows, again.conflicts) == (3, [])


def test_rows_that_were_not_previewed_are_left_alone(db: Database, actor: Actor, store) -> None:
    everyone = Target(filter=VariantFilter(vendors=("Norda",)))
    op = BulkOperation("set", "status", value="archived")
    preview = bulk.plan(db, op, everyone)
    other = catalog.create_product(db, actor, values={"handle": "cap", "title": "Wool Cap", "vendor": "Norda"},
                                   variants=[{"sku": "CAP-1", "price": "15.00"}])   # matches only after the preview
    result = bulk.apply_plan(db, actor, op, everyone, previewed=preview.versions)
    assert (result.applied_rows, result.conflicts) == (1, [])
    assert catalog.get_product(db, other.entity_id)["status"] == "draft"   # as created
    assert catalog.get_product(db, store.product.entity_id)["status"] == "archived"


def test_the_contract_previews_with_a_stamp_and_notes_what_it_changed(db: Database, actor: Actor, store) -> None:
    from backoffice.operations import LocalOperations, collecting, merge
    from backoffice.operations.bulk import pack_versions, unpack_versions
    from backoffice.operations.changes import CHANGESETS, PRICES, PRODUCTS

    versions = {("variant", 3): 1, ("variant", 17): 12, ("variant", 1_000_000): 300, ("product", 5): 2}
    assert unpack_versions(pack_versions(versions)) == versions and unpack_versions("") == {}
    ops = LocalOperations(db, actor)
    target = Target(variant_ids=tuple(store.variant_ids))
    op = BulkOperation("money", "price", steps=(PriceStep("set", D("10.00")),))
    preview = ops.bulk.preview(op, target)
    assert (preview.entity, preview.affected, preview.considered) == ("variant", 3, 3)
    assert preview.below_cost and preview.stamp
    assert unpack_versions(preview.stamp) == bulk.plan(db, op, target).versions
    with pytest.raises(ValidationError, match="below its cost"):   # the user has not confirmed yet
        ops.bulk.apply(op, target, stamp=preview.stamp)
    with collecting() as noted:
        result = ops.bulk.apply(op, target, stamp=preview.stamp, allow_below_cost=True, op_id="ten")
    changes = merge(noted)
    assert changes.concerns(PRICES, CHANGESETS) and not changes.concerns(PRODUCTS)
    assert changes.ids_of("variant") == frozenset(store.variant_ids)
    assert ops.changesets.for_operation("ten").id == result.changeset_id
    invalid = ops.bulk.preview(BulkOperation("money", "price", steps=(PriceStep("add", D("-100")),)), target)
    assert invalid.invalid and invalid.stamp == ""   # a preview that cannot be applied has no stamp
