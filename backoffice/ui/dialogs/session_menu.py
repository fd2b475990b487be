"""The File menu's session entries: Switch user…, Lock (Ctrl+L), Lock settings… and, for admins, Who is
connected…. The window owns the lock itself (``window.window_lock``, ``window.idle_lock``, see
``ui/lock.py``); this module builds the entries, keeps them enabled as the connection allows, and asks
before a switch of user would discard the Products view's staged edits."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QMessageBox

from backoffice.ui.format import plural, translator
from backoffice.ui.lock import IDLE_LOCK_KEY, idle_minutes

_tr = translator("SessionMenu")
PERSONAL_FILE_REASON = "A personal database file has one owner"


def install_session_menu(window: QMainWindow, menu: QMenu) -> None:
    """Add the session entries to ``menu``; they act on ``window.context`` and ``window.tasks``."""
    window.switch_user_action = menu.addAction(_tr("S&witch user…"))
    window.switch_user_action.triggered.connect(lambda: request_switch_user(window))
    window.lock_action = menu.addAction(_tr("&Lock"))
    window.lock_action.setShortcut(QKeySequence("Ctrl+L"))
    window.lock_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    window.lock_action.triggered.connect(window.lock)
    window.lock_settings_action = menu.addAction(_tr("Lock se&ttings…"))
    window.lock_settings_action.triggered.connect(lambda: open_lock_settings(window))
    window.connected_action = menu.addAction(_tr("W&ho is connected…"))
    window.connected_action.triggered.connect(lambda: open_connected(window))

    def follow() -> None:
        context = window.context
        shared = context.connected and not context.personal_file
        window.switch_user_action.setEnabled(shared)
        window.switch_user_action.setToolTip(_tr(PERSONAL_FILE_REASON) if context.personal_file else "")
        window.lock_action.setEnabled(context.connected)
        window.connected_action.setVisible(context.connected and context.may("users.database_sessions"))

    menu.setToolTipsVisible(True)
    window.context.changed.connect(follow)
    follow()


def staged_edit_count(window: QMainWindow) -> int:
    """How many edits the Products view holds staged, not yet applied (0 when it has none to tell)."""
    view = getattr(window, "views", {}).get("products")
    pending = getattr(getattr(view, "model", None), "pending", None)
    return len(pending) if pending is not None else 0


def request_switch_user(window: QMainWindow) -> None:
    """Sign someone else in to the same shared database, asking first when staged edits would be
    discarded (they belong to the person signed in now)."""
    context = window.context
    if not context.connected or context.personal_file:
        return
    staged = staged_edit_count(window)
    if not staged:
        window.switch_user_requested.emit()
        return
    box = QMessageBox(QMessageBox.Icon.Warning, _tr("Switch user"),
                      plural(staged, _tr("The Products view has {n} staged change that is not applied yet."),
                             _tr("The Products view has {n} staged changes that are not applied yet.")),
                      QMessageBox.StandardButton.Cancel, window)
    box.setInformativeText(_tr("Switching user discards them. To keep them, cancel and apply them first."))
    switch = box.addButton(_tr("Discard and switch user"), QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def answered(_result: int) -> None:
        window.switch_confirmation = None
        if box.clickedButton() is switch:
            window.switch_user_requested.emit()

    box.finished.connect(answered)
    window.switch_confirmation = box
    box.open()


def _open(window: QMainWindow, attribute: str, make: Any) -> Any:
    """One dialog of each kind at a time, deleted when closed."""
    dialog = getattr(window, attribute, None)
    if dialog is not None:
        dialog.raise_()
        return dialog
    dialog = make()
    setattr(window, attribute, dialog)

    def closed() -> None:
        setattr(window, attribute, None)
        dialog.deleteLater()

    dialog.finished.connect(closed)
    dialog.open()
    return dialog


def open_lock_settings(window: QMainWindow) -> Any:
    from backoffice.ui.dialogs.lock_settings import LockSettingsDialog

    def make() -> Any:
        dialog = LockSettingsDialog(idle_minutes(window.settings), window)
        dialog.accepted.connect(lambda: set_idle_minutes(window, dialog.minutes()))
        return dialog

    return _open(window, "lock_settings_dialog", make)


def set_idle_minutes(window: QMainWindow, minutes: int) -> None:
    if window.settings is not None:
        window.settings.setValue(IDLE_LOCK_KEY, minutes)
        window.settings.sync()
    window.idle_lock.set_minutes(minutes)


def open_connected(window: QMainWindow) -> Any:
    from backoffice.ui.dialogs.connected import ConnectedDialog

    if not window.context.may("users.database_sessions"):
        return None
    return _open(window, "connected_dialog", lambda: ConnectedDialog(window.context, window.tasks, window))
