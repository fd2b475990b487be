"""A plain records model with typed columns, a quantity editor and the table setup the list views share
(Anki's browser table and Vorta's table models: rows handed in, nothing queried in ``data()``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QCoreApplication, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from backoffice.ui import theme
from backoffice.ui.format import format_qty, format_signed, format_when
from backoffice.ui.widgets.sku_column import fit_sku_column

ROW_HEIGHT = 30
HEADER_PADDING = 30  # the style sheet's section padding plus the sort indicator
OBJECT_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
MAX_QTY = 1_000_000_000

Index = QModelIndex | QPersistentModelIndex
ROOT = QModelIndex()   # the invisible root: the parent of every row


# -- a records model with typed columns ---------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    header: str                       # translated in the model's context when shown
    value: Callable[[Any], Any]
    kind: str = "text"                # text, sku (sized to its content, elided in the middle), qty, signed, when
    width: int = 0
    editable: bool = False


class RecordsModel(QAbstractTableModel):
    """Rows (any objects) handed in whole or page by page; columns say how to show each value.
    Numbers are right-aligned with group separators; ``foreground(row, column)`` and ``background(row)``
    may return a colour name. ``on_edit(row_index, column_index, value) -> bool`` makes editable
    columns write back (the owner updates its row objects and calls :meth:`row_changed`)."""

    def __init__(self, columns: Sequence[Column], parent: Any = None, *,
                 foreground: Callable[[Any, int], str | None] | None = None,
                 background: Callable[[Any], str | None] | None = None,
                 tooltip: Callable[[Any, int], str | None] | None = None,
                 on_edit: Callable[[int, int, Any], bool] | None = None, context: str = "Stock") -> None:
        super().__init__(parent)
        self.context = context            # the translation context of the column headers
        self.columns = list(columns)
        self._rows: list[Any] = []
        self._foreground, self._background, self._tooltip = foreground, background, tooltip
        self._on_edit = on_edit
        self._brushes: dict[str, QBrush] = {}

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def append_rows(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(rows)
        self.endInsertRows()

    def replace_row(self, row: int, value: Any) -> None:
        self._rows[row] = value
        self.row_changed(row)

    def row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1))

    def clear(self) -> None:
        self.set_rows([])

    @property
    def rows(self) -> list[Any]:
        return list(self._rows)

    def row_at(self, row: int) -> Any:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def column_of(self, header: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.header == header)

    def display(self, row: int, column: int) -> str:
        return str(self.data(self.index(row, column)) or "")

    def _brush(self, colour: str) -> QBrush:
        if colour not in self._brushes:
            self._brushes[colour] = QBrush(QColor(colour))
        return self._brushes[colour]

    # -- Qt model interface -------------------------------------------------------------------------
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return QCoreApplication.translate(self.context, self.columns[section].header)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if self.columns[section].kind in ("qty", "signed") else LEFT
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self.columns[index.column()].editable and self._on_edit is not None:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            value = col.value(row)
            if col.kind == "qty":
                return format_qty(value)
            if col.kind == "signed":
                return format_signed(value)
            if col.kind == "when":
                return format_when(value)
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.EditRole:
            return col.value(row)
        if role == OBJECT_ROLE:
            return row
        if role == SORT_ROLE:
            return col.value(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if col.kind in ("qty", "signed") else LEFT
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = self._foreground(row, index.column()) if self._foreground else None
            if colour is None and col.kind == "signed":
                value = col.value(row) or 0
                colour = theme.AFTER_FG if value > 0 else theme.BEFORE_FG if value < 0 else None
            return self._brush(colour) if colour else None
        if role == Qt.ItemDataRole.BackgroundRole and self._background is not None:
            colour = self._background(row)
            return self._brush(colour) if colour else None
        if role == Qt.ItemDataRole.ToolTipRole and self._tooltip is not None:
            return self._tooltip(row, index.column())
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or self._on_edit is None:
            return False
        if not self.columns[index.column()].editable:
            return False
        return bool(self._on_edit(index.row(), index.column(), value))


class QuantityDelegate(QStyledItemDelegate):
    """A spin box with group separators for an integer cell, within [minimum, MAX_QTY]."""

    def __init__(self, minimum: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.minimum = minimum

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        box = QSpinBox(parent)
        box.setRange(self.minimum if self.minimum >= 0 else -MAX_QTY, MAX_QTY)
        box.setGroupSeparatorShown(True)
        box.setAlignment(Qt.AlignmentFlag.AlignRight)
        box.setFrame(False)
        return box

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        editor.setValue(int(index.data(Qt.ItemDataRole.EditRole) or 0))  # type: ignore[attr-defined]

    def setModelData(self, editor: QWidget, model: Any, index: Index) -> None:
        editor.interpretText()  # type: ignore[attr-defined]
        model.setData(index, int(editor.value()), Qt.ItemDataRole.EditRole)  # type: ignore[attr-defined]


def setup_table(table: QTableView, model: RecordsModel, *, stretch: str | None = None,
                selectable: bool = True) -> None:
    """Uniform rows, no grid, whole-row selection, fixed column widths from the model's columns (no
    resize-to-contents pass over the rows); ``stretch`` names the column that takes the spare width.
    SKU columns (kind "sku") are the exception: as wide as their widest SKU, elided in the middle beyond
    that, so two variants never look the same (see ``widgets.sku_column``)."""
    table.setModel(model)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection if selectable
                           else QAbstractItemView.SelectionMode.NoSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                          | QAbstractItemView.EditTrigger.AnyKeyPressed)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    vertical = table.verticalHeader()
    vertical.hide()
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vertical.setDefaultSectionSize(ROW_HEIGHT)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setStretchLastSection(False)
    # A column is never narrower than its own heading (bold, with padding and room for the sort arrow).
    metrics = QFontMetrics(header.font())
    for i, column in enumerate(model.columns):
        heading = str(model.headerData(i, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) or "")
        needed = int(metrics.horizontalAdvance(heading) * 1.1) + HEADER_PADDING
        if column.kind == "sku":
            fitters = getattr(table, "sku_fitters", [])
            fitters.append(fit_sku_column(table, i, minimum=needed))
            table.sku_fitters = fitters  # type: ignore[attr-defined]
        elif column.width:
            table.setColumnWidth(i, max(column.width, needed))
        if column.header == stretch:
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.Stretch)
