"""Qt item models of the Variants view. Rows are handed in (plain values of the contract); no queries here."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QAbstractTableModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from backoffice.operations.variants import AttributeInfo, Matrix, ValueInfo
from backoffice.ui import theme
from backoffice.ui.format import format_count, format_money, translator
from backoffice.ui.widgets.records import ROOT, Column, Index, RecordsModel

CONTEXT = "VariantsView"
tr = translator(CONTEXT)
_MUTED = QBrush(QColor(theme.TEXT_MUTED))


def _records(columns: list[Column], parent: Any, *, muted_when_archived: bool = False) -> RecordsModel:
    """A records model whose tooltips repeat the cell (long titles are cut in narrow columns); archived
    rows in the muted colour."""
    return RecordsModel(columns, parent, context=CONTEXT,
                        tooltip=lambda row, column: str(columns[column].value(row)),
                        foreground=(lambda row, _column: theme.TEXT_MUTED if row.archived else None)
                        if muted_when_archived else None)


def products_model(parent: Any = None) -> RecordsModel:
    """The products to pick from: title and number of variants."""
    return _records([Column(QT_TRANSLATE_NOOP("VariantsView", "Product"), lambda p: p.title),
                     Column(QT_TRANSLATE_NOOP("VariantsView", "Variants"), lambda p: p.variants, "qty")], parent)


def attribute_name(a: AttributeInfo) -> str:
    return a.name + (" " + tr("(archived)") if a.archived else "")


def attributes_model(parent: Any = None) -> RecordsModel:
    return _records([Column(QT_TRANSLATE_NOOP("VariantsView", "Attribute"), attribute_name),
                     Column(QT_TRANSLATE_NOOP("VariantsView", "Code"), lambda a: a.code),
                     Column(QT_TRANSLATE_NOOP("VariantsView", "Values"), lambda a: len(a.offered()), "qty")],
                    parent, muted_when_archived=True)


def value_state(v: ValueInfo) -> str:
    return tr("Archived") if v.archived else tr("Offered")


def values_model(parent: Any = None) -> RecordsModel:
    return _records([Column(QT_TRANSLATE_NOOP("VariantsView", "Value"), lambda v: v.value),
                     Column(QT_TRANSLATE_NOOP("VariantsView", "Variants"), lambda v: v.variant_count, "qty"),
                     Column(QT_TRANSLATE_NOOP("VariantsView", "State"), value_state)],
                    parent, muted_when_archived=True)


def parse_amount(text: str) -> Decimal | None:
    cleaned = text.strip().replace("€", "").replace(",", "").replace(" ", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


class MatrixModel(QAbstractTableModel):
    """One product's variants laid out by two attributes. Each cell shows the price (a range when it
    holds several variants) and total stock; the price is editable, and edits wait in ``edits``
    until saved."""

    edits_changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.grid: Matrix | None = None
        self.edits: dict[tuple[str, str], Decimal] = {}

    def set_matrix(self, grid: Matrix | None) -> None:
        self.beginResetModel()
        self.grid = grid
        self.edits = {}
        self.endResetModel()
        self.edits_changed.emit()

    def key(self, index: Index) -> tuple[str, str] | None:
        if self.grid is None or not index.isValid():
            return None
        return self.grid.rows[index.row()], self.grid.columns[index.column()]

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() or self.grid is None else len(self.grid.rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() or self.grid is None else len(self.grid.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if self.grid is None or role != Qt.ItemDataRole.DisplayRole:
            return None
        labels = self.grid.columns if orientation == Qt.Orientation.Horizontal else self.grid.rows
        return (labels[section] or "—") if 0 <= section < len(labels) else None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        key = self.key(index)
        if key is not None and self.grid is not None and self.grid.cell(*key) is not None:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def price_text(self, key: tuple[str, str]) -> str:
        assert self.grid is not None
        if key in self.edits:
            return format_money(self.edits[key])
        cell = self.grid.cell(*key)
        if cell is None:
            return ""
        if cell.price_min == cell.price_max:
            return format_money(cell.price_min)
        return f"{format_money(cell.price_min)} – {format_money(cell.price_max)}"

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        key = self.key(index)
        if key is None or self.grid is None:
            return None
        cell = self.grid.cell(*key)
        if role == Qt.ItemDataRole.DisplayRole:
            if cell is None:
                return "·"
            return tr("{price}  ·  {stock} in stock").format(price=self.price_text(key), stock=format_count(cell.stock))
        if role == Qt.ItemDataRole.EditRole:
            if cell is None:
                return ""
            return str(self.edits.get(key, cell.price_min))
        if role == Qt.ItemDataRole.ToolTipRole and cell is not None:
            lines = ", ".join(cell.skus[:6]) + ("…" if len(cell.skus) > 6 else "")
            if cell.overrides:
                lines += "\n" + tr("{n} with a price set by hand (kept when repricing)").format(n=cell.overrides)
            return lines
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.BackgroundRole and key in self.edits:
            return QBrush(QColor(theme.CHANGED_BG))
        if role == Qt.ItemDataRole.ForegroundRole and cell is None:
            return _MUTED
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        key = self.key(index)
        if key is None or self.grid is None or role != Qt.ItemDataRole.EditRole:
            return False
        cell = self.grid.cell(*key)
        amount = parse_amount(str(value))
        if cell is None or amount is None or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            return False
        amount = amount.quantize(Decimal("0.01"))
        if cell.prices and all(p == amount for p in cell.prices):
            self.edits.pop(key, None)
        else:
            self.edits[key] = amount
        self.dataChanged.emit(index, index)
        self.edits_changed.emit()
        return True
