"""A read-only table of display rows (previews, problems, conflicts, history), the table view set up like
the rest of the app, and the small labels and delegates dialogs share."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from backoffice.ui import resources, theme
from backoffice.ui.widgets.records import OBJECT_ROLE, ROOT, Index

MATCH_BG = "#fde68a"   # a find-and-replace match

class RowsModel(QAbstractTableModel):
    """Read-only rows of display strings handed in whole (previews, problems, conflicts, history).
    ``colours`` gives a foreground colour per column (before in red, after in green); the object of
    each row, if given, is returned for OBJECT_ROLE."""

    def __init__(self, headers: Sequence[str], *, colours: dict[int, str] | None = None,
                 align_right: Sequence[int] = (), parent: Any = None) -> None:
        super().__init__(parent)
        self._headers = list(headers)
        self._rows: list[tuple[str, ...]] = []
        self._objects: list[Any] = []
        self._colours = {c: QBrush(QColor(v)) for c, v in (colours or {}).items()}
        self._right = set(align_right)

    def set_rows(self, rows: Sequence[Sequence[Any]], objects: Sequence[Any] | None = None) -> None:
        self.beginResetModel()
        self._rows = [tuple("" if v is None else str(v) for v in r) for r in rows]
        self._objects = list(objects) if objects is not None else [None] * len(self._rows)
        self.endResetModel()

    def append_rows(self, rows: Sequence[Sequence[Any]], objects: Sequence[Any] | None = None) -> None:
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        self._rows.extend(tuple("" if v is None else str(v) for v in r) for r in rows)
        self._objects.extend(objects if objects is not None else [None] * len(rows))
        self.endInsertRows()

    def clear(self) -> None:
        self.set_rows([])

    @property
    def rows(self) -> list[tuple[str, ...]]:
        return list(self._rows)

    def object_at(self, row: int) -> Any:
        return self._objects[row] if 0 <= row < len(self._objects) else None

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(self._headers):
            return self._headers[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = index.row(), index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._rows[row][col] if col < len(self._rows[row]) else ""
        if role == Qt.ItemDataRole.ForegroundRole and col in self._colours:
            return self._colours[col]
        if role == Qt.ItemDataRole.TextAlignmentRole and col in self._right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == OBJECT_ROLE:
            return self._objects[row]
        return None


def make_table(model: QAbstractTableModel, widths: dict[int, int] | None = None, *, stretch: Sequence[int] = (),
               parent: QWidget | None = None) -> QTableView:
    """A read-only, row-selecting table with fixed row heights (no per-row measuring)."""
    table = QTableView(parent)
    table.setModel(model)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    vertical = table.verticalHeader()
    vertical.hide()
    vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vertical.setDefaultSectionSize(28)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setStretchLastSection(not stretch)
    for col, width in (widths or {}).items():
        table.setColumnWidth(col, width)
    for col in stretch:
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
    return table


def before_after_colours(before: int, after: int) -> dict[int, str]:
    return {before: theme.BEFORE_FG, after: theme.AFTER_FG}


def heading(text: str, object_name: str = "DetailsTitle") -> QLabel:
    label = QLabel(text)
    label.setObjectName(object_name)
    return label


def muted(text: str = "", *, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setObjectName("Muted")
    label.setWordWrap(wrap)
    return label


def tool_button(text: str, icon: str = "", tip: str = "", parent: QWidget | None = None) -> QPushButton:
    """A push button with an optional 16 px icon (drawn in the text colour) and tooltip."""
    button = QPushButton(text, parent)
    if icon:
        button.setIcon(resources.icon(icon, theme.TEXT))
        button.setIconSize(QSize(16, 16))
    if tip:
        button.setToolTip(tip)
    return button


class HighlightDelegate(QStyledItemDelegate):
    """Paints a cell's text with every match of ``pattern`` marked (the live find-and-replace preview)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pattern: re.Pattern[str] | None = None

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        if self.pattern is None or not text:
            super().paint(painter, option, index)
            return
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        parts, last = [], 0
        for m in self.pattern.finditer(text):
            if m.end() == m.start():
                continue
            parts.append(html.escape(text[last:m.start()]))
            parts.append(f'<span style="background-color:{MATCH_BG};">{html.escape(m.group(0))}</span>')
            last = m.end()
        parts.append(html.escape(text[last:]))
        colour = index.data(Qt.ItemDataRole.ForegroundRole)
        doc = QTextDocument()
        doc.setDefaultFont(opt.font)
        doc.setDocumentMargin(0)
        doc.setDefaultStyleSheet(f"body {{ color: {colour.color().name() if colour else theme.TEXT}; }}")
        doc.setHtml(f"<body style='white-space:pre'>{''.join(parts)}</body>")
        rect = opt.rect.adjusted(8, 0, -6, 0)
        painter.save()
        painter.setClipRect(rect)
        painter.translate(rect.left(), rect.top() + (rect.height() - doc.size().height()) / 2)
        doc.drawContents(painter)
        painter.restore()
