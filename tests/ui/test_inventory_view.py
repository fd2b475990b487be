"""The Inventory view on a real database: keyset pages, filters, a scanned search, the side panel and its
export, adjustments posted once, a stock count by scanning, thresholds, alerts and the mail digest, and
the mail settings dialog with its password in the keyring."""

from __future__ import annotations

import csv
import uuid

import openpyxl
import pytest
from PySide6.QtCore import Qt
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import StockOperation, StoreSetting
from backoffice.secrets import SERVICE
from backoffice.services import alerts, catalog, inventory, settings, stock_query
from backoffice.services.base import Actor
from backoffice.services.inventory import MoveLine
from backoffice.services.settings import SmtpSettings, smtp_secret_key
from backoffice.ui.dialogs.mail_settings import MailSettingsDialog
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory import InventoryView
from backoffice.ui.views.inventory.models import COL_AVAILABLE, COL_ON_HAND, LOW_BG
from tests import mail_server

smtp_server = mail_server.smtp_server   # a real SMTP server on loopback (the fixture)


def receive(db: Database, actor: Actor, store, variant: int, qty: int, at: str = "WH1") -> None:  # type: ignore[no-untyped-def]
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt",
                         lines=[MoveLine(variant, store.locations["SUP"], store.locations[at], qty)])


@pytest.fixture
def stocked(db: Database, actor: Actor, store):  # type: ignore[no-untyped-def]
    """MC-S 10 and MC-M 2 at WH1, MC-S 3 and MC-L 5 at SHOP; MC-M is low at WH1 (threshold 3)."""
    s, m, lg = store.variant_ids
    receive(db, actor, store, s, 10)
    receive(db, actor, store, m, 2)
    receive(db, actor, store, s, 3, "SHOP")
    receive(db, actor, store, lg, 5, "SHOP")
    alerts.set_threshold(db, actor, variant_id=m, location_id=store.locations["WH1"], threshold=3)
    return store


@pytest.fixture
def open_view(qtbot, tasks: TaskManager, connected_context):  # type: ignore[no-untyped-def]
    def open_(db: Database, actor: Actor, *, page_size: int = 200) -> InventoryView:
        view = InventoryView(connected_context(db, actor), tasks, page_size=page_size)
        qtbot.addWidget(view)
        view.resize(1300, 760)
        view.show()
        view.activate()
        wait_loaded(qtbot, view)
        return view

    return open_


def wait_loaded(qtbot, view: InventoryView) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.is_loading() and view.tasks.pending == 0, timeout=10_000)


def on_hand_in_model(view: InventoryView) -> dict[tuple[str, str], int]:
    return {(r.sku, r.location): r.on_hand for r in view.model.rows}


def test_levels_load_in_keyset_pages(qtbot, monkeypatch, db, actor, stocked, open_view) -> None:  # type: ignore[no-untyped-def]
    original = stock_query.stock_page
    cursors: list[tuple[int, int] | None] = []

    def recording_stock_page(db_, f, *, after=None, limit=200):  # type: ignore[no-untyped-def]
        if f.variant_id is None:  # not the side panel's availability()
            cursors.append(after)
        return original(db_, f, after=after, limit=limit)

    monkeypatch.setattr(stock_query, "stock_page", recording_stock_page)
    view = open_view(db, actor, page_size=2)  # the table asks for pages until its viewport is full
    qtbot.waitUntil(lambda: view.model.rowCount() == 4 and not view.model.has_more, timeout=10_000)
    wait_loaded(qtbot, view)
    keys = [r.key for r in view.model.rows]
    assert cursors == [None, keys[1], keys[3]]
    assert keys == sorted(keys) and len(set(keys)) == 4
    assert view.count_label.text() == "4 stock lines"
    assert on_hand_in_model(view) == {("MC-S", "WH1"): 10, ("MC-S", "SHOP"): 3, ("MC-M", "WH1"): 2,
                                      ("MC-L", "SHOP"): 5}
    # numbers right-aligned, low rows highlighted
    index = view.model.index(0, COL_ON_HAND)
    assert index.data(Qt.ItemDataRole.TextAlignmentRole) & Qt.AlignmentFlag.AlignRight
    low = next(i for i, r in enumerate(view.model.rows) if r.sku == "MC-M")
    assert view.model.index(low, 0).data(Qt.ItemDataRole.BackgroundRole).color().name() == LOW_BG
    assert view.model.index(low, COL_AVAILABLE).data() == "2"


def test_quantities_have_group_separators(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    receive(db, actor, store, store.variant_ids[0], 1_234_567)
    view = open_view(db, actor)
    assert view.model.index(0, COL_ON_HAND).data() == "1,234,567"


def test_filters_location_low_and_search(qtbot, db, actor, stocked, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    filters = view.filters
    assert filters.location.findData(stocked.locations["SHOP"]) > 0
    assert filters.location.findData(stocked.locations["SUP"]) < 0  # only warehouses and stores

    filters.select_location(stocked.locations["SHOP"])
    qtbot.waitUntil(lambda: {r.location for r in view.model.rows} == {"SHOP"}, timeout=10_000)
    wait_loaded(qtbot, view)
    assert sorted(on_hand_in_model(view).items()) == [(("MC-L", "SHOP"), 5), (("MC-S", "SHOP"), 3)]

    filters.select_location(None)
    filters.low_only.setChecked(True)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    wait_loaded(qtbot, view)
    assert on_hand_in_model(view) == {("MC-M", "WH1"): 2}
    assert view.count_label.text() == "1 stock line"

    filters.low_only.setChecked(False)
    filters.zero_only.setChecked(True)
    qtbot.waitUntil(lambda: not view.model.rowCount(), timeout=10_000)
    wait_loaded(qtbot, view)
    assert view.results.currentWidget() is view.empty
    assert view.empty.title.text() == "Nothing matches these filters"
    filters.zero_only.setChecked(False)

    qtbot.keyClicks(filters.search, "mc-l")
    qtbot.keyClick(filters.search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    wait_loaded(qtbot, view)
    assert view.model.rows[0].sku == "MC-L"


def test_category_filter_includes_subcategories(qtbot, db, actor, stocked, open_view) -> None:  # type: ignore[no-untyped-def]
    top = catalog.create_category(db, actor, name="Knitwear").entity_id
    sub = catalog.create_category(db, actor, name="Crew necks", parent_id=top).entity_id
    product = catalog.get_product(db, stocked.product.entity_id)
    catalog.update_product(db, actor, product["id"], expected_version=product["version"], values={"category_id": sub})
    other = catalog.create_category(db, actor, name="Socks").entity_id
    view = open_view(db, actor)
    assert view.filters.category.findData(sub) > view.filters.category.findData(top) > 0
    view.filters.select_category(top)
    wait_loaded(qtbot, view)
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=10_000)
    view.filters.select_category(other)
    qtbot.waitUntil(lambda: view.model.rowCount() == 0, timeout=10_000)


def test_a_scanned_barcode_in_the_search_box_finds_the_row(qtbot, db, actor, stocked, open_view) -> None:  # type: ignore[no-untyped-def]
    lg = stocked.variant_ids[2]
    catalog.update_variant(db, actor, lg, expected_version=1, values={"barcode": "4006381333931"})
    view = open_view(db, actor)
    qtbot.keyClicks(view.filters.search, "4006381333931")
    qtbot.keyClick(view.filters.search, Qt.Key.Key_Return)  # the scanner's Enter searches at once
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5_000)
    wait_loaded(qtbot, view)
    current = view.current_row()
    assert current is not None and current.sku == "MC-L" and current.barcode == "4006381333931"
    assert view.details.row == current
    assert [(r.location, r.on_hand) for r in view.details.availability.rows] == [("SHOP", 5)]


def test_side_panel_availability_history_and_export(qtbot, db, actor, stocked, open_view, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = stocked.variant_ids[0]
    inventory.post_moves(db, actor, operation_id="sale-1", reason="sale",
                         lines=[MoveLine(s, stocked.locations["WH1"], stocked.locations["CUS"], 4)])
    view = open_view(db, actor)
    row = next(i for i, r in enumerate(view.model.rows) if (r.sku, r.location) == ("MC-S", "WH1"))
    view.table.setCurrentIndex(view.model.index(row, 0))
    wait_loaded(qtbot, view)
    panel = view.details
    assert sorted((r.location, r.on_hand) for r in panel.availability.rows) == [("SHOP", 3), ("WH1", 6)]
    # newest first, signed for the selected location, with the from/to and reason
    assert [(h.quantity, h.from_location, h.to_location, h.reason) for h in panel.history.rows] == [
        (-4, "WH1", "CUS", "sale"), (10, "SUP", "WH1", "receipt")]
    assert panel.history.display(0, 1) == "−4" and panel.history.display(1, 1) == "+10"
    assert panel.history.display(0, 6) == "tester"

    panel.all_locations.setChecked(True)
    wait_loaded(qtbot, view)
    assert len(panel.history.rows) == 3  # the SHOP receipt too

    xlsx, csv_path = tmp_path / "history.xlsx", tmp_path / "history.csv"
    panel.export_history(xlsx)
    wait_loaded(qtbot, view)
    sheet = openpyxl.load_workbook(xlsx).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:4] == ("When", "SKU", "Product", "Quantity")
    # every location: each move as it went, unsigned
    assert [(r[1], r[3], r[4], r[5]) for r in values[1:]] == [("MC-S", 4, "WH1", "CUS"), ("MC-S", 3, "SUP", "SHOP"),
                                                              ("MC-S", 10, "SUP", "WH1")]
    panel.all_locations.setChecked(False)
    wait_loaded(qtbot, view)
    panel.export_history(csv_path)
    wait_loaded(qtbot, view)
    with csv_path.open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert [r[3] for r in rows[1:]] == ["-4", "10"]
    assert "Exported 2 history rows" in view.banner.text.text()


def test_adjustment_by_scanning_posts_once(qtbot, db, actor, stocked, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    view.filters.select_location(stocked.locations["WH1"])
    wait_loaded(qtbot, view)
    view.table.clearSelection()
    view.table.setCurrentIndex(view.model.index(-1, -1))
    dialog = view.open_adjust()
    assert dialog is not None and dialog.lines == []
    assert dialog.location.currentData() == stocked.locations["WH1"]  # the filtered location
    dialog.reason.setCurrentIndex(dialog.reason.findData("damage"))
    for _ in range(2):
        qtbot.keyClicks(dialog.scan, "MC-S")
        qtbot.keyClick(dialog.scan, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: [(ln.sku, ln.change) for ln in dialog.lines] == [("MC-S", -2)], timeout=5_000)
    qtbot.waitUntil(lambda: dialog.lines[0].on_hand == 10, timeout=5_000)
    assert dialog.model.display(0, 4) == "8"
    dialog.note.setText("dropped from the shelf")
    op = dialog.operation_id
    with qtbot.waitSignal(dialog.posted, timeout=5_000):
        dialog.post()
        dialog.post()  # a double click: the dialog is busy, and the operation id is the same anyway
    assert inventory.on_hand(db, stocked.variant_ids[0], stocked.locations["WH1"]) == 8
    with db.read() as session:
        ops = session.scalar(select(func.count()).select_from(StockOperation).where(
            StockOperation.operation_id == op))
        assert ops == 1
    qtbot.waitUntil(lambda: on_hand_in_model(view).get(("MC-S", "WH1")) == 8, timeout=5_000)
    assert view.banner.text.text() == "Adjustment posted."


def test_adjustment_errors_are_shown_and_nothing_moves(qtbot, db, actor, stocked, open_view, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    beeps: list[bool] = []
    monkeypatch.setattr("backoffice.ui.widgets.scanner.QApplication.beep", lambda: beeps.append(True))
    view = open_view(db, actor)
    dialog = view.open_adjust()
    qtbot.keyClicks(dialog.scan, "NO-SUCH-CODE")
    qtbot.keyClick(dialog.scan, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.banner.isVisible(), timeout=5_000)
    assert beeps == [True] and dialog.scan.scan_state == "error"
    assert "NO-SUCH-CODE" in dialog.banner.text.text() and len(dialog.lines) == 1
    # the preselected row's line: take away more than there is
    dialog.model.setData(dialog.model.index(0, 3), -50)
    dialog.post()
    qtbot.waitUntil(lambda: "not posted" in dialog.banner.text.text(), timeout=5_000)
    assert "not enough stock" in dialog.banner.text.text()
    assert dialog.isVisible() and dialog.post_button.isEnabled()
    assert inventory.on_hand(db, dialog.lines[0].variant_id, dialog.location.currentData()) == view.current_row().on_hand


def test_stock_count_by_scanning_changes_on_hand(qtbot, db, actor, stocked, open_view) -> None:  # type: ignore[no-untyped-def]
    s, m, _ = stocked.variant_ids
    wh = stocked.locations["WH1"]
    view = open_view(db, actor)
    dialog = view.open_count()
    dialog.location.setCurrentIndex(dialog.location.findData(wh))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.count is not None and dialog.pages.currentIndex() == 1, timeout=5_000)
    for code in ("MC-S", "MC-S", "MC-M", "MC-S"):
        qtbot.keyClicks(dialog.scan, code)
        qtbot.keyClick(dialog.scan, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: sorted((ln.sku, ln.counted) for ln in dialog.count.lines) == [("MC-M", 1), ("MC-S", 3)]
                    and not dialog._pending and not dialog._writing, timeout=10_000)
    wait_loaded(qtbot, view)
    assert sorted((ln.sku, ln.counted, ln.on_hand, ln.difference) for ln in dialog.lines) == [
        ("MC-M", 1, 2, -1), ("MC-S", 3, 10, -7)]
    # a typed correction: one more MC-M was behind the box
    row = next(i for i, ln in enumerate(dialog.lines) if ln.sku == "MC-M")
    dialog.model.setData(dialog.model.index(row, 2), 2)
    qtbot.waitUntil(lambda: any(ln.sku == "MC-M" and ln.counted == 2 for ln in dialog.count.lines)
                    and not dialog._writing, timeout=5_000)
    assert dialog.summary.text() == "2 items counted · 1 differs from the books · 0 more, 7 fewer"
    with qtbot.waitSignal(dialog.posted, timeout=5_000) as posted:
        dialog.post()
        dialog.post()
    assert posted.args[0].state == "posted"
    assert (inventory.on_hand(db, s, wh), inventory.on_hand(db, m, wh)) == (3, 2)
    qtbot.waitUntil(lambda: on_hand_in_model(view).get(("MC-S", "WH1")) == 3, timeout=5_000)
    wait_loaded(qtbot, view)


def test_threshold_dialog_makes_a_row_low(qtbot, db, actor, stocked, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    row = next(i for i, r in enumerate(view.model.rows) if (r.sku, r.location) == ("MC-L", "SHOP"))
    view.table.setCurrentIndex(view.model.index(row, 0))
    dialog = view.open_threshold()
    dialog.threshold.setValue(5)
    dialog.reorder_point.setValue(12)
    with qtbot.waitSignal(dialog.accepted, timeout=5_000):
        dialog.save()
    qtbot.waitUntil(lambda: any(r.sku == "MC-L" and r.low and r.reorder_point == 12 for r in view.model.rows),
                    timeout=5_000)
    assert alerts.thresholds_for(db, stocked.locations["SHOP"], [stocked.variant_ids[2]]) == {stocked.variant_ids[2]: 5}


def test_empty_store_says_how_stock_arrives(qtbot, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    assert view.results.currentWidget() is view.empty
    assert "receive a purchase order or post an adjustment" in view.empty.text.text()
    assert view.empty.action.text() == "Adjust stock…"


# -- alerts and mail ---------------------------------------------------------------------------------------
def test_alerts_check_now_and_mail_digest(qtbot, sqlite_db, sqlite_actor, open_view, smtp_server) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SmallStore

    db, actor = sqlite_db, sqlite_actor
    inbox, port = smtp_server
    store = SmallStore(db, actor)
    receive(db, actor, store, store.variant_ids[0], 2)
    alerts.set_default(db, actor, threshold=4)
    view = open_view(db, actor)
    view.tabs.setCurrentWidget(view.alerts)
    panel = view.alerts
    wait_loaded(qtbot, view)
    assert panel.model.rowCount() == 0 and panel.stack.currentWidget() is panel.empty

    panel.check_now()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=5_000)
    wait_loaded(qtbot, view)
    assert panel.model.rows[0].sku == "MC-S" and view.tabs.tabText(1) == "Alerts (1)"

    panel.mail_digest_now()  # no mail server yet: say so, offer the settings
    qtbot.waitUntil(lambda: panel.setup_notice.isVisible(), timeout=5_000)
    wait_loaded(qtbot, view)
    assert inbox.messages == []
    panel.setup_mail_button.click()
    dialog = view.dialog
    assert isinstance(dialog, MailSettingsDialog)
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=5_000)
    dialog.reject()

    settings.save_smtp(db, actor, SmtpSettings(host="127.0.0.1", port=port, security="none",
                                               sender="stock@shop.test", recipients=("buyer@shop.test",)))
    panel.mail_digest_now()
    qtbot.waitUntil(lambda: len(inbox.messages) == 1, timeout=10_000)
    wait_loaded(qtbot, view)
    assert not panel.setup_notice.isVisible()
    sender, rcpts, msg = inbox.messages[0]
    assert (sender, rcpts) == ("stock@shop.test", ["buyer@shop.test"])
    assert "MC-S" in msg.get_body(preferencelist=("plain",)).get_content()
    assert "Mailed 1 alerts to buyer@shop.test" in panel.banner.text.text()
    qtbot.waitUntil(lambda: panel.model.rows and panel.model.rows[0].notified_at is not None, timeout=5_000)
    panel.mail_digest_now()  # nothing new
    qtbot.waitUntil(lambda: "Nothing to mail" in panel.banner.text.text(), timeout=5_000)
    assert len(inbox.messages) == 1


def test_mail_settings_dialog_keeps_the_password_in_the_keyring(qtbot, db, actor, tasks, connected_context,
                                                                 isolated_user_dirs, smtp_server) -> None:  # type: ignore[no-untyped-def]
    inbox, port = smtp_server
    dialog = MailSettingsDialog(connected_context(db, actor), tasks)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=5_000)
    dialog.host.setText("127.0.0.1")
    dialog.port.setValue(port)
    dialog.security.setCurrentIndex(dialog.security.findData("none"))
    dialog.sender.setText("stock@shop.test")
    dialog.recipients.setText("buyer@shop.test; floor@shop.test")

    dialog.send_test()  # with the typed settings, before saving; no login on this server
    qtbot.waitUntil(lambda: "Test message sent" in dialog.banner.text.text(), timeout=10_000)
    assert [m[1] for m in inbox.messages] == [["buyer@shop.test", "floor@shop.test"]]

    dialog.username.setText("stockbot")
    dialog.password.setText("s3cret-pw")
    dialog.save()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5_000)
    saved = settings.get_smtp(db)
    assert (saved.host, saved.port, saved.security, saved.username) == ("127.0.0.1", port, "none", "stockbot")
    assert saved.recipients == ("buyer@shop.test", "floor@shop.test")
    assert isolated_user_dirs.entries == {(SERVICE, smtp_secret_key(saved)): "s3cret-pw"}
    with db.read() as session:
        stored = session.scalar(select(StoreSetting.value).where(StoreSetting.key == "smtp"))
    assert "s3cret-pw" not in str(stored)

    again = MailSettingsDialog(connected_context(db, actor), tasks)  # the password is never shown back
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.host.text() == "127.0.0.1", timeout=5_000)
    assert again.password.text() == "" and "keyring" in again.password.placeholderText()


def test_mail_settings_dialog_shows_every_problem(qtbot, sqlite_db, sqlite_actor, tasks, connected_context) -> None:  # type: ignore[no-untyped-def]
    dialog = MailSettingsDialog(connected_context(sqlite_db, sqlite_actor), tasks)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=5_000)
    dialog.sender.setText("not-an-address")
    dialog.save()
    qtbot.waitUntil(lambda: not dialog.banner.isHidden() and dialog.save_button.isEnabled(), timeout=5_000)
    text = dialog.banner.text.text()
    assert "host: must not be empty" in text and "sender" in text and "recipients" in text
    assert settings.get_smtp(sqlite_db) == SmtpSettings()


def test_open_alerts_show_as_a_badge_on_the_sidebar(qtbot, db, actor, stocked, tasks, connected_context,
                                                    ui_settings) -> None:  # type: ignore[no-untyped-def]
    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore
    from backoffice.ui.main_window import MainWindow

    evaluation = alerts.evaluate(db)
    assert evaluation.open_now == 1  # MC-M at WH1: 2 available, threshold 3
    window = MainWindow(connected_context(db, actor), tasks, settings=ui_settings, profiles=ProfileStore(),
                        secrets=SecretStore())
    qtbot.addWidget(window)
    window.show()
    assert window.current_view_key() == "products"  # the badge loads without visiting Inventory
    qtbot.waitUntil(lambda: window.sidebar.badge("inventory") == 1, timeout=10_000)
    assert window.sidebar.badge("products") == 0

    # Stock arrives: the alert closes on the next check, and the badge goes with it.
    receive(db, actor, stocked, stocked.variant_ids[1], 5)
    alerts.evaluate(db)
    window.context.notify_data_changed()
    qtbot.waitUntil(lambda: window.sidebar.badge("inventory") == 0, timeout=10_000)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)


def low_pairs(db: Database, actor: Actor, store) -> int:  # type: ignore[no-untyped-def]
    """Every variant of the small store at 1 in WH1 and SHOP with a store-wide threshold of 4."""
    for v in store.variant_ids:
        receive(db, actor, store, v, 1)
        receive(db, actor, store, v, 1, "SHOP")
    alerts.set_default(db, actor, threshold=4)
    return 2 * len(store.variant_ids)


def test_alerts_tab_says_not_checked_yet_while_stock_is_low(qtbot, sqlite_db, sqlite_actor, open_view) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SmallStore

    db, actor = sqlite_db, sqlite_actor
    store = SmallStore(db, actor)
    low = low_pairs(db, actor, store)
    view = open_view(db, actor)
    assert any(view.model.data(view.model.index(r, COL_AVAILABLE), Qt.ItemDataRole.BackgroundRole) == LOW_BG
               for r in range(view.model.rowCount()))  # the grid shows low rows...
    view.tabs.setCurrentWidget(view.alerts)
    panel = view.alerts
    wait_loaded(qtbot, view)
    # ...so the tab must not claim every item is above its threshold: it was never checked
    assert panel.stack.currentWidget() is panel.empty
    assert panel.empty.title.text() == "Not checked yet"
    assert "above" not in panel.empty.text.text()
    assert panel.summary.text() == "Not checked yet — Check now"
    assert panel.empty.action.isVisible() and panel.empty.action.text() == "Check now"

    panel.empty.action.click()
    qtbot.waitUntil(lambda: panel.model.rowCount() == low, timeout=10_000)
    wait_loaded(qtbot, view)
    assert panel.summary.text().startswith(f"{low} open alerts · {low} not mailed yet · checked ")
    assert view.tabs.tabText(1) == f"Alerts ({low})"

    for v in store.variant_ids:  # everything recovers: the empty state now reports a check, not "never"
        receive(db, actor, store, v, 10)
        receive(db, actor, store, v, 10, "SHOP")
    panel.check_now()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 0 and panel.stack.currentWidget() is panel.empty,
                    timeout=10_000)
    wait_loaded(qtbot, view)
    assert panel.empty.title.text() == "No low-stock alerts"
    assert "at the last check" in panel.empty.text.text()
    assert view.tabs.tabText(1) == "Alerts"


def test_alerts_tab_badge_and_banner_state_the_true_count_beyond_the_row_limit(qtbot, monkeypatch, db, actor, store,  # type: ignore[no-untyped-def]
                                                                               tasks, connected_context, ui_settings) -> None:
    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore
    from backoffice.ui.main_window import MainWindow
    from backoffice.ui.views.inventory import alerts_panel

    low = low_pairs(db, actor, store)
    monkeypatch.setattr(alerts_panel, "LIST_LIMIT", 4)  # fewer rows read than there are alerts
    window = MainWindow(connected_context(db, actor), tasks, settings=ui_settings, profiles=ProfileStore(),
                        secrets=SecretStore())
    qtbot.addWidget(window)
    window.show()
    window.show_view("inventory")
    view = window.view("inventory")
    assert isinstance(view, InventoryView)
    view.tabs.setCurrentWidget(view.alerts)
    panel = view.alerts
    wait_loaded(qtbot, view)
    panel.check_now()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 4, timeout=10_000)
    wait_loaded(qtbot, view)
    qtbot.waitUntil(lambda: tasks.pending == 0, timeout=10_000)

    true_count = alerts.open_alert_count(db)
    assert true_count == low == 6
    assert panel.summary.text().startswith(f"Showing 4 of {true_count} open alerts · {true_count} not mailed yet")
    assert f"{true_count} open." in panel.banner.text.text()
    assert view.tabs.tabText(1) == f"Alerts ({true_count})"
    assert window.sidebar.badge("inventory") == true_count
    assert f"{true_count} open alerts" in window.sidebar.badge_tooltip("inventory")


# -- SKU columns ------------------------------------------------------------------------------------------
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


@pytest.fixture
def long_skus(db: Database, actor: Actor, store):  # type: ignore[no-untyped-def]
    product = catalog.create_product(db, actor, values={"handle": "merino-crew-neck", "title": "Merino Crew Neck"},
                                     variants=[{"sku": sku, "price": "89.00"} for sku in LONG_SKUS])
    for child in product.children:
        receive(db, actor, store, child.entity_id, 4)
    return store


def test_sku_columns_show_every_sku_whole(qtbot, db, actor, long_skus, open_view) -> None:  # type: ignore[no-untyped-def]
    from backoffice.ui.views.inventory.models import COL_SKU

    view = open_view(db, actor)
    rows = view.model.rows
    assert {r.sku for r in rows} >= set(LONG_SKUS)
    assert [drawn_sku(view.table, i, COL_SKU) for i in range(len(rows))] == [r.sku for r in rows]

    view.table.setCurrentIndex(view.model.index(-1, -1))
    dialog = view.open_adjust()       # the adjust dialog's lines
    for sku in LONG_SKUS:
        qtbot.keyClicks(dialog.scan, sku)
        qtbot.keyClick(dialog.scan, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda sku=sku: any(ln.sku == sku for ln in dialog.lines), timeout=5_000)
    column = dialog.model.column_of("SKU")
    assert sorted(drawn_sku(dialog.table, r, column) for r in range(len(dialog.lines))) == sorted(LONG_SKUS)
    dialog.reject()

    count = view.open_count()         # and the count dialog's
    count.location.setCurrentIndex(count.location.findData(long_skus.locations["WH1"]))
    count.start()
    qtbot.waitUntil(lambda: count.count is not None and count.pages.currentIndex() == 1, timeout=5_000)
    for sku in LONG_SKUS:
        qtbot.keyClicks(count.scan, sku)
        qtbot.keyClick(count.scan, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(count.lines) == 3 and not count._pending and not count._writing, timeout=10_000)
    column = count.model.column_of("SKU")
    assert sorted(drawn_sku(count.table, r, column) for r in range(3)) == sorted(LONG_SKUS)
