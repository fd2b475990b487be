"""Locking the window: File → Lock (Ctrl+L) and the idle timer cover everything with an overlay and
disable the menus and shortcuts; only the signed-in person's password, checked off the GUI thread,
removes it, and everything underneath (views, staged edits, open dialogs, focus) is as it was."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox

from backoffice.config import ProfileStore
from backoffice.db import Database
from backoffice.models import Role
from backoffice.operations import LocalOperations
from backoffice.secrets import SecretStore
from backoffice.services.demo import generate_demo
from backoffice.services.users import ensure_user
from backoffice.ui.context import AppContext
from backoffice.ui.lock import DEFAULT_IDLE_MINUTES, IDLE_LOCK_KEY
from backoffice.ui.main_window import MainWindow
from backoffice.ui.views.products.columns import INDEX
from tests.conftest import STAFF_PASSWORD

PRICE = INDEX["price"]


@pytest.fixture
def open_window(qtbot, tasks, ui_settings):  # type: ignore[no-untyped-def]
    def open_(context: AppContext, settings: QSettings | None = ui_settings) -> MainWindow:
        window = MainWindow(context, tasks, settings=settings, profiles=ProfileStore(), secrets=SecretStore())
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
        return window

    return open_


@pytest.fixture
def signed_in(sqlite_db: Database) -> AppContext:
    """A window's context signed in as an account with a password (Ada Lovelace, a manager)."""
    ensure_user(sqlite_db, "owner")
    actor = ensure_user(sqlite_db, "ada", Role.MANAGER, "Ada Lovelace", password=STAFF_PASSWORD)
    context = AppContext(profile_name="Shop HQ")
    context.set_connected(LocalOperations(sqlite_db, actor), "Ada Lovelace")
    return context


def covers_the_window(window: MainWindow) -> bool:
    overlay = window.window_lock.overlay
    central = window.centralWidget()
    if not overlay.isVisible() or overlay.geometry() != central.rect():
        return False
    # What is on top at the middle of the sidebar and of the current view is the overlay, not them.
    for widget in (window.sidebar, window.pages):
        point = central.mapFrom(widget.parentWidget(), widget.geometry().center())
        top = central.childAt(point)
        if top is None or not (top is overlay or overlay.isAncestorOf(top)):
            return False
    return True


def unlock_with(qtbot, window: MainWindow, password: str) -> None:  # type: ignore[no-untyped-def]
    overlay = window.window_lock.overlay
    overlay.password.clear()
    qtbot.keyClicks(overlay.password, password)
    overlay.unlock_button.click()
    qtbot.waitUntil(lambda: not window.window_lock.runner.busy, timeout=10_000)


def test_lock_action_covers_the_window_and_only_the_password_unlocks(qtbot, monkeypatch, signed_in,
                                                                       open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window(signed_in)
    window.show_view("inventory")
    assert window.lock_action.shortcut().toString() == "Ctrl+L"
    fired: list[str] = []
    window_action = QAction("Window-wide", window)      # a shortcut of the window, outside the menus
    window_action.setShortcut(QKeySequence("Ctrl+K"))
    window_action.triggered.connect(lambda: fired.append("action"))
    window.addAction(window_action)
    assert not covers_the_window(window)

    window.lock_action.trigger()
    assert window.is_locked() and covers_the_window(window)
    overlay = window.window_lock.overlay
    assert overlay.title.text() == "Locked — Ada Lovelace (Manager)"
    assert not window.menuBar().isEnabled()
    assert QApplication.focusWidget() is overlay.password
    # No shortcut of the covered window acts: neither the View menu's nor one of the window itself.
    qtbot.keyClick(overlay.password, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(overlay.password, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    assert window.current_view_key() == "inventory" and fired == []
    # Tab stays in the overlay.
    for _ in range(4):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        assert overlay.isAncestorOf(QApplication.focusWidget())

    checked_on: list[int] = []
    original = LocalOperations.verify_password

    def recording_verify(ops, password):  # type: ignore[no-untyped-def]
        checked_on.append(threading.get_ident())
        return original(ops, password)

    monkeypatch.setattr(LocalOperations, "verify_password", recording_verify)
    unlock_with(qtbot, window, "not the password")
    assert window.is_locked() and covers_the_window(window)
    assert overlay.error.isVisible() and overlay.error.text() == "Wrong password. The window stays locked."
    assert overlay.password.text() == "" and overlay.password.isEnabled()
    assert not window.menuBar().isEnabled()

    unlock_with(qtbot, window, STAFF_PASSWORD)
    assert not window.is_locked() and not overlay.isVisible()
    assert window.menuBar().isEnabled()
    assert window.current_view_key() == "inventory"
    assert checked_on and all(t != threading.get_ident() for t in checked_on)   # off the GUI thread
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)   # shortcuts act again
    assert fired == ["action"]
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.current_view_key() == "products"


def test_ctrl_l_locks(qtbot, signed_in, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window(signed_in)
    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.is_locked() and covers_the_window(window)


def test_the_window_locks_itself_after_the_idle_time_and_input_postpones_it(qtbot, signed_in,
                                                                             open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window(signed_in)
    assert window.idle_lock.timeout_ms == DEFAULT_IDLE_MINUTES * 60_000 and window.idle_lock.is_counting()
    window.idle_lock.set_timeout_ms(300)
    # Keep typing and moving for longer than the idle time: no lock.
    for _ in range(6):
        qtbot.wait(100)
        qtbot.mouseMove(window.sidebar, QPoint(20, 20 + _))
        qtbot.keyClick(window.sidebar.list, Qt.Key.Key_Down)
        assert not window.is_locked()
    qtbot.waitUntil(window.is_locked, timeout=5_000)
    assert covers_the_window(window) and not window.menuBar().isEnabled()
    assert not window.idle_lock.is_counting()       # locked: nothing left to count

    unlock_with(qtbot, window, STAFF_PASSWORD)
    assert not window.is_locked()
    assert window.idle_lock.is_counting()          # counting again from the unlock


def test_the_idle_time_comes_from_the_settings_and_zero_never_locks(qtbot, signed_in, open_window,
                                                                     ui_settings) -> None:  # type: ignore[no-untyped-def]
    ui_settings.setValue(IDLE_LOCK_KEY, 3)
    window = open_window(signed_in)
    assert window.idle_lock.timeout_ms == 3 * 60_000

    window.lock_settings_action.trigger()
    dialog = window.lock_settings_dialog
    assert dialog.spin.value() == 3
    dialog.spin.setValue(0)
    assert dialog.spin.text() == "Never"
    dialog.accept()
    assert int(ui_settings.value(IDLE_LOCK_KEY)) == 0
    assert window.idle_lock.timeout_ms == 0 and not window.idle_lock.is_counting()
    qtbot.wait(200)
    assert not window.is_locked()


def test_a_staged_edit_is_still_pending_after_unlocking(qtbot, sqlite_db, open_window) -> None:  # type: ignore[no-untyped-def]
    actor = ensure_user(sqlite_db, "tester", password=STAFF_PASSWORD)
    generate_demo(sqlite_db, actor, products=20, seed=3)
    context = AppContext()
    context.set_connected(LocalOperations(sqlite_db, actor))
    window = open_window(context)
    view = window.view("products")
    qtbot.waitUntil(lambda: not view.is_loading() and view.model.total is not None, timeout=15_000)
    model = view.model
    view.table.setFocus()
    model.setData(model.index(0, PRICE), Decimal("12.34"))
    assert len(model.pending) == 1
    shown_before = model.data(model.index(0, PRICE))

    window.lock()
    unlock_with(qtbot, window, "wrong")
    assert window.is_locked()
    unlock_with(qtbot, window, STAFF_PASSWORD)
    assert not window.is_locked()
    assert len(model.pending) == 1
    (edit,) = model.pending.edits()
    assert edit.new == Decimal("12.34") and model.data(model.index(0, PRICE)) == shown_before
    assert view.pending_panel.count_label.text() == "1 pending change"
    assert QApplication.focusWidget() is view.table       # the focus is back where it was


def test_open_dialogs_are_hidden_while_locked_and_come_back(qtbot, signed_in, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window(signed_in)
    window.locations_action.trigger()
    dialog = window.locations_dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    closed_while_locked = QDialog(window)
    closed_while_locked.open()

    window.lock()
    assert not dialog.isVisible() and not closed_while_locked.isVisible()
    closed_while_locked.reject()                   # its work ended while hidden: it stays closed
    assert window.is_locked() and covers_the_window(window)
    unlock_with(qtbot, window, STAFF_PASSWORD)
    assert dialog.isVisible() and window.locations_dialog is dialog
    assert not closed_while_locked.isVisible()


def test_switching_user_from_the_lock_releases_it(qtbot, signed_in, open_window) -> None:  # type: ignore[no-untyped-def]
    """On a shared database the overlay's "Switch user…" asks the window's connector for someone else
    (here the context as the connector leaves it: connecting again)."""
    signed_in.personal_file = False   # as if on a shared database
    window = open_window(signed_in)
    asked: list[bool] = []
    window.switch_user_requested.connect(lambda: asked.append(True))
    window.lock()
    overlay = window.window_lock.overlay
    assert overlay.switch_link.isEnabled()
    overlay.switch_link.click()
    assert asked == [True]
    signed_in.set_connecting(profile_name="Shop HQ", target="PostgreSQL · db/shop")
    assert not window.is_locked() and not overlay.isVisible() and window.menuBar().isEnabled()


def test_nothing_locks_before_anyone_is_signed_in(qtbot, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window(AppContext())
    assert not window.lock_action.isEnabled()
    assert not window.lock() and not window.is_locked()
    assert not window.idle_lock.is_counting()


def test_switch_user_is_disabled_on_a_personal_file(qtbot, signed_in, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window(signed_in)
    assert signed_in.personal_file
    assert not window.switch_user_action.isEnabled()
    assert window.switch_user_action.toolTip() == "A personal database file has one owner"
    window.lock()
    link = window.window_lock.overlay.switch_link
    assert not link.isEnabled() and link.toolTip() == "A personal database file has one owner"


def test_the_owner_of_a_file_without_password_unlocks_without_one(qtbot, sqlite_db, sqlite_actor,
                                                                   open_window) -> None:  # type: ignore[no-untyped-def]
    context = AppContext()
    context.set_connected(LocalOperations(sqlite_db, sqlite_actor))
    window = open_window(context)
    window.lock()
    unlock_with(qtbot, window, "")
    assert not window.is_locked()


def test_the_overlay_follows_the_window_size(qtbot, signed_in, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window(signed_in)
    window.lock()
    window.resize(1000, 700)
    qtbot.waitUntil(lambda: window.window_lock.overlay.geometry() == window.centralWidget().rect(), timeout=2_000)
    assert covers_the_window(window)


def test_the_idle_lock_waits_for_an_open_question(qtbot, signed_in, open_window) -> None:  # type: ignore[no-untyped-def]
    """A question waiting in its own event loop (application-modal) cannot be hidden without answering
    it: the idle lock tries again later, and locks once it is answered."""
    window = open_window(signed_in)
    question = QMessageBox(QMessageBox.Icon.Question, "Delete?", "Delete it?",
                           QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, window)
    question.setWindowModality(Qt.WindowModality.ApplicationModal)
    question.show()
    qtbot.waitUntil(lambda: QApplication.activeModalWidget() is question, timeout=2_000)
    window.idle_lock.set_timeout_ms(100)
    qtbot.wait(400)
    assert not window.is_locked() and question.isVisible() and window.idle_lock.is_counting()
    question.done(QMessageBox.StandardButton.No)
    qtbot.waitUntil(window.is_locked, timeout=5_000)
