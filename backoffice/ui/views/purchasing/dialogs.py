"""Sending and receiving a purchase order. Each dialog makes its operation id once when it opens and is
busy (buttons off) while its step runs, so a double click or a retry posts the step once.

Receiving is scanner-friendly: each scan adds one unit to its line ("Start from zero" first, to count
the delivery by scanning). A line receiving more than is outstanding is marked red; the receipt then
asks for an explicit confirmation before it is posted as an over-receipt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.secrets import SecretStore
from backoffice.services import purchase_orders, replenishment, settings
from backoffice.services.base import new_operation_id
from backoffice.services.po_documents import OrderMail
from backoffice.services.purchase_orders import OrderInfo
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.common import (
    Column,
    QuantityDelegate,
    RecordsModel,
    error_text,
    format_qty,
    setup_table,
)
from backoffice.ui.views.purchasing.common import elide_sku_columns, format_money
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.scanner import ScanField


class _StepDialog(QDialog):
    completed = Signal(object)   # the OrderInfo after the step

    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.info = context, tasks, info
        self.operation_id = new_operation_id()
        self.banner = MessageBanner()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        self._busy = False

    def _run(self, step: Callable[[], Any], button: QPushButton) -> None:
        if self._busy:
            return
        self._busy = True
        button.setEnabled(False)

        def done(info: OrderInfo) -> None:
            self._busy = False
            self.context.notify_data_changed()
            self.completed.emit(info)
            self.accept()

        def failed(exc: BaseException) -> None:  # nothing was written: the same operation id may be posted again
            self._busy = False
            button.setEnabled(True)
            self.banner.show_message(error_text(exc), "error")

        self.tasks.run_in_background(step, done, failed, context=self)


# -- sending --------------------------------------------------------------------------------------------
class SendDialog(_StepDialog):
    """Send a draft: fixes it, sets the expected date, and (if a mail server is set) e-mails the PDF and
    XLSX to the supplier."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, info, parent)
        self.setWindowTitle(self.tr("Send {number}").format(number=info.number))
        self.setMinimumWidth(480)
        heading = QLabel(self.tr("Send {number} to {supplier}").format(number=info.number, supplier=info.supplier))
        heading.setObjectName("DetailsTitle")
        facts = QLabel(self.tr("{lines} lines · {units} units · {total}").format(
            lines=format_qty(len(info.lines)), units=format_qty(info.units), total=format_money(info.total, info.currency)))
        facts.setObjectName("Muted")
        self.email = QCheckBox(self.tr("E-mail the PDF and Excel order to the supplier"))
        self.recipients = QLineEdit(info.supplier_email)
        self.recipients.setPlaceholderText(self.tr("supplier@example.com, another@example.com"))
        self.store_name = QLineEdit(self.tr("Backoffice"))
        self.hint = QLabel()
        self.hint.setObjectName("Muted")
        self.hint.setWordWrap(True)
        self.email.toggled.connect(self.recipients.setEnabled)
        self.email.setEnabled(False)
        self.recipients.setEnabled(False)
        self.smtp = None
        form = QFormLayout()
        form.addRow(self.tr("To"), self.recipients)
        form.addRow(self.tr("Store name"), self.store_name)
        self.send_button = self.buttons.addButton(self.tr("Send"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.send_button.setProperty("primary", True)
        self.send_button.clicked.connect(self.send)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(facts)
        layout.addWidget(self.email)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        db = context.db
        if db is not None:
            tasks.run_in_background(lambda: settings.get_smtp(db), self._on_smtp, lambda exc: None, context=self)

    def _on_smtp(self, smtp: settings.SmtpSettings) -> None:
        self.smtp = smtp
        if smtp.configured:
            self.email.setEnabled(True)
            self.email.setChecked(bool(self.info.supplier_email))
            self.hint.setText(self.tr("Sent through {host} from {sender}.").format(host=smtp.host, sender=smtp.sender))
        else:
            self.hint.setText(self.tr("No mail server is set up (Inventory › Alerts › Mail settings): the order is "
                                      "marked sent; export the PDF to send it yourself."))

    def send(self) -> None:
        db, actor, info = self.context.db, self.context.actor, self.info
        if db is None or actor is None:
            return
        smtp = self.smtp if self.email.isChecked() else None
        to = tuple(a.strip() for a in self.recipients.text().split(",") if a.strip())
        store_name = self.store_name.text().strip() or "Backoffice"

        def work() -> OrderInfo:
            mail = None
            if smtp is not None:   # the keyring is read here, off the GUI thread
                password = SecretStore().get(settings.smtp_secret_key(smtp)) if smtp.username else None
                mail = OrderMail(smtp, password, to, store_name)
            return purchase_orders.send_order(db, actor, info.id, expected_version=info.version, mail=mail)

        self._run(work, self.send_button)


# -- receiving ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Arrival:
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    outstanding: int
    arriving: int

    @property
    def over(self) -> bool:
        return self.arriving > self.outstanding


ARRIVAL_COLUMNS = (
    Column(QT_TRANSLATE_NOOP("Stock", "SKU"), lambda r: r.sku, "sku", 130),
    Column(QT_TRANSLATE_NOOP("Stock", "Product"), lambda r: r.title, width=220),
    Column(QT_TRANSLATE_NOOP("Stock", "Outstanding"), lambda r: r.outstanding, "qty", 90),
    Column(QT_TRANSLATE_NOOP("Stock", "Arriving now"), lambda r: r.arriving, "qty", 96, editable=True),
)
COL_ARRIVING = 3


class ReceiveDialog(_StepDialog):
    """Per line, the units arriving now (what is outstanding, to start with), into a warehouse or store."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, locations: list[dict[str, Any]],
                 parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, info, parent)
        self.setWindowTitle(self.tr("Receive {number}").format(number=info.number))
        self.setMinimumSize(700, 480)
        heading = QLabel(self.tr("Receive {number} from {supplier}").format(number=info.number, supplier=info.supplier))
        heading.setObjectName("DetailsTitle")
        self.location = QComboBox()
        for loc in locations:
            if loc["kind"] in ("warehouse", "store") and loc.get("active", True):
                self.location.addItem(f"{loc['code']} · {loc['name']}", loc["id"])
        self.location.setCurrentIndex(max(0, self.location.findData(info.destination_location_id)))
        self.model = RecordsModel(ARRIVAL_COLUMNS, self, on_edit=self._on_edit, foreground=self._foreground)
        self.model.set_rows([Arrival(ln.variant_id, ln.sku, ln.barcode, ln.title, ln.outstanding, ln.outstanding)
                             for ln in info.lines])
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=ARRIVAL_COLUMNS[1].header)
        elide_sku_columns(self.table, self.model)
        self.table.setItemDelegateForColumn(COL_ARRIVING, QuantityDelegate(minimum=0, parent=self.table))
        self.scan = ScanField()
        self.scan.setPlaceholderText(self.tr("Scan each item as it is unpacked (adds one)"))
        self.scan.scanned.connect(self.scan_code)
        self.zero_button = QPushButton(self.tr("Start from zero"))
        self.zero_button.clicked.connect(lambda: self._set_all(lambda a: 0))
        self.all_button = QPushButton(self.tr("Everything outstanding"))
        self.all_button.clicked.connect(lambda: self._set_all(lambda a: a.outstanding))
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.receive_button = self.buttons.addButton(self.tr("Receive"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.receive_button.setProperty("primary", True)
        self.receive_button.setAutoDefault(False)
        self.receive_button.clicked.connect(self.receive)
        where = QHBoxLayout()
        where.addWidget(QLabel(self.tr("Into")))
        where.addWidget(self.location, 1)
        tools = QHBoxLayout()
        tools.addWidget(self.scan, 1)
        tools.addWidget(self.zero_button)
        tools.addWidget(self.all_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addLayout(where)
        layout.addLayout(tools)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self._refresh()
        self.scan.setFocus()

    @property
    def arrivals(self) -> list[Arrival]:
        return self.model.rows

    def scan_code(self, code: str) -> None:
        key = code.strip().casefold()
        for i, a in enumerate(self.arrivals):
            if key in (a.sku.casefold(), (a.barcode or "").casefold()):
                self.model.replace_row(i, replace(a, arriving=a.arriving + 1))
                self.table.setCurrentIndex(self.model.index(i, COL_ARRIVING))
                self.banner.hide()
                self._refresh()
                return
        self.scan.flash_error()
        self.banner.show_message(self.tr("“{code}” is not on {number}.").format(code=code, number=self.info.number),
                                 "error")

    def _set_all(self, value: Callable[[Arrival], int]) -> None:
        self.model.set_rows([replace(a, arriving=value(a)) for a in self.arrivals])
        self._refresh()
        self.scan.setFocus()

    def _on_edit(self, row: int, _column: int, value: Any) -> bool:
        self.model.replace_row(row, replace(self.arrivals[row], arriving=int(value)))
        self._refresh()
        return True

    @staticmethod
    def _foreground(a: Arrival, column: int) -> str | None:
        return theme.DANGER if column == COL_ARRIVING and a.over else None

    def _refresh(self) -> None:
        arriving = sum(a.arriving for a in self.arrivals)
        outstanding = sum(a.outstanding for a in self.arrivals)
        over = [a for a in self.arrivals if a.over]
        text = self.tr("{arriving} of {outstanding} outstanding units arrive now").format(
            arriving=format_qty(arriving), outstanding=format_qty(outstanding))
        if over:
            text += " · " + self.tr("{n} lines more than ordered").format(n=format_qty(len(over)))
        self.summary.setText(text)
        self.receive_button.setEnabled(arriving > 0 and not self._busy)

    def _confirm_over(self, lines: list[Arrival]) -> bool:
        names = ", ".join(f"{a.sku} ({format_qty(a.arriving)} of {format_qty(a.outstanding)})" for a in lines[:5])
        answer = QMessageBox.question(self, self.tr("More than ordered"),
                                      self.tr("More units arrived than are outstanding: {lines}. Receive them all?")
                                      .format(lines=names))
        return answer == QMessageBox.StandardButton.Yes

    def receive(self) -> None:
        db, actor, oid, op = self.context.db, self.context.actor, self.info.id, self.operation_id
        if db is None or actor is None:
            return
        over = [a for a in self.arrivals if a.over]
        if over and not self._confirm_over(over):
            return
        quantities = {a.variant_id: a.arriving for a in self.arrivals if a.arriving}
        loc, allow = self.location.currentData(), bool(over)
        self._run(lambda: purchase_orders.receive_order(db, actor, oid, quantities=quantities, operation_id=op,
                                                        location_id=loc, allow_over_receipt=allow),
                  self.receive_button)


# -- a buyer's override ---------------------------------------------------------------------------------
class OverrideDialog(QDialog):
    """A reorder point and order-up-to level set by hand for one variant at one location; unticked, the
    computed value applies again."""

    completed = Signal()

    def __init__(self, context: AppContext, tasks: TaskManager, suggestion: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.suggestion = context, tasks, suggestion
        self.setWindowTitle(self.tr("Reorder levels of {sku} at {location}").format(sku=suggestion.sku,
                                                                                     location=suggestion.location))
        self.banner = MessageBanner()
        text = QLabel(self.tr("Computed from the sales: reorder at {rop}, order up to {s}. A value set here wins "
                              "and is marked ✎.").format(rop=format_qty(suggestion.reorder_point),
                                                         s=format_qty(suggestion.order_up_to)))
        text.setWordWrap(True)
        text.setObjectName("Muted")
        self.rop_set, self.rop = QCheckBox(self.tr("Reorder point")), QSpinBox()
        self.s_set, self.s = QCheckBox(self.tr("Order up to")), QSpinBox()
        for box, spin, value, overridden in ((self.rop_set, self.rop, suggestion.reorder_point,
                                              suggestion.reorder_point_override),
                                             (self.s_set, self.s, suggestion.order_up_to, suggestion.order_up_to_override)):
            spin.setRange(0, 1_000_000)
            spin.setGroupSeparatorShown(True)
            spin.setValue(value)
            box.setChecked(overridden)
            spin.setEnabled(overridden)
            box.toggled.connect(spin.setEnabled)
        form = QFormLayout()
        form.addRow(self.rop_set, self.rop)
        form.addRow(self.s_set, self.s)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)

    def save(self) -> None:
        db, actor, s = self.context.db, self.context.actor, self.suggestion
        if db is None or actor is None:
            return
        rop = self.rop.value() if self.rop_set.isChecked() else None
        up_to = self.s.value() if self.s_set.isChecked() else None
        self.buttons.setEnabled(False)

        def done(_none: Any) -> None:
            self.context.notify_data_changed()
            self.completed.emit()
            self.accept()

        def failed(exc: BaseException) -> None:
            self.buttons.setEnabled(True)
            self.banner.show_message(error_text(exc), "error")

        self.tasks.run_in_background(lambda: replenishment.set_overrides(
            db, actor, variant_id=s.variant_id, location_id=s.location_id, reorder_point=rop, order_up_to=up_to),
            done, failed, context=self)
