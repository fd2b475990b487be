"""Replenishment as properties, on both engines: whatever the sales history, lead times, MOQs, packs,
service level, review period, drafts already open and stock in transit,

* running the suggestions into drafts twice in a row changes nothing the second time (same orders,
  same lines, same quantities, same versions);
* every suggestion needs at least one unit, and its quantity is that need raised to the MOQ and whole
  packs, no more (MOQ and packs never create a need);
* a pair without demand is suggested only when a buyer set its levels by hand, and is then flagged;
* a history of shipped orders (order lines fulfilled, each shipped through the ledger, as the demo and
  orders older than shipments have it) is the same demand whether it counts units ordered or units
  shipped: each unit once, never twice.

Each example builds its own product, supplier and sales under unique names, and archives its variants
at the end, so examples never see each other's needs.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from backoffice.db import Database
from backoffice.models import (
    Order,
    OrderLine,
    OrderState,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderState,
    StockOperation,
    Variant,
    VariantStatus,
)
from backoffice.services import catalog, inventory, purchase_orders, replenishment, suppliers, transfers
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine
from backoffice.services.replenishment import ReplenishmentSettings, order_quantity
from tests.history_support import rewriting_history

TODAY = dt.date(2026, 6, 30)
_counter = itertools.count(1)

variant_spec = st.fixed_dictionaries({
    "sales": st.dictionaries(st.integers(1, 120), st.integers(1, 40), max_size=12),   # days back: units
    "stock_wh": st.integers(0, 60),
    "stock_shop": st.integers(0, 30),
    "in_transit": st.integers(0, 15),          # shipped from the shop to the warehouse, not yet received
    "has_item": st.booleans(),
    "moq": st.integers(1, 60),
    "pack": st.integers(1, 24),
    "item_lead": st.one_of(st.none(), st.integers(0, 45)),
    "draft": st.integers(0, 40),               # already on an open draft (0: none)
    "sent": st.integers(0, 30),                # on a sent order (0: none)
    "override": st.one_of(st.none(), st.tuples(st.integers(0, 40), st.integers(0, 40))),
    "override_at_shop": st.booleans(),
})

settings_spec = st.builds(
    ReplenishmentSettings,
    window_days=st.integers(7, 120),
    half_life_days=st.floats(1, 60),
    service_level=st.floats(0.5, 0.995),
    review_days=st.sampled_from([0, 0, 1, 7, 14, 30]),      # 0: the reorder point equals the order-up-to level
    default_lead_time_days=st.integers(0, 30),
    max_cover_days=st.integers(1, 365),
    demand_basis=st.sampled_from(["fulfilled", "ordered"]),
)


def _drafts(db: Database) -> list[tuple]:
    """Every draft order with its version and its lines, as they are in the database."""
    with db.read() as s:
        orders = s.execute(select(PurchaseOrder.id, PurchaseOrder.supplier_id, PurchaseOrder.destination_location_id,
                                  PurchaseOrder.version).where(PurchaseOrder.state == PurchaseOrderState.DRAFT)
                           .order_by(PurchaseOrder.id)).all()
        lines = s.execute(select(PurchaseOrderLine.order_id, PurchaseOrderLine.variant_id, PurchaseOrderLine.quantity,
                                 PurchaseOrderLine.unit_cost).order_by(PurchaseOrderLine.id)).all()
    by_order: dict[int, list[tuple]] = {}
    for oid, vid, qty, cost in lines:
        by_order.setdefault(oid, []).append((vid, qty, cost))
    return [tuple(o) + (tuple(by_order.get(o[0], ())),) for o in orders]


def _build(db: Database, actor: Actor, store, specs: list[dict], lead: int) -> tuple[list[int], int]:  # type: ignore[no-untyped-def]
    n = next(_counter)
    tag = uuid.uuid4().hex[:8]
    wh, shop, sup_loc = store.locations["WH1"], store.locations["SHOP"], store.locations["SUP"]
    product = catalog.create_product(db, actor, values={"handle": f"prop-{tag}", "title": f"Property {n}",
                                                        "status": "active"},
                                     variants=[{"sku": f"P{tag}-{i}", "price": "9.99"} for i in range(len(specs))])
    vids = [c.entity_id for c in product.children]
    supplier = suppliers.create_supplier(db, actor, {"name": f"Mill {tag}", "currency": "EUR",
                                                     "lead_time_days": lead}).entity_id
    other = suppliers.create_supplier(db, actor, {"name": f"Other {tag}", "currency": "EUR"}).entity_id
    shipped: dict[str, dt.datetime] = {}
    with db.write() as s:
        for vid, spec in zip(vids, specs):
            for back, qty in spec["sales"].items():
                day = TODAY - dt.timedelta(days=back)
                order = Order(number=f"SO-{tag}-{vid}-{back}", total=Decimal("1.00"), status="paid", currency="EUR",
                              ordered_at=dt.datetime(day.year, day.month, day.day, 11, tzinfo=dt.UTC),
                              state=OrderState.FULFILLED)
                s.add(order)
                s.flush()
                s.add(OrderLine(order_id=order.id, variant_id=vid, quantity=qty, unit_price=Decimal("1.00"),
                                fulfilled=qty))
                shipped[order.number] = order.ordered_at
    for vid, spec in zip(vids, specs):   # each order shipped from the warehouse through the ledger, that day
        if spec["sales"]:
            inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt",
                                 lines=[MoveLine(vid, sup_loc, wh, sum(spec["sales"].values()))])
        for back, qty in spec["sales"].items():
            inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="sale", document=f"SO-{tag}-{vid}-{back}",
                                 lines=[MoveLine(vid, wh, store.locations["CUS"], qty)])
    if shipped:
        with db.write() as s, rewriting_history(s.connection(), "stock_operations"):
            for op in s.scalars(select(StockOperation).where(StockOperation.document.in_(list(shipped)))):
                op.created_at = shipped[op.document]
            s.flush()
    for vid, spec in zip(vids, specs):
        moves = [MoveLine(vid, sup_loc, wh, spec["stock_wh"])] if spec["stock_wh"] else []
        if spec["stock_shop"] + spec["in_transit"]:
            moves.append(MoveLine(vid, sup_loc, shop, spec["stock_shop"] + spec["in_transit"]))
        if moves:
            inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt", lines=moves)
        if spec["in_transit"]:
            t = transfers.create_transfer(db, actor, source_location_id=shop, destination_location_id=wh,
                                          lines=[(vid, spec["in_transit"])])
            transfers.ship_transfer(db, actor, t.id, operation_id=uuid.uuid4().hex)
        if spec["has_item"]:
            suppliers.upsert_item(db, actor, supplier_id=supplier, variant_id=vid, values={
                "unit_cost": "4.25", "min_order_qty": spec["moq"], "pack_size": spec["pack"],
                "lead_time_days": spec["item_lead"], "preferred": True})
        suppliers.upsert_item(db, actor, supplier_id=other, variant_id=vid, values={"unit_cost": "5.00"})
        if spec["draft"]:   # an open draft with the other supplier: on order all the same
            purchase_orders.create_order(db, actor, supplier_id=other, destination_location_id=wh,
                                         lines=[(vid, spec["draft"])])
        if spec["sent"]:
            po = purchase_orders.create_order(db, actor, supplier_id=other, destination_location_id=wh,
                                              lines=[(vid, spec["sent"])])
            purchase_orders.send_order(db, actor, po.id)
        if spec["override"] is not None:
            rop, extra = spec["override"]
            replenishment.set_overrides(db, actor, variant_id=vid, location_id=shop if spec["override_at_shop"] else wh,
                                        reorder_point=rop, order_up_to=rop + extra)
    return vids, supplier


def _retire(db: Database, vids: list[int]) -> None:
    with db.write() as s:
        s.execute(update(Variant).where(Variant.id.in_(vids)).values(status=VariantStatus.ARCHIVED))


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(specs=st.lists(variant_spec, min_size=1, max_size=3), config=settings_spec, lead=st.integers(0, 40))
def test_a_second_run_changes_nothing(db: Database, actor: Actor, store, specs, config, lead) -> None:  # type: ignore[no-untyped-def]
    replenishment.save_settings(db, actor, config)
    vids, _supplier = _build(db, actor, store, specs, lead)
    try:
        by_basis = [replenishment.demand(db, as_of=TODAY, variant_ids=vids, settings=replace(config, demand_basis=basis))
                    for basis in ("fulfilled", "ordered")]
        assert by_basis[0] == by_basis[1]
        assert {v for v, _ in by_basis[0]} == {v for v, spec in zip(vids, specs)
                                               if any(back <= config.window_days for back in spec["sales"])}
        rows = [r for r in replenishment.suggest(db, as_of=TODAY) if r.variant_id in vids]
        for r in rows:
            assert r.need >= 1 and r.position + r.need == r.order_up_to and r.position <= r.reorder_point
            if r.orderable:
                assert r.quantity == order_quantity(r.need, r.min_order_qty, r.pack_size) >= r.need
            if r.daily_demand == 0:
                assert r.reorder_point_override or r.order_up_to_override
                assert r.flag.startswith("no sales in the last")
            elif r.quantity / r.daily_demand > config.max_cover_days:
                assert r.flag
        first = replenishment.create_drafts(db, actor, as_of=TODAY)
        assert first.lines == sum(1 for r in rows if r.orderable)
        assert first.units == sum(r.quantity for r in rows if r.orderable)
        after_first = _drafts(db)
        second = replenishment.create_drafts(db, actor, as_of=TODAY)
        assert (second.lines, second.orders, second.units) == (0, [], 0)
        assert _drafts(db) == after_first
        left = [r for r in replenishment.suggest(db, as_of=TODAY) if r.variant_id in vids]
        assert not [r for r in left if r.orderable]
    finally:
        _retire(db, vids)
