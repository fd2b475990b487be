"""Orders: what customers bought, and where it stands. The list (newest first, filtered by state, dates,
location, a search and Overdue; a keyset page at a time, the next one when scrolled to the end) above the
selected order (see ``details.OrderPanel``), whose steps run in dialogs.

Queries run through the operations contract in the background; each (re)load gets a generation number
and answers to an older one are dropped. The count shown is ``ops.orders.count`` of the same filter.
A write's changes reach the view by ``context.data_changed``: it reloads (keeping the same order
selected) when orders or customers changed, and its location picker when locations did.

Ship all reserved… (the roles that ship) ships everything reserved at one location, order by order
(``ship_all_dialog``); Order settings… (managers) opens the store-wide order settings
(``settings_dialog``); the steps on one order and its returns are the panel's.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QT_TRANSLATE_NOOP, QByteArray, QModelIndex, QSize, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Changes
from backoffice.operations.changes import CUSTOMERS, LOCATIONS, ORDERS
from backoffice.operations.orders import OrderFilter, OrderSummary, ProcessResult
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty, plural
from backoffice.ui.operations import Runner
from backoffice.ui.settings import app_settings
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.orders.details import OrderPanel
from backoffice.ui.views.orders.filters import OrderFilterBar
from backoffice.ui.views.orders.models import COL_STATE, STATE_COLOURS, fit_headings, orders_model, tr
from backoffice.ui.views.orders.settings_dialog import OrderSettingsDialog
from backoffice.ui.views.orders.ship_all_dialog import ShipAllDialog
from backoffice.ui.widgets.banner import TRANSIENT_MS, MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.pills import StatePillDelegate
from backoffice.ui.widgets.records import setup_table

PAGE_SIZE = 200
SPLITTER_KEY = "orders/splitter"


def processed_text(result: ProcessResult) -> str:
    """What a run of Process did, in a sentence."""
    if not (result.orders or result.reserved_units or result.refused):
        text = tr("No new orders to process.")
    else:
        text = plural(result.orders, tr("{n} new order processed"), tr("{n} new orders processed")) + "; " + \
            plural(result.reserved_units, tr("{n} unit reserved"), tr("{n} units reserved"))
        if result.refused:
            text += "; " + plural(result.refused, tr("{n} refused for want of stock"), tr("{n} refused for want of stock"))
        text += "."
    if result.waiting_units:
        text += " " + plural(result.waiting_units, tr("{n} unit still waits for stock."), tr("{n} units still wait for stock."))
    return text


class OrdersView(ViewPage):
    key = "orders"
    TITLE = QT_TRANSLATE_NOOP("Views", "Orders")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Orders to reserve, ship, cancel and take back.")
    icon_name = "orders"
    REQUIRES = "orders.list"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(context, tasks, parent)
        self.page_size = page_size
        self._generation = 0
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.loading_changed)
        self.processing = Runner(context, tasks, self)
        self._needs_reload = True
        self._needs_locations = True
        self._select_id: int | None = None
        self._syncing = False   # the list moves its own selection: no load from the selection signal
        self.total = 0          # ops.orders.count of the filter shown

        self.process_button = QPushButton(self.tr("Process now"))
        self.process_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.process_button.setIconSize(QSize(16, 16))
        self.process_button.setToolTip(self.tr("Reserve stock for new orders, and try again the units waiting for "
                                               "stock (the window also does this every minute)"))
        self.process_button.clicked.connect(self.process_now)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)       # indeterminate: a run has no steps to count
        self.busy_bar.setFixedWidth(90)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()
        self.ship_all_button = QPushButton(self.tr("Ship all reserved…"))
        self.ship_all_button.clicked.connect(self.open_ship_all)
        self.ship_all_dialog: ShipAllDialog | None = None
        self.settings_button = QPushButton(self.tr("Order settings…"))
        self.settings_button.clicked.connect(self.open_settings)
        self.settings_dialog: OrderSettingsDialog | None = None
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh)
        self.banner = MessageBanner()

        self.filters = OrderFilterBar()
        self.filters.changed.connect(self.reload)
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")
        self.model = orders_model(self)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=self.model.columns[2].header)
        fit_headings(self.table, self.model)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.setItemDelegateForColumn(COL_STATE, StatePillDelegate(self.table, STATE_COLOURS))
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.more_button = QPushButton(self.tr("Load more"))
        self.more_button.setProperty("flat", True)
        self.more_button.clicked.connect(self.load_more)
        self.more_button.hide()
        self.empty = EmptyState("orders", "", "")
        self.empty.action.clicked.connect(self._on_empty_action)
        self.results = QStackedWidget()
        self.results.addWidget(self.table)
        self.results.addWidget(self.empty)
        list_panel = QWidget()
        list_layout = QVBoxLayout(list_panel)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.setSpacing(6)
        list_layout.addWidget(self.results, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count_label)
        bottom.addStretch(1)
        bottom.addWidget(self.more_button)
        list_layout.addLayout(bottom)

        self.panel = OrderPanel(context, tasks)
        self.panel.message.connect(self._show_message)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(list_panel)
        self.splitter.addWidget(self.panel)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([330, 370])
        state = app_settings().value(SPLITTER_KEY)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.splitter.restoreState(state)
        self.splitter.splitterMoved.connect(lambda *_: app_settings().setValue(SPLITTER_KEY, self.splitter.saveState()))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.title(), self.description(), self.busy_bar, self.process_button,
                                     self.ship_all_button, self.settings_button, self.refresh_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.filters)
        layout.addWidget(self.splitter, 1)

        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)

    # -- ViewPage ------------------------------------------------------------------------------------
    def activate(self) -> None:
        self.process_button.setEnabled(self.context.may("orders.process") and not self.processing.busy)
        self._refresh_settings_button()
        self._refresh_ship_all_button()
        if self._needs_reload:
            self.reload()

    def is_loading(self) -> bool:
        return self.runner.busy or self.panel.busy or self.processing.busy

    def refresh(self) -> None:
        self._needs_locations = True
        self.reload()

    # -- loading ---------------------------------------------------------------------------------------
    def current_filter(self) -> OrderFilter:
        return self.filters.current_filter()

    def reload(self) -> None:
        self._generation += 1
        if self.context.ops is None:
            self._needs_reload = True
            self.model.clear()
            return
        self._needs_reload = False
        gen, flt, limit = self._generation, self.current_filter(), self.page_size
        current = self.current_summary()
        if self._select_id is None and current is not None:
            self._select_id = current.id
        self.runner.read(lambda ops: (ops.orders.list(flt, limit=limit), ops.orders.count(flt), ops.orders.state_counts()),
                         partial(self._on_first_page, gen), on_error=partial(self._on_error, gen))
        if self._needs_locations:
            self._needs_locations = False
            self.runner.read(lambda ops: ops.stock.locations(), self._set_locations, on_error=partial(self._on_error, gen))

    def _set_locations(self, locations: list[dict]) -> None:
        self.filters.set_locations(locations)
        self.panel.set_locations(locations)

    def load_more(self) -> None:
        before = self.model.last_id()
        if before is None or not self.model.has_more or not self.more_button.isEnabled():
            return
        gen, flt, limit = self._generation, self.current_filter(), self.page_size
        self.more_button.setEnabled(False)
        if not self.runner.read(lambda ops: ops.orders.list(flt, before_id=before, limit=limit),
                                partial(self._on_more, gen), on_error=partial(self._on_error, gen)):
            self.more_button.setEnabled(True)

    def _on_scrolled(self, value: int) -> None:
        if value >= self.table.verticalScrollBar().maximum() - 2 and self.model.has_more:
            self.load_more()

    def _on_first_page(self, gen: int, loaded: tuple[list[OrderSummary], int, dict[str, int]]) -> None:
        if gen != self._generation:
            return
        rows, self.total, counts = loaded
        self.filters.set_counts(counts)
        select_id, self._select_id = self._select_id, None
        self._syncing = True
        self.model.set_rows(rows)
        self._syncing = False
        self._set_has_more(len(rows) >= self.page_size)
        self._update_empty_state(counts)
        row = self.model.row_of_id(select_id) if select_id is not None else -1
        if row < 0 and rows:
            row = 0
        if row < 0:
            self.panel.clear()
            return
        self._syncing = True
        self.table.setCurrentIndex(self.model.index(row, 0))
        self._syncing = False
        self.panel.load(rows[row].id)     # read again: its lines, shipments or returns may have changed

    def _on_more(self, gen: int, rows: list[OrderSummary]) -> None:
        self.more_button.setEnabled(True)
        if gen == self._generation:
            self.model.append_rows(rows)
            self._set_has_more(len(rows) >= self.page_size)

    def _set_has_more(self, more: bool) -> None:
        self.model.has_more = more
        self.more_button.setVisible(more)
        self._show_count()

    def _show_count(self) -> None:
        shown = self.model.rowCount()
        text = plural(self.total, self.tr("{n} order"), self.tr("{n} orders"))
        if shown < self.total:
            text += " · " + self.tr("{shown} shown").format(shown=format_qty(shown))
        self.count_label.setText(text)

    def _on_error(self, gen: int, exc: BaseException) -> None:
        self.more_button.setEnabled(True)
        if gen == self._generation:
            self.banner.show_message(self.tr("The orders could not be loaded: {error}").format(error=error_text(exc)),
                                     "error")

    def _update_empty_state(self, counts: dict[str, int]) -> None:
        if self.model.rowCount():
            self.results.setCurrentWidget(self.table)
            return
        if sum(counts.values()) and self.filters.is_filtered():
            self.empty.set_text(self.tr("No orders match"), self.tr("No order matches these filters. Change them, "
                                                                    "or clear them to see every order."))
            self.empty.action.setText(self.tr("Clear filters"))
            self.empty.action.show()
        else:
            self.empty.set_text(self.tr("No orders yet"),
                                self.tr("Orders the store takes appear here. Processing reserves their stock at your "
                                        "warehouses and stores; then you ship them, and take returns back."))
            self.empty.action.hide()
        self.results.setCurrentWidget(self.empty)

    def _on_empty_action(self) -> None:
        self.filters.clear()

    # -- processing ------------------------------------------------------------------------------------------
    def process_now(self) -> None:
        if self.processing.busy:
            return
        started = self.processing.write(lambda ops: ops.orders.process(), self._processed,
                                        on_error=self._process_failed)
        if started:
            self._set_processing(True)

    def _set_processing(self, on: bool) -> None:
        self.busy_bar.setVisible(on)
        self.process_button.setEnabled(not on and self.context.may("orders.process"))
        self.process_button.setText(self.tr("Processing…") if on else self.tr("Process now"))

    def _processed(self, result: ProcessResult) -> None:
        self._set_processing(False)
        self.banner.show_message(processed_text(result), "success", TRANSIENT_MS)

    def _process_failed(self, exc: BaseException) -> None:
        self._set_processing(False)
        self.banner.show_message(self.tr("Processing failed: {error}").format(error=error_text(exc)), "error")

    # -- shipping everything reserved at a location ------------------------------------------------------------
    def _refresh_ship_all_button(self) -> None:
        may = self.context.may("orders.fulfil_many")
        self.ship_all_button.setEnabled(may)
        self.ship_all_button.setToolTip(
            self.tr("Ship every order holding units at one location, one shipment each (a warehouse's shipping "
                    "wave)") if may else
            self.tr("For the roles {roles}.").format(roles=self.context.roles_for("orders.fulfil_many")))

    def open_ship_all(self) -> ShipAllDialog | None:
        if not self.context.may("orders.fulfil_many") or self.context.ops is None:
            return None
        dialog = ShipAllDialog(self.context, self.tasks, self, location_id=self.current_filter().location_id)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.shipped.connect(self._show_message)
        self.ship_all_dialog = dialog
        dialog.open()
        return dialog

    # -- settings --------------------------------------------------------------------------------------------
    def _refresh_settings_button(self) -> None:
        may = self.context.may("orders.save_settings")
        self.settings_button.setEnabled(may)
        self.settings_button.setToolTip(
            self.tr("How new orders are reserved (allocation rule, split, each channel's location, shortage), where "
                    "damaged returns go, when an order is overdue") if may else
            self.tr("For the roles {roles}.").format(roles=self.context.roles_for("orders.save_settings")))

    def open_settings(self) -> OrderSettingsDialog | None:
        if not self.context.may("orders.save_settings") or self.context.ops is None:
            return None
        dialog = OrderSettingsDialog(self.context, self.tasks, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.saved.connect(lambda _s: self.banner.show_message(self.tr("Order settings saved."), "success",
                                                                 TRANSIENT_MS))
        self.settings_dialog = dialog
        dialog.open()
        return dialog

    # -- reacting --------------------------------------------------------------------------------------
    def current_summary(self) -> OrderSummary | None:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def select_order(self, order_id: int) -> None:
        row = self.model.row_of_id(order_id)
        if row >= 0:
            self.table.setCurrentIndex(self.model.index(row, 0))

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        summary = self.model.row_at(current.row()) if current.isValid() else None
        if self._syncing or summary is None or self.panel.order_id == summary.id:
            return
        self.panel.load(summary.id)

    def _show_message(self, text: str, level: str) -> None:
        self.banner.show_message(text, level, TRANSIENT_MS if level == "success" else None)

    def _on_context_changed(self) -> None:
        self._needs_reload = self._needs_locations = True
        self._refresh_settings_button()
        self._refresh_ship_all_button()
        if self.context.ops is None:
            self._generation += 1
            self.model.clear()
            self.panel.clear()

    def _on_data_changed(self, changes: Changes) -> None:
        if changes.concerns(LOCATIONS):
            self._needs_locations = True
        if changes.concerns(ORDERS, CUSTOMERS, LOCATIONS):
            self._needs_reload = True
            if self.isVisible():
                self.reload()
