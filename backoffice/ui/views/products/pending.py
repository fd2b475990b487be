"""Staged edits: what the user changed in the grid and has not applied yet.

Nothing typed into the grid is written at once. Each edited cell becomes a :class:`PendingEdit` (which
row and field, the value read, the new value, and the version of the row it was read at) held in
:class:`PendingEdits`. Every staging is one :class:`StageCommand` on a QUndoStack, so undo and redo
walk the edits back and forth; "Apply" turns them into ``RowChange`` values for one
``ops.catalog.save_edits`` call (one changeset). The panel lists them with a count, Apply and Discard.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QObject,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QUndoCommand
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.catalog import ApplyResult, Conflict, RowChange
from backoffice.remote.errors import QueuedOffline
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_count
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.views.products.columns import (
    CategoryIndex,
    column,
    column_label,
    format_value,
)
from backoffice.ui.views.products.conflicts import REBASE, THEIRS, ConflictDialog
from backoffice.ui.widgets.records import ROOT, Index
from backoffice.ui.widgets.sku_column import MiddleElideDelegate


Key = tuple[str, int, str]   # (entity, entity id, field)
MAX_PROBLEMS_SHOWN = 12


@dataclass(frozen=True)
class PendingEdit:
    entity: str          # "product" or "variant"
    entity_id: int
    field: str           # the service field ("status", "category_id", "price", ...)
    column_key: str      # the grid column it was made in ("variant_status", "category", ...)
    label: str           # SKU or handle, to name the row to the user
    old: Any             # the value read
    new: Any
    version: int         # the row version the value was read at (the apply's expected version)

    @property
    def key(self) -> Key:
        return self.entity, self.entity_id, self.field


class PendingEdits(QObject):
    """The staged edits, in the order they were first made. Emits :attr:`changed` after every change."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._edits: dict[Key, PendingEdit] = {}

    def __len__(self) -> int:
        return len(self._edits)

    def __contains__(self, key: object) -> bool:
        return key in self._edits

    def get(self, key: Key) -> PendingEdit | None:
        return self._edits.get(key)

    def edits(self) -> list[PendingEdit]:
        return list(self._edits.values())

    def entity_version(self, entity: str, entity_id: int) -> int | None:
        """The version already staged edits of this row were read at: later edits of the same row keep
        it, so one row never goes to the service with two versions."""
        for edit in self._edits.values():
            if edit.entity == entity and edit.entity_id == entity_id:
                return edit.version
        return None

    def put(self, states: Iterable[tuple[Key, PendingEdit | None]]) -> None:
        for key, state in states:
            if state is None:
                self._edits.pop(key, None)
            else:
                self._edits[key] = state
        self.changed.emit()

    def clear(self) -> None:
        self._edits.clear()
        self.changed.emit()

    def drop_rows(self, rows: Iterable[tuple[str, int]]) -> None:
        """Forget every edit of these (entity, id) rows (applied, or their edits given up)."""
        gone = set(rows)
        self._edits = {k: e for k, e in self._edits.items() if (e.entity, e.entity_id) not in gone}
        self.changed.emit()

    def rebase(self, entity: str, entity_id: int, version: int, theirs: dict[str, Any]) -> None:
        """Keep the edits of this row but as if read now: at ``version``, over the values stored now."""
        for key, edit in list(self._edits.items()):
            if edit.entity == entity and edit.entity_id == entity_id:
                self._edits[key] = replace(edit, version=version, old=theirs.get(edit.field, edit.old))
        self.changed.emit()

    def row_changes(self) -> list[RowChange]:
        """One RowChange per edited row: every field's new value, the values read, the version read."""
        grouped: dict[tuple[str, int], list[PendingEdit]] = defaultdict(list)
        for edit in self._edits.values():
            grouped[(edit.entity, edit.entity_id)].append(edit)
        return [RowChange(entity, entity_id, min(e.version for e in edits),
                          {e.field: e.new for e in edits}, {e.field: e.old for e in edits})
                for (entity, entity_id), edits in grouped.items()]

    def summary(self) -> str:
        """``price, title`` on ``3 rows``: a description for the changeset."""
        fields = sorted({e.column_key.replace("_", " ") for e in self._edits.values()})
        rows = len({(e.entity, e.entity_id) for e in self._edits.values()})
        text = "Grid edit of {fields} on {n} row" if rows == 1 else "Grid edit of {fields} on {n} rows"
        return QCoreApplication.translate("PendingEdits", text).format(fields=", ".join(fields), n=f"{rows:,}")


class StageCommand(QUndoCommand):
    """One user action (an edit, a paste, a fill-down): every cell's staged state before and after."""

    def __init__(self, pending: PendingEdits, changes: list[tuple[Key, PendingEdit | None, PendingEdit | None]],
                 text: str) -> None:
        super().__init__(text)
        self._pending = pending
        self._changes = changes

    @property
    def size(self) -> int:
        return len(self._changes)

    def redo(self) -> None:
        self._pending.put((key, after) for key, _before, after in self._changes)

    def undo(self) -> None:
        self._pending.put((key, before) for key, before, _after in reversed(self._changes))


# -- the panel ------------------------------------------------------------------------------------------
COL_ROW, COL_FIELD, COL_OLD, COL_NEW = range(4)
_HEADERS = ("Row", "Field", "Was", "Now")


class PendingTableModel(QAbstractTableModel):
    def __init__(self, pending: PendingEdits, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending = pending
        self._rows: list[PendingEdit] = []
        self.categories = CategoryIndex()
        pending.changed.connect(self.refresh)

    def refresh(self) -> None:
        self.beginResetModel()
        self._rows = self._pending.edits()
        self.endResetModel()

    def edit_at(self, row: int) -> PendingEdit | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else 4

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < 4:
            return QCoreApplication.translate("PendingPanel", _HEADERS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        edit = self.edit_at(index.row()) if index.isValid() else None
        if edit is None:
            return None
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if col == COL_ROW:
                return edit.label
            if col == COL_FIELD:
                return column_label(column(edit.column_key))
            value = edit.old if col == COL_OLD else edit.new
            text = format_value(column(edit.column_key), value, self.categories)
            return text if text else "—"
        if role == Qt.ItemDataRole.ForegroundRole and col in (COL_OLD, COL_NEW):
            return QBrush(QColor(theme.BEFORE_FG if col == COL_OLD else theme.AFTER_FG))
        return None


class PendingPanel(QWidget):
    """"N pending changes", the list of them (row, field, was → now), and Apply / Discard."""

    def __init__(self, pending: PendingEdits, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PendingPanel")
        self.pending = pending
        self.model = PendingTableModel(pending, self)
        self.count_label = QLabel()
        self.count_label.setObjectName("PendingCount")
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        for col, width in ((COL_ROW, 104), (COL_FIELD, 64), (COL_OLD, 64)):
            self.table.setColumnWidth(col, width)
        self.table.setItemDelegateForColumn(COL_ROW, MiddleElideDelegate(self.table))   # SKUs differ at the end
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)   # busy: the service reports no fractions for one transaction
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status = QLabel()
        self.status.setObjectName("Muted")
        self.status.setWordWrap(True)
        self.apply_button = QPushButton(self.tr("Apply"))
        self.apply_button.setProperty("primary", True)
        self.discard_button = QPushButton(self.tr("Discard"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.discard_button)
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        hint = QLabel(self.tr("Edits are staged here and written together, as one changeset, when you apply them."))
        hint.setObjectName("Muted")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        layout.addWidget(self.count_label)
        layout.addWidget(hint)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._busy = False
        pending.changed.connect(self._refresh)
        self._refresh()

    def set_categories(self, categories: CategoryIndex) -> None:
        self.model.categories = categories
        self.model.refresh()

    def set_busy(self, busy: bool, text: str = "") -> None:
        self._busy = busy
        self.progress.setVisible(busy)
        self.status.setText(text)
        self.status.setVisible(bool(text))
        self._refresh()

    def _refresh(self) -> None:
        n = len(self.pending)
        if n == 0:
            self.count_label.setText(self.tr("No pending changes"))
        elif n == 1:
            self.count_label.setText(self.tr("1 pending change"))
        else:
            self.count_label.setText(self.tr("{n} pending changes").format(n=n))
        self.apply_button.setEnabled(n > 0 and not self._busy)
        self.discard_button.setEnabled(n > 0 and not self._busy)


# -- applying -------------------------------------------------------------------------------------------
class ApplyController(QObject):
    """Applies the staged edits in one ``ops.catalog.save_edits`` call in the background, then: drops the
    applied edits, shows the applied values and versions at once, reads the rows someone else changed
    again and opens the conflict dialog for them (re-based rows are submitted again). What was written
    reaches every view as the write's changes."""

    busy_changed = Signal(bool)
    message = Signal(str, str)       # text, banner level

    def __init__(self, model: Any, context: AppContext, tasks: TaskManager, parent: QWidget) -> None:
        super().__init__(parent)
        self.model = model            # the ProductGridModel (models.py imports this module)
        self.runner = Runner(context, tasks, self)
        self.busy = False
        self.last_result: ApplyResult | None = None
        self.conflict_dialog: ConflictDialog | None = None

    def apply(self, rows: set[tuple[str, int]] | None = None) -> None:
        """Write the staged edits (or only those of ``rows``)."""
        changes = [ch for ch in self.model.pending.row_changes() if rows is None or (ch.entity, ch.entity_id) in rows]
        if self.busy or not changes:
            return
        description = self.model.pending.summary()
        state = TaskState(self.tr("Applying {n} changed rows").format(n=len(changes)), cancellable=False, parent=self)
        if self.runner.write(lambda ops: ops.catalog.save_edits(changes, description=description),
                             partial(self._on_applied, changes), on_error=partial(self._on_failed, changes),
                             state=state):
            self._set_busy(True)

    def _set_busy(self, busy: bool) -> None:
        self.busy = self.model.read_only = busy
        self.busy_changed.emit(busy)

    def _on_applied(self, changes: list[RowChange], result: ApplyResult) -> None:
        self._set_busy(False)
        self.last_result = result
        conflicted = {(c.entity, c.entity_id) for c in result.conflicts}
        done = [ch for ch in changes if (ch.entity, ch.entity_id) not in conflicted]
        self.model.patch_rows({(ch.entity, ch.entity_id): ch.values for ch in done}, result.versions)
        self.model.refetch([entity_id for entity, entity_id in conflicted if entity == "variant"],
                           [entity_id for entity, entity_id in conflicted if entity == "product"])
        self.model.pending.drop_rows((ch.entity, ch.entity_id) for ch in done)
        self.model.undo_stack.clear()
        if result.changeset_id is not None:
            text = (self.tr("Applied {n} row as changeset #{id}.") if result.applied_rows == 1 else
                    self.tr("Applied {n} rows as changeset #{id}.")).format(n=format_count(result.applied_rows),
                                                                           id=result.changeset_id)
        else:
            text = self.tr("Nothing needed writing: the values were already stored.")
        if result.conflicts:
            text += " " + (self.tr("{n} row was changed by someone else meanwhile.") if len(conflicted) == 1 else
                           self.tr("{n} rows were changed by someone else meanwhile.")
                           ).format(n=format_count(len(conflicted)))
        self.message.emit(text, "warning" if result.conflicts else "success")
        if result.conflicts:
            self._show_conflicts(result.conflicts)

    def _on_failed(self, changes: list[RowChange], exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, QueuedOffline):
            self._saved_offline(changes)
            return
        problems = getattr(exc, "problems", None)
        if problems:
            lines = [": ".join(p for p in (" ".join(x for x in (row, field) if x), msg) if p)
                     for row, field, msg in problems[:MAX_PROBLEMS_SHOWN]]
            text = self.tr("Nothing was applied:") + "\n• " + "\n• ".join(lines)
            if len(problems) > len(lines):
                text += "\n" + self.tr("…and {n} more").format(n=len(problems) - len(lines))
        else:
            text = self.tr("Nothing was applied: {error}").format(error=error_message(exc))
        self.message.emit(text, "error")

    def _saved_offline(self, changes: list[RowChange]) -> None:
        """The store API did not answer: the edits wait in the outbox and go when it is back. They are
        no longer staged (Apply must not send them twice); the grid shows them as saved."""
        self.model.patch_rows({(ch.entity, ch.entity_id): ch.values for ch in changes}, {})
        self.model.pending.drop_rows((ch.entity, ch.entity_id) for ch in changes)
        self.model.undo_stack.clear()
        self.runner.context.notify_outbox_changed()
        self.message.emit(self.tr("Saved offline: will be sent when the store API is back."), "info")

    def _show_conflicts(self, conflicts: list[Conflict]) -> None:
        dialog = ConflictDialog(conflicts, self.model.categories, self.parent())  # type: ignore[arg-type]
        self.conflict_dialog = dialog
        dialog.finished.connect(lambda _code: self._resolve(dialog))
        dialog.open()

    def _resolve(self, dialog: ConflictDialog) -> None:
        rebased: set[tuple[str, int]] = set()
        for (entity, entity_id), choice in dialog.resolutions().items():
            if choice == THEIRS:
                self.model.pending.drop_rows([(entity, entity_id)])
            elif choice == REBASE:
                version, theirs = dialog.theirs(entity, entity_id)
                self.model.pending.rebase(entity, entity_id, version, theirs)
                rebased.add((entity, entity_id))
        self.conflict_dialog = None
        dialog.deleteLater()
        if rebased:
            self.apply(rebased)
