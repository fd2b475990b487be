"""Bundles under hypothesis (both engines): whatever the components, their quantities, the stock received
at two locations and the bundles ordered, shipped and cancelled,

* a bundle's availability at a location is the minimum over its components of (on hand − reserved) ÷
  quantity, floored, with on hand and reserved read from the database;
* ordering n bundles reserves n × quantity of each component (never the bundle), shipping posts component
  moves to the customer location and nothing for the bundle, cancelling frees the rest;
* the ledger and the reservations stay sound (on hand = ledger sum, reserved = sum of reservations), and
  the bundle SKU never has a stock move or a level holding stock.

Each example makes its own product and bundle (fresh SKUs) in the test's database.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import OrderLine, StockLevel, StockMove
from backoffice.services import bundles, catalog, inventory, orders
from backoffice.services.base import Actor
from backoffice.services.bundles import ComponentSpec
from backoffice.services.inventory import MoveLine

_serial = itertools.count(1)

component_spec = st.tuples(st.integers(1, 4), st.integers(0, 12), st.integers(0, 12))   # qty per bundle, WH1, SHOP
scenario = st.fixed_dictionaries({
    "components": st.lists(component_spec, min_size=1, max_size=3),
    "ordered": st.integers(1, 5),
    "ship": st.booleans(),
})


def _levels(db: Database, variant_ids: list[int]) -> dict[tuple[int, int], tuple[int, int]]:
    with db.read() as s:
        return {(v, loc): (oh, r) for v, loc, oh, r in s.execute(
            select(StockLevel.variant_id, StockLevel.location_id, StockLevel.on_hand, StockLevel.reserved)
            .where(StockLevel.variant_id.in_(variant_ids)))}


def _expected(components: list[tuple[int, int]], levels: dict, locations: dict[str, int]) -> dict[str, int]:
    out = {}
    for code in ("SHOP", "WH1"):
        counts = []
        for vid, q in components:
            on_hand, reserved = levels.get((vid, locations[code]), (0, 0))
            counts.append(max(0, on_hand - reserved) // q)
        out[code] = min(counts)
    return out


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=scenario)
def test_availability_and_ledger_postings_follow_the_components(db: Database, actor: Actor, store, case) -> None:  # type: ignore[no-untyped-def]
    n = next(_serial)
    locs = store.locations
    made = catalog.create_product(db, actor, values={"handle": f"part-{n}", "title": f"Part {n}", "status": "active"},
                                  variants=[{"sku": f"P{n}-{i}", "price": "10.00", "cost": "4.00"}
                                            for i in range(len(case["components"]))])
    vids = [c.entity_id for c in made.children]
    components = [(vid, q) for vid, (q, _, _) in zip(vids, case["components"], strict=True)]
    kit = bundles.save_bundle(db, actor, sku=f"KIT{n}", pricing="discount", percent_off="5",
                              components=[ComponentSpec(f"P{n}-{i}", q) for i, (q, _, _) in enumerate(case["components"])])
    receipts = [MoveLine(vid, locs["SUP"], locs[code], units)
                for vid, (_, wh, shop) in zip(vids, case["components"], strict=True)
                for code, units in (("WH1", wh), ("SHOP", shop)) if units]
    if receipts:
        inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt", lines=receipts)

    def check() -> dict[tuple[int, int], tuple[int, int]]:
        levels = _levels(db, vids + [kit.variant_id])
        assert bundles.get_bundle(db, kit.sku).available == _expected(components, levels, locs)
        assert all(oh == 0 and r == 0 for (v, _), (oh, r) in levels.items() if v == kit.variant_id)
        return levels

    before = check()
    ordered = case["ordered"]
    order_id = orders.place_order(db, actor, lines=[(kit.variant_id, ordered, str(kit.price))])
    after = check()
    with db.read() as s:
        lines = {v: (q, lid) for lid, v, q in s.execute(select(OrderLine.id, OrderLine.variant_id, OrderLine.quantity)
                                                        .where(OrderLine.order_id == order_id))}
    assert {v: q for v, (q, _) in lines.items()} == {vid: ordered * q for vid, q in components}
    reserved_delta = {vid: sum(after.get((vid, loc), (0, 0))[1] - before.get((vid, loc), (0, 0))[1] for loc in locs.values())
                      for vid, _ in components}
    info = orders.get_order(db, order_id)
    assert reserved_delta == {ln.variant_id: ln.reserved for ln in info.lines}
    for ln in info.lines:     # a unit waits only when the locations together have none available for it
        stocked = sum(before.get((ln.variant_id, loc), (0, 0))[0] for loc in (locs["WH1"], locs["SHOP"]))
        assert ln.reserved == min(ln.quantity, stocked)
    shipped: dict[int, int] = defaultdict(int)
    if case["ship"]:
        for loc in (locs["WH1"], locs["SHOP"]):
            held = {ln.id: r.quantity for ln in orders.get_order(db, order_id).lines for r in ln.reservations
                    if r.location_id == loc}
            if held:
                orders.fulfil(db, actor, order_id, location_id=loc, quantities=held, operation_id=uuid.uuid4().hex)
                for ln in info.lines:
                    shipped[ln.variant_id] += held.get(ln.id, 0)
    if orders.get_order(db, order_id).state not in ("fulfilled", "cancelled"):
        orders.cancel(db, actor, order_id)
    check()
    with db.read() as s:
        moved = dict(s.execute(select(StockMove.variant_id, func.sum(StockMove.quantity))
                               .where(StockMove.to_location_id == locs["CUS"], StockMove.variant_id.in_(vids + [kit.variant_id]))
                               .group_by(StockMove.variant_id)).all())
        reserved_now = s.scalar(select(func.coalesce(func.sum(StockLevel.reserved), 0)).where(StockLevel.variant_id.in_(vids)))
    assert moved == {v: q for v, q in shipped.items() if q} and reserved_now == 0
    assert inventory.ledger_mismatches(db) == [] and orders.reservation_mismatches(db) == []


# -- mix-and-match: the grouping is the customer's best ----------------------------------------------------------
def _best_by_brute_force(quantity: int, kind: str, amount, prices: list) -> object:  # type: ignore[no-untyped-def]
    """The largest discount over every way of choosing disjoint groups of ``quantity`` items."""
    from decimal import ROUND_HALF_UP, Decimal

    best = Decimal(0)

    def search(left: list, saved: Decimal) -> None:
        nonlocal best
        best = max(best, saved)
        for group in itertools.combinations(range(len(left)), quantity):
            if group[0] != 0:
                break          # the first item left is in a group or in none: fix it to avoid repeats
            total = sum(left[i] for i in group)
            gain = total - amount if kind == "price" else total     # percent: the grouped amount, rounded at the end
            if gain > 0:
                search([p for i, p in enumerate(left) if i not in group], saved + gain)
        if left:
            search(left[1:], saved)

    search(sorted(prices, reverse=True), Decimal(0))
    return best if kind == "price" else (best * amount / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(prices=st.lists(st.integers(1, 5000), min_size=0, max_size=7), quantity=st.integers(2, 3),
       kind=st.sampled_from(["price", "percent"]), amount=st.integers(1, 9000))
def test_mix_and_match_gives_the_best_grouping(prices, quantity, kind, amount) -> None:  # type: ignore[no-untyped-def]
    from decimal import Decimal

    money = [Decimal(p) / 100 for p in prices]
    deal = Decimal(amount) / 100 if kind == "price" else Decimal(amount % 100 or 1)
    quote = bundles.price_mix_match(quantity, kind, deal, [(f"S{i}", p, True) for i, p in enumerate(money)])
    assert quote.discount == _best_by_brute_force(quantity, kind, deal, money)
    assert quote.total == quote.full_price - quote.discount and quote.total >= 0
    assert sum(len(g) for g in quote.groups) + len(quote.full_price_skus) == len(prices)
    assert all(len(g) == quantity for g in quote.groups)
