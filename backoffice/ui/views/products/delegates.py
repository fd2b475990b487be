"""Editors and painting of the grid's cells.

Each kind of column gets its own editor: money in a right-aligned field that reads the user's number
format (two decimals, empty for "no amount" where that is allowed), statuses in a combo box, the category
in a tree picker, tags as a comma-separated list, text in a line edit. Placeholder cells (rows still
loading) are painted as soft grey bars, and staged edits get a corner mark over their highlight.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QPoint,
    QRect,
    QRectF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPainterPath,
    QPixmap,
    QValidator,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.ui import resources, theme
from backoffice.ui.format import ui_locale
from backoffice.ui.thumbnails import ThumbnailSource
from backoffice.ui.views.products.columns import (
    ENUM_VALUES,
    MIDDLE_ELIDED,
    NULLABLE,
    CategoryIndex,
    CellError,
    format_value,
    parse_money,
    parse_tags,
    parse_value,
    tr,
)
from backoffice.ui.views.products.models import STAGED_BG, Cell, ProductGridModel
from backoffice.ui.widgets.records import Index

_ID_ROLE = Qt.ItemDataRole.UserRole + 1
_PAD = 6   # horizontal padding of cell text, as the style sheet gives other tables
THUMB_SIDE = 24  # the Title column's picture, in a 30-pixel row
_SELECTED = QStyle.StateFlag.State_Selected.value
_HAS_FOCUS = QStyle.StateFlag.State_HasFocus.value
_ALTERNATE = QStyleOptionViewItem.ViewItemFeature.Alternate.value
_RIGHT = Qt.AlignmentFlag.AlignRight.value


class MoneyValidator(QValidator):
    def __init__(self, nullable: bool, parent: Any = None) -> None:
        super().__init__(parent)
        self.nullable = nullable

    def validate(self, text: str, pos: int) -> Any:
        try:
            parse_money(text, nullable=self.nullable)
            return QValidator.State.Acceptable, text, pos
        except CellError:
            stripped = text.strip()
            if all(ch.isdigit() or ch in " .,'€$£" for ch in stripped):
                return QValidator.State.Intermediate, text, pos
            return QValidator.State.Invalid, text, pos


class MoneyEdit(QLineEdit):
    """A money field: right-aligned, two decimals in the user's format, empty means "none" if allowed."""

    def __init__(self, nullable: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.nullable = nullable
        self.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.setValidator(MoneyValidator(nullable, self))
        self.setPlaceholderText(tr("none") if nullable else "0.00")

    def set_value(self, value: Decimal | None) -> None:
        self.setText("" if value is None else ui_locale().toString(float(value), "f", 2))
        self.selectAll()

    def value(self) -> Decimal | None:
        return parse_money(self.text(), nullable=self.nullable)


# -- the category tree picker ------------------------------------------------------------------------------
class CategoryTreePopup(QFrame):
    """The category tree in a popup, with a search box; emits the picked id (None for the first entry)."""

    picked = Signal(object)

    def __init__(self, none_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("CategoryPopup")
        self.none_text = none_text
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("Search categories…"))
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.itemActivated.connect(self._on_item)
        self.tree.itemClicked.connect(self._on_item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.resize(320, 360)

    def set_categories(self, categories: CategoryIndex) -> None:
        self.tree.clear()
        top = QTreeWidgetItem([self.none_text])
        top.setData(0, _ID_ROLE, None)
        self.tree.addTopLevelItem(top)

        def add(parent: QTreeWidgetItem | None, parent_id: int | None) -> None:
            for node in categories.children(parent_id):
                item = QTreeWidgetItem([node.name])
                item.setData(0, _ID_ROLE, node.id)
                item.setToolTip(0, node.path)
                if parent is None:
                    self.tree.addTopLevelItem(item)
                else:
                    parent.addChild(item)
                add(item, node.id)
        add(None, None)
        self.tree.expandAll()

    def item_for(self, category_id: int | None) -> QTreeWidgetItem | None:
        for item in self._items():
            if item.data(0, _ID_ROLE) == category_id:
                return item
        return None

    def _items(self) -> list[QTreeWidgetItem]:
        out: list[QTreeWidgetItem] = []
        stack = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        while stack:
            item = stack.pop()
            out.append(item)
            stack.extend(item.child(i) for i in range(item.childCount()))
        return out

    def _filter(self, text: str) -> None:
        """Show the categories whose path holds the text, and their ancestors."""
        needle = text.strip().lower()
        for item in self._items():
            item.setHidden(bool(needle) and not self._has_match(item, needle))

    def _has_match(self, item: QTreeWidgetItem, needle: str) -> bool:
        if needle in (item.toolTip(0) or item.text(0)).lower():
            return True
        return any(self._has_match(item.child(i), needle) for i in range(item.childCount()))

    def _on_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        self.hide()
        self.picked.emit(item.data(0, _ID_ROLE))


class CategoryPicker(QComboBox):
    """A combo box whose popup is the category tree: used in the filter bar and as the cell editor."""

    category_changed = Signal(object)   # int | None

    def __init__(self, none_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.none_text = none_text
        self.categories = CategoryIndex()
        self._value: int | None = None
        self.popup = CategoryTreePopup(none_text, self)
        self.popup.picked.connect(self._on_picked)
        self.addItem(none_text)

    def set_categories(self, categories: CategoryIndex) -> None:
        self.categories = categories
        self.popup.set_categories(categories)
        self._show_value()

    def value(self) -> int | None:
        return self._value

    def set_value(self, category_id: int | None) -> None:
        self._value = category_id
        self._show_value()

    def _show_value(self) -> None:
        text = self.categories.path(self._value) if self._value is not None else self.none_text
        self.setItemText(0, text)
        self.setToolTip(text)

    def showPopup(self) -> None:
        self.popup.search.clear()
        item = self.popup.item_for(self._value)
        if item is not None:
            self.popup.tree.setCurrentItem(item)
        self.popup.move(self.mapToGlobal(QPoint(0, self.height())))
        self.popup.resize(max(self.width(), 320), 360)
        self.popup.show()
        self.popup.search.setFocus()

    def hidePopup(self) -> None:
        self.popup.hide()

    def _on_picked(self, category_id: int | None) -> None:
        changed = category_id != self._value
        self.set_value(category_id)
        if changed:
            self.category_changed.emit(category_id)


# -- the delegate ---------------------------------------------------------------------------------------
class GridDelegate(QStyledItemDelegate):
    """Editors by column kind, placeholder bars and staged-edit marks."""

    rejected = Signal(str)   # a value the editor could not take, in words

    def __init__(self, model: ProductGridModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.grid = model
        # Set by the view: pixmaps by thumbnail hash for the Title column, and who fetches the missing ones.
        self.thumbnails: ThumbnailSource | None = None
        self.request_thumbnail: Callable[[str], None] | None = None
        self._thumb_column = next(i for i, c in enumerate(model.columns) if c.key == "title")
        self._thumb_frame = QColor(theme.BORDER)
        self._staged_bg = QColor(STAGED_BG)
        self._bold: tuple[QFont, QFont, QFontMetrics] | None = None
        self._danger = QColor(theme.DANGER)
        self._warning = QColor(theme.WARNING)
        self._warning_icon: QPixmap | None = None
        self._focus = QColor(theme.ACCENT)
        self._middle_elided = {i for i, c in enumerate(model.columns) if c.key in MIDDLE_ELIDED}

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        col = self.grid.columns[index.column()]
        if col.kind == "money":
            return MoneyEdit(col.key in NULLABLE, parent)
        if col.kind == "enum":
            combo = QComboBox(parent)
            for value in ENUM_VALUES[col.key]:
                combo.addItem(format_value(col, value), value)
            combo.activated.connect(lambda _i, e=combo: self._commit_and_close(e))
            return combo
        if col.kind == "category":
            picker = CategoryPicker(tr("No category"), parent)
            picker.set_categories(self.grid.categories)
            picker.category_changed.connect(lambda _v, e=picker: self._commit_and_close(e))
            QTimer.singleShot(0, picker.showPopup)   # one click on the cell opens the tree
            return picker
        editor = QLineEdit(parent)
        if col.kind == "tags":
            editor.setPlaceholderText(tr("tag, another tag"))
        return editor

    def _commit_and_close(self, editor: QWidget) -> None:
        self.commitData.emit(editor)
        self.closeEditor.emit(editor, QStyledItemDelegate.EndEditHint.NoHint)

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        # Only once: rows refreshed in the background while the user types must not overwrite the input.
        if editor.property("filled"):
            return
        editor.setProperty("filled", True)
        value = index.data(Qt.ItemDataRole.EditRole)
        col = self.grid.columns[index.column()]
        if isinstance(editor, MoneyEdit | CategoryPicker):
            editor.set_value(value)
        elif isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(value)))
        elif isinstance(editor, QLineEdit):
            editor.setText(", ".join(value) if col.kind == "tags" else ("" if value is None else str(value)))

    def editor_value(self, editor: QWidget, index: Index) -> Any:
        """The value in the editor; CellError if it cannot go in the cell."""
        col = self.grid.columns[index.column()]
        if isinstance(editor, MoneyEdit):
            return editor.value()
        if isinstance(editor, CategoryPicker):
            return editor.value()
        if isinstance(editor, QComboBox):
            return editor.currentData()
        assert isinstance(editor, QLineEdit)
        if col.kind == "tags":
            return parse_tags(editor.text())
        return parse_value(col, editor.text(), self.grid.categories)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        try:
            value = self.editor_value(editor, index)
        except CellError as exc:
            col = self.grid.columns[index.column()]
            message = f"{col.label}: {exc}"
            QToolTip.showText(editor.mapToGlobal(QPoint(0, editor.height())), message, editor)
            self.rejected.emit(message)
            return
        model.setData(index, value, Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: Index) -> None:
        editor.setGeometry(option.rect)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        """Cells are drawn here from the model's cached cell (text, alignment, staged, measured width),
        without a data() call per role or a text layout per paint."""
        cell = self.grid.cell(index.row(), index.column())
        rect = option.rect
        state = option.state.value
        selected = state & _SELECTED
        palette = option.palette
        if selected:
            painter.fillRect(rect, palette.highlight())
        elif cell is not None and cell.staged:
            painter.fillRect(rect, self._staged_bg)
        elif option.features.value & _ALTERNATE:
            painter.fillRect(rect, palette.alternateBase())
        if cell is None:
            self._paint_placeholder(painter, option, index)
        else:
            if cell.below_cost:
                painter.setPen(self._warning)
                rect = self._paint_warning_icon(painter, rect)
            elif cell.negative:
                painter.setPen(self._danger)
            else:
                painter.setPen(palette.highlightedText().color() if selected else palette.text().color())
            if cell.staged:
                if self._bold is None or self._bold[0] != option.font:
                    font = QFont(option.font)
                    font.setBold(True)
                    self._bold = (QFont(option.font), font, QFontMetrics(font))
                painter.setFont(self._bold[1])
                metrics = self._bold[2]
            else:
                painter.setFont(option.font)
                metrics = option.fontMetrics
            if index.column() == self._thumb_column and self.thumbnails is not None:
                rect = self._paint_thumbnail(painter, rect, index.row())
            self._draw_text(painter, rect, cell, metrics, index.column() in self._middle_elided)
            if cell.staged:
                self._paint_staged_mark(painter, rect)
        if state & _HAS_FOCUS:
            painter.setPen(self._focus)
            painter.drawRect(rect.adjusted(0, 0, -1, -1))

    def _paint_thumbnail(self, painter: QPainter, rect: QRect, row: int) -> QRect:
        """The row's picture (its variant's image, else the product's main one) at the left of the title;
        returns the room left for the text. A picture not loaded yet is asked for and framed meanwhile."""
        grid_row = self.grid.row_at(row)
        content_hash = grid_row.thumb_hash if grid_row is not None else None
        if not content_hash or self.thumbnails is None:
            return rect
        side = min(rect.height() - 4, THUMB_SIDE)
        box = QRect(rect.left() + _PAD, rect.top() + (rect.height() - side) // 2, side, side)
        pixmap = self.thumbnails.get(content_hash)
        if pixmap is None or pixmap.isNull():
            if content_hash not in self.thumbnails.missing and self.request_thumbnail is not None:
                self.request_thumbnail(content_hash)
            painter.save()
            painter.setPen(self._thumb_frame)
            painter.drawRect(box.adjusted(0, 0, -1, -1))
            painter.restore()
        else:
            scaled = pixmap.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
            painter.drawPixmap(box.left() + (side - scaled.width()) // 2, box.top() + (side - scaled.height()) // 2,
                               scaled)
        return rect.adjusted(side + _PAD, 0, 0, 0)

    def _draw_text(self, painter: QPainter, rect: QRect, cell: Cell, metrics: QFontMetrics,
                   middle: bool = False) -> None:
        room = rect.width() - 2 * _PAD
        if cell.width < 0:
            cell.width = metrics.horizontalAdvance(cell.text)
        text, width = cell.text, cell.width
        if width > room:
            if cell.elided is None or cell.elided[0] != room:
                mode = Qt.TextElideMode.ElideMiddle if middle else Qt.TextElideMode.ElideRight
                cell.elided = (room, metrics.elidedText(cell.text, mode, room))
            text, width = cell.elided[1], min(width, room)
        x = rect.right() - _PAD - width + 1 if cell.align & _RIGHT else rect.left() + _PAD
        y = rect.top() + (rect.height() + metrics.ascent() - metrics.descent()) // 2
        painter.drawText(QPoint(x, y), text)

    def _paint_warning_icon(self, painter: QPainter, rect: QRect) -> QRect:
        """The below-cost mark at the left of a price (prices are right-aligned); returns the room left."""
        side = min(14, rect.height() - 4)
        if self._warning_icon is None or self._warning_icon.width() != side:
            self._warning_icon = resources.icon("alert-circle", theme.WARNING).pixmap(side, side)
        painter.drawPixmap(rect.left() + _PAD, rect.top() + (rect.height() - side) // 2, self._warning_icon)
        return rect.adjusted(side + _PAD, 0, 0, 0)

    def _paint_staged_mark(self, painter: QPainter, rect: QRect) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        path = QPainterPath()
        path.moveTo(rect.right() - 7, rect.top())
        path.lineTo(rect.right() + 1, rect.top())
        path.lineTo(rect.right() + 1, rect.top() + 8)
        path.closeSubpath()
        painter.fillPath(path, QColor(theme.WARNING))
        painter.restore()

    def _paint_placeholder(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        text = index.data(Qt.ItemDataRole.DisplayRole)
        r = option.rect
        if text:   # "(deleted)"
            painter.setPen(QColor(theme.TEXT_MUTED))
            painter.setFont(option.font)
            painter.drawText(r.adjusted(_PAD, 0, -_PAD, 0), int(Qt.AlignmentFlag.AlignVCenter), text)
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#eceff3"))
        width = max(12.0, (r.width() - 16) * (0.45 + 0.35 * ((index.row() * 7 + index.column() * 3) % 5) / 4))
        bar = QRectF(r.left() + 8, r.center().y() - 4, min(width, r.width() - 16), 8)
        painter.drawRoundedRect(bar, 4, 4)
        painter.restore()
