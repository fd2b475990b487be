"""The selected audit entry as a field-by-field diff: field, value before, value after.

An entry described by the service (``row.view``) shows its lines as they come, names instead of ids and
one row per line of a document; a bulk edit, import or revert offers a button that lists the rows its
changeset changed (:attr:`AuditDetailsPane.changeset_requested`; the view opens them, in the background).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QCoreApplication, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.audit import AuditRow
from backoffice.ui import theme
from backoffice.ui.views.audit.models import action_label, entity_label, format_timestamp
from backoffice.ui.widgets.records import ROOT, Index

COL_FIELD, COL_BEFORE, COL_AFTER = range(3)
_HEADERS = ("Field", "Before", "After")
CHANGED_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class DiffLine:
    field: str
    before: Any
    after: Any
    changed: bool
    label: str | None = None   # the service's wording ("destination location", "line MC-S · …")


def changed_field_names(row: AuditRow) -> set[str]:
    """Fields whose value differs, or that exist on one side only (every field of a create or delete)."""
    before, after = row.before or {}, row.after or {}
    return {f for f in set(before) | set(after) if (f in before) != (f in after) or before.get(f) != after.get(f)}


def diff_lines(row: AuditRow, *, include_unchanged: bool = True) -> list[DiffLine]:
    """Changed fields first, then (optionally) the unchanged ones, each group in name order. A described
    entry gives its display-ready lines (names, not ids)."""
    if row.view is not None:
        return [DiffLine(ln.field, ln.before, ln.after, ln.changed, ln.label) for ln in row.view.lines
                if include_unchanged or ln.changed]
    before, after = row.before or {}, row.after or {}
    changed = changed_field_names(row)
    lines = [DiffLine(f, before.get(f), after.get(f), True) for f in sorted(changed)]
    if include_unchanged:
        lines += [DiffLine(f, before.get(f), after.get(f), False) for f in sorted((set(before) | set(after)) - changed)]
    return lines


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return QCoreApplication.translate("AuditDiff", "yes" if value else "no")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    return text if text.strip() else "“”"


def field_label(name: str) -> str:
    return name.replace("_", " ")


class AuditDiffModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._entry: AuditRow | None = None
        self._lines: list[DiffLine] = []
        self._include_unchanged = True

    @property
    def entry(self) -> AuditRow | None:
        return self._entry

    @property
    def lines(self) -> list[DiffLine]:
        return list(self._lines)

    def set_entry(self, entry: AuditRow | None) -> None:
        self.beginResetModel()
        self._entry = entry
        self._lines = diff_lines(entry, include_unchanged=self._include_unchanged) if entry else []
        self.endResetModel()

    def set_include_unchanged(self, include: bool) -> None:
        self._include_unchanged = include
        self.set_entry(self._entry)

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._lines)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else 3

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < 3:
            return QCoreApplication.translate("AuditDiff", _HEADERS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._lines):
            return None
        line, col = self._lines[index.row()], index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if col == COL_FIELD:
                return line.label if line.label is not None else field_label(line.field)
            return format_value(line.before if col == COL_BEFORE else line.after)
        if role == CHANGED_ROLE:
            return line.changed
        if role == Qt.ItemDataRole.BackgroundRole and line.changed:
            return QBrush(QColor(theme.CHANGED_BG))
        if role == Qt.ItemDataRole.ForegroundRole:
            if not line.changed:
                return QBrush(QColor(theme.TEXT_MUTED))
            if col == COL_BEFORE:
                return QBrush(QColor(theme.BEFORE_FG))
            if col == COL_AFTER:
                return QBrush(QColor(theme.AFTER_FG))
        if role == Qt.ItemDataRole.FontRole and line.changed and col == COL_FIELD:
            font = QFont()
            font.setBold(True)
            return font
        return None


class AuditDetailsPane(QFrame):
    """Header (what, who, when, operation) over the diff table; a hint when nothing is selected."""

    changeset_requested = Signal(int)  # a changeset id: list the rows it changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.model = AuditDiffModel(self)
        self._changeset_id: int | None = None
        self.changeset_button = QPushButton()
        self.changeset_button.setToolTip(self.tr("Which rows this change made, each field before → after"))
        self.changeset_button.clicked.connect(self._on_changeset_clicked)
        self.changeset_button.hide()

        self.title = QLabel()
        self.title.setObjectName("DetailsTitle")
        self.meta = QLabel()
        self.meta.setObjectName("DetailsMeta")
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.show_unchanged = QCheckBox(self.tr("Show unchanged fields"))
        self.show_unchanged.setChecked(True)
        self.show_unchanged.toggled.connect(self.model.set_include_unchanged)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(COL_FIELD, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_BEFORE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_AFTER, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(COL_FIELD, 300)  # line labels: "line SKU · product title"

        heading = QHBoxLayout()
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.meta)
        heading.addLayout(text, 1)
        heading.addWidget(self.changeset_button, 0, Qt.AlignmentFlag.AlignTop)
        heading.addWidget(self.show_unchanged, 0, Qt.AlignmentFlag.AlignTop)
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(10)
        content_layout.addLayout(heading)
        content_layout.addWidget(self.table, 1)

        self.placeholder = QLabel(self.tr("Select an entry to see what changed, field by field."))
        self.placeholder.setObjectName("Muted")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(self.stack)

    def show_entry(self, entry: AuditRow | None) -> None:
        self.model.set_entry(entry)
        self._changeset_id = None
        self.changeset_button.hide()
        if entry is None:
            self.stack.setCurrentIndex(0)
            return
        view = entry.view
        subject = view.subject if view is not None else entry.entity_id
        if view is not None and view.changeset_id is not None:
            self.title.setText(subject)  # "Bulk edit #12: Winter prices" says what and which already
        else:
            self.title.setText(f"{entity_label(entry.entity)} {subject} · {action_label(entry.action)}")
        changed = sum(1 for line in diff_lines(entry, include_unchanged=False)) if view is not None \
            else len(changed_field_names(entry))
        parts = [
            self.tr("by {user}").format(user=entry.username),
            format_timestamp(entry.at),
            self.tr("1 field changed") if changed == 1 else self.tr("{n} fields changed").format(n=changed),
        ]
        if view is not None:
            parts.append(self.tr("id {id}").format(id=entry.entity_id))
        if entry.operation_id:
            parts.append(self.tr("operation {id}").format(id=entry.operation_id))
        self.meta.setText("  ·  ".join(parts))
        if view is not None and view.changeset_id is not None:
            self._changeset_id = view.changeset_id
            n = view.changeset_rows
            self.changeset_button.setText(
                self.tr("Show the changed rows…") if n is None else
                self.tr("Show the changed row…") if n == 1 else
                self.tr("Show the {n} changed rows…").format(n=f"{n:,}"))
            self.changeset_button.show()
        self.stack.setCurrentIndex(1)

    def _on_changeset_clicked(self) -> None:
        if self._changeset_id is not None:
            self.changeset_requested.emit(self._changeset_id)
