"""A stock count at one location: start (or resume) it, scan or type what is on the shelves, review the
differences against the books, post them as one adjustment or cancel the count.

Each scan adds one to the item's counted quantity. Writes to the count go to the database one at a time,
in order, and scans that arrive while one is under way are sent together, so a fast scanner is never
refused and never counted twice. Posting uses one operation id per dialog: a second click posts nothing.

The steps of the count (start, resume, post, cancel) run through one runner whose busy state locks the
dialog; the counted quantities through another, so scanning goes on while they are written.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations.adjustments import CountInfo, CountLineInfo, OpenCount
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.adjust_dialog import internal_locations, variant_resolver
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.records import Column, QuantityDelegate, RecordsModel, setup_table
from backoffice.ui.widgets.scanner import ScanField

LINE_COLUMNS = (
    Column(QT_TRANSLATE_NOOP("Stock", "SKU"), lambda r: r.sku, "sku", 120),
    Column(QT_TRANSLATE_NOOP("Stock", "Product"), lambda r: r.title, width=220),
    Column(QT_TRANSLATE_NOOP("Stock", "Counted"), lambda r: r.counted, "qty", 80, editable=True),
    Column(QT_TRANSLATE_NOOP("Stock", "On hand"), lambda r: r.on_hand, "qty", 80),
    Column(QT_TRANSLATE_NOOP("Stock", "Difference"), lambda r: r.difference, "signed", 90),
)
COL_COUNTED, COL_DIFFERENCE = 2, 4
OPEN_COLUMNS = (
    Column(QT_TRANSLATE_NOOP("Stock", "Count"), lambda r: r.number, width=100),
    Column(QT_TRANSLATE_NOOP("Stock", "Location"), lambda r: r.location, width=90),
    Column(QT_TRANSLATE_NOOP("Stock", "Lines"), lambda r: r.lines, "qty", 60),
    Column(QT_TRANSLATE_NOOP("Stock", "Started"), lambda r: r.created_at, "when", 130),
    Column(QT_TRANSLATE_NOOP("Stock", "By"), lambda r: r.created_by, width=90),
)


class StockCountDialog(QDialog):
    posted = Signal(object)   # the CountInfo, posted

    def __init__(self, context: AppContext, tasks: TaskManager, locations: list[dict[str, Any]], *,
                 location_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.steps = Runner(context, tasks, self)      # start, resume, post, cancel: the dialog waits
        self.counting = Runner(context, tasks, self)   # the counted quantities, while scanning goes on
        self.operation_id = uuid.uuid4().hex
        self.count: CountInfo | None = None
        self._pending: list[tuple[dict[int, int], bool]] = []   # writes not sent yet, in order
        self._writing = False
        self._busy = False
        self.setWindowTitle(self.tr("Stock count"))
        self.setMinimumSize(760, 540)
        self.banner = MessageBanner()
        self.pages = QStackedWidget()
        self.pages.addWidget(self._start_page(locations, location_id))
        self.pages.addWidget(self._count_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.banner)
        self.steps.busy_changed.connect(self._set_busy)
        self._load_open_counts()

    # -- page 1: start or resume --------------------------------------------------------------------------
    def _start_page(self, locations: list[dict[str, Any]], location_id: int | None) -> QWidget:
        page = QWidget()
        self.location = QComboBox()
        for loc in internal_locations(locations):
            self.location.addItem(f"{loc['code']} · {loc['name']}", loc["id"])
        if location_id is not None:
            self.location.setCurrentIndex(max(0, self.location.findData(location_id)))
        self.note = QLineEdit()
        self.note.setPlaceholderText(self.tr("e.g. aisle 4, yearly count (optional)"))
        self.start_button = QPushButton(self.tr("Start count"))
        self.start_button.setProperty("primary", True)
        self.start_button.clicked.connect(self.start)
        self.open_model = RecordsModel(OPEN_COLUMNS, self)
        self.open_table = QTableView()
        setup_table(self.open_table, self.open_model, stretch=OPEN_COLUMNS[4].header)
        self.open_table.doubleClicked.connect(lambda _i: self.resume_selected())
        self.resume_button = QPushButton(self.tr("Resume selected"))
        self.resume_button.clicked.connect(self.resume_selected)
        intro = QLabel(self.tr("Count what is on the shelves at one location. The differences against the books "
                               "are shown before anything is posted."))
        intro.setWordWrap(True)
        intro.setObjectName("Muted")
        form = QFormLayout()
        form.addRow(self.tr("Location"), self.location)
        form.addRow(self.tr("Note"), self.note)
        start_row = QHBoxLayout()
        start_row.addStretch(1)
        start_row.addWidget(self.start_button)
        open_label = QLabel(self.tr("Counts still open"))
        open_label.setObjectName("SectionTitle")
        resume_row = QHBoxLayout()
        resume_row.addStretch(1)
        resume_row.addWidget(self.resume_button)
        close = QPushButton(self.tr("Close"))
        close.clicked.connect(self.reject)
        resume_row.addWidget(close)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addLayout(start_row)
        layout.addWidget(open_label)
        layout.addWidget(self.open_table, 1)
        layout.addLayout(resume_row)
        return page

    def _load_open_counts(self) -> None:
        self.counting.read(lambda ops: ops.adjustments.open_counts(), self._on_open_counts, on_error=self._show_error)

    def _on_open_counts(self, counts: list[OpenCount]) -> None:
        self.open_model.set_rows(counts)
        self.resume_button.setEnabled(bool(counts))

    def start(self) -> None:
        location_id = self.location.currentData()
        if location_id is None or self._busy:
            return
        note = self.note.text().strip()
        self.steps.write(lambda ops: ops.adjustments.start_count(location_id, note=note),
                         self._step_done(self._show_count), on_error=self._show_error)

    def resume_selected(self) -> None:
        row = self.open_model.row_at(self.open_table.currentIndex().row())
        if row is not None and not self._busy:
            self.steps.read(lambda ops: ops.adjustments.get_count(row.id), self._step_done(self._show_count),
                            on_error=self._show_error)

    # -- page 2: counting ------------------------------------------------------------------------------
    def _count_page(self) -> QWidget:
        page = QWidget()
        self.heading = QLabel()
        self.heading.setObjectName("DetailsTitle")
        self.scan = ScanField()
        self.resolver = variant_resolver(self.context, self.tasks, self)
        self.resolver.resolved.connect(self._on_resolved)
        self.resolver.failed.connect(lambda _code, exc: self._show_error(exc))
        self.scan.scanned.connect(self.resolver.submit)
        self.model = RecordsModel(LINE_COLUMNS, self, on_edit=self._on_edit,
                                  background=lambda r: "#fff4e0" if r.difference else None)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=LINE_COLUMNS[1].header)
        self.table.setItemDelegateForColumn(COL_COUNTED, QuantityDelegate(minimum=0, parent=self.table))
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.cancel_count_button = QPushButton(self.tr("Cancel count"))
        self.cancel_count_button.setToolTip(self.tr("Discard this count; the stock is not changed"))
        self.cancel_count_button.clicked.connect(self.cancel_count)
        self.later_button = QPushButton(self.tr("Finish later"))
        self.later_button.setToolTip(self.tr("Close; the count stays open and can be resumed"))
        self.later_button.clicked.connect(self.reject)
        self.post_button = QPushButton(self.tr("Post differences"))
        self.post_button.setProperty("primary", True)
        self.post_button.clicked.connect(self.post)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_count_button)
        buttons.addStretch(1)
        buttons.addWidget(self.later_button)
        buttons.addWidget(self.post_button)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(self.scan)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        return page

    def _show_count(self, info: CountInfo) -> None:
        self.count = info
        self.heading.setText(self.tr("{number} at {location}").format(number=info.number, location=info.location))
        self.model.set_rows(info.lines)
        for line in info.lines:
            self.resolver.remember(line.sku, {"variant_id": line.variant_id})
            self.resolver.remember(line.barcode, {"variant_id": line.variant_id})
        self.pages.setCurrentIndex(1)
        self.scan.setFocus()
        self._refresh()

    @property
    def lines(self) -> list[CountLineInfo]:
        return self.model.rows

    def _on_resolved(self, code: str, variant: dict[str, Any] | None) -> None:
        if variant is None:
            self.scan.flash_error()
            self.banner.show_message(self.tr("No item has the barcode or SKU “{code}”.").format(code=code), "error")
            return
        self.banner.hide()
        vid = variant["variant_id"]
        for i, line in enumerate(self.lines):
            if line.variant_id == vid:  # shown at once; the database answer confirms it
                self.model.replace_row(i, replace(line, counted=line.counted + 1))
                self.table.setCurrentIndex(self.model.index(i, COL_COUNTED))
                break
        self._write({vid: 1}, add=True)

    def _on_edit(self, row: int, _column: int, value: Any) -> bool:
        line = self.lines[row]
        if int(value) == line.counted:
            return False
        self.model.replace_row(row, replace(line, counted=int(value)))
        self._write({line.variant_id: int(value)}, add=False)
        return True

    def _write(self, counted: dict[int, int], *, add: bool) -> None:
        if add and self._pending and self._pending[-1][1]:  # scans waiting: send them together
            merged = dict(self._pending[-1][0])
            for vid, q in counted.items():
                merged[vid] = merged.get(vid, 0) + q
            self._pending[-1] = (merged, True)
        else:
            self._pending.append((counted, add))
        self._send_next()

    def _send_next(self) -> None:
        count = self.count
        if self._writing or not self._pending or self.context.ops is None or count is None:
            self._refresh()
            return
        counted, add = self._pending.pop(0)
        self._writing = True
        self._refresh()

        def record(ops: Operations) -> CountInfo:
            return ops.adjustments.record_counts(count.id, counted, add=add)

        self.counting.write(record, self._on_written, on_error=self._on_write_failed)

    def _on_written(self, info: CountInfo) -> None:
        self._writing = False
        self.count = info
        if not self._pending:  # later scans are on screen already; show the database's figures once they are in
            current = self.table.currentIndex().row()
            self.model.set_rows(info.lines)
            if info.lines:
                self.table.setCurrentIndex(self.model.index(min(max(current, 0), len(info.lines) - 1), COL_COUNTED))
        self._send_next()

    def _on_write_failed(self, exc: BaseException) -> None:
        self._writing = False
        self._pending.clear()
        self._show_error(exc)
        count = self.count
        if count is not None:  # show what the count really holds
            self.counting.read(lambda ops: ops.adjustments.get_count(count.id), self._show_count,
                               on_error=self._show_error)

    def _refresh(self) -> None:
        lines = self.lines
        differences = [ln for ln in lines if ln.difference]
        over = sum(ln.difference for ln in differences if ln.difference > 0)
        under = -sum(ln.difference for ln in differences if ln.difference < 0)
        self.summary.setText(" · ".join((
            plural(len(lines), self.tr("{n} item counted"), self.tr("{n} items counted")),
            plural(len(differences), self.tr("{n} differs from the books"), self.tr("{n} differ from the books")),
            self.tr("{over} more, {under} fewer").format(over=format_qty(over), under=format_qty(under)))))
        idle = not self._busy and not self._writing and not self._pending
        self.post_button.setEnabled(idle and bool(lines))
        self.cancel_count_button.setEnabled(not self._busy)
        self.scan.setEnabled(not self._busy)

    # -- post, cancel ----------------------------------------------------------------------------------
    def post(self) -> None:
        count = self.count
        if count is None or self._busy or self._writing or self._pending:
            return
        op = self.operation_id
        self.steps.write(lambda ops: ops.adjustments.post_count(count.id, op_id=op), self._step_done(self._on_posted),
                         on_error=self._show_error)

    def _on_posted(self, info: CountInfo) -> None:
        self.count = info
        self.posted.emit(info)
        self.accept()

    def cancel_count(self) -> None:
        count = self.count
        if count is None or self._busy:
            return
        self.steps.write(lambda ops: ops.adjustments.cancel_count(count.id), self._step_done(self._on_cancelled),
                         on_error=self._show_error)

    def _on_cancelled(self, info: CountInfo) -> None:
        self.count = info
        self.reject()

    def _step_done(self, then: Callable[[CountInfo], None]) -> Callable[[CountInfo], None]:
        """A step's answer: the last error goes, then ``then(info)``."""
        def show_step(info: CountInfo) -> None:
            self.banner.hide()
            then(info)

        return show_step

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.start_button.setEnabled(not busy)
        self._refresh()

    def _show_error(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")

