"""Transfers: stock moving between warehouses and stores. The list (newest first, by state, a keyset page
at a time) on the left; the selected or new transfer in the editor on the right.

Queries run through the operations contract in the background; each list (re)load gets a generation
number and answers to an older one are dropped. A write's changes reach the view by
``context.data_changed``: the list reloads (keeping the same transfer selected) when transfers or
locations changed, and a draft's available figures when stock did; nothing else makes it reload.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QT_TRANSLATE_NOOP, QModelIndex, QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Changes
from backoffice.operations.changes import LOCATIONS, STOCK, TRANSFERS
from backoffice.operations.transfers import TransferSummary
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.transfers.editor import TransferEditor
from backoffice.ui.views.transfers.models import (
    COL_STATE,
    OPEN_STATES,
    STATES,
    TransferListModel,
    state_label,
)
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.pills import StatePillDelegate
from backoffice.ui.widgets.records import setup_table

PAGE_SIZE = 100


class TransfersView(ViewPage):
    key = "transfers"
    TITLE = QT_TRANSLATE_NOOP("Views", "Transfers")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Stock moves between locations.")
    icon_name = "transfers"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(context, tasks, parent)
        self.page_size = page_size
        self._generation = 0
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.loading_changed)
        self._needs_reload = True
        self._needs_locations = True
        self._select_id: int | None = None
        self._syncing = False   # the list moves its own selection: no load from the selection signal

        self.new_button = QPushButton(self.tr("New transfer"))
        self.new_button.setProperty("primary", True)
        self.new_button.setIcon(resources.icon("plus", "#ffffff"))
        self.new_button.setShortcut("Ctrl+N")
        self.new_button.clicked.connect(self.new_transfer)
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh)
        self.banner = MessageBanner()

        self.state_filter = QComboBox()
        self.state_filter.addItem(self.tr("All transfers"), "")
        self.state_filter.addItem(self.tr("Open (draft, shipped, partly received)"), "open")
        for state in STATES:
            self.state_filter.addItem(state_label(state), state)
        self.state_filter.currentIndexChanged.connect(lambda _i: self.reload())
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")
        self.model = TransferListModel(self)
        self.table = QTableView()
        setup_table(self.table, self.model)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setItemDelegateForColumn(COL_STATE, StatePillDelegate(self.table))
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.more_button = QPushButton(self.tr("Load more"))
        self.more_button.setProperty("flat", True)
        self.more_button.clicked.connect(self.load_more)
        self.more_button.hide()
        self.empty = EmptyState("transfers", "", "", action_text=self.tr("New transfer"))
        self.empty.action.clicked.connect(self._on_empty_action)
        self.results = QStackedWidget()
        self.results.addWidget(self.table)
        self.results.addWidget(self.empty)
        filter_row = QHBoxLayout()
        filter_row.addWidget(self.state_filter)
        filter_row.addStretch(1)
        filter_row.addWidget(self.count_label)
        list_panel = QWidget()
        list_layout = QVBoxLayout(list_panel)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.setSpacing(8)
        list_layout.addLayout(filter_row)
        list_layout.addWidget(self.results, 1)
        list_layout.addWidget(self.more_button, 0, Qt.AlignmentFlag.AlignHCenter)

        self.editor = TransferEditor(context, tasks)
        self.editor.saved.connect(lambda info: setattr(self, "_select_id", info.id))
        self.editor.message.connect(self.banner.show_message)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(list_panel)
        self.splitter.addWidget(self.editor)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.title(), self.description(), self.new_button, self.refresh_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.splitter.setSizes([560, 520])

        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)

    # -- ViewPage ------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_reload:
            self.reload()

    def is_loading(self) -> bool:
        return self.runner.busy or self.editor.busy

    def refresh(self) -> None:
        self._needs_locations = True
        self.reload()

    # -- loading ---------------------------------------------------------------------------------------
    def reload(self) -> None:
        self._generation += 1
        if self.context.ops is None:
            self._needs_reload = True
            self.model.clear()
            return
        self._needs_reload = False
        gen, states, limit = self._generation, self.states(), self.page_size
        current = self.current_summary()
        if self._select_id is None and current is not None:
            self._select_id = current.id
        self.runner.read(lambda ops: ops.transfers.list(states=states, limit=limit), partial(self._on_first_page, gen),
                         on_error=partial(self._on_error, gen))
        if self._needs_locations:
            self._needs_locations = False
            self.runner.read(lambda ops: ops.stock.locations(), self.editor.set_locations,
                             on_error=partial(self._on_error, gen))

    def states(self) -> tuple[str, ...]:
        """The states the list shows (none: all)."""
        choice = self.state_filter.currentData() or ""
        return OPEN_STATES if choice == "open" else (choice,) if choice else ()

    def load_more(self) -> None:
        before = self.model.last_id()
        if before is None:
            return
        gen, states, limit = self._generation, self.states(), self.page_size
        self.more_button.setEnabled(False)
        if not self.runner.read(lambda ops: ops.transfers.list(states=states, before_id=before, limit=limit),
                                partial(self._on_more, gen), on_error=partial(self._on_error, gen)):
            self.more_button.setEnabled(True)

    def _on_first_page(self, gen: int, rows: list[TransferSummary]) -> None:
        if gen != self._generation:
            return
        select_id, self._select_id = self._select_id, None
        self._syncing = True
        self.model.set_rows(rows)
        self._syncing = False
        self._set_has_more(len(rows) >= self.page_size)
        self._update_empty_state()
        row = self.model.row_of_id(select_id) if select_id is not None else -1
        if row < 0 and self.editor.transfer is None and self.editor.lines:
            return  # a new transfer being filled in stays in the editor
        if row < 0 and rows:
            row = 0
        if row >= 0:
            self._syncing = True
            self.table.setCurrentIndex(self.model.index(row, 0))
            self._syncing = False
            self._sync_editor(rows[row])

    def _on_more(self, gen: int, rows: list[TransferSummary]) -> None:
        self.more_button.setEnabled(True)
        if gen == self._generation:
            self.model.append_rows(rows)
            self._set_has_more(len(rows) >= self.page_size)
            self._show_count()

    def _set_has_more(self, more: bool) -> None:
        self.model.has_more = more
        self.more_button.setVisible(more)
        self._show_count()

    def _show_count(self) -> None:
        n = self.model.rowCount()
        self.count_label.setText(self.tr("{n}+ transfers").format(n=format_qty(n)) if self.model.has_more
                                 else plural(n, self.tr("{n} transfer"), self.tr("{n} transfers")))

    def _on_error(self, gen: int, exc: BaseException) -> None:
        self.more_button.setEnabled(True)
        if gen == self._generation:
            self.banner.show_message(self.tr("The transfers could not be loaded: {error}").format(error=error_text(exc)),
                                     "error")

    # -- reacting --------------------------------------------------------------------------------------
    def current_summary(self) -> TransferSummary | None:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        summary = self.model.row_at(current.row()) if current.isValid() else None
        if self._syncing or summary is None or (self.editor.transfer is not None and self.editor.transfer.id == summary.id):
            return
        if not self.editor.may_leave():
            return
        self.editor.load(summary.id)

    def _sync_editor(self, summary: TransferSummary) -> None:
        """Show the selected transfer, reloading it if it changed since the editor read it."""
        shown = self.editor.transfer
        if shown is None or shown.id != summary.id:
            if self.editor.may_leave():
                self.editor.load(summary.id)
        elif not self.editor.dirty and (shown.state, len(shown.lines), shown.total_quantity, shown.in_transit) != (
                summary.state, summary.lines, summary.units, summary.in_transit):
            self.editor.load(summary.id)

    def new_transfer(self) -> None:
        if not self.editor.may_leave():
            return
        self._syncing = True
        self.table.clearSelection()
        self.table.setCurrentIndex(QModelIndex())
        self._syncing = False
        self.editor.new_transfer()

    def _on_context_changed(self) -> None:
        self._needs_reload = self._needs_locations = True
        if self.context.ops is None:
            self._generation += 1
            self.model.clear()

    def _on_data_changed(self, changes: Changes) -> None:
        if changes.concerns(LOCATIONS):
            self._needs_locations = True
        if changes.concerns(TRANSFERS, LOCATIONS):
            self._needs_reload = True
            if self.isVisible():
                self.reload()
        elif changes.concerns(STOCK) and self.isVisible():
            self.editor.load_available()   # a draft's available figures

    def _update_empty_state(self) -> None:
        if self.model.rowCount():
            self.results.setCurrentWidget(self.table)
            return
        if self.state_filter.currentIndex() > 0:
            self.empty.set_text(self.tr("No transfers in this state"), self.tr("Choose another state, or show all."))
            self.empty.action.setText(self.tr("Show all transfers"))
        else:
            self.empty.set_text(self.tr("No transfers yet"),
                                self.tr("A transfer moves stock between your warehouses and stores: scan the "
                                        "items, ship, and receive them at the other end."))
            self.empty.action.setText(self.tr("New transfer"))
        self.results.setCurrentWidget(self.empty)

    def _on_empty_action(self) -> None:
        if self.state_filter.currentIndex() > 0:
            self.state_filter.setCurrentIndex(0)
        else:
            self.new_transfer()
