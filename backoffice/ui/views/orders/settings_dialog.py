"""How orders are reserved and watched, store-wide (the order settings): the allocation rule, whether a
line may be split across locations, each sales channel's preferred location, what happens when stock
runs short, where damaged returns are written off, and when an open order counts as overdue.

The settings are read and saved in the background through the operations contract. What the choices
mean is shown live in the service's own words (``OrderSettings.explain``); choices the service would
refuse (``OrderSettings.problems``, and the dialog's own: a channel without a location, a channel
twice) are listed under the form and Save stays off, so nothing is written. A refusal only the database
can see (a location archived meanwhile) comes back in the banner.
"""

from __future__ import annotations

import uuid
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import ValidationError
from backoffice.operations.orders import ALLOCATION_RULES, SHORTAGE_POLICIES, OrderSettings
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.orders.models import tr
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import muted

N = QT_TRANSLATE_NOOP
ALLOCATION_LABELS = {
    "channel_then_most_available": N("Sales", "The channel's location first, then the most available"),
    "most_available": N("Sales", "The locations with the most available first"),
}
SHORTAGE_LABELS = {
    "backorder": N("Sales", "Back-order: the units wait for stock"),
    "refuse": N("Sales", "Refuse the order (it is cancelled)"),
}
FIELD_LABELS = {
    "allocation": N("Sales", "Allocation"),
    "shortage": N("Sales", "Short of stock"),
    "overdue_days": N("Sales", "Overdue after"),
    "channel_locations": N("Sales", "Preferred locations"),
    "write_off_location_id": N("Sales", "Damaged returns"),
}
COL_CHANNEL, COL_LOCATION = 0, 1
MAX_OVERDUE_DAYS = 365


def problem_lines(problems: list[tuple[str, str, str]]) -> list[str]:
    """The service's (row, field, message) problems as lines a person reads: "Overdue after: …"."""
    lines = []
    for _row, field, message in problems:
        label = FIELD_LABELS.get(field)
        lines.append(f"{tr(label)}: {message}" if label else message)
    return lines


class OrderSettingsDialog(QDialog):
    saved = Signal(object)   # the OrderSettings now in force

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.operation_id = uuid.uuid4().hex     # a double click or a retry saves once
        self.loaded: OrderSettings | None = None
        self.codes: dict[int, str] = {}          # location id -> code, for the explanation
        self.stocked: list[tuple[str, int]] = []     # active warehouses and stores: (label, id)
        self._refreshing = False     # the form is being filled: one refresh at the end
        self._saving = False
        self.setWindowTitle(tr("Order settings"))
        self.setMinimumWidth(680)
        self.banner = MessageBanner()
        intro = muted(tr("How new orders are reserved when they are processed, and when an open order is overdue. "
                         "Orders already reserved keep their reservations."))

        self.allocation = QComboBox()
        for code, words in ALLOCATION_RULES.items():
            self.allocation.addItem(tr(ALLOCATION_LABELS.get(code, code)), code)
            self.allocation.setItemData(self.allocation.count() - 1, words, Qt.ItemDataRole.ToolTipRole)
        self.split = QCheckBox(tr("A line may be split across locations"))
        self.split.setToolTip(tr("Off: each line is reserved at one location, or waits for stock there"))
        self.channels = QTableWidget(0, 2)
        self.channels.setHorizontalHeaderLabels([tr("Sales channel"), tr("Preferred location")])
        self.channels.verticalHeader().hide()
        self.channels.verticalHeader().setDefaultSectionSize(30)
        self.channels.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.channels.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.channels.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(COL_CHANNEL, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_LOCATION, QHeaderView.ResizeMode.Stretch)
        self.channels.setMinimumHeight(128)
        self.channels.setMaximumHeight(170)
        self.channels.itemChanged.connect(lambda _item: self._refresh())
        self.channels.itemSelectionChanged.connect(self._refresh_buttons)
        self.add_button = QPushButton(tr("Add channel"))
        self.add_button.clicked.connect(self._add_clicked)
        self.remove_button = QPushButton(tr("Remove"))
        self.remove_button.clicked.connect(self.remove_channel)
        self.channels_hint = muted(wrap=False)
        channel_buttons = QHBoxLayout()
        channel_buttons.setContentsMargins(0, 0, 0, 0)
        channel_buttons.addWidget(self.add_button)
        channel_buttons.addWidget(self.remove_button)
        channel_buttons.addWidget(self.channels_hint, 1)
        channel_box = QWidget()
        channel_column = QVBoxLayout(channel_box)
        channel_column.setContentsMargins(0, 0, 0, 0)
        channel_column.setSpacing(6)
        channel_column.addWidget(self.channels)
        channel_column.addLayout(channel_buttons)
        self.shortage = QComboBox()
        for code, words in SHORTAGE_POLICIES.items():
            self.shortage.addItem(tr(SHORTAGE_LABELS.get(code, code)), code)
            self.shortage.setItemData(self.shortage.count() - 1, words, Qt.ItemDataRole.ToolTipRole)
        self.write_off = QComboBox()
        self.overdue = QSpinBox()
        self.overdue.setRange(0, MAX_OVERDUE_DAYS)
        self.overdue.setSuffix(tr(" days"))
        self.overdue.setToolTip(tr("An open order older than this is marked overdue (0: as soon as it is a day old)"))
        for combo in (self.allocation, self.shortage, self.write_off):
            combo.currentIndexChanged.connect(lambda _i: self._refresh())
        self.split.toggled.connect(lambda _on: self._refresh())
        self.overdue.valueChanged.connect(lambda _v: self._refresh())

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(tr("Reserve at"), self.allocation)
        form.addRow("", self.split)
        form.addRow(tr("Preferred locations"), channel_box)
        form.addRow(tr("Short of stock"), self.shortage)
        form.addRow(tr("Damaged returns go to"), self.write_off)
        form.addRow(tr("Overdue after"), self.overdue)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setObjectName("Card")
        self.explanation.setContentsMargins(10, 8, 10, 8)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # room for the longest explanation from the start: a wrapped label does not grow a shown dialog
        self.explanation.setMinimumHeight(self.explanation.fontMetrics().lineSpacing() * 5 + 16)
        self.explanation.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.problems_label = QLabel()
        self.problems_label.setObjectName("ErrorText")
        self.problems_label.setWordWrap(True)
        self.problems_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setProperty("primary", True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.save_button.setEnabled(False)
        self.form = QWidget()
        self.form.setLayout(form)
        self.form.setEnabled(False)          # until the settings are read
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addWidget(self.form)
        layout.addWidget(self.explanation)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self._load()

    # -- loading -----------------------------------------------------------------------------------------------
    def is_loading(self) -> bool:
        return self.runner.busy

    def _load(self) -> None:
        self.explanation.setText(tr("Reading the order settings…"))
        self.runner.read(lambda ops: (ops.orders.settings(), ops.stock.locations()), self._show,
                         on_error=self._load_failed)

    def _load_failed(self, exc: BaseException) -> None:
        self.explanation.setText("")
        self.banner.show_message(tr("The order settings could not be read: {error}").format(error=error_text(exc)),
                                 "error")   # nothing to save over: Save stays off

    def _show(self, loaded: tuple[OrderSettings, list[dict[str, Any]]]) -> None:
        current, locations = loaded
        self.loaded = current
        self.codes = {loc["id"]: loc["code"] for loc in locations}
        in_use = set(current.channel_locations.values())
        self.stocked = [(self._location_label(loc), loc["id"]) for loc in locations
                        if loc["kind"] in ("warehouse", "store") and (loc.get("active", True) or loc["id"] in in_use)]
        self.write_off.blockSignals(True)
        self.write_off.clear()
        self.write_off.addItem(tr("The first write-off location"), None)
        for loc in locations:
            if loc["kind"] == "adjustment" and (loc.get("active", True) or loc["id"] == current.write_off_location_id):
                self.write_off.addItem(self._location_label(loc), loc["id"])
        self.write_off.blockSignals(False)
        self.set_settings(current)
        self.form.setEnabled(True)
        self.adjustSize()

    @staticmethod
    def _location_label(loc: dict[str, Any]) -> str:
        label = f"{loc['code']} · {loc['name']}"
        return label if loc.get("active", True) else label + " " + tr("(archived)")

    def set_settings(self, settings: OrderSettings) -> None:
        """Show ``settings`` in the form (the pickers' signals held until the end)."""
        self._refreshing = True
        self.allocation.setCurrentIndex(max(0, self.allocation.findData(settings.allocation)))
        self.split.setChecked(settings.split)
        self.shortage.setCurrentIndex(max(0, self.shortage.findData(settings.shortage)))
        self.write_off.setCurrentIndex(max(0, self.write_off.findData(settings.write_off_location_id)))
        self.overdue.setValue(settings.overdue_days)
        self.channels.setRowCount(0)
        for channel, location_id in sorted(settings.channel_locations.items()):
            self.add_channel(channel, location_id)
        self._refreshing = False
        self._refresh()

    # -- the channels' table -------------------------------------------------------------------------------------
    def add_channel(self, channel: str = "", location_id: int | None = None) -> int:
        """A row for a channel and its preferred location; the row's number."""
        row = self.channels.rowCount()
        self.channels.blockSignals(True)
        self.channels.insertRow(row)
        self.channels.setItem(row, COL_CHANNEL, QTableWidgetItem(channel))
        self.channels.blockSignals(False)
        picker = QComboBox()
        picker.addItem(tr("Choose…"), None)
        for label, value in self.stocked:
            picker.addItem(label, value)
        if location_id is not None and picker.findData(location_id) < 0:
            picker.addItem(tr("Location {id} (not a warehouse or store)").format(id=location_id), location_id)
        picker.setCurrentIndex(max(0, picker.findData(location_id)))
        picker.currentIndexChanged.connect(lambda _i: self._refresh())
        self.channels.setCellWidget(row, COL_LOCATION, picker)
        self._refresh()
        return row

    def _add_clicked(self) -> None:
        row = self.add_channel()
        self.channels.setCurrentCell(row, COL_CHANNEL)
        self.channels.editItem(self.channels.item(row, COL_CHANNEL))

    def set_channel(self, row: int, channel: str | None = None, location_id: int | None = None) -> None:
        """Type a channel's name, or choose its location, in one row (as a person would)."""
        if channel is not None:
            self.channels.item(row, COL_CHANNEL).setText(channel)
        if location_id is not None:
            picker = self.channels.cellWidget(row, COL_LOCATION)
            picker.setCurrentIndex(picker.findData(location_id))

    def remove_channel(self) -> None:
        row = self.channels.currentRow()
        if row >= 0:
            self.channels.removeRow(row)
            self._refresh()

    def channel_rows(self) -> list[tuple[str, int | None]]:
        """(channel as typed, stripped; location id or None) per row that is not blank."""
        rows = []
        for row in range(self.channels.rowCount()):
            item = self.channels.item(row, COL_CHANNEL)
            picker = self.channels.cellWidget(row, COL_LOCATION)
            name = item.text().strip() if item is not None else ""
            location_id = picker.currentData() if picker is not None else None
            if name or location_id is not None:
                rows.append((name, location_id))
        return rows

    # -- what the form says ----------------------------------------------------------------------------------------
    def current_settings(self) -> tuple[OrderSettings, list[str]]:
        """The settings as the form stands, and what is wrong with them (empty: they can be saved)."""
        own: list[str] = []
        mapping: dict[str, int] = {}
        for name, location_id in self.channel_rows():
            if not name:
                own.append(tr("Preferred locations: a row has a location but no channel name"))
            elif location_id is None:
                own.append(tr("Preferred locations: choose the location of channel {channel}").format(channel=name))
            elif name in mapping:
                own.append(tr("Preferred locations: channel {channel} is listed twice").format(channel=name))
            else:
                mapping[name] = location_id
        settings = OrderSettings(allocation=self.allocation.currentData(), split=self.split.isChecked(),
                                 channel_locations=mapping, shortage=self.shortage.currentData(),
                                 write_off_location_id=self.write_off.currentData(), overdue_days=self.overdue.value())
        return settings, own + problem_lines(settings.problems())

    def explain(self, settings: OrderSettings) -> str:
        where = self.codes.get(settings.write_off_location_id or 0, tr("the first write-off location"))
        return settings.explain(self.codes) + "\n" + tr("Overdue after {n} day(s); damaged returns are written off to "
                                                        "{location}.").format(n=settings.overdue_days, location=where)

    def _refresh(self) -> None:
        if self._refreshing or self.loaded is None:
            return
        settings, problems = self.current_settings()
        self.explanation.setText(self.explain(settings))
        self.problems_label.setText("\n".join(problems))
        self.problems_label.setVisible(bool(problems))
        uses_channels = settings.allocation == "channel_then_most_available"
        self.channels.setEnabled(uses_channels)
        self.add_button.setEnabled(uses_channels)
        self.channels_hint.setText(tr("As the store names them (web, pos…)") if uses_channels
                                   else tr("Not used by this rule; kept."))
        self._refresh_buttons()
        self.save_button.setEnabled(not problems and not self._saving)

    def _refresh_buttons(self) -> None:
        self.remove_button.setEnabled(self.channels.isEnabled() and self.channels.currentRow() >= 0)

    # -- saving ------------------------------------------------------------------------------------------------------
    def save(self) -> None:
        if self.loaded is None or self._saving:
            return
        chosen, problems = self.current_settings()
        if problems:
            self.problems_label.setText("\n".join(problems))
            self.problems_label.show()
            return
        op = self.operation_id
        self._saving = True
        self.save_button.setEnabled(False)
        if not self.runner.write(lambda ops: ops.orders.save_settings(chosen, op_id=op), self._saved,
                                 on_error=self._failed):
            self._saving = False
            self._refresh()

    def _saved(self, result: OrderSettings) -> None:
        self._saving = False
        self.saved.emit(result)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        # Nothing was written: the same operation id may be saved again.
        self._saving = False
        self._refresh()
        text = "\n".join(problem_lines(exc.problems)) if isinstance(exc, ValidationError) else error_text(exc)
        self.banner.show_message(text or error_text(exc), "error")
