"""The grid's table view and its columns: spreadsheet keys, the column chooser and named column layouts.

The table answers the keys a spreadsheet user reaches for (copy, paste, fill down, undo, redo, jump to the
last row) with signals, so they work whenever the grid has the focus and never fight the table's own key
handling. Columns can be shown, hidden, moved and resized; the arrangement (Qt's header state) is kept
in the settings file, the current one and any number of named layouts.
"""

from __future__ import annotations

import base64
import json

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QInputDialog,
    QMenu,
    QTableView,
    QWidget,
)

from backoffice.operations.catalog import COLUMNS
from backoffice.ui.widgets.records import ROW_HEIGHT
from backoffice.ui.views.products.columns import (
    DEFAULT_HIDDEN,
    DEFAULT_ORDER,
    DEFAULT_WIDTHS,
    INDEX,
    column_label,
)

CURRENT_LAYOUT_KEY = "products/header_state"
LAYOUTS_KEY = "products/column_layouts"


def _is(event: QKeyEvent, *sequences: QKeySequence.StandardKey | str) -> bool:
    combo = event.keyCombination().toCombined()
    for seq in sequences:
        if isinstance(seq, QKeySequence.StandardKey):
            if event.matches(seq):
                return True
        elif QKeySequence(seq).matches(QKeySequence(combo)) == QKeySequence.SequenceMatch.ExactMatch:
            return True
    return False


_COPY = (QKeySequence.StandardKey.Copy,)
_PASTE = (QKeySequence.StandardKey.Paste,)
_UNDO = (QKeySequence.StandardKey.Undo,)
_REDO = (QKeySequence.StandardKey.Redo, "Ctrl+Shift+Z", "Ctrl+Y")
_FILL = ("Ctrl+D",)
_END = (QKeySequence.StandardKey.MoveToEndOfDocument,)


class GridTable(QTableView):
    copy_requested = Signal()
    paste_requested = Signal()
    fill_down_requested = Signal()
    undo_requested = Signal()
    redo_requested = Signal()
    last_row_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ProductGrid")
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        vertical = self.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)   # uniform rows: no per-row sizing
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicatorClearable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)   # variant id order until a header is clicked
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(48)

    def _action_for(self, event: QKeyEvent) -> Signal | None:
        for keys, signal in ((_COPY, self.copy_requested), (_PASTE, self.paste_requested),
                             (_UNDO, self.undo_requested), (_REDO, self.redo_requested),
                             (_FILL, self.fill_down_requested), (_END, self.last_row_requested)):
            if _is(event, *keys):
                return signal
        return None

    def event(self, event: QEvent) -> bool:
        # Claim these keys before window shortcuts see them: the grid decides what they mean here.
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) \
                and self._action_for(event) is not None and self.state() != QAbstractItemView.State.EditingState:
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        signal = self._action_for(event)
        if signal is not None and self.state() != QAbstractItemView.State.EditingState:
            signal.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class ColumnLayouts:
    """Which columns show, in what order and width: the current arrangement and named layouts."""

    def __init__(self, table: QTableView, settings: QSettings) -> None:
        self.table = table
        self.header = table.horizontalHeader()
        self.settings = settings

    def apply_defaults(self) -> None:
        for visual, key in enumerate(DEFAULT_ORDER):
            self.header.moveSection(self.header.visualIndex(INDEX[key]), visual)
        for i, col in enumerate(COLUMNS):
            self.table.setColumnWidth(i, DEFAULT_WIDTHS.get(col.key, 110))
            self.header.setSectionHidden(i, col.key in DEFAULT_HIDDEN)

    def restore_current(self) -> None:
        state = self.settings.value(CURRENT_LAYOUT_KEY)
        if not isinstance(state, QByteArray) or not self.header.restoreState(state):
            self.apply_defaults()

    def save_current(self) -> None:
        self.settings.setValue(CURRENT_LAYOUT_KEY, self.header.saveState())

    def _all(self) -> dict[str, str]:
        raw = self.settings.value(LAYOUTS_KEY, "")
        try:
            data = json.loads(raw) if raw else {}
        except (TypeError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def names(self) -> list[str]:
        return sorted(self._all(), key=str.lower)

    def save_as(self, name: str) -> None:
        name = name.strip()
        if not name:
            return
        data = self._all()
        data[name] = base64.b64encode(bytes(self.header.saveState().data())).decode("ascii")
        self.settings.setValue(LAYOUTS_KEY, json.dumps(data, sort_keys=True))
        self.settings.sync()

    def apply(self, name: str) -> bool:
        encoded = self._all().get(name)
        if not encoded:
            return False
        ok = self.header.restoreState(QByteArray(base64.b64decode(encoded)))
        if ok:
            self.save_current()
        return ok

    def delete(self, name: str) -> None:
        data = self._all()
        data.pop(name, None)
        self.settings.setValue(LAYOUTS_KEY, json.dumps(data, sort_keys=True))
        self.settings.sync()

    def set_visible(self, logical: int, visible: bool) -> None:
        shown = [i for i in range(self.header.count()) if not self.header.isSectionHidden(i)]
        if not visible and shown == [logical]:
            return   # keep at least one column
        self.header.setSectionHidden(logical, not visible)
        self.save_current()

    def fill_menu(self, menu: QMenu) -> None:
        """Checkable columns, then the named layouts (apply, save, delete) and a reset."""
        menu.clear()
        for i, col in enumerate(COLUMNS):
            action = menu.addAction(column_label(col))
            action.setCheckable(True)
            action.setChecked(not self.header.isSectionHidden(i))
            action.toggled.connect(lambda on, i=i: self.set_visible(i, on))
        menu.addSeparator()
        names = self.names()
        layouts = menu.addMenu(menu.tr("Layouts"))
        for name in names:
            layouts.addAction(name).triggered.connect(lambda _=False, n=name: self.apply(n))
        if not names:
            layouts.addAction(menu.tr("No saved layouts")).setEnabled(False)
        menu.addAction(menu.tr("Save layout as…")).triggered.connect(lambda: self._ask_save(menu))
        if names:
            delete = menu.addMenu(menu.tr("Delete layout"))
            for name in names:
                delete.addAction(name).triggered.connect(lambda _=False, n=name: self.delete(n))
        menu.addAction(menu.tr("Reset columns")).triggered.connect(self._reset)

    def _ask_save(self, parent: QWidget) -> None:
        name, ok = QInputDialog.getText(self.table, parent.tr("Save column layout"), parent.tr("Name of this layout:"))
        if ok:
            self.save_as(name)

    def _reset(self) -> None:
        self.apply_defaults()
        self.save_current()
