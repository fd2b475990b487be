"""Qt item models of the Variants view. Rows are handed in (plain service results); no queries here."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QAbstractTableModel, QCoreApplication, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from backoffice.services.variants import AttributeInfo, Matrix, ProductRow, ValueInfo
from backoffice.ui import theme
from backoffice.ui.views.products.dialog_parts import format_count, format_money

Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
OBJECT_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_MUTED = QBrush(QColor(theme.TEXT_MUTED))


def tr(text: str) -> str:
    return QCoreApplication.translate("VariantsView", text)


class _ObjectsModel(QAbstractTableModel):
    """Rows of objects; subclasses say how each column shows one."""

    HEADERS: tuple[str, ...] = ()
    RIGHT: frozenset[int] = frozenset()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def object_at(self, row: int) -> Any:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    @property
    def objects(self) -> list[Any]:
        return list(self._rows)

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return tr(self.HEADERS[section])
        return None

    def display(self, obj: Any, column: int) -> str:
        raise NotImplementedError

    def muted(self, obj: Any) -> bool:
        return False

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        obj = self.object_at(index.row()) if index.isValid() else None
        if obj is None:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.display(obj, index.column())
        if role == OBJECT_ROLE:
            return obj
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in self.RIGHT:
            return _RIGHT
        if role == Qt.ItemDataRole.ForegroundRole and self.muted(obj):
            return _MUTED
        return None


class ProductsModel(_ObjectsModel):
    HEADERS = (QT_TRANSLATE_NOOP("VariantsView", "Product"), QT_TRANSLATE_NOOP("VariantsView", "Variants"))
    RIGHT = frozenset({1})

    def display(self, obj: ProductRow, column: int) -> str:
        if column == 0:
            return obj.title
        return format_count(obj.variants)


class AttributesModel(_ObjectsModel):
    HEADERS = (QT_TRANSLATE_NOOP("VariantsView", "Attribute"), QT_TRANSLATE_NOOP("VariantsView", "Code"), QT_TRANSLATE_NOOP("VariantsView", "Values"))
    RIGHT = frozenset({2})

    def display(self, obj: AttributeInfo, column: int) -> str:
        if column == 0:
            return obj.name + (" " + tr("(archived)") if obj.archived else "")
        if column == 1:
            return obj.code
        return format_count(len(obj.offered()))

    def muted(self, obj: AttributeInfo) -> bool:
        return obj.archived


class ValuesModel(_ObjectsModel):
    HEADERS = (QT_TRANSLATE_NOOP("VariantsView", "Value"), QT_TRANSLATE_NOOP("VariantsView", "Variants"), QT_TRANSLATE_NOOP("VariantsView", "State"))
    RIGHT = frozenset({1})

    def display(self, obj: ValueInfo, column: int) -> str:
        if column == 0:
            return obj.value
        if column == 1:
            return format_count(obj.variant_count)
        return tr("Archived") if obj.archived else tr("Offered")

    def muted(self, obj: ValueInfo) -> bool:
        return obj.archived


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

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() or self.grid is None else len(self.grid.rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
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
