"""Orders under real concurrency (PostgreSQL, separate processes):

* twenty customers, each in a process of its own, order the last ten units of one variant at the same
  moment: exactly ten units are reserved; the other orders wait (shortage "backorder") or are refused
  (shortage "refuse"); available never goes below zero meanwhile;
* four processes run the orders service's processing at once over ten thousand new orders written in
  bulk: every order is reserved exactly once, all of them fully, with no error, the work shared between
  them. (``backoffice orders process`` itself runs one at a time, whoever starts it: the job's lease,
  tests/test_job_locks.py.)
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import asdict

import pytest
from sqlalchemy import func, select, text

from backoffice.db import Database
from backoffice.models import AuditEntry, Order, OrderLine, OrderReservation, OrderState, StockLevel
from backoffice.services import catalog, inventory, orders
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine
from backoffice.services.orders import OrderSettings
from backoffice.services.users import ensure_user
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.postgres


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _locations(db: Database, actor: Actor) -> dict[str, int]:
    return {code: inventory.create_location(db, actor, code=code, name=code, kind=kind).entity_id
            for code, kind in (("WH1", "warehouse"), ("SHOP", "store"), ("SUP", "supplier"), ("CUS", "customer"))}


def _place_one(url: str, actor: Actor, variant_id: int, barrier, results) -> None:  # type: ignore[no-untyped-def]
    """One customer: waits for the others, then places an order for one unit (its own connection)."""
    db = Database(url)
    try:
        barrier.wait(timeout=60)
        oid = orders.place_order(db, actor, lines=[(variant_id, 1, "59.99")], channel="web")
        results.put(("ok", oid))
    except Exception as exc:  # noqa: BLE001 - reported by the test
        results.put(("error", repr(exc)))
    finally:
        db.dispose()


@pytest.mark.parametrize("shortage", ["backorder", "refuse"])
def test_twenty_processes_order_the_last_ten_units(pg_db: Database, shortage: str) -> None:
    db = pg_db
    actor = ensure_user(db, "tester", password=STAFF_PASSWORD)
    locs = _locations(db, actor)
    product = catalog.create_product(db, actor, values={"handle": "last-ten", "title": "Last ten", "status": "active"},
                                     variants=[{"sku": "LT-1", "price": "59.99"}])
    v = product.children[0].entity_id
    inventory.post_moves(db, actor, operation_id="in", reason="receipt",
                         lines=[MoveLine(v, locs["SUP"], locs["WH1"], 6), MoveLine(v, locs["SUP"], locs["SHOP"], 4)])
    orders.save_settings(db, actor, OrderSettings(shortage=shortage))
    db.engine.dispose()          # no pooled connection crosses the fork

    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(20), ctx.Queue()
    procs = [ctx.Process(target=_place_one, args=(url_of(db), actor, v, barrier, results)) for _ in range(20)]
    for p in procs:
        p.start()
    lowest = []                  # available at each level, watched while the customers order
    outcomes = []
    deadline = time.monotonic() + 120
    while len(outcomes) < 20 and time.monotonic() < deadline:
        with db.read() as s:
            lowest.extend(oh - r for oh, r in s.execute(select(StockLevel.on_hand, StockLevel.reserved)
                                                        .where(StockLevel.variant_id == v)))
        while not results.empty():
            outcomes.append(results.get())
        time.sleep(0.01)
    for p in procs:
        p.join(timeout=60)
    while not results.empty():
        outcomes.append(results.get())
    assert [o for o in outcomes if o[0] != "ok"] == [] and len(outcomes) == 20
    assert all(p.exitcode == 0 for p in procs)
    assert min(lowest) >= 0

    placed = [orders.get_order(db, oid) for _, oid in outcomes]
    reserved = [o for o in placed if sum(ln.reserved for ln in o.lines) == 1]
    others = [o for o in placed if o not in reserved]
    assert len(reserved) == 10 and all(o.state == "allocated" for o in reserved)
    if shortage == "backorder":
        assert [(o.state, o.waiting) for o in others] == [("open", 1)] * 10
    else:
        assert all(o.state == "cancelled" and o.cancel_reason.startswith("refused: not enough stock") for o in others)
        assert all(o.lines[0].cancelled == 1 for o in others)
    with db.read() as s:
        levels = s.execute(select(StockLevel.on_hand, StockLevel.reserved).where(StockLevel.variant_id == v)).all()
    assert sorted(levels) == [(4, 4), (6, 6)]
    assert orders.reservation_mismatches(db) == [] and inventory.ledger_mismatches(db) == []


BULK_ORDERS = 10_000


def _bulk_new_orders(db: Database, variants: list[int], n: int) -> None:
    """``n`` new orders of 1 to 3 lines (1 or 2 units each), written by the server in two statements."""
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO orders (number, ordered_at, status, currency, total, state, channel) "
            "SELECT 'BULK-' || g, now(), 'paid', 'EUR', 10, 'new', CASE WHEN g % 5 = 0 THEN 'pos' ELSE 'web' END "
            "FROM generate_series(1, :n) AS g"), {"n": n})
        conn.execute(text(
            "INSERT INTO order_lines (order_id, variant_id, quantity, unit_price, discount, fulfilled, cancelled, returned) "
            "SELECT o.id, (CAST(:variants AS bigint[]))[1 + (o.id * 7 + k * 13) % cardinality(CAST(:variants AS bigint[]))], "
            "       1 + (o.id + k) % 2, 5, 0, 0, 0, 0 "
            "FROM orders o CROSS JOIN generate_series(0, 2) AS k "
            "WHERE o.number LIKE 'BULK-%' AND k <= o.id % 3 "
            "ORDER BY o.id, k"), {"variants": variants})


def _process(url: str, actor: Actor, barrier, results) -> None:  # type: ignore[no-untyped-def]
    """One processing run (its own connection), started with the others."""
    db = Database(url)
    try:
        barrier.wait(timeout=60)
        results.put(("ok", asdict(orders.process_orders(db, actor, batch=250))))
    except Exception as exc:  # noqa: BLE001 - reported by the test
        results.put(("error", repr(exc)))
    finally:
        db.dispose()


def test_four_processes_process_ten_thousand_orders_each_once(pg_db: Database) -> None:
    db = pg_db
    actor = ensure_user(db, "tester", password=STAFF_PASSWORD)
    locs = _locations(db, actor)
    product = catalog.create_product(db, actor, values={"handle": "bulk", "title": "Bulk", "status": "active"},
                                     variants=[{"sku": f"BK-{i:02d}", "price": "5.00"} for i in range(40)])
    variants = [c.entity_id for c in product.children]
    inventory.post_moves(db, actor, operation_id="in", reason="receipt",
                         lines=[MoveLine(v, locs["SUP"], loc, 600) for v in variants for loc in (locs["WH1"], locs["SHOP"])])
    orders.save_settings(db, actor, OrderSettings(channel_locations={"pos": locs["SHOP"]}))
    _bulk_new_orders(db, variants, BULK_ORDERS)

    db.engine.dispose()          # no pooled connection crosses the fork
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_process, args=(url_of(db), actor, barrier, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [o for o in outcomes if o[0] != "ok"] == [] and all(p.exitcode == 0 for p in procs)
    results = [r for _, r in outcomes]
    assert sum(r["orders"] for r in results) == BULK_ORDERS           # each order taken by one process
    assert all(r["refused"] == 0 for r in results)
    assert sum(1 for r in results if r["orders"]) >= 2, results      # they did run side by side

    with db.read() as s:
        states = dict(s.execute(select(Order.state, func.count()).group_by(Order.state)).all())
        ordered = s.scalar(select(func.sum(OrderLine.quantity)))
        held = s.scalar(select(func.sum(OrderReservation.quantity)))
        reserves = s.execute(select(AuditEntry.entity_id, func.count()).where(
            AuditEntry.entity == "order", AuditEntry.action == "reserve").group_by(AuditEntry.entity_id)).all()
        level_reserved = s.scalar(select(func.sum(StockLevel.reserved)))
    assert states == {OrderState.ALLOCATED: BULK_ORDERS}
    assert len(reserves) == BULK_ORDERS and {n for _, n in reserves} == {1}
    assert held == ordered == level_reserved == sum(r["reserved_units"] for r in results)
    assert orders.reservation_mismatches(db) == [] and inventory.ledger_mismatches(db) == []
