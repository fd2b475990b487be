"""Receiving and closing a shipped transfer. Each dialog makes its operation id once when it opens and is
busy (buttons off) while its step runs, so a double click or a retry posts the step once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.services import transfers
from backoffice.services.base import new_operation_id
from backoffice.services.transfers import TransferInfo
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.common import (
    Column,
    QuantityDelegate,
    RecordsModel,
    error_text,
    format_qty,
    plural,
    setup_table,
)
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.scanner import ScanField


class _StepDialog(QDialog):
    completed = Signal(object)   # the TransferInfo after the step

    def __init__(self, context: AppContext, tasks: TaskManager, info: TransferInfo, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.info = context, tasks, info
        self.operation_id = new_operation_id()
        self.banner = MessageBanner()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        self._busy = False

    def _run(self, step: Callable[[], TransferInfo], button: QPushButton) -> None:
        if self._busy:
            return
        self._busy = True
        button.setEnabled(False)

        def done(info: TransferInfo) -> None:
            self._busy = False
            self.context.notify_data_changed()
            self.completed.emit(info)
            self.accept()

        def failed(exc: BaseException) -> None:  # nothing moved: the same operation id may be posted again
            self._busy = False
            button.setEnabled(True)
            self.banner.show_message(error_text(exc), "error")

        self.tasks.run_in_background(step, done, failed, context=self)


@dataclass(frozen=True)
class Arrival:
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    in_transit: int
    arriving: int


ARRIVAL_COLUMNS = (
    Column(QT_TRANSLATE_NOOP("Stock", "SKU"), lambda r: r.sku, "sku", 110),
    Column(QT_TRANSLATE_NOOP("Stock", "Product"), lambda r: r.title, width=220),
    Column(QT_TRANSLATE_NOOP("Stock", "In transit"), lambda r: r.in_transit, "qty", 80),
    Column(QT_TRANSLATE_NOOP("Stock", "Arriving now"), lambda r: r.arriving, "qty", 96, editable=True),
)
COL_ARRIVING = 3


class ReceiveDialog(_StepDialog):
    """Per line, the units arriving now (what is in transit, to start with). A scan adds one to its line:
    "Start from zero" first, to count the arrivals by scanning."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: TransferInfo, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, info, parent)
        self.setWindowTitle(self.tr("Receive {number}").format(number=info.number))
        self.setMinimumSize(680, 460)
        heading = QLabel(self.tr("Receive at {destination} from {source}").format(
            destination=info.destination, source=info.source))
        heading.setObjectName("DetailsTitle")
        self.received_units = 0   # posted by the last receive, for the message that reports it
        self.model = RecordsModel(ARRIVAL_COLUMNS, self, on_edit=self._on_edit, foreground=self._foreground)
        self.model.set_rows([Arrival(ln.variant_id, ln.sku, ln.barcode, ln.title, ln.in_transit, ln.in_transit)
                             for ln in info.lines if ln.in_transit > 0])
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=ARRIVAL_COLUMNS[1].header)
        self.table.setItemDelegateForColumn(COL_ARRIVING, QuantityDelegate(minimum=0, parent=self.table))
        self.scan = ScanField()
        self.scan.setPlaceholderText(self.tr("Scan each item as it is unpacked (adds one)"))
        self.scan.scanned.connect(self.scan_code)
        self.zero_button = QPushButton(self.tr("Start from zero"))
        self.zero_button.setToolTip(self.tr("Set every line to 0, then scan the items as they come out of the box"))
        self.zero_button.clicked.connect(lambda: self._set_all(lambda a: 0))
        self.all_button = QPushButton(self.tr("Everything in transit"))
        self.all_button.clicked.connect(lambda: self._set_all(lambda a: a.in_transit))
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.receive_button = self.buttons.addButton(self.tr("Receive"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.receive_button.setProperty("primary", True)
        self.receive_button.setAutoDefault(False)
        self.receive_button.clicked.connect(self.receive)
        tools = QHBoxLayout()
        tools.addWidget(self.scan, 1)
        tools.addWidget(self.zero_button)
        tools.addWidget(self.all_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
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
        return theme.DANGER if column == COL_ARRIVING and a.arriving > a.in_transit else None

    def _refresh(self) -> None:
        arriving = sum(a.arriving for a in self.arrivals)
        transit = sum(a.in_transit for a in self.arrivals)
        self.summary.setText(plural(transit, self.tr("{arriving} of {n} unit in transit arrives now"),
                                    self.tr("{arriving} of {n} units in transit arrive now"),
                                    arriving=format_qty(arriving)))
        self.receive_button.setEnabled(arriving > 0 and not self._busy)

    def receipt_text(self, info: TransferInfo) -> str:
        """What the receipt did, for the banner: "TR-000001: 12 of 30 units received; 18 still in transit"."""
        if info.replayed:
            return self.tr("{number}: this receipt was already posted; nothing moved again.").format(number=info.number)
        before = sum(a.in_transit for a in self.arrivals)
        left = info.in_transit
        received = self.received_units
        if left == 0:
            return plural(received, self.tr("{number}: {n} unit received; nothing left in transit."),
                          self.tr("{number}: all {n} units received; nothing left in transit."), number=info.number)
        return plural(before, self.tr("{number}: {received} of {n} unit received; {left} still in transit."),
                      self.tr("{number}: {received} of {n} units received; {left} still in transit."),
                      number=info.number, received=format_qty(received), left=format_qty(left))

    def receive(self) -> None:
        db, actor, tid, op = self.context.db, self.context.actor, self.info.id, self.operation_id
        if db is None or actor is None:
            return
        quantities = {a.variant_id: a.arriving for a in self.arrivals if a.arriving}
        self.received_units = sum(quantities.values())
        self._run(lambda: transfers.receive_transfer(db, actor, tid, quantities=quantities, operation_id=op),
                  self.receive_button)


class CloseDialog(_StepDialog):
    """What never arrived: written off as lost (with a reason) or sent back to the source."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: TransferInfo, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, info, parent)
        self.setWindowTitle(self.tr("Close {number}").format(number=info.number))
        self.setMinimumWidth(480)
        heading = QLabel(plural(info.in_transit, self.tr("{n} unit is still in transit"),
                                self.tr("{n} units are still in transit")))
        heading.setObjectName("DetailsTitle")
        text = QLabel(self.tr("Closing the transfer settles what has not arrived at {destination}.").format(
            destination=info.destination))
        text.setWordWrap(True)
        text.setObjectName("Muted")
        self.loss = QRadioButton(self.tr("Write off as lost"))
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(self.tr("Why the units are written off (required)"))
        self.back = QRadioButton(self.tr("Return to {source}").format(source=info.source))
        group = QButtonGroup(self)
        group.addButton(self.loss)
        group.addButton(self.back)
        self.loss.setChecked(True)
        self.loss.toggled.connect(self.reason.setEnabled)
        self.close_button = self.buttons.addButton(self.tr("Close transfer"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button.setProperty("primary", True)
        self.close_button.clicked.connect(self.close_transfer)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(heading)
        layout.addWidget(text)
        layout.addWidget(self.loss)
        layout.addWidget(self.reason)
        layout.addWidget(self.back)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)

    def close_transfer(self) -> None:
        db, actor, tid, op = self.context.db, self.context.actor, self.info.id, self.operation_id
        if db is None or actor is None:
            return
        shortfall = "loss" if self.loss.isChecked() else "return"
        reason = self.reason.text().strip()
        self._run(lambda: transfers.close_transfer(db, actor, tid, shortfall=shortfall, reason=reason,
                                                   operation_id=op), self.close_button)
