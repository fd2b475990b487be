"""Sending and receiving a purchase order, and a buyer's reorder levels: step dialogs (see
``widgets.step_dialog``) whose operation id is made once when they open, so a double click or a retry
writes once.

Receiving is scanner-friendly: each scan adds one unit to its line ("Start from zero" first, to count
the delivery by scanning). A line receiving more than is outstanding is marked red; the receipt then
asks for an explicit confirmation before it is posted as an over-receipt.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations.alerts import SmtpSettings, smtp_secret_key
from backoffice.operations.purchase_orders import MailRequest, OrderInfo
from backoffice.secrets import SecretStore
from backoffice.ui.context import AppContext
from backoffice.ui.format import format_amount, format_qty
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.purchasing.common import tr
from backoffice.ui.widgets.document_editor import stock_locations
from backoffice.ui.widgets.step_dialog import Arrival, ReceiveStepDialog, StepDialog


# -- sending --------------------------------------------------------------------------------------------
class SendDialog(StepDialog):
    """Send a draft: fixes it, sets the expected date, and (if a mail server is set) e-mails the PDF and
    XLSX to the supplier."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.info = info
        self.setWindowTitle(tr("Send {number}").format(number=info.number))
        self.setMinimumWidth(480)
        heading = QLabel(tr("Send {number} to {supplier}").format(number=info.number, supplier=info.supplier))
        heading.setObjectName("DetailsTitle")
        facts = QLabel(tr("{lines} lines · {units} units · {total}").format(
            lines=format_qty(len(info.lines)), units=format_qty(info.units), total=format_amount(info.total, info.currency)))
        facts.setObjectName("Muted")
        self.email = QCheckBox(tr("E-mail the PDF and Excel order to the supplier"))
        self.recipients = QLineEdit(info.supplier_email)
        self.recipients.setPlaceholderText(tr("supplier@example.com, another@example.com"))
        self.store_name = QLineEdit(tr("Backoffice"))
        self.hint = QLabel()
        self.hint.setObjectName("Muted")
        self.hint.setWordWrap(True)
        self.email.toggled.connect(self.recipients.setEnabled)
        self.email.setEnabled(False)
        self.recipients.setEnabled(False)
        self.smtp: SmtpSettings | None = None
        form = QFormLayout()
        form.addRow(tr("To"), self.recipients)
        form.addRow(tr("Store name"), self.store_name)
        self.send_button = self.add_step_button(tr("Send"), self.send)
        self.send_button.setAutoDefault(True)
        self.lay_out(heading, facts, self.email, form, self.hint)
        self.runner.read(lambda ops: ops.alerts.mail_settings(), self._on_smtp, on_error=lambda exc: None)

    def _on_smtp(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp
        if smtp.configured:
            self.email.setEnabled(True)
            self.email.setChecked(bool(self.info.supplier_email))
            self.hint.setText(tr("Sent through {host} from {sender}.").format(host=smtp.host, sender=smtp.sender))
        else:
            self.hint.setText(tr("No mail server is set up (Inventory › Alerts › Mail settings): the order is "
                                 "marked sent; export the PDF to send it yourself."))

    def send(self) -> None:
        info, op = self.info, self.operation_id
        smtp = self.smtp if self.email.isChecked() else None
        to = tuple(a.strip() for a in self.recipients.text().split(",") if a.strip())
        store_name = self.store_name.text().strip() or "Backoffice"

        def send_order(ops: Operations) -> OrderInfo:
            mail = None
            if smtp is not None:   # the keyring is read here, off the GUI thread
                password = SecretStore().get(smtp_secret_key(smtp)) if smtp.username else None
                mail = MailRequest(to, store_name, password=password)
            return ops.purchase_orders.send(info.id, expected_version=info.version, mail=mail, op_id=op)

        self.run_step(send_order, self.send_button)


# -- receiving ------------------------------------------------------------------------------------------
class ReceiveDialog(ReceiveStepDialog):
    """Per line, the units arriving now (what is outstanding, to start with), into a warehouse or store."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, locations: list[dict[str, Any]],
                 parent: QWidget | None = None) -> None:
        location = QComboBox()
        for label, loc_id in stock_locations(locations):
            location.addItem(label, loc_id)
        location.setCurrentIndex(max(0, location.findData(info.destination_location_id)))
        where = QHBoxLayout()
        where.addWidget(QLabel(tr("Into")))
        where.addWidget(location, 1)
        super().__init__(context, tasks, parent, number=info.number,
                         heading=tr("Receive {number} from {supplier}").format(number=info.number,
                                                                               supplier=info.supplier),
                         arrivals=[Arrival(ln.variant_id, ln.sku, ln.barcode, ln.title, ln.outstanding, ln.outstanding)
                                   for ln in info.lines],
                         expected=QT_TRANSLATE_NOOP("Stock", "Outstanding"), everything=tr("Everything outstanding"),
                         sku_width=130, above=[where])
        self.info, self.location = info, location
        self.setWindowTitle(tr("Receive {number}").format(number=info.number))
        self.setMinimumSize(700, 480)

    def summary_text(self, arriving: int, expected: int, over: list[Arrival]) -> str:
        text = tr("{arriving} of {outstanding} outstanding units arrive now").format(
            arriving=format_qty(arriving), outstanding=format_qty(expected))
        if over:
            text += " · " + tr("{n} lines more than ordered").format(n=format_qty(len(over)))
        return text

    def _confirm_over(self, lines: list[Arrival]) -> bool:
        names = ", ".join(f"{a.sku} ({format_qty(a.arriving)} of {format_qty(a.expected)})" for a in lines[:5])
        answer = QMessageBox.question(self, tr("More than ordered"),
                                      tr("More units arrived than are outstanding: {lines}. Receive them all?")
                                      .format(lines=names))
        return answer == QMessageBox.StandardButton.Yes

    def receive(self) -> None:
        over = [a for a in self.arrivals if a.over]
        if over and not self._confirm_over(over):
            return
        oid, op, quantities = self.info.id, self.operation_id, self.arriving()
        loc, allow = self.location.currentData(), bool(over)
        self.run_step(lambda ops: ops.purchase_orders.receive(oid, quantities, location_id=loc, allow_over_receipt=allow,
                                                              op_id=op), self.receive_button)


# -- a buyer's override ---------------------------------------------------------------------------------
class OverrideDialog(StepDialog):
    """A reorder point and order-up-to level set by hand for one variant at one location; unticked, the
    computed value applies again."""

    def __init__(self, context: AppContext, tasks: TaskManager, suggestion: Any, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.suggestion = suggestion
        self.setWindowTitle(tr("Reorder levels of {sku} at {location}").format(sku=suggestion.sku,
                                                                                location=suggestion.location))
        text = QLabel(tr("Computed from the sales: reorder at {rop}, order up to {s}. A value set here wins "
                         "and is marked ✎.").format(rop=format_qty(suggestion.reorder_point),
                                                    s=format_qty(suggestion.order_up_to)))
        text.setWordWrap(True)
        text.setObjectName("Muted")
        self.rop_set, self.rop = QCheckBox(tr("Reorder point")), QSpinBox()
        self.s_set, self.s = QCheckBox(tr("Order up to")), QSpinBox()
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
        self.save_button = self.add_step_button(tr("Save"), self.save)
        self.lay_out(text, form)

    def save(self) -> None:
        s, op = self.suggestion, self.operation_id
        rop = self.rop.value() if self.rop_set.isChecked() else None
        up_to = self.s.value() if self.s_set.isChecked() else None
        self.run_step(lambda ops: ops.replenishment.set_levels(variant_id=s.variant_id, location_id=s.location_id,
                                                               reorder_point=rop, order_up_to=up_to, op_id=op),
                      self.save_button)
