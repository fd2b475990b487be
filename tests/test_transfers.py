"""Transfers: draft → shipped → (partly) received → closed or cancelled, through the ledger, idempotent."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import Location, StockLevel, StockOperation, Transfer
from backoffice.services import documents, inventory, transfers
from backoffice.services.base import Actor, ConflictError, NotFound, ValidationError
from backoffice.services.inventory import InsufficientStock, MoveLine
from backoffice.services.transfers import TransferStateError


def op() -> str:
    return uuid.uuid4().hex


def stock(db: Database, actor: Actor, store, variant: int, qty: int, at: str = "WH1") -> None:
    inventory.post_moves(db, actor, operation_id=op(), reason="receipt",
                         lines=[MoveLine(variant, store.locations["SUP"], store.locations[at], qty)])


def level(db: Database, variant: int, location: int) -> int:
    return inventory.on_hand(db, variant, location)


def transit_id(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(Location.id).where(Location.code == transfers.TRANSIT_CODE))


def held_internally(db: Database, variant: int) -> int:
    """Units on hand at every internal location (transit included)."""
    with db.read() as s:
        return int(s.scalar(select(func.coalesce(func.sum(StockLevel.on_hand), 0)).where(StockLevel.variant_id == variant)))


def test_full_lifecycle_with_partial_receipt_and_loss(db: Database, actor: Actor, store) -> None:
    a, b = store.variant_ids[:2]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    stock(db, actor, store, a, 10)
    stock(db, actor, store, b, 5)
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop,
                                  lines=[(a, 4), (b, 3), (a, 2)], note="weekly restock")
    assert t.state == "draft" and t.number.startswith("TR-")
    assert [(ln.sku, ln.quantity) for ln in t.lines] == [("MC-S", 6), ("MC-M", 3)]  # same variant merged
    assert level(db, a, wh) == 10  # a draft moves nothing

    t = transfers.ship_transfer(db, actor, t.id, operation_id="ship-1")
    assert t.state == "shipped" and t.in_transit == 9
    assert (level(db, a, wh), level(db, b, wh)) == (4, 2)
    assert (level(db, a, transit_id(db)), level(db, b, transit_id(db))) == (6, 3)

    t = transfers.receive_transfer(db, actor, t.id, quantities={a: 6, b: 1}, operation_id="rcv-1")
    assert t.state == "partial" and t.in_transit == 2
    assert (level(db, a, shop), level(db, b, shop)) == (6, 1)

    t = transfers.close_transfer(db, actor, t.id, shortfall="loss", reason="damaged in the van", operation_id="close-1")
    assert t.state == "closed"
    line_b = next(ln for ln in t.lines if ln.variant_id == b)
    assert (line_b.received, line_b.lost, line_b.in_transit) == (1, 2, 0)
    assert level(db, b, transit_id(db)) == 0
    with db.read() as s:
        loss = s.scalar(select(Location.id).where(Location.code == transfers.LOSS_CODE))
    assert inventory.ledger_balance(db, b, loss) == 2
    assert inventory.ledger_mismatches(db) == []
    # conservation: what came from the supplier is on hand somewhere or written off
    assert held_internally(db, a) == 10 and held_internally(db, b) + inventory.ledger_balance(db, b, loss) == 5
    assert inventory.ledger_balance(db, b, store.locations["SUP"]) == -5


def test_receiving_everything_completes_the_transfer(db: Database, actor: Actor, store) -> None:
    a = store.variant_ids[0]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    stock(db, actor, store, a, 5)
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 5)])
    transfers.ship_transfer(db, actor, t.id, operation_id=op())
    t = transfers.receive_transfer(db, actor, t.id, quantities={a: 2}, operation_id=op())
    t = transfers.receive_transfer(db, actor, t.id, quantities={a: 3}, operation_id=op())
    assert t.state == "received" and t.closed_at is not None
    assert (level(db, a, wh), level(db, a, shop)) == (0, 5)
    with pytest.raises(TransferStateError, match="is received; receiving needs shipped or partial"):
        transfers.receive_transfer(db, actor, t.id, quantities={a: 1}, operation_id=op())


def test_shipping_more_than_available_is_refused_and_nothing_moves(db: Database, actor: Actor, store) -> None:
    a, b = store.variant_ids[:2]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    stock(db, actor, store, a, 10)
    stock(db, actor, store, b, 2)
    with db.write() as s:  # 9 of a's 10 units are promised to orders
        s.execute(StockLevel.__table__.update().where(StockLevel.variant_id == a).values(reserved=9))
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 2), (b, 1)])
    with pytest.raises(InsufficientStock, match="MC-S at WH1: 1 available, 2 requested"):
        transfers.ship_transfer(db, actor, t.id, operation_id="ship-x")
    assert (level(db, a, wh), level(db, b, wh)) == (10, 2)  # all lines or none
    assert transfers.get_transfer(db, t.id).state == "draft"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(StockOperation).where(StockOperation.operation_id == "ship-x")) == 0


def test_the_same_operation_id_posts_once(db: Database, actor: Actor, store) -> None:
    a = store.variant_ids[0]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    stock(db, actor, store, a, 10)
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 3)])
    first = transfers.ship_transfer(db, actor, t.id, operation_id="ship-twice")
    again = transfers.ship_transfer(db, actor, t.id, operation_id="ship-twice")
    assert not first.replayed and again.replayed and again.state == "shipped"
    assert level(db, a, wh) == 7
    transfers.receive_transfer(db, actor, t.id, quantities={a: 1}, operation_id="rcv-twice")
    transfers.receive_transfer(db, actor, t.id, quantities={a: 1}, operation_id="rcv-twice")
    assert level(db, a, shop) == 1
    # a different operation id on an already shipped transfer is a state error, not a second shipment
    with pytest.raises(TransferStateError, match="shipping needs draft"):
        transfers.ship_transfer(db, actor, t.id, operation_id="ship-again")
    assert level(db, a, wh) == 7


def test_cancel_draft_and_cancel_shipped_returns_stock(db: Database, actor: Actor, store) -> None:
    a = store.variant_ids[0]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    stock(db, actor, store, a, 8)
    draft = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 2)])
    assert transfers.cancel_transfer(db, actor, draft.id, operation_id=op()).state == "cancelled"
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 5)])
    transfers.ship_transfer(db, actor, t.id, operation_id=op())
    transfers.receive_transfer(db, actor, t.id, quantities={a: 2}, operation_id=op())
    t = transfers.cancel_transfer(db, actor, t.id, operation_id=op())
    assert t.state == "cancelled" and t.lines[0].returned == 3
    assert (level(db, a, wh), level(db, a, shop), level(db, a, transit_id(db))) == (6, 2, 0)
    assert inventory.ledger_mismatches(db) == []


def test_close_with_return_sends_the_rest_back(db: Database, actor: Actor, store) -> None:
    a = store.variant_ids[0]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    stock(db, actor, store, a, 4)
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 4)])
    transfers.ship_transfer(db, actor, t.id, operation_id=op())
    transfers.receive_transfer(db, actor, t.id, quantities={a: 1}, operation_id=op())
    with pytest.raises(ValidationError, match="say why"):
        transfers.close_transfer(db, actor, t.id, shortfall="loss", reason=" ", operation_id=op())
    t = transfers.close_transfer(db, actor, t.id, shortfall="return", operation_id=op())
    assert t.state == "closed" and (level(db, a, wh), level(db, a, shop)) == (3, 1)


def test_bad_input_is_refused_clearly(db: Database, actor: Actor, store) -> None:
    a = store.variant_ids[0]
    wh, shop, sup = store.locations["WH1"], store.locations["SHOP"], store.locations["SUP"]
    with pytest.raises(ValidationError, match="line 1.*-2 must be greater than zero"):
        transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, -2)])
    with pytest.raises(ValidationError, match="is not a whole number"):
        transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, "3")])
    with pytest.raises(ValidationError, match="is the same as the source"):
        transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=wh, lines=[(a, 1)])
    with pytest.raises(ValidationError, match="SUP is a supplier location"):
        transfers.create_transfer(db, actor, source_location_id=sup, destination_location_id=shop, lines=[(a, 1)])
    with pytest.raises(ValidationError, match="variant 99999 does not exist"):
        transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(99999, 1)])
    stock(db, actor, store, a, 2)
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 2)])
    with pytest.raises(TransferStateError, match="receiving needs shipped or partial"):
        transfers.receive_transfer(db, actor, t.id, quantities={a: 1}, operation_id=op())
    transfers.ship_transfer(db, actor, t.id, operation_id=op())
    with pytest.raises(ValidationError, match="3 received but only 2 in transit"):
        transfers.receive_transfer(db, actor, t.id, quantities={a: 3}, operation_id=op())
    with pytest.raises(TransferStateError, match="editing needs draft"):
        transfers.update_draft(db, actor, t.id, expected_version=t.version, lines=[(a, 1)])
    with pytest.raises(NotFound):
        transfers.get_transfer(db, 424242)


def test_editing_a_draft_checks_the_version(db: Database, actor: Actor, store) -> None:
    a, b = store.variant_ids[:2]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 1)])
    t2 = transfers.update_draft(db, actor, t.id, expected_version=t.version, lines=[(a, 2), (b, 1)], note="more")
    assert [(ln.variant_id, ln.quantity) for ln in t2.lines] == [(a, 2), (b, 1)] and t2.note == "more"
    with pytest.raises(ConflictError, match="changed by someone else"):
        transfers.update_draft(db, actor, t.id, expected_version=t.version, lines=[(b, 5)])


def test_lists_and_scanner_lookup(db: Database, actor: Actor, store) -> None:
    a = store.variant_ids[0]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    first = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(a, 1)])
    second = transfers.create_transfer(db, actor, source_location_id=shop, destination_location_id=wh, lines=[(a, 2)])
    rows = transfers.list_transfers(db)
    assert [r.number for r in rows] == [second.number, first.number]
    assert (rows[0].source, rows[0].destination, rows[0].units) == ("SHOP", "WH1", 2)
    assert [r.number for r in transfers.list_transfers(db, before_id=second.id)] == [first.number]
    assert transfers.find_transfer(db, first.number.lower()).id == first.id
    assert documents.find_variant_by_code(db, "mc-s")["variant_id"] == a
    assert documents.find_variant_by_code(db, "no-such-code") is None
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Transfer)) == 2


def test_create_and_ship_is_one_transaction_and_idempotent(db: Database, actor: Actor, store) -> None:
    v = store.variant_ids[0]
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    inventory.post_moves(db, actor, operation_id="in-cs", reason="receipt",
                         lines=[MoveLine(v, store.locations["SUP"], wh, 4)])
    with pytest.raises(InsufficientStock):
        transfers.create_and_ship(db, actor, source_location_id=wh, destination_location_id=shop,
                                  lines=[(v, 5)], operation_id="cs-1")
    assert transfers.list_transfers(db) == []  # refused: no draft left behind
    first = transfers.create_and_ship(db, actor, source_location_id=wh, destination_location_id=shop,
                                      lines=[(v, 3)], operation_id="cs-2")
    again = transfers.create_and_ship(db, actor, source_location_id=wh, destination_location_id=shop,
                                      lines=[(v, 3)], operation_id="cs-2")
    assert (first.state, first.replayed) == ("shipped", False)
    assert (again.id, again.replayed) == (first.id, True)
    assert len(transfers.list_transfers(db)) == 1 and inventory.on_hand(db, v, wh) == 1
    with pytest.raises(ValidationError, match="already used by another stock operation"):
        transfers.create_and_ship(db, actor, source_location_id=wh, destination_location_id=shop,
                                  lines=[(v, 1)], operation_id="in-cs")
    assert len(transfers.list_transfers(db)) == 1


def test_stock_on_its_way_shows_at_a_destination_that_never_held_it(db: Database, actor: Actor, store) -> None:
    from backoffice.services import stock_query
    from backoffice.services.stock_query import StockFilter

    v = store.variant_ids[2]
    stock(db, actor, store, v, 6)
    shop = store.locations["SHOP"]
    assert stock_query.stock_page(db, StockFilter(location_id=shop, variant_id=v)) == []
    t = transfers.create_and_ship(db, actor, source_location_id=store.locations["WH1"], destination_location_id=shop,
                                  lines=[(v, 4)], operation_id=op())
    [row] = stock_query.stock_page(db, StockFilter(location_id=shop, variant_id=v))
    assert (row.on_hand, row.in_transit) == (0, 4)
    assert inventory.ledger_mismatches(db) == []
    transfers.receive_transfer(db, actor, t.id, quantities={v: 4}, operation_id=op())
    [row] = stock_query.stock_page(db, StockFilter(location_id=shop, variant_id=v))
    assert (row.on_hand, row.in_transit) == (4, 0)
