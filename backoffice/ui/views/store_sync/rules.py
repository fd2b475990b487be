"""The direction rules of a connected store (what flows which way), its overlap window, and the links
between our locations and the store's. Only an admin may change them; everyone else sees them read-only.
The panel only shows and asks: the view writes through the contract."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.connectors import ConnectionInfo
from backoffice.ui.views.store_sync.models import RULES, LocationLinksModel, tr
from backoffice.ui.widgets.records import setup_table

__all__ = ["LocationsPanel", "RulesPanel"]


class RulesPanel(QWidget):
    """Checkboxes of the direction rules and the overlap window (``setting_changed``)."""

    setting_changed = Signal(str, object)   # (setting, new value)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checks: dict[str, QCheckBox] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(4)
        for row, (key, what, way) in enumerate(RULES):
            check = QCheckBox(tr(what))
            check.toggled.connect(lambda on, key=key: self._toggled(key, on))
            way_label = QLabel(tr(way))
            way_label.setObjectName("Muted")
            grid.addWidget(check, row, 0)
            grid.addWidget(way_label, row, 1)
            self.checks[key] = check
        self.overlap = QSpinBox()
        self.overlap.setRange(0, 86_400)
        self.overlap.setSingleStep(60)
        self.overlap.setGroupSeparatorShown(True)
        self.overlap.setFixedWidth(110)
        self.overlap.setSuffix(tr(" s"))
        self.overlap.setToolTip(tr("Pulls start this long before the last one ended, for store records that "
                                   "commit late; what was seen already is passed over."))
        self.overlap.editingFinished.connect(self._overlap_edited)
        overlap_row = QHBoxLayout()
        overlap_row.setSpacing(10)
        overlap_row.addWidget(QLabel(tr("Overlap window")))
        overlap_row.addWidget(self.overlap)
        overlap_row.addStretch(1)
        grid.addLayout(overlap_row, len(RULES), 0, 1, 2)
        grid.setColumnStretch(1, 1)
        self.read_only_note = QLabel(tr("Only an admin may change these."))
        self.read_only_note.setObjectName("Muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(grid)
        layout.addWidget(self.read_only_note)
        self._settings: dict[str, Any] = {}
        self._filling = False

    def show_settings(self, settings: dict[str, Any], *, editable: bool) -> None:
        self._filling = True
        try:
            self._settings = dict(settings)
            for key, check in self.checks.items():
                check.setChecked(bool(settings.get(key, True)))
                check.setEnabled(editable)
            self.overlap.setValue(int(settings.get("overlap_seconds", 600)))
            self.overlap.setEnabled(editable)
            self.read_only_note.setVisible(not editable)
        finally:
            self._filling = False

    def _toggled(self, key: str, on: bool) -> None:
        if not self._filling and bool(self._settings.get(key, True)) != on:
            self.setting_changed.emit(key, on)

    def _overlap_edited(self) -> None:
        value = self.overlap.value()
        if not self._filling and int(self._settings.get("overlap_seconds", 600)) != value:
            self.setting_changed.emit("overlap_seconds", value)


class LocationsPanel(QWidget):
    """Our locations linked to the store's, owned (stock pushed) or compared; Link and Unlink for admins."""

    link_requested = Signal()
    unlink_requested = Signal(str)   # our location code

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LocationLinksModel(self)
        self.table = QTableView()
        setup_table(self.table, self.model)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self.note = QLabel(tr("No location is linked yet: stock is neither pushed nor compared until one is."))
        self.note.setObjectName("Muted")
        self.note.setWordWrap(True)
        self.link_button = QPushButton(tr("Link location…"))
        self.link_button.clicked.connect(self.link_requested)
        self.unlink_button = QPushButton(tr("Unlink"))
        self.unlink_button.clicked.connect(self._unlink)
        buttons = QHBoxLayout()
        buttons.addWidget(self.note, 1)
        buttons.addWidget(self.link_button)
        buttons.addWidget(self.unlink_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._editable = False

    def show_links(self, info: ConnectionInfo, *, editable: bool) -> None:
        self._editable = editable
        self.model.set_rows(info.locations)
        self.note.setVisible(not info.locations)
        self.link_button.setVisible(editable)
        self.unlink_button.setVisible(editable)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.link_button.setEnabled(self._editable)
        self.unlink_button.setEnabled(self._editable and self.table.currentIndex().isValid())

    def _unlink(self) -> None:
        link = self.model.row_at(self.table.currentIndex().row())
        if link is not None:
            self.unlink_requested.emit(link.code)
