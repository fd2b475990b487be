"""Orders as a state machine (hypothesis, both engines): whatever sequence of orders written by the store
or placed here, processing, shipments (whole or partial, from any location), cancellations, returns,
receipts, write-offs, settings and backorder switches,

* ``stock_levels.reserved`` equals the sum of open reservations and no line holds more than it has left;
* on hand equals the ledger, and equals the model's on hand;
* available (on hand - reserved) never goes below zero, or further below zero, for a product that does
  not allow backorders;
* every line's quantity is fulfilled + cancelled + reserved + waiting with waiting >= 0, its fulfilled,
  cancelled and returned units are the model's, and its order's state follows from its lines;
* the units shipped per variant are the ledger's moves to the customer location minus the returns;
* after processing (lines may split), a unit waits only when no location has one available, and never
  for a product that allows backorders;
* a shipment or a write-off is refused exactly when the model says the stock is not there for it.

Each example starts from an empty order book and empty shelves (the order and stock tables emptied: a
TRUNCATE on PostgreSQL, DELETEs on SQLite) over the same catalog and locations.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select, text

from backoffice.db import Database
from backoffice.models import (
    Order,
    OrderLine,
    OrderReservation,
    OrderState,
    Product,
    StockLevel,
    StockMove,
    Variant,
)
from backoffice.services import adjustments, catalog, inventory, orders, returns
from backoffice.services.base import Actor, ValidationError
from backoffice.services.inventory import InsufficientStock, MoveLine, post_in_transaction
from backoffice.services.orders import OrderSettings

# emptied before each example, children first
RESET_TABLES = ("return_lines", "returns", "shipment_lines", "shipments", "order_reservations", "order_lines", "orders",
                "stock_moves", "stock_operations", "stock_levels", "audit_log", "applied_operations")


def op() -> str:
    return uuid.uuid4().hex


def reset(db: Database) -> None:
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(RESET_TABLES)} CASCADE"))
        else:
            for table in RESET_TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("DELETE FROM store_settings WHERE key = 'orders'"))
        conn.execute(text("UPDATE products SET allow_backorder = :no WHERE allow_backorder = :yes"),
                     {"no": False, "yes": True})


class Snapshot:
    """What the database holds now (read in one session)."""

    def __init__(self, db: Database) -> None:
        with db.read() as s:
            self.levels: dict[tuple[int, int], tuple[int, int]] = {
                (v, loc): (oh, r) for v, loc, oh, r in s.execute(
                    select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved))}
            self.lines: dict[int, dict[str, int]] = {
                r.id: {"order": r.order_id, "variant": r.variant_id, "quantity": r.quantity, "fulfilled": r.fulfilled,
                       "cancelled": r.cancelled, "returned": r.returned}
                for r in s.execute(select(OrderLine.id, OrderLine.order_id, OrderLine.variant_id, OrderLine.quantity,
                                          OrderLine.fulfilled, OrderLine.cancelled, OrderLine.returned))}
            self.reserved: dict[int, dict[int, int]] = defaultdict(dict)
            for lid, loc, q in s.execute(select(OrderReservation.order_line_id, OrderReservation.location_id,
                                                OrderReservation.quantity)):
                self.reserved[lid][loc] = q
            self.states: dict[int, OrderState] = {oid: OrderState(st_) for oid, st_ in s.execute(select(Order.id, Order.state))}
            self.backorder: set[int] = set(s.scalars(select(Variant.id).join(Product, Product.id == Variant.product_id)
                                                     .where(Product.allow_backorder.is_(True))))

    def available(self, v: int, loc: int) -> int:
        on_hand, reserved = self.levels.get((v, loc), (0, 0))
        return on_hand - reserved

    def outstanding(self, lid: int) -> int:
        ln = self.lines[lid]
        return ln["quantity"] - ln["fulfilled"] - ln["cancelled"]

    def waiting(self, lid: int) -> int:
        return self.outstanding(lid) - sum(self.reserved.get(lid, {}).values())

    def lines_of(self, oid: int) -> list[int]:
        return sorted(lid for lid, ln in self.lines.items() if ln["order"] == oid)


def expected_state(snap: Snapshot, oid: int) -> OrderState:
    lines = [snap.lines[lid] for lid in snap.lines_of(oid)]
    if all(ln["cancelled"] == ln["quantity"] for ln in lines):
        return OrderState.CANCELLED
    if all(snap.outstanding(lid) == 0 for lid in snap.lines_of(oid)):
        return OrderState.FULFILLED
    if any(ln["fulfilled"] for ln in lines):
        return OrderState.PARTIALLY_FULFILLED
    if all(snap.waiting(lid) == 0 for lid in snap.lines_of(oid)):
        return OrderState.ALLOCATED
    return OrderState.OPEN


class OrdersMachine(RuleBasedStateMachine):
    db: Database
    actor: Actor
    variants: list[int]              # the variants orders are drawn from
    product_of: dict[int, int]       # variant -> product
    products: list[int]
    places: list[int]                # stocked locations (warehouse, store)
    supplier: int
    customer: int
    loss: int
    released_steps = 0               # steps whose missing stock released reservations (over the whole run)

    def __init__(self) -> None:
        super().__init__()
        reset(self.db)
        self.on_hand: dict[tuple[int, int], int] = defaultdict(int)
        self.shipped: dict[int, int] = defaultdict(int)           # units that left for customers, per variant
        self.returned: dict[int, int] = defaultdict(int)          # units that came back from customers
        self.lines: dict[int, dict[str, int]] = {}                # line id -> fulfilled, cancelled, returned
        self.split = True
        self.orders_placed = 0
        self.snap = Snapshot(self.db)

    # -- helpers ------------------------------------------------------------------------------------------
    def _track_new_lines(self) -> None:
        with self.db.read() as s:
            for lid, in s.execute(select(OrderLine.id)):
                self.lines.setdefault(lid, {"fulfilled": 0, "cancelled": 0, "returned": 0})

    def _track_refusals(self) -> None:
        """An order refused when processed (shortage "refuse") has every unit cancelled."""
        with self.db.read() as s:
            for lid, q, c in s.execute(select(OrderLine.id, OrderLine.quantity, OrderLine.cancelled)
                                       .join(Order, Order.id == OrderLine.order_id)
                                       .where(Order.state == OrderState.CANCELLED.value, Order.cancel_reason.like("refused%"))):
                if self.lines[lid]["cancelled"] != c:
                    assert self.lines[lid] == {"fulfilled": 0, "cancelled": 0, "returned": 0} and c == q
                    self.lines[lid]["cancelled"] = q

    def _check_nothing_waits_beside_stock(self) -> None:
        if not self.split:
            return
        snap = Snapshot(self.db)
        for lid in snap.lines:
            if snap.states[snap.lines[lid]["order"]] not in orders.OPEN_STATES or snap.waiting(lid) <= 0:
                continue
            v = snap.lines[lid]["variant"]
            assert v not in snap.backorder, f"line {lid} waits though its product allows backorders"
            assert all(snap.available(v, loc) <= 0 for loc in self.places), \
                f"line {lid} waits {snap.waiting(lid)} while {[snap.available(v, loc) for loc in self.places]} are available"

    def _pick(self, items: list[int], pick: int) -> int | None:
        return items[pick % len(items)] if items else None

    # -- rules ----------------------------------------------------------------------------------------------
    @initialize(shelves=st.lists(st.integers(0, 6), min_size=8, max_size=8),
                first=st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4)), min_size=1, max_size=3),
                               min_size=1, max_size=4))
    def opening(self, shelves: list[int], first: list[list[tuple[int, int]]]) -> None:
        """Some stock on the shelves and some orders written by the store, so every example has things to ship."""
        stocked = [(v, loc) for v in self.variants for loc in self.places]
        moves = [MoveLine(v, self.supplier, loc, q) for (v, loc), q in zip(stocked, shelves) if q]
        if moves:
            inventory.post_moves(self.db, self.actor, operation_id=op(), reason="opening_balance", lines=moves)
        for m in moves:
            self.on_hand[(m.variant_id, m.to_location_id)] += m.quantity
        for lines in first:
            self.store_writes_and_processes(lines, "web", 1)

    @rule(lines=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4)), min_size=1, max_size=3),
          channel=st.sampled_from(["web", "pos"]), cancelled_by_store=st.integers(0, 9))
    def store_writes_and_processes(self, lines: list[tuple[int, int]], channel: str, cancelled_by_store: int) -> None:
        self.orders_placed += 1
        with self.db.write() as s:
            order = Order(number=f"SO-{self.orders_placed:05d}", ordered_at=orders.utcnow(), total=Decimal("10.00"),
                          status="cancelled" if cancelled_by_store == 0 else "paid", channel=channel)
            s.add(order)
            s.flush()
            s.add_all([OrderLine(order_id=order.id, variant_id=self.variants[v], quantity=q, unit_price=Decimal("5.00"))
                       for v, q in lines])
            oid = order.id
        self._track_new_lines()
        result = orders.process_orders(self.db, self.actor, batch=2)
        assert result.orders == 1
        info = orders.get_order(self.db, oid)
        if cancelled_by_store == 0:
            assert info.state == "cancelled" and info.cancel_reason == "cancelled by the store"
            for ln in info.lines:
                self.lines[ln.id]["cancelled"] = ln.quantity
        self._track_refusals()
        self._check_nothing_waits_beside_stock()

    @rule(lines=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 4)), min_size=1, max_size=3),
          channel=st.sampled_from(["web", "pos"]))
    def place_here(self, lines: list[tuple[int, int]], channel: str) -> None:
        oid = orders.place_order(self.db, self.actor, lines=[(self.variants[v], q, "5.00") for v, q in lines],
                                 channel=channel, operation_id=op())
        self._track_new_lines()
        self._track_refusals()
        info = orders.get_order(self.db, oid)
        assert info.state != "new"
        settings_now = orders.get_settings(self.db)
        if settings_now.shortage == "refuse" and info.state == "cancelled":
            assert info.cancel_reason.startswith("refused: not enough stock")
        for ln in info.lines:     # the order's own lines never wait beside stock left available
            if ln.waiting and self.split:
                snap = Snapshot(self.db)
                assert ln.variant_id not in snap.backorder
                assert all(snap.available(ln.variant_id, loc) <= 0 for loc in self.places)

    @rule()
    def process(self) -> None:
        result = orders.process_orders(self.db, self.actor)
        assert result.orders == 0                     # every rule that writes new orders processes them
        assert result.waiting_units == orders.waiting_units(self.db) >= 0
        self._check_nothing_waits_beside_stock()

    def _pick_order(self, pick: int, any_order: int) -> int | None:
        """Mostly an order with something left to ship; now and then any order (a closed or new one)."""
        snap = self.snap
        if any_order == 0:
            return self._pick(sorted(snap.states), pick)
        return self._pick(sorted(oid for oid, st_ in snap.states.items()
                                 if st_ in orders.OPEN_STATES and st_ is not OrderState.NEW), pick)

    @rule(pick=st.integers(0, 10 ** 6), any_order=st.integers(0, 9), at=st.integers(0, 3), whole=st.booleans(),
          parts=st.lists(st.integers(0, 4), min_size=3, max_size=3), within=st.booleans())
    def fulfil(self, pick: int, any_order: int, at: int, whole: bool, parts: list[int], within: bool) -> None:
        """Ship from one location (at 0, 1: a stocked location; 2, 3: where the order holds most): all that
        is reserved there, or chosen units (within: no more than each line holds there)."""
        snap = self.snap
        oid = self._pick_order(pick, any_order)
        if oid is None:
            return
        held: dict[int, int] = defaultdict(int)
        for lid in snap.lines_of(oid):
            for loc_, q in snap.reserved.get(lid, {}).items():
                held[loc_] += q
        loc = max(held, key=lambda x: (held[x], x)) if at >= 2 and held else self.places[at % 2]
        lids = snap.lines_of(oid)
        if whole:
            wanted = {lid: snap.reserved.get(lid, {}).get(loc, 0) for lid in lids}
        else:
            wanted = {lid: min(snap.outstanding(lid), p, snap.reserved.get(lid, {}).get(loc, 0) if within else p)
                      for lid, p in zip(lids, parts)}
        wanted = {lid: q for lid, q in wanted.items() if q > 0}
        state = snap.states[oid]
        kwargs: dict[str, Any] = {"location_id": loc, "operation_id": op(), "carrier": "DHL"}
        if not whole:
            kwargs["quantities"] = wanted
        if state not in orders.OPEN_STATES or state is OrderState.NEW or not wanted:
            with pytest.raises(ValidationError):
                orders.fulfil(self.db, self.actor, oid, **kwargs)
            return
        # the model: per variant, units from the line's own reservation here, and units beyond it, which must be
        # free (on hand not promised to any order); all of them must be on hand
        own: dict[int, int] = defaultdict(int)
        extra: dict[int, int] = defaultdict(int)
        for lid, q in wanted.items():
            v = snap.lines[lid]["variant"]
            mine = min(q, snap.reserved.get(lid, {}).get(loc, 0))
            own[v] += mine
            extra[v] += q - mine
        short = False
        for v in set(own) | set(extra):
            on_hand, reserved = snap.levels.get((v, loc), (0, 0))
            if own[v] + extra[v] > on_hand or extra[v] > max(0, on_hand - reserved):
                short = True
        if short:
            event("fulfil: refused, short")
            with pytest.raises(InsufficientStock):
                orders.fulfil(self.db, self.actor, oid, **kwargs)
            return
        event(f"fulfil: shipped {'all reserved there' if whole else 'chosen units'}")
        info = orders.fulfil(self.db, self.actor, oid, **kwargs)
        assert len(info.shipments) >= 1 and info.shipments[-1].location_id == loc
        assert sorted((lid, q) for lid, _sku, q in info.shipments[-1].lines) == sorted(wanted.items())
        for lid, q in wanted.items():
            v = snap.lines[lid]["variant"]
            self.lines[lid]["fulfilled"] += q
            self.on_hand[(v, loc)] -= q
            self.shipped[v] += q

    @rule(pick=st.integers(0, 10 ** 6), any_order=st.integers(0, 9), whole=st.booleans(),
          parts=st.lists(st.integers(0, 4), min_size=3, max_size=3))
    def cancel(self, pick: int, any_order: int, whole: bool, parts: list[float]) -> None:
        snap = self.snap
        oid = self._pick_order(pick, any_order)
        if oid is None:
            return
        lids = snap.lines_of(oid)
        wanted = ({lid: snap.outstanding(lid) for lid in lids} if whole
                  else {lid: min(snap.outstanding(lid), p) for lid, p in zip(lids, parts)})
        wanted = {lid: q for lid, q in wanted.items() if q > 0}
        kwargs: dict[str, Any] = {"reason": "customer asked", "operation_id": op()}
        if not whole:
            kwargs["quantities"] = wanted
        if snap.states[oid] not in orders.OPEN_STATES or not wanted:
            with pytest.raises(ValidationError):
                orders.cancel(self.db, self.actor, oid, **kwargs)
            return
        event("cancel: cancelled")
        info = orders.cancel(self.db, self.actor, oid, **kwargs)
        for lid, q in wanted.items():
            self.lines[lid]["cancelled"] += q
        if whole:
            assert info.state in ("cancelled", "fulfilled") and all(ln.reserved == 0 for ln in info.lines)

    @rule(pick=st.integers(0, 10 ** 6), part=st.integers(1, 4), damaged=st.booleans(), at=st.integers(0, 1))
    def give_back(self, pick: int, part: int, damaged: bool, at: int) -> None:
        snap = self.snap
        lid = self._pick([lid for lid, ln in sorted(snap.lines.items()) if ln["fulfilled"] > ln["returned"]], pick)
        if lid is None:
            return
        ln = snap.lines[lid]
        q = min(part, ln["fulfilled"] - ln["returned"])
        rma = returns.authorise(self.db, self.actor, ln["order"],
                                lines=[(lid, q, "defective" if damaged else "wrong_size", "damaged" if damaged else "restock")],
                                operation_id=op())
        with pytest.raises(ValidationError):   # no more than was shipped and not yet returned or authorised
            returns.authorise(self.db, self.actor, ln["order"],
                              lines=[(lid, ln["fulfilled"] - ln["returned"] - q + 1, "other", "restock")])
        loc = self.places[at]
        got = returns.receive(self.db, self.actor, rma.id, location_id=loc, operation_id=op())
        assert got.state == "received"
        self.lines[lid]["returned"] += q
        self.returned[ln["variant"]] += q
        event("return: received")
        if not damaged:
            self.on_hand[(ln["variant"], loc)] += q

    @rule(v=st.integers(0, 3), at=st.integers(0, 1), qty=st.integers(1, 8))
    def receive_stock(self, v: int, at: int, qty: int) -> None:
        variant, loc = self.variants[v], self.places[at]
        inventory.post_moves(self.db, self.actor, operation_id=op(), reason="receipt",
                             lines=[MoveLine(variant, self.supplier, loc, qty)])
        self.on_hand[(variant, loc)] += qty

    @rule(pick=st.integers(0, 10 ** 6), qty=st.integers(1, 5))
    def write_off(self, pick: int, qty: int) -> None:
        """Damage found on a shelf holding stock: written off as documents post, only units no order holds
        may leave (asking for more than that is refused and moves nothing)."""
        key = self._pick(sorted(k for k, (on_hand, _) in self.snap.levels.items() if on_hand > 0), pick)
        if key is None:
            return
        variant, loc = key
        qty = min(qty, self.snap.levels[key][0])
        moves = [MoveLine(variant, loc, self.loss, qty)]

        def post(session):  # type: ignore[no-untyped-def]
            return post_in_transaction(session, self.actor, op(), "damage", moves, "write-off", "",
                                       keep_reserved=True)

        if qty > self.snap.available(variant, loc):
            event("write-off: refused, reserved")
            with pytest.raises(InsufficientStock):
                self.db.run_write(post)
            return
        event("write-off: posted")
        self.db.run_write(post)
        self.on_hand[(variant, loc)] -= qty

    @rule(pick=st.integers(0, 10 ** 6), qty=st.integers(1, 6), counted=st.booleans())
    def stock_gone(self, pick: int, qty: int, counted: bool) -> None:
        """Units found missing on a shelf (a count, or damage adjusted): they leave whatever orders hold; the
        newest orders there give up exactly the units that are no longer on the shelf."""
        held = sorted(k for k, (on_hand, reserved) in self.snap.levels.items() if on_hand > 0 and reserved > 0)
        key = self._pick(held or sorted(k for k, (on_hand, _) in self.snap.levels.items() if on_hand > 0), pick)
        if key is None:
            return
        variant, loc = key
        on_hand, reserved = self.snap.levels[key]
        qty = min(qty, on_hand)
        if counted:
            count = adjustments.start_count(self.db, self.actor, location_id=loc)
            adjustments.record_counts(self.db, self.actor, count.id, {variant: on_hand - qty})
            adjustments.post_count(self.db, self.actor, count.id, operation_id=op())
        else:
            adjustments.adjust_stock(self.db, self.actor, location_id=loc, changes={variant: -qty}, reason="damage",
                                     operation_id=op())
        self.on_hand[key] -= qty
        after = Snapshot(self.db).levels[key]
        expected = reserved if variant in self.snap.backorder else min(reserved, on_hand - qty)
        event("stock gone: " + ("reservations released" if after[1] < reserved else "nothing held there"))
        OrdersMachine.released_steps += after[1] < reserved
        assert after == (on_hand - qty, expected)

    @rule(p=st.integers(0, 1), allowed=st.booleans())
    def backorders(self, p: int, allowed: bool) -> None:
        before = {self.product_of[v] for v in self.snap.backorder}
        changed = orders.set_backorders(self.db, self.actor, [self.products[p]], allowed=allowed, operation_id=op())
        assert changed == int((self.products[p] in before) != allowed)

    @rule(shortage=st.sampled_from(["backorder", "refuse"]), split=st.booleans(), prefer=st.integers(-1, 1))
    def change_settings(self, shortage: str, split: bool, prefer: int) -> None:
        channels = {"pos": self.places[prefer]} if prefer >= 0 else {}
        orders.save_settings(self.db, self.actor, OrderSettings(shortage=shortage, split=split, channel_locations=channels))
        self.split = split

    # -- after every step ------------------------------------------------------------------------------------
    @invariant()
    def sound(self) -> None:
        assert orders.reservation_mismatches(self.db) == []
        assert inventory.ledger_mismatches(self.db) == []
        snap = Snapshot(self.db)
        # on hand as the model says
        assert {k: oh for k, (oh, _) in snap.levels.items() if oh} == {k: q for k, q in self.on_hand.items() if q}
        # available never negative, nor more negative than before, unless the product allows backorders
        for (v, loc), (on_hand, reserved) in snap.levels.items():
            if v in snap.backorder:
                continue
            assert on_hand - reserved >= min(0, self.snap.available(v, loc)), \
                f"variant {v} at {loc}: {on_hand} on hand, {reserved} reserved (was {self.snap.levels.get((v, loc))})"
        # lines: quantity = fulfilled + cancelled + reserved + waiting, waiting >= 0; units as the model says
        assert set(snap.lines) == set(self.lines)
        for lid, ln in snap.lines.items():
            reserved = sum(snap.reserved.get(lid, {}).values())
            waiting = ln["quantity"] - ln["fulfilled"] - ln["cancelled"] - reserved
            assert waiting >= 0 and all(q > 0 for q in snap.reserved.get(lid, {}).values())
            assert {k: ln[k] for k in ("fulfilled", "cancelled", "returned")} == self.lines[lid], f"line {lid}"
            if snap.states[ln["order"]] not in orders.OPEN_STATES:
                assert reserved == 0
        # states follow from the lines (every order has been processed by the rule that wrote it)
        for oid, state in snap.states.items():
            assert state is not OrderState.NEW
            assert state is expected_state(snap, oid), f"order {oid} is {state.value}"
        # units shipped per variant: the ledger's moves to the customer location minus those back from it
        with self.db.read() as s:
            to_customer = dict(s.execute(select(StockMove.variant_id, func.sum(StockMove.quantity))
                                         .where(StockMove.to_location_id == self.customer).group_by(StockMove.variant_id)).all())
            from_customer = dict(s.execute(select(StockMove.variant_id, func.sum(StockMove.quantity))
                                           .where(StockMove.from_location_id == self.customer)
                                           .group_by(StockMove.variant_id)).all())
        for v in self.variants:
            assert int(to_customer.get(v, 0)) == self.shipped[v]
            assert int(from_customer.get(v, 0)) == self.returned[v]
            assert int(to_customer.get(v, 0)) - int(from_customer.get(v, 0)) == \
                sum(ln["fulfilled"] - ln["returned"] for ln in snap.lines.values() if ln["variant"] == v)
        self.snap = snap


def test_orders_under_random_operations(db: Database, actor: Actor, store) -> None:  # type: ignore[no-untyped-def]
    other = catalog.create_product(db, actor, values={"handle": "wool-socks", "title": "Wool Socks", "status": "active"},
                                   variants=[{"sku": "WS-1", "price": "9.99"}])
    OrdersMachine.db, OrdersMachine.actor = db, actor
    OrdersMachine.variants = [*store.variant_ids, other.children[0].entity_id]
    OrdersMachine.products = [store.product.entity_id, other.entity_id]
    OrdersMachine.product_of = {**{v: store.product.entity_id for v in store.variant_ids},
                                other.children[0].entity_id: other.entity_id}
    OrdersMachine.places = [store.locations["WH1"], store.locations["SHOP"]]
    OrdersMachine.supplier, OrdersMachine.customer = store.locations["SUP"], store.locations["CUS"]
    OrdersMachine.loss = store.locations["LOSS"]
    OrdersMachine.released_steps = 0
    run_state_machine_as_test(OrdersMachine, settings=settings(
        max_examples=25, stateful_step_count=20, deadline=None, derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
    assert OrdersMachine.released_steps > 0     # the examples did take stock orders were holding


def test_one_variant_on_two_lines_of_an_order_reserves_only_what_is_there(db: Database, actor: Actor, store) -> None:  # type: ignore[no-untyped-def]
    v = store.variant_ids[0]
    inventory.post_moves(db, actor, operation_id=op(), reason="receipt",
                         lines=[MoveLine(v, store.locations["SUP"], store.locations["WH1"], 1)])
    oid = orders.place_order(db, actor, lines=[(v, 1, "5.00"), (v, 1, "5.00")])
    info = orders.get_order(db, oid)
    assert [ln.reserved for ln in info.lines] == [1, 0] and info.state == "open"
    snap = Snapshot(db)
    assert snap.levels[(v, store.locations["WH1"])] == (1, 1)
    orders.save_settings(db, actor, OrderSettings(shortage="refuse"))
    refused = orders.get_order(db, orders.place_order(db, actor, lines=[(v, 1, "5.00"), (v, 1, "5.00")]))
    assert refused.state == "cancelled" and Snapshot(db).levels[(v, store.locations["WH1"])] == (1, 1)
    assert orders.reservation_mismatches(db) == [] and inventory.ledger_mismatches(db) == []
