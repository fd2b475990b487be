"""Paints the Action column as a small coloured pill (create green, update blue, delete red)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from backoffice.ui import theme
from backoffice.ui.widgets.records import OBJECT_ROLE

_COLOURS = {
    "create": theme.SUCCESS,
    "update": theme.ACCENT,
    "delete": theme.DANGER,
    "revert": theme.WARNING,
}


def action_colour(action: str) -> str:
    for prefix, colour in _COLOURS.items():
        if action.startswith(prefix):
            return colour
    return theme.TEXT_MUTED


class ActionPillDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        if not text:
            return
        row = index.data(OBJECT_ROLE)
        colour = QColor(action_colour(row.action if row is not None else text.lower()))
        metrics = QFontMetrics(opt.font)
        width = metrics.horizontalAdvance(text) + 16
        height = metrics.height() + 4
        rect = QRectF(opt.rect.left() + 8, opt.rect.center().y() - height / 2 + 1, width, height)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(colour)
        fill.setAlpha(28)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, height / 2, height / 2)
        painter.setPen(colour.darker(115))
        painter.setFont(opt.font)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()
