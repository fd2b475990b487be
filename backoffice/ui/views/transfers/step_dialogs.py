"""Receiving and closing a shipped transfer: step dialogs (see ``widgets.step_dialog``) whose operation id
is made once when they open, so a double click or a retry posts the step once."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtWidgets import QButtonGroup, QLabel, QLineEdit, QRadioButton, QWidget

from backoffice.operations.transfers import TransferInfo
from backoffice.ui.context import AppContext
from backoffice.ui.format import format_qty, plural, translator
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.step_dialog import Arrival, ReceiveStepDialog, StepDialog

tr = translator("Stock")


class ReceiveDialog(ReceiveStepDialog):
    """Per line, the units arriving now (what is in transit, to start with). A scan adds one to its line:
    "Start from zero" first, to count the arrivals by scanning."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: TransferInfo, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent, number=info.number,
                         heading=tr("Receive at {destination} from {source}").format(destination=info.destination,
                                                                                     source=info.source),
                         arrivals=[Arrival(ln.variant_id, ln.sku, ln.barcode, ln.title, ln.in_transit, ln.in_transit)
                                   for ln in info.lines if ln.in_transit > 0],
                         expected=QT_TRANSLATE_NOOP("Stock", "In transit"), everything=tr("Everything in transit"))
        self.info = info
        self.received_units = 0   # posted by the last receive, for the message that reports it
        self.setWindowTitle(tr("Receive {number}").format(number=info.number))
        self.setMinimumSize(680, 460)

    def summary_text(self, arriving: int, expected: int, over: list[Arrival]) -> str:
        return plural(expected, tr("{arriving} of {n} unit in transit arrives now"),
                      tr("{arriving} of {n} units in transit arrive now"), arriving=format_qty(arriving))

    def receipt_text(self, info: TransferInfo) -> str:
        """What the receipt did, for the banner: "TR-000001: 12 of 30 units received; 18 still in transit"."""
        if info.replayed:
            return tr("{number}: this receipt was already posted; nothing moved again.").format(number=info.number)
        before = sum(a.expected for a in self.arrivals)
        left, received = info.in_transit, self.received_units
        if left == 0:
            return plural(received, tr("{number}: {n} unit received; nothing left in transit."),
                          tr("{number}: all {n} units received; nothing left in transit."), number=info.number)
        return plural(before, tr("{number}: {received} of {n} unit received; {left} still in transit."),
                      tr("{number}: {received} of {n} units received; {left} still in transit."),
                      number=info.number, received=format_qty(received), left=format_qty(left))

    def receive(self) -> None:
        tid, op, quantities = self.info.id, self.operation_id, self.arriving()
        self.received_units = sum(quantities.values())
        self.run_step(lambda ops: ops.transfers.receive(tid, quantities, op_id=op), self.receive_button)


class CloseDialog(StepDialog):
    """What never arrived: written off as lost (with a reason) or sent back to the source."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: TransferInfo, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.info = info
        self.setWindowTitle(tr("Close {number}").format(number=info.number))
        self.setMinimumWidth(480)
        heading = QLabel(plural(info.in_transit, tr("{n} unit is still in transit"), tr("{n} units are still in transit")))
        heading.setObjectName("DetailsTitle")
        text = QLabel(tr("Closing the transfer settles what has not arrived at {destination}.").format(
            destination=info.destination))
        text.setWordWrap(True)
        text.setObjectName("Muted")
        self.loss = QRadioButton(tr("Write off as lost"))
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(tr("Why the units are written off (required)"))
        self.back = QRadioButton(tr("Return to {source}").format(source=info.source))
        group = QButtonGroup(self)
        group.addButton(self.loss)
        group.addButton(self.back)
        self.loss.setChecked(True)
        self.loss.toggled.connect(self.reason.setEnabled)
        self.close_button = self.add_step_button(tr("Close transfer"), self.close_transfer)
        self.close_button.setAutoDefault(True)
        self.lay_out(heading, text, self.loss, self.reason, self.back)

    def close_transfer(self) -> None:
        tid, op = self.info.id, self.operation_id
        shortfall = "loss" if self.loss.isChecked() else "return"
        reason = self.reason.text().strip()
        self.run_step(lambda ops: ops.transfers.close(tid, shortfall=shortfall, reason=reason, op_id=op),
                      self.close_button)
