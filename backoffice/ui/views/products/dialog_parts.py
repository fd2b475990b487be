"""What the Products dialogs and panels share: money and values in the user's locale, field names, a
plain read-only table model fed with rows, a table view set up like the rest of the app, and one-line
error texts."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QAbstractTableModel,
    QCoreApplication,
    QLocale,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QPainter, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from backoffice.services.base import ValidationError
from backoffice.ui import theme
from backoffice.ui.views.products.columns import CURRENCY_SYMBOL
from backoffice.ui.views.products.columns import locale as grid_locale

CONTEXT = "ProductsDialogs"
MONEY_FIELDS = frozenset({"price", "compare_at_price", "cost"})
OBJECT_ROLE = Qt.ItemDataRole.UserRole + 1
MATCH_BG = "#fde68a"

FIELD_LABELS = {
    "title": QT_TRANSLATE_NOOP("ProductsDialogs", "Title"),
    "handle": QT_TRANSLATE_NOOP("ProductsDialogs", "Handle"),
    "description": QT_TRANSLATE_NOOP("ProductsDialogs", "Description"),
    "seo_title": QT_TRANSLATE_NOOP("ProductsDialogs", "SEO title"),
    "seo_description": QT_TRANSLATE_NOOP("ProductsDialogs", "SEO description"),
    "vendor": QT_TRANSLATE_NOOP("ProductsDialogs", "Vendor"),
    "product_type": QT_TRANSLATE_NOOP("ProductsDialogs", "Type"),
    "status": QT_TRANSLATE_NOOP("ProductsDialogs", "Status"),
    "variant_status": QT_TRANSLATE_NOOP("ProductsDialogs", "Variant status"),
    "category_id": QT_TRANSLATE_NOOP("ProductsDialogs", "Category"),
    "category": QT_TRANSLATE_NOOP("ProductsDialogs", "Category"),
    "tags": QT_TRANSLATE_NOOP("ProductsDialogs", "Tags"),
    "sku": QT_TRANSLATE_NOOP("ProductsDialogs", "SKU"),
    "barcode": QT_TRANSLATE_NOOP("ProductsDialogs", "Barcode"),
    "price": QT_TRANSLATE_NOOP("ProductsDialogs", "Price"),
    "compare_at_price": QT_TRANSLATE_NOOP("ProductsDialogs", "Compare-at price"),
    "cost": QT_TRANSLATE_NOOP("ProductsDialogs", "Cost"),
    "weight_grams": QT_TRANSLATE_NOOP("ProductsDialogs", "Weight (g)"),
}


def tr(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text)


def field_label(name: str) -> str:
    label = FIELD_LABELS.get(name)
    return tr(label) if label else name.replace("_", " ").capitalize()


def ui_locale() -> QLocale:
    """The user's number format, as the grid uses it (the C locale reads as US English)."""
    return grid_locale()


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def format_money(value: Any) -> str:
    """``€1,234.50`` (the store's currency in the user's number format, as the grid shows it); "—" for
    no value."""
    amount = to_decimal(value)
    if amount is None:
        return "—" if value in (None, "") else str(value)
    return ui_locale().toCurrencyString(float(amount), CURRENCY_SYMBOL, 2)


def format_change(delta: Any) -> str:
    """A signed amount: ``+€4.00``, ``−€0.50``, ``€0.00``."""
    amount = to_decimal(delta)
    if amount is None:
        return "—"
    text = ui_locale().toCurrencyString(float(abs(amount)), CURRENCY_SYMBOL, 2)
    return ("+" if amount > 0 else "−" if amount < 0 else "") + text


def format_count(n: int) -> str:
    return ui_locale().toString(int(n))


def format_when(at: dt.datetime | None) -> str:
    """A timestamp in the user's local time zone, to the minute."""
    if at is None:
        return ""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    return at.astimezone().strftime("%Y-%m-%d %H:%M")


def format_value(name: str, value: Any, categories: dict[int, str] | None = None) -> str:
    """A field's value for a table cell: money in the locale's currency, categories by name, tag lists
    joined; "—" for none and “” for an empty text."""
    if value is None:
        return "—"
    if name in MONEY_FIELDS:
        return format_money(value)
    if name in ("category_id", "category") and categories is not None:
        try:
            return categories.get(int(value), str(value))
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) if value else "“”"
    if isinstance(value, dict):
        if all(isinstance(v, str | int | float) for v in value.values()):
            return "; ".join(f"{k}={v}" for k, v in value.items()) or "“”"
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return tr("yes") if value else tr("no")
    text = str(getattr(value, "value", value))
    text = text.replace("\n", " ⏎ ")
    return text if text.strip() else "“”"


def error_message(exc: BaseException, limit: int = 5) -> str:
    """What went wrong, for a banner: a ValidationError lists its first problems, one per line."""
    if isinstance(exc, ValidationError) and len(exc.problems) > 1:
        lines = [": ".join(p for p in (" ".join(q for q in (row, name) if q), msg) if p)
                 for row, name, msg in exc.problems[:limit]]
        more = len(exc.problems) - limit
        if more > 0:
            lines.append(tr("…and {n} more").format(n=format_count(more)))
        return "\n".join(lines)
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def category_paths(categories: Sequence[dict[str, Any]]) -> dict[int, str]:
    """``{id: "Women > Clothing > Tops"}`` from the category list of ``catalog_grid.facets``."""
    by_id = {c["id"]: c for c in categories}
    out: dict[int, str] = {}

    def path(cid: int, depth: int = 0) -> str:
        if cid in out:
            return out[cid]
        c = by_id[cid]
        parent = c.get("parent_id")
        text = c["name"] if parent not in by_id or depth > 50 else f"{path(parent, depth + 1)} > {c['name']}"
        out[cid] = text
        return text

    for cid in by_id:
        path(cid)
    return out


# -- a plain table model ----------------------------------------------------------------------------------
Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


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

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
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



def plural(n: int, one: str, many: str, **values: Any) -> str:
    """``one`` or ``many`` (both already translated) with ``{n}`` filled in the user's number format."""
    return (one if n == 1 else many).format(n=format_count(n), **values)


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
