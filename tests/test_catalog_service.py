"""Products and variants through the service: validation, version conflicts, audit, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import AuditEntry, Product, Role, Variant
from backoffice.services import catalog
from backoffice.services.base import Actor, ConflictError, PermissionDenied, ValidationError
from backoffice.services.users import ensure_user


def audit_rows(db: Database, entity: str, entity_id: int) -> list[AuditEntry]:
    with db.read() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.entity == entity,
                                                       AuditEntry.entity_id == str(entity_id)).order_by(AuditEntry.id)))


def test_create_product_writes_rows_and_audit(db: Database, actor: Actor, store) -> None:
    data = catalog.get_product(db, store.product.entity_id)
    assert data["title"] == "Merino Crew"
    assert data["tags"] == ["winter", "wool"]
    assert [v["sku"] for v in data["variants"]] == ["MC-S", "MC-M", "MC-L"]
    assert data["variants"][0]["price"] == "59.99"
    product_audit = audit_rows(db, "product", store.product.entity_id)
    assert [(a.action, a.username) for a in product_audit] == [("create", "tester")]
    assert product_audit[0].after["handle"] == "merino-crew"
    for vid in store.variant_ids:
        assert [a.action for a in audit_rows(db, "variant", vid)] == ["create"]


def test_stale_version_is_a_conflict_naming_the_row(db: Database, actor: Actor, store) -> None:
    vid = store.variant_ids[1]
    first = catalog.update_variant(db, actor, vid, expected_version=1, values={"price": "64.99"})
    assert first.version == 2 and first.before == {"price": "59.99"} and first.after == {"price": "64.99"}
    with pytest.raises(ConflictError) as err:
        catalog.update_variant(db, actor, vid, expected_version=1, values={"price": "49.99"})
    assert "MC-M" in str(err.value)
    assert err.value.expected_version == 1 and err.value.actual_version == 2
    assert err.value.current["price"] == "64.99"
    with db.read() as s:
        assert s.get(Variant, vid).price == Decimal("64.99")  # the stale write did not land
    assert [a.action for a in audit_rows(db, "variant", vid)] == ["create", "update"]


def test_product_update_bumps_version_and_audits_before_after(db: Database, actor: Actor, store) -> None:
    pid = store.product.entity_id
    change = catalog.update_product(db, actor, pid, expected_version=1, values={"title": "Merino Crew Neck", "tags": ["wool"]})
    assert change.version == 2
    assert change.before == {"title": "Merino Crew", "tags": ["winter", "wool"]}
    assert change.after == {"title": "Merino Crew Neck", "tags": ["wool"]}
    tags_only = catalog.update_product(db, actor, pid, expected_version=2, values={"tags": ["wool", "sale"]})
    assert tags_only.version == 3
    entries = audit_rows(db, "product", pid)
    assert [e.action for e in entries] == ["create", "update", "update"]
    assert entries[-1].before == {"tags": ["wool"]} and entries[-1].after == {"tags": ["sale", "wool"]}
    with pytest.raises(ConflictError):
        catalog.update_product(db, actor, pid, expected_version=2, values={"vendor": "Other"})


def test_validation_reports_every_bad_field(db: Database, actor: Actor, store) -> None:
    with pytest.raises(ValidationError) as err:
        catalog.create_product(
            db, actor, values={"handle": "Bad Handle", "title": " ", "status": "live"},
            variants=[{"sku": "X 1", "price": "-1"}, {"sku": "MC-S", "price": 9.99}, {"sku": "OK-1", "price": "5", "compare_at_price": "4"}],
        )
    fields = {(row, field) for row, field, _ in err.value.problems}
    assert {("product", "handle"), ("product", "title"), ("product", "status"),
            ("variant 1", "sku"), ("variant 1", "price"), ("variant 2", "price")} <= fields
    with pytest.raises(ValidationError, match="already used"):
        catalog.create_product(db, actor, values={"handle": "another", "title": "Another"},
                               variants=[{"sku": "MC-S", "price": "5.00"}])
    with pytest.raises(ValidationError, match="below the price"):
        catalog.create_product(db, actor, values={"handle": "another", "title": "Another"},
                               variants=[{"sku": "AN-1", "price": "5.00", "compare_at_price": "4.00"}])
    with pytest.raises(ValidationError, match="variant 2 sku: 'TW-1' is also the SKU of variant 1"):
        catalog.create_product(db, actor, values={"handle": "twice", "title": "Twice"},
                               variants=[{"sku": "TW-1", "price": "1"}, {"sku": "TW-1", "price": "2"}])
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 1  # nothing half-written


def test_duplicate_sku_on_update_is_refused(db: Database, actor: Actor, store) -> None:
    with pytest.raises(ValidationError, match="already used"):
        catalog.update_variant(db, actor, store.variant_ids[0], expected_version=1, values={"sku": "MC-L"})


def test_operation_id_makes_create_idempotent(db: Database, actor: Actor) -> None:
    args = dict(values={"handle": "scarf", "title": "Scarf"}, variants=[{"sku": "SC-1", "price": "19.95"}])
    first = catalog.create_product(db, actor, **args, operation_id="op-create-scarf")
    again = catalog.create_product(db, actor, **args, operation_id="op-create-scarf")
    assert again.entity_id == first.entity_id and again.to_dict() == first.to_dict()
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Product).where(Product.handle == "scarf")) == 1
    assert len(audit_rows(db, "product", first.entity_id)) == 1


def test_archive_product_archives_variants(db: Database, actor: Actor, store) -> None:
    change = catalog.archive_product(db, actor, store.product.entity_id, expected_version=1)
    assert change.after == {"status": "archived"}
    assert len(change.children) == 3
    data = catalog.get_product(db, store.product.entity_id)
    assert data["status"] == "archived" and {v["status"] for v in data["variants"]} == {"archived"}
    assert [a.action for a in audit_rows(db, "variant", store.variant_ids[0])] == ["create", "archive"]


def test_roles_are_enforced(db: Database, actor: Actor, store) -> None:
    clerk = ensure_user(db, "clerk", Role.WAREHOUSE)
    from backoffice.operations.local import LocalOperations

    with pytest.raises(PermissionDenied, match="merchandiser"):     # the permission table, at the contract
        LocalOperations(db, clerk, owns_database=False).catalog.save_edits([], description="price")


@pytest.mark.parametrize("text,problem", [
    ("1e10000", "is too large"), ("9999999999.995", "more than two decimals"), ("10000000000", "is too large"),
    ("1.234", "more than two decimals"), ("-0.01", "is negative"), ("NaN", "not an amount"), ("12,50", "not an amount"),
])
def test_money_that_is_not_an_amount_is_a_problem_never_a_crash(text: str, problem: str) -> None:
    from backoffice.services.catalog import parse_money

    problems: list = []
    assert parse_money(text, "row 2", "price", problems, required=True) is None
    assert len(problems) == 1 and problems[0][:2] == ("row 2", "price") and problem in problems[0][2]


def test_money_in_range_is_kept_to_the_cent() -> None:
    from backoffice.services.catalog import parse_money

    problems: list = []
    assert [parse_money(t, "r", "price", problems, required=True) for t in ("12.5", "0", "9999999999.99")] == [
        Decimal("12.50"), Decimal("0.00"), Decimal("9999999999.99")]
    assert problems == []
