"""The Transfers view on a real database: a transfer made by scanning, shipped, received in part by
scanning, closed or cancelled; shortfalls marked and refused; conflicts; the list's pages and states;
the pick list as XLSX and PDF; and the Inventory view seeing the new levels."""

from __future__ import annotations

import uuid

import openpyxl
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import Location, StockOperation
from backoffice.services import inventory, transfers
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory import InventoryView
from backoffice.ui.views.transfers import TransfersView
from backoffice.ui.views.transfers.models import COL_QUANTITY, COL_STATE


def receive(db: Database, actor: Actor, store, variant: int, qty: int, at: str = "WH1") -> None:  # type: ignore[no-untyped-def]
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt",
                         lines=[MoveLine(variant, store.locations["SUP"], store.locations[at], qty)])


@pytest.fixture
def beeps(monkeypatch) -> list[bool]:  # type: ignore[no-untyped-def]
    heard: list[bool] = []
    monkeypatch.setattr("backoffice.ui.widgets.scanner.QApplication.beep", lambda: heard.append(True))
    return heard


@pytest.fixture
def open_view(qtbot, tasks: TaskManager, connected_context):  # type: ignore[no-untyped-def]
    def open_(db: Database, actor: Actor, *, page_size: int = 100, context=None) -> TransfersView:  # type: ignore[no-untyped-def]
        view = TransfersView(context or connected_context(db, actor), tasks, page_size=page_size)
        qtbot.addWidget(view)
        view.resize(1300, 760)
        view.show()
        view.activate()
        wait_idle(qtbot, view)
        return view

    return open_


def wait_idle(qtbot, view) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.is_loading() and view.tasks.pending == 0, timeout=10_000)


def scan(qtbot, field, code: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.keyClicks(field, code)
    qtbot.keyClick(field, Qt.Key.Key_Return)


def choose_route(editor, store, source: str = "WH1", destination: str = "SHOP") -> None:  # type: ignore[no-untyped-def]
    editor.source.setCurrentIndex(editor.source.findData(store.locations[source]))
    editor.destination.setCurrentIndex(editor.destination.findData(store.locations[destination]))


def ops_count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(StockOperation)))


def test_scan_ship_receive_in_part_and_inventory_sees_it(qtbot, db, actor, store, open_view, beeps, tasks,
                                                         connected_context) -> None:  # type: ignore[no-untyped-def]
    s, m, _ = store.variant_ids
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    receive(db, actor, store, s, 10)
    receive(db, actor, store, m, 5)
    context = connected_context(db, actor)
    view = open_view(db, actor, context=context)
    assert view.results.currentWidget() is view.empty
    assert view.empty.title.text() == "No transfers yet" and view.empty.action.text() == "New transfer"
    editor = view.editor
    assert editor.source.findData(store.locations["SUP"]) < 0  # warehouses and stores only
    choose_route(editor, store)

    scan(qtbot, editor.scan, "MC-S")
    scan(qtbot, editor.scan, "MC-S")
    qtbot.waitUntil(lambda: [(ln.sku, ln.quantity) for ln in editor.lines] == [("MC-S", 2)], timeout=5_000)
    scan(qtbot, editor.scan, "NOPE-404")
    qtbot.waitUntil(lambda: beeps == [True], timeout=5_000)
    assert editor.scan.scan_state == "error" and "NOPE-404" in editor.banner.text.text()
    assert [(ln.sku, ln.quantity) for ln in editor.lines] == [("MC-S", 2)]
    scan(qtbot, editor.scan, "mc-m")
    qtbot.waitUntil(lambda: len(editor.lines) == 2, timeout=5_000)
    wait_idle(qtbot, view)
    assert [(ln.sku, ln.quantity, ln.available) for ln in editor.lines] == [("MC-S", 2, 10), ("MC-M", 1, 5)]
    assert editor.model.display(0, COL_QUANTITY) == "2"

    before = ops_count(db)
    editor.ship_button.click()
    editor.ship_button.click()  # the second click finds the button off while the first runs
    editor.ship()
    wait_idle(qtbot, view)
    info = editor.transfer
    assert info is not None and info.state == "shipped" and info.in_transit == 3
    assert ops_count(db) == before + 1
    assert (inventory.on_hand(db, s, wh), inventory.on_hand(db, m, wh)) == (8, 4)
    assert view.model.rowCount() == 1 and view.model.rows[0].state == "shipped"
    assert view.model.display(0, COL_STATE) == "Shipped" and view.model.rows[0].in_transit == 3
    assert not editor.ship_button.isVisible() and editor.receive_button.isVisible()
    assert "shipped" in view.banner.text.text()

    dialog = editor.open_receive()
    assert [(a.sku, a.arriving) for a in dialog.arrivals] == [("MC-S", 2), ("MC-M", 1)]  # all in transit
    dialog.zero_button.click()
    scan(qtbot, dialog.scan, "MC-S")
    scan(qtbot, dialog.scan, "MC-L")  # not on this transfer
    assert beeps == [True, True] and "not on" in dialog.banner.text.text()
    assert [(a.sku, a.arriving) for a in dialog.arrivals] == [("MC-S", 1), ("MC-M", 0)]
    with qtbot.waitSignal(dialog.completed, timeout=5_000):
        dialog.receive()
    wait_idle(qtbot, view)
    assert editor.transfer.state == "partial" and editor.transfer.in_transit == 2
    assert inventory.on_hand(db, s, shop) == 1
    number = editor.transfer.number
    assert view.banner.text.text() == f"{number}: 1 of 3 units received; 2 still in transit."
    assert view.model.rows[0].state == "partial"

    inventory_view = InventoryView(context, tasks)
    qtbot.addWidget(inventory_view)
    inventory_view.show()
    inventory_view.activate()
    qtbot.waitUntil(lambda: not inventory_view.is_loading() and tasks.pending == 0, timeout=10_000)
    levels = {(r.sku, r.location): (r.on_hand, r.in_transit) for r in inventory_view.model.rows}
    assert levels[("MC-S", "WH1")] == (8, 0) and levels[("MC-M", "WH1")] == (4, 0)
    assert levels[("MC-S", "SHOP")] == (1, 1)


def test_quantity_above_available_is_marked_and_ship_refused(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    s = store.variant_ids[0]
    receive(db, actor, store, s, 3)
    view = open_view(db, actor)
    editor = view.editor
    choose_route(editor, store)
    scan(qtbot, editor.scan, "MC-S")
    qtbot.waitUntil(lambda: bool(editor.lines) and editor.lines[0].available == 3, timeout=5_000)
    assert editor.model.setData(editor.model.index(0, COL_QUANTITY), 5)
    line = editor.lines[0]
    assert line.quantity == 5 and line.short
    assert editor.model.index(0, COL_QUANTITY).data(Qt.ItemDataRole.ForegroundRole).color().name() == "#dc2626"
    assert "only 3 available" in editor.model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert editor.totals.text() == "1 line · 5 units · 1 line more than available"

    editor.ship()
    wait_idle(qtbot, view)
    assert "not enough stock" in editor.banner.text.text() and "MC-S" in editor.banner.text.text()
    assert editor.transfer is not None and editor.transfer.state == "draft"  # saved, not shipped
    assert inventory.on_hand(db, s, store.locations["WH1"]) == 3
    assert view.model.rowCount() == 1 and view.model.rows[0].state == "draft"
    # fewer units: now it ships
    editor.model.setData(editor.model.index(0, COL_QUANTITY), 3)
    editor.ship()
    wait_idle(qtbot, view)
    assert editor.transfer.state == "shipped" and inventory.on_hand(db, s, store.locations["WH1"]) == 0


def test_close_writes_off_the_shortfall_with_a_reason(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    s = store.variant_ids[0]
    receive(db, actor, store, s, 6)
    t = transfers.create_transfer(db, actor, source_location_id=store.locations["WH1"],
                                  destination_location_id=store.locations["SHOP"], lines=[(s, 4)])
    transfers.ship_transfer(db, actor, t.id, operation_id="ship-" + uuid.uuid4().hex)
    transfers.receive_transfer(db, actor, t.id, quantities={s: 3}, operation_id="rcv-" + uuid.uuid4().hex)
    view = open_view(db, actor)
    editor = view.editor
    assert editor.transfer is not None and editor.transfer.id == t.id and editor.state == "partial"
    dialog = editor.open_close()
    dialog.close_transfer()  # no reason given
    qtbot.waitUntil(lambda: not dialog.banner.isHidden(), timeout=5_000)
    assert "say why" in dialog.banner.text.text() and dialog.close_button.isEnabled()
    dialog.reason.setText("box crushed in the van")
    with qtbot.waitSignal(dialog.completed, timeout=5_000):
        dialog.close_transfer()
    wait_idle(qtbot, view)
    assert editor.transfer.state == "closed" and editor.transfer.lines[0].lost == 1
    with db.read() as session:
        loss = session.scalar(select(Location.id).where(Location.code == transfers.LOSS_CODE))
    assert inventory.ledger_balance(db, s, loss) == 1
    assert not editor.receive_button.isVisible() and not editor.cancel_button.isVisible()


def test_cancel_a_shipped_transfer_returns_the_stock(qtbot, db, actor, store, open_view, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    s = store.variant_ids[0]
    receive(db, actor, store, s, 5)
    t = transfers.create_transfer(db, actor, source_location_id=store.locations["WH1"],
                                  destination_location_id=store.locations["SHOP"], lines=[(s, 5)])
    transfers.ship_transfer(db, actor, t.id, operation_id=uuid.uuid4().hex)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: (asked.append(text),
                                                                                  QMessageBox.StandardButton.Yes)[1])
    view = open_view(db, actor)
    assert inventory.on_hand(db, s, store.locations["WH1"]) == 0
    view.editor.cancel_button.click()
    wait_idle(qtbot, view)
    assert asked and "goes back to WH1" in asked[0]
    assert view.editor.transfer.state == "cancelled" and view.model.rows[0].state == "cancelled"
    assert inventory.on_hand(db, s, store.locations["WH1"]) == 5


def test_a_stale_draft_is_a_conflict_not_an_overwrite(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    s, m, _ = store.variant_ids
    t = transfers.create_transfer(db, actor, source_location_id=store.locations["WH1"],
                                  destination_location_id=store.locations["SHOP"], lines=[(s, 1)])
    view = open_view(db, actor)
    editor = view.editor
    assert editor.state == "draft" and editor.lines[0].sku == "MC-S"
    transfers.update_draft(db, actor, t.id, expected_version=t.version, lines=[(s, 7)])  # someone else
    scan(qtbot, editor.scan, "MC-M")
    qtbot.waitUntil(lambda: len(editor.lines) == 2, timeout=5_000)
    editor.save_draft()
    wait_idle(qtbot, view)
    assert "changed by someone else" in editor.banner.text.text()
    assert [(ln.sku, ln.quantity) for ln in transfers.get_transfer(db, t.id).lines] == [("MC-S", 7)]
    assert editor.dirty  # the user's edits are still there to apply again


def test_list_pages_and_state_filter(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    s = store.variant_ids[0]
    receive(db, actor, store, s, 10)
    ids = []
    for i in range(5):
        t = transfers.create_transfer(db, actor, source_location_id=store.locations["WH1"],
                                      destination_location_id=store.locations["SHOP"], lines=[(s, 1)])
        ids.append(t.id)
        if i % 2 == 0:
            transfers.ship_transfer(db, actor, t.id, operation_id=uuid.uuid4().hex)
    view = open_view(db, actor, page_size=2)
    assert [r.id for r in view.model.rows] == ids[::-1][:2]
    assert view.more_button.isVisible() and view.count_label.text() == "2+ transfers"
    assert view.editor.transfer.id == ids[-1]  # the newest is shown
    view.more_button.click()
    wait_idle(qtbot, view)
    view.load_more()
    wait_idle(qtbot, view)
    assert [r.id for r in view.model.rows] == ids[::-1] and not view.more_button.isVisible()
    assert view.count_label.text() == "5 transfers"

    view.state_filter.setCurrentIndex(view.state_filter.findData("shipped"))
    wait_idle(qtbot, view)
    assert [r.id for r in view.model.rows] == [ids[4], ids[2]]
    view.state_filter.setCurrentIndex(view.state_filter.findData("closed"))
    wait_idle(qtbot, view)
    assert view.results.currentWidget() is view.empty and view.empty.title.text() == "No transfers in this state"


def test_pick_list_as_xlsx_and_pdf(qtbot, sqlite_db, sqlite_actor, open_view, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SmallStore

    db, actor = sqlite_db, sqlite_actor
    store = SmallStore(db, actor)
    s, m, _ = store.variant_ids
    receive(db, actor, store, s, 1500)
    transfers.create_transfer(db, actor, source_location_id=store.locations["WH1"],
                              destination_location_id=store.locations["SHOP"], lines=[(s, 1200), (m, 2)],
                              note="for the window display")
    view = open_view(db, actor)
    editor = view.editor
    xlsx, pdf = tmp_path / "pick.xlsx", tmp_path / "pick.pdf"
    editor.export_document(xlsx)
    wait_idle(qtbot, view)
    editor.export_document(pdf)
    wait_idle(qtbot, view)
    values = list(openpyxl.load_workbook(xlsx).active.iter_rows(values_only=True))
    assert values[0][0].startswith("Pick list TR-")
    header = values.index(("SKU", "Barcode", "Product", "Quantity", "Checked"))
    assert [(r[0], r[3]) for r in values[header + 1:]] == [("MC-S", 1200), ("MC-M", 2)]
    assert any(r[:2] == ("Note", "for the window display") for r in values)
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 1000
    assert "written to" in view.banner.text.text()


def test_receipt_messages_say_what_arrived_and_what_is_still_in_transit(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    s, m = store.variant_ids[0], store.variant_ids[1]
    receive(db, actor, store, s, 30)
    receive(db, actor, store, m, 5)
    t = transfers.create_transfer(db, actor, source_location_id=store.locations["WH1"],
                                  destination_location_id=store.locations["SHOP"], lines=[(s, 25), (m, 5)])
    transfers.ship_transfer(db, actor, t.id, operation_id="ship-" + uuid.uuid4().hex)
    view = open_view(db, actor)
    editor = view.editor
    assert editor.transfer is not None and editor.transfer.id == t.id
    assert editor.totals.text().startswith("2 lines · 30 units")

    dialog = editor.open_receive()
    assert dialog.summary.text() == "30 of 30 units in transit arrive now"
    dialog.model.setData(dialog.model.index(0, 3), 7)      # 7 of the 25 MC-S, all 5 MC-M
    with qtbot.waitSignal(dialog.completed, timeout=5_000):
        dialog.receive()
    wait_idle(qtbot, view)
    assert view.banner.text.text() == f"{t.number}: 12 of 30 units received; 18 still in transit."
    assert editor.transfer.in_transit == 18 and inventory.on_hand(db, s, store.locations["SHOP"]) == 7

    dialog = editor.open_receive()          # the rest: nothing is left in transit
    assert dialog.summary.text() == "18 of 18 units in transit arrive now"
    with qtbot.waitSignal(dialog.completed, timeout=5_000):
        dialog.receive()
    wait_idle(qtbot, view)
    assert view.banner.text.text() == f"{t.number}: all 18 units received; nothing left in transit."
    assert editor.transfer.in_transit == 0 and editor.transfer.state == "received"


LONG_SKUS = ("MERINO-CREW-NECK-SWEATER-CHARCOAL-XL", "MERINO-CREW-NECK-SWEATER-CHARCOAL-XXL",
             "MERINO-CREW-NECK-SWEATER-NAVYBLUE-XL")


def drawn_sku(table, row: int, column: int) -> str:  # type: ignore[no-untyped-def]
    """The SKU as painted: elided by the column's delegate to the room its width leaves."""
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtWidgets import QStyleOptionViewItem

    index = table.model().index(row, column)
    option = QStyleOptionViewItem()
    option.font = table.font()
    table.itemDelegateForIndex(index).initStyleOption(option, index)
    return QFontMetrics(table.font()).elidedText(option.text, option.textElideMode, table.columnWidth(column) - 20)


def test_sku_columns_of_the_editor_and_the_receive_step_show_every_sku_whole(qtbot, db, actor, store,  # type: ignore[no-untyped-def]
                                                                            open_view) -> None:
    from backoffice.services import catalog

    product = catalog.create_product(db, actor, values={"handle": "merino-crew-neck", "title": "Merino Crew Neck"},
                                     variants=[{"sku": sku, "price": "89.00"} for sku in LONG_SKUS])
    ids = [c.entity_id for c in product.children]
    for vid in ids:
        receive(db, actor, store, vid, 3)
    t = transfers.create_transfer(db, actor, source_location_id=store.locations["WH1"],
                                  destination_location_id=store.locations["SHOP"], lines=[(v, 2) for v in ids])
    transfers.ship_transfer(db, actor, t.id, operation_id="ship-" + uuid.uuid4().hex)
    view = open_view(db, actor)
    editor = view.editor
    assert editor.transfer is not None and editor.transfer.id == t.id
    column = editor.model.column_of("SKU")
    assert sorted(drawn_sku(editor.table, r, column) for r in range(3)) == sorted(LONG_SKUS)
    dialog = editor.open_receive()
    column = dialog.model.column_of("SKU")
    assert sorted(drawn_sku(dialog.table, r, column) for r in range(3)) == sorted(LONG_SKUS)


def test_the_view_reloads_only_for_changes_that_concern_it(qtbot, db, actor, store, open_view, connected_context,  # type: ignore[no-untyped-def]
                                                          monkeypatch) -> None:
    from backoffice.operations import Changes
    from backoffice.operations.changes import ALERTS, LOCATIONS, REPORTS, STOCK, TRANSFERS

    context = connected_context(db, actor)
    view = open_view(db, actor, context=context)
    reloads: list[bool] = []
    availability: list[bool] = []
    monkeypatch.setattr(view, "reload", lambda: reloads.append(True))
    monkeypatch.setattr(view.editor, "load_available", lambda: availability.append(True))
    context.notify_data_changed(Changes.of(REPORTS))
    context.notify_data_changed(Changes.of(ALERTS))
    assert reloads == [] and availability == []
    context.notify_data_changed(Changes.of(STOCK, location=[store.locations["WH1"]]))
    assert reloads == [] and availability == [True]      # only a draft's available figures
    context.notify_data_changed(Changes.of(TRANSFERS, transfer=[1]))
    context.notify_data_changed(Changes.of(LOCATIONS))
    assert reloads == [True, True]
