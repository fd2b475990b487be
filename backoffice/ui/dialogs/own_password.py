"""Choosing one's own password after signing in with one an admin gave (a staff login's temporary password
on a shared PostgreSQL database: it stops working at a set time).

The dialog only collects and shows: it checks what it can without the server (both fields filled in, the
same twice, not the password just signed in with) and emits :attr:`OwnPasswordDialog.chosen` with the new
password; the connector sets it off the GUI thread (``ops.users.set_password``). While that runs the
fields are disabled; a refusal comes back with :meth:`OwnPasswordDialog.show_error` and the dialog stays
open. "Later" closes it: the admin's password keeps working until its time.
"""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QDate, QTime, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from backoffice.ui import theme
from backoffice.ui.format import translator, ui_locale
from backoffice.ui.widgets.empty_state import Glyph

tr = translator("OwnPassword")


def local_time_text(at: dt.datetime) -> str:
    """``at`` in this computer's time zone, in words: "Thursday, December 10, 2026 at 3:54 PM"."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    local = at.astimezone()
    locale = ui_locale()
    day = locale.toString(QDate(local.year, local.month, local.day), locale.FormatType.LongFormat)
    time = locale.toString(QTime(local.hour, local.minute), locale.FormatType.ShortFormat)
    return tr("{day} at {time}").format(day=day, time=time)


class OwnPasswordDialog(QDialog):
    chosen = Signal(str)   # the new password, once both fields agree

    def __init__(self, username: str, until: dt.datetime, parent: QWidget | None = None, *,
                 current: str | None = None) -> None:
        super().__init__(parent)
        self.username = username
        self.until = until
        self._current = current
        self._busy = False
        self.setWindowTitle(self.tr("Choose your own password"))
        self.setMinimumWidth(460)
        heading = QLabel(self.tr("Choose your own password"))
        heading.setObjectName("DetailsTitle")
        self.explanation = QLabel(self.tr(
            "The password you signed in with was given by an admin and stops working on {when} (local time). "
            "Choose your own now.").format(when=local_time_text(until)))
        self.explanation.setWordWrap(True)
        self.who = QLabel(self.tr("Signed in as {name}").format(name=username))
        self.who.setObjectName("Muted")
        self.new_password = QLineEdit()
        self.new_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeat = QLineEdit()
        self.repeat.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel()
        self.error.setObjectName("Error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.DANGER};")
        self.error.hide()
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(self.tr("New password"), self.new_password)
        form.addRow(self.tr("Repeat it"), self.repeat)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.change_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.change_button.setText(self.tr("Change password"))
        self.change_button.setProperty("primary", True)
        self.later_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.later_button.setText(self.tr("Later"))
        self.later_button.setToolTip(self.tr("Keep the admin's password until it stops working"))
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(Glyph("user", diameter=56, color=theme.WARNING), 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(heading)
        layout.addWidget(self.explanation)
        layout.addWidget(self.who)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addSpacing(6)
        layout.addWidget(self.buttons)
        self.new_password.setFocus()

    @property
    def busy(self) -> bool:
        return self._busy

    def problem(self) -> str:
        """What is wrong with the typed passwords before asking the server ("" when nothing)."""
        new, again = self.new_password.text(), self.repeat.text()
        if not new or not again:
            return self.tr("Type your new password in both fields.")
        if new != again:
            return self.tr("The two passwords differ: type the same new password twice.")
        if self._current is not None and new == self._current:
            return self.tr("That is the password the admin gave you: choose a different one.")
        return ""

    def submit(self) -> None:
        """Set the typed password (nothing is sent while the fields disagree)."""
        if self._busy:
            return
        problem = self.problem()
        if problem:
            self.show_error(problem)
            return
        self.set_busy(True)
        self.chosen.emit(self.new_password.text())

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        for widget in (self.new_password, self.repeat, self.change_button, self.later_button):
            widget.setEnabled(not busy)
        if busy:
            self.error.hide()
            self.change_button.setText(self.tr("Changing…"))
        else:
            self.change_button.setText(self.tr("Change password"))

    def show_error(self, message: str) -> None:
        """A problem, shown in the dialog; both fields are cleared for the next try."""
        self.set_busy(False)
        self.error.setText(message)
        self.error.show()
        self.new_password.clear()
        self.repeat.clear()
        self.new_password.setFocus()

    def reject(self) -> None:
        """Later (or Esc); not while the new password is being set: its outcome is still to come."""
        if not self._busy:
            super().reject()
