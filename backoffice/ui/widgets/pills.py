"""A document's state as a small coloured pill (draft grey, sent or shipped blue, partly received amber,
received green, closed violet, cancelled red), in a table cell or as a label beside a heading; and a
delegate that cuts a cell's text in the middle, so both ends of a long SKU stay visible."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from backoffice.ui import theme
from backoffice.ui.widgets.records import OBJECT_ROLE, RecordsModel

Index = QModelIndex | QPersistentModelIndex

# The colours of the states documents share (transfers and purchase orders).
STATE_COLOURS = {"draft": theme.TEXT_MUTED, "sent": theme.ACCENT, "shipped": theme.ACCENT, "partial": theme.WARNING,
                 "received": theme.SUCCESS, "closed": "#7c3aed", "cancelled": theme.DANGER}


def state_colour(state: str, colours: Mapping[str, str] = STATE_COLOURS) -> str:
    return colours.get(state, theme.TEXT_MUTED)


class StatePillDelegate(QStyledItemDelegate):
    """Paints the cell's text as a pill in the colour of its row's ``state`` (the row object is read
    from OBJECT_ROLE)."""

    def __init__(self, parent: QWidget | None = None, colours: Mapping[str, str] = STATE_COLOURS) -> None:
        super().__init__(parent)
        self.colours = colours

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        row = index.data(OBJECT_ROLE)
        if not text or row is None:
            return
        colour = QColor(state_colour(row.state, self.colours))
        metrics = QFontMetrics(opt.font)
        width = min(metrics.horizontalAdvance(text) + 16, opt.rect.width() - 12)
        height = metrics.height() + 4
        rect = QRectF(opt.rect.left() + 6, opt.rect.center().y() - height / 2 + 1, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(colour)
        fill.setAlpha(30)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setPen(colour.darker(115))
        painter.setFont(opt.font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                         metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width) - 8))
        painter.restore()


class StatePill(QLabel):
    """The same pill as a label, for an editor's heading: ``label(state)`` is its text; a late document
    is red and says so (``late_text``)."""

    def __init__(self, label: Callable[[str], str], late_text: str = "", parent: QWidget | None = None,
                 colours: Mapping[str, str] = STATE_COLOURS) -> None:
        super().__init__(parent)
        self.setObjectName("StatePill")
        self.label, self.late_text, self.colours = label, late_text, colours
        self.set_state("")

    def set_state(self, state: str, late: bool = False) -> None:
        self.state = state
        self.setVisible(bool(state))
        colour = QColor(theme.DANGER if late else state_colour(state, self.colours))
        text = self.label(state) if state else ""
        self.setText(f"{text} · {self.late_text}" if late and text and self.late_text else text)
        self.setStyleSheet(f"QLabel#StatePill {{ color: {colour.darker(115).name()}; "
                           f"background: rgba({colour.red()}, {colour.green()}, {colour.blue()}, 30); "
                           "border-radius: 10px; padding: 2px 10px; font-weight: 600; }")


class MiddleElideDelegate(QStyledItemDelegate):
    """A cell whose text, when too long, is cut in the middle: both ends of a SKU stay visible."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


def elide_sku_columns(table: QTableView, model: RecordsModel) -> None:
    """SKU columns (kind "sku") never cut on the right, where variants differ. ``setup_table`` sizes them
    to their SKUs and elides in the middle where the shared table setup does so; elsewhere a
    middle-eliding delegate is put on them here."""
    if getattr(table, "sku_fitters", None):
        return
    for i, column in enumerate(model.columns):
        if column.kind == "sku":
            table.setItemDelegateForColumn(i, MiddleElideDelegate(table))
