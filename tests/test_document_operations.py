"""The transfers, purchase-orders, suppliers and replenishment areas of the operations contract: plain
values out, each write notes what it changed (kinds and ids) so that the open views reload only what
concerns them, operation ids make retries write once, and the documents are written to a path."""

from __future__ import annotations

import uuid

import openpyxl
import pytest

from backoffice.db import Database
from backoffice.operations import collecting, merge
from backoffice.operations.changes import (
    CHANGESETS,
    PURCHASE_ORDERS,
    REPORTS,
    SETTINGS,
    STOCK,
    SUPPLIERS,
    THRESHOLDS,
    TRANSFERS,
)
from backoffice.operations.local import LocalOperations
from backoffice.operations.replenishment import ReplenishmentSettings
from backoffice.operations.suppliers import ItemEdit
from backoffice.services import inventory
from backoffice.services.base import Actor, ValidationError
from backoffice.services.inventory import MoveLine


@pytest.fixture
def ops(db: Database, actor: Actor) -> LocalOperations:
    return LocalOperations(db, actor)


def receive(db: Database, actor: Actor, store, variant: int, qty: int, at: str = "WH1") -> None:  # type: ignore[no-untyped-def]
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt",
                         lines=[MoveLine(variant, store.locations["SUP"], store.locations[at], qty)])


def noted(call):  # type: ignore[no-untyped-def]
    """(what ``call()`` returned, the changes it noted)."""
    with collecting() as found:
        result = call()
    return result, merge(found)


def test_a_transfer_notes_the_stock_it_moves_at_both_ends(db, actor, store, ops, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s, m, _ = store.variant_ids
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    receive(db, actor, store, s, 10)
    assert ops.transfers.find_variant("mc-s")["variant_id"] == s and ops.transfers.find_variant("NOPE") is None
    assert ops.transfers.available_at(wh, [s, m]) == {s: 10, m: 0}
    draft, changes = noted(lambda: ops.transfers.create(source_location_id=wh, destination_location_id=shop,
                                                        lines=[(s, 4)], op_id="tr-create-1"))
    assert changes.concerns(TRANSFERS) and not changes.concerns(STOCK)
    assert changes.ids_of("transfer") == {draft.id}
    again = ops.transfers.create(source_location_id=wh, destination_location_id=shop, lines=[(s, 4)],
                                 op_id="tr-create-1")
    assert again.id == draft.id and again.replayed
    shipped, changes = noted(lambda: ops.transfers.ship(draft.id, op_id="tr-ship-1"))
    assert shipped.state == "shipped" and changes.concerns(STOCK, TRANSFERS) and not changes.concerns(REPORTS)
    assert changes.ids_of("location") == {wh, shop} and changes.ids_of("variant") == {s}
    assert ops.transfers.ship(draft.id, op_id="tr-ship-1").replayed
    assert inventory.on_hand(db, s, wh) == 6

    doc = ops.transfers.document(draft.id)
    assert doc.kind == "packing" and [(ln.sku, ln.quantity) for ln in doc.lines] == [("MC-S", 4)]
    written = ops.transfers.write_document(doc, str(tmp_path / "slip.xlsx"))
    assert openpyxl.load_workbook(written).active["A1"].value == f"Packing slip {draft.number}"

    received = ops.transfers.receive(draft.id, op_id="tr-rcv-1")      # everything in transit
    assert received.state == "received" and inventory.on_hand(db, s, shop) == 4
    assert [t.number for t in ops.transfers.list(states=("received",))] == [draft.number]
    assert ops.transfers.find(draft.number).id == draft.id


def test_purchase_orders_suppliers_and_suggestions_through_the_contract(db, actor, store, ops, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = store.variant_ids[0]
    wh = store.locations["WH1"]
    saved, changes = noted(lambda: ops.suppliers.create({"name": "Norda Knits", "currency": "EUR"}, op_id="sup-1"))
    assert not saved.replayed and changes.concerns(SUPPLIERS) and changes.ids_of("supplier") == {saved.id}
    assert ops.suppliers.create({"name": "Norda Knits", "currency": "EUR"}, op_id="sup-1").replayed
    item = ops.suppliers.save_item(supplier_id=saved.id, variant_id=s, values={"unit_cost": "2.50", "preferred": True})
    assert item.action == "create" and ops.suppliers.find("norda knits").items == 1
    found = ops.purchase_orders.find_line(saved.id, "MC-S")
    assert found.variant_id == s and found.item is not None and str(found.item.unit_cost) == "2.50"

    order, changes = noted(lambda: ops.purchase_orders.create(supplier_id=saved.id, destination_location_id=wh,
                                                              lines=[(s, 10)]))
    assert changes.concerns(PURCHASE_ORDERS) and not changes.concerns(STOCK)
    sent, changes = noted(lambda: ops.purchase_orders.send(order.id, op_id="po-send-1"))
    assert sent.state == "sent" and changes.concerns(STOCK) and changes.ids_of("location") == {wh}
    got, changes = noted(lambda: ops.purchase_orders.receive(order.id, {s: 4}, op_id="po-rcv-1"))
    assert got.state == "partial" and changes.concerns(STOCK, PURCHASE_ORDERS) and changes.ids_of("variant") == {s}
    assert ops.purchase_orders.receive(order.id, {s: 4}, op_id="po-rcv-1").replayed
    assert inventory.on_hand(db, s, wh) == 4
    assert [o.number for o in ops.purchase_orders.list(states=("partial",))] == [order.number]
    pdf = ops.purchase_orders.write_document(order.id, str(tmp_path / "po.pdf"), store_name="Shop HQ")
    assert open(pdf, "rb").read(5) == b"%PDF-"
    with pytest.raises(ValidationError, match="only 6 outstanding"):
        ops.purchase_orders.receive(order.id, {s: 7})     # 6 outstanding: an over-receipt must be allowed
    closed = ops.purchase_orders.close(order.id)
    assert closed.state == "closed"

    edits = [ItemEdit(item.id, item.version, {"unit_cost": "2.00"}, {"unit_cost": "2.50"})]
    result, changes = noted(lambda: ops.suppliers.save_items(edits, description="cheaper"))
    assert result.applied_rows == 1 and result.conflicts == [] and changes.concerns(SUPPLIERS, CHANGESETS)
    assert str(ops.suppliers.items(supplier_id=saved.id)[0].unit_cost) == "2.00"

    settings, changes = noted(lambda: ops.replenishment.save_settings(ReplenishmentSettings(review_days=7),
                                                                      op_id="set-1"))
    assert settings.settings.review_days == 7 and changes.concerns(SETTINGS)
    assert ops.replenishment.save_settings(ReplenishmentSettings(review_days=7), op_id="set-1").replayed
    levels, changes = noted(lambda: ops.replenishment.set_levels(variant_id=s, location_id=wh, reorder_point=20,
                                                                 order_up_to=30))
    assert (levels.reorder_point, levels.order_up_to) == (20, 30) and changes.concerns(THRESHOLDS)
    assert changes.ids_of("variant") == {s} and changes.ids_of("location") == {wh}
    [suggestion] = ops.replenishment.suggest()
    assert (suggestion.sku, suggestion.reorder_point_override) == ("MC-S", True)
    drafts, changes = noted(lambda: ops.replenishment.create_drafts(op_id="drafts-1"))
    assert changes.concerns(PURCHASE_ORDERS) and changes.ids_of("purchase_order") == {o["id"] for o in drafts.orders}
    assert ops.replenishment.suggest() == []
