"""The Alerts tab of the Inventory view: open low-stock alerts, "Check now" and "Mail digest now".

Checking compares every level with its threshold (``alerts.evaluate``); the digest mails the alerts not
mailed yet through the store's mail server, with the password from this machine's keyring. With no mail
server set up, the tab says so and offers the settings instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.db import Database
from backoffice.secrets import SecretStore
from backoffice.services import alerts, settings
from backoffice.services.alerts import AlertRow, DigestResult, Evaluation
from backoffice.services.base import Actor
from backoffice.services.settings import smtp_secret_key
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.common import error_text, format_qty, setup_table
from backoffice.ui.views.inventory.model import PRODUCT, alerts_model
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState


@dataclass(frozen=True)
class DigestOutcome:
    status: str                       # sent, no_server, no_password
    result: DigestResult | None = None
    account: str = ""


def mail_digest(db: Database, actor: Actor, secrets: SecretStore) -> DigestOutcome:
    """Send the digest with the saved mail settings; run in a worker (it reads the keyring and talks SMTP)."""
    smtp = settings.get_smtp(db)
    if not smtp.configured:
        return DigestOutcome("no_server")
    password = None
    if smtp.username:
        password = secrets.get(smtp_secret_key(smtp))
        if password is None:
            return DigestOutcome("no_password", account=f"{smtp.username}@{smtp.host}")
    return DigestOutcome("sent", alerts.send_digest(db, actor, smtp, password))


class AlertsPanel(QWidget):
    count_changed = Signal(int)
    mail_settings_requested = Signal()

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 secrets: SecretStore | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.secrets = secrets or SecretStore()
        self._inflight = 0
        self._generation = 0
        self._stale = True

        self.summary = QLabel()
        self.summary.setObjectName("CountLabel")
        self.check_button = QPushButton(self.tr("Check now"))
        self.check_button.setToolTip(self.tr("Compare every stock level with its low-stock threshold now"))
        self.check_button.clicked.connect(self.check_now)
        self.mail_button = QPushButton(self.tr("Mail digest now"))
        self.mail_button.setToolTip(self.tr("Mail the alerts not mailed yet to the recipients of the mail settings"))
        self.mail_button.clicked.connect(self.mail_digest_now)
        self.banner = MessageBanner()
        self.setup_notice = QFrame()
        self.setup_notice.setObjectName("Notice")
        notice_text = QLabel(self.tr("No mail server is set up, so the digest cannot be sent. Set one up to mail "
                                     "low-stock alerts to the buyers."))
        notice_text.setWordWrap(True)
        self.setup_mail_button = QPushButton(self.tr("Mail server settings…"))
        self.setup_mail_button.setProperty("primary", True)
        self.setup_mail_button.clicked.connect(self.mail_settings_requested)
        notice = QHBoxLayout(self.setup_notice)
        notice.setContentsMargins(12, 8, 8, 8)
        notice.addWidget(notice_text, 1)
        notice.addWidget(self.setup_mail_button)
        self.setup_notice.hide()

        self.model = alerts_model(self)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=PRODUCT)
        self.empty = EmptyState("check-circle", self.tr("No low-stock alerts"),
                                self.tr("Every item is above its low-stock threshold. “Check now” compares the "
                                        "stock with the thresholds again."))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.check_button)
        bar.addWidget(self.mail_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(bar)
        layout.addWidget(self.banner)
        layout.addWidget(self.setup_notice)
        layout.addWidget(self.stack, 1)
        context.data_changed.connect(self._on_data_changed)

    def _on_data_changed(self) -> None:
        self._stale = True
        if self.isVisible():
            self.load()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.load()

    def is_loading(self) -> bool:
        return self._inflight > 0

    def load(self) -> None:
        db = self.context.db
        if db is None:
            return
        self._stale = False
        self._generation += 1
        gen = self._generation
        self._start(lambda: alerts.open_alerts(db, limit=2000), lambda rows: self._on_rows(gen, rows))

    def _on_rows(self, gen: int, rows: list[AlertRow]) -> None:
        if gen != self._generation:
            return
        self.model.set_rows(rows)
        unsent = sum(1 for r in rows if r.notified_at is None)
        self.summary.setText(self.tr("{n} open alerts · {unsent} not mailed yet").format(
            n=format_qty(len(rows)), unsent=format_qty(unsent)))
        self.stack.setCurrentWidget(self.table if rows else self.empty)
        self.count_changed.emit(len(rows))

    def check_now(self) -> None:
        db = self.context.db
        if db is None:
            return
        self._buttons(False)
        self._start(lambda: alerts.evaluate(db), self._on_evaluated, enable_after=True)

    def _on_evaluated(self, ev: Evaluation) -> None:
        self.banner.show_message(self.tr("Checked: {opened} new alerts, {closed} closed, {open} open.").format(
            opened=format_qty(ev.opened), closed=format_qty(ev.closed), open=format_qty(ev.open_now)),
            "warning" if ev.opened else "success")
        self.context.notify_data_changed()  # alerts were written: badges and this list refresh

    def mail_digest_now(self) -> None:
        db, actor, secrets = self.context.db, self.context.actor, self.secrets
        if db is None or actor is None:
            return
        self._buttons(False)
        self.setup_notice.hide()
        self._start(lambda: mail_digest(db, actor, secrets), self._on_mailed, enable_after=True)

    def _on_mailed(self, outcome: DigestOutcome) -> None:
        if outcome.status == "no_server":
            self.banner.hide()
            self.setup_notice.show()
            return
        if outcome.status == "no_password":
            self.banner.show_message(self.tr("No password for {account} is stored on this computer. Open the mail "
                                             "server settings and type it once.").format(account=outcome.account),
                                     "warning")
            self.setup_notice.show()
            return
        result = outcome.result
        assert result is not None
        if result.sent == 0:
            self.banner.show_message(self.tr("Nothing to mail: every open alert has been mailed already."), "info")
        else:
            self.banner.show_message(self.tr("Mailed {n} alerts to {recipients}.").format(
                n=format_qty(result.sent), recipients=", ".join(result.recipients)), "success")
            self.context.notify_data_changed()

    def _buttons(self, on: bool) -> None:
        self.check_button.setEnabled(on)
        self.mail_button.setEnabled(on)

    def _start(self, task, on_done, *, enable_after: bool = False) -> None:  # type: ignore[no-untyped-def]
        self._inflight += 1

        def done(value) -> None:  # type: ignore[no-untyped-def]
            self._inflight -= 1
            if enable_after:
                self._buttons(True)
            on_done(value)

        def failed(exc: BaseException) -> None:
            self._inflight -= 1
            if enable_after:
                self._buttons(True)
            self.banner.show_message(error_text(exc), "error")

        self.tasks.run_in_background(task, done, failed, context=self)
