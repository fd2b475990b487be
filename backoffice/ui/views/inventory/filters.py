"""The Inventory filter bar: search (SKU, barcode, title; a scan + Enter searches at once), location,
category (with its subcategories), low stock only, nothing available only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from backoffice.operations.stock import INTERNAL_KINDS, CategoryChoice, StockFilter
from backoffice.ui import resources, theme

SEARCH_DEBOUNCE_MS = 300


class StockFilterBar(QWidget):
    """Emits :attr:`changed` at once for the pickers and Enter, after a short pause for typed text."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search SKU, barcode or product…"))
        self.search.setClearButtonEnabled(True)
        self.search.addAction(resources.icon("search", theme.TEXT_MUTED), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(200)
        self.search.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.location = QComboBox()
        self.location.addItem(self.tr("All locations"), None)
        self.location.setMinimumContentsLength(12)
        self.category = QComboBox()
        self.category.addItem(self.tr("All categories"), None)
        self.category.setMinimumContentsLength(16)
        self.category.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.category.setMaximumWidth(260)
        self.low_only = QCheckBox(self.tr("Low stock"))
        self.low_only.setToolTip(self.tr("Only items at or below their low-stock threshold"))
        self.zero_only = QCheckBox(self.tr("None available"))
        self.zero_only.setToolTip(self.tr("Only items with nothing available (on hand minus reserved)"))
        self.clear_button = QPushButton(self.tr("Clear"))
        self.clear_button.setProperty("flat", True)
        self.clear_button.clicked.connect(self.clear)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit_changed)
        self.search.textChanged.connect(self._debounce.start)
        self.search.returnPressed.connect(self._emit_now)
        self.location.currentIndexChanged.connect(self._emit_changed)
        self.category.currentIndexChanged.connect(self._emit_changed)
        self.low_only.toggled.connect(self._emit_changed)
        self.zero_only.toggled.connect(self._emit_changed)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.search, 3)
        layout.addWidget(self.location, 1)
        layout.addWidget(self.category, 1)
        layout.addWidget(self.low_only)
        layout.addWidget(self.zero_only)
        layout.addWidget(self.clear_button)
        self._last_emitted = self.current_filter()
        self._refresh_clear()

    def current_filter(self) -> StockFilter:
        return StockFilter(text=self.search.text().strip(), location_id=self.location.currentData(),
                           category_id=self.category.currentData(), low_only=self.low_only.isChecked(),
                           zero_only=self.zero_only.isChecked())

    def is_filtered(self) -> bool:
        return self.current_filter() != StockFilter()

    def set_locations(self, locations: Sequence[dict[str, Any]]) -> None:
        """Warehouses and stores from ``ops.stock.locations()``, keeping the current choice."""
        current = self.location.currentData()
        self.location.blockSignals(True)
        while self.location.count() > 1:
            self.location.removeItem(1)
        for loc in locations:
            if loc["kind"] in INTERNAL_KINDS and loc.get("active", True):
                self.location.addItem(f"{loc['code']} · {loc['name']}", loc["id"])
        i = self.location.findData(current)
        self.location.setCurrentIndex(max(0, i))
        self.location.blockSignals(False)
        if i < 0 and current is not None:
            self._emit_changed()

    def set_categories(self, categories: Sequence[CategoryChoice]) -> None:
        current = self.category.currentData()
        self.category.blockSignals(True)
        while self.category.count() > 1:
            self.category.removeItem(1)
        for c in categories:
            self.category.addItem("    " * c.depth + c.name, c.id)
            self.category.setItemData(self.category.count() - 1, c.label, Qt.ItemDataRole.ToolTipRole)
        i = self.category.findData(current)
        self.category.setCurrentIndex(max(0, i))
        self.category.blockSignals(False)
        if i < 0 and current is not None:
            self._emit_changed()

    def select_location(self, location_id: int | None) -> None:
        self.location.setCurrentIndex(max(0, self.location.findData(location_id)))

    def select_category(self, category_id: int | None) -> None:
        self.category.setCurrentIndex(max(0, self.category.findData(category_id)))

    def clear(self) -> None:
        for w in (self.search, self.location, self.category, self.low_only, self.zero_only):
            w.blockSignals(True)
        self.search.clear()
        self.location.setCurrentIndex(0)
        self.category.setCurrentIndex(0)
        self.low_only.setChecked(False)
        self.zero_only.setChecked(False)
        for w in (self.search, self.location, self.category, self.low_only, self.zero_only):
            w.blockSignals(False)
        self._emit_now()

    def _emit_now(self) -> None:
        self._debounce.stop()
        self._emit_changed(force=True)

    def _emit_changed(self, *_args: Any, force: bool = False) -> None:
        self._refresh_clear()
        current = self.current_filter()
        # Enter always searches again: a scanned code is looked up even if it was the last one too.
        if current != self._last_emitted or force:
            self._last_emitted = current
            self.changed.emit()

    def _refresh_clear(self) -> None:
        self.clear_button.setEnabled(self.is_filtered())
