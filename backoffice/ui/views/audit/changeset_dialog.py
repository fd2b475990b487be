"""The rows a bulk edit, import or revert changed: which variants or products, each field before → after.

Opened from the Audit view's details pane. The rows are read and named by the audit service in the
background (``audit.changeset_rows``); the dialog only shows them. At most ``ROW_LIMIT`` entries are read;
the heading then says how many of how many are shown.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QCoreApplication, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.audit import ChangesetRow, ChangesetRows
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.audit.models import format_timestamp
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.records import ROOT, Index

ROW_LIMIT = 1000
COL_ITEM, COL_NAME, COL_FIELD, COL_BEFORE, COL_AFTER = range(5)
_HEADERS = ("SKU / handle", "Product", "Field", "Before", "After")


class ChangesetRowsModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[ChangesetRow] = []

    def set_rows(self, rows: list[ChangesetRow]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    @property
    def rows(self) -> list[ChangesetRow]:
        return list(self._rows)

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(_HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(_HEADERS):
            return QCoreApplication.translate("ChangesetRows", _HEADERS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return (row.item, row.name, row.field, row.before, row.after)[col]
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_BEFORE:
            return QBrush(QColor(theme.BEFORE_FG))
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_AFTER:
            return QBrush(QColor(theme.AFTER_FG))
        return None


class ChangesetRowsDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, changeset_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.changeset_id = context, tasks, changeset_id
        self.result_rows: ChangesetRows | None = None
        self.runner = Runner(context, tasks, self)
        self.setWindowTitle(self.tr("Changeset #{id}").format(id=changeset_id))
        self.resize(900, 560)
        self.heading = QLabel(self.tr("Changeset #{id}").format(id=changeset_id))
        self.heading.setObjectName("DetailsTitle")
        self.heading.setWordWrap(True)
        self.meta = QLabel(self.tr("Loading…"))
        self.meta.setObjectName("DetailsMeta")
        self.banner = MessageBanner()
        self.model = ChangesetRowsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_ITEM, 170), (COL_FIELD, 120), (COL_BEFORE, 140), (COL_AFTER, 140)):
            self.table.setColumnWidth(col, width)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(10)
        layout.addWidget(self.heading)
        layout.addWidget(self.meta)
        layout.addWidget(self.banner)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.load()

    def is_loading(self) -> bool:
        return self.runner.busy

    def load(self) -> None:
        """Read the changeset's rows in the background (at most ROW_LIMIT entries)."""
        cid = self.changeset_id
        self.runner.read(lambda ops: ops.audit.changeset_rows(cid, limit=ROW_LIMIT), self._on_rows,
                         on_error=self._on_error)

    def _on_rows(self, found: ChangesetRows) -> None:
        self.result_rows = found
        self.heading.setText(found.title)
        self.setWindowTitle(found.title)
        if found.shown_entries < found.total_entries:
            rows = self.tr("showing the first {shown} of {n} changed rows").format(
                shown=f"{found.shown_entries:,}", n=f"{found.total_entries:,}")
        elif found.total_entries == 1:
            rows = self.tr("1 changed row")
        else:
            rows = self.tr("{n} changed rows").format(n=f"{found.total_entries:,}")
        when = format_timestamp(found.at) if found.at else ""
        self.meta.setText("  ·  ".join(p for p in (self.tr("by {user}").format(user=found.username), when, rows) if p))
        self.model.set_rows(found.rows)

    def _on_error(self, exc: BaseException) -> None:
        self.meta.setText("")
        self.banner.show_message(self.tr("The changed rows could not be loaded: {error}").format(
            error=error_message(exc)), "error")
