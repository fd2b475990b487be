"""The grid's item model: variant ids in display order, rows fetched when drawn, staged edits on top.

Built for a million rows (Anki's browser table, Spyder's dataframe editor): the model never queries.
It knows which variant sits at each row from, in order of arrival,

1. the first keyset page (shown at once),
2. the row count (the scroll bar becomes true; rows in the middle are placeholders for now),
3. the last keyset page, when the user jumps to the end before the ids are in,
4. the ordered list of every matching id (an ``array('q')``: 8 MB for a million rows).

Rows themselves live in an LRU cache of ``GridRow`` by id. ``data()`` for a row that is not cached (or
stale after a write) answers with a placeholder and asks for its page: requests are collected for a
moment (scrolling asks for many pages), then :attr:`fetch_requested` carries the ids of the latest pages
to whoever loads rows in the background, who hands them back to :meth:`receive_rows`.

Staged edits (:class:`PendingEdits`) are drawn over the loaded values, highlighted; editing goes through
a QUndoStack, one command per user action.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QObject,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QUndoStack

from backoffice.operations.catalog import COLUMNS, Column, GridRow
from backoffice.ui import resources, theme
from backoffice.ui.widgets.records import OBJECT_ROLE, ROOT, Index
from backoffice.ui.views.products.columns import (
    CategoryIndex,
    alignment,
    cell_key,
    column_label,
    format_value,
    is_editable,
    row_label,
    row_value,
)
from backoffice.ui.views.products.pending import PendingEdit, PendingEdits, StageCommand

PAGE_ROWS = 100            # rows per fetched page (a viewport holds about 30)
FETCH_DELAY_MS = 30        # pages asked for while scrolling are collected this long, then the latest fetched
MAX_PAGES_PER_FETCH = 3    # pages scrolled past meanwhile are dropped; they are asked again if shown again
CACHE_ROWS = 20_000

STAGED_ROLE = Qt.ItemDataRole.UserRole + 2     # True when the cell holds a staged edit
LOADED_ROLE = Qt.ItemDataRole.UserRole + 3     # False for a placeholder
ORIGINAL_ROLE = Qt.ItemDataRole.UserRole + 4   # the value read from the database (before staged edits)
BELOW_COST_ROLE = Qt.ItemDataRole.UserRole + 5  # (price, cost) when staged edits put the price below the cost
STAGED_BG = "#fde7b0"

_GONE = object()
_STALE = -1   # the epoch of a cached row known to be out of date: fetched again when drawn
_NO_FLAGS = Qt.ItemFlag.NoItemFlags
_CELL_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_EDITABLE_FLAGS = _CELL_FLAGS | Qt.ItemFlag.ItemIsEditable


@dataclass(slots=True)
class Cell:
    """What painting one cell needs, computed once per row and kept until something changes."""

    text: str
    align: int
    staged: bool
    negative: bool = False
    below_cost: bool = False         # the price cell of a row whose staged price (or cost) is below cost
    width: int = -1                  # the text's width in pixels, measured when first painted
    elided: tuple[int, str] | None = None   # (room, text shortened to fit it), for the last room painted
# service field -> GridRow attribute, for the fields the grid edits
_ROW_ATTRIBUTE: dict[str, dict[str, str]] = {
    "product": {c.field: ("category_id" if c.key == "category" else c.key)
                for c in COLUMNS if c.entity == "product" and c.field},
    "variant": {c.field: c.key for c in COLUMNS if c.entity == "variant" and c.field},
}   # cached for an id whose row no longer exists (deleted since the ids were read)


class ProductGridModel(QAbstractTableModel):
    fetch_requested = Signal(object)   # list[int]: load these variant ids, then call receive_rows
    tail_requested = Signal()          # the last rows are shown before the ids are known: load the last page
    rows_arrived = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.columns: tuple[Column, ...] = COLUMNS
        self._price_column = next(c for c in COLUMNS if c.key == "price")
        self._cost_column = next(c for c in COLUMNS if c.key == "cost")
        self._editable = [is_editable(c) for c in COLUMNS]
        self._categories = CategoryIndex()
        self._cells: dict[int, list[Cell | None]] = {}   # variant id -> cells by column, filled when drawn
        self.pending = PendingEdits(self)
        self.undo_stack = QUndoStack(self)
        self.read_only = False        # while staged edits are being applied
        self.pending.changed.connect(self._repaint)
        self._ids: array[int] | None = None
        self._head: list[int] = []
        self._tail: list[int] = []
        self._total: int | None = None
        self._cache: OrderedDict[int, tuple[Any, int]] = OrderedDict()   # id -> (GridRow | _GONE, epoch)
        self._epoch = 0
        self._inflight: dict[int, int] = {}     # id -> epoch it was asked for at
        self._failed: set[int] = set()
        self._wanted: OrderedDict[int, None] = OrderedDict()   # pages, most recent last
        self._tail_wanted = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FETCH_DELAY_MS)
        self._timer.timeout.connect(self._flush_wanted)

    # -- what is known ---------------------------------------------------------------------------------
    @property
    def categories(self) -> CategoryIndex:
        return self._categories

    @categories.setter
    def categories(self, categories: CategoryIndex) -> None:
        self._categories = categories
        self._repaint()

    @property
    def total(self) -> int | None:
        """The true number of matching rows, once counted."""
        return len(self._ids) if self._ids is not None else self._total

    @property
    def ids_loaded(self) -> bool:
        return self._ids is not None

    def id_at(self, row: int) -> int | None:
        if self._ids is not None:
            return self._ids[row] if 0 <= row < len(self._ids) else None
        if 0 <= row < len(self._head):
            return self._head[row]
        if self._total is not None and self._tail:
            start = self._total - len(self._tail)
            if start <= row < self._total:
                return self._tail[row - start]
        return None

    def row_at(self, row: int) -> GridRow | None:
        """The loaded row, without asking for it."""
        vid = self.id_at(row)
        entry = self._cache.get(vid) if vid is not None else None
        return entry[0] if entry is not None and entry[0] is not _GONE else None

    def is_fresh(self, row: int) -> bool:
        vid = self.id_at(row)
        entry = self._cache.get(vid) if vid is not None else None
        return entry is not None and entry[1] == self._epoch

    def cached_rows(self) -> list[GridRow]:
        return [row for row, _ in self._cache.values() if row is not _GONE]

    # -- feeding ---------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the ids (a new filter or sort); cached rows stay, they are still valid by id."""
        self.beginResetModel()
        self._ids, self._head, self._tail, self._total = None, [], [], None
        self._inflight.clear()
        self._wanted.clear()
        self._tail_wanted = False
        self.endResetModel()

    def set_first_page(self, rows: Sequence[GridRow], *, complete: bool) -> None:
        """The first rows in display order; ``complete`` when they are all there is."""
        self._store(rows, self._epoch)
        ids = [r.variant_id for r in rows]

        def apply() -> None:
            if complete:
                self._ids = array("q", ids)
            else:
                self._head = ids
        self._resize_to(len(ids) if complete else max(len(ids), self._total or 0), apply)
        self._repaint()

    def set_total(self, total: int) -> None:
        if self._ids is not None:
            return  # the ids are the authority once they are in

        def apply() -> None:
            self._total = total
        self._resize_to(max(total, 0), apply)
        self._repaint()

    def set_tail(self, rows: Sequence[GridRow]) -> None:
        """The last rows in display order (a reverse keyset page), before the ids are known."""
        self._tail_wanted = False
        self._store(rows, self._epoch)
        if self._ids is None:
            self._tail = [r.variant_id for r in rows]
        self._repaint()
        self.rows_arrived.emit()

    def set_ids(self, ids: array[int]) -> None:
        """Every matching id in display order: from now on any row can be fetched."""
        def apply() -> None:
            self._ids = ids
            self._head, self._tail, self._total = [], [], None
        self._resize_to(len(ids), apply)
        self._inflight.clear()
        self._repaint()

    def _resize_to(self, count: int, apply: Callable[[], None]) -> None:
        """Change what the rows are (``apply``) and tell the views how many were added or removed."""
        current = self.rowCount()
        if count > current:
            self.beginInsertRows(ROOT, current, count - 1)
            apply()
            self.endInsertRows()
        elif count < current:
            self.beginRemoveRows(ROOT, count, current - 1)
            apply()
            self.endRemoveRows()
        else:
            apply()

    def receive_rows(self, ids: Sequence[int], rows: dict[int, GridRow]) -> None:
        """Rows loaded for ``ids`` (a fetch_requested answer); ids with no row were deleted meanwhile."""
        again: list[int] = []
        for vid in ids:
            epoch = self._inflight.pop(vid, self._epoch)
            self._put(vid, rows.get(vid, _GONE), epoch)
            if epoch == _STALE and vid in rows:
                again.append(vid)    # written while this answer was on its way: read it once more now
        self._trim()
        self._repaint()
        self.rows_arrived.emit()
        if again:
            for vid in again:
                self._inflight[vid] = self._epoch
            self.fetch_requested.emit(again)

    def fetch_failed(self, ids: Sequence[int]) -> None:
        """Loading failed: do not ask again for these rows until the next refresh."""
        for vid in ids:
            self._inflight.pop(vid, None)
            self._failed.add(vid)

    def invalidate(self) -> None:
        """Something was written: rows stay on screen but are fetched again when drawn."""
        self._epoch += 1
        self._failed.clear()
        self._repaint()

    def refetch(self, variant_ids: Iterable[int] = (), product_ids: Iterable[int] = ()) -> list[int]:
        """Rows written elsewhere (these variants, and every variant of these products): the loaded ones
        among them keep showing their values and are fetched again now; nothing else is. Returns their
        ids."""
        variants, products = set(variant_ids), set(product_ids)
        stale = [vid for vid, (row, _epoch) in self._cache.items()
                 if vid in variants or (row is not _GONE and row.product_id in products)]
        wanted = []
        for vid in stale:
            self._cache[vid] = (self._cache[vid][0], _STALE)   # the LRU order stays
            self._failed.discard(vid)
            if vid in self._inflight:
                self._inflight[vid] = _STALE   # an answer on its way may have been read before the write
            else:
                wanted.append(vid)
        for start in range(0, len(wanted), PAGE_ROWS):
            page = wanted[start:start + PAGE_ROWS]
            for vid in page:
                self._inflight[vid] = self._epoch
            self.fetch_requested.emit(page)
        return stale

    def patch_rows(self, values: dict[tuple[str, int], dict[str, Any]], versions: dict[tuple[str, int], int]) -> None:
        """Show applied values and versions at once, before the rows come back from the database."""
        for row, _epoch in self._cache.values():
            if row is _GONE:
                continue
            for entity, entity_id in (("variant", row.variant_id), ("product", row.product_id)):
                for name, value in values.get((entity, entity_id), {}).items():
                    attr = _ROW_ATTRIBUTE[entity].get(name)
                    if attr is not None:
                        setattr(row, attr, list(value) if isinstance(value, list) else value)
                    if attr == "category_id":
                        row.category = self.categories.name(value)
                if (entity, entity_id) in versions:
                    setattr(row, f"{entity}_version", versions[(entity, entity_id)])
        self._repaint()

    def _store(self, rows: Iterable[GridRow], epoch: int) -> None:
        for row in rows:
            self._put(row.variant_id, row, epoch)
        self._trim()

    def _put(self, vid: int, row: Any, epoch: int) -> None:
        self._cache[vid] = (row, epoch)
        self._cache.move_to_end(vid)

    def _trim(self) -> None:
        while len(self._cache) > CACHE_ROWS:
            self._cache.popitem(last=False)

    # -- asking for rows -----------------------------------------------------------------------------------
    def _row_for(self, row: int) -> GridRow | None:
        vid = self.id_at(row)
        if vid is None:
            if self._total is not None and row >= self._total - PAGE_ROWS:
                self.request_tail()
            return None
        entry = self._cache.get(vid)
        if entry is None or entry[1] != self._epoch:
            self._want(row)
        if entry is None or entry[0] is _GONE:
            return None
        return entry[0]

    def _want(self, row: int) -> None:
        page = row // PAGE_ROWS
        self._wanted[page] = None
        self._wanted.move_to_end(page)
        if not self._timer.isActive():
            self._timer.start()

    def _flush_wanted(self) -> None:
        pages = list(self._wanted)[-MAX_PAGES_PER_FETCH:]
        self._wanted.clear()
        for page in reversed(pages):  # the latest first
            self.request_rows(page * PAGE_ROWS, page * PAGE_ROWS + PAGE_ROWS - 1)

    def request_tail(self) -> None:
        """Ask for the last page (by a reverse keyset query), once, while the ids are not known."""
        if self._ids is None and not self._tail_wanted:
            self._tail_wanted = True
            self.tail_requested.emit()

    def request_rows(self, first: int, last: int) -> bool:
        """Ask now for the rows first..last that are not cached, stale or on their way. True if asked."""
        ids: list[int] = []
        for r in range(max(0, first), min(last, self.rowCount() - 1) + 1):
            vid = self.id_at(r)
            if vid is None or vid in self._inflight or vid in self._failed:
                continue
            entry = self._cache.get(vid)
            if entry is not None and entry[1] == self._epoch:
                continue
            ids.append(vid)
        if not ids:
            return False
        for vid in ids:
            self._inflight[vid] = self._epoch
        self.fetch_requested.emit(ids)
        return True

    def _repaint(self) -> None:
        self._cells.clear()
        rows, cols = self.rowCount(), self.columnCount()
        if rows and cols:
            self.dataChanged.emit(self.index(0, 0), self.index(rows - 1, cols - 1))

    # -- Qt model interface --------------------------------------------------------------------------------
    def rowCount(self, parent: Index = ROOT) -> int:
        if parent.isValid():
            return 0
        if self._ids is not None:
            return len(self._ids)
        return self._total if self._total is not None else len(self._head)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        col = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return column_label(col)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return alignment(col)
        if role == Qt.ItemDataRole.ToolTipRole and not is_editable(col):
            return QCoreApplication.translate("ProductGrid", "{column} is computed: it cannot be edited").format(
                column=column_label(col))
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        # Called for every painted cell: constants, no flag arithmetic.
        if not index.isValid():
            return _NO_FLAGS
        if self._editable[index.column()] and not self.read_only and self.row_at(index.row()) is not None:
            return _EDITABLE_FLAGS
        return _CELL_FLAGS

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._row_for(index.row()) if role in (Qt.ItemDataRole.DisplayRole, LOADED_ROLE) \
            else self.row_at(index.row())
        col = self.columns[index.column()]
        if row is None:
            if role == LOADED_ROLE:
                return False
            if role == Qt.ItemDataRole.DisplayRole and index.column() == 0 and self._is_gone(index.row()):
                return QCoreApplication.translate("ProductGrid", "(deleted)")
            return None
        if role == LOADED_ROLE:
            return True
        if role == OBJECT_ROLE:
            return row
        edit = self._edit_of(row, col)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col, edit)
        if role == Qt.ItemDataRole.EditRole:
            return edit.new if edit else row_value(row, col)
        if role == ORIGINAL_ROLE:
            return row_value(row, col)
        if role == STAGED_ROLE:
            return edit is not None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return alignment(col)
        if role == BELOW_COST_ROLE:
            return self.below_cost(row) if col.key == "price" else None
        if col.key == "price" and role in (Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.DecorationRole,
                                           Qt.ItemDataRole.ToolTipRole):
            below = self.below_cost(row)
            if below is not None:
                if role == Qt.ItemDataRole.ForegroundRole:
                    return QBrush(QColor(theme.WARNING))
                if role == Qt.ItemDataRole.DecorationRole:
                    return resources.icon("alert-circle", theme.WARNING)
                return self.below_cost_tooltip(*below) + ("\n" + self._staged_tooltip(col, edit) if edit else "")
        if role == Qt.ItemDataRole.BackgroundRole and edit is not None:
            return QBrush(QColor(STAGED_BG))
        if role == Qt.ItemDataRole.ForegroundRole and col.key == "margin":
            margin = self._margin(row)
            if margin is not None and margin < 0:
                return QBrush(QColor(theme.DANGER))
        if role == Qt.ItemDataRole.FontRole and edit is not None:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and edit is not None:
            return self._staged_tooltip(col, edit)
        return None

    def _staged_tooltip(self, col: Column, edit: PendingEdit) -> str:
        return QCoreApplication.translate("ProductGrid", "Staged; was: {old}").format(
            old=format_value(col, edit.old, self.categories) or "—")

    def below_cost_tooltip(self, price: Decimal, cost: Decimal) -> str:
        return QCoreApplication.translate(
            "ProductGrid", "Below cost: the price {price} is less than the cost {cost}. It can still be applied.").format(
            price=format_value(self._column("price"), price), cost=format_value(self._column("cost"), cost))

    def below_cost(self, row: GridRow) -> tuple[Decimal, Decimal] | None:
        """(price, cost) when a staged price or cost puts the row's price below its cost, else None. A
        warning only: such edits are applied like any other."""
        if not len(self.pending):
            return None
        price = self._edit_of(row, self._price_column)
        cost = self._edit_of(row, self._cost_column)
        if price is None and cost is None:
            return None
        p = price.new if price else row.price
        c = cost.new if cost else row.cost
        if p is None or c is None or p >= c:
            return None
        return p, c

    def staged_below_cost(self) -> list[tuple[str, Decimal, Decimal]]:
        """(SKU, price, cost) of every loaded row whose staged edits put its price below its cost."""
        out = []
        for row in self.cached_rows():
            below = self.below_cost(row)
            if below is not None:
                out.append((row.sku, *below))
        return out

    def cell(self, row: int, column: int) -> Cell | None:
        """The cell as drawn, or None while its row loads (which asks for it). For the delegate's paint:
        one call per cell instead of one ``data()`` call per role."""
        grid_row = self._row_for(row)
        if grid_row is None:
            return None
        cells = self._cells.get(grid_row.variant_id)
        if cells is None:
            cells = self._cells[grid_row.variant_id] = [None] * len(self.columns)
        cell = cells[column]
        if cell is None:
            col = self.columns[column]
            edit = self._edit_of(grid_row, col)
            negative = False
            if col.key == "margin":
                margin = self._margin(grid_row)
                negative = margin is not None and margin < 0
            below = col.key == "price" and self.below_cost(grid_row) is not None
            cell = cells[column] = Cell(self._display(grid_row, col, edit), alignment(col), edit is not None, negative,
                                        below)
        return cell

    def _display(self, row: GridRow, col: Column, edit: PendingEdit | None) -> str:
        if edit is None and col.key == "margin":
            return format_value(col, self._margin(row), self.categories)
        if edit is None and col.key == "category" and row.category_id not in self.categories.nodes:
            return row.category    # the name read with the row, until the category tree is loaded
        return format_value(col, edit.new if edit else row_value(row, col), self.categories)

    def _is_gone(self, row: int) -> bool:
        vid = self.id_at(row)
        entry = self._cache.get(vid) if vid is not None else None
        return entry is not None and entry[0] is _GONE

    def _margin(self, row: GridRow) -> Any:
        """The margin with staged price and cost taken into account."""
        price = self._edit_of(row, self._column("price"))
        cost = self._edit_of(row, self._column("cost"))
        if price is None and cost is None:
            return row.margin
        p = price.new if price else row.price
        c = cost.new if cost else row.cost
        if c is None or not p:
            return None
        return ((p - c) / p * 100).quantize(Decimal("0.1"))

    def _column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def _edit_of(self, row: GridRow, col: Column) -> PendingEdit | None:
        if col.entity is None or not len(self.pending):
            return None
        return self.pending.get(cell_key(row, col))

    # -- editing -------------------------------------------------------------------------------------------
    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or \
                not self.flags(index) & Qt.ItemFlag.ItemIsEditable:
            return False
        col = self.columns[index.column()]
        text = QCoreApplication.translate("ProductGrid", "Edit {column}").format(column=column_label(col))
        self.stage([(index.row(), index.column(), value)], text)
        return True

    def stage(self, cells: Iterable[tuple[int, int, Any]], text: str) -> int:
        """Stage new values for (row, column, value) cells as one undo step; returns how many cells
        changed. Cells of rows not loaded or of computed columns are skipped (callers check first)."""
        if self.read_only:
            return 0
        changes: dict[tuple[str, int, str], tuple[PendingEdit | None, PendingEdit | None]] = {}
        for r, c, value in cells:
            row, col = self.row_at(r), self.columns[c]
            if row is None or not is_editable(col):
                continue
            key = cell_key(row, col)
            before = changes[key][0] if key in changes else self.pending.get(key)
            original = before.old if before is not None else row_value(row, col)
            if value == original:
                after = None   # back to the value read: nothing left to apply
            else:
                version = self.pending.entity_version(key[0], key[1])
                if version is None:
                    version = row.product_version if key[0] == "product" else row.variant_version
                after = PendingEdit(key[0], key[1], key[2], col.key, row_label(row, key[0]), original, value,
                                    before.version if before is not None else version)
            changes[key] = (before, after)
        effective = [(key, before, after) for key, (before, after) in changes.items() if before != after]
        if effective:
            self.undo_stack.push(StageCommand(self.pending, effective, text))
        return len(effective)

    def discard(self) -> None:
        """Drop every staged edit, as one step that can be undone."""
        if len(self.pending) and not self.read_only:
            changes = [(e.key, e, None) for e in self.pending.edits()]
            self.undo_stack.push(StageCommand(self.pending, changes,
                                              QCoreApplication.translate("ProductGrid", "Discard changes")))
