"""SKU columns that never hide what tells two variants apart.

SKUs of one product share a long prefix and differ at the end (``MERINO-CREW-NAVY-L`` / ``…-XL``) or in
the middle (``TEE-RED-M`` / ``TEE-BLU-M``); cut on the right, two rows look identical. ``fit_sku_column``
sizes the column to its widest SKU as rows arrive (up to ``maximum``), elides in the middle beyond that
(both ends stay visible), and shows the whole SKU as a tooltip when it does not fit.

    fit_sku_column(table, column)      # after table.setModel(model)

Works with any item model; the column's display text is measured, nothing else is read.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QFontMetrics, QHelpEvent
from PySide6.QtWidgets import QAbstractItemView, QStyledItemDelegate, QStyleOptionViewItem, QTableView, QToolTip

Index = QModelIndex | QPersistentModelIndex
CELL_PADDING = 28     # the style sheet's item padding on both sides, plus a little air
MAXIMUM = 520         # about 64 characters: beyond it, elided in the middle
MEASURE_LIMIT = 20_000  # rows measured at a reset (pages measure the rows they add)


class MiddleElideDelegate(QStyledItemDelegate):
    """Draws the cell's text elided in the middle, and shows the whole text as a tooltip when it is cut
    (followed by the model's own tooltip, if it has one)."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView, option: QStyleOptionViewItem,
                  index: Index) -> bool:
        if event.type() == QEvent.Type.ToolTip and index.isValid():
            text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
            if text and option.fontMetrics.horizontalAdvance(text) + CELL_PADDING > option.rect.width():
                own = index.data(Qt.ItemDataRole.ToolTipRole)   # the model's own tooltip comes after the SKU
                QToolTip.showText(event.globalPos(), f"{text}\n{own}" if own else text, view)
                return True
        return super().helpEvent(event, view, option, index)


class SkuColumnFitter(QObject):
    """Keeps one column of ``table`` as wide as its widest text (between ``minimum`` and ``maximum``)."""

    def __init__(self, table: QTableView, column: int, *, minimum: int = 0, maximum: int = MAXIMUM) -> None:
        super().__init__(table)
        self.table, self.column, self.minimum, self.maximum = table, column, minimum, maximum
        self.delegate = MiddleElideDelegate(table)
        table.setItemDelegateForColumn(column, self.delegate)
        self._widest = 0
        self._full = True          # next fit measures every row (after a reset)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.fit)
        self._pending: list[tuple[int, int]] = []
        model = table.model()
        model.modelReset.connect(self._on_reset)
        model.layoutChanged.connect(self._on_reset)
        model.rowsInserted.connect(self._on_inserted)
        model.dataChanged.connect(self._on_changed)
        self._on_reset()
        self.fit()

    def _metrics(self) -> QFontMetrics:
        return QFontMetrics(self.table.font())

    def _on_reset(self, *_args: Any) -> None:
        self._full = True
        self._pending.clear()
        self._timer.start()

    def _on_inserted(self, parent: Index, first: int, last: int) -> None:
        if not parent.isValid():
            self._pending.append((first, last))
            self._timer.start()

    def _on_changed(self, top_left: Index, bottom_right: Index, *_args: Any) -> None:
        if top_left.column() <= self.column <= bottom_right.column():
            self._pending.append((top_left.row(), bottom_right.row()))
            self._timer.start()

    def _measure(self, first: int, last: int, metrics: QFontMetrics) -> int:
        model = self.table.model()
        widest = 0
        for row in range(max(0, first), min(last, first + MEASURE_LIMIT, model.rowCount() - 1) + 1):
            text = model.index(row, self.column).data(Qt.ItemDataRole.DisplayRole)
            if text:
                widest = max(widest, metrics.horizontalAdvance(str(text)))
        return widest

    def fit(self) -> int:
        """Measure what changed and set the column's width now; returns the width."""
        self._timer.stop()
        metrics = self._metrics()
        if self._full:
            self._full = False
            self._pending.clear()
            self._widest = self._measure(0, self.table.model().rowCount() - 1, metrics)
        for first, last in self._pending:
            self._widest = max(self._widest, self._measure(first, last, metrics))
        self._pending.clear()
        width = min(self.maximum, max(self.minimum, self._widest + CELL_PADDING))
        if width != self.table.columnWidth(self.column):
            self.table.setColumnWidth(self.column, width)
        return width


def fit_sku_column(table: QTableView, column: int, *, minimum: int = 0, maximum: int = MAXIMUM) -> SkuColumnFitter:
    """Size ``column`` of ``table`` (its model already set) to its SKUs and elide longer ones in the
    middle. The fitter lives as long as the table."""
    return SkuColumnFitter(table, column, minimum=minimum, maximum=maximum)
