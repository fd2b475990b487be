"""The Orders view on a real database: the list and its count as the service counts them, filters and
pages; a fulfilment counted by scanning that moves stock once; a cancellation that releases the
reservations (and one refused for a stale order); a return authorised and received back into stock;
the window's periodic processing of new orders; a payment and a refund recorded, a return cancelled
(nothing moves), the order settings saved (and refused when invalid); the steps a role may not take
shown off."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import Customer, Order, OrderLine, Return, Role, Shipment, StockLevel, StockMove
from backoffice.operations.changes import ORDERS, STOCK
from backoffice.remote.session import sign_in
from backoffice.services import inventory, orders, returns
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine
from backoffice.services.orders import OrderFilter, OrderSettings
from backoffice.services.users import ensure_user
from backoffice.ui.order_processing import OrderProcessing
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.orders import OrdersView
from backoffice.ui.views.orders.dialogs import ReturnDialog
from backoffice.ui.views.orders.models import COL_CUSTOMER, COL_RESERVED, COL_STATE, COL_TOTAL, COL_WAITING
from tests.api_support import PASSWORD
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


def test_the_window_stays_quiet_while_the_scheduler_processes_orders(qtbot, sqlite_db, sqlite_actor, tasks,
                                                                     connected_context) -> None:  # type: ignore[no-untyped-def]
    """While a scheduled `orders process` holds the job's lease, the window's own run is skipped: nothing is
    reserved twice and no failure reaches the status bar; once the lease is let go, the window processes."""
    from backoffice.services import job_runs

    db, actor = sqlite_db, sqlite_actor
    store = SmallStore(db, actor)
    receive(db, actor, store, MC_S=5)
    oid = store_order(db, store, [("MC-S", 2)])
    said, failures = [], []
    processing = OrderProcessing(connected_context(db, actor), tasks, interval_s=3600, notify=said.append)
    processing.failed.connect(failures.append)
    held = job_runs.claim(db, "orders-process", actor)
    assert processing.run_now()
    qtbot.waitUntil(lambda: not processing.running, timeout=10_000)
    assert said == [] and failures == [] and orders.get_order(db, oid).state != "allocated"
    job_runs.finish(db, held, "ok", "scheduled run")
    with qtbot.waitSignal(processing.processed, timeout=10_000):
        assert processing.run_now()
    assert orders.get_order(db, oid).state == "allocated" and failures == []


# -- payments, refunds, cancelled returns, settings, permissions ------------------------------------------------------
def shipped_order(db: Database, actor: Actor, store: SmallStore) -> int:
    """An order of 2 × MC-S and 1 × MC-M, reserved and shipped from WH1."""
    receive(db, actor, store, MC_S=3, MC_M=3)
    oid = store_order(db, store, [("MC-S", 2), ("MC-M", 1)])
    orders.process_orders(db, actor)
    orders.fulfil(db, actor, oid, location_id=store.locations["WH1"], operation_id=uuid.uuid4().hex)
    return oid


def authorised_return(db: Database, actor: Actor, oid: int, refund: str = "119.98") -> int:
    """Both MC-S units of the order coming back (authorised, not received)."""
    s_line = orders.get_order(db, oid).lines[0].id
    return returns.authorise(db, actor, oid, lines=[(s_line, 2, "wrong_size", "restock")], refund_amount=refund,
                             operation_id=uuid.uuid4().hex).id


def ledger_moves(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(StockMove)) or 0)


def return_row(db: Database, return_id: int) -> tuple[str, str, Decimal]:
    with db.read() as session:
        r = session.get(Return, return_id)
        return r.state.value, r.refund_status, r.refund_amount


def test_a_payment_recorded_in_its_dialog_reaches_the_order_and_its_detail(qtbot, db, actor, store,
                                                                            open_view) -> None:  # type: ignore[no-untyped-def]
    oid = store_order(db, store, [("MC-S", 1)])
    view = open_view(db, actor)
    panel = view.panel
    assert panel.info.id == oid and panel.payment.text() == "Payment: Paid"
    assert panel.payment_button.isVisible() and panel.payment_button.isEnabled()
    dialog = panel.open_payment()
    assert dialog.status.currentData() == "paid" and not dialog.record_button.isEnabled()   # nothing changed yet
    dialog.choose("partially_refunded")
    assert dialog.record_button.isEnabled()
    dialog.record_button.click()
    wait_idle(qtbot, view)
    assert orders.get_order(db, oid).status == "partially_refunded"
    assert panel.info.status == "partially_refunded" and panel.payment.text() == "Payment: Partly refunded"
    assert view.model.rows[0].status == "partially_refunded"            # the list was read again too
    assert panel.timeline.rows[0][2] == "Payment status: partially_refunded"
    assert "payment recorded as partly refunded" in view.banner.text.text()


def test_cancelling_a_return_moves_nothing_and_a_refund_is_recorded(qtbot, db, actor, store,
                                                                   open_view) -> None:  # type: ignore[no-untyped-def]
    oid = shipped_order(db, actor, store)
    first = authorised_return(db, actor, oid, refund="119.98")
    view = open_view(db, actor)
    panel = view.panel
    panel.tabs.setCurrentIndex(2)
    assert panel.selected_return().id == first
    assert panel.cancel_return_button.isEnabled() and panel.refund_button.isEnabled()
    moves, before = ledger_moves(db), level(db, store, "MC-S", "WH1")
    dialog = panel.open_cancel_return()
    assert "Cancel return" in dialog.findChild(type(panel.heading), "DetailsTitle").text()
    assert "119.98 EUR" in dialog.findChildren(type(panel.heading), "Muted")[0].text()
    dialog.cancel_button.click()
    wait_idle(qtbot, view)
    assert return_row(db, first)[0] == "cancelled"
    assert ledger_moves(db) == moves and level(db, store, "MC-S", "WH1") == before   # nothing moved
    assert inventory.ledger_mismatches(db) == [] and orders.reservation_mismatches(db) == []
    assert [r.state for r in panel.returns] == ["cancelled"] and panel.selected_return().id == first
    assert not panel.cancel_return_button.isEnabled() and not panel.refund_button.isEnabled()
    assert panel.open_cancel_return() is None and panel.open_refund() is None
    assert "no longer expected" in view.banner.text.text()

    second = authorised_return(db, actor, oid, refund="100")           # the units are free to return again
    panel.reload()
    wait_idle(qtbot, view)
    panel.select_return(second)
    dialog = panel.open_refund()
    assert dialog.amount.value() == pytest.approx(100.0)            # the amount decided, to start with
    assert dialog.amount.suffix() == " EUR" and dialog.amount.text() == "100.00 EUR"
    assert dialog.status.currentData() == "refunded"
    dialog.set_refund("refunded", "1234.5")
    assert dialog.amount.text() == "1,234.50 EUR" and dialog.summary.text() == "1,234.50 EUR refunded to the customer."
    dialog.record_button.click()
    wait_idle(qtbot, view)
    assert return_row(db, second) == ("authorised", "refunded", Decimal("1234.50"))
    shown = next(r for r in panel.returns if r.id == second)
    assert shown.refund_amount == Decimal("1234.50") and panel.selected_return().id == second
    assert "1,234.50 EUR · refunded" in panel.returns_model.rows[panel.returns.index(shown)]
    assert "refund of 1,234.50 EUR recorded as refunded" in view.banner.text.text()


def test_order_settings_are_saved_from_the_dialog_and_read_back(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    assert view.settings_button.isEnabled()
    dialog = view.open_settings()
    qtbot.waitUntil(lambda: not dialog.is_loading() and dialog.form.isEnabled(), timeout=5_000)
    assert dialog.allocation.currentData() == "channel_then_most_available" and dialog.overdue.value() == 2
    assert dialog.explanation.text().startswith("Allocation: the sales channel's preferred location first")
    dialog.split.setChecked(False)
    dialog.shortage.setCurrentIndex(dialog.shortage.findData("refuse"))
    row = dialog.add_channel()
    dialog.set_channel(row, "web", store.locations["WH1"])
    row = dialog.add_channel()
    dialog.set_channel(row, " pos ", store.locations["SHOP"])
    dialog.write_off.setCurrentIndex(dialog.write_off.findData(store.locations["LOSS"]))
    dialog.overdue.setValue(5)
    assert "preferred locations: pos → SHOP, web → WH1" in dialog.explanation.text()
    assert "one location per line" in dialog.explanation.text() and "refused" in dialog.explanation.text()
    assert "Overdue after 5 day(s); damaged returns are written off to LOSS." in dialog.explanation.text()
    assert dialog.problems_label.isHidden() and dialog.save_button.isEnabled()
    dialog.save_button.click()
    wait_idle(qtbot, view)
    assert orders.get_settings(db) == OrderSettings(
        allocation="channel_then_most_available", split=False,
        channel_locations={"web": store.locations["WH1"], "pos": store.locations["SHOP"]}, shortage="refuse",
        write_off_location_id=store.locations["LOSS"], overdue_days=5)
    assert view.banner.text.text() == "Order settings saved."

    dialog = view.open_settings()                                    # read back into the form
    qtbot.waitUntil(lambda: dialog.form.isEnabled(), timeout=5_000)
    assert dialog.current_settings() == (orders.get_settings(db), [])
    dialog.allocation.setCurrentIndex(dialog.allocation.findData("most_available"))
    assert not dialog.channels.isEnabled()                          # not used by that rule, but kept
    assert dialog.current_settings()[0].channel_locations == {"pos": store.locations["SHOP"], "web": store.locations["WH1"]}
    dialog.reject()


def test_invalid_order_settings_show_their_problems_and_save_nothing(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    stored = OrderSettings(channel_locations={"web": store.locations["WH1"]}, overdue_days=3)
    orders.save_settings(db, actor, stored)
    view = open_view(db, actor)
    dialog = view.open_settings()
    qtbot.waitUntil(lambda: dialog.form.isEnabled(), timeout=5_000)
    dialog.overdue.setValue(-4)                                     # the box holds its range: 0 to 365
    assert dialog.overdue.value() == 0
    long_name = "a-marketplace-whose-name-runs-on-and-on-x"         # 41 characters
    row = dialog.add_channel()
    dialog.set_channel(row, long_name, store.locations["SHOP"])
    row = dialog.add_channel()
    dialog.set_channel(row, "pos")                                  # no location chosen
    problems = dialog.problems_label.text()
    assert dialog.problems_label.isVisible() and not dialog.save_button.isEnabled()
    assert "Preferred locations: choose the location of channel pos" in problems
    assert f"Preferred locations: channel '{long_name}' must be 1 to 40 characters" in problems
    dialog.save()                                                    # Enter, or a click that got through
    wait_idle(qtbot, view)
    assert dialog.isVisible() and orders.get_settings(db) == stored

    dialog.channels.setCurrentCell(1, 0)
    dialog.remove_channel()
    dialog.channels.setCurrentCell(1, 0)
    dialog.remove_channel()
    assert dialog.problems_label.isHidden() and dialog.save_button.isEnabled()
    inventory.archive_location(db, actor, store.locations["WH1"])   # meanwhile: only the service can tell
    dialog.save_button.click()
    wait_idle(qtbot, view)
    assert dialog.isVisible() and orders.get_settings(db) == stored
    assert dialog.banner.text.text() == (f"Preferred locations: channel web: location {store.locations['WH1']} "
                                         "is not an active warehouse or store")
    assert dialog.save_button.isEnabled()                           # change it and save again
    dialog.reject()


def test_steps_a_role_may_not_take_are_shown_off(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    oid = shipped_order(db, actor, store)
    authorised_return(db, actor, oid)
    warehouse = ensure_user(db, "picker", Role.WAREHOUSE)
    view = open_view(db, warehouse)
    panel = view.panel
    assert panel.info.id == oid and panel.selected_return() is not None
    assert not view.settings_button.isEnabled() and "manager or admin" in view.settings_button.toolTip()
    assert view.open_settings() is None
    assert not panel.payment_button.isEnabled() and "manager or admin" in panel.payment_button.toolTip()
    assert panel.open_payment() is None
    assert not panel.refund_button.isEnabled() and "manager or admin" in panel.refund_button.toolTip()
    assert panel.cancel_return_button.isEnabled()                   # the warehouse takes returns back
    assert panel.receive_button.isEnabled()

    merchandiser = ensure_user(db, "merch", Role.MERCHANDISER)
    view = open_view(db, merchandiser)
    panel = view.panel
    assert not view.settings_button.isEnabled() and not panel.payment_button.isEnabled()
    assert not panel.cancel_return_button.isEnabled() and not panel.refund_button.isEnabled()
    assert "warehouse, manager or admin" in panel.cancel_return_button.toolTip()


# -- Ship all reserved… ------------------------------------------------------------------------------------------------
def held_at(db: Database, oid: int, location_id: int) -> dict[int, int]:
    """order line id -> units the order holds at the location."""
    return {ln.id: r.quantity for ln in orders.get_order(db, oid).lines for r in ln.reservations
            if r.location_id == location_id}


def reserved_total(db: Database, location_id: int) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.coalesce(func.sum(StockLevel.reserved), 0))
                                  .where(StockLevel.location_id == location_id)) or 0)


def wave(db: Database, actor: Actor, store: SmallStore) -> list[int]:
    """Eight orders: six holding units at WH1 (one of them also at SHOP), one holding units only at SHOP,
    and one new (nothing reserved)."""
    receive(db, actor, store, MC_S=30, MC_M=2)
    receive(db, actor, store, at="SHOP", MC_M=2, MC_L=5)
    ids = [store_order(db, store, lines) for lines in (
        [("MC-S", 2)], [("MC-S", 1), ("MC-M", 1)], [("MC-L", 2)], [("MC-M", 3)], [("MC-S", 3)], [("MC-S", 1)],
        [("MC-S", 4)])]
    orders.process_orders(db, actor)
    ids.append(store_order(db, store, [("MC-S", 1)]))          # new: not processed
    return ids


def open_ship_all(qtbot, view):  # type: ignore[no-untyped-def]
    dialog = view.open_ship_all()
    assert dialog is not None
    wait_idle(qtbot, view)
    return dialog


def test_ship_all_reserved_ships_each_order_its_units_at_the_location(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    ids = wave(db, actor, store)
    wh1, shop = store.locations["WH1"], store.locations["SHOP"]
    before = {oid: orders.get_order(db, oid) for oid in ids}
    at_wh1 = {oid: held_at(db, oid, wh1) for oid in ids if held_at(db, oid, wh1)}
    elsewhere = [oid for oid in ids if oid not in at_wh1]
    assert len(at_wh1) == 6 and len(elsewhere) == 2
    assert any(held_at(db, oid, shop) for oid in at_wh1)             # an order split over both locations
    assert any(held_at(db, oid, shop) for oid in elsewhere)          # one held only at SHOP
    shop_before = {oid: held_at(db, oid, shop) for oid in ids}
    units = sum(sum(held.values()) for held in at_wh1.values())

    view = open_view(db, actor)
    assert view.ship_all_button.isEnabled()
    dialog = open_ship_all(qtbot, view)
    assert dialog.location.currentData() == wh1
    assert dialog.reading == [(oid, sum(held.values())) for oid, held in at_wh1.items()]     # oldest first
    assert dialog.summary.text() == f"6 orders hold {units} units at WH1: each ships as one shipment, oldest first."
    assert dialog.ship_button.isEnabled() and dialog.ship_button.text() == "Ship 6 orders"
    shown = len(dialog.reading)
    dialog.carrier.setText("  DHL ")
    dialog.ship_button.click()
    assert not dialog.ship_button.isEnabled() and not dialog.form.isEnabled()
    dialog.ship()                                                   # a second press while it runs: nothing
    wait_idle(qtbot, view)

    assert shipments(db) == shown == dialog.so_far.shipments
    for oid, held in at_wh1.items():
        info = orders.get_order(db, oid)
        [shipment] = info.shipments
        assert shipment.location_id == wh1 and shipment.carrier == "DHL"
        assert {line: q for line, _sku, q in shipment.lines} == held
        assert held_at(db, oid, shop) == shop_before[oid]           # what it holds elsewhere stays
    for oid in elsewhere:
        info = orders.get_order(db, oid)
        assert (info.version, info.state, info.shipments) == (before[oid].version, before[oid].state, [])
        assert held_at(db, oid, shop) == shop_before[oid]
    assert reserved_total(db, wh1) == 0 and reserved_total(db, shop) > 0
    assert orders.reservation_mismatches(db) == [] and inventory.ledger_mismatches(db) == []
    assert dialog.summary.text() == f"6 shipments, {units} units from WH1."
    assert dialog.bar.value() == dialog.bar.maximum() == 6 and dialog.failed_table.isHidden()
    assert not dialog.ship_button.isEnabled() and dialog.close_button.text() == "Close"
    dialog.ship()                                                   # pressed again: the plan is done
    wait_idle(qtbot, view)
    assert shipments(db) == 6
    # the list and the open order were read again
    assert {r.id: r.state for r in view.model.rows} == {oid: orders.get_order(db, oid).state for oid in ids}
    assert view.panel.info == orders.get_order(db, view.panel.info.id)
    assert view.banner.text.text() == f"6 shipments, {units} units from WH1."
    dialog.close_button.click()

    dialog = open_ship_all(qtbot, view)                             # nothing left there
    assert dialog.reading == [] and not dialog.ship_button.isEnabled()
    assert dialog.summary.text() == "Nothing is reserved at WH1: there is no order to ship from there."
    dialog.location.setCurrentIndex(dialog.location.findData(shop))
    wait_idle(qtbot, view)
    assert len(dialog.reading) == 3 and dialog.ship_button.text() == "Ship 3 orders"
    dialog.reject()


def test_orders_that_cannot_ship_are_listed_and_a_retry_ships_nothing_twice(qtbot, db, actor, store, open_view,
                                                                            monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids = wave(db, actor, store)
    wh1 = store.locations["WH1"]
    at_wh1 = [oid for oid in ids if held_at(db, oid, wh1)]
    view = open_view(db, actor)
    dialog = view.open_ship_all()
    dialog.chunk = 2
    wait_idle(qtbot, view)
    assert [oid for oid, _ in dialog.reading] == at_wh1
    gone = at_wh1[1]
    orders.cancel(db, actor, gone, reason="Changed their mind")    # after the count was read
    number = orders.get_order(db, gone).number

    # the answer of the second chunk is lost after it shipped (a dropped connection)
    real = view.context.ops.orders.fulfil_many
    calls: list[list[int]] = []

    def dropping(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(list(kwargs["order_ids"]))
        result = real(**kwargs)
        if len(calls) == 2:
            raise ConnectionError("the connection was reset")
        return result

    monkeypatch.setattr(view.context.ops.orders, "fulfil_many", dropping)
    dialog.ship_button.click()
    wait_idle(qtbot, view)
    assert calls == [at_wh1[0:2], at_wh1[2:4]]
    assert "the connection was reset" in dialog.banner.text.text()
    assert dialog.ship_button.isEnabled() and dialog.ship_button.text() == "Ship the other 4 orders"
    assert not dialog.form.isEnabled()                              # the plan is fixed
    assert shipments(db) == 3                                       # chunk 1 (one cancelled) and chunk 2 shipped

    dialog.ship_button.click()                                      # sends the lost chunk again, then the rest
    wait_idle(qtbot, view)
    assert calls[2:] == [at_wh1[2:4], at_wh1[4:6]]
    assert shipments(db) == 5 and dialog.so_far.skipped == 2         # the lost chunk: found shipped under its ids
    for oid in at_wh1:
        assert len(orders.get_order(db, oid).shipments) == (0 if oid == gone else 1)   # nothing shipped twice
    assert dialog.failed_model.rows == [(number, "state: is cancelled: nothing to ship")]
    assert dialog.failed_table.isVisible() and dialog.failed_label.text() == "1 order could not ship:"
    assert dialog.summary.text().startswith("3 shipments, ")       # the answers that arrived...
    assert "2 orders had already shipped from this dialog." in dialog.summary.text()    # ...and the lost one
    assert "1 order could not ship (below)." in dialog.summary.text()
    assert reserved_total(db, wh1) == 0
    assert orders.reservation_mismatches(db) == [] and inventory.ledger_mismatches(db) == []
    assert "1 order could not ship" in view.banner.text.text()


def test_cancelling_a_wave_midway_leaves_the_rest_unshipped(qtbot, db, actor, store, open_view,
                                                            monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ids = wave(db, actor, store)
    wh1 = store.locations["WH1"]
    at_wh1 = {oid: held_at(db, oid, wh1) for oid in ids if held_at(db, oid, wh1)}
    view = open_view(db, actor)
    dialog = view.open_ship_all()
    dialog.chunk = 2
    wait_idle(qtbot, view)
    real = view.context.ops.orders.fulfil_many
    first_done, go_on = threading.Event(), threading.Event()

    def held_back(**kwargs):  # type: ignore[no-untyped-def]
        result = real(**kwargs)
        first_done.set()
        assert go_on.wait(10)
        return result

    monkeypatch.setattr(view.context.ops.orders, "fulfil_many", held_back)
    dialog.ship_button.click()
    qtbot.waitUntil(first_done.is_set, timeout=10_000)
    assert dialog.close_button.text() == "Cancel"
    dialog.close_button.click()                                     # while the first chunk ships
    assert dialog.close_button.text() == "Stopping…" and not dialog.close_button.isEnabled()
    assert dialog.isVisible()                                       # it stays to say what shipped
    go_on.set()
    wait_idle(qtbot, view)
    shipped, rest = list(at_wh1)[:2], list(at_wh1)[2:]
    assert shipments(db) == 2 and [oid for oid in at_wh1 if orders.get_order(db, oid).shipments] == shipped
    for oid in rest:
        assert held_at(db, oid, wh1) == at_wh1[oid]                 # still reserved, nothing shipped
    assert reserved_total(db, wh1) == sum(sum(at_wh1[oid].values()) for oid in rest)
    assert orders.reservation_mismatches(db) == [] and inventory.ledger_mismatches(db) == []
    assert dialog.bar.value() == 2 and dialog.bar.maximum() == 6 and dialog.bar_count.text() == "2 of 6 orders"
    assert "4 orders were not sent: Ship sends them." in dialog.summary.text()
    assert dialog.ship_button.text() == "Ship the other 4 orders" and dialog.close_button.text() == "Close"
    assert "4 orders not sent" in view.banner.text.text()

    dialog.ship_button.click()                                      # the rest, with the same plan
    wait_idle(qtbot, view)
    assert shipments(db) == 6 and reserved_total(db, wh1) == 0 and dialog.so_far.shipments == 6
    assert inventory.ledger_mismatches(db) == [] and orders.reservation_mismatches(db) == []
    dialog.reject()
    assert not dialog.isVisible()


def test_ship_all_reserved_is_off_for_a_role_that_does_not_ship(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    merchandiser = ensure_user(db, "merch", Role.MERCHANDISER)
    view = open_view(db, merchandiser)
    assert not view.ship_all_button.isEnabled()
    assert view.ship_all_button.toolTip() == "For the roles warehouse, manager or admin."
    assert view.open_ship_all() is None
    warehouse = ensure_user(db, "picker", Role.WAREHOUSE)
    view = open_view(db, warehouse)
    assert view.ship_all_button.isEnabled()


def test_ship_all_reserved_through_the_store_api(qtbot, db, api, tasks, connected_context) -> None:  # type: ignore[no-untyped-def]
    """Over the store API each chunk is a request of its own (its operation id is the request's key)."""
    admin = ensure_user(db, "admin")
    store = SmallStore(db, admin)
    ids = wave(db, admin, store)
    wh1 = store.locations["WH1"]
    at_wh1 = [oid for oid in ids if held_at(db, oid, wh1)]
    remote = sign_in(api.base_url, "warehouse", PASSWORD)
    try:
        context = connected_context(db, admin)
        context.set_connected(remote)
        view = OrdersView(context, tasks)
        qtbot.addWidget(view)
        view.show()
        view.activate()
        wait_idle(qtbot, view)
        dialog = view.open_ship_all()
        dialog.chunk = 4
        wait_idle(qtbot, view)
        assert [oid for oid, _ in dialog.reading] == at_wh1
        dialog.ship_button.click()
        wait_idle(qtbot, view)
        assert dialog.banner.isHidden(), dialog.banner.text.text()
        assert shipments(db) == len(at_wh1) == dialog.so_far.shipments and reserved_total(db, wh1) == 0
        assert orders.reservation_mismatches(db) == [] and inventory.ledger_mismatches(db) == []
        dialog.reject()
    finally:
        remote.close()
