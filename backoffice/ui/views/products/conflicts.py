"""The conflict dialog: rows someone else changed since they were loaded, and what to do with each.

For every conflicting row it lists each field with three values: theirs (stored now), yours (staged), and
the value you read. Per row, or for all rows at once, the user chooses:

* **Re-base**: submit your value again on top of the current version (you have seen theirs);
* **Keep theirs**: drop your edit;
* **Skip**: leave your edit pending, to decide later.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.catalog import COLUMNS, Column, Conflict
from backoffice.ui import theme
from backoffice.ui.views.products.columns import (
    CategoryIndex,
    column_label,
    format_value,
)

REBASE, THEIRS, SKIP = "rebase", "theirs", "skip"
RowKey = tuple[str, int]
_COLUMN_OF_FIELD: dict[tuple[str, str], Column] = {(c.entity, c.field): c for c in COLUMNS if c.entity and c.field}
COL_ROW, COL_FIELD, COL_THEIRS, COL_YOURS, COL_READ, COL_CHOICE = range(6)


def field_column(entity: str, field: str) -> Column | None:
    return _COLUMN_OF_FIELD.get((entity, field))


def from_stored(entity: str, field: str, value: Any) -> Any:
    """A value as a conflict reports it (JSON: money as "12.50") turned back into the grid's value."""
    col = field_column(entity, field)
    if col is not None and col.kind == "money" and value is not None:
        try:
            return Decimal(str(value)).quantize(Decimal("0.01"))
        except InvalidOperation:
            return value
    return list(value) if isinstance(value, list) else value


def _text(conflict: Conflict, value: Any, categories: CategoryIndex) -> str:
    col = field_column(conflict.entity, conflict.field)
    if col is None:
        return "—" if value is None else str(value)
    return format_value(col, from_stored(conflict.entity, conflict.field, value), categories) or "—"


class ConflictDialog(QDialog):
    def __init__(self, conflicts: list[Conflict], categories: CategoryIndex, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Changed by someone else"))
        self.setObjectName("ConflictDialog")
        self.conflicts = conflicts
        self.by_row: dict[RowKey, list[Conflict]] = defaultdict(list)
        for c in conflicts:
            self.by_row[(c.entity, c.entity_id)].append(c)
        self.combos: dict[RowKey, QComboBox] = {}

        rows = len(self.by_row)
        intro = QLabel(self.tr(
            "{n} row(s) changed since you loaded them, so your edits of them were not applied. Your other "
            "edits were applied. For each row, choose what to do:").format(n=rows))
        intro.setWordWrap(True)
        legend = QLabel(self.tr("<b>Re-base</b>: apply your value over theirs · <b>Keep theirs</b>: drop your "
                                "edit · <b>Skip</b>: keep your edit pending"))
        legend.setObjectName("Muted")
        legend.setWordWrap(True)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(6)
        self.tree.setHeaderLabels([self.tr("Row"), self.tr("Field"), self.tr("Theirs (now)"), self.tr("Yours"),
                                   self.tr("You read"), self.tr("Resolution")])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        for col, width in ((COL_ROW, 170), (COL_FIELD, 100), (COL_THEIRS, 120), (COL_YOURS, 120), (COL_READ, 120),
                           (COL_CHOICE, 130)):
            self.tree.setColumnWidth(col, width)
        header.setSectionResizeMode(COL_ROW, QHeaderView.ResizeMode.Stretch)
        for key, items in self.by_row.items():
            self._add_row(key, items, categories)

        all_rebase = QPushButton(self.tr("Re-base all"))
        all_theirs = QPushButton(self.tr("Keep theirs for all"))
        all_skip = QPushButton(self.tr("Skip all"))
        all_rebase.clicked.connect(lambda: self.set_all(REBASE))
        all_theirs.clicked.connect(lambda: self.set_all(THEIRS))
        all_skip.clicked.connect(lambda: self.set_all(SKIP))
        bulk = QHBoxLayout()
        bulk.addWidget(QLabel(self.tr("For all rows:")))
        bulk.addWidget(all_rebase)
        bulk.addWidget(all_theirs)
        bulk.addWidget(all_skip)
        bulk.addStretch(1)
        self.buttons = QDialogButtonBox()
        self.ok_button = self.buttons.addButton(self.tr("Continue"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.ok_button.setProperty("primary", True)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(legend)
        layout.addWidget(self.tree, 1)
        layout.addLayout(bulk)
        layout.addWidget(self.buttons)
        self.resize(860, 420)

    def _add_row(self, key: RowKey, conflicts: list[Conflict], categories: CategoryIndex) -> None:
        first = conflicts[0]
        for i, c in enumerate(conflicts):
            col = field_column(c.entity, c.field)
            item = QTreeWidgetItem([
                first.label if i == 0 else "",
                column_label(col) if col else c.field,
                _text(c, c.theirs, categories),
                _text(c, c.yours, categories),
                _text(c, c.original, categories),
                "",
            ])
            item.setForeground(COL_THEIRS, QBrush(QColor(theme.BEFORE_FG)))
            item.setForeground(COL_YOURS, QBrush(QColor(theme.AFTER_FG)))
            item.setForeground(COL_READ, QBrush(QColor(theme.TEXT_MUTED)))
            item.setData(COL_ROW, Qt.ItemDataRole.UserRole, key)
            self.tree.addTopLevelItem(item)
            if i == 0:
                combo = QComboBox()
                combo.addItem(self.tr("Re-base"), REBASE)
                combo.addItem(self.tr("Keep theirs"), THEIRS)
                combo.addItem(self.tr("Skip"), SKIP)
                combo.setCurrentIndex(2)
                self.tree.setItemWidget(item, COL_CHOICE, combo)
                self.combos[key] = combo

    # -- choices ----------------------------------------------------------------------------------------
    def set_resolution(self, entity: str, entity_id: int, choice: str) -> None:
        combo = self.combos[(entity, entity_id)]
        combo.setCurrentIndex(combo.findData(choice))

    def set_all(self, choice: str) -> None:
        for combo in self.combos.values():
            combo.setCurrentIndex(combo.findData(choice))

    def resolutions(self) -> dict[RowKey, str]:
        """The choice per row; a cancelled dialog skips every row (the edits stay pending)."""
        if self.result() != QDialog.DialogCode.Accepted:
            return dict.fromkeys(self.combos, SKIP)
        return {key: combo.currentData() for key, combo in self.combos.items()}

    def theirs(self, entity: str, entity_id: int) -> tuple[int, dict[str, Any]]:
        """The current version of a row and the values stored now, as grid values."""
        conflicts = self.by_row[(entity, entity_id)]
        return conflicts[0].current_version, {c.field: from_stored(entity, c.field, c.theirs) for c in conflicts}
