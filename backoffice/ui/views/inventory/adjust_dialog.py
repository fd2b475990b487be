"""Adjust stock: correct the books at one location with a reason (count, damage, loss, found).

Lines are added by scanning or typing a SKU/barcode; a scan adds one unit found, or one unit gone for
damage and loss. The operation id is made once when the dialog opens, so posting twice (a double click,
a retry after a lost answer) moves the stock once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations.adjustments import StockPosted
from backoffice.operations.stock import INTERNAL_KINDS
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.models import tr
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.records import Column, QuantityDelegate, RecordsModel, setup_table
from backoffice.ui.widgets.scanner import CodeResolver, ScanField

REASONS = (
    ("count", QT_TRANSLATE_NOOP("Stock", "Count correction")),
    ("damage", QT_TRANSLATE_NOOP("Stock", "Damaged")),
    ("loss", QT_TRANSLATE_NOOP("Stock", "Lost or stolen")),
    ("found", QT_TRANSLATE_NOOP("Stock", "Found")),
)
NEGATIVE_REASONS = ("damage", "loss")


@dataclass(frozen=True)
class AdjustLine:
    variant_id: int
    sku: str
    barcode: str | None
    title: str
    change: int
    on_hand: int | None = None   # at the chosen location; None until loaded

    @property
    def after(self) -> int | None:
        return None if self.on_hand is None else self.on_hand + self.change


COLUMNS = (
    Column(QT_TRANSLATE_NOOP("Stock", "SKU"), lambda r: r.sku, "sku", 120),
    Column(QT_TRANSLATE_NOOP("Stock", "Product"), lambda r: r.title, width=220),
    Column(QT_TRANSLATE_NOOP("Stock", "On hand"), lambda r: r.on_hand, "qty", 80),
    Column(QT_TRANSLATE_NOOP("Stock", "Change"), lambda r: r.change, "signed", 80, editable=True),
    Column(QT_TRANSLATE_NOOP("Stock", "After"), lambda r: r.after, "qty", 80),
)
COL_CHANGE, COL_AFTER = 3, 4


def internal_locations(locations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [loc for loc in locations if loc["kind"] in INTERNAL_KINDS and loc.get("active", True)]


def variant_resolver(context: AppContext, tasks: TaskManager, parent: QWidget) -> CodeResolver:
    """Looks up what the scanner typed (a barcode or a SKU) through the contract, in scan order."""
    ops: Operations | None = context.ops

    def find_variant(code: str) -> dict[str, Any] | None:
        return ops.transfers.find_variant(code) if ops is not None else None

    return CodeResolver(tasks, find_variant, parent)


class AdjustStockDialog(QDialog):
    posted = Signal(object)   # the StockPosted

    def __init__(self, context: AppContext, tasks: TaskManager, locations: list[dict[str, Any]], *,
                 location_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.operation_id = uuid.uuid4().hex
        self.setWindowTitle(self.tr("Adjust stock"))
        self.setMinimumSize(720, 520)
        self._levels_generation = 0
        self._posting = False

        self.location = QComboBox()
        for loc in internal_locations(locations):
            self.location.addItem(f"{loc['code']} · {loc['name']}", loc["id"])
        if location_id is not None:
            self.location.setCurrentIndex(max(0, self.location.findData(location_id)))
        self.location.currentIndexChanged.connect(self._refresh_levels)
        self.reason = QComboBox()
        for value, label in REASONS:
            self.reason.addItem(tr(label), value)
        self.note = QLineEdit()
        self.note.setPlaceholderText(self.tr("What happened (optional)"))
        self.note.setMaxLength(500)

        self.scan = ScanField()
        self.resolver = variant_resolver(context, tasks, self)
        self.resolver.resolved.connect(self._on_resolved)
        self.resolver.failed.connect(lambda code, exc: self.banner.show_message(error_text(exc), "error"))
        self.scan.scanned.connect(self.resolver.submit)

        self.model = RecordsModel(COLUMNS, self, on_edit=self._on_edit, foreground=self._foreground)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=COLUMNS[1].header)
        self.table.setItemDelegateForColumn(COL_CHANGE, QuantityDelegate(minimum=-1, parent=self.table))
        self.remove_button = QPushButton(self.tr("Remove line"))
        self.remove_button.setProperty("flat", True)
        self.remove_button.clicked.connect(self._remove_current)
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.banner = MessageBanner()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.post_button = buttons.addButton(self.tr("Post adjustment"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.post_button.setProperty("primary", True)
        self.post_button.setAutoDefault(False)
        self.post_button.clicked.connect(self.post)
        buttons.rejected.connect(self.reject)

        form = QFormLayout()
        form.addRow(self.tr("Location"), self.location)
        form.addRow(self.tr("Reason"), self.reason)
        form.addRow(self.tr("Note"), self.note)
        form.addRow(self.tr("Add items"), self.scan)
        under = QHBoxLayout()
        under.addWidget(self.summary, 1)
        under.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addLayout(under)
        layout.addWidget(self.banner)
        layout.addWidget(buttons)
        self._refresh_summary()
        self.scan.setFocus()

    # -- lines -----------------------------------------------------------------------------------------
    @property
    def lines(self) -> list[AdjustLine]:
        return self.model.rows

    def add_variant(self, variant: dict[str, Any], change: int | None = None) -> None:
        """One more unit (found, or gone for damage and loss) of ``variant`` (an ``ops.transfers.find_variant``
        answer), or the given change for a new line."""
        step = -1 if self.reason.currentData() in NEGATIVE_REASONS else 1
        for i, line in enumerate(self.lines):
            if line.variant_id == variant["variant_id"]:
                self.model.replace_row(i, replace(line, change=line.change + (change if change is not None else step)))
                self._select(i)
                self._refresh_summary()
                return
        self.model.append_rows([AdjustLine(variant["variant_id"], variant["sku"], variant.get("barcode"),
                                           variant["title"], step if change is None else change)])
        self.resolver.remember(variant["sku"], variant)
        self.resolver.remember(variant.get("barcode"), variant)
        self._select(len(self.lines) - 1)
        self._refresh_summary()
        self._refresh_levels()

    def _select(self, row: int) -> None:
        self.table.setCurrentIndex(self.model.index(row, COL_CHANGE))

    def _on_resolved(self, code: str, variant: dict[str, Any] | None) -> None:
        if variant is None:
            self.scan.flash_error()
            self.banner.show_message(self.tr("No item has the barcode or SKU “{code}”.").format(code=code), "error")
            return
        self.banner.hide()
        self.add_variant(variant)

    def _on_edit(self, row: int, _column: int, value: Any) -> bool:
        self.model.replace_row(row, replace(self.lines[row], change=int(value)))
        self._refresh_summary()
        return True

    def _remove_current(self) -> None:
        row = self.table.currentIndex().row()
        if 0 <= row < len(self.lines):
            rows = self.lines
            del rows[row]
            self.model.set_rows(rows)
            self._refresh_summary()

    def _foreground(self, line: AdjustLine, column: int) -> str | None:
        if column == COL_AFTER and line.after is not None and line.after < 0:
            return theme.DANGER
        return None

    def _refresh_summary(self) -> None:
        changed = [ln for ln in self.lines if ln.change]
        plus = sum(ln.change for ln in changed if ln.change > 0)
        minus = -sum(ln.change for ln in changed if ln.change < 0)
        self.summary.setText(" · ".join((plural(len(changed), self.tr("{n} line"), self.tr("{n} lines")),
                                         plural(plus, self.tr("{n} unit added"), self.tr("{n} units added")),
                                         plural(minus, self.tr("{n} unit removed"), self.tr("{n} units removed")))))
        self.post_button.setEnabled(bool(changed) and not self._posting)

    def _refresh_levels(self) -> None:
        location_id = self.location.currentData()
        vids = [ln.variant_id for ln in self.lines]
        if location_id is None or not vids:
            return
        self._levels_generation += 1
        gen = self._levels_generation
        self.runner.read(lambda ops: ops.stock.levels_at(location_id, vids), partial(self._on_levels, gen),
                         on_error=lambda _exc: None)

    def _on_levels(self, gen: int, levels: dict[int, tuple[int, int]]) -> None:
        if gen != self._levels_generation:
            return
        for i, line in enumerate(self.lines):
            if line.variant_id in levels:
                self.model.replace_row(i, replace(line, on_hand=levels[line.variant_id][0]))

    # -- posting ----------------------------------------------------------------------------------------
    def post(self) -> None:
        changes = {ln.variant_id: ln.change for ln in self.lines if ln.change}
        if self._posting or self.context.ops is None or not changes:
            return
        location_id, reason, note = self.location.currentData(), self.reason.currentData(), self.note.text().strip()
        op = self.operation_id
        self._set_posting(True)
        self.runner.write(lambda ops: ops.adjustments.adjust(location_id, changes, reason=reason, note=note, op_id=op),
                          self._on_posted, on_error=self._on_failed)

    def _set_posting(self, on: bool) -> None:
        self._posting = on
        for w in (self.location, self.reason, self.scan, self.table, self.remove_button):
            w.setEnabled(not on)
        self._refresh_summary()

    def _on_posted(self, result: StockPosted) -> None:
        self._set_posting(False)
        self.posted.emit(result)
        self.accept()

    def _on_failed(self, exc: BaseException) -> None:
        self._set_posting(False)  # nothing was written: the same operation id can be posted again
        self.banner.show_message(self.tr("The adjustment was not posted:\n{error}").format(error=error_text(exc)),
                                 "error")
