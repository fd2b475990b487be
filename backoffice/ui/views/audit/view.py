"""The audit trail: who changed what and when, newest first, filtered, with a before/after diff.

Every query runs in the background through the operations contract (``ops.audit``); pages come back
described (names instead of ids, resolved in batches), and a bulk edit or import opens the rows its
changeset changed. Each (re)load gets a new generation number; a result that comes back for an older
generation (the user changed the filter meanwhile) is dropped, so a slow early query can never overwrite
a newer answer. Every write is audited, so any change reloads the trail, when it is shown.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QT_TRANSLATE_NOOP, QModelIndex, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.audit import PAGE_SIZE, AuditFilter, AuditRow
from backoffice.operations.changes import Changes
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, plural, translator
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.audit.changeset_dialog import ChangesetRowsDialog
from backoffice.ui.views.audit.delegates import ActionPillDelegate
from backoffice.ui.views.audit.details import AuditDetailsPane
from backoffice.ui.views.audit.filters import AuditFilterBar
from backoffice.ui.views.audit.models import (
    COL_ACTION,
    COL_ENTITY,
    COL_ID,
    COL_USER,
    COL_WHEN,
    AuditTableModel,
)
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.records import ROW_HEIGHT

_COLUMN_WIDTHS = {COL_WHEN: 160, COL_USER: 120, COL_ENTITY: 130, COL_ID: 170, COL_ACTION: 110}
tr = translator("AuditView")


def count_text(n: int) -> str:
    """``1,234 entries`` in the user's number format."""
    return plural(n, tr("1 entry"), tr("{n} entries"))


class AuditView(ViewPage):
    key = "audit"
    TITLE = QT_TRANSLATE_NOOP("Views", "Audit")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Every change: who made it, when, and the values before and after.")
    icon_name = "audit"
    REQUIRES = "audit.page"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(context, tasks, parent)
        self.page_size = page_size
        self._generation = 0
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.loading_changed)
        self._filter = AuditFilter()
        self._needs_reload = True
        self._needs_facets = True
        self.total: int | None = None

        self.model = AuditTableModel(self)
        self.model.more_requested.connect(self._fetch_more)

        self.count_label = QLabel()
        self.count_label.setObjectName("CountLabel")
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.setToolTip(self.tr("Reload the audit trail (F5)"))
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh)
        self.filters = AuditFilterBar()
        self.filters.changed.connect(self._on_filter_changed)
        self.banner = MessageBanner()

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        vertical = self.table.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # uniform rows: no per-row sizing
        vertical.setDefaultSectionSize(ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        for column, width in _COLUMN_WIDTHS.items():
            self.table.setColumnWidth(column, width)
        self.table.setItemDelegateForColumn(COL_ACTION, ActionPillDelegate(self.table))
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)

        self.empty = EmptyState("audit", "", "", action_text=self.tr("Clear filters"))
        self.empty.action.clicked.connect(self.filters.clear)
        self.results = QStackedWidget()
        self.results.addWidget(self.table)
        self.results.addWidget(self.empty)

        self.details = AuditDetailsPane()
        self.details.changeset_requested.connect(self.open_changeset)
        self.dialog: ChangesetRowsDialog | None = None
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.results)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        layout.addLayout(page_header(self.tr("Audit trail"), self.description(), self.count_label, self.refresh_button))
        layout.addWidget(self.filters)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.splitter.setSizes([420, 320])

        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)
        self._show_count()

    # -- ViewPage ------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_reload:
            self.reload()

    def is_loading(self) -> bool:
        return self.runner.busy

    def refresh(self) -> None:
        self._needs_facets = True
        self.reload()

    @property
    def generation(self) -> int:
        return self._generation

    # -- loading ---------------------------------------------------------------------------------------
    def reload(self) -> None:
        """Start over from the first page with the current filter; earlier answers become stale."""
        self._generation += 1
        if self.context.ops is None:
            self._needs_reload = True
            self.model.clear()
            self.total = None
            self._show_count()
            return
        self._needs_reload = False
        self._filter = self.filters.current_filter()
        gen, f, limit = self._generation, self._filter, self.page_size
        self.model.set_fetching(True)  # no fetchMore of the old rows while the new first page loads
        self.banner.hide()
        self.total = None
        self._show_count()
        failed = partial(self._on_error, gen)
        self.runner.read(lambda ops: ops.audit.page(f, limit=limit), partial(self._on_first_page, gen), on_error=failed)
        self.runner.read(lambda ops: ops.audit.count(f), partial(self._on_count, gen), on_error=failed)
        if self._needs_facets:
            self._needs_facets = False
            self.runner.read(lambda ops: ops.audit.facets(), self._on_facets, on_error=failed)

    def _fetch_more(self, before_id: int) -> None:
        gen, f, limit = self._generation, self._filter, self.page_size
        if not self.runner.read(lambda ops: ops.audit.page(f, before_id=before_id, limit=limit),
                                partial(self._on_more, gen), on_error=partial(self._on_error, gen)):
            self.model.stop_fetching()

    def _on_first_page(self, gen: int, rows: list[AuditRow]) -> None:
        if gen != self._generation:
            return  # an answer to an older filter
        self.model.set_rows(rows, has_more=len(rows) >= self.page_size)
        self.details.show_entry(None)
        self._update_empty_state()
        if rows:  # the newest entry starts selected, so the details pane is never idle
            self.table.setCurrentIndex(self.model.index(0, 0))

    def _on_more(self, gen: int, rows: list[AuditRow]) -> None:
        if gen != self._generation:
            return
        self.model.append_rows(rows, has_more=len(rows) >= self.page_size)

    def _on_count(self, gen: int, total: int) -> None:
        if gen != self._generation:
            return
        self.total = total
        self._show_count()

    def _on_facets(self, facets: dict[str, list[str]]) -> None:
        self.filters.set_facets(facets)

    def _on_error(self, gen: int, exc: BaseException) -> None:
        if gen != self._generation:
            return
        self.model.stop_fetching()
        self.banner.show_message(self.tr("The audit trail could not be loaded: {error}").format(
            error=error_message(exc)), "error")
        self._show_count()

    # -- reacting ------------------------------------------------------------------------------------
    def _on_filter_changed(self) -> None:
        if self.context.ops is not None:
            self.reload()

    def _on_context_changed(self) -> None:
        self._needs_reload = self._needs_facets = True
        if self.context.ops is None:
            self._generation += 1
            self.model.clear()
            self.details.show_entry(None)
            self.total = None
            self._show_count()
        # Connected: the main window activates the visible view, which then loads.

    def _on_data_changed(self, changes: Changes) -> None:
        """Every write is audited: any change reloads the trail, now if it is shown, else when it is."""
        if not changes:
            return
        self._needs_reload = self._needs_facets = True
        if self.isVisible():
            self.refresh()

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.details.show_entry(self.model.row_at(current.row()) if current.isValid() else None)

    def open_changeset(self, changeset_id: int) -> ChangesetRowsDialog:
        """The rows a bulk edit, import or revert changed, loaded in the background."""
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = ChangesetRowsDialog(self.context, self.tasks, changeset_id, self)
        self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog.destroyed.connect(self._dialog_gone)
        self.dialog.show()
        return self.dialog

    def _dialog_gone(self) -> None:
        self.dialog = None

    def _show_count(self) -> None:
        if self.total is None:
            self.count_label.setText(self.tr("Loading…") if self.context.ops is not None else "")
        else:
            self.count_label.setText(count_text(self.total))

    def _update_empty_state(self) -> None:
        if self.model.rowCount():
            self.results.setCurrentWidget(self.table)
            return
        if self.filters.is_filtered():
            self.empty.set_text(self.tr("No entries match these filters"),
                                self.tr("Try another search or a wider date range, or clear the filters."))
            self.empty.action.show()
        else:
            self.empty.set_text(self.tr("No changes recorded yet"),
                                self.tr("Every change made in Backoffice, from the app, the command line or the "
                                        "store API, appears here with who made it and the values before and after."))
            self.empty.action.hide()
        self.results.setCurrentWidget(self.empty)
