"""The outgoing mail server: where low-stock digests and scheduled reports are sent from.

The settings are store-wide (in the database, through ``ops.alerts``); the password is not: it goes
to this machine's keyring under ``smtp_secret_key`` and is never shown again, only replaced. Loading,
saving and the test message all run in the background.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations, ValidationError
from backoffice.operations.alerts import SmtpSettings, smtp_secret_key
from backoffice.secrets import KeyringUnavailable, SecretStore
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import Glyph

_SECURITY = (("starttls", QT_TRANSLATE_NOOP("MailSettingsDialog", "STARTTLS")),
             ("ssl", QT_TRANSLATE_NOOP("MailSettingsDialog", "SSL/TLS")),
             ("none", QT_TRANSLATE_NOOP("MailSettingsDialog", "None (unencrypted)")))
_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def split_addresses(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in re.split(r"[,;\n]", text) if a.strip())


class MailSettingsDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 secrets: SecretStore | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.secrets = secrets or SecretStore()
        self.loaded: SmtpSettings | None = None
        self._busy = False
        self.setWindowTitle(self.tr("Mail server"))
        self.setMinimumWidth(520)

        heading = QLabel(self.tr("Outgoing mail server"))
        heading.setObjectName("DetailsTitle")
        intro = QLabel(self.tr("Low-stock digests and scheduled reports are sent through this server. The "
                               "password is kept in this computer's keyring, never in the settings."))
        intro.setObjectName("Muted")
        intro.setWordWrap(True)
        self.host = QLineEdit()
        self.host.setPlaceholderText("smtp.example.com")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(587)
        self.security = QComboBox()
        for value, label in _SECURITY:
            self.security.addItem(self.tr(label), value)
        self.security.activated.connect(self._security_chosen)
        self.username = QLineEdit()
        self.username.setPlaceholderText(self.tr("Leave empty if the server needs no login"))
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.sender = QLineEdit()
        self.sender.setPlaceholderText("stock@shop.example")
        self.recipients = QLineEdit()
        self.recipients.setPlaceholderText(self.tr("buyer@shop.example, manager@shop.example"))
        self.recipients.setToolTip(self.tr("Who gets the low-stock digest; separate addresses with commas"))
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(self.tr("Server"), self.host)
        form.addRow(self.tr("Port"), self.port)
        form.addRow(self.tr("Security"), self.security)
        form.addRow(self.tr("User name"), self.username)
        form.addRow(self.tr("Password"), self.password)
        form.addRow(self.tr("Sender"), self.sender)
        form.addRow(self.tr("Recipients"), self.recipients)
        self.banner = MessageBanner()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setProperty("primary", True)
        self.test_button = QPushButton(self.tr("Send test message"))
        self.test_button.setToolTip(self.tr("Send a short message to the recipients with these settings (not saved yet)"))
        self.buttons.addButton(self.test_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.test_button.clicked.connect(self.send_test)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(Glyph("server", diameter=56, color=theme.ACCENT), 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self._set_busy(True)
        self._load()

    # -- loading -----------------------------------------------------------------------------------------
    def _load(self) -> None:
        secrets = self.secrets

        def settings_and_password_kept(ops: Operations) -> tuple[SmtpSettings, bool]:
            smtp = ops.alerts.mail_settings()
            stored = False
            if smtp.username:
                try:
                    stored = secrets.get(smtp_secret_key(smtp)) is not None
                except KeyringUnavailable:
                    stored = False
            return smtp, stored

        if not self.runner.read(settings_and_password_kept, self._on_loaded, on_error=self._on_failed):
            self._set_busy(False)

    def _on_loaded(self, loaded: tuple[SmtpSettings, bool]) -> None:
        smtp, has_password = loaded
        self.loaded = smtp
        self.host.setText(smtp.host)
        self.port.setValue(smtp.port)
        self.security.setCurrentIndex(max(0, self.security.findData(smtp.security)))
        self.username.setText(smtp.username)
        self.sender.setText(smtp.sender)
        self.recipients.setText(", ".join(smtp.recipients))
        self.password.setPlaceholderText(self.tr("Saved in the keyring — type to replace") if has_password else "")
        self._set_busy(False)

    def _security_chosen(self) -> None:
        if self.port.value() in _DEFAULT_PORTS.values():
            self.port.setValue(_DEFAULT_PORTS[self.security.currentData()])

    def current_settings(self) -> SmtpSettings:
        return SmtpSettings(host=self.host.text().strip(), port=self.port.value(),
                            security=self.security.currentData(), username=self.username.text().strip(),
                            sender=self.sender.text().strip(), recipients=split_addresses(self.recipients.text()),
                            timeout_s=(self.loaded.timeout_s if self.loaded else SmtpSettings().timeout_s))

    # -- saving ------------------------------------------------------------------------------------------
    def save(self) -> None:
        if self.context.ops is None or self._busy:
            return
        smtp, password, secrets = self.current_settings(), self.password.text(), self.secrets

        def save_settings_and_password(ops: Operations) -> str:
            ops.alerts.save_mail_settings(smtp)
            if password and smtp.username:
                try:
                    secrets.set(smtp_secret_key(smtp), password)
                except KeyringUnavailable as exc:
                    secrets.remember_for_session(smtp_secret_key(smtp), password)
                    return str(exc)
            return ""

        self._set_busy(True)
        self.runner.write(save_settings_and_password, self._on_saved, on_error=self._on_failed)

    def _on_saved(self, keyring_problem: str) -> None:
        self._set_busy(False)
        if keyring_problem:
            self.password.clear()
            self.banner.show_message(self.tr("The settings were saved, but the password could not be stored: "
                                             "{error}").format(error=keyring_problem), "warning")
            return
        self.accept()

    # -- test message ------------------------------------------------------------------------------------
    def send_test(self) -> None:
        if self._busy or self.context.ops is None:
            return
        smtp, typed, secrets = self.current_settings(), self.password.text(), self.secrets
        problems = smtp.problems() + ([] if smtp.recipients else [("mail server", "recipients",
                                                                   "name at least one recipient")])
        if problems:
            self._on_failed(ValidationError(problems))
            return

        def send_test_message(ops: Operations) -> tuple[str, ...]:
            password = typed or (secrets.get(smtp_secret_key(smtp)) if smtp.username else None)
            return ops.alerts.send_test_message(smtp, password)

        self._set_busy(True)
        self.banner.show_message(self.tr("Sending a test message…"), "info")
        self.runner.read(send_test_message, self._on_test_sent, on_error=self._on_failed)

    def _on_test_sent(self, recipients: tuple[str, ...]) -> None:
        self._set_busy(False)
        self.banner.show_message(self.tr("Test message sent to {recipients}.").format(recipients=", ".join(recipients)),
                                 "success")

    # -- shared ------------------------------------------------------------------------------------------
    def _on_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, ValidationError):
            text = "\n".join(f"{field_name}: {message}" for _row, field_name, message in exc.problems)
        else:
            text = str(exc) or type(exc).__name__
        self.banner.show_message(text, "error")

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.save_button.setEnabled(not busy)
        self.test_button.setEnabled(not busy)
