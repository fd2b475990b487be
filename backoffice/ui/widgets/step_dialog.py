"""One step on a stock document as a dialog: shipping, sending, receiving, closing, cancelling; posting a
count. The dialog says what the step will do and has the button that does it; the step runs through the
contract with a :class:`~backoffice.ui.operations.Runner` (the button off while it runs), and the
dialog closes when it succeeded, emitting ``completed`` with the step's result. The operation id is
made once, when the dialog opens: a double click, or a retry after an error (nothing was written),
posts the step once.

:class:`ReceiveStepDialog` is the receiving kind: per line, the units arriving now (what is expected, to
start with); each scan adds one to its line ("Start from zero" first, to count a delivery by scanning);
a line receiving more than is expected is marked red.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, translator
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.pills import elide_sku_columns
from backoffice.ui.widgets.records import Column, QuantityDelegate, RecordsModel, setup_table
from backoffice.ui.widgets.scanner import ScanField

tr = translator("Stock")


class StepDialog(QDialog):
    completed = Signal(object)   # what the step returned (the document after it)

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.operation_id = uuid.uuid4().hex
        self.banner = MessageBanner()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.rejected.connect(self.reject)
        self.busy = False

    def add_step_button(self, text: str, slot: Callable[[], Any]) -> QPushButton:
        """The button that takes the step (primary; Enter in a scan field does not press it)."""
        button = self.buttons.addButton(text, QDialogButtonBox.ButtonRole.AcceptRole)
        button.setProperty("primary", True)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    def lay_out(self, *parts: QWidget | QLayout, stretch: QWidget | None = None) -> QVBoxLayout:
        """The dialog's parts top to bottom, then the banner and the buttons; ``stretch`` takes the room."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        for part in (*parts, self.banner, self.buttons):
            if isinstance(part, QLayout):
                layout.addLayout(part)
            else:
                layout.addWidget(part, 1 if part is stretch else 0)
        return layout

    def run_step(self, action: Callable[[Operations], Any], button: QPushButton) -> bool:
        """``action(ops)`` (a write carrying :attr:`operation_id`) in the background; False when a step is
        already running or there is no connection."""
        if self.busy:
            return False
        self.busy = True
        button.setEnabled(False)
        started = self.runner.write(action, self._step_done, on_error=partial(self._step_failed, button))
        if not started:
            self.busy = False
            button.setEnabled(True)
        return started

    def _step_done(self, result: Any) -> None:
        self.busy = False
        self.completed.emit(result)
        self.accept()

    def _step_failed(self, button: QPushButton, exc: BaseException) -> None:
        # Nothing was written: the same operation id may be posted again.
        self.busy = False
        button.setEnabled(True)
        self.banner.show_message(error_text(exc), "error")


# -- receiving ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Arrival:
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    expected: int       # in transit, or outstanding on the order
    arriving: int

    @property
    def over(self) -> bool:
        return self.arriving > self.expected


COL_ARRIVING = 3


def arrival_columns(expected: str, sku_width: int = 110) -> tuple[Column, ...]:
    """``expected``: the heading of what is expected ("In transit", "Outstanding"), untranslated."""
    return (
        Column(QT_TRANSLATE_NOOP("Stock", "SKU"), lambda r: r.sku, "sku", sku_width),
        Column(QT_TRANSLATE_NOOP("Stock", "Product"), lambda r: r.title, width=220),
        Column(expected, lambda r: r.expected, "qty", 90),
        Column(QT_TRANSLATE_NOOP("Stock", "Arriving now"), lambda r: r.arriving, "qty", 96, editable=True),
    )


class ReceiveStepDialog(StepDialog):
    """Subclasses say what is expected (:meth:`summary_text`) and post the receipt (:meth:`receive`)."""

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None, *, number: str,
                 heading: str, arrivals: Sequence[Arrival], expected: str, everything: str, sku_width: int = 110,
                 above: Sequence[QWidget | QLayout] = ()) -> None:
        super().__init__(context, tasks, parent)
        self.number = number
        title = QLabel(heading)
        title.setObjectName("DetailsTitle")
        columns = arrival_columns(expected, sku_width)
        self.model = RecordsModel(columns, self, on_edit=self._on_edit, foreground=self._foreground)
        self.model.set_rows(list(arrivals))
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=columns[1].header)
        elide_sku_columns(self.table, self.model)
        self.table.setItemDelegateForColumn(COL_ARRIVING, QuantityDelegate(minimum=0, parent=self.table))
        self.scan = ScanField()
        self.scan.setPlaceholderText(tr("Scan each item as it is unpacked (adds one)"))
        self.scan.scanned.connect(self.scan_code)
        self.zero_button = QPushButton(tr("Start from zero"))
        self.zero_button.setToolTip(tr("Set every line to 0, then scan the items as they come out of the box"))
        self.zero_button.clicked.connect(lambda: self._set_all(lambda a: 0))
        self.all_button = QPushButton(everything)
        self.all_button.clicked.connect(lambda: self._set_all(lambda a: a.expected))
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.receive_button = self.add_step_button(tr("Receive"), self.receive)
        tools = QHBoxLayout()
        tools.addWidget(self.scan, 1)
        tools.addWidget(self.zero_button)
        tools.addWidget(self.all_button)
        self.lay_out(title, *above, tools, self.table, self.summary, stretch=self.table)
        self._refresh()
        self.scan.setFocus()

    @property
    def arrivals(self) -> list[Arrival]:
        return self.model.rows

    def arriving(self) -> dict[int, int]:
        """variant id -> units arriving now, the lines with any."""
        return {a.variant_id: a.arriving for a in self.arrivals if a.arriving}

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
        self.banner.show_message(tr("“{code}” is not on {number}.").format(code=code, number=self.number), "error")

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
        self.summary.setText(self.summary_text(arriving, sum(a.expected for a in self.arrivals),
                                               [a for a in self.arrivals if a.over]))
        self.receive_button.setEnabled(arriving > 0 and not self.busy)

    def summary_text(self, arriving: int, expected: int, over: list[Arrival]) -> str:
        raise NotImplementedError

    def receive(self) -> None:
        raise NotImplementedError
