"""The Orders view on a real database: the list and its count as the service counts them, filters and
pages; a fulfilment counted by scanning that moves stock once; a cancellation that releases the
reservations (and one refused for a stale order); a return authorised and received back into stock;
and the window's periodic processing of new orders."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import Customer, Order, OrderLine, Role, Shipment, StockLevel
from backoffice.operations.changes import ORDERS, STOCK
from backoffice.services import inventory, orders
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine
from backoffice.services.orders import OrderFilter
from backoffice.services.users import ensure_user
from backoffice.ui.order_processing import OrderProcessing
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.orders import OrdersView
from backoffice.ui.views.orders.dialogs import ReturnDialog
from backoffice.ui.views.orders.models import COL_CUSTOMER, COL_RESERVED, COL_STATE, COL_TOTAL, COL_WAITING
from tests.conftest import SmallStore

SKUS = ("MC-S", "MC-M", "MC-L")


def variant(store: SmallStore, sku: str) -> int:
    return dict(zip(SKUS, store.variant_ids))[sku]


def receive(db: Database, actor: Actor, store: SmallStore, at: str = "WH1", **units: int) -> None:
    """receive(db, actor, store, MC_S=5) puts 5 of MC-S on hand at WH1."""
    lines = [MoveLine(variant(store, sku.replace("_", "-")), store.locations["SUP"], store.locations[at], q)
             for sku, q in units.items()]
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt", lines=lines)


def store_order(db: Database, store: SmallStore, lines: list[tuple[str, int]], *, customer: str | None = None,
                total: str = "119.98") -> int:
    """An order as the store writes it (state new), for a customer with that e-mail (made when new)."""
    with db.write() as session:
        customer_id = None
        if customer is not None:
            customer_id = session.scalar(select(Customer.id).where(Customer.email == customer))
            if customer_id is None:
                row = Customer(email=customer, name=customer.split("@")[0].title(), country="DE", age_band="25-34")
                session.add(row)
                session.flush()
                customer_id = row.id
        n = session.scalar(select(func.count()).select_from(Order)) or 0
        order = Order(number=f"SO-{n + 1:05d}", customer_id=customer_id, ordered_at=orders.utcnow(), status="paid",
                      total=Decimal(total), channel="web")
        session.add(order)
        session.flush()
        session.add_all([OrderLine(order_id=order.id, variant_id=variant(store, sku), quantity=q,
                                   unit_price=Decimal("59.99")) for sku, q in lines])
        return order.id


def level(db: Database, store: SmallStore, sku: str, code: str) -> tuple[int, int]:
    """(on hand, reserved) of a SKU at a location, read from the database."""
    with db.read() as session:
        row = session.execute(select(StockLevel.on_hand, StockLevel.reserved).where(
            StockLevel.variant_id == variant(store, sku), StockLevel.location_id == store.locations[code])).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def shipments(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Shipment)) or 0)


@pytest.fixture
def beeps(monkeypatch) -> list[bool]:  # type: ignore[no-untyped-def]
    heard: list[bool] = []
    monkeypatch.setattr("backoffice.ui.widgets.scanner.QApplication.beep", lambda: heard.append(True))
    return heard


def wait_idle(qtbot, view) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.is_loading() and view.tasks.pending == 0, timeout=10_000)


@pytest.fixture
def open_view(qtbot, tasks: TaskManager, connected_context):  # type: ignore[no-untyped-def]
    def open_(db: Database, actor: Actor, *, page_size: int = 200) -> OrdersView:
        view = OrdersView(connected_context(db, actor), tasks, page_size=page_size)
        qtbot.addWidget(view)
        view.resize(1200, 800)
        view.show()
        view.activate()
        wait_idle(qtbot, view)
        return view

    return open_


def scan(qtbot, field, code: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(field, code)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def test_the_count_is_the_services_and_the_filters_and_pages_hold(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    assert view.results.currentWidget() is view.empty and view.empty.title.text() == "No orders yet"
    receive(db, actor, store, MC_S=4)
    ids = [store_order(db, store, [("MC-S", 2)], customer="bob@example.com"),
           store_order(db, store, [("MC-S", 2), ("MC-M", 1)], customer="ada@example.com"),
           store_order(db, store, [("MC-M", 3)])]
    orders.process_orders(db, actor)
    late = store_order(db, store, [("MC-L", 1)], customer="ada@example.com", total="1234.5")   # still new
    view = open_view(db, actor, page_size=2)
    assert view.total == orders.count_orders(db) == 4
    assert view.model.rowCount() == 2 and view.count_label.text() == "4 orders · 2 shown"
    assert [r.id for r in view.model.rows] == [late, ids[2]]       # newest first
    first = view.model.rows[0]
    assert view.model.display(0, COL_STATE) == "New" and view.model.display(0, COL_CUSTOMER) == "Ada"
    assert view.model.display(0, COL_TOTAL) == "1,234.50 EUR"
    assert view.model.display(1, COL_STATE) == "Waiting for stock" and view.model.display(1, COL_WAITING) == "3"
    assert first.id == view.panel.info.id and view.panel.heading.text() == first.number
    view.load_more()
    wait_idle(qtbot, view)
    assert view.model.rowCount() == 4 and view.count_label.text() == "4 orders"
    assert view.model.display(3, COL_RESERVED) == "2" and view.model.display(2, COL_STATE) == "Waiting for stock"
    counts = orders.state_counts(db)
    assert view.filters.state.itemText(view.filters.state.findData("allocated")) == f"Ready to ship ({counts['allocated']})"

    def search(text: str) -> None:
        view.filters.search.setText(text)
        qtbot.keyClick(view.filters.search, Qt.Key.Key_Return)     # at once, not after the typing pause

    wh1 = store.locations["WH1"]
    for change, expected, shown in (
            (lambda: view.filters.select_state("open"), OrderFilter(states=("open",)), 2),
            (lambda: search("ada@"), OrderFilter(states=("open",), search="ada@"), 1),
            (lambda: view.filters.location.setCurrentIndex(view.filters.location.findData(wh1)),
             OrderFilter(states=("open",), search="ada@", location_id=wh1), 1),
            (lambda: view.filters.overdue.setChecked(True),
             OrderFilter(states=("open",), search="ada@", location_id=wh1, overdue=True), 0)):
        change()
        wait_idle(qtbot, view)
        assert view.current_filter() == expected
        assert view.total == orders.count_orders(db, expected) == view.model.rowCount() == shown
    assert view.results.currentWidget() is view.empty and view.empty.title.text() == "No orders match"
    view.empty.action.click()      # Clear filters
    wait_idle(qtbot, view)
    assert view.current_filter() == OrderFilter() and view.total == 4 and view.results.currentWidget() is view.table


def test_a_fulfilment_counted_by_scanning_moves_the_stock_once(qtbot, db, actor, store, open_view, beeps) -> None:  # type: ignore[no-untyped-def]
    receive(db, actor, store, MC_S=5, MC_M=2)
    oid = store_order(db, store, [("MC-S", 2), ("MC-M", 1)], customer="ada@example.com")
    orders.process_orders(db, actor)
    assert level(db, store, "MC-S", "WH1") == (5, 2) and level(db, store, "MC-M", "WH1") == (2, 1)
    view = open_view(db, actor)
    panel = view.panel
    assert panel.info.id == oid and panel.fulfil_button.isEnabled() and not panel.return_button.isVisible()
    assert panel.lines.display(0, 6) == "2 at WH1"
    dialog = panel.open_fulfil()
    assert dialog.location.currentData() == store.locations["WH1"]      # where the order holds its units
    assert [(ln.sku, ln.left, ln.reserved_here, ln.shipping) for ln in dialog.lines] == [("MC-S", 2, 2, 0), ("MC-M", 1, 1, 0)]
    assert not dialog.ship_button.isEnabled()
    scan(qtbot, dialog.scan, "MC-S")
    scan(qtbot, dialog.scan, "mc-s")
    scan(qtbot, dialog.scan, "MC-S")            # a third: only two are left to ship
    assert beeps == [True] and "all 2 units left to ship are already counted" in dialog.banner.text.text()
    scan(qtbot, dialog.scan, "MC-L")            # not on the order
    assert beeps == [True, True] and "not on" in dialog.banner.text.text()
    scan(qtbot, dialog.scan, "MC-M")
    assert dialog.quantities() == {ln.id: q for ln, q in zip(panel.info.lines, (2, 1))}
    dialog.carrier.setText("DHL")
    dialog.tracking.setText("JD014600001")
    dialog.ship_button.click()
    dialog.ship_button.click()                  # off while the first runs
    dialog.ship()                               # and the same operation id if it did not
    wait_idle(qtbot, view)
    assert shipments(db) == 1
    assert level(db, store, "MC-S", "WH1") == (3, 0) and level(db, store, "MC-M", "WH1") == (1, 0)
    info = orders.get_order(db, oid)
    assert info.state == "fulfilled" and [(s.carrier, s.tracking) for s in info.shipments] == [("DHL", "JD014600001")]
    assert orders.reservation_mismatches(db) == [] and inventory.ledger_mismatches(db) == []
    assert view.model.display(0, COL_STATE) == "Shipped" and view.model.rows[0].fulfilled == 3
    assert panel.info.state == "fulfilled" and panel.tabs.tabText(1) == "1 shipment"
    assert not panel.fulfil_button.isVisible() and panel.return_button.isVisible()
    assert "shipped from WH1" in view.banner.text.text()


def test_cancelling_releases_the_reservations_and_a_stale_order_is_not_cancelled(qtbot, db, actor, store,
                                                                                open_view) -> None:  # type: ignore[no-untyped-def]
    receive(db, actor, store, MC_S=5)
    receive(db, actor, store, at="SHOP", MC_S=1)
    oid = store_order(db, store, [("MC-S", 6)])
    orders.process_orders(db, actor)
    assert level(db, store, "MC-S", "WH1") == (5, 5) and level(db, store, "MC-S", "SHOP") == (1, 1)
    view = open_view(db, actor)
    dialog = view.panel.open_cancel()
    assert "6 units" in dialog.windowTitle() + dialog.findChild(type(view.panel.heading), "DetailsTitle").text()
    assert not dialog.cancel_button.isEnabled()       # a reason first
    orders.fulfil(db, actor, oid, location_id=store.locations["SHOP"], quantities=None, operation_id="elsewhere")
    dialog.reason.setText("Customer asked to cancel")
    dialog.cancel_button.click()
    wait_idle(qtbot, view)
    assert dialog.isVisible() and "changed since you opened it" in dialog.banner.text.text()
    assert level(db, store, "MC-S", "WH1") == (5, 5)   # nothing was cancelled
    dialog.reject()
    assert view.panel.info.version == orders.get_order(db, oid).version   # read again
    dialog = view.panel.open_cancel()
    dialog.reason.setText("Customer asked to cancel")
    dialog.cancel_button.click()
    wait_idle(qtbot, view)
    assert level(db, store, "MC-S", "WH1") == (5, 0) and level(db, store, "MC-S", "SHOP") == (0, 0)
    info = orders.get_order(db, oid)
    assert info.state == "fulfilled" and info.cancel_reason == "Customer asked to cancel"
    assert [ln.cancelled for ln in info.lines] == [5] and orders.reservation_mismatches(db) == []
    assert "Cancelled 5 units: Customer asked to cancel" in [e.text for e in info.timeline]
    assert view.panel.timeline.rows[0][2] == "Cancelled 5 units: Customer asked to cancel"   # newest first


def test_a_return_is_authorised_then_received_back_into_stock(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    receive(db, actor, store, MC_S=3, MC_M=3)
    oid = store_order(db, store, [("MC-S", 2), ("MC-M", 1)])
    orders.process_orders(db, actor)
    orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], operation_id="ship-1")
    assert level(db, store, "MC-S", "WH1") == (1, 0) and level(db, store, "MC-M", "WH1") == (2, 0)
    view = open_view(db, actor)
    panel = view.panel
    assert panel.return_button.isVisible() and not panel.receive_button.isVisible()
    panel.open_return()
    qtbot.waitUntil(lambda: isinstance(panel.dialog, ReturnDialog), timeout=5_000)
    dialog = panel.dialog
    s_line, m_line = (ln.id for ln in panel.info.lines)
    dialog.set_units(s_line, 2, "wrong_size", "restock")
    dialog.set_units(m_line, 1, "defective", "damaged")
    assert dialog.refund.value() == pytest.approx(3 * 59.99)      # the items' price, until typed
    dialog.refund.setValue(150)
    dialog.set_units(s_line, 1, "wrong_size", "restock")
    dialog.set_units(s_line, 2, "wrong_size", "restock")
    assert dialog.refund.value() == 150
    dialog.authorise_button.click()
    wait_idle(qtbot, view)
    assert level(db, store, "MC-S", "WH1") == (1, 0)             # nothing moves until the goods arrive
    assert [(r.state, r.units, r.refund_amount) for r in panel.returns] == [("authorised", 3, Decimal("150.00"))]
    assert panel.receive_button.isVisible() and panel.tabs.tabText(2) == "1 return"
    assert not panel.return_button.isVisible()                     # everything shipped is on its way back

    dialog = panel.open_receive()
    assert dialog.location.currentData() == store.locations["WH1"]   # where it was shipped from
    assert dialog.summary.text() == "2 units go back on hand at WH1. 1 damaged unit is written off."
    dialog.receive_button.click()
    wait_idle(qtbot, view)
    assert level(db, store, "MC-S", "WH1") == (3, 0)             # restocked
    assert level(db, store, "MC-M", "WH1") == (2, 0)             # damaged: written off, not restocked
    info = orders.get_order(db, oid)
    assert [ln.returned for ln in info.lines] == [2, 1] and inventory.ledger_mismatches(db) == []
    assert [r.state for r in panel.returns] == ["received"] and not panel.receive_button.isVisible()


def test_the_window_processes_new_orders_and_tells_the_views(qtbot, sqlite_db, sqlite_actor, tasks,
                                                             connected_context) -> None:  # type: ignore[no-untyped-def]
    db, actor = sqlite_db, sqlite_actor     # the timer and the permission are the GUI's; the service runs on both
    store = SmallStore(db, actor)
    receive(db, actor, store, MC_S=5)
    oid = store_order(db, store, [("MC-S", 2)])
    context = connected_context(db, actor)
    told = []
    context.data_changed.connect(told.append)
    processing = OrderProcessing(context, tasks, interval_s=3600)
    with qtbot.waitSignal(processing.processed, timeout=10_000):
        processing.start()
    assert processing.timer.isActive() and level(db, store, "MC-S", "WH1") == (5, 2)
    assert orders.get_order(db, oid).state == "allocated"
    assert len(told) == 1 and told[0].concerns(ORDERS) and told[0].concerns(STOCK)
    with qtbot.waitSignal(processing.processed, timeout=10_000):
        assert processing.run_now()
    assert len(told) == 1                                          # nothing new: nobody is told

    merchandiser = ensure_user(db, "merch", Role.MERCHANDISER)
    other = OrderProcessing(connected_context(db, merchandiser), tasks, interval_s=3600)
    other.start()
    assert not other.active and not other.timer.isActive() and not other.run_now()
    processing.stop()
    assert not processing.timer.isActive()
