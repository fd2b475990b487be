"""Asking for a database password, from any thread.

``open_database`` runs in a worker thread and calls its ``prompt(key)`` there when the server refuses
the stored password. :class:`PasswordPrompter` is that callable: from a worker it hands the question to
the GUI thread through a queued signal and waits for the answer, so only the worker waits (on the user);
the GUI thread keeps running its event loop, shows a window-modal dialog and never waits on anything.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import shiboken6
from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from backoffice.ui import theme
from backoffice.ui.widgets.empty_state import Glyph


class PasswordDialog(QDialog):
    def __init__(self, key: str, parent: QWidget | None = None, *, offer_keyring: bool = True) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Database password"))
        self.setMinimumWidth(440)
        heading = QLabel(self.tr("Enter the password to connect"))
        heading.setObjectName("DetailsTitle")
        where = QLabel(key)
        where.setObjectName("Muted")
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember = QCheckBox(self.tr("Remember in the system keyring"))
        self.remember.setChecked(offer_keyring)
        self.remember.setVisible(offer_keyring)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(self.tr("Password"), self.password)
        form.addRow("", self.remember)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(self.tr("Connect"))
        buttons.button(QDialogButtonBox.StandardButton.Ok).setProperty("primary", True)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(Glyph("database", diameter=56, color=theme.ACCENT), 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(heading)
        layout.addWidget(where)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def value(self) -> str:
        return self.password.text()


def ask_password(parent: QWidget | None, key: str) -> tuple[str, bool] | None:
    """Ask on the GUI thread (a nested event loop): (password, remember) or None if cancelled."""
    dialog = PasswordDialog(key, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted.value:
            return None
        return dialog.value(), dialog.remember.isChecked()
    finally:
        dialog.deleteLater()


class PasswordPrompter(QObject):
    """A ``prompt(key) -> str | None`` callable for ``open_database`` that is safe to call from a worker.

    Create it on the GUI thread. ``wants_keyring(key)`` tells, after a successful connection, whether
    the user ticked "remember"; :meth:`cancel_all` answers every open question with None (exit).
    """

    _ask = Signal(str, object)
    asked = Signal(object)  # the PasswordDialog, once shown (lets tests fill it in)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._parent_widget = parent
        self._lock = threading.Lock()
        self._open: dict[int, tuple[Future[str | None], PasswordDialog | None]] = {}
        self._remember: set[str] = set()
        self._closed = False
        self._ask.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def __call__(self, key: str) -> str | None:
        if self._closed:
            return None
        if QThread.currentThread() == self.thread():
            answer = ask_password(self._parent_widget, key)
            return self._record(key, answer)
        future: Future[str | None] = Future()
        with self._lock:
            if self._closed:
                return None
            self._open[id(future)] = (future, None)
        self._ask.emit(key, future)
        return future.result()  # the worker waits for the user; the GUI thread does not wait

    def wants_keyring(self, key: str) -> bool:
        return key in self._remember

    def cancel_all(self) -> None:
        with self._lock:
            self._closed = True
            pending = list(self._open.values())
            self._open.clear()
        for future, dialog in pending:
            if not future.done():
                future.set_result(None)
            if dialog is not None and shiboken6.isValid(dialog):
                dialog.reject()

    def _record(self, key: str, answer: tuple[str, bool] | None) -> str | None:
        if answer is None:
            return None
        password, remember = answer
        if remember:
            self._remember.add(key)
        else:
            self._remember.discard(key)
        return password

    def _show(self, key: str, future: Future[str | None]) -> None:
        with self._lock:
            if id(future) not in self._open:
                return  # cancelled before it could be shown
        dialog = PasswordDialog(key, self._parent_widget)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        with self._lock:
            self._open[id(future)] = (future, dialog)

        def finished(result: int) -> None:
            with self._lock:
                self._open.pop(id(future), None)
            answer = (dialog.value(), dialog.remember.isChecked()) if result == QDialog.DialogCode.Accepted.value else None
            if not future.done():
                future.set_result(self._record(key, answer))
            dialog.deleteLater()

        dialog.finished.connect(finished)
        dialog.open()
        self.asked.emit(dialog)
