"""What the store's payment gateway reports, recorded here (the money itself never passes through the
back-office):

- Record payment…: an order's payment status (pending, authorised, paid, partly refunded, refunded,
  cancelled); a cancelled payment does not cancel the order;
- Record refund…: a return's refund status (pending, refunded, declined) and the amount refunded, the
  amount decided when the return was authorised to start with.

Both are step dialogs (see ``widgets.step_dialog``): one operation id per opening, the write through the
contract in the background, the service's message in the dialog's banner when it refuses.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QWidget

from backoffice.operations.orders import PAYMENT_STATUSES, OrderInfo
from backoffice.operations.returns import REFUND_STATUSES, ReturnInfo
from backoffice.ui.context import AppContext
from backoffice.ui.format import format_amount
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.orders.models import payment_label, return_state_label, tr
from backoffice.ui.widgets.rows import muted
from backoffice.ui.widgets.step_dialog import StepDialog

MAX_REFUND = 10_000_000
REFUND_WORDS = {"pending": QT_TRANSLATE_NOOP("Sales", "pending"), "refunded": QT_TRANSLATE_NOOP("Sales", "refunded"),
                "declined": QT_TRANSLATE_NOOP("Sales", "declined")}
REFUND_STATUS_LABELS = {
    "pending": QT_TRANSLATE_NOOP("Sales", "Pending: the store has not paid it yet"),
    "refunded": QT_TRANSLATE_NOOP("Sales", "Refunded: the store paid it back"),
    "declined": QT_TRANSLATE_NOOP("Sales", "Declined: no refund is paid"),
}


def refund_word(status: str) -> str:
    return tr(REFUND_WORDS[status]) if status in REFUND_WORDS else status


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("DetailsTitle")
    label.setWordWrap(True)
    return label


def money_box(currency: str) -> QDoubleSpinBox:
    """An amount with cents, group separators and its currency, as the Return dialog's refund."""
    box = QDoubleSpinBox()
    box.setDecimals(2)
    box.setRange(0, MAX_REFUND)
    box.setGroupSeparatorShown(True)
    box.setSuffix(f" {currency}")
    box.setMinimumWidth(160)
    return box


def amount_text(box: QDoubleSpinBox) -> str:
    """The box's value as the exact decimal text the contract takes ("150.00")."""
    return f"{Decimal(str(box.value())).quantize(Decimal('0.01'))}"


class RecordPaymentDialog(StepDialog):
    """The order's payment status as the store reports it; Record is off until a different one is chosen."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.info = info
        self.setWindowTitle(tr("Payment of {number}").format(number=info.number))
        self.setMinimumWidth(460)
        self.status = QComboBox()
        for status in PAYMENT_STATUSES:
            self.status.addItem(payment_label(status), status)
        self.status.setCurrentIndex(max(0, self.status.findData(info.status)))
        self.status.currentIndexChanged.connect(lambda _i: self._refresh())
        form = QFormLayout()
        form.addRow(tr("Payment"), self.status)
        text = tr("As the store's payment gateway reports it for {amount}; the money stays with the gateway. "
                  "A cancelled payment does not cancel the order: use Cancel… for that.").format(
            amount=format_amount(info.total, info.currency))
        self.record_button = self.add_step_button(tr("Record payment"), self.record)
        self.lay_out(_heading(tr("The payment of {number} is now…").format(number=info.number)), muted(text), form)
        self._refresh()

    def choose(self, status: str) -> None:
        self.status.setCurrentIndex(self.status.findData(status))

    def _refresh(self) -> None:
        self.record_button.setEnabled(self.status.currentData() != self.info.status and not self.busy)

    def record(self) -> None:
        oid, op, status = self.info.id, self.operation_id, self.status.currentData()
        if status and status != self.info.status:
            self.run_step(lambda ops: ops.orders.record_payment(oid, status=status, op_id=op), self.record_button)

    @staticmethod
    def done_text(result: OrderInfo) -> str:
        return tr("{number}: payment recorded as {status}.").format(number=result.number,
                                                                     status=payment_label(result.status).lower())


class RecordRefundDialog(StepDialog):
    """A return's refund as the store's gateway reports it: its status (Refunded to start with while the
    refund is pending: what is usually recorded next) and the amount refunded (the amount decided when it
    was authorised, unless the store paid another). Record is off while both are what is recorded."""

    def __init__(self, context: AppContext, tasks: TaskManager, ret: ReturnInfo, currency: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.ret, self.currency = ret, currency
        self.setWindowTitle(tr("Refund of {number}").format(number=ret.number))
        self.setMinimumWidth(500)
        self.status = QComboBox()
        for status in REFUND_STATUSES:
            self.status.addItem(tr(REFUND_STATUS_LABELS.get(status, status)), status)
        wanted = "refunded" if ret.refund_status == "pending" else ret.refund_status
        self.status.setCurrentIndex(max(0, self.status.findData(wanted)))
        self.status.currentIndexChanged.connect(lambda _i: self._refresh())
        self.amount = money_box(currency)
        self.amount.setValue(float(ret.refund_amount))
        self.amount.valueChanged.connect(lambda _v: self._refresh())
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow(tr("Refund"), self.status)
        form.addRow(tr("Amount"), self.amount)
        text = tr("{state} return of {order}; {amount} was decided when it was authorised, and the refund is "
                  "{status}. The store's payment gateway pays it: this records what it reports.").format(
            state=return_state_label(ret.state), order=ret.order_number,
            amount=format_amount(ret.refund_amount, currency), status=refund_word(ret.refund_status))
        self.summary = muted()
        self.record_button = self.add_step_button(tr("Record refund"), self.record)
        self.lay_out(_heading(tr("The refund of {number}").format(number=ret.number)), muted(text), form, self.summary)
        self._refresh()

    def set_refund(self, status: str, amount: Decimal | str | None = None) -> None:
        """Choose a status (and an amount), as a person would with the pickers."""
        self.status.setCurrentIndex(self.status.findData(status))
        if amount is not None:
            self.amount.setValue(float(Decimal(str(amount))))

    def chosen(self) -> tuple[str, str]:
        return self.status.currentData(), amount_text(self.amount)

    def _refresh(self) -> None:
        status, amount = self.chosen()
        unchanged = status == self.ret.refund_status and Decimal(amount) == self.ret.refund_amount
        if unchanged:
            self.summary.setText(tr("That is what is recorded already."))
        elif status == "refunded":
            self.summary.setText(tr("{amount} refunded to the customer.").format(
                amount=format_amount(amount, self.currency)))
        else:
            self.summary.setText("")
        self.summary.setVisible(bool(self.summary.text()))
        self.record_button.setEnabled(not unchanged and not self.busy)

    def record(self) -> None:
        rid, op, (status, amount) = self.ret.id, self.operation_id, self.chosen()
        self.run_step(lambda ops: ops.returns.record_refund(rid, status=status, amount=amount, op_id=op),
                      self.record_button)

    def done_text(self, result: ReturnInfo) -> str:
        return tr("{number}: refund of {amount} recorded as {status}.").format(
            number=result.number, amount=format_amount(result.refund_amount, self.currency),
            status=refund_word(result.refund_status))
