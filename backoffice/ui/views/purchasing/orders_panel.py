"""Purchase orders: the list (newest first, by state; late ones highlighted) above, the selected or
new order in the editor below. Lists load through the operations contract in the background, a keyset
page at a time; each reload has a generation number and answers to an older one are dropped."""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
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

from backoffice.operations.purchase_orders import OrderSummary
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.purchasing.common import OPEN_STATES, STATES, state_label
from backoffice.ui.views.purchasing.models import COL_STATE, ORDER_COLUMNS, OrderListModel
from backoffice.ui.views.purchasing.order_editor import OrderEditor
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.pills import StatePillDelegate
from backoffice.ui.widgets.records import setup_table

PAGE_SIZE = 100


class OrdersPanel(QWidget):
    message = Signal(str, str)
    loading_changed = Signal(bool)

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.page_size = context, tasks, page_size
        self._generation = 0
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.loading_changed)
        self._select_id: int | None = None
        self._syncing = False
        self.needs_reload = True

        self.state_filter = QComboBox()
        self.state_filter.addItem(self.tr("Open orders (draft, sent, partly received)"), "open")
        self.state_filter.addItem(self.tr("Late orders"), "late")
        self.state_filter.addItem(self.tr("All orders"), "")
        for state in STATES:
            self.state_filter.addItem(state_label(state), state)
        self.state_filter.currentIndexChanged.connect(lambda _i: self.reload())
        self.new_button = QPushButton(self.tr("New order"))
        self.new_button.clicked.connect(self.new_order)
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")
        self.model = OrderListModel(self)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=ORDER_COLUMNS[2].header)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.setItemDelegateForColumn(COL_STATE, StatePillDelegate(self.table))
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.more_button = QPushButton(self.tr("Load more"))
        self.more_button.setProperty("flat", True)
        self.more_button.clicked.connect(self.load_more)
        self.more_button.hide()
        self.empty = EmptyState("purchasing", "", "", action_text=self.tr("Show all orders"))
        self.empty.action.clicked.connect(self._empty_action)
        self.results = QStackedWidget()
        self.results.addWidget(self.table)
        self.results.addWidget(self.empty)
        filters = QHBoxLayout()
        filters.addWidget(self.state_filter)
        filters.addWidget(self.count_label, 1)
        filters.addWidget(self.new_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(8)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.results, 1)
        left_layout.addWidget(self.more_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self.editor = OrderEditor(context, tasks)
        self._editing_new = False      # the buyer asked for a new order: the editor stays, list empty or not
        self.editor.saved.connect(lambda info: setattr(self, "_select_id", info.id))
        self.editor.message.connect(self.message)
        # The list above the editor: both get the full width (an order's lines have many columns).
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.editor)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        left.setMinimumHeight(150)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.splitter, 1)

    def is_loading(self) -> bool:
        return self.runner.busy or self.editor.busy or self.editor.resolver.busy

    def states(self) -> tuple[str, ...]:
        choice = self.state_filter.currentData() or ""
        if choice in ("open", "late"):
            return OPEN_STATES if choice == "open" else ("sent", "partial")
        return (choice,) if choice else ()

    def set_choices(self, supplier_rows: list[Any], locations: list[dict[str, Any]]) -> None:
        self.editor.set_choices(supplier_rows, locations)

    # -- loading -------------------------------------------------------------------------------------
    def _load_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.message.emit(self.tr("The purchase orders could not be loaded: {error}").format(
                error=error_text(exc)), "error")

    def reload(self) -> None:
        self._generation += 1
        if self.context.ops is None:
            self.needs_reload = True
            self.model.clear()
            return
        self.needs_reload = False
        gen, states, limit = self._generation, self.states(), self.page_size
        current = self.table.currentIndex()
        if self._select_id is None and current.isValid():
            self._select_id = self.model.row_at(current.row()).id
        self.runner.read(lambda ops: ops.purchase_orders.list(states=states, limit=limit), partial(self._on_page, gen),
                         on_error=partial(self._load_failed, gen))

    def load_more(self) -> None:
        before = self.model.last_id()
        if before is None:
            return
        gen, states, limit = self._generation, self.states(), self.page_size
        self.runner.read(lambda ops: ops.purchase_orders.list(states=states, before_id=before, limit=limit),
                         partial(self._on_more, gen), on_error=partial(self._load_failed, gen))

    def _shown(self, rows: list[OrderSummary]) -> list[OrderSummary]:
        return [r for r in rows if r.late] if self.state_filter.currentData() == "late" else rows

    def _on_page(self, gen: int, rows: list[OrderSummary]) -> None:
        if gen != self._generation:
            return
        select_id, self._select_id = self._select_id, None
        self._syncing = True
        self.model.set_rows(self._shown(rows))
        self._syncing = False
        self.model.has_more = len(rows) >= self.page_size
        self.more_button.setVisible(self.model.has_more)
        self._update_empty_state()
        row = self.model.row_of_id(select_id) if select_id is not None else -1
        if row < 0 and self.editor.order is None and self.editor.lines:
            return   # a new order being filled in stays in the editor
        if row < 0 and self.model.rowCount():
            row = 0
        if row >= 0:
            self._syncing = True
            self.table.setCurrentIndex(self.model.index(row, 0))
            self._syncing = False
            summary = self.model.row_at(row)
            shown = self.editor.order
            if shown is None or shown.id != summary.id or (not self.editor.dirty and shown.state != summary.state):
                self.editor.load(summary.id)

    def _on_more(self, gen: int, rows: list[OrderSummary]) -> None:
        if gen == self._generation:
            self.model.append_rows(self._shown(rows))
            self.model.has_more = len(rows) >= self.page_size
            self.more_button.setVisible(self.model.has_more)
            self._update_empty_state()

    def _update_empty_state(self) -> None:
        n = self.model.rowCount()
        more = "+" if self.model.has_more else ""
        self.count_label.setText(self.tr("1 order") if n == 1 and not more
                                 else self.tr("{n} orders").format(n=format_qty(n) + more))
        if n:
            self.results.setCurrentWidget(self.table)
            self._show_editor()
            return
        every = self.state_filter.currentData() == ""
        if self.state_filter.currentData() == "late":
            self.empty.set_text(self.tr("Nothing is late"), self.tr("Every open order is still within its lead time."))
        else:
            self.empty.set_text(self.tr("No purchase orders here"),
                                self.tr("Create draft orders from the suggestions, or start a new order."))
        self.empty.action.setText(self.tr("New order") if every else self.tr("Show all orders"))
        self.results.setCurrentWidget(self.empty)
        self._show_editor()

    def _empty_action(self) -> None:
        if self.state_filter.currentData() == "":
            self.new_order()
        else:
            self.state_filter.setCurrentIndex(2)

    def _show_editor(self) -> None:
        """The editor takes space only when there is an order to show or one being written; otherwise the
        empty state gets the whole panel (squeezed above an empty editor it could not be read)."""
        busy_editor = self._editing_new or self.editor.order is not None or bool(self.editor.lines)
        self.editor.setVisible(self.model.rowCount() > 0 or busy_editor)

    # -- reacting --------------------------------------------------------------------------------------
    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        summary = self.model.row_at(current.row()) if current.isValid() else None
        if self._syncing or summary is None or (self.editor.order is not None and self.editor.order.id == summary.id):
            return
        if self.editor.may_leave():
            self.editor.load(summary.id)

    def new_order(self) -> None:
        if not self.editor.may_leave():
            return
        self._syncing = True
        self.table.clearSelection()
        self.table.setCurrentIndex(QModelIndex())
        self._syncing = False
        self._editing_new = True
        self.editor.new_order()
        self._show_editor()

    def show_order(self, order_id: int) -> None:
        """Select ``order_id`` after the next reload (a draft just created from the suggestions)."""
        self._select_id = order_id
        self.state_filter.setCurrentIndex(0)
        self.reload()
