"""The Purchasing view on a real database: from a suggestion to a draft purchase order, sent, received in
part by scanning (an over-receipt confirmed), the Inventory view showing what is incoming; the item
models without a window; supplier items edited as a changeset."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import Order, OrderLine, PurchaseOrder
from backoffice.services import inventory, replenishment, suppliers
from backoffice.services.replenishment import ReplenishmentSettings
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory import InventoryView
from backoffice.ui.views.inventory.models import COL_INCOMING
from backoffice.ui.views.purchasing import PurchasingView
from backoffice.ui.format import format_amount as format_money
from backoffice.ui.views.purchasing.models import COL_REORDER, suggestions_model


def wait_idle(qtbot, view) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.is_loading() and view.tasks.pending == 0, timeout=10_000)


def scan(qtbot, field, code: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(field, code)
    qtbot.keyClick(field, Qt.Key.Key_Return)


@pytest.fixture
def shop(db: Database, actor, store):  # type: ignore[no-untyped-def]
    """MC-S sells 2 a day at WH1 (a store order a day); the supplier sells it in packs of 6, MOQ 12."""
    sup = suppliers.create_supplier(db, actor, {"name": "Norda Knits", "currency": "EUR",
                                                "email": "orders@norda.test"}).entity_id
    for vid in store.variant_ids:
        suppliers.upsert_item(db, actor, supplier_id=sup, variant_id=vid,
                              values={"unit_cost": "21.50", "min_order_qty": 12, "pack_size": 6, "lead_time_days": 10,
                                      "preferred": True})
    # store orders not shipped yet: demand on the units ordered
    replenishment.save_settings(db, actor, ReplenishmentSettings(window_days=28, half_life_days=7.0,
                                                                 demand_basis="ordered"))
    today = dt.datetime.now(dt.UTC).date()
    with db.write() as s:
        for back in range(1, 29):
            day = today - dt.timedelta(days=back)
            o = Order(number=f"SO-{back}", ordered_at=dt.datetime(day.year, day.month, day.day, 10, tzinfo=dt.UTC),
                      total=Decimal("1.00"))
            s.add(o)
            s.flush()
            s.add(OrderLine(order_id=o.id, variant_id=store.variant_ids[0], quantity=2, unit_price=Decimal("1.00")))
    inventory.post_moves(db, actor, operation_id="opening", reason="receipt",
                         lines=[inventory.MoveLine(store.variant_ids[0], store.locations["SUP"], store.locations["WH1"], 5)])
    return sup


@pytest.fixture
def open_view(qtbot, tasks: TaskManager, connected_context):  # type: ignore[no-untyped-def]
    def open_(db: Database, actor, context=None) -> PurchasingView:  # type: ignore[no-untyped-def]
        view = PurchasingView(context or connected_context(db, actor), tasks)
        qtbot.addWidget(view)
        view.resize(1280, 800)
        view.show()
        view.activate()
        wait_idle(qtbot, view)
        return view

    return open_


def test_from_suggestion_to_draft_to_sent_to_receipt(qtbot, db, actor, store, shop, open_view, tasks,
                                                     connected_context, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    a = store.variant_ids[0]
    wh = store.locations["WH1"]
    context = connected_context(db, actor)
    view = open_view(db, actor, context=context)
    panel = view.suggestions
    [s] = panel.suggestions
    assert (s.sku, s.location, s.available, s.daily_demand, s.lead_time_days, s.reorder_point, s.quantity) == (
        "MC-S", "WH1", 5, 2.0, 10, 20, 48)
    assert panel.model.display(0, COL_REORDER) == "20"
    assert "Need 43, ordered as 48 (minimum 12, packs of 6)" in panel.inputs.text()
    assert format_money(Decimal("1032.00"), "EUR") in panel.inputs.text()
    assert panel.create_button.isEnabled() and panel.create_button.text() == "Create draft orders"
    panel.table.selectionModel().select(panel.model.index(0, 0), QItemSelectionModel.SelectionFlag.Select
                                        | QItemSelectionModel.SelectionFlag.Rows)
    assert panel.create_button.text() == "Create draft orders (1)"
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    panel.create_button.click()
    panel.create_button.click()       # off while the first click runs: one order
    wait_idle(qtbot, view)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(PurchaseOrder)) == 1
    assert len(asked) == 1 and "1 draft order(s) · 1 line(s) · 48 units" in asked[0]
    assert "Value: " + format_money(Decimal("1032.00"), "EUR") in asked[0]
    assert "added to draft orders PO-000001" in view.banner.text.text()
    assert panel.suggestions == [] and panel.results.currentWidget() is panel.empty   # the draft covers the need

    view.tabs.setCurrentWidget(view.orders)
    wait_idle(qtbot, view)
    orders, editor = view.orders, view.orders.editor
    assert orders.model.rowCount() == 1 and orders.model.rows[0].state == "draft"
    qtbot.waitUntil(lambda: editor.order is not None and editor.order.number == "PO-000001", timeout=5_000)
    assert [(ln.sku, ln.quantity, ln.unit_cost) for ln in editor.lines] == [("MC-S", 48, Decimal("21.50"))]
    assert editor.send_button.isVisible() and not editor.receive_button.isVisible()
    assert "1,032.00 EUR" in editor.totals.text()
    # a quantity edited in place, then sent (no mail server: marked sent only)
    editor.model.setData(editor.model.index(0, 3), 54)
    assert editor.dirty and editor.save_button.isEnabled()
    editor.open_send()
    wait_idle(qtbot, view)
    dialog = editor.dialog
    qtbot.waitUntil(lambda: "No mail server" in dialog.hint.text(), timeout=5_000)
    assert not dialog.email.isEnabled()
    with qtbot.waitSignal(dialog.completed, timeout=5_000):
        dialog.send()
    wait_idle(qtbot, view)
    assert editor.order.state == "sent" and editor.order.lines[0].quantity == 54
    assert editor.receive_button.isVisible() and not editor.send_button.isVisible()
    assert not editor.scan.isEnabled()          # a sent order is not edited

    inventory_view = InventoryView(context, tasks)
    qtbot.addWidget(inventory_view)
    inventory_view.show()
    inventory_view.activate()
    qtbot.waitUntil(lambda: not inventory_view.is_loading() and tasks.pending == 0, timeout=10_000)
    row = next(i for i, r in enumerate(inventory_view.model.rows) if (r.sku, r.location) == ("MC-S", "WH1"))
    assert inventory_view.model.rows[row].incoming == 54
    assert inventory_view.model.display(row, COL_INCOMING) == "54"

    editor.open_receive()
    receive = editor.dialog
    assert [(x.sku, x.arriving) for x in receive.arrivals] == [("MC-S", 54)]
    receive.zero_button.click()
    for _ in range(3):
        scan(qtbot, receive.scan, "MC-S")
    assert [(x.sku, x.arriving) for x in receive.arrivals] == [("MC-S", 3)]
    with qtbot.waitSignal(receive.completed, timeout=5_000):
        receive.receive()
    wait_idle(qtbot, view)
    assert editor.order.state == "partial" and editor.order.outstanding == 51
    assert inventory.on_hand(db, a, wh) == 8
    # more than is outstanding: asked first, refused without a yes
    editor.open_receive()
    receive = editor.dialog
    receive.model.setData(receive.model.index(0, 3), 60)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    receive.receive()
    wait_idle(qtbot, view)
    assert inventory.on_hand(db, a, wh) == 8 and receive.isVisible()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(receive.completed, timeout=5_000):
        receive.receive()
    wait_idle(qtbot, view)
    assert editor.order.state == "received" and inventory.on_hand(db, a, wh) == 68
    assert editor.close_button.isVisible()
    inventory_view.refresh()
    qtbot.waitUntil(lambda: not inventory_view.is_loading() and tasks.pending == 0, timeout=10_000)
    assert next(r for r in inventory_view.model.rows if (r.sku, r.location) == ("MC-S", "WH1")).incoming == 0


def test_suppliers_tab_edits_items_as_a_changeset(qtbot, db, actor, store, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    view.tabs.setCurrentWidget(view.suppliers)
    wait_idle(qtbot, view)
    panel = view.suppliers
    assert panel.supplier_model.rowCount() == 1 and panel.model.rowCount() == 3
    assert panel.model.display(0, 4) == "21.50 EUR"
    assert panel.model.setData(panel.model.index(0, 4), "19.90")
    assert panel.model.setData(panel.model.index(1, 6), "12")
    assert panel.save_button.isEnabled() and "2 rows changed" in panel.status.text()
    panel.save()
    wait_idle(qtbot, view)
    items = suppliers.list_items(db, supplier_id=shop)
    assert [(i.unit_cost, i.pack_size) for i in items] == [(Decimal("19.90"), 6), (Decimal("21.50"), 12),
                                                           (Decimal("21.50"), 6)]
    assert "saved as changeset" in view.banner.text.text() and not panel.pending


def test_empty_store_shows_empty_states(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    assert view.suggestions.results.currentWidget() is view.suggestions.empty
    assert not view.suggestions.create_button.isEnabled()
    view.tabs.setCurrentWidget(view.orders)
    wait_idle(qtbot, view)
    assert view.orders.results.currentWidget() is view.orders.empty


def test_suggestions_model_without_a_window(qtbot, db, actor, store, shop) -> None:  # type: ignore[no-untyped-def]
    model = suggestions_model()
    rows = replenishment.suggest(db)
    model.set_rows(rows)
    assert model.rowCount() == 1 and model.display(0, 0) == "MC-S"
    assert model.data(model.index(0, 0), Qt.ItemDataRole.ToolTipRole).startswith("Merino Crew")


def test_reorder_levels_set_by_hand_win_and_are_marked(qtbot, db, actor, store, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    panel = view.suggestions
    panel.open_override()
    dialog = panel.dialog
    assert (dialog.rop.value(), dialog.s.value(), dialog.rop_set.isChecked()) == (20, 48, False)
    dialog.rop_set.setChecked(True)
    dialog.rop.setValue(30)
    dialog.s_set.setChecked(True)
    dialog.s.setValue(70)
    with qtbot.waitSignal(dialog.completed, timeout=5_000):
        dialog.save()
    wait_idle(qtbot, view)
    [s] = panel.suggestions
    assert (s.reorder_point, s.order_up_to, s.reorder_point_override, s.quantity) == (30, 70, True, 66)
    assert panel.model.display(0, COL_REORDER) == "✎ 30"


def test_a_new_order_by_scanning(qtbot, db, actor, store, shop, open_view, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("backoffice.ui.widgets.scanner.QApplication.beep", lambda: None)
    other = suppliers.create_supplier(db, actor, {"name": "Zeta Mill", "currency": "EUR"}).entity_id
    suppliers.upsert_item(db, actor, supplier_id=other, variant_id=store.variant_ids[0],
                          values={"unit_cost": "9.99", "min_order_qty": 5})
    view = open_view(db, actor)
    view.refresh()
    view.tabs.setCurrentWidget(view.orders)
    wait_idle(qtbot, view)
    editor = view.orders.editor
    view.orders.new_order()
    editor.supplier.setCurrentIndex(editor.supplier.findData(other))
    editor.destination.setCurrentIndex(editor.destination.findData(store.locations["SHOP"]))
    assert editor.destination.findData(store.locations["SUP"]) < 0     # goods go to warehouses and stores only
    scan(qtbot, editor.scan, "MC-S")
    scan(qtbot, editor.scan, "mc-s")
    scan(qtbot, editor.scan, "MC-M")            # Zeta Mill does not sell it
    wait_idle(qtbot, view)
    assert [(ln.sku, ln.quantity, ln.unit_cost) for ln in editor.lines] == [("MC-S", 6, Decimal("9.99"))]
    assert "Zeta Mill has no supplier item for MC-M" in editor.banner.text.text()
    editor.save_draft()
    wait_idle(qtbot, view)
    assert editor.order is not None and editor.order.state == "draft" and editor.order.destination == "SHOP"
    assert editor.order.currency == "EUR" and editor.order.total == Decimal("59.94")
    assert view.orders.model.row_of_id(editor.order.id) >= 0


def test_supplier_details_edited(qtbot, db, actor, store, shop, open_view, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from backoffice.ui.views.purchasing.suppliers_panel import SupplierDialog

    view = open_view(db, actor)
    view.tabs.setCurrentWidget(view.suppliers)
    wait_idle(qtbot, view)

    def fill(dialog) -> int:  # type: ignore[no-untyped-def]
        assert dialog.name.text() == "Norda Knits" and dialog.email.text() == "orders@norda.test"
        dialog.terms.setText("Net 45")
        dialog.notes.setPlainText("Closed in August")
        return SupplierDialog.DialogCode.Accepted

    monkeypatch.setattr(SupplierDialog, "exec", fill)
    view.suppliers.edit_supplier()
    wait_idle(qtbot, view)
    [row] = suppliers.list_suppliers(db)
    assert (row.payment_terms, row.notes, row.version) == ("Net 45", "Closed in August", 2)


def test_reorder_point_settings_are_edited_in_the_view(qtbot, db, actor, store, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    panel = view.suggestions
    [before] = panel.suggestions
    assert (before.reorder_point, before.order_up_to, before.quantity) == (20, 48, 48)
    panel.open_settings()
    dialog = panel.dialog
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=5_000)
    assert (dialog.window.value(), dialog.half_life.value(), dialog.service_level.value()) == (28, 7.0, 95.0)
    assert "z = 1.64" in dialog.z_label.text()
    assert dialog.max_cover.value() == 180
    assert dialog.basis.currentData() == "ordered" and dialog.basis.currentText().startswith("Units ordered")
    dialog.review.setValue(28)          # order up to two days of demand per day of the longer review
    dialog.service_level.setValue(99.0)
    dialog.max_cover.setValue(30)
    with qtbot.waitSignal(dialog.saved, timeout=5_000):
        dialog.save()
    wait_idle(qtbot, view)
    saved = replenishment.get_settings(db)
    assert (saved.review_days, saved.service_level, saved.window_days, saved.max_cover_days) == (28, 0.99, 28, 30)
    [after] = panel.suggestions
    assert after.flag.startswith("orders 36 days of demand (more than 30)")
    # 2 a day with no variability: no safety stock at any level; up to 2 x (10 + 28) = 76, need 71 → 72 in packs of 6
    assert (after.reorder_point, after.order_up_to, after.quantity) == (20, 76, 72)
    # on units shipped, these never-shipped orders are no demand: nothing to suggest
    panel.open_settings()
    dialog = panel.dialog
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=5_000)
    dialog.basis.setCurrentIndex(dialog.basis.findData("fulfilled"))
    with qtbot.waitSignal(dialog.saved, timeout=5_000):
        dialog.save()
    wait_idle(qtbot, view)
    assert replenishment.get_settings(db).demand_basis == "fulfilled" and panel.suggestions == []


def test_settings_refused_by_the_service_keep_the_dialog_open(qtbot, db, actor, store, shop, open_view) -> None:  # type: ignore[no-untyped-def]
    from backoffice.services.users import ensure_user

    clerk = ensure_user(db, "clerk", role="warehouse")   # may not change how purchasing computes
    view = open_view(db, clerk)
    view.suggestions.open_settings()
    dialog = view.suggestions.dialog
    qtbot.waitUntil(lambda: not dialog.is_loading(), timeout=5_000)
    dialog.review.setValue(30)
    dialog.save()
    qtbot.waitUntil(lambda: dialog.banner.isVisible(), timeout=5_000)
    assert dialog.isVisible() and dialog.buttons.isEnabled()
    assert replenishment.get_settings(db).review_days == 14


def _shown_text(table, row: int, column: int) -> str:  # type: ignore[no-untyped-def]
    """The text a cell shows: its display text elided by its delegate's mode to the column's width."""
    from PySide6.QtWidgets import QStyleOptionViewItem

    index = table.model().index(row, column)
    option = QStyleOptionViewItem()
    option.initFrom(table)
    option.textElideMode = table.textElideMode()      # what the view hands its delegates
    table.itemDelegateForIndex(index).initStyleOption(option, index)
    room = table.columnWidth(column) - 16      # the cell's padding
    return option.fontMetrics.elidedText(str(index.data()), option.textElideMode, room)


@pytest.fixture
def long_skus(db: Database, actor, store, shop):  # type: ignore[no-untyped-def]
    """Two variants whose SKUs differ only in their last characters, both short of stock at WH1."""
    from backoffice.services import catalog

    product = catalog.create_product(db, actor, values={"handle": "alpaca", "title": "Alpaca Cardigan",
                                                        "status": "active"},
                                     variants=[{"sku": f"ALPACA-CARDIGAN-LONGLINE-HEATHER-GREY-{size}", "price": "99.00"}
                                               for size in ("XS", "XL")])
    vids = [c.entity_id for c in product.children]
    for vid in vids:
        suppliers.upsert_item(db, actor, supplier_id=shop, variant_id=vid, values={"unit_cost": "40.00",
                                                                                   "preferred": True})
        replenishment.set_overrides(db, actor, variant_id=vid, location_id=store.locations["WH1"], reorder_point=3,
                                    order_up_to=5)
    return vids


def test_sku_columns_never_make_two_variants_look_alike(qtbot, db, actor, store, shop, long_skus, open_view,
                                                        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from backoffice.services import purchase_orders
    from backoffice.ui.views.purchasing.models import COL_SKU

    view = open_view(db, actor)
    panel = view.suggestions
    rows = [i for i, s in enumerate(panel.suggestions) if s.sku.startswith("ALPACA")]
    assert len(rows) == 2
    assert len({_shown_text(panel.table, r, COL_SKU) for r in rows}) == 2          # Suggestions
    po = purchase_orders.create_order(db, actor, supplier_id=shop, destination_location_id=store.locations["WH1"],
                                      lines=[(v, 2) for v in long_skus])
    view.tabs.setCurrentWidget(view.orders)
    wait_idle(qtbot, view)
    editor = view.orders.editor
    qtbot.waitUntil(lambda: editor.order is not None and editor.order.id == po.id, timeout=5_000)
    assert len({_shown_text(editor.table, r, 0) for r in range(2)}) == 2           # order editor
    purchase_orders.send_order(db, actor, po.id)
    editor.load(po.id)
    wait_idle(qtbot, view)
    qtbot.waitUntil(lambda: editor.order.state == "sent", timeout=5_000)
    editor.open_receive()
    receive = editor.dialog
    assert len({_shown_text(receive.table, r, 0) for r in range(2)}) == 2          # Receive dialog
    receive.reject()
    view.tabs.setCurrentWidget(view.suppliers)
    wait_idle(qtbot, view)
    items = view.suppliers
    alpaca = [i for i in range(items.model.rowCount()) if items.model.display(i, 1).startswith("ALPACA")]
    assert len(alpaca) == 2 and len({_shown_text(items.table, r, 1) for r in alpaca}) == 2   # supplier items


def test_suggestions_show_titles_totals_flags_and_ask_before_writing(qtbot, db, actor, store, shop, long_skus,
                                                                     open_view, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from backoffice.ui.views.purchasing.models import COL_COVER, COL_PRODUCT

    view = open_view(db, actor)
    panel = view.suggestions
    by_sku = {s.sku: i for i, s in enumerate(panel.suggestions)}
    assert panel.model.display(by_sku["MC-S"], COL_PRODUCT) == "Merino Crew"
    assert panel.model.display(by_sku["MC-S"], COL_COVER) == "24 d"           # 48 units at 2 a day
    alpaca = by_sku["ALPACA-CARDIGAN-LONGLINE-HEATHER-GREY-XL"]
    assert panel.model.display(alpaca, COL_COVER) == "⚑ ∞"                    # no demand: levels set by hand
    assert "no sales in the last 28 days" in panel.model.data(panel.model.index(alpaca, COL_COVER),
                                                               Qt.ItemDataRole.ToolTipRole)
    # totals per supplier and currency: 48 + 5 + 5 units, 1,032.00 + 2 x 200.00 EUR
    total = format_money(Decimal("1432.00"), "EUR")
    totals = panel.totals_model
    assert totals.rowCount() == 1
    assert [totals.display(0, c) for c in range(5)] == ["Norda Knits", "3", "58", total, "2"]
    assert panel.totals.text() == f"Total: 3 lines, 58 units, {total} · ⚑ 2 flagged"
    # asked first; cancelled, nothing is written
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Cancel)
    panel.create_button.click()
    wait_idle(qtbot, view)
    assert "1 draft order(s) · 3 line(s) · 58 units" in asked[0] and f"Value: {total}" in asked[0]
    assert "⚑ 2 line(s) order more days of cover" in asked[0]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 0
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    panel.create_button.click()
    wait_idle(qtbot, view)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PurchaseOrder)) == 1
    assert f"3 line(s), 58 units ({total}) added to draft orders PO-000001" in view.banner.text.text()


def test_orders_empty_state_gets_the_room_it_needs(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    view.tabs.setCurrentWidget(view.orders)
    wait_idle(qtbot, view)
    panel = view.orders
    assert panel.results.currentWidget() is panel.empty and not panel.editor.isVisible()
    empty = panel.empty
    qtbot.waitUntil(lambda: empty.height() >= empty.sizeHint().height(), timeout=5_000)
    for part in (empty.glyph, empty.title, empty.text, empty.action):
        assert part.isVisible() and part.visibleRegion().boundingRect().size() == part.size()
    panel.state_filter.setCurrentIndex(2)         # all orders, still none: the action starts a new one
    wait_idle(qtbot, view)
    assert empty.action.text() == "New order"
    empty.action.click()
    assert panel.editor.isVisible() and panel.editor.order is None


def test_each_tab_reloads_only_for_changes_that_concern_it(qtbot, db, actor, store, open_view, connected_context,  # type: ignore[no-untyped-def]
                                                           monkeypatch) -> None:
    from backoffice.operations import Changes
    from backoffice.operations.changes import ALERTS, IMAGES, PURCHASE_ORDERS, REPORTS, SUPPLIERS, THRESHOLDS

    context = connected_context(db, actor)
    view = open_view(db, actor, context=context)
    reloads: list[str] = []
    for name in ("suggestions", "orders", "suppliers"):
        monkeypatch.setattr(getattr(view, name), "reload", lambda name=name: reloads.append(name))
        getattr(view, name).needs_reload = False    # as if each tab had been shown once
    for kind in (REPORTS, ALERTS, IMAGES):
        context.notify_data_changed(Changes.of(kind))
    assert reloads == [] and not any(p.needs_reload for p in (view.suggestions, view.orders, view.suppliers))
    context.notify_data_changed(Changes.of(THRESHOLDS))       # the suggestions tab is shown: it reloads
    assert reloads == ["suggestions"] and not view.orders.needs_reload and not view.suppliers.needs_reload
    context.notify_data_changed(Changes.of(PURCHASE_ORDERS))
    assert view.orders.needs_reload and not view.suppliers.needs_reload
    context.notify_data_changed(Changes.of(SUPPLIERS))
    assert view.suppliers.needs_reload
