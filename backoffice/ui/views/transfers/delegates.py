"""Paints a transfer's state as a small coloured pill (draft grey, shipped blue, partly received amber,
received green, closed violet, cancelled red)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from backoffice.ui import theme
from backoffice.ui.views.inventory.common import OBJECT_ROLE
from backoffice.ui.views.transfers.model import STATE_COLOURS, state_label


def state_colour(state: str) -> str:
    return STATE_COLOURS.get(state, theme.TEXT_MUTED)


class StatePillDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        row = index.data(OBJECT_ROLE)
        if not text or row is None:
            return
        colour = QColor(state_colour(row.state))
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
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, metrics.elidedText(text, Qt.TextElideMode.ElideRight,
                                                                                int(width) - 8))
        painter.restore()


class StatePill(QLabel):
    """The same pill as a label, for the editor's heading."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StatePill")
        self.set_state("")

    def set_state(self, state: str) -> None:
        self.state = state
        self.setVisible(bool(state))
        colour = QColor(state_colour(state))
        fill = QColor(colour)
        fill.setAlpha(30)
        self.setText(state_label(state) if state else "")
        self.setStyleSheet(f"QLabel#StatePill {{ color: {colour.darker(115).name()}; "
                           f"background: rgba({fill.red()}, {fill.green()}, {fill.blue()}, {fill.alpha()}); "
                           "border-radius: 10px; padding: 2px 10px; font-weight: 600; }")
