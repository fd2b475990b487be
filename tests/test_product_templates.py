"""Product templates (saved, checked field by field, products made from them in one transaction) and
reverting a product to a moment (every field as it was then; conflicts listed; one revertible
changeset; a second run changes nothing). On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from backoffice.db import Database
from backoffice.models import AuditEntry, Changeset, Product, ProductTemplate, Variant
from backoffice.services import catalog, changesets, product_revert, product_templates
from backoffice.services.base import Actor, ConflictError, ValidationError
from backoffice.services.changesets import RowChange
from backoffice.services.variants import save_template as save_variant_template
from tests.conftest import SmallStore


def count(db: Database, model: type) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def shirts(db: Database, actor: Actor, store: SmallStore) -> product_templates.ProductTemplateInfo:
    return product_templates.save_template(db, actor, {
        "name": "Shirts", "vendor": "Norda", "product_type": "Shirt", "tags": "cotton, summer",
        "attributes": {"size": ["S", "M"]}, "default_price": "19.99", "default_cost": "7.50", "status": "active",
        "description_template": "{{ title }} by {{ vendor }} in {{ options.size | join(', ') }}.",
        "seo_title_template": "{{ title }} | Norda",
    })


# -- templates ----------------------------------------------------------------------------------------------
def test_product_from_template_has_rendered_texts_and_every_variant(db: Database, actor: Actor, shirts) -> None:
    plan = product_templates.plan_product(db, "shirts", title="Linen Shirt")
    assert plan.problems == []
    assert [(v.sku, v.options, v.price) for v in plan.variants] == [
        ("LINEN-SHIRT-S", {"size": "S"}, Decimal("19.99")), ("LINEN-SHIRT-M", {"size": "M"}, Decimal("19.99"))]
    before = count(db, Product)
    created = product_templates.create_product(db, actor, "Shirts", title="Linen Shirt", operation_id="op-linen")
    again = product_templates.create_product(db, actor, "Shirts", title="Linen Shirt", operation_id="op-linen")
    assert again.product_id == created.product_id and count(db, Product) == before + 1   # the same op id: once
    data = catalog.get_product(db, created.product_id)
    assert (data["handle"], data["vendor"], data["product_type"], data["status"], data["tags"]) == (
        "linen-shirt", "Norda", "Shirt", "active", ["cotton", "summer"])
    assert data["description"] == "Linen Shirt by Norda in S, M."
    assert data["seo_title"] == "Linen Shirt | Norda"
    assert sorted((v["sku"], v["price"], v["cost"]) for v in data["variants"]) == [
        ("LINEN-SHIRT-M", "19.99", "7.50"), ("LINEN-SHIRT-S", "19.99", "7.50")]
    with db.read() as s:   # audited like any new product: the product and each variant
        audited = set(s.execute(select(AuditEntry.entity, AuditEntry.entity_id).where(AuditEntry.action == "create")))
    assert {("product", str(created.product_id))} | {("variant", str(v)) for v in created.variant_ids} <= audited
    # the same title again: the handle is taken; nothing is written
    with pytest.raises(ValidationError) as err:
        product_templates.create_product(db, actor, "Shirts", title="Linen Shirt")
    assert ("product", "handle") in [p[:2] for p in err.value.problems]
    assert count(db, Product) == before + 1


def test_overrides_and_a_variant_template(db: Database, actor: Actor, shirts) -> None:
    vt = save_variant_template(db, actor, name="Sizes S-L", options={"size": ["S", "M", "L"]},
                               sku_pattern="{handle:6}-{size}")
    knit = product_templates.save_template(db, actor, {"name": "Knitwear", "variant_template_id": vt.entity_id})
    plan = product_templates.plan_product(db, knit.id, title="Wool Hat", overrides={"price": "12.00",
                                                                                     "vendor": "Fjord"})
    assert plan.problems == []
    assert [v.sku for v in plan.variants] == ["WOOL-H-S", "WOOL-H-M", "WOOL-H-L"]
    assert plan.values["vendor"] == "Fjord" and {v.price for v in plan.variants} == {Decimal("12.00")}
    # without a price the template has none to give: named, nothing planned to be written
    assert ("product", "price") in [p[:2] for p in product_templates.plan_product(db, knit.id, title="X").problems]
    # overrides of the wrong kind are named, never a crash; a template of too many combinations is refused
    # before any is made
    odd = product_templates.plan_product(db, "Shirts", title="Odd", overrides={
        "tags": 5, "category_id": 10**30, "vendor": ["x"], "status": "gone", "price": 1.5, "colour": "red"})
    assert {p[1] for p in odd.problems} >= {"tags", "category_id", "vendor", "status", "price", "colour"}
    many = product_templates.save_template(db, actor, {"name": "Many", "default_price": "1.00"})
    with db.write() as s:    # as if the attributes had grown that big since the template was saved
        s.get(ProductTemplate, many.id).attributes = {f"a{i}": [str(n) for n in range(10)] for i in range(12)}
    assert ("template Many", "attributes") in [p[:2] for p in product_templates.plan_product(db, "Many", title="M").problems]
    # the demo store's templates: the one its attributes allow (sizes, no colours here), once
    assert product_templates.add_demo_templates(db, actor) == 1
    assert product_templates.add_demo_templates(db, actor) == 0
    tee = product_templates.plan_product(db, "T-shirt", title="Basic Tee")
    assert tee.problems == [] and len(tee.variants) == 3


BAD_TEMPLATES = [
    ({"name": "Bad", "default_price": "-1"}, "default_price"),
    ({"name": "Bad", "attributes": {"size": ["XXL"]}}, "attributes.size"),
    ({"name": "Bad", "attributes": {"fabric": ["silk"]}}, "attributes.fabric"),
    ({"name": "Bad", "description_template": "{{ title"}, "description_template"),
    ({"name": "Bad", "status": "sold"}, "status"),
    ({"name": "Bad", "category_id": 999999}, "category_id"),
    ({"name": "", "vendor": "x"}, "name"),
    ({"name": "Shirts"}, "name"),                       # taken by another template
    ({"name": "Bad", "colour": "red"}, "colour"),
]


def test_bad_template_input_is_named_by_field_and_writes_nothing(db: Database, actor: Actor, shirts) -> None:
    before = count(db, ProductTemplate)
    for values, field in BAD_TEMPLATES:
        with pytest.raises(ValidationError) as err:
            product_templates.save_template(db, actor, values)
        assert field in [p[1] for p in err.value.problems], (values, err.value.problems)
        assert count(db, ProductTemplate) == before


def test_template_edits_are_version_checked(db: Database, actor: Actor, shirts) -> None:
    first = product_templates.save_template(db, actor, {"name": "Hats"}, operation_id="op-hats")
    again = product_templates.save_template(db, actor, {"name": "Hats"}, operation_id="op-hats")   # a retry
    assert again.id == first.id and count(db, ProductTemplate) == 2
    product_templates.delete_template(db, actor, first.id)
    saved = product_templates.save_template(db, actor, {"vendor": "Fjord"}, template_id=shirts.id,
                                            expected_version=shirts.version)
    assert saved.vendor == "Fjord" and saved.version == shirts.version + 1
    with pytest.raises(ConflictError):
        product_templates.save_template(db, actor, {"vendor": "Other"}, template_id=shirts.id,
                                        expected_version=shirts.version)
    assert product_templates.find_template(db, "SHIRTS").vendor == "Fjord"
    assert product_templates.delete_template(db, actor, shirts.id) is True
    assert product_templates.delete_template(db, actor, shirts.id) is False
    assert product_templates.list_templates(db) == []


# -- revert to a moment ---------------------------------------------------------------------------------------
class Clock:
    """The time changesets and audit rows are recorded at, set by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)
        monkeypatch.setattr("backoffice.services.changesets.apply.utcnow", lambda: self.now)
        monkeypatch.setattr("backoffice.services.base.utcnow", lambda: self.now)

    def at(self, hours: float) -> dt.datetime:
        self.now = self.start + dt.timedelta(hours=hours)
        return self.now


def snapshot(db: Database, pid: int) -> dict:
    data = catalog.get_product(db, pid)
    return {"product": {k: data[k] for k in ("title", "vendor", "description", "tags")},
            "variants": {v["sku"]: (v["price"], v["compare_at_price"], v["cost"]) for v in data["variants"]}}


def test_revert_to_a_moment_restores_every_field_then_and_twice_changes_nothing(
        db: Database, actor: Actor, store: SmallStore, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    clock.start = clock.now + dt.timedelta(minutes=1)
    pid = store.product.entity_id
    v1, v2, v3 = store.variant_ids
    clock.at(1)                                                    # edit 1: a changeset
    changesets.apply_changes(db, actor, [RowChange("variant", v1, 1, {"price": "49.99"}),
                                         RowChange("product", pid, 1, {"vendor": "Nordic"})], description="edit 1")
    between = clock.start + dt.timedelta(hours=1.5)
    then = snapshot(db, pid)
    clock.at(2)                                                    # edit 2: another changeset
    changesets.apply_changes(db, actor, [RowChange("variant", v1, 2, {"price": "39.99"}),
                                         RowChange("variant", v2, 1, {"compare_at_price": "79.99"}),
                                         RowChange("product", pid, 2, {"title": "Merino Crew II",
                                                                       "tags": ["sale"]})], description="edit 2")
    clock.at(3)                                                    # edit 3: single audited edits
    catalog.update_product(db, actor, pid, expected_version=3, values={"vendor": "Fjord", "description": "Soft."})
    catalog.update_variant(db, actor, v3, expected_version=1, values={"cost": "25.00"})
    added = catalog.add_variant(db, actor, pid, values={"sku": "MC-XL", "price": "64.99", "options": {"size": "L"}})
    assert snapshot(db, pid) != then

    plan = product_revert.plan_revert_to(db, pid, between)
    assert {(f.label, f.field): (f.then, f.now) for f in plan.fields} == {
        ("product merino-crew", "title"): ("Merino Crew", "Merino Crew II"),
        ("product merino-crew", "tags"): (["winter", "wool"], ["sale"]),
        ("product merino-crew", "vendor"): ("Nordic", "Fjord"),
        ("product merino-crew", "description"): ("", "Soft."),
        ("SKU MC-S", "price"): ("49.99", "39.99"),
        ("SKU MC-M", "compare_at_price"): (None, "79.99"),
        ("SKU MC-L", "cost"): ("21.00", "25.00"),
    }
    assert [(c.label, c.kind) for c in plan.conflicts] == [("SKU MC-XL", "created")]   # listed, not deleted

    clock.at(3.5)
    result = product_revert.apply_revert_to(db, actor, pid, between, versions=plan.versions)
    assert result.changeset_id is not None and result.fields == 7 and result.applied_rows == 4
    after = snapshot(db, pid)
    assert after["product"] == then["product"]
    assert {k: v for k, v in after["variants"].items() if k != "MC-XL"} == then["variants"]
    assert "MC-XL" in after["variants"] and added.entity_id    # the variant made after the moment is still there
    with db.read() as s:
        assert s.get(Changeset, result.changeset_id).kind == "restore"

    # twice: nothing more to write
    assert product_revert.plan_revert_to(db, pid, between).fields == []
    changesets_before = count(db, Changeset)
    again = product_revert.apply_revert_to(db, actor, pid, between)
    assert again.changeset_id is None and count(db, Changeset) == changesets_before
    assert snapshot(db, pid) == after

    # the revert is itself a changeset that can be reverted: back to the values of edit 3
    clock.at(4)
    changesets.revert_changeset(db, actor, result.changeset_id)
    assert snapshot(db, pid)["product"]["vendor"] == "Fjord"
    assert snapshot(db, pid)["variants"]["MC-S"][0] == "39.99"


def test_rows_changed_meanwhile_and_unrecorded_writes_are_conflicts(
        db: Database, actor: Actor, store: SmallStore, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    clock.start = clock.now + dt.timedelta(minutes=1)
    pid = store.product.entity_id
    v1, v2, v3 = store.variant_ids
    clock.at(1)
    changesets.apply_changes(db, actor, [RowChange("variant", v1, 1, {"price": "49.99"}),
                                         RowChange("variant", v2, 1, {"price": "44.99"})], description="edit 1")
    moment = clock.start + dt.timedelta(minutes=30)
    with db.write() as s:          # a write that kept no values (a script on the database)
        s.execute(text("UPDATE variants SET weight_grams = 300, version = version + 1, updated_at = :t WHERE id = :v"),
                  {"t": (clock.now if db.dialect != "sqlite" else clock.now.replace(tzinfo=None)),
                   "v": v3})
    plan = product_revert.plan_revert_to(db, pid, moment)
    assert {(f.label, f.field) for f in plan.fields} == {("SKU MC-S", "price"), ("SKU MC-M", "price")}
    assert [(c.label, c.kind) for c in plan.conflicts] == [("SKU MC-L", "unknown")]
    # someone edits MC-M after the preview: it is a conflict, left as it is; MC-S is reverted
    clock.at(2)
    changesets.apply_changes(db, actor, [RowChange("variant", v2, 2, {"price": "42.00"})], description="meanwhile")
    result = product_revert.apply_revert_to(db, actor, pid, moment, versions=plan.versions)
    assert result.applied_rows == 1
    assert ("SKU MC-M", "changed") in [(c.label, c.kind) for c in result.conflicts]
    with db.read() as s:
        assert s.get(Variant, v1).price == Decimal("59.99") and s.get(Variant, v2).price == Decimal("42.00")
    # a variant deleted since (the generator prunes a size without stock or sales): named, not brought back
    clock.at(3)
    from backoffice.services.variants import GenerationRequest, generate

    generate(db, actor, GenerationRequest((pid,), {"size": ["S", "M"]}, prune=True))
    later = product_revert.plan_revert_to(db, pid, moment)
    assert ("SKU MC-L", "deleted") in [(c.label, c.kind) for c in later.conflicts]
    assert all(f.entity_id != v3 for f in later.fields)


def test_a_moment_before_the_product_existed_is_refused(db: Database, actor: Actor, store: SmallStore) -> None:
    with pytest.raises(ValidationError) as err:
        product_revert.plan_revert_to(db, store.product.entity_id, dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
    assert err.value.problems[0][1] == "at"
    with pytest.raises(ValidationError):
        product_revert.plan_revert_to(db, store.product.entity_id, dt.datetime(2030, 1, 1))   # no time zone
