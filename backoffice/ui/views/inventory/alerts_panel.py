"""The Alerts tab of the Inventory view: open low-stock alerts, "Check now" and "Mail digest now".

Checking compares every level with its threshold (``ops.alerts.check_now``); the digest mails the alerts not
mailed yet through the store's mail server, with the password from this machine's keyring. With no mail
server set up, the tab says so and offers the settings instead of failing.

Every number shown is a true count (``ops.alerts.overview``): the list reads at most ``LIST_LIMIT`` rows and then
says "Showing 2,000 of 6,892 open alerts". A store that was never checked shows that state ("Not checked
yet"), not "no alerts": the thresholds have not been compared with the stock yet.
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

from backoffice.operations import Changes, Operations
from backoffice.operations import alerts as alert_ops
from backoffice.operations.alerts import AlertOverview, DigestResult, Evaluation, smtp_secret_key
from backoffice.operations.changes import ALERTS, STOCK, THRESHOLDS
from backoffice.secrets import SecretStore
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty, format_when
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.models import PRODUCT, alerts_model
from backoffice.ui.widgets.banner import TRANSIENT_MS, MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.records import setup_table

LIST_LIMIT = alert_ops.LIST_LIMIT  # rows read for the list; the counts are never capped
SHOWN = (ALERTS, STOCK, THRESHOLDS)


@dataclass(frozen=True)
class DigestOutcome:
    status: str                       # sent, no_server, no_password
    result: DigestResult | None = None
    account: str = ""


def mail_digest(ops: Operations, secrets: SecretStore) -> DigestOutcome:
    """Send the digest with the saved mail settings; run in a worker (it reads the keyring and talks SMTP)."""
    smtp = ops.alerts.mail_settings()
    if not smtp.configured:
        return DigestOutcome("no_server")
    password = None
    if smtp.username:
        password = secrets.get(smtp_secret_key(smtp))
        if password is None:
            return DigestOutcome("no_password", account=f"{smtp.username}@{smtp.host}")
    return DigestOutcome("sent", ops.alerts.send_digest(password))


class AlertsPanel(QWidget):
    count_changed = Signal(int)  # the true number of open alerts (the tab title, the sidebar badge)
    mail_settings_requested = Signal()

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 secrets: SecretStore | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.secrets = secrets or SecretStore()
        self.runner = Runner(context, tasks, self)
        self._generation = 0
        self._stale = True
        self.overview: AlertOverview | None = None

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
        self.empty = EmptyState("info", self.tr("Not checked yet"), "", action_text=self.tr("Check now"))
        self.empty.action.clicked.connect(self.check_now)
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

    def _on_data_changed(self, changes: Changes) -> None:
        if not changes.concerns(*SHOWN):
            return
        self._stale = True
        if self.isVisible():
            self.load()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.load()

    def is_loading(self) -> bool:
        return self.runner.busy

    def load(self) -> None:
        if self.context.ops is None:
            return
        self._stale = False
        self._generation += 1
        gen, limit = self._generation, LIST_LIMIT
        if self.overview is None:
            self.summary.setText(self.tr("Loading…"))
        self.runner.read(lambda ops: ops.alerts.overview(limit=limit), lambda found: self._on_overview(gen, found),
                         on_error=self._show_error)

    def _on_overview(self, gen: int, found: AlertOverview) -> None:
        if gen != self._generation:
            return
        self.overview = found
        self.model.set_rows(found.rows)
        self.summary.setText(self.summary_text(found))
        self.summary.setToolTip(self.tr("Last checked {when}").format(when=format_when(found.checked_at))
                                if found.checked_at else self.tr("The stock has not been checked yet"))
        if not found.checked and not found.open_total:
            self.empty.glyph.set_icon("info")
            self.empty.set_text(self.tr("Not checked yet"),
                                self.tr("The stock has not been compared with the low-stock thresholds yet, so "
                                        "there are no alerts to show. “Check now” compares them."))
            self.empty.action.show()
        elif not found.open_total:
            self.empty.glyph.set_icon("check-circle")
            self.empty.set_text(self.tr("No low-stock alerts"),
                                self.tr("Every item was above its low-stock threshold at the last check ({when}). "
                                        "Stock that fell since shows after the next check.").format(
                                    when=format_when(found.checked_at)))
            self.empty.action.show()
        self.stack.setCurrentWidget(self.table if found.rows else self.empty)
        self.count_changed.emit(found.open_total)

    def summary_text(self, found: AlertOverview) -> str:
        if not found.checked and not found.open_total:
            return self.tr("Not checked yet — Check now")
        unsent = self.tr("{unsent} not mailed yet").format(unsent=format_qty(found.unsent_total))
        if found.truncated:
            shown = self.tr("Showing {shown} of {n} open alerts").format(shown=format_qty(len(found.rows)),
                                                                         n=format_qty(found.open_total))
        elif found.open_total == 1:
            shown = self.tr("1 open alert")
        else:
            shown = self.tr("{n} open alerts").format(n=format_qty(found.open_total))
        checked = (self.tr("checked {when}").format(when=format_when(found.checked_at))
                   if found.checked_at else self.tr("not checked yet"))
        return " · ".join((shown, unsent, checked))

    def check_now(self) -> None:
        if self.context.ops is None:
            return
        self._buttons(False)
        self.runner.write(lambda ops: ops.alerts.check_now(), self._on_evaluated, on_error=self._on_action_failed)

    def _on_evaluated(self, ev: Evaluation) -> None:
        self._buttons(True)
        text = self.tr("Checked: {opened} new alerts, {closed} closed, {open} open.").format(
            opened=format_qty(ev.opened), closed=format_qty(ev.closed), open=format_qty(ev.open_now))
        if ev.opened:
            self.banner.show_message(text, "warning")  # new low stock: stays until read
        else:
            self.banner.show_message(text, "success", TRANSIENT_MS)
        # the write's changes (alerts) reach every view next: the badge and this list refresh

    def mail_digest_now(self) -> None:
        secrets = self.secrets
        if self.context.ops is None:
            return
        self._buttons(False)
        self.setup_notice.hide()
        self.runner.write(lambda ops: mail_digest(ops, secrets), self._on_mailed, on_error=self._on_action_failed)

    def _on_mailed(self, outcome: DigestOutcome) -> None:
        self._buttons(True)
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
            self.banner.show_message(self.tr("Nothing to mail: every open alert has been mailed already."), "info",
                                     TRANSIENT_MS)
        else:
            text = self.tr("Mailed {n} alerts to {recipients}.").format(
                n=format_qty(result.sent), recipients=", ".join(result.recipients))
            if 0 < result.listed < result.sent:
                text += " " + self.tr("The mail lists the newest {listed} and states the full count.").format(
                    listed=format_qty(result.listed))
            self.banner.show_message(text, "success", TRANSIENT_MS)

    def _buttons(self, on: bool) -> None:
        self.check_button.setEnabled(on)
        self.empty.action.setEnabled(on)
        self.mail_button.setEnabled(on)

    def _on_action_failed(self, exc: BaseException) -> None:
        self._buttons(True)
        self._show_error(exc)

    def _show_error(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")
