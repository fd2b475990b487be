"""The Orders filter bar: state (each with its count), a date range, the location holding or shipping the
order, a search of order numbers and customers (debounced; Enter searches at once), and Overdue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLineEdit, QPushButton, QSizePolicy, QWidget

from backoffice.operations.orders import OrderFilter
from backoffice.operations.stock import INTERNAL_KINDS
from backoffice.ui import resources, theme
from backoffice.ui.format import format_count
from backoffice.ui.views.audit.filters import DateRangeButton
from backoffice.ui.views.orders.models import OPEN_STATES, STATES, state_label

SEARCH_DEBOUNCE_MS = 300
TO_DO = "to_do"   # the states that still need something done: new, waiting, ready, partly shipped


class OrderFilterBar(QWidget):
    """Emits :attr:`changed` at once for the pickers and Enter, after a short pause for typed text."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = QComboBox()
        self.state.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.state.addItem(self.tr("All orders"), "")
        self.state.addItem(self.tr("To do (not shipped yet)"), TO_DO)
        for state in STATES:
            self.state.addItem(state_label(state), state)
        self._counts: dict[str, int] = {}
        self.dates = DateRangeButton()
        self.location = QComboBox()
        self.location.addItem(self.tr("All locations"), None)
        self.location.setMinimumContentsLength(10)
        self.location.setToolTip(self.tr("Orders holding or shipping stock at this location"))
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search order number, customer name or e-mail…"))
        self.search.setClearButtonEnabled(True)
        self.search.addAction(resources.icon("search", theme.TEXT_MUTED), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(180)
        self.search.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.overdue = QCheckBox(self.tr("Overdue"))
        self.overdue.setToolTip(self.tr("Only orders not shipped yet and older than the order settings allow"))
        self.clear_button = QPushButton(self.tr("Clear"))
        self.clear_button.setProperty("flat", True)
        self.clear_button.clicked.connect(self.clear)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit_changed)
        self.search.textChanged.connect(self._debounce.start)
        self.search.returnPressed.connect(self._emit_now)
        self.state.currentIndexChanged.connect(self._emit_changed)
        self.location.currentIndexChanged.connect(self._emit_changed)
        self.dates.changed.connect(self._emit_changed)
        self.overdue.toggled.connect(self._emit_changed)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.search, 3)
        layout.addWidget(self.state)
        layout.addWidget(self.dates)
        layout.addWidget(self.location, 1)
        layout.addWidget(self.overdue)
        layout.addWidget(self.clear_button)
        self._last_emitted = self.current_filter()
        self._refresh_clear()

    # -- the filter ---------------------------------------------------------------------------------------
    def states(self) -> tuple[str, ...]:
        choice = self.state.currentData() or ""
        return OPEN_STATES if choice == TO_DO else (choice,) if choice else ()

    def current_filter(self) -> OrderFilter:
        since, until = self.dates.value()
        return OrderFilter(states=self.states(), ordered_from=since, ordered_to=until,
                           location_id=self.location.currentData(), overdue=self.overdue.isChecked(),
                           search=self.search.text().strip())

    def is_filtered(self) -> bool:
        return self.current_filter() != OrderFilter()

    def select_state(self, state: str) -> None:
        self.state.setCurrentIndex(max(0, self.state.findData(state)))

    # -- what the pickers offer -------------------------------------------------------------------------------
    def set_counts(self, counts: Mapping[str, int]) -> None:
        """Orders per state (``ops.orders.state_counts()``), shown in the state picker."""
        self._counts = dict(counts)
        for i in range(self.state.count()):
            value = self.state.itemData(i) or ""
            if value == "":
                n, text = sum(self._counts.values()), self.tr("All orders")
            elif value == TO_DO:
                n, text = sum(self._counts.get(s, 0) for s in OPEN_STATES), self.tr("To do (not shipped yet)")
            else:
                n, text = self._counts.get(value, 0), state_label(value)
            self.state.setItemText(i, f"{text} ({format_count(n)})")

    def count_of(self, state: str) -> int:
        return self._counts.get(state, 0)

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

    def clear(self) -> None:
        widgets = (self.search, self.state, self.location, self.overdue, self.dates)
        for w in widgets:
            w.blockSignals(True)
        self.search.clear()
        self.state.setCurrentIndex(0)
        self.location.setCurrentIndex(0)
        self.overdue.setChecked(False)
        self.dates.set_range(None, None)
        for w in widgets:
            w.blockSignals(False)
        self._emit_now()

    def _emit_now(self) -> None:
        self._debounce.stop()
        self._emit_changed(force=True)

    def _emit_changed(self, *_args: Any, force: bool = False) -> None:
        self._refresh_clear()
        current = self.current_filter()
        if current != self._last_emitted or force:
            self._last_emitted = current
            self.changed.emit()

    def _refresh_clear(self) -> None:
        self.clear_button.setEnabled(self.is_filtered())
