"""Signing in to a shared (PostgreSQL) database: user name and password, proven before the window gets
its data.

The dialog only collects and shows: it emits :attr:`SignInDialog.submitted` with the name, the password
and whether to remember the password on this computer, and the connector checks them off the GUI thread
(``session.connect``: the person's own PostgreSQL login, or the account's password), storing the password
in the OS keyring only once it was accepted.
While that runs the fields are disabled; a refusal comes back with :meth:`SignInDialog.show_error` and
the dialog stays open for another try; Cancel (or Esc) gives up signing in.

For a store API profile (``api=True``) the user name is the profile's and cannot be changed (the
profile's local copy and its changes waiting to be sent are that person's), and nothing is offered to
remember: the session is kept in the keyring as tokens, never the password.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
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


class SignInDialog(QDialog):
    submitted = Signal(str, str, bool)   # user name, password, remember the password on this computer

    def __init__(self, where: str, username: str = "", parent: QWidget | None = None, *,
                 remember: bool = False, api: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Sign in"))
        self.setMinimumWidth(440)
        heading = QLabel(self.tr("Sign in to the store API") if api else self.tr("Sign in to the shared database"))
        heading.setObjectName("DetailsTitle")
        self.where = QLabel(where)
        self.where.setObjectName("Muted")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.username = QLineEdit(username)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember = QCheckBox(self.tr("Remember my password on this computer"))
        self.remember.setToolTip(self.tr("Kept in the system keyring, and only once the password was accepted"))
        self.remember.setChecked(remember)
        self.error = QLabel()
        self.error.setObjectName("Error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.DANGER};")
        self.error.hide()
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(self.tr("User name"), self.username)
        form.addRow(self.tr("Password"), self.password)
        form.addRow("", self.remember)
        if api:
            self.username.setReadOnly(True)
            self.username.setToolTip(self.tr("The user name of this connection profile"))
            self.remember.setChecked(False)
            self.remember.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.sign_in_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_in_button.setText(self.tr("Sign in"))
        self.sign_in_button.setProperty("primary", True)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(Glyph("user", diameter=56, color=theme.ACCENT), 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(heading)
        layout.addWidget(self.where)
        layout.addSpacing(4)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        (self.password if username else self.username).setFocus()

    def submit(self) -> None:
        """Sign in with what is typed (nothing happens without a name and a password)."""
        name, password = self.username.text().strip(), self.password.text()
        if not name or not password:
            self.show_error(self.tr("Enter your user name and password."))
            return
        self.set_busy(True)
        self.submitted.emit(name, password, self.remember.isChecked())

    def set_busy(self, busy: bool) -> None:
        for widget in (self.username, self.password, self.remember, self.sign_in_button):
            widget.setEnabled(not busy)
        if busy:
            self.error.hide()
            self.sign_in_button.setText(self.tr("Signing in…"))
        else:
            self.sign_in_button.setText(self.tr("Sign in"))

    def show_error(self, message: str) -> None:
        """A refusal, shown in the dialog; the password is cleared for the next try."""
        self.set_busy(False)
        self.error.setText(message)
        self.error.show()
        self.password.clear()
        self.password.setFocus()
