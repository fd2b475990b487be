"""Reports: the list of built-in and saved reports, the builder, and the result as a chart and a lazy table.

Everything goes through the operations contract (``ops.reports``) with the view's :class:`Runner`. A
preview runs with a cancel flag: Cancel (here, or in the progress panel for an export) interrupts the
statement in the database. Each preview has a generation number; an answer to an older one is dropped,
so a slow early query never overwrites what the builder shows now.

The view reloads its list of reports when reports change (a save, a schedule, a scheduled run) and
re-runs the shown report only when the user asks or its own saved definition changed: a write of
anything else (stock, prices, a shipped transfer) never re-runs it. ``query_runs`` counts the queries
started (``query_started`` says when one starts).

While the application is open it also runs due report schedules every few minutes, as
``backoffice reports run-due`` does from cron.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListView,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.changes import REPORTS, Changes
from backoffice.operations.reports import (
    ExportResult,
    ReportCancelled,
    ReportDefinition,
    ReportEntry,
    ReportTable,
    RunOutcome,
    slug,
)
from backoffice.reports.dates import RELATIVE_RANGES
from backoffice.reports.formats import local_zone_name
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.reports.builder import BuilderPanel
from backoffice.ui.views.reports.chart import ChartCanvas
from backoffice.ui.views.reports.models import ReportListModel, ResultTableModel
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.records import OBJECT_ROLE, ROW_HEIGHT

PREVIEW_ROWS = 5_000
PREVIEW_DELAY_MS = 350
DUE_CHECK_MS = 5 * 60 * 1000
DEFAULT_REPORT = "sales-by-month"


class ReportsView(ViewPage):
    key = "reports"
    TITLE = QT_TRANSLATE_NOOP("Views", "Reports")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Report builder, charts and scheduled Excel delivery.")
    icon_name = "reports"

    query_started = Signal(str)   # the name of the report whose query just started

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self._generation = 0
        self._needs_list = True
        self._stop: threading.Event | None = None          # the running preview's cancel flag
        self._loaded: tuple[str, int | None] | None = None  # (name, version) of the report in the builder
        self._select_after_write: str | None = None
        self.query_runs = 0
        self.current: ReportEntry | None = None
        self.result: ReportTable | None = None
        self.last_export: ExportResult | None = None
        self.param_boxes: dict[str, QComboBox] = {}
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self._on_busy)
        self.due_runner = Runner(context, tasks, self)   # scheduled runs: not shown as the view loading

        self.status = QLabel()
        self.status.setObjectName("CountLabel")
        self.run_button = QPushButton(self.tr("Run"))
        self.run_button.setToolTip(self.tr("Run the report with these parameters (F5)"))
        self.run_button.setShortcut("F5")
        self.run_button.clicked.connect(self.preview)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setVisible(False)
        self.export_button = QToolButton()
        self.export_button.setText(self.tr("Export"))
        self.export_button.setObjectName("MenuButton")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for fmt, text in (("xlsx", self.tr("Excel workbook (.xlsx)…")), ("csv", self.tr("CSV (.csv)…")),
                          ("pdf", self.tr("PDF (.pdf)…"))):
            menu.addAction(text, partial(self.choose_export, fmt))
        self.export_button.setMenu(menu)
        self.save_button = QPushButton(self.tr("Save"))
        self.save_button.clicked.connect(self.save)
        self.more_button = QToolButton()
        self.more_button.setText(self.tr("More"))
        self.more_button.setObjectName("MenuButton")
        self.more_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        more = QMenu(self.more_button)
        self.duplicate_action = more.addAction(self.tr("Duplicate"), self.duplicate)
        self.delete_action = more.addAction(self.tr("Delete…"), self.delete)
        self.more_button.setMenu(more)
        self.schedules_button = QPushButton(self.tr("Schedules…"))
        self.schedules_button.setToolTip(self.tr("Deliver this report by e-mail or to a folder on a schedule"))
        self.schedules_button.clicked.connect(self.open_schedules)
        self.dialog: Any = None
        self.banner = MessageBanner()

        self.list_model = ReportListModel(self)
        self.report_list = QListView()
        self.report_list.setModel(self.list_model)
        self.report_list.setUniformItemSizes(True)
        self.report_list.selectionModel().currentChanged.connect(self._on_report_chosen)
        self.report_list.setMinimumHeight(120)
        self.report_list.setStyleSheet(
            f"QListView {{ background: {theme.SURFACE}; border: 1px solid {theme.BORDER}; border-radius: 6px; outline: 0; }}"
            f"QListView::item {{ padding: 7px 8px; border-radius: 4px; }}"
            f"QListView::item:selected {{ background: {theme.SELECTION}; color: {theme.TEXT}; }}")

        self.builder = BuilderPanel()
        self.builder.changed.connect(self._schedule_preview)
        builder_scroll = QScrollArea()
        builder_scroll.setWidget(self.builder)
        builder_scroll.setWidgetResizable(True)
        builder_scroll.setMinimumWidth(320)
        builder_scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        self.params_row = QHBoxLayout()
        self.params_row.setSpacing(8)
        self.chart = ChartCanvas()
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setObjectName("Muted")
        self.notes.setVisible(False)
        self.table_model = ResultTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.horizontalHeader().setHighlightSections(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.empty = EmptyState("reports", self.tr("No rows"), self.tr("Nothing matches: widen the period or "
                                                                        "remove a filter."))
        self.results = QStackedWidget()
        self.results.addWidget(self.table)
        self.results.addWidget(self.empty)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.setSpacing(8)
        right_layout.addLayout(self.params_row)
        right_layout.addWidget(self.chart, 3)
        right_layout.addWidget(self.notes)
        right_layout.addWidget(self.results, 2)

        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.report_list)
        left.addWidget(builder_scroll)
        left.setChildrenCollapsible(False)
        left.setSizes([190, 460])
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([350, 650])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.title(), self.description(), self.status, self.run_button,
                                     self.cancel_button, self.export_button, self.schedules_button,
                                     self.save_button, self.more_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(PREVIEW_DELAY_MS)
        self._debounce.timeout.connect(self.preview)
        self._due_timer = QTimer(self)
        self._due_timer.setInterval(DUE_CHECK_MS)
        self._due_timer.timeout.connect(self.run_due_schedules)
        self.runner.failed.connect(self._show_error)
        self.runner.succeeded.connect(lambda text: self.banner.show_message(text, "success"))
        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)
        self._on_context_changed()

    # -- ViewPage --------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_list:
            self.load_list(select=self.current.name if self.current else DEFAULT_REPORT)

    def is_loading(self) -> bool:
        return self.runner.busy or self._debounce.isActive()

    def _on_context_changed(self) -> None:
        self._needs_list = True
        self._generation += 1
        self._loaded = None
        if self.context.ops is None:
            self._due_timer.stop()
            self.list_model.set_entries([])
            self.table_model.clear()
            self.chart.show_result(None)
        else:
            self._due_timer.start()
        self._update_actions()

    def _on_data_changed(self, changes: Changes) -> None:
        """Reports changed (saved, deleted, scheduled, run): the list reloads; the shown result re-runs only
        if its own saved definition changed. Any other change leaves the view alone."""
        if not changes.concerns(REPORTS):
            return
        select = self._select_after_write or (self.current.name if self.current else DEFAULT_REPORT)
        self._select_after_write = None
        if self.isVisible():
            self.load_list(select=select)
        else:
            self._needs_list = True

    def _on_busy(self, busy: bool) -> None:
        self.loading_changed.emit(busy)
        self._update_actions()

    def _show_error(self, text: str) -> None:
        self.banner.show_message(text, "error")

    def _on_error(self, exc: BaseException) -> None:
        if isinstance(exc, ReportCancelled):
            self.status.setText(self.tr("Cancelled"))
            return
        self._show_error(error_text(exc))

    # -- the report list -----------------------------------------------------------------------------------
    def load_list(self, select: str | None = None) -> None:
        if self.runner.read(lambda ops: ops.reports.library(), partial(self._on_list, select)):
            self._needs_list = False

    def _on_list(self, select: str | None, entries: list[ReportEntry]) -> None:
        self.list_model.set_entries(entries)
        row = self.list_model.row_of(select) if select else -1
        if row >= 0:
            self.select_report(select)  # type: ignore[arg-type]

    def select_report(self, name: str) -> None:
        row = self.list_model.row_of(name)
        if row < 0:
            raise KeyError(name)
        index = self.list_model.index(row)
        self.report_list.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def _on_report_chosen(self, current: Any, _previous: Any) -> None:
        entry = current.data(OBJECT_ROLE) if current.isValid() else None
        self.current = entry
        self._update_actions()
        if entry is None or (entry.name, entry.version) == self._loaded:
            return   # the list was reloaded and this report did not change: its result stands
        name = entry.name
        self.runner.read(lambda ops: ops.reports.get(name), partial(self._on_definition, entry))

    def _on_definition(self, entry: ReportEntry, defn: ReportDefinition) -> None:
        if self.current is None or self.current.name != entry.name:
            return   # another report was chosen meanwhile
        self._loaded = (entry.name, entry.version)
        self.builder.load(defn)
        self._set_params(defn)
        self.preview()
    def _set_params(self, defn: ReportDefinition) -> None:
        while self.params_row.count():
            item = self.params_row.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.param_boxes = {}
        for name, default in defn.params.items():
            box = QComboBox()
            box.setEditable(True)
            for key, label in RELATIVE_RANGES.items():
                box.addItem(self.tr(label), key)
            index = box.findData(default)
            if index >= 0:
                box.setCurrentIndex(index)
            else:
                box.setEditText(str(default))
            box.setToolTip(self.tr("A range, or FROM..TO as 2026-01-01..2026-04-01"))
            box.currentIndexChanged.connect(self._schedule_preview)
            box.lineEdit().editingFinished.connect(self._schedule_preview)
            label = QLabel(name.replace("_", " ").capitalize())
            label.setObjectName("SectionLabel")
            self.params_row.addWidget(label)
            self.params_row.addWidget(box)
            self.param_boxes[name] = box
            box.setProperty("caption", label)
        self.params_row.addStretch(1)

    def params(self, defn: ReportDefinition | None = None) -> dict[str, Any]:
        """The parameter values chosen, of the parameters ``defn`` (default: the builder's) has."""
        defn = defn or self.builder.definition()
        known = set(defn.params) | {f.param for f in defn.filters if f.param}
        out = {}
        for name, box in self.param_boxes.items():
            box.setVisible(name in known)   # a builder change may have dropped the parameter
            box.property("caption").setVisible(name in known)
            if name not in known:
                continue
            text = box.currentText()
            index = box.findText(text)
            out[name] = box.itemData(index) if index >= 0 else text.strip()
        return out

    # -- preview ---------------------------------------------------------------------------------------------
    def _schedule_preview(self) -> None:
        self._debounce.start()

    def preview(self) -> None:
        """Run the builder's report with the chosen parameters (at most PREVIEW_ROWS rows)."""
        self._debounce.stop()
        if self.context.ops is None:
            return
        self.cancel()
        self._generation += 1
        gen = self._generation
        defn = self.builder.definition()
        params = self.params(defn)
        stop = threading.Event()
        self._stop = stop
        started = time.monotonic()
        self.status.setText(self.tr("Running…"))
        self.cancel_button.setVisible(True)
        self.query_runs += 1
        self.query_started.emit(defn.name)
        # Not announced to the progress strip (most previews take a fraction of a second, and the strip
        # would flicker on every change); the view shows "Running…" and its own Cancel button instead.
        self.runner.read(lambda ops: ops.reports.run(defn, params, max_rows=PREVIEW_ROWS, cancel=stop.is_set),
                         partial(self._on_result, gen, started), on_error=partial(self._on_preview_error, gen))

    def cancel(self) -> None:
        """Stop the running preview: its statement is interrupted in the database."""
        if self._stop is not None:
            self._stop.set()
        self._stop = None
        self.cancel_button.setVisible(False)

    def _on_result(self, gen: int, started: float, table: ReportTable) -> None:
        if gen != self._generation:
            return
        self._stop = None
        self.cancel_button.setVisible(False)
        rows = table.rows
        self.result = table
        self.banner.hide()
        self.table_model.set_result(table.columns, rows, is_partial=table.is_partial, currency=table.currency)
        self._size_columns(rows)
        if not rows:
            self.empty.set_text(self.tr("No rows"), self.tr("Nothing matches: widen the period or remove a filter."))
        self.results.setCurrentWidget(self.table if rows else self.empty)
        self.chart.show_result(table)
        self.chart.setVisible(table.chart is not None)   # the table takes the room of no chart
        self.notes.setText("\n".join(table.notes))
        self.notes.setVisible(bool(table.notes))
        n = len(rows)
        more = self.tr(" (the first {n}; export for all)").format(n=f"{PREVIEW_ROWS:,}") if table.truncated else ""
        self.status.setText(self.tr("{n} rows · {s:.2f} s").format(n=f"{n:,}", s=time.monotonic() - started) + more)

    def _on_preview_error(self, gen: int, exc: BaseException) -> None:
        if gen != self._generation:
            return
        self._stop = None
        self.cancel_button.setVisible(False)
        if isinstance(exc, ReportCancelled):
            self.status.setText(self.tr("Cancelled"))
            return
        self.status.setText("")
        self.result = None
        self.table_model.clear()
        self.empty.set_text(self.tr("This report cannot run yet"), error_text(exc))
        self.results.setCurrentWidget(self.empty)
        self.chart.show_result(None, empty_text=self.tr("Nothing to chart"))
        self.chart.setVisible(True)
        self.notes.setVisible(False)

    def _size_columns(self, rows: list[tuple]) -> None:
        """Widths from the headings and the first rows only (no pass over the whole result)."""
        metrics = QFontMetrics(self.table.font())
        bold = QFontMetrics(self.table.horizontalHeader().font())
        sample = rows[:50]
        for i, column in enumerate(self.table_model.columns):
            texts = [self.table_model.display(r, i) for r in range(min(len(sample), self.table_model.rowCount()))]
            widest = max([metrics.horizontalAdvance(t) for t in texts] + [0])
            width = max(widest + 20, bold.horizontalAdvance(column.label) + 40, 60)
            self.table.setColumnWidth(i, min(width, 320))

    # -- save, duplicate, delete ----------------------------------------------------------------------------
    def save(self, _checked: bool = False, name: str | None = None) -> None:
        if self.context.ops is None:
            return
        defn = self.builder.definition()
        entry = self.current
        if entry is not None and not entry.builtin and name is None:
            version: int | None = entry.version
        else:
            if name is None:
                suggestion = slug(f"{defn.name}-copy" if entry is None or entry.builtin else defn.name)
                name, ok = QInputDialog.getText(self, self.tr("Save report"), self.tr("Name (letters, digits, -):"),
                                                text=suggestion)
                if not ok or not name.strip():
                    return
            defn.name, defn.title, version = slug(name), defn.title or name.strip(), None
        self.runner.write(lambda ops: ops.reports.save(defn, expected_version=version),
                          lambda _version: self._after_write(defn.name),
                          success=self.tr("Saved {name}").format(name=defn.name))

    def duplicate(self) -> None:
        entry = self.current
        if self.context.ops is None or entry is None:
            return
        self.runner.write(lambda ops: ops.reports.duplicate(entry.name), lambda copy: self._after_write(copy.name),
                          success=lambda copy: self.tr("Copied to {name}").format(name=copy.name))

    def delete(self, _checked: bool = False, *, confirm: bool = True) -> None:
        entry = self.current
        if self.context.ops is None or entry is None or entry.builtin:
            return
        if confirm and QMessageBox.question(self, self.tr("Delete report"),
                                            self.tr("Delete the saved report “{title}”?").format(title=entry.title)) \
                != QMessageBox.StandardButton.Yes:
            return
        self.runner.write(lambda ops: ops.reports.delete(entry.name), lambda _none: self._after_write(DEFAULT_REPORT),
                          success=self.tr("Deleted {name}").format(name=entry.name))

    def _after_write(self, select: str) -> None:
        """The list reloads when the write's changes arrive (right after this); it then selects ``select``."""
        self._select_after_write = select

    # -- export ----------------------------------------------------------------------------------------------
    def choose_export(self, fmt: str) -> None:
        defn = self.builder.definition()
        default = f"{slug(defn.name)}-{dt.date.today().isoformat()}.{fmt}"
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export report"), str(Path.home() / default),
                                              {"xlsx": "Excel (*.xlsx)", "csv": "CSV (*.csv)", "pdf": "PDF (*.pdf)"}[fmt])
        if path:
            self.export_to(Path(path), fmt)

    def export_to(self, path: Path, fmt: str) -> None:
        if self.context.ops is None:
            return
        defn = self.builder.definition()
        params = self.params(defn)
        state = TaskState(self.tr("Exporting {title}").format(title=defn.display_title()), parent=self)
        zone = local_zone_name()   # the run time in the file in the user's own time
        self.runner.read(lambda ops: ops.reports.export(defn, path, fmt, params, timezone=zone, progress=state.report,
                                                        cancel=state.cancelled),
                         self._on_exported, on_error=self._on_error, state=state)

    def _on_exported(self, result: ExportResult) -> None:
        self.last_export = result
        sheets = self.tr(" on {n} sheets").format(n=result.sheets) if result.sheets > 1 else ""
        self.banner.show_message(self.tr("Exported {n} rows{sheets} to {path}").format(
            n=f"{result.rows:,}", sheets=sheets, path=result.path), "success")

    # -- schedules ---------------------------------------------------------------------------------------------
    def open_schedules(self) -> None:
        from backoffice.ui.views.reports.schedule_dialog import ScheduleDialog

        if self.current is None:
            return
        if self.dialog is not None:
            self.dialog.deleteLater()
        self.dialog = ScheduleDialog(self.context, self.tasks, self.current.name, self.params(), self)
        self.dialog.open()

    # -- schedules while the application is open -----------------------------------------------------------------
    def run_due_schedules(self) -> None:
        self.due_runner.write(lambda ops: ops.reports.run_due(), self._on_due_done, on_error=self._on_due_error)

    def _on_due_done(self, outcomes: list[RunOutcome]) -> None:
        failed = [o for o in outcomes if o.status != "ok"]
        if failed:
            self.banner.show_message(self.tr("Scheduled report {name} failed: {error} (it is retried)").format(
                name=failed[0].report_name, error=failed[0].error), "warning")

    def _on_due_error(self, _exc: BaseException) -> None:
        """A run-due call that could not even start (the database away): the next check tries again."""

    def _update_actions(self) -> None:
        connected = self.context.ops is not None
        saved = self.current is not None and not self.current.builtin
        for b in (self.run_button, self.export_button, self.save_button, self.more_button):
            b.setEnabled(connected)
        self.duplicate_action.setEnabled(connected and self.current is not None)
        self.schedules_button.setEnabled(connected and self.current is not None)
        self.delete_action.setEnabled(connected and saved)
        self.save_button.setText(self.tr("Save") if saved else self.tr("Save as…"))
