"""Setting up a store from nothing through the services: locations, the category tree and products with
their variants. Every write is audited and takes an operation id, so a retry writes once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import AuditEntry, Category, Location, Product, Variant
from backoffice.services import catalog, inventory
from backoffice.services.base import Actor, ConflictError, ValidationError
from backoffice.services.inventory import MoveLine


def count(db: Database, model: type) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def audit_rows(db: Database, entity: str) -> list[tuple[str, str]]:
    with db.read() as session:
        return [(a, e) for a, e in session.execute(select(AuditEntry.action, AuditEntry.entity_id)
                                                   .where(AuditEntry.entity == entity).order_by(AuditEntry.id))]


# -- locations ------------------------------------------------------------------------------------------
def test_locations_created_renamed_archived_and_restored(db: Database, actor: Actor) -> None:
    wh = inventory.create_location(db, actor, code=" wh1 ", name="Main  warehouse", kind="warehouse")
    assert wh.after == {"code": "WH1", "name": "Main warehouse", "kind": "warehouse", "active": True}
    with pytest.raises(ValidationError, match="location WH1 code: is already used"):
        inventory.create_location(db, actor, code="Wh1", name="Again", kind="store")
    renamed = inventory.update_location(db, actor, wh.entity_id, expected_version=wh.version, name="North warehouse",
                                        kind="store")
    assert renamed.before == {"name": "Main warehouse", "kind": "warehouse"}
    assert renamed.after == {"name": "North warehouse", "kind": "store"}
    with pytest.raises(ConflictError):  # the version read before the rename is stale now
        inventory.update_location(db, actor, wh.entity_id, expected_version=wh.version, name="Lost update")
    archived = inventory.archive_location(db, actor, wh.entity_id)
    listed = {r["code"]: r for r in inventory.list_locations(db)}
    assert archived.after == {"active": False} and listed["WH1"]["active"] is False
    assert [r["code"] for r in inventory.list_locations(db, include_archived=False)] == []
    inventory.restore_location(db, actor, wh.entity_id)
    assert inventory.list_locations(db)[0]["active"] is True
    assert [a for a, _ in audit_rows(db, "location")] == ["create", "update", "archive", "restore"]


def test_a_location_holding_stock_cannot_be_archived(db: Database, actor: Actor, store) -> None:  # type: ignore[no-untyped-def]
    wh = store.locations["WH1"]
    inventory.post_moves(db, actor, operation_id="in-1", reason="receipt",
                         lines=[MoveLine(store.variant_ids[0], store.locations["SUP"], wh, 7),
                                MoveLine(store.variant_ids[1], store.locations["SUP"], wh, 3)])
    from sqlalchemy import update

    from backoffice.models import StockLevel

    with db.write() as session:   # 2 of the 7 promised to an order: still 10 units there, not 12
        session.execute(update(StockLevel).where(StockLevel.variant_id == store.variant_ids[0],
                                                 StockLevel.location_id == wh).values(reserved=2))
    with pytest.raises(ValidationError) as refused:
        inventory.archive_location(db, actor, wh)
    assert str(refused.value) == ("location WH1 stock: holds 10 units of 2 variants; transfer or adjust them to zero "
                                  "first")
    assert {r["code"]: r["active"] for r in inventory.list_locations(db)}["WH1"] is True
    # a location that held stock keeps its side of the ledger
    with pytest.raises(ValidationError, match="cannot become supplier"):
        inventory.update_location(db, actor, wh, kind="supplier")
    assert {r["code"]: r["on_hand"] for r in inventory.list_locations(db, with_stock=True)}["WH1"] == 10


def test_location_writes_replayed_with_their_operation_id_write_once(db: Database, actor: Actor) -> None:
    first = inventory.create_location(db, actor, code="SHOP", name="Shop", kind="store", operation_id="loc-1")
    again = inventory.create_location(db, actor, code="SHOP", name="Shop", kind="store", operation_id="loc-1")
    assert again.to_dict() == first.to_dict() and count(db, Location) == 1
    archived = inventory.archive_location(db, actor, first.entity_id, operation_id="loc-2")
    replayed = inventory.archive_location(db, actor, first.entity_id, operation_id="loc-2")  # not "already archived"
    assert replayed.to_dict() == archived.to_dict()
    assert len(audit_rows(db, "location")) == 2
    with pytest.raises(ValidationError, match="already used for create_location"):
        inventory.update_location(db, actor, first.entity_id, name="X", operation_id="loc-1")


def test_bad_location_input_names_every_problem(db: Database, actor: Actor) -> None:
    with pytest.raises(ValidationError) as bad:
        inventory.create_location(db, actor, code="W H", name=" ", kind="garage")
    assert [(f, m.split(" ")[0]) for _, f, m in bad.value.problems] == [("code", "must"), ("name", "must"),
                                                                        ("kind", "'garage'")]
    assert count(db, Location) == 0


# -- categories -----------------------------------------------------------------------------------------
def test_category_paths_renames_and_moves_keep_the_tree_sound(db: Database, actor: Actor) -> None:
    tops = catalog.add_category_path(db, actor, "Clothing/Tops")
    assert tops.after["full_name"] == "Clothing > Tops" and len(tops.children) == 1
    catalog.add_category_path(db, actor, "Clothing > Tops > Tees")
    catalog.add_category_path(db, actor, "Sale")
    with pytest.raises(ValidationError, match="already exists"):
        catalog.add_category_path(db, actor, "clothing/TOPS")  # names compare without case, as imports do
    names = [r["full_name"] for r in catalog.list_categories(db)]
    assert names == ["Clothing", "Clothing > Tops", "Clothing > Tops > Tees", "Sale"]
    sale = catalog.find_category(db, "sale")
    moved = catalog.move_category(db, actor, tops.entity_id, parent_id=sale["id"])
    assert moved.before["full_name"] == "Clothing > Tops" and moved.after["full_name"] == "Sale > Tops"
    rows = {r["full_name"]: r for r in catalog.list_categories(db)}
    assert sorted(rows) == ["Clothing", "Sale", "Sale > Tops", "Sale > Tops > Tees"]
    # the materialised path of every node equals the chain of its parents
    with db.read() as session:
        cats = {c.id: c for c in session.scalars(select(Category))}
    for c in cats.values():
        chain, node = [], c
        while node is not None:
            chain.insert(0, node.id)
            node = cats.get(node.parent_id) if node.parent_id else None
        assert c.path == "/" + "".join(f"{i}/" for i in chain)
    catalog.rename_category(db, actor, sale["id"], name="Outlet")
    assert catalog.find_category(db, "Outlet/Tops/Tees")["depth"] == 2


def test_category_moves_refuse_cycles_and_sibling_names(db: Database, actor: Actor) -> None:
    tees = catalog.add_category_path(db, actor, "Clothing/Tops/Tees")
    clothing = catalog.find_category(db, "Clothing")
    catalog.add_category_path(db, actor, "Tops")
    with pytest.raises(ValidationError, match="cannot move under Clothing > Tops > Tees, which is below it"):
        catalog.move_category(db, actor, clothing["id"], parent_id=tees.entity_id)
    with pytest.raises(ValidationError, match="cannot move under itself"):
        catalog.move_category(db, actor, clothing["id"], parent_id=clothing["id"])
    tops = catalog.find_category(db, "Clothing/Tops")
    with pytest.raises(ValidationError, match="a category 'Tops' already exists at the top level"):
        catalog.move_category(db, actor, tops["id"], parent_id=None)
    with pytest.raises(ValidationError, match="'tops' already exists at this place"):
        catalog.rename_category(db, actor, clothing["id"], name="tops")
    with pytest.raises(ValidationError, match="must not hold"):
        catalog.rename_category(db, actor, clothing["id"], name="Men/Women")
    assert [r["full_name"] for r in catalog.list_categories(db)] == [
        "Clothing", "Clothing > Tops", "Clothing > Tops > Tees", "Tops"]


def test_category_writes_replayed_write_once(db: Database, actor: Actor) -> None:
    first = catalog.add_category_path(db, actor, "Home/Kitchen", operation_id="cat-1")
    again = catalog.add_category_path(db, actor, "Home/Kitchen", operation_id="cat-1")
    assert again.to_dict() == first.to_dict() and count(db, Category) == 2
    other = catalog.create_category(db, actor, name="Garden", operation_id="cat-2")
    moved = catalog.move_category(db, actor, first.entity_id, parent_id=other.entity_id, operation_id="cat-3")
    replay = catalog.move_category(db, actor, first.entity_id, parent_id=other.entity_id, operation_id="cat-3")
    assert replay.to_dict() == moved.to_dict()
    assert [a for a, _ in audit_rows(db, "category")] == ["create", "create", "create", "move"]


# -- products -------------------------------------------------------------------------------------------
def test_product_with_variants_created_in_a_category(db: Database, actor: Actor) -> None:
    catalog.create_attribute(db, actor, code="size", name="Size", values=["S", "M", "L"])
    tees = catalog.add_category_path(db, actor, "Clothing/Tees").entity_id
    assert catalog.handle_from_title("Linen Tee (Natural) – Ça va") == "linen-tee-natural-ca-va"
    change = catalog.create_product(
        db, actor, values={"handle": "linen-tee", "title": "Linen Tee", "vendor": "Norda", "category_id": tees},
        variants=[{"sku": "LT-S", "price": "25.00", "cost": "9.50", "options": {"size": "S"}},
                  {"sku": "LT-M", "price": "25.00", "barcode": "4006381333931", "options": {"Size": "M"}}],
        operation_id="prod-1")
    replay = catalog.create_product(db, actor, values={"handle": "linen-tee", "title": "Linen Tee"},
                                    variants=[{"sku": "LT-S", "price": "25.00", "options": {"size": "S"}}],
                                    operation_id="prod-1")
    assert replay.to_dict() == change.to_dict()
    product = catalog.get_product(db, change.entity_id)
    assert product["category_id"] == tees and [v["sku"] for v in product["variants"]] == ["LT-S", "LT-M"]
    assert count(db, Product) == 1 and count(db, Variant) == 2
    assert sorted(a for a, _ in audit_rows(db, "variant")) == ["create", "create"]


def test_product_form_problems_are_reported_per_row(db: Database, actor: Actor) -> None:
    catalog.create_attribute(db, actor, code="size", name="Size", values=["S", "M"])
    catalog.create_product(db, actor, values={"handle": "old", "title": "Old"}, variants=[{"sku": "TAKEN", "price": "1.00"}])
    with pytest.raises(ValidationError) as form:
        catalog.create_product(db, actor, values={"handle": "new", "title": "New"}, variants=[
            {"sku": "N-1", "price": "5.00", "options": {"size": "S"}},
            {"sku": "N-1", "price": "-2.00", "options": {"size": "S"}},
            {"sku": "N-3", "price": "5.00", "cost": "abc", "options": {"size": "M"}}])
    assert form.value.problems == [
        ("variant 2", "price", "-2.00 is negative"),
        ("variant 3", "cost", "'abc' is not an amount"),
        ("variant 2", "sku", "'N-1' is also the SKU of variant 1"),
        ("variant 2", "options", "size=S is also the combination of variant 1"),
    ]
    with pytest.raises(ValidationError) as catalog_side:
        catalog.create_product(db, actor, values={"handle": "new", "title": "New"}, variants=[
            {"sku": "TAKEN", "price": "5.00", "options": {"size": "S"}},
            {"sku": "N-2", "price": "5.00", "options": {"size": "XXL"}}])
    assert catalog_side.value.problems == [
        ("variant 1", "sku", "'TAKEN' is already used by product 'old'"),
        ("variant 2", "options.size", "'XXL' is not a value of attribute 'size' (S, M)")]
    with pytest.raises(ValidationError) as mixed:
        catalog.create_product(db, actor, values={"handle": "new", "title": "New"}, variants=[
            {"sku": "N-1", "price": "5.00", "options": {"size": "S"}},
            {"sku": "N-2", "price": "5.00", "options": {"colour": "red"}}])
    assert mixed.value.problems == [("variants", "options",
                                     "every variant of a product needs a value for the same attributes")]
    with pytest.raises(ValidationError, match="there is no attribute 'colour' \\(attributes: size\\)"):
        catalog.create_product(db, actor, values={"handle": "new", "title": "New"},
                               variants=[{"sku": "N-1", "price": "5.00", "options": {"colour": "red"}}])
    assert count(db, Product) == 1 and count(db, Variant) == 1  # nothing of the refused forms was written


def test_crossing_moves_at_once_never_make_a_cycle(db: Database, actor: Actor) -> None:
    import threading

    a = catalog.create_category(db, actor, name="A").entity_id
    b = catalog.create_category(db, actor, name="B").entity_id
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def move(cid: int, parent: int) -> None:
        start.wait()
        try:
            catalog.move_category(db, actor, cid, parent_id=parent)
            outcomes.append("moved")
        except ValidationError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=move, args=(a, b)), threading.Thread(target=move, args=(b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o == "moved" for o in outcomes) == [False, True]
    assert any("which is below it" in o for o in outcomes)
    rows = catalog.list_categories(db)   # every node reachable from the top: no cycle
    assert sorted(r["name"] for r in rows) == ["A", "B"] and sum(r["depth"] == 0 for r in rows) == 1


def test_the_same_top_level_name_added_at_once_is_made_once(db: Database, actor: Actor) -> None:
    import threading

    outcomes: list[str] = []
    start = threading.Barrier(4)

    def add() -> None:
        start.wait()
        try:
            catalog.add_category_path(db, actor, "Clothing")
            outcomes.append("added")
        except ValidationError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=add) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("added") == 1 and count(db, Category) == 1   # NULL parents escape the UNIQUE index
