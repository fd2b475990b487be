"""The side panel of the Inventory view: the selected variant at every location, and its ledger history
(newest first), exportable to CSV or XLSX."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations.stock import LedgerRow, StockRow
from backoffice.reports.exporters import write_table
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.models import (
    HISTORY_HEADERS,
    PRODUCT,
    availability_model,
    history_model,
    history_values,
    tr,
)
from backoffice.ui.widgets.records import setup_table

HISTORY_LIMIT = 200           # rows shown in the panel; an export writes the whole history


class VariantPanel(QFrame):
    """Shows one StockRow's variant; loads in the background, dropping answers for an older selection."""

    message = Signal(str, str)   # text, level: for the view's banner

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.context, self.tasks = context, tasks
        self.row: StockRow | None = None
        self._generation = 0
        self.runner = Runner(context, tasks, self)

        self.heading = QLabel(self.tr("No item selected"))
        self.heading.setObjectName("DetailsTitle")
        self.heading.setWordWrap(True)
        self.subheading = QLabel(self.tr("Select a row to see the item at every location and its history."))
        self.subheading.setObjectName("Muted")
        self.subheading.setWordWrap(True)

        self.availability = availability_model(self)
        self.availability_table = QTableView()
        setup_table(self.availability_table, self.availability)
        self.availability_table.setMaximumHeight(30 * 5 + 28)

        self.history = history_model(self)
        self.history_table = QTableView()
        setup_table(self.history_table, self.history)
        self.all_locations = QCheckBox(self.tr("All locations"))
        self.all_locations.setToolTip(self.tr("Show moves at every location, not only the selected row's"))
        self.all_locations.toggled.connect(lambda _on: self._load_history())
        self.export_button = QToolButton()
        self.export_button.setObjectName("MenuButton")
        self.export_button.setText(self.tr("Export"))
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction(self.tr("Excel workbook (.xlsx)…"), partial(self._ask_export, "xlsx"))
        menu.addAction(self.tr("CSV file…"), partial(self._ask_export, "csv"))
        self.export_button.setMenu(menu)
        self.history_label = QLabel(self.tr("History"))
        self.history_label.setObjectName("SectionTitle")

        history_bar = QHBoxLayout()
        history_bar.addWidget(self.history_label, 1)
        history_bar.addWidget(self.all_locations)
        history_bar.addWidget(self.export_button)
        availability_label = QLabel(self.tr("At every location"))
        availability_label.setObjectName("SectionTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(8)
        layout.addWidget(self.heading)
        layout.addWidget(self.subheading)
        layout.addWidget(availability_label)
        layout.addWidget(self.availability_table)
        layout.addLayout(history_bar)
        layout.addWidget(self.history_table, 1)
        self._enable(False)

    def is_loading(self) -> bool:
        return self.runner.busy

    def _enable(self, on: bool) -> None:
        for w in (self.all_locations, self.export_button, self.availability_table, self.history_table):
            w.setEnabled(on)

    def show_row(self, row: StockRow | None) -> None:
        self.row = row
        self._generation += 1
        self.availability.clear()
        self.history.clear()
        self._enable(row is not None)
        if row is None:
            self.heading.setText(self.tr("No item selected"))
            self.subheading.setText(self.tr("Select a row to see the item at every location and its history."))
            return
        self.heading.setText(f"{row.sku} · {row.title}")
        self.subheading.setText(self.tr("Selected at {location}: {on_hand} on hand, {available} available").format(
            location=row.location, on_hand=format_qty(row.on_hand), available=format_qty(row.available)))
        gen, vid = self._generation, row.variant_id
        if self.runner.read(lambda ops: ops.stock.availability(vid), partial(self._on_availability, gen),
                            on_error=partial(self._on_load_failed, gen)):
            self._load_history()

    def _load_history(self) -> None:
        row = self.row
        if row is None or self.context.ops is None:
            return
        gen = self._generation
        location = None if self.all_locations.isChecked() else row.location_id
        self.history_label.setText(self.tr("History at {location}").format(location=row.location) if location
                                   else self.tr("History at every location"))
        self.runner.read(lambda ops: ops.stock.history(variant_id=row.variant_id, location_id=location,
                                                       limit=HISTORY_LIMIT),
                         partial(self._on_history, gen), on_error=partial(self._on_load_failed, gen))

    def _on_load_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.message.emit(tr("The item's stock could not be loaded: {error}").format(error=error_text(exc)),
                              "error")

    def _on_availability(self, gen: int, rows: list[StockRow]) -> None:
        if gen == self._generation:
            self.availability.set_rows(rows)

    def _on_history(self, gen: int, rows: list[LedgerRow]) -> None:
        if gen == self._generation:
            self.history.set_rows(rows)

    # -- export ---------------------------------------------------------------------------------------
    def _ask_export(self, suffix: str) -> None:
        if self.row is None:
            return
        name = f"{self.row.sku}-history.{suffix}"
        filters = self.tr("Excel workbook (*.xlsx)") if suffix == "xlsx" else self.tr("CSV file (*.csv)")
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export history"), str(Path.home() / name), filters)
        if path:
            if not path.lower().endswith(f".{suffix}"):
                path += f".{suffix}"
            self.export_history(path)

    def export_history(self, path: str | Path) -> None:
        """Write the whole history of the selected item (at its location, or everywhere) in a worker."""
        row = self.row
        if row is None or self.context.ops is None:
            return
        location = None if self.all_locations.isChecked() else row.location_id
        headers = [tr(h) for h in HISTORY_HEADERS[:1]] + [tr("SKU"), tr(PRODUCT)] + [tr(h) for h in HISTORY_HEADERS[1:]]

        def write_history(ops: Operations) -> int:
            rows = ops.stock.all_history(row.variant_id, location)
            values = [(v[0], r.sku, row.title, *v[1:]) for r in rows for v in [history_values(r)]]
            return write_table(path, headers, values, title=row.sku)

        def show_exported(n: int) -> None:
            self.export_button.setEnabled(True)
            self.message.emit(plural(n, tr("Exported {n} history row to {path}"),
                                     tr("Exported {n} history rows to {path}"), path=path), "success")

        def show_export_failed(exc: BaseException) -> None:
            self.export_button.setEnabled(True)
            self.message.emit(tr("The history could not be exported: {error}").format(error=error_text(exc)), "error")

        self.export_button.setEnabled(False)
        self.runner.read(write_history, show_exported, on_error=show_export_failed)

