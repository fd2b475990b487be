"""Customers: the list (newest first, searched by name or e-mail, a keyset page at a time, the next one
when scrolled to the end) above the selected customer (see ``details.CustomerPanel``).

Queries run through the operations contract in the background; answers to an older (re)load are
dropped. The count shown is ``ops.customers.count`` of the same search. The view reloads on
``context.data_changed`` when customers changed, or orders (their counts and lifetime values).
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QT_TRANSLATE_NOOP, QByteArray, QModelIndex, QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Changes
from backoffice.operations.changes import CUSTOMERS, ORDERS
from backoffice.operations.customers import CustomerSummary
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty, plural
from backoffice.ui.operations import Runner
from backoffice.ui.settings import app_settings
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.customers.details import CustomerPanel
from backoffice.ui.views.customers.models import COL_EMAIL, CustomerListModel
from backoffice.ui.views.orders.models import fit_headings
from backoffice.ui.widgets.banner import TRANSIENT_MS, MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.records import setup_table

PAGE_SIZE = 200
SEARCH_DEBOUNCE_MS = 300
SPLITTER_KEY = "customers/splitter"


class CustomersView(ViewPage):
    key = "customers"
    TITLE = QT_TRANSLATE_NOOP("Views", "Customers")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Who buys, what they bought, and their data on request.")
    icon_name = "user"
    REQUIRES = "customers.list"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(context, tasks, parent)
        self.page_size = page_size
        self._generation = 0
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.loading_changed)
        self._needs_reload = True
        self._select_id: int | None = None
        self._syncing = False
        self.total = 0

        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.reload)
        self.banner = MessageBanner()
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search name or e-mail…"))
        self.search.setClearButtonEnabled(True)
        self.search.addAction(resources.icon("search", theme.TEXT_MUTED), QLineEdit.ActionPosition.LeadingPosition)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.reload)
        self.search.textChanged.connect(self._debounce.start)
        self.search.returnPressed.connect(self._search_now)
        self.show_erased = QCheckBox(self.tr("Show erased"))
        self.show_erased.setToolTip(self.tr("Also list customers whose personal data was erased"))
        self.show_erased.toggled.connect(lambda _on: self.reload())
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")

        self.model = CustomerListModel(self)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=self.model.columns[COL_EMAIL].header)
        fit_headings(self.table, self.model)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.more_button = QPushButton(self.tr("Load more"))
        self.more_button.setProperty("flat", True)
        self.more_button.clicked.connect(self.load_more)
        self.more_button.hide()
        self.empty = EmptyState("user", "", "")
        self.empty.action.setText(self.tr("Clear the search"))
        self.empty.action.clicked.connect(self.search.clear)
        self.results = QStackedWidget()
        self.results.addWidget(self.table)
        self.results.addWidget(self.empty)

        filter_row = QHBoxLayout()
        filter_row.addWidget(self.search, 1)
        filter_row.addWidget(self.show_erased)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label)
        bottom.addStretch(1)
        bottom.addWidget(self.more_button)
        list_panel = QWidget()
        list_layout = QVBoxLayout(list_panel)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.setSpacing(8)
        list_layout.addLayout(filter_row)
        list_layout.addWidget(self.results, 1)
        list_layout.addLayout(bottom)

        self.panel = CustomerPanel(context, tasks)
        self.panel.message.connect(self._show_message)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(list_panel)
        self.splitter.addWidget(self.panel)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([360, 320])
        state = app_settings().value(SPLITTER_KEY)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.splitter.restoreState(state)
        self.splitter.splitterMoved.connect(lambda *_: app_settings().setValue(SPLITTER_KEY, self.splitter.saveState()))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.title(), self.description(), self.refresh_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)

    # -- ViewPage ------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_reload:
            self.reload()

    def is_loading(self) -> bool:
        return self.runner.busy or self.panel.busy

    # -- loading ---------------------------------------------------------------------------------------
    def reload(self) -> None:
        self._debounce.stop()
        self._generation += 1
        if self.context.ops is None:
            self._needs_reload = True
            self.model.clear()
            return
        self._needs_reload = False
        gen, limit = self._generation, self.page_size
        search, erased = self.search.text().strip(), self.show_erased.isChecked()
        current = self.current_summary()
        if self._select_id is None and current is not None:
            self._select_id = current.id
        self.runner.read(lambda ops: (ops.customers.list(search=search, limit=limit, include_erased=erased),
                                      ops.customers.count(search=search, include_erased=erased)),
                         partial(self._on_first_page, gen), on_error=partial(self._on_error, gen))

    def _search_now(self) -> None:
        self.reload()

    def load_more(self) -> None:
        before = self.model.last_id()
        if before is None or not self.model.has_more or not self.more_button.isEnabled():
            return
        gen, limit = self._generation, self.page_size
        search, erased = self.search.text().strip(), self.show_erased.isChecked()
        self.more_button.setEnabled(False)
        if not self.runner.read(lambda ops: ops.customers.list(search=search, before_id=before, limit=limit,
                                                               include_erased=erased),
                                partial(self._on_more, gen), on_error=partial(self._on_error, gen)):
            self.more_button.setEnabled(True)

    def _on_scrolled(self, value: int) -> None:
        if value >= self.table.verticalScrollBar().maximum() - 2 and self.model.has_more:
            self.load_more()

    def _on_first_page(self, gen: int, loaded: tuple[list[CustomerSummary], int]) -> None:
        if gen != self._generation:
            return
        rows, self.total = loaded
        select_id, self._select_id = self._select_id, None
        self._syncing = True
        self.model.set_rows(rows)
        self._syncing = False
        self._set_has_more(len(rows) >= self.page_size)
        self._update_empty_state()
        row = self.model.row_of_id(select_id) if select_id is not None else -1
        if row < 0 and select_id is not None and self.panel.customer_id == select_id:
            self.panel.reload()      # no longer listed (erased): still shown, as it is now
            return
        if row < 0 and rows:
            row = 0
        if row < 0:
            self.panel.clear()
            return
        self._syncing = True
        self.table.setCurrentIndex(self.model.index(row, 0))
        self._syncing = False
        self.panel.load(rows[row].id)

    def _on_more(self, gen: int, rows: list[CustomerSummary]) -> None:
        self.more_button.setEnabled(True)
        if gen == self._generation:
            self.model.append_rows(rows)
            self._set_has_more(len(rows) >= self.page_size)

    def _set_has_more(self, more: bool) -> None:
        self.model.has_more = more
        self.more_button.setVisible(more)
        shown = self.model.rowCount()
        text = plural(self.total, self.tr("{n} customer"), self.tr("{n} customers"))
        if shown < self.total:
            text += " · " + self.tr("{shown} shown").format(shown=format_qty(shown))
        self.count_label.setText(text)

    def _on_error(self, gen: int, exc: BaseException) -> None:
        self.more_button.setEnabled(True)
        if gen == self._generation:
            self.banner.show_message(self.tr("The customers could not be loaded: {error}").format(
                error=error_text(exc)), "error")

    def _update_empty_state(self) -> None:
        if self.model.rowCount():
            self.results.setCurrentWidget(self.table)
            return
        if self.search.text().strip():
            self.empty.set_text(self.tr("No customer matches"),
                                self.tr("No name or e-mail contains “{text}”.").format(text=self.search.text().strip()))
            self.empty.action.show()
        else:
            self.empty.set_text(self.tr("No customers yet"),
                                self.tr("Customers arrive with the store's orders: their details, what they bought "
                                        "and what they sent back."))
            self.empty.action.hide()
        self.results.setCurrentWidget(self.empty)

    # -- reacting --------------------------------------------------------------------------------------
    def current_summary(self) -> CustomerSummary | None:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def select_customer(self, customer_id: int) -> None:
        row = self.model.row_of_id(customer_id)
        if row >= 0:
            self.table.setCurrentIndex(self.model.index(row, 0))

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        summary = self.model.row_at(current.row()) if current.isValid() else None
        if self._syncing or summary is None or self.panel.customer_id == summary.id:
            return
        self.panel.load(summary.id)

    def _show_message(self, text: str, level: str) -> None:
        self.banner.show_message(text, level, TRANSIENT_MS if level == "success" else None)

    def _on_context_changed(self) -> None:
        self._needs_reload = True
        if self.context.ops is None:
            self._generation += 1
            self.model.clear()
            self.panel.clear()

    def _on_data_changed(self, changes: Changes) -> None:
        if changes.concerns(CUSTOMERS, ORDERS):
            self._needs_reload = True
            if self.isVisible():
                self.reload()
