"""The main window: views, navigation (sidebar, View menu, Ctrl+N), status bar, remembered state."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from backoffice.config import ProfileStore
from backoffice.models import Role
from backoffice.operations import LocalOperations
from backoffice.secrets import SecretStore
from backoffice.services.users import ensure_user
from backoffice.ui.context import AppContext
from backoffice.ui.main_window import MainWindow
from backoffice.ui.views import VIEW_KEYS, PlaceholderPage
from backoffice.ui.views.audit import AuditView
from backoffice.ui.views.bundles import BundlesView
from backoffice.ui.views.images import ImagesView
from backoffice.ui.views.inventory import InventoryView
from backoffice.ui.views.products import ProductsView
from backoffice.ui.views.purchasing import PurchasingView
from backoffice.ui.views.reports import ReportsView
from backoffice.ui.views.store_sync import StoreSyncView
from backoffice.ui.views.transfers import TransfersView
from backoffice.ui.views.variants import VariantsView

EXPECTED_VIEWS = ["products", "variants", "images", "bundles", "inventory", "transfers", "purchasing", "orders", "customers", "reports", "audit",
                  "store_sync"]
# Views whose issue has not landed yet: a placeholder page that says what they will hold.
PLANNED_VIEWS: list[str] = []


@pytest.fixture
def open_window(qtbot, tasks, ui_settings):  # type: ignore[no-untyped-def]
    def open_(context: AppContext, settings: QSettings | None = ui_settings) -> MainWindow:
        window = MainWindow(context, tasks, settings=settings, profiles=ProfileStore(), secrets=SecretStore())
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    return open_


def test_window_hosts_one_page_per_view(qtbot, sqlite_db, sqlite_actor, open_window, connected_context) -> None:  # type: ignore[no-untyped-def]
    window = open_window(connected_context(sqlite_db, sqlite_actor))
    assert list(VIEW_KEYS) == EXPECTED_VIEWS
    assert window.sidebar.keys() == EXPECTED_VIEWS
    assert window.current_view_key() == "products"
    assert window.pages.currentWidget() is window.view("products")
    assert isinstance(window.view("audit"), AuditView)
    assert isinstance(window.view("products"), ProductsView)
    assert isinstance(window.view("inventory"), InventoryView)
    assert isinstance(window.view("transfers"), TransfersView)
    assert isinstance(window.view("images"), ImagesView)
    assert isinstance(window.view("variants"), VariantsView)
    assert isinstance(window.view("purchasing"), PurchasingView)
    assert isinstance(window.view("reports"), ReportsView)
    assert isinstance(window.view("store_sync"), StoreSyncView)
    assert isinstance(window.view("bundles"), BundlesView)
    for key in PLANNED_VIEWS:
        page = window.view(key)
        assert isinstance(page, PlaceholderPage)
        assert page.empty.title.text() == page.title()
        assert page.empty.text.text()  # says what the view will hold
    # The application's name once, then where the data is (no view name, no second "Backoffice").
    assert window.windowTitle() == "Backoffice — Test profile"
    window.show_view("audit")
    assert window.windowTitle() == "Backoffice — Test profile"
    nameless = open_window(connected_context(sqlite_db, sqlite_actor, profile_name=""))
    assert nameless.windowTitle() == f"Backoffice — {sqlite_db.url.database.rsplit('/', 1)[-1]}"


def test_sidebar_switches_views(qtbot, sqlite_db, sqlite_actor, open_window, connected_context) -> None:  # type: ignore[no-untyped-def]
    window = open_window(connected_context(sqlite_db, sqlite_actor))
    item = window.sidebar.item_for("inventory")
    rect = window.sidebar.list.visualItemRect(item)
    qtbot.mouseClick(window.sidebar.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_view_key() == "inventory"
    assert window.pages.currentWidget() is window.view("inventory")
    assert window.view_actions["inventory"].isChecked()
    # Section headings are not views and cannot be selected.
    heading = window.sidebar.list.item(0)
    assert not heading.flags() & Qt.ItemFlag.ItemIsSelectable


def test_ctrl_number_shortcuts_switch_views(qtbot, sqlite_db, sqlite_actor, open_window, connected_context) -> None:  # type: ignore[no-untyped-def]
    window = open_window(connected_context(sqlite_db, sqlite_actor))
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    for number, key in enumerate(EXPECTED_VIEWS[:10], start=1):
        assert window.view_actions[key].shortcut().toString() == f"Ctrl+{number % 10}"
        qtbot.keyClick(window, getattr(Qt.Key, f"Key_{number % 10}"), Qt.KeyboardModifier.ControlModifier)
        assert window.current_view_key() == key, f"Ctrl+{number % 10}"
        assert window.sidebar.current_key() == key
        assert window.pages.currentWidget() is window.view(key)
    for key in EXPECTED_VIEWS[10:]:   # beyond the tenth: the sidebar and the View menu, no Ctrl+digit
        assert window.view_actions[key].shortcut().isEmpty()
        window.view_actions[key].trigger()
        assert window.current_view_key() == key and window.pages.currentWidget() is window.view(key)
    assert window.quit_action.shortcut().toString() == "Ctrl+Q"


def test_audit_view_loads_when_shown(qtbot, sqlite_db, sqlite_actor, open_window, connected_context) -> None:  # type: ignore[no-untyped-def]
    window = open_window(connected_context(sqlite_db, sqlite_actor))
    audit = window.view("audit")
    assert audit.model.rowCount() == 0  # nothing is queried for a view never shown
    window.show_view("audit")
    qtbot.waitUntil(lambda: audit.model.rowCount() == 1, timeout=10_000)
    assert audit.model.rows[0].entity == "user"


def test_status_bar_shows_profile_user_and_connection(qtbot, sqlite_db, sqlite_actor, open_window, connected_context) -> None:  # type: ignore[no-untyped-def]
    window = open_window(connected_context(sqlite_db, sqlite_actor, profile_name="Shop HQ"))
    status = window.session_status
    assert status.profile.text() == "Shop HQ"
    assert status.user.text() == "tester · Admin"
    assert status.connection.text() == f"SQLite · {sqlite_db.url.database}"
    assert status.connection.toolTip() == f"SQLite · {sqlite_db.url.database}"
    assert window.windowTitle() == "Backoffice — Shop HQ"


def test_connection_page_until_connected(qtbot, sqlite_db, sqlite_actor, open_window) -> None:  # type: ignore[no-untyped-def]
    context = AppContext()
    window = open_window(context)
    context.set_connecting(profile_name="Shop HQ", target="PostgreSQL · db.shop.lan/shop")
    assert window.pages.currentWidget() is window.connection_page
    assert not window.sidebar.list.isEnabled()
    assert window.session_status.connection.text() == "Connecting to PostgreSQL · db.shop.lan/shop…"
    assert window.connection_page.title.text() == "Connecting…"

    context.set_failed("cannot connect to db.shop.lan", "Check the server.")
    assert window.connection_page.error.text() == "cannot connect to db.shop.lan"
    assert window.connection_page.hint.text() == "Check the server."
    assert window.connection_page.retry.isVisible()
    assert window.session_status.connection.text().startswith("Not connected")
    with qtbot.waitSignal(window.retry_requested, timeout=1_000):
        window.connection_page.retry.click()

    window.show_view("audit")  # chosen while offline: shown once connected
    context.set_connected(LocalOperations(sqlite_db, sqlite_actor))
    assert window.sidebar.list.isEnabled()
    assert window.pages.currentWidget() is window.view("audit")
    qtbot.waitUntil(lambda: window.view("audit").model.rowCount() == 1, timeout=10_000)


def test_geometry_and_last_view_are_remembered(qtbot, sqlite_db, sqlite_actor, open_window, connected_context,
                                                ui_settings) -> None:  # type: ignore[no-untyped-def]
    context = connected_context(sqlite_db, sqlite_actor)
    first = open_window(context)
    first.resize(780, 540)  # within the offscreen screen (800x600)
    first.show_view("reports")
    first.close()
    assert ui_settings.value("main_window/view") == "reports"

    second = open_window(context)
    assert second.current_view_key() == "reports"
    assert (second.width(), second.height()) == (780, 540)


def test_without_settings_nothing_is_written(qtbot, sqlite_db, sqlite_actor, open_window, connected_context,
                                             tmp_path) -> None:  # type: ignore[no-untyped-def]
    window = open_window(connected_context(sqlite_db, sqlite_actor), settings=None)
    window.close()
    assert not list(tmp_path.glob("*.ini"))


def test_profiles_dialog_opens_from_the_file_menu(qtbot, sqlite_db, sqlite_actor, open_window, connected_context) -> None:  # type: ignore[no-untyped-def]
    window = open_window(connected_context(sqlite_db, sqlite_actor))
    window.profiles_action.trigger()
    dialog = window.profiles_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.reject()
    qtbot.waitUntil(lambda: window.profiles_dialog is None, timeout=2_000)


def test_a_role_that_may_not_read_a_view_is_told_who_may(qtbot, sqlite_db, open_window,  # type: ignore[no-untyped-def]
                                                         connected_context) -> None:
    """A merchandiser opening Audit sees which roles it is for, and the view never asks for the log."""
    ensure_user(sqlite_db, "boss", Role.ADMIN)
    mia = ensure_user(sqlite_db, "mia", Role.MERCHANDISER)
    window = open_window(connected_context(sqlite_db, mia))
    window.show_view("audit")
    assert window.pages.currentWidget() is window.no_access
    shown = window.no_access.title.text() + " " + window.no_access.text.text()
    assert "manager or admin" in shown and "mia (merchandiser)" in shown
    qtbot.wait(200)
    assert window.view("audit").model.rowCount() == 0       # never read
    window.show_view("products")
    assert window.pages.currentWidget() is window.view("products")
