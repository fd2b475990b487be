"""What the Purchasing screens share: money as money (exact, grouped, with its currency), purchase-order
state labels and colours, a records model that knows money columns, and the state pill."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication, QModelIndex, QPersistentModelIndex, QRectF, Qt
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
from backoffice.ui.views.inventory.common import OBJECT_ROLE, RIGHT, SORT_ROLE, RecordsModel, ui_locale

CONTEXT = "Purchasing"


def tr(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text)


def format_money(amount: Decimal | None, currency: str = "") -> str:
    """``1,234.50 EUR`` in the user's separators; exact (Decimal, never float); "—" for no amount."""
    if amount is None:
        return "—"
    loc = ui_locale()
    text = f"{Decimal(amount).quantize(Decimal('0.01')):,}"
    text = text.replace(",", "\x00").replace(".", loc.decimalPoint()).replace("\x00", loc.groupSeparator())
    return f"{text} {currency}".strip()


STATES = ("draft", "sent", "partial", "received", "closed", "cancelled")
OPEN_STATES = ("draft", "sent", "partial")
STATE_LABELS = {
    "draft": QT_TRANSLATE_NOOP("Purchasing", "Draft"),
    "sent": QT_TRANSLATE_NOOP("Purchasing", "Sent"),
    "partial": QT_TRANSLATE_NOOP("Purchasing", "Partly received"),
    "received": QT_TRANSLATE_NOOP("Purchasing", "Received"),
    "closed": QT_TRANSLATE_NOOP("Purchasing", "Closed"),
    "cancelled": QT_TRANSLATE_NOOP("Purchasing", "Cancelled"),
}
STATE_COLOURS = {"draft": theme.TEXT_MUTED, "sent": theme.ACCENT, "partial": theme.WARNING, "received": theme.SUCCESS,
                 "closed": "#7c3aed", "cancelled": theme.DANGER}
LATE_BG = "#fdecec"
PROBLEM_BG = "#fff4e0"


def state_label(state: str) -> str:
    label = STATE_LABELS.get(state)
    return tr(label) if label else state.capitalize()


class MoneyRecordsModel(RecordsModel):
    """A RecordsModel whose ``money`` columns hold (amount, currency) pairs: shown as money, right-aligned,
    edited and sorted by the amount; ``num`` columns hold numbers already formatted, right-aligned."""

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self.columns)):
            return tr(self.columns[section].header)
        if (role == Qt.ItemDataRole.TextAlignmentRole and 0 <= section < len(self.columns)
                and self.columns[section].kind in ("money", "num")):
            return RIGHT
        return super().headerData(section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        col = self.columns[index.column()]
        if col.kind == "num":   # a number already formatted as text (a rate, a marked level): right-aligned
            if role == Qt.ItemDataRole.TextAlignmentRole:
                return RIGHT
            return super().data(index, role)
        if col.kind != "money" or role in (OBJECT_ROLE, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole,
                                           Qt.ItemDataRole.ToolTipRole):
            return super().data(index, role)
        amount, currency = col.value(self._rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return format_money(amount, currency)
        if role == Qt.ItemDataRole.EditRole:
            return "" if amount is None else str(amount)
        if role == SORT_ROLE:
            return amount
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT
        return None


class MiddleElideDelegate(QStyledItemDelegate):
    """A cell whose text, when too long, is cut in the middle: both ends of a SKU stay visible."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
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


class StatePillDelegate(QStyledItemDelegate):
    """A purchase order's state as a small coloured pill."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = opt.text, ""
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        row = index.data(OBJECT_ROLE)
        if not text or row is None:
            return
        colour = QColor(STATE_COLOURS.get(row.state, theme.TEXT_MUTED))
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
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                         metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(width) - 8))
        painter.restore()


class StatePill(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StatePill")
        self.set_state("")

    def set_state(self, state: str, late: bool = False) -> None:
        self.state = state
        self.setVisible(bool(state))
        colour = QColor(theme.DANGER if late else STATE_COLOURS.get(state, theme.TEXT_MUTED))
        text = state_label(state) if state else ""
        self.setText(f"{text} · {tr('late')}" if late and text else text)
        self.setStyleSheet(f"QLabel#StatePill {{ color: {colour.darker(115).name()}; "
                           f"background: rgba({colour.red()}, {colour.green()}, {colour.blue()}, 30); "
                           "border-radius: 10px; padding: 2px 10px; font-weight: 600; }")
