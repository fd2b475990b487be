"""What the Purchasing screens share: the translation context, purchase-order state labels, and a records
model that knows money columns (exact, grouped, with their currency)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QModelIndex, QPersistentModelIndex, Qt

from backoffice.ui.format import format_amount, translator
from backoffice.ui.widgets.records import OBJECT_ROLE, RIGHT, SORT_ROLE, RecordsModel

CONTEXT = "Purchasing"
tr = translator(CONTEXT)

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
LATE_BG = "#fdecec"
PROBLEM_BG = "#fff4e0"


def state_label(state: str) -> str:
    label = STATE_LABELS.get(state)
    return tr(label) if label else state.capitalize()


class MoneyRecordsModel(RecordsModel):
    """A RecordsModel whose ``money`` columns hold (amount, currency) pairs: shown as money, right-aligned,
    edited and sorted by the amount; ``num`` columns hold numbers already formatted, right-aligned.
    Headers are translated in the Purchasing context."""

    def __init__(self, columns: Any, parent: Any = None, **kwargs: Any) -> None:
        super().__init__(columns, parent, context=CONTEXT, **kwargs)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.TextAlignmentRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self.columns) and self.columns[section].kind in ("money", "num")):
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
            return format_amount(amount, currency)
        if role == Qt.ItemDataRole.EditRole:
            return "" if amount is None else str(amount)
        if role == SORT_ROLE:
            return amount
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT
        return None
