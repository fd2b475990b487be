"""Orders move stock: processing new orders (reserve), fulfilment through the ledger, cancellation,
returns with restock, customers (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import Customer, Order, OrderLine, StockLevel
from backoffice.services import customers, inventory, orders, returns
from backoffice.services.base import Actor, ConflictError, ValidationError
from backoffice.services.inventory import InsufficientStock, MoveLine
from backoffice.services.orders import OrderFilter, OrderSettings
from tests.conftest import SmallStore


def stock(db: Database, actor: Actor, store: SmallStore, **at: dict[str, int]) -> None:
    """Receive units: stock(WH1={"MC-S": 5}) puts 5 of MC-S into WH1."""
    skus = dict(zip(("MC-S", "MC-M", "MC-L"), store.variant_ids))
    lines = [MoveLine(skus[sku], store.locations["SUP"], store.locations[code], q)
             for code, wanted in at.items() for sku, q in wanted.items()]
    inventory.post_moves(db, actor, operation_id=f"in-{sorted(at.items())}", reason="receipt", lines=lines)


def store_order(db: Database, store: SmallStore, lines: list[tuple[str, int]], *, channel: str = "web",
                number: str | None = None, customer_id: int | None = None) -> int:
    """An order written straight into the shared tables, as the store does (state new)."""
    skus = dict(zip(("MC-S", "MC-M", "MC-L"), store.variant_ids))
    with db.write() as session:
        n = session.scalar(select(func.count()).select_from(Order)) or 0
        order = Order(number=number or f"SO-{n + 1:05d}", customer_id=customer_id, ordered_at=orders.utcnow(),
                      status="paid", total=D("10.00"), channel=channel)
        session.add(order)
        session.flush()
        session.add_all([OrderLine(order_id=order.id, variant_id=skus[sku], quantity=q, unit_price=D("59.99"))
                         for sku, q in lines])
        return order.id


def level(db: Database, store: SmallStore, sku: str, code: str) -> tuple[int, int]:
    vid = dict(zip(("MC-S", "MC-M", "MC-L"), store.variant_ids))[sku]
    with db.read() as session:
        row = session.execute(select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.variant_id == vid, StockLevel.location_id == store.locations[code])).first()
    return (row[0], row[1]) if row else (0, 0)


def assert_sound(db: Database) -> None:
    assert orders.reservation_mismatches(db) == []
    assert inventory.ledger_mismatches(db) == []


def test_processing_reserves_a_new_order_once_however_often_it_runs(db: Database, actor: Actor, store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-S": 5, "MC-M": 2})
    oid = store_order(db, store, [("MC-S", 3), ("MC-M", 1)])
    first = orders.process_orders(db, actor)
    assert (first.orders, first.reserved_units, first.waiting_units) == (1, 4, 0)
    again = orders.process_orders(db, actor)
    assert (again.orders, again.reserved_units) == (0, 0)
    assert level(db, store, "MC-S", "WH1") == (5, 3) and level(db, store, "MC-M", "WH1") == (2, 1)
    info = orders.get_order(db, oid)
    assert info.state == "allocated" and info.waiting == 0
    assert [(ln.sku, [(r.location, r.quantity) for r in ln.reservations]) for ln in info.lines] == \
        [("MC-S", [("WH1", 3)]), ("MC-M", [("WH1", 1)])]
    assert "most available" in info.allocation_note and "MC-S × 3: 3 at WH1" in info.allocation_note
    assert [e.action for e in info.timeline] == ["reserve"]
    assert_sound(db)


def test_a_line_is_split_across_locations_and_the_channel_prefers_its_location(db: Database, actor: Actor,
                                                                              store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-S": 2}, SHOP={"MC-S": 3})
    orders.save_settings(db, actor, OrderSettings(channel_locations={"pos": store.locations["SHOP"]}))
    web = store_order(db, store, [("MC-S", 4)])                 # most available first: SHOP 3, then WH1 1
    orders.process_orders(db, actor)
    assert [(r.location, r.quantity) for r in orders.get_order(db, web).lines[0].reservations] == [("WH1", 1), ("SHOP", 3)]
    stock(db, actor, store, WH1={"MC-S": 10})
    pos = store_order(db, store, [("MC-S", 1)], channel="pos")   # SHOP has 0 left: WH1 (most available) serves it
    orders.process_orders(db, actor)
    assert [(r.location, r.quantity) for r in orders.get_order(db, pos).lines[0].reservations] == [("WH1", 1)]
    stock(db, actor, store, SHOP={"MC-S": 1})
    pos2 = store_order(db, store, [("MC-S", 1)], channel="pos")  # SHOP has 1 again: preferred wins over WH1's 10
    orders.process_orders(db, actor)
    assert [(r.location, r.quantity) for r in orders.get_order(db, pos2).lines[0].reservations] == [("SHOP", 1)]
    assert_sound(db)


def test_units_without_stock_wait_and_are_reserved_when_stock_arrives(db: Database, actor: Actor, store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-L": 1})
    oid = store_order(db, store, [("MC-L", 3)])
    result = orders.process_orders(db, actor)
    assert (result.reserved_units, result.waiting_units) == (1, 2)
    info = orders.get_order(db, oid)
    assert info.state == "open" and info.waiting == 2
    assert level(db, store, "MC-L", "WH1") == (1, 1)              # available never below zero
    stock(db, actor, store, SHOP={"MC-L": 5})
    retry = orders.process_orders(db, actor)
    assert (retry.orders, retry.reserved_units, retry.waiting_units, retry.retried) == (0, 2, 0, 1)
    assert orders.get_order(db, oid).state == "allocated"
    assert orders.process_orders(db, actor).reserved_units == 0
    assert_sound(db)


def test_refuse_setting_cancels_an_order_that_cannot_be_covered(db: Database, actor: Actor, store: SmallStore) -> None:
    orders.save_settings(db, actor, OrderSettings(shortage="refuse"))
    stock(db, actor, store, WH1={"MC-S": 1})
    oid = store_order(db, store, [("MC-S", 1), ("MC-M", 1)])
    assert orders.process_orders(db, actor).refused == 1
    info = orders.get_order(db, oid)
    assert info.state == "cancelled" and info.cancel_reason.startswith("refused: not enough stock")
    assert "MC-M × 1: none available" in info.cancel_reason
    assert level(db, store, "MC-S", "WH1") == (1, 0)
    assert_sound(db)


def test_backorders_allowed_for_a_product_reserve_beyond_stock(db: Database, actor: Actor, store: SmallStore) -> None:
    assert orders.set_backorders(db, actor, [store.product.entity_id], allowed=True) == 1
    stock(db, actor, store, WH1={"MC-S": 1})
    oid = store_order(db, store, [("MC-S", 3)])
    orders.process_orders(db, actor)
    assert level(db, store, "MC-S", "WH1") == (1, 3)               # available -2: allowed for this product
    info = orders.get_order(db, oid)
    assert info.state == "allocated" and "backorder allowed" in info.allocation_note
    shipped = orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], quantities={info.lines[0].id: 1},
                            operation_id="ship-1")
    assert shipped.state == "partially_fulfilled" and level(db, store, "MC-S", "WH1") == (0, 2)
    assert_sound(db)


def test_stock_gone_from_a_shelf_releases_the_newest_orders_units_there(db: Database, actor: Actor,
                                                                         store: SmallStore) -> None:
    """A count that finds less than orders hold, or damage written off, frees the newest orders' units at
    that shelf (never more than needed, never twice); they wait and the next run looks elsewhere."""
    from backoffice.services import adjustments

    stock(db, actor, store, WH1={"MC-S": 5, "MC-M": 3})
    old = store_order(db, store, [("MC-S", 3)], number="SO-OLD")
    new = store_order(db, store, [("MC-S", 2), ("MC-M", 1)], number="SO-NEW")
    orders.process_orders(db, actor)
    assert level(db, store, "MC-S", "WH1") == (5, 5)
    count = adjustments.start_count(db, actor, location_id=store.locations["WH1"])
    adjustments.record_counts(db, actor, count.id, {store.variant_ids[0]: 4})
    adjustments.post_count(db, actor, count.id, operation_id="count-1")
    assert level(db, store, "MC-S", "WH1") == (4, 4)           # one unit of the newest order released
    newest = orders.get_order(db, new)
    assert (newest.state, newest.waiting) == ("open", 1)
    assert [(ln.sku, ln.reserved) for ln in newest.lines] == [("MC-S", 1), ("MC-M", 1)]
    assert newest.timeline[-1].action == "unreserve" and "stock count" in newest.timeline[-1].text
    assert orders.get_order(db, old).state == "allocated"
    adjustments.post_count(db, actor, count.id, operation_id="count-1")   # a retry: nothing again
    assert level(db, store, "MC-S", "WH1") == (4, 4)
    # damage: two more units of MC-S gone; the newest order gives up its last one, then the older one
    adjustments.adjust_stock(db, actor, location_id=store.locations["WH1"], changes={store.variant_ids[0]: -2},
                             reason="damage", operation_id="damage-1")
    assert level(db, store, "MC-S", "WH1") == (2, 2)
    assert [ln.reserved for ln in orders.get_order(db, new).lines] == [0, 1]
    assert orders.get_order(db, old).lines[0].reserved == 2 and orders.get_order(db, old).state == "open"
    # found elsewhere: the waiting units are reserved there by the next run
    stock(db, actor, store, SHOP={"MC-S": 5})
    orders.process_orders(db, actor)
    assert level(db, store, "MC-S", "SHOP") == (5, 3)
    assert {orders.get_order(db, o).state for o in (old, new)} == {"allocated"}
    assert_sound(db)


def test_stock_gone_keeps_the_reservations_of_a_product_that_allows_backorders(db: Database, actor: Actor,
                                                                               store: SmallStore) -> None:
    from backoffice.services import adjustments

    orders.set_backorders(db, actor, [store.product.entity_id], allowed=True)
    stock(db, actor, store, WH1={"MC-S": 3})
    oid = store_order(db, store, [("MC-S", 3)])
    orders.process_orders(db, actor)
    adjustments.adjust_stock(db, actor, location_id=store.locations["WH1"], changes={store.variant_ids[0]: -2},
                             reason="loss", operation_id="loss-1")
    assert level(db, store, "MC-S", "WH1") == (1, 3)
    assert orders.get_order(db, oid).state == "allocated"
    assert_sound(db)


def test_fulfilment_posts_the_ledger_releases_the_reservation_and_is_applied_once(db: Database, actor: Actor,
                                                                                  store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-S": 5, "MC-M": 2})
    oid = store_order(db, store, [("MC-S", 3), ("MC-M", 2)])
    orders.process_orders(db, actor)
    lines = {ln.sku: ln.id for ln in orders.get_order(db, oid).lines}
    part = orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], quantities={lines["MC-S"]: 2},
                         carrier="DHL", tracking="JD0001", operation_id="ship-a")
    assert part.state == "partially_fulfilled"
    assert level(db, store, "MC-S", "WH1") == (3, 1)
    again = orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], quantities={lines["MC-S"]: 2},
                          carrier="DHL", tracking="JD0001", operation_id="ship-a")
    assert len(again.shipments) == 1 and level(db, store, "MC-S", "WH1") == (3, 1)
    rest = orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], operation_id="ship-b")   # all reserved there
    assert rest.state == "fulfilled" and [s.tracking for s in rest.shipments] == ["JD0001", ""]
    assert level(db, store, "MC-S", "WH1") == (2, 0) and level(db, store, "MC-M", "WH1") == (0, 0)
    assert inventory.ledger_balance(db, store.variant_ids[0], store.locations["CUS"]) == 3
    assert [e.action for e in rest.timeline] == ["reserve", "fulfil", "fulfil"]
    assert_sound(db)


def test_fulfilment_never_takes_units_promised_to_another_order(db: Database, actor: Actor, store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-S": 2})
    first = store_order(db, store, [("MC-S", 2)])
    second = store_order(db, store, [("MC-S", 1)])
    orders.process_orders(db, actor)
    line = orders.get_order(db, second).lines[0]
    assert line.waiting == 1
    with pytest.raises(InsufficientStock) as refused:
        orders.fulfil(db, actor, second, location_id=store.locations["WH1"], quantities={line.id: 1}, operation_id="s2")
    assert "MC-S at WH1: 0 available, 1 requested" in str(refused.value)
    assert orders.get_order(db, first).state == "allocated"
    assert_sound(db)


def test_bad_fulfilment_input_is_refused_row_by_row_and_writes_nothing(db: Database, actor: Actor, store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-S": 5})
    oid = store_order(db, store, [("MC-S", 2)])
    orders.process_orders(db, actor)
    line = orders.get_order(db, oid).lines[0]
    with pytest.raises(ValidationError) as bad:
        orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], quantities={line.id: 3, 999999: 1, },
                      operation_id="bad")
    text = str(bad.value)
    assert "3 units asked, 2 left to ship" in text and "line 999999" in text
    with pytest.raises(ValidationError, match="-1"):
        orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], quantities={line.id: -1}, operation_id="bad2")
    with pytest.raises(ValidationError, match="not an active warehouse"):
        orders.fulfil(db, actor, oid, location_id=store.locations["CUS"], operation_id="bad3")
    assert level(db, store, "MC-S", "WH1") == (5, 2)
    assert_sound(db)


def test_cancelling_releases_what_is_not_shipped(db: Database, actor: Actor, store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-S": 2})
    oid = store_order(db, store, [("MC-S", 3)])
    orders.process_orders(db, actor)
    info = orders.get_order(db, oid)
    orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], quantities={info.lines[0].id: 1}, operation_id="s1")
    stale = orders.get_order(db, oid).version
    done = orders.cancel(db, actor, oid, reason="customer asked", operation_id="c1")
    assert done.state == "fulfilled"               # 1 shipped, 2 cancelled: nothing left open
    assert done.lines[0].cancelled == 2 and done.lines[0].fulfilled == 1
    assert level(db, store, "MC-S", "WH1") == (1, 0)
    with pytest.raises(ValidationError, match="nothing left to cancel"):
        orders.cancel(db, actor, oid)
    with pytest.raises(ConflictError):
        orders.cancel(db, actor, store_order(db, store, [("MC-S", 1)]), expected_version=stale + 5)
    assert_sound(db)


def test_a_return_restocks_good_units_and_writes_damaged_ones_off(db: Database, actor: Actor, store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-S": 5})
    oid = store_order(db, store, [("MC-S", 4)])
    orders.process_orders(db, actor)
    line = orders.get_order(db, oid).lines[0]
    orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], operation_id="s1")
    with pytest.raises(ValidationError, match="5 units to return, 4 shipped"):
        returns.authorise(db, actor, oid, lines=[(line.id, 5, "wrong_size", "restock")])
    rma = returns.authorise(db, actor, oid, lines=[(line.id, 2, "wrong_size", "restock"), (line.id, 1, "defective", "damaged")],
                            refund_amount="179.97", operation_id="rma-1")
    assert rma.number.startswith("RMA-") and rma.state == "authorised" and rma.units == 3
    with pytest.raises(ValidationError, match="1 shipped and not yet returned or authorised"):
        returns.authorise(db, actor, oid, lines=[(line.id, 2, "other", "restock")])
    got = returns.receive(db, actor, rma.id, location_id=store.locations["SHOP"], operation_id="rcv-1")
    again = returns.receive(db, actor, rma.id, location_id=store.locations["SHOP"], operation_id="rcv-1")
    assert got.state == again.state == "received"
    assert level(db, store, "MC-S", "SHOP") == (2, 0)
    assert inventory.ledger_balance(db, store.variant_ids[0], store.locations["LOSS"]) == 1
    assert orders.get_order(db, oid).lines[0].returned == 3
    refunded = returns.record_refund(db, actor, rma.id, status="refunded")
    assert refunded.refund_status == "refunded" and refunded.refund_amount == D("179.97")
    assert_sound(db)


def test_placing_an_order_here_reserves_it_at_once(db: Database, actor: Actor, store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-M": 3})
    oid = orders.place_order(db, actor, lines=[(store.variant_ids[1], 2, "59.99")], operation_id="phone-1")
    assert orders.place_order(db, actor, lines=[(store.variant_ids[1], 2, "59.99")], operation_id="phone-1") == oid
    info = orders.get_order(db, oid)
    assert info.number.startswith("BO-") and info.state == "allocated" and info.total == D("119.98")
    with pytest.raises(ValidationError) as bad:
        orders.place_order(db, actor, lines=[(store.variant_ids[1], 0, "1"), (store.variant_ids[1], 1, "x")])
    assert "line 1" in str(bad.value) and "line 2" in str(bad.value)
    assert level(db, store, "MC-M", "WH1") == (3, 2)


def test_the_orders_list_filters_and_counts_agree(db: Database, actor: Actor, store: SmallStore) -> None:
    stock(db, actor, store, WH1={"MC-S": 3}, SHOP={"MC-M": 1})
    with db.write() as session:
        session.add(Customer(email="ada@example.com", name="Ada Lovelace", country="GB", age_band="25-34"))
    with db.read() as session:
        cid = session.scalar(select(Customer.id))
    a = store_order(db, store, [("MC-S", 1)], customer_id=cid)
    b = store_order(db, store, [("MC-M", 1)])
    c = store_order(db, store, [("MC-L", 1)])
    orders.process_orders(db, actor)
    for flt, expected in ((OrderFilter(states=("allocated",)), {a, b}), (OrderFilter(states=("open",)), {c}),
                          (OrderFilter(location_id=store.locations["SHOP"]), {b}), (OrderFilter(customer_id=cid), {a}),
                          (OrderFilter(search="lovelace"), {a}), (OrderFilter(overdue=True), set())):
        assert {o.id for o in orders.list_orders(db, flt)} == expected
        assert orders.count_orders(db, flt) == len(expected)
    page = orders.list_orders(db, limit=2)
    assert [o.id for o in page] == [c, b] and [o.id for o in orders.list_orders(db, before_id=b)] == [a]
    assert {o.id: o.customer for o in page + orders.list_orders(db, before_id=b)}[a] == "Ada Lovelace"


def test_customer_edit_export_and_erase(db: Database, actor: Actor, store: SmallStore, tmp_path) -> None:  # type: ignore[no-untyped-def]
    stock(db, actor, store, WH1={"MC-S": 3})
    with db.write() as session:
        session.add(Customer(email="bo@example.com", name="Bo Jensen", country="DK", age_band="35-44"))
    with db.read() as session:
        cid = session.scalar(select(Customer.id))
    oid = store_order(db, store, [("MC-S", 2)], customer_id=cid)
    orders.process_orders(db, actor)
    orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], operation_id="s")
    info = customers.get_customer(db, cid)
    assert info.orders == 1 and info.lifetime_value == D("10.00")
    edited = customers.update_customer(db, actor, cid, expected_version=info.version,
                                       values={"phone": "+45 1234 5678", "address": "Nørregade 1\n1165 København"})
    assert edited.phone == "+45 1234 5678" and edited.version == info.version + 1
    with pytest.raises(ConflictError):
        customers.update_customer(db, actor, cid, expected_version=info.version, values={"name": "X"})
    with pytest.raises(ValidationError, match="not an e-mail address"):
        customers.update_customer(db, actor, cid, expected_version=edited.version, values={"email": "nope"})
    out = customers.export_customer(db, actor, cid, str(tmp_path / "bo.json"))
    data = json.loads(open(out, encoding="utf-8").read())
    assert data["customer"]["email"] == "bo@example.com" and data["orders"][0]["lines"][0]["fulfilled"] == 2
    erased = customers.erase_customer(db, actor, cid)
    assert (erased.name, erased.email, erased.phone, erased.address) == ("", "", "", "") and erased.erased_at
    assert erased.country == "DK" and erased.orders == 1 and erased.lifetime_value == D("10.00")
    from backoffice.models import AuditEntry
    with db.read() as session:
        logged = json.dumps([e.after for e in session.scalars(select(AuditEntry).where(AuditEntry.entity == "customer"))])
    assert "bo@example.com" not in logged and "Nørregade" not in logged and "1234" not in logged
    with pytest.raises(ValidationError, match="erased"):
        customers.update_customer(db, actor, cid, expected_version=erased.version, values={"name": "Again"})
