"""The Reports view's Qt models. No queries: results and report lists are handed in.

:class:`ResultTableModel` shows a report result lazily: it holds the result's rows and exposes them
200 at a time as the table scrolls (``canFetchMore`` / ``fetchMore``), so a preview of thousands of
rows costs nothing until it is looked at. Numbers are right-aligned in the user's format, money with
its currency's places, ratios as percentages, periods as the
exports label them (the current, partial one in italics).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QAbstractListModel, QAbstractTableModel, QModelIndex, Qt

from backoffice.operations.reports import OutputColumn, ReportEntry
from backoffice.reports.formats import bucket_label, bucket_of, currency_places, to_money
from backoffice.ui import theme
from backoffice.ui.format import ui_locale
from backoffice.ui.widgets.records import LEFT, OBJECT_ROLE, RIGHT, ROOT, SORT_ROLE, Index

BATCH = 200


def format_value(value: Any, kind: str, bucket: str = "", *, partial: bool = False, currency: str = "") -> str:
    """A value as the table shows it: periods as the exports label them ("Jan 2025", "2025-W03",
    "Q1 2025", "(partial)" for an incomplete one), money with its currency's places."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if bucket and isinstance(value, dt.date):
        return bucket_label(value, bucket, partial)
    loc = ui_locale()
    if kind == "money" and isinstance(value, (int, float, Decimal)):
        amount = to_money(value, currency)
        return "" if amount is None else loc.toString(float(amount), "f", currency_places(currency))
    if kind == "int" and isinstance(value, (int, float, Decimal)):
        return loc.toString(int(value))
    if kind == "number" and isinstance(value, (int, float, Decimal)):
        return loc.toString(float(value), "f", 2)
    if kind == "percent" and isinstance(value, (int, float, Decimal)):
        return loc.toString(float(value) * 100, "f", 1) + " %"
    if isinstance(value, dt.datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "to_pydatetime"):
        return format_value(value.to_pydatetime(), kind)
    return str(value)


class ResultTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.columns: list[OutputColumn] = []
        self._rows: list[tuple] = []
        self._shown = 0
        self._buckets: list[str] = []
        self._is_partial: Callable[[str, Any], bool] = lambda key, value: False
        self.currency = ""

    def set_result(self, columns: list[OutputColumn], rows: list[tuple], *,
                   is_partial: Callable[[str, Any], bool] | None = None, currency: str = "") -> None:
        self.beginResetModel()
        self.columns = list(columns)
        self._rows = rows
        self._shown = min(BATCH, len(rows))
        self._buckets = [bucket_of(c.key, c.kind) for c in self.columns]
        self._is_partial = is_partial or (lambda key, value: False)
        self.currency = currency
        self.endResetModel()

    def is_partial(self, row: int, column: int) -> bool:
        return bool(self._buckets[column]) and self._is_partial(self.columns[column].key, self._rows[row][column])

    def clear(self) -> None:
        self.set_result([], [])

    @property
    def total_rows(self) -> int:
        return len(self._rows)

    def value(self, row: int, column: int) -> Any:
        return self._rows[row][column]

    def display(self, row: int, column: int) -> str:
        return str(self.data(self.index(row, column)) or "")

    # -- lazy rows ------------------------------------------------------------------------------------
    def canFetchMore(self, parent: Index = ROOT) -> bool:
        return not parent.isValid() and self._shown < len(self._rows)

    def fetchMore(self, parent: Index = ROOT) -> None:
        if parent.isValid() or self._shown >= len(self._rows):
            return
        more = min(BATCH, len(self._rows) - self._shown)
        self.beginInsertRows(QModelIndex(), self._shown, self._shown + more - 1)
        self._shown += more
        self.endInsertRows()

    # -- Qt model interface -----------------------------------------------------------------------------
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else self._shown

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        column = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.label
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column.numeric else LEFT
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < self._shown:
            return None
        column = self.columns[index.column()]
        value = self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            bucket = self._buckets[index.column()]
            return format_value(value, column.kind, bucket, currency=self.currency,
                                partial=bool(bucket) and self._is_partial(column.key, value))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT if column.numeric else LEFT
        if role == Qt.ItemDataRole.FontRole and self.is_partial(index.row(), index.column()):
            from PySide6.QtGui import QFont

            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and self.is_partial(index.row(), index.column()):
            return "A period the report covers only in part"
        if role == SORT_ROLE:
            return value
        if role == Qt.ItemDataRole.ForegroundRole and column.numeric and isinstance(value, (int, float, Decimal)) \
                and value < 0:
            from PySide6.QtGui import QBrush, QColor

            return QBrush(QColor(theme.DANGER))
        return None


class ReportListModel(QAbstractListModel):
    """Built-in and saved reports; the object role gives the ReportEntry."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.entries: list[ReportEntry] = []

    def set_entries(self, entries: list[ReportEntry]) -> None:
        self.beginResetModel()
        self.entries = sorted(entries, key=lambda e: (e.builtin, e.title.casefold())) if entries else []
        self.endResetModel()

    def row_of(self, name: str) -> int:
        return next((i for i, e in enumerate(self.entries) if e.name == name), -1)

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.entries):
            return None
        entry = self.entries[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.title
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = "Built-in report" if entry.builtin else "Saved report"
            return f"{kind} · {entry.name}\n{entry.description}".strip()
        if role == OBJECT_ROLE:
            return entry
        if role == Qt.ItemDataRole.ForegroundRole and entry.builtin:
            from PySide6.QtGui import QBrush, QColor

            return QBrush(QColor(theme.TEXT))
        return None
