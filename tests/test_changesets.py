"""Changesets: apply with version checks, conflicts reported not overwritten, revert, history."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import AuditEntry, ChangesetEntry, Variant
from backoffice.services import catalog, changesets
from backoffice.services.base import Actor, ValidationError
from backoffice.services.changesets import RowChange
from backoffice.services.users import ensure_user


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("postgresql-staged", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Database:
    """Each test on SQLite, on PostgreSQL, and on PostgreSQL with every batch of variant edits taking the
    staged (set-based) path that big batches take there: the results must be the same."""
    if request.param == "postgresql-staged":
        monkeypatch.setattr(changesets.staging, "SET_BASED_MIN_ROWS", 0)
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "pg_db")


def price_of(db: Database, vid: int) -> Decimal:
    with db.read() as s:
        return s.get(Variant, vid).price


def test_apply_writes_values_versions_entries_and_one_audit_row(db: Database, actor: Actor, store) -> None:
    v1, v2, _ = store.variant_ids
    pid = store.product.entity_id
    result = changesets.apply_changes(db, actor, [
        RowChange("variant", v1, 1, {"price": "49.99"}),
        RowChange("variant", v2, 1, {"price": "59.99"}),  # unchanged value: not a change
        RowChange("product", pid, 1, {"vendor": "Nordic", "tags": ["wool", "sale"]}),
    ], description="Spring prices")
    assert result.applied_rows == 2 and result.unchanged_rows == 1 and result.conflicts == []
    assert price_of(db, v1) == Decimal("49.99")
    assert result.versions == {("variant", v1): 2, ("product", pid): 2}
    data = catalog.get_product(db, pid)
    assert data["vendor"] == "Nordic" and data["tags"] == ["sale", "wool"] and data["version"] == 2
    entries = changesets.changeset_entries(db, result.changeset_id)
    assert {(e["entity"], e["entity_id"]): (e["before"], e["after"]) for e in entries} == {
        ("variant", v1): ({"price": "59.99"}, {"price": "49.99"}),
        ("product", pid): ({"vendor": "Norda", "tags": ["winter", "wool"]}, {"vendor": "Nordic", "tags": ["sale", "wool"]}),
    }
    with db.read() as s:
        audits = s.scalars(select(AuditEntry).where(AuditEntry.entity == "changeset")).all()
    assert len(audits) == 1 and audits[0].after["rows"] == 2 and audits[0].after["description"] == "Spring prices"
    info = changesets.list_changesets(db)[0]
    assert (info.username, info.kind, info.row_count) == ("tester", "edit", 2)


def test_stale_rows_are_conflicts_and_the_rest_applies(db: Database, actor: Actor, store) -> None:
    v1, v2, _ = store.variant_ids
    other = ensure_user(db, "other", None)
    catalog.update_variant(db, actor, v2, expected_version=1, values={"price": "61.00"})  # someone else, first
    result = changesets.apply_changes(db, actor, [
        RowChange("variant", v1, 1, {"price": "50.00"}, {"price": "59.99"}),
        RowChange("variant", v2, 1, {"price": "55.00"}, {"price": "59.99"}),
    ], description="mine")
    assert result.applied_rows == 1
    assert [c.to_dict() for c in result.conflicts] == [{
        "entity": "variant", "entity_id": v2, "label": "MC-M", "field": "price", "original": "59.99",
        "yours": "55.00", "theirs": "61.00", "current_version": 2}]
    assert price_of(db, v2) == Decimal("61.00") and price_of(db, v1) == Decimal("50.00")
    assert other.username == "other"
    # the whole result crosses JSON and back unchanged (a remote client reads the same)
    import json
    sent = json.loads(json.dumps(result.to_dict()))
    assert sent["versions"] == [{"entity": "variant", "id": v1, "version": 2}] and sent == result.to_dict()


def test_invalid_final_state_refuses_the_whole_batch(db: Database, actor: Actor, store) -> None:
    v1, v2, v3 = store.variant_ids
    with pytest.raises(ValidationError) as err:
        changesets.apply_changes(db, actor, [
            RowChange("variant", v1, 1, {"price": "40.00"}),
            RowChange("variant", v2, 1, {"compare_at_price": "10.00"}),   # below its price 59.99
            RowChange("variant", v3, 1, {"price": "-5"}),
        ], description="bad")
    text = str(err.value)
    assert f"variant {v3} price: -5 is negative" in text
    with pytest.raises(ValidationError, match="SKU MC-M compare_at_price: 10.00 would be below the price 59.99"):
        changesets.apply_changes(db, actor, [RowChange("variant", v1, 1, {"price": "40.00"}),
                                             RowChange("variant", v2, 1, {"compare_at_price": "10.00"})], description="bad")
    with pytest.raises(ValidationError, match="already used"):
        changesets.apply_changes(db, actor, [RowChange("variant", v1, 1, {"sku": "MC-L"})], description="dup")
    assert price_of(db, v1) == Decimal("59.99")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(ChangesetEntry)) == 0


def test_revert_restores_and_reports_rows_changed_since(db: Database, actor: Actor, store) -> None:
    v1, v2, v3 = store.variant_ids
    first = changesets.apply_changes(db, actor, [RowChange("variant", v, 1, {"price": "39.99"}) for v in (v1, v2, v3)],
                                     description="Sale")
    catalog.update_variant(db, actor, v3, expected_version=2, values={"price": "35.00"})  # changed since
    undo = changesets.revert_changeset(db, actor, first.changeset_id)
    assert undo.applied_rows == 2
    assert [(c.label, c.theirs, c.yours) for c in undo.conflicts] == [("MC-L", "35.00", "59.99")]
    assert price_of(db, v1) == price_of(db, v2) == Decimal("59.99") and price_of(db, v3) == Decimal("35.00")
    listed = changesets.list_changesets(db)
    assert listed[0].kind == "revert" and listed[0].reverts_id == first.changeset_id
    assert listed[1].reverted_by == [listed[0].id]
    redo = changesets.revert_changeset(db, actor, undo.changeset_id)  # revert the revert
    assert redo.applied_rows == 2 and price_of(db, v1) == Decimal("39.99")
    hist = changesets.history(db, "variant", v1)
    assert [h["after"].get("price") for h in hist] == ["59.99", "39.99", "59.99", "39.99"]


def test_operation_id_applies_once(db: Database, actor: Actor, store) -> None:
    v1 = store.variant_ids[0]
    a = changesets.apply_changes(db, actor, [RowChange("variant", v1, 1, {"price": "10.00"})], description="x", operation_id="cs-1")
    b = changesets.apply_changes(db, actor, [RowChange("variant", v1, 1, {"price": "10.00"})], description="x", operation_id="cs-1")
    assert a.changeset_id == b.changeset_id and b.conflicts == []
    assert len(changesets.list_changesets(db)) == 1


@pytest.mark.postgres
def test_large_batches_take_the_set_based_path(pg_db: Database) -> None:
    actor = ensure_user(pg_db, "bulk")
    catalog.create_product(pg_db, actor, values={"handle": "many", "title": "Many"},
                           variants=[{"sku": f"M-{i}", "price": "10.00"} for i in range(1200)])
    with pg_db.read() as s:
        ids = list(s.scalars(select(Variant.id).order_by(Variant.id)))
    result = changesets.apply_changes(pg_db, actor, [RowChange("variant", v, 1, {"price": "12.99"}) for v in ids],
                                      description="all")
    assert result.applied_rows == 1200
    with pg_db.read() as s:
        assert s.scalar(select(func.count()).select_from(Variant).where(Variant.price == Decimal("12.99"), Variant.version == 2)) == 1200
        assert s.scalar(select(func.count()).select_from(ChangesetEntry)) == 1200
        entry = s.scalars(select(ChangesetEntry).where(ChangesetEntry.entity_id == ids[0])).one()
    assert (entry.before, entry.after, entry.version_before, entry.version_after) == (
        {"price": "10.00"}, {"price": "12.99"}, 1, 2)  # the same record as the row-by-row path writes
    undo = changesets.revert_changeset(pg_db, actor, result.changeset_id)
    assert undo.applied_rows == 1200 and undo.conflicts == []


@pytest.mark.postgres
def test_staged_and_row_by_row_paths_record_the_same(pg_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mixed field sets, a field given but unchanged, an unchanged row, a stale row, a missing row and
    values cleared: both paths give the same result, rows, versions and changeset entries."""
    actor = ensure_user(pg_db, "paths")

    def scenario(handle: str) -> tuple:
        catalog.create_product(pg_db, actor, values={"handle": handle, "title": handle},
                               variants=[{"sku": f"{handle}-{i}", "price": "10.00", "compare_at_price": "12.00",
                                          "cost": "4.00", "barcode": f"12{i}", "weight_grams": 50} for i in range(6)])
        with pg_db.read() as s:
            ids = list(s.scalars(select(Variant.id).where(Variant.sku.like(f"{handle}-%")).order_by(Variant.id)))
        catalog.update_variant(pg_db, actor, ids[5], expected_version=1, values={"price": "9.50"})  # made stale
        result = changesets.apply_changes(pg_db, actor, [
            RowChange("variant", ids[0], 1, {"price": "11.00", "cost": "5.00"}),
            RowChange("variant", ids[1], 1, {"price": "10.00", "cost": None}),          # price as stored
            RowChange("variant", ids[2], 1, {"title": "Blue", "status": "disabled"}),
            RowChange("variant", ids[3], 1, {"weight_grams": 80, "barcode": None, "compare_at_price": None}),
            RowChange("variant", ids[4], 1, {"price": "10.00"}),                         # nothing changes
            RowChange("variant", ids[5], 1, {"price": "8.00"}, {"price": "10.00"}),      # stale: a conflict
        ], description=handle)
        with pg_db.read() as s:
            rows = [(v.price, v.compare_at_price, v.cost, v.barcode, v.weight_grams, v.title, v.status.value, v.version)
                    for v in s.scalars(select(Variant).where(Variant.id.in_(ids)).order_by(Variant.id))]
        entries = [(ids.index(e["entity_id"]), e["before"], e["after"], e["version_before"], e["version_after"])
                   for e in changesets.changeset_entries(pg_db, result.changeset_id)]
        conflicts = [(ids.index(c.entity_id), c.field, c.original, c.yours, c.theirs, c.current_version)
                     for c in result.conflicts]
        versions = {ids.index(k[1]): v for k, v in result.versions.items()}
        return result.applied_rows, result.unchanged_rows, conflicts, versions, rows, entries

    row_by_row = scenario("rows")
    monkeypatch.setattr(changesets.staging, "SET_BASED_MIN_ROWS", 0)
    staged = scenario("staged")
    assert staged == row_by_row
    applied, unchanged, conflicts, versions, _, entries = staged
    assert (applied, unchanged) == (4, 1) and conflicts == [(5, "price", "10.00", "8.00", "9.50", 2)]
    assert versions == {0: 2, 1: 2, 2: 2, 3: 2}
    assert entries[1][1:3] == ({"cost": "4.00"}, {"cost": None})   # the price was given but did not change
    with pytest.raises(ValidationError, match="variant 999999: does not exist"):
        changesets.apply_changes(pg_db, actor, [RowChange("variant", 999999, 1, {"price": "1.00"})], description="x")


def test_the_contract_lists_labels_and_reverts_through_each_kinds_reverter(db: Database, actor: Actor,
                                                                             store) -> None:
    """Row changesets are reverted by the changesets; a threshold changeset by the reverter the variants
    register: both through ``ops.changesets.revert``, each noting the kinds of data it changed."""
    from backoffice.operations import LocalOperations, collecting, merge
    from backoffice.operations.bulk import BulkOperation, PriceStep, Target
    from backoffice.operations.changes import CHANGESETS, PRICES, THRESHOLDS
    from backoffice.services import variants

    ops = LocalOperations(db, actor)
    target = Target(variant_ids=tuple(store.variant_ids))
    priced = ops.bulk.apply(BulkOperation("money", "price", steps=(PriceStep("set", Decimal("64.00")),)), target)
    levels = variants.apply_thresholds(db, actor, variants.plan_thresholds(db, target, 4, [store.locations["WH1"]]))
    assert [c.id for c in ops.changesets.list()] == [levels.changeset_id, priced.changeset_id]
    assert ops.changesets.get(priced.changeset_id).kind == "bulk"
    rows = ops.changesets.rows(priced.changeset_id)
    assert sorted((r.label, r.field, r.before, r.after) for r in rows) == [
        (f"SKU MC-{s}", "price", "59.99", "64.00") for s in "LMS"]

    with collecting() as noted:
        ops.changesets.revert(levels.changeset_id)
    assert merge(noted).concerns(THRESHOLDS) and not merge(noted).concerns(PRICES)
    with collecting() as noted:
        undo = ops.changesets.revert(priced.changeset_id, op_id="undo-1")
    assert undo.applied_rows == 3 and merge(noted).concerns(PRICES, CHANGESETS)
    assert merge(noted).ids_of("variant") == frozenset(store.variant_ids)
    assert {price_of(db, v) for v in store.variant_ids} == {Decimal("59.99")}
    assert ops.changesets.for_operation("undo-1").reverts_id == priced.changeset_id
