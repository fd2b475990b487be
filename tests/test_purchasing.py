"""Purchasing: reorder arithmetic on known answers, suggestions that never order twice, supplier items,
the purchase-order state machine, receipts through the ledger, and bad input refused with nothing posted."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from backoffice.db import Database
from backoffice.models import Location, LocationKind, Order, OrderLine, PurchaseOrder, StockMove, StockOperation, utcnow
from backoffice.services import changesets, inventory, purchase_orders, replenishment, suppliers, transfers
from backoffice.services.base import Actor, ConflictError, ValidationError
from backoffice.services.changesets import RowChange
from backoffice.services.inventory import MoveLine
from backoffice.services.purchase_orders import PurchaseOrderStateError
from backoffice.services.replenishment import ReplenishmentSettings, demand_stats, order_quantity, reorder_levels
from backoffice.services.stock_query import StockFilter, stock_page
from tests.history_support import rewriting_history

TODAY = dt.date(2026, 6, 30)
# The crafted histories below are store orders not shipped yet: demand on the units ordered.
SETTINGS = ReplenishmentSettings(window_days=28, half_life_days=7.0, service_level=0.95, review_days=14,
                                 demand_basis="ordered")


def op() -> str:
    return uuid.uuid4().hex


def stock(db: Database, actor: Actor, store, variant: int, qty: int, at: str = "WH1") -> None:
    inventory.post_moves(db, actor, operation_id=op(), reason="receipt",
                         lines=[MoveLine(variant, store.locations["SUP"], store.locations[at], qty)])


def sell(db: Database, variant: int, per_day: dict[int, int]) -> None:
    """Store orders of ``variant``: {days before TODAY: units} (1 = yesterday)."""
    with db.write() as s:
        n = s.scalar(select(func.count()).select_from(Order)) or 0
        for back, qty in per_day.items():
            n += 1
            day = TODAY - dt.timedelta(days=back)
            order = Order(number=f"SO-{n:05d}", ordered_at=dt.datetime(day.year, day.month, day.day, 15, tzinfo=dt.UTC),
                          total=Decimal("10.00"), status="paid", currency="EUR")
            s.add(order)
            s.flush()
            s.add(OrderLine(order_id=order.id, variant_id=variant, quantity=qty, unit_price=Decimal("10.00")))


@pytest.fixture
def buyer(db: Database, actor: Actor, store):  # type: ignore[no-untyped-def]
    """A supplier (lead time 10 days on its items, EUR) selling the three variants in packs of 6, MOQ 12."""
    sup = suppliers.create_supplier(db, actor, {"name": "Norda Knits", "email": "orders@norda.test", "currency": "EUR",
                                                "lead_time_days": 20, "contact_name": "Ana Berg"}).entity_id
    for i, vid in enumerate(store.variant_ids):
        suppliers.upsert_item(db, actor, supplier_id=sup, variant_id=vid,
                              values={"supplier_sku": f"NK-{i}", "unit_cost": "21.50", "min_order_qty": 12,
                                      "pack_size": 6, "lead_time_days": 10, "preferred": True})
    replenishment.save_settings(db, actor, SETTINGS)
    return sup


# -- arithmetic ---------------------------------------------------------------------------------------
def test_demand_statistics_on_known_series() -> None:
    mean, sigma = demand_stats({t: 2 for t in range(1, 29)}, 28, 7)
    assert mean == pytest.approx(2.0) and sigma == pytest.approx(0.0, abs=1e-9)
    # two days, half-life one day: weights 0.5 and 1, sales 0 and 3
    mean, sigma = demand_stats({2: 3}, 2, 1)
    assert mean == pytest.approx(2.0) and sigma == pytest.approx(math.sqrt(2))
    assert demand_stats({}, 90, 28) == (0.0, 0.0)


def test_reorder_levels_and_rounding() -> None:
    safety, rop, s = reorder_levels(2.0, 0.0, 10, 14, 1.645)
    assert (safety, rop, s) == (0.0, 20, 48)
    safety, rop, s = reorder_levels(2.0, 1.0, 9, 14, 1.645)
    assert safety == pytest.approx(1.645 * 3) and rop == math.ceil(18 + 4.935) and s == math.ceil(46 + 4.935)
    assert order_quantity(43, 12, 6) == 48
    assert order_quantity(5, 12, 6) == 12
    assert order_quantity(13, 12, 5) == 15       # MOQ 12 is not whole packs of 5: three packs
    assert order_quantity(1, 1, 1) == 1
    assert order_quantity(0, 1, 10) == 0         # no need, no order: MOQ and packs never create one


def test_reorder_point_from_a_crafted_sales_history(db: Database, actor: Actor, store, buyer) -> None:
    a, b, c = store.variant_ids
    sell(db, a, {back: 2 for back in range(1, 29)})     # 2 a day, every day of the window
    sell(db, b, {1: 14})                                 # 14 units yesterday only
    sell(db, b, {40: 50})                                # outside the window: ignored
    stock(db, actor, store, a, 5)
    stock(db, actor, store, b, 30)
    stock(db, actor, store, c, 3)                        # never sold, no override: never suggested
    rows = {s.sku: s for s in replenishment.suggest(db, as_of=TODAY)}
    s_a = rows["MC-S"]
    assert (s_a.daily_demand, s_a.demand_sigma, s_a.lead_time_days, s_a.lead_time_source) == (2.0, 0.0, 10, "supplier item")
    assert (s_a.safety_stock, s_a.reorder_point, s_a.order_up_to) == (0.0, 20, 48)
    assert (s_a.position, s_a.need, s_a.quantity) == (5, 43, 48)       # 43 → MOQ 12 → 8 packs of 6
    assert s_a.unit_cost == Decimal("21.50") and s_a.line_total == Decimal("1032.00")
    assert s_a.expected_on == TODAY + dt.timedelta(days=10)
    assert "reorder point 20" in s_a.explanation()
    # b: one sale of 14 yesterday, weighted by a half-life of 7 days over 28 days
    total_weight = (1 - 0.5 ** 4) / (1 - 0.5 ** (1 / 7))
    mean = 14 / total_weight
    sigma = math.sqrt(14 * 14 / total_weight - mean * mean)
    z = 1.6448536269514722
    rop_b = math.ceil(mean * 10 + z * sigma * math.sqrt(10))
    assert rop_b == 36    # 14.08 expected over the lead time + 21.9 safety stock: 30 on hand is not enough
    assert rows["MC-M"].daily_demand == pytest.approx(mean, abs=1e-4)
    assert rows["MC-M"].demand_sigma == pytest.approx(sigma, abs=1e-4)
    assert rows["MC-M"].reorder_point == rop_b
    assert "MC-L" not in rows
    assert rows["MC-S"].location == "WH1"


def test_overrides_win_and_are_marked(db: Database, actor: Actor, store, buyer) -> None:
    a, _, c = store.variant_ids
    wh = store.locations["WH1"]
    sell(db, a, {back: 2 for back in range(1, 29)})
    stock(db, actor, store, a, 25)
    assert not replenishment.suggest(db, as_of=TODAY)          # 25 > 20
    replenishment.set_overrides(db, actor, variant_id=a, location_id=wh, reorder_point=30, order_up_to=60)
    replenishment.set_overrides(db, actor, variant_id=c, location_id=wh, reorder_point=4, order_up_to=None)
    rows = {s.sku: s for s in replenishment.suggest(db, as_of=TODAY)}
    assert (rows["MC-S"].reorder_point, rows["MC-S"].order_up_to) == (30, 60)
    assert rows["MC-S"].reorder_point_override and rows["MC-S"].order_up_to_override
    assert rows["MC-S"].quantity == 36                           # 60 - 25 = 35 → 6 packs
    assert rows["MC-L"].reorder_point_override and not rows["MC-L"].order_up_to_override
    assert (rows["MC-L"].order_up_to, rows["MC-L"].quantity) == (4, 12)   # never sold: S = ROP; MOQ 12
    with pytest.raises(ValidationError, match="below the reorder point"):
        replenishment.set_overrides(db, actor, variant_id=a, location_id=wh, reorder_point=30, order_up_to=10)


def test_suggestions_respect_on_order_and_in_transit_and_never_order_twice(db: Database, actor: Actor, store,
                                                                           buyer) -> None:
    a, b, _ = store.variant_ids
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    sell(db, a, {back: 2 for back in range(1, 29)})
    stock(db, actor, store, a, 5)
    first = replenishment.create_drafts(db, actor, as_of=TODAY)
    assert first.lines == 1 and first.orders[0]["created"]
    po = purchase_orders.get_order(db, first.orders[0]["id"])
    assert (po.state, po.supplier, po.destination, po.currency) == ("draft", "Norda Knits", "WH1", "EUR")
    assert [(ln.sku, ln.quantity, ln.unit_cost, ln.supplier_sku) for ln in po.lines] == [("MC-S", 48, Decimal("21.50"), "NK-0")]
    # run again: the draft counts as on order, nothing new
    assert replenishment.suggest(db, as_of=TODAY) == []
    second = replenishment.create_drafts(db, actor, as_of=TODAY)
    assert second.lines == 0 and second.orders == []
    again = replenishment.create_drafts(db, actor, as_of=TODAY, keys=[(a, wh)])
    assert again.covered == [(a, wh)] and again.lines == 0
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 1
    # the same operation id twice: the first result, nothing written
    purchase_orders.cancel_order(db, actor, po.id)
    opid = op()
    r1 = replenishment.create_drafts(db, actor, as_of=TODAY, operation_id=opid)
    r2 = replenishment.create_drafts(db, actor, as_of=TODAY, operation_id=opid)
    assert r1.lines == 1 and r2.replayed and r2.orders == r1.orders
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 2
    # in transit counts too: a transfer on its way to the shop covers the shop's need
    sell_shop_to_customer(db, actor, store, b, shop)
    [before] = [s for s in replenishment.suggest(db, as_of=TODAY) if (s.sku, s.location) == ("MC-M", "SHOP")]
    assert before.daily_demand > 0 and (before.available, before.in_transit) == (0, 0)   # till sales at the shop
    stock(db, actor, store, b, 40)
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(b, 30)])
    transfers.ship_transfer(db, actor, t.id, operation_id=op())
    [after] = [s for s in replenishment.suggest(db, as_of=TODAY) if (s.sku, s.location) == ("MC-M", "SHOP")]
    assert (after.in_transit, after.position, after.need) == (30, 30, before.need - 30)


def sell_shop_to_customer(db: Database, actor: Actor, store, variant: int, shop: int) -> None:  # type: ignore[no-untyped-def]
    """Till sales at the shop, posted through the ledger (1 a day for the window)."""
    stock(db, actor, store, variant, 28, at="SHOP")
    for back in range(1, 29):
        inventory.post_moves(db, actor, operation_id=op(), reason="sale",
                             lines=[MoveLine(variant, shop, store.locations["CUS"], 1)])
    day = TODAY - dt.timedelta(days=3)
    with db.write() as s, rewriting_history(s.connection(), "stock_operations"):  # date the sales in the window
        for o in s.scalars(select(StockOperation).where(StockOperation.reason == "sale")):
            o.created_at = dt.datetime(day.year, day.month, day.day, 12, tzinfo=dt.UTC)
        s.flush()


def test_surplus_elsewhere_is_noted(db: Database, actor: Actor, store, buyer) -> None:
    a = store.variant_ids[0]
    sell(db, a, {back: 2 for back in range(1, 29)})
    stock(db, actor, store, a, 5)
    stock(db, actor, store, a, 30, at="SHOP")   # the shop sells nothing of it: all 30 are surplus
    [s] = [s for s in replenishment.suggest(db, as_of=TODAY) if s.sku == "MC-S"]
    assert (s.surplus_location, s.surplus) == ("SHOP", 30)
    assert "SHOP holds 30 above its order-up-to level: a transfer could cover 30 of the 43 needed" in s.notes


def test_variant_without_supplier_item_is_reported_not_ordered(db: Database, actor: Actor, store) -> None:
    a = store.variant_ids[0]
    wh = store.locations["WH1"]
    replenishment.save_settings(db, actor, SETTINGS)
    sell(db, a, {back: 1 for back in range(1, 29)})
    [s] = replenishment.suggest(db, as_of=TODAY)
    assert s.problem and s.supplier_id is None and s.lead_time_source == "store default"
    with pytest.raises(ValidationError, match="SKU MC-S at WH1 supplier: no supplier item"):
        replenishment.create_drafts(db, actor, as_of=TODAY, keys=[(a, wh)])
    assert replenishment.create_drafts(db, actor, as_of=TODAY).lines == 0
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(PurchaseOrder)) == 0


# -- purchase orders -------------------------------------------------------------------------------------
def test_state_machine_refuses_illegal_steps(db: Database, actor: Actor, store, buyer) -> None:
    a, b, _ = store.variant_ids
    wh = store.locations["WH1"]
    po = purchase_orders.create_order(db, actor, supplier_id=buyer, destination_location_id=wh, lines=[(a, 12), (b, 6)])
    assert po.state == "draft" and po.number.startswith("PO-") and po.total == Decimal("387.00")
    with pytest.raises(PurchaseOrderStateError, match="receiving needs sent or partial"):
        purchase_orders.receive_order(db, actor, po.id, quantities={a: 1}, operation_id=op())
    with pytest.raises(PurchaseOrderStateError, match="closing needs partial or received"):
        purchase_orders.close_order(db, actor, po.id)
    po = purchase_orders.send_order(db, actor, po.id, expected_version=po.version)
    assert po.state == "sent" and po.sent_at is not None
    assert po.expected_on == po.sent_at.date() + dt.timedelta(days=10)
    with pytest.raises(PurchaseOrderStateError, match="is sent; editing needs draft"):
        purchase_orders.update_draft(db, actor, po.id, expected_version=po.version, lines=[(a, 24)])
    with pytest.raises(PurchaseOrderStateError, match="sending needs draft"):
        purchase_orders.send_order(db, actor, po.id)
    po = purchase_orders.receive_order(db, actor, po.id, quantities={a: 12}, operation_id=op())
    assert po.state == "partial"
    with pytest.raises(PurchaseOrderStateError, match="cancelling needs draft or sent"):
        purchase_orders.cancel_order(db, actor, po.id)
    po = purchase_orders.receive_order(db, actor, po.id, quantities={b: 6}, operation_id=op())
    assert po.state == "received" and po.outstanding == 0
    po = purchase_orders.close_order(db, actor, po.id)
    assert po.state == "closed"
    with pytest.raises(PurchaseOrderStateError):
        purchase_orders.receive_order(db, actor, po.id, quantities={a: 1}, operation_id=op())
    draft = purchase_orders.create_order(db, actor, supplier_id=buyer, destination_location_id=wh, lines=[(a, 12)])
    assert purchase_orders.cancel_order(db, actor, draft.id).state == "cancelled"


def test_partial_receipts_post_the_right_ledger_moves(db: Database, actor: Actor, store, buyer) -> None:
    a, b, _ = store.variant_ids
    wh, shop, sup = store.locations["WH1"], store.locations["SHOP"], store.locations["SUP"]
    po = purchase_orders.create_order(db, actor, supplier_id=buyer, destination_location_id=wh, lines=[(a, 12), (b, 6)])
    po = purchase_orders.send_order(db, actor, po.id)
    rows = {(r.sku, r.location): r for r in stock_page(db, StockFilter())}
    # the Inventory view's "incoming": listed at the destination before anything arrived
    assert (rows[("MC-S", "WH1")].incoming, rows[("MC-S", "WH1")].on_hand, rows[("MC-M", "WH1")].incoming) == (12, 0, 6)
    stock(db, actor, store, a, 1)
    first = op()
    po = purchase_orders.receive_order(db, actor, po.id, quantities={a: 5}, operation_id=first)
    assert po.state == "partial" and [ln.received for ln in po.lines] == [5, 0] and po.outstanding == 13
    assert inventory.on_hand(db, a, wh) == 6 and inventory.ledger_balance(db, a, sup) == -6
    again = purchase_orders.receive_order(db, actor, po.id, quantities={a: 5}, operation_id=first)
    assert again.replayed and inventory.on_hand(db, a, wh) == 6     # the same receipt twice moves stock once
    po = purchase_orders.receive_order(db, actor, po.id, quantities={a: 7, b: 2}, location_id=shop, operation_id=op())
    assert inventory.on_hand(db, a, shop) == 7 and inventory.on_hand(db, b, shop) == 2
    with db.read() as s:
        moves = s.execute(select(StockOperation.document, StockOperation.reason, StockMove.variant_id,
                                 StockMove.from_location_id, StockMove.to_location_id, StockMove.quantity)
                          .join(StockMove, StockMove.operation_pk == StockOperation.id)
                          .where(StockOperation.document == po.number).order_by(StockMove.id)).all()
    assert [tuple(m) for m in moves] == [(po.number, "receipt", a, sup, wh, 5), (po.number, "receipt", a, sup, shop, 7),
                                         (po.number, "receipt", b, sup, shop, 2)]
    assert [(r.location, r.units) for r in po.receipts] == [("WH1", 5), ("SHOP", 9)]
    rows = {(r.sku, r.location): r for r in stock_page(db, StockFilter())}
    assert rows[("MC-S", "WH1")].incoming == 0 and rows[("MC-M", "SHOP")].incoming == 0
    assert inventory.ledger_mismatches(db) == []


def test_bad_input_is_refused_naming_the_line_and_nothing_is_posted(db: Database, actor: Actor, store, buyer) -> None:
    a, b, c = store.variant_ids
    wh = store.locations["WH1"]
    with pytest.raises(ValidationError, match="line 2 quantity: 0 must be greater than zero"):
        purchase_orders.create_order(db, actor, supplier_id=buyer, destination_location_id=wh, lines=[(a, 1), (b, 0)])
    with pytest.raises(ValidationError, match="line 1 quantity: -3 must be greater than zero"):
        purchase_orders.create_order(db, actor, supplier_id=buyer, destination_location_id=wh, lines=[(a, -3)])
    other = suppliers.create_supplier(db, actor, {"name": "Dollar Goods", "currency": "USD"}).entity_id
    with pytest.raises(ValidationError, match=r"line 1 \(SKU MC-S\) supplier item: Dollar Goods has no supplier item"):
        purchase_orders.create_order(db, actor, supplier_id=other, destination_location_id=wh, lines=[(a, 1)])
    suppliers.upsert_item(db, actor, supplier_id=other, variant_id=c, values={"unit_cost": "3.00", "currency": "EUR"})
    with pytest.raises(ValidationError, match=r"line 1 \(SKU MC-L\) currency: Dollar Goods prices MC-L in EUR, the "
                                              "order is in USD"):
        purchase_orders.create_order(db, actor, supplier_id=other, destination_location_id=wh, lines=[(c, 1)])
    with pytest.raises(ValidationError, match="SUP is a supplier location"):
        purchase_orders.create_order(db, actor, supplier_id=buyer, destination_location_id=store.locations["SUP"],
                                     lines=[(a, 1)])
    po = purchase_orders.send_order(db, actor, purchase_orders.create_order(
        db, actor, supplier_id=buyer, destination_location_id=wh, lines=[(a, 12)]).id)
    with pytest.raises(ValidationError, match="SKU MC-S quantity: 13 received but only 12 outstanding of 12 ordered; "
                                              "confirm the over-receipt"):
        purchase_orders.receive_order(db, actor, po.id, quantities={a: 13}, operation_id=op())
    with pytest.raises(ValidationError, match="CUS is a customer location; receive into an active warehouse or store"):
        purchase_orders.receive_order(db, actor, po.id, quantities={a: 1}, operation_id=op(),
                                      location_id=store.locations["CUS"])
    with pytest.raises(ValidationError, match="SKU MC-M quantity: is not on"):
        purchase_orders.receive_order(db, actor, po.id, quantities={b: 1}, operation_id=op())
    with pytest.raises(ValidationError, match="nothing to receive"):
        purchase_orders.receive_order(db, actor, po.id, quantities={a: 0}, operation_id=op())
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(StockOperation).where(StockOperation.reason == "receipt")) == 0
    over = purchase_orders.receive_order(db, actor, po.id, quantities={a: 13}, operation_id=op(), allow_over_receipt=True)
    assert over.state == "received" and over.lines[0].received == 13 and over.receipts[0].over_receipt
    assert inventory.on_hand(db, a, wh) == 13


def test_draft_edits_check_versions(db: Database, actor: Actor, store, buyer) -> None:
    a, b, _ = store.variant_ids
    po = purchase_orders.create_order(db, actor, supplier_id=buyer, destination_location_id=store.locations["WH1"],
                                      lines=[(a, 12)])
    edited = purchase_orders.update_draft(db, actor, po.id, expected_version=po.version,
                                          lines=[(a, 18), (b, 6, "20.00")], note="rush")
    assert [(ln.sku, ln.quantity, ln.unit_cost) for ln in edited.lines] == [("MC-S", 18, Decimal("21.50")),
                                                                            ("MC-M", 6, Decimal("20.00"))]
    with pytest.raises(ConflictError):
        purchase_orders.update_draft(db, actor, po.id, expected_version=po.version, note="stale")


def test_supplier_items_and_bulk_cost_changeset(db: Database, actor: Actor, store, buyer) -> None:
    items = suppliers.list_items(db, supplier_id=buyer)
    assert [(i.sku, i.supplier_sku, i.unit_cost, i.pack_size, i.preferred) for i in items] == [
        ("MC-S", "NK-0", Decimal("21.50"), 6, True), ("MC-M", "NK-1", Decimal("21.50"), 6, True),
        ("MC-L", "NK-2", Decimal("21.50"), 6, True)]
    result = changesets.apply_changes(db, actor, [
        RowChange("supplier_item", i.id, i.version, {"unit_cost": Decimal("19.90")}, {"unit_cost": str(i.unit_cost)})
        for i in items[:2]], description="new price list")
    assert result.applied_rows == 2 and not result.conflicts
    assert [i.unit_cost for i in suppliers.list_items(db, supplier_id=buyer)] == [Decimal("19.90")] * 2 + [Decimal("21.50")]
    with pytest.raises(ValidationError, match="pack_size: 0 must be at least 1"):
        changesets.apply_changes(db, actor, [RowChange("supplier_item", items[2].id, items[2].version, {"pack_size": 0})],
                                 description="bad")
    reverted = changesets.revert_changeset(db, actor, result.changeset_id)
    assert reverted.applied_rows == 2
    assert [i.unit_cost for i in suppliers.list_items(db, supplier_id=buyer)] == [Decimal("21.50")] * 3
    # a second preferred supplier takes the preference away from the first
    other = suppliers.create_supplier(db, actor, {"name": "Other Mill", "currency": "EUR"}).entity_id
    suppliers.upsert_item(db, actor, supplier_id=other, variant_id=store.variant_ids[0],
                          values={"unit_cost": "18.00", "preferred": True})
    prefs = {(i.supplier, i.sku): i.preferred for i in suppliers.list_items(db, variant_ids=[store.variant_ids[0]])}
    assert prefs == {("Norda Knits", "MC-S"): False, ("Other Mill", "MC-S"): True}
    with pytest.raises(ValidationError, match="is not a three-letter currency code"):
        suppliers.create_supplier(db, actor, {"name": "Bad", "currency": "EURO"})


def test_late_orders_are_flagged(db: Database, actor: Actor, store, buyer) -> None:
    a = store.variant_ids[0]
    po = purchase_orders.send_order(db, actor, purchase_orders.create_order(
        db, actor, supplier_id=buyer, destination_location_id=store.locations["WH1"], lines=[(a, 12)]).id)
    expected = po.expected_on
    [on_time] = purchase_orders.list_orders(db, today=expected)
    [late] = purchase_orders.list_orders(db, today=expected + dt.timedelta(days=1))
    assert not on_time.late and late.late and late.outstanding == 12 and late.total == Decimal("258.00")
    assert po.late(expected + dt.timedelta(days=1)) and not po.late(expected)
    received = purchase_orders.receive_order(db, actor, po.id, quantities={a: 12}, operation_id=op())
    assert not received.late(expected + dt.timedelta(days=30))   # nothing is expected any more


def test_two_buyers_at_once_order_the_need_once(db: Database, actor: Actor, store, buyer) -> None:
    import threading

    a = store.variant_ids[0]
    sell(db, a, {back: 2 for back in range(1, 29)})
    stock(db, actor, store, a, 5)
    results, errors = [], []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            start.wait()
            results.append(replenishment.create_drafts(db, actor, as_of=TODAY))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(r.lines for r in results) == [0, 1]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 1
    [po] = purchase_orders.list_orders(db)
    assert po.units == 48


def test_reorder_point_equal_to_order_up_to_orders_once(db: Database, actor: Actor, store, buyer) -> None:
    """With no review period the reorder point equals the order-up-to level: a position at that level
    needs nothing, so a second run adds nothing (it used to ask for one more unit, a whole pack, each run)."""
    a = store.variant_ids[0]
    replenishment.save_settings(db, actor, replace(SETTINGS, review_days=0))
    sell(db, a, {back: 2 for back in range(1, 29)})
    stock(db, actor, store, a, 5)
    [s] = replenishment.suggest(db, as_of=TODAY)
    assert (s.reorder_point, s.order_up_to, s.need, s.quantity) == (20, 20, 15, 18)
    first = replenishment.create_drafts(db, actor, as_of=TODAY)
    second = replenishment.create_drafts(db, actor, as_of=TODAY)
    assert (first.lines, first.units, second.lines, second.units) == (1, 18, 0, 0)
    [po] = purchase_orders.list_orders(db)
    assert po.units == 18
    # exactly at the level (position 20 = ROP = S): nothing is suggested at all
    purchase_orders.cancel_order(db, actor, po.id)
    stock(db, actor, store, a, 15)
    assert replenishment.suggest(db, as_of=TODAY) == []


def test_no_demand_no_order_unless_set_by_hand_and_long_cover_is_flagged(db: Database, actor: Actor, store,
                                                                          buyer) -> None:
    a, b, c = store.variant_ids
    wh = store.locations["WH1"]
    replenishment.save_settings(db, actor, replace(SETTINGS, review_days=14,
                                                                 max_cover_days=60))
    suppliers.upsert_item(db, actor, supplier_id=buyer, variant_id=b, values={"min_order_qty": 90})
    sell(db, b, {back: 1 for back in range(1, 29)})     # 1 a day: reorder at 10, up to 24
    stock(db, actor, store, b, 10)
    rows = {s.sku: s for s in replenishment.suggest(db, as_of=TODAY)}
    assert set(rows) == {"MC-M"}  # MC-S and MC-L: no sale, no stock, no level set by hand: nothing
    m = rows["MC-M"]
    assert (m.need, m.quantity, m.cover_days) == (14, 90, 90.0)
    assert m.flag == "orders 90 days of demand (more than 60): the minimum order quantity 90 raises a need of 14"
    # a reorder point set by hand is a manual minimum: it orders without demand, flagged as such
    replenishment.set_overrides(db, actor, variant_id=c, location_id=wh, reorder_point=4, order_up_to=None)
    rows = {s.sku: s for s in replenishment.suggest(db, as_of=TODAY)}
    assert set(rows) == {"MC-M", "MC-L"}
    assert rows["MC-L"].cover_days is None
    assert rows["MC-L"].flag == "no sales in the last 28 days: 12 ordered only because of a level set by hand"
    plan = replenishment.plan_drafts(list(rows.values()))
    assert (plan.orders, plan.lines, plan.units, plan.flagged) == (1, 2, 102, 2)
    assert plan.value == {"EUR": Decimal("2193.00")}
    made = replenishment.create_drafts(db, actor, as_of=TODAY)
    assert (made.lines, made.units, made.value) == (2, 102, {"EUR": "2193.00"})
    with pytest.raises(ValidationError, match="max_cover_days: 0 must be 1 to 3,650 days"):
        replenishment.save_settings(db, actor, ReplenishmentSettings(max_cover_days=0))


def test_an_item_priced_in_another_currency_is_reported_not_ordered(db: Database, actor: Actor, store,
                                                                    buyer) -> None:
    """One bad supplier item no longer refuses the whole nightly run: it is listed with its problem."""
    a, b, _ = store.variant_ids
    wh = store.locations["WH1"]
    suppliers.upsert_item(db, actor, supplier_id=buyer, variant_id=b, values={"currency": "USD"})
    for vid in (a, b):
        sell(db, vid, {back: 2 for back in range(1, 29)})
    rows = {s.sku: s for s in replenishment.suggest(db, as_of=TODAY)}
    assert rows["MC-S"].orderable and not rows["MC-M"].orderable
    assert rows["MC-M"].problem == ("Norda Knits prices it in USD but orders in EUR: fix the supplier item's currency "
                                    "before ordering")
    made = replenishment.create_drafts(db, actor, as_of=TODAY)
    assert made.lines == 1 and made.units == rows["MC-S"].quantity
    with pytest.raises(ValidationError, match="SKU MC-M at WH1 supplier: Norda Knits prices it in USD"):
        replenishment.create_drafts(db, actor, as_of=TODAY, keys=[(b, wh)])


# -- what counts as demand: units shipped or units ordered ----------------------------------------------
def _orders_shipped_reserved_waiting_and_returned(db: Database, actor: Actor, store) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Today, through the real services: order 1 (5 of a) ships 3 from WH1 and keeps 2 reserved there;
    order 2 (4 of a, 2 of b) ships 4 of a from the shop, b waits for stock (none anywhere), then 1 b is
    cancelled; order 3 (2 of b) is cancelled whole once stock came... before it was shipped; a till
    sale of 1 a at the shop; 2 of order 1's shipped units come back (a return, not negative demand);
    and an order of 3 a written shipped, with its sale move, as orders older than shipments are."""
    from backoffice.services import orders, returns

    a, b, _ = store.variant_ids
    wh, shop, cus = store.locations["WH1"], store.locations["SHOP"], store.locations["CUS"]
    stock(db, actor, store, a, 10)
    stock(db, actor, store, a, 5, at="SHOP")
    one = orders.place_order(db, actor, lines=[(a, 5, "10.00")])
    orders.fulfil(db, actor, one, location_id=wh, quantities={orders.get_order(db, one).lines[0].id: 3},
                  operation_id=op())
    with db.write() as s:            # the store sends the next one with its channel: the shop's till-side web orders
        s.add(Order(number="SO-2", ordered_at=utcnow(), total=Decimal("40.00"), channel="pos"))
    orders.save_settings(db, actor, orders.OrderSettings(channel_locations={"pos": shop}))
    orders.process_orders(db, actor)
    two = orders.find_order(db, "SO-2").id
    with db.write() as s:
        s.add_all([OrderLine(order_id=two, variant_id=a, quantity=4, unit_price=Decimal("10.00")),
                   OrderLine(order_id=two, variant_id=b, quantity=2, unit_price=Decimal("0.00"))])
        s.execute(update(Order).where(Order.id == two).values(state="new"))
    orders.process_orders(db, actor)
    info = orders.get_order(db, two)
    line_a, line_b = info.lines
    assert [r.location for r in line_a.reservations] == ["SHOP"] and line_b.waiting == 2
    orders.fulfil(db, actor, two, location_id=shop, operation_id=op())
    orders.cancel(db, actor, two, quantities={line_b.id: 1})
    three = orders.place_order(db, actor, lines=[(b, 2, "5.00")])
    orders.cancel(db, actor, three)
    inventory.post_moves(db, actor, operation_id=op(), reason="sale", lines=[MoveLine(a, shop, cus, 1)])
    first_line = orders.get_order(db, one).lines[0].id
    rma = returns.authorise(db, actor, one, lines=[(first_line, 2, "wrong_size", "restock")])
    returns.receive(db, actor, rma.id, location_id=wh, operation_id=op())
    with db.write() as s:
        s.add(Order(number="SO-OLD", ordered_at=utcnow(), total=Decimal("30.00"), state="fulfilled"))
        s.flush()
        old = s.scalar(select(Order.id).where(Order.number == "SO-OLD"))
        s.add(OrderLine(order_id=old, variant_id=a, quantity=3, unit_price=Decimal("10.00"), fulfilled=3))
    inventory.post_moves(db, actor, operation_id=op(), reason="sale", document="SO-OLD", lines=[MoveLine(a, wh, cus, 3)])
    assert orders.reservation_mismatches(db) == [] and inventory.ledger_mismatches(db) == []
    return {"a": a, "b": b, "wh": wh, "shop": shop}


def _one_day(units: float, settings: ReplenishmentSettings) -> float:
    """Daily demand of ``units`` sold yesterday only."""
    return replenishment.demand_stats({settings.window_days: units}, settings.window_days, settings.half_life_days)[0]


def _sql_shipped(db: Database) -> dict[tuple[int, int], int]:
    with db.read() as s:
        cus = s.scalar(select(Location.id).where(Location.kind == LocationKind.CUSTOMER))
        return {(v, loc): int(q) for v, loc, q in s.execute(
            select(StockMove.variant_id, StockMove.from_location_id, func.sum(StockMove.quantity))
            .where(StockMove.to_location_id == cus).group_by(StockMove.variant_id, StockMove.from_location_id))}


def test_demand_on_units_shipped_counts_each_move_to_a_customer_once(db: Database, actor: Actor, store) -> None:
    ids = _orders_shipped_reserved_waiting_and_returned(db, actor, store)
    a, wh, shop = ids["a"], ids["wh"], ids["shop"]
    settings = replace(SETTINGS, demand_basis="fulfilled")
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)      # today is the window's last day
    demand = replenishment.demand(db, as_of=tomorrow, settings=settings)
    shipped = _sql_shipped(db)
    # WH1: 3 of order 1 + 3 of the old order; SHOP: 4 of order 2 + the till's 1. Reserved, waiting,
    # cancelled and returned units are not demand; b never shipped.
    assert shipped == {(a, wh): 6, (a, shop): 5}
    assert {k: round(m, 9) for k, (m, _) in demand.items()} == {
        k: round(_one_day(q, settings), 9) for k, q in shipped.items()}


def test_demand_on_units_ordered_counts_each_order_line_once_where_it_is_served(db: Database, actor: Actor,
                                                                              store) -> None:
    ids = _orders_shipped_reserved_waiting_and_returned(db, actor, store)
    a, b, wh, shop = ids["a"], ids["b"], ids["wh"], ids["shop"]
    settings = replace(SETTINGS, demand_basis="ordered")
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    demand = replenishment.demand(db, as_of=tomorrow, settings=settings)
    # WH1: order 1's 5 (3 shipped, 2 reserved there) + the old order's 3 (no shipment: the fulfilment
    # location, its sale move not counted again); SHOP: order 2's 4 of a + the till's 1; b: order 2's
    # one uncancelled unit, waiting, on the fulfilment location (order 3 was cancelled whole).
    expected = {(a, wh): 8, (a, shop): 5, (b, wh): 1}
    with db.read() as s:   # the same from the tables: ordered - cancelled per variant, plus the till
        ordered = dict(s.execute(select(OrderLine.variant_id, func.sum(OrderLine.quantity - OrderLine.cancelled))
                                 .group_by(OrderLine.variant_id)).all())
    assert {a: ordered[a] + 1, b: ordered[b]} == {a: 8 + 5, b: 1}
    assert {k: round(m, 9) for k, (m, _) in demand.items()} == {
        k: round(_one_day(q, settings), 9) for k, q in expected.items()}
    # the fulfilment location is a setting: the units served nowhere yet move with it
    moved = replenishment.demand(db, as_of=tomorrow, settings=replace(settings, fulfilment_location_id=shop))
    assert {k: round(m, 9) for k, (m, _) in moved.items()} == {
        k: round(_one_day(q, settings), 9) for k, q in {(a, wh): 5, (a, shop): 8, (b, shop): 1}.items()}


def test_demand_basis_is_a_setting_that_round_trips_and_is_checked(db: Database, actor: Actor, store) -> None:
    saved = replenishment.save_settings(db, actor, replace(SETTINGS, demand_basis="fulfilled"))
    assert replenishment.get_settings(db) == saved and saved.to_dict()["demand_basis"] == "fulfilled"
    assert ReplenishmentSettings.from_dict(saved.to_dict()) == saved
    assert ReplenishmentSettings.from_dict({"window_days": 30}).demand_basis == "fulfilled"   # saved before the setting
    with pytest.raises(ValidationError, match="demand_basis: 'shipped' must be one of fulfilled, ordered"):
        replenishment.save_settings(db, actor, replace(SETTINGS, demand_basis="shipped"))
    assert replenishment.get_settings(db).demand_basis == "fulfilled"
