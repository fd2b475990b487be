"""Inventory: stock per variant and location, the selected item everywhere with its history, low-stock
alerts, and the warehouse's actions (adjust, count, thresholds).

Every query runs in the background executor through the operations contract. The grid is read in keyset
pages (``ops.stock.levels`` after the last row's (variant, location) key) as the table scrolls. Each
(re)load gets a generation number and answers to an older one are dropped, so a slow early query never
overwrites a newer filter's rows. The view reloads only for writes that change what it shows.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QModelIndex, QSize, Qt
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Changes, Operations
from backoffice.operations.changes import (
    ALERTS,
    CATEGORIES,
    LOCATIONS,
    PRODUCTS,
    PURCHASE_ORDERS,
    STOCK,
    THRESHOLDS,
    VARIANTS,
)
from backoffice.operations.stock import CategoryChoice, StockFilter, StockRow
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.inventory.adjust_dialog import AdjustStockDialog
from backoffice.ui.views.inventory.alerts_panel import AlertsPanel
from backoffice.ui.views.inventory.count_dialog import StockCountDialog
from backoffice.ui.views.inventory.details import VariantPanel
from backoffice.ui.views.inventory.filters import StockFilterBar
from backoffice.ui.views.inventory.models import PRODUCT, StockTableModel
from backoffice.ui.views.inventory.threshold_dialog import ThresholdDialog
from backoffice.ui.widgets.records import setup_table
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState

PAGE_SIZE = 200
# What the grid shows: levels (stock, thresholds, incoming on sent purchase orders) of products' variants
# at locations. A write of any other kind leaves it as it is.
SHOWN = (STOCK, THRESHOLDS, LOCATIONS, PRODUCTS, VARIANTS, PURCHASE_ORDERS)
PICKERS = (LOCATIONS, CATEGORIES)     # the filter bar's choices
BADGE = (ALERTS, VARIANTS)            # the open-alert count of the sidebar badge


class InventoryView(ViewPage):
    key = "inventory"
    TITLE = QT_TRANSLATE_NOOP("Views", "Inventory")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Stock per variant and location.")
    icon_name = "inventory"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(context, tasks, parent)
        self.page_size = page_size
        self._generation = 0
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.loading_changed)
        self.badge_runner = Runner(context, tasks, self)   # the badge loads without the view's busy state
        self._filter = StockFilter()
        self._needs_reload = True
        self._needs_pickers = True
        self._keep_key: tuple[int, int] | None = None
        self.locations: list[dict[str, Any]] = []
        self.total: int | None = None
        self.dialog: Any = None      # the dialog opened last (adjust, count, threshold, mail settings)

        self.count_label = QLabel()
        self.count_label.setObjectName("CountLabel")
        self.adjust_button = self._button(self.tr("Adjust stock…"), self.open_adjust,
                                          self.tr("Correct the stock at a location: damage, loss, found"))
        self.count_button = self._button(self.tr("Stock count…"), self.open_count,
                                         self.tr("Count a location by scanning and post the differences"))
        self.threshold_button = self._button(self.tr("Set threshold…"), self.open_threshold,
                                             self.tr("Low-stock threshold and reorder point of the selected row"))
        self.refresh_button = self._button(self.tr("Refresh"), self.refresh, self.tr("Reload the stock (F5)"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.setShortcut("F5")
        self.banner = MessageBanner()

        self.filters = StockFilterBar()
        self.filters.changed.connect(self._on_filter_changed)
        self.model = StockTableModel(self)
        self.model.more_requested.connect(self._fetch_more)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=PRODUCT)
        self.table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.table.doubleClicked.connect(lambda _i: self.open_adjust())
        self.empty = EmptyState("inventory", "", "", action_text=self.tr("Clear filters"))
        self.empty.action.clicked.connect(self._on_empty_action)
        self.results = QStackedWidget()
        self.results.addWidget(self.table)
        self.results.addWidget(self.empty)
        self.details = VariantPanel(context, tasks)
        self.details.message.connect(self.banner.show_message)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.results)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        stock_tab = QWidget()
        stock_layout = QVBoxLayout(stock_tab)
        stock_layout.setContentsMargins(0, 8, 0, 0)
        stock_layout.setSpacing(8)
        stock_layout.addWidget(self.filters)
        stock_layout.addWidget(self.splitter, 1)

        self.alerts = AlertsPanel(context, tasks)
        self.alerts.count_changed.connect(self._on_alert_count)
        self.alerts.count_changed.connect(self.badge_changed)
        self.alerts.mail_settings_requested.connect(self.open_mail_settings)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(stock_tab, self.tr("Stock"))
        self.tabs.addTab(self.alerts, self.tr("Alerts"))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.title(), self.description(), self.count_label, self.adjust_button,
                                     self.count_button, self.threshold_button, self.refresh_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self.splitter.setSizes([760, 440])

        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)
        self._update_actions()
        self._show_count()
        if context.ops is not None:
            self._refresh_badge()

    @staticmethod
    def _button(text: str, slot, tooltip: str) -> QPushButton:  # type: ignore[no-untyped-def]
        button = QPushButton(text)
        button.setToolTip(tooltip)
        button.clicked.connect(slot)
        return button

    # -- ViewPage ------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_reload:
            self.reload()
        elif self._needs_pickers and self.context.ops is not None:
            self._load_pickers()

    def is_loading(self) -> bool:
        return self.runner.busy or self.details.is_loading() or self.alerts.is_loading()

    def refresh(self) -> None:
        self._needs_pickers = True
        self._keep_key = self.current_row().key if self.current_row() else None
        self.reload()

    # -- loading ---------------------------------------------------------------------------------------
    def reload(self) -> None:
        """Start over from the first page with the current filter; earlier answers become stale."""
        self._generation += 1
        if self.context.ops is None:
            self._needs_reload = True
            self.model.set_page([], has_more=False)
            self.total = None
            self._show_count()
            return
        self._needs_reload = False
        self._filter = self.filters.current_filter()
        gen, f, limit = self._generation, self._filter, self.page_size
        self.model.set_fetching(True)
        self.total = None
        self._show_count()
        on_error = partial(self._on_error, gen)
        self.runner.read(lambda ops: ops.stock.levels(f, limit=limit), partial(self._on_first_page, gen),
                         on_error=on_error)
        self.runner.read(lambda ops: ops.stock.count_levels(f), partial(self._on_count, gen), on_error=on_error)
        if self._needs_pickers:
            self._load_pickers()

    def _load_pickers(self) -> None:
        def locations_and_categories(ops: Operations) -> tuple[list[dict[str, Any]], list[CategoryChoice]]:
            return ops.stock.locations(), ops.stock.category_choices()

        self._needs_pickers = False
        self.runner.read(locations_and_categories, self._on_pickers, on_error=partial(self._on_error, self._generation))

    def _fetch_more(self, after: tuple[int, int]) -> None:
        gen, f, limit = self._generation, self._filter, self.page_size
        if not self.runner.read(lambda ops: ops.stock.levels(f, after=after, limit=limit), partial(self._on_more, gen),
                                on_error=partial(self._on_error, gen)):
            self.model.stop_fetching()

    def _on_first_page(self, gen: int, rows: list[StockRow]) -> None:
        if gen != self._generation:
            return
        keep, self._keep_key = self._keep_key, None
        self.model.set_page(rows, has_more=len(rows) >= self.page_size)
        self._update_empty_state()
        if not rows:
            self.details.show_row(None)
            self._update_actions()
            return
        row = self.model.row_of_key(keep) if keep else -1
        if row < 0:
            row = self._row_of_code(self._filter.text)
        self.table.setCurrentIndex(self.model.index(max(row, 0), 0))
        self.table.scrollTo(self.model.index(max(row, 0), 0))

    def _row_of_code(self, text: str) -> int:
        """The first row whose barcode or SKU is exactly what was searched (a scan), else -1."""
        code = text.strip().casefold()
        if not code:
            return -1
        for i, r in enumerate(self.model.rows):
            if (r.barcode or "").casefold() == code or r.sku.casefold() == code:
                return i
        return -1

    def _on_more(self, gen: int, rows: list[StockRow]) -> None:
        if gen == self._generation:
            self.model.append_page(rows, has_more=len(rows) >= self.page_size)

    def _on_count(self, gen: int, total: int) -> None:
        if gen == self._generation:
            self.total = total
            self._show_count()

    def _on_pickers(self, pickers: tuple[list[dict[str, Any]], list[Any]]) -> None:
        self.locations, categories = pickers
        self.filters.set_locations(self.locations)
        self.filters.set_categories(categories)
        self._update_actions()

    def _on_error(self, gen: int, exc: BaseException) -> None:
        if gen != self._generation:
            return
        self.model.stop_fetching()
        self.banner.show_message(self.tr("The stock could not be loaded: {error}").format(error=error_text(exc)),
                                 "error")
        self._show_count()

    # -- reacting --------------------------------------------------------------------------------------
    def _on_filter_changed(self) -> None:
        if self.context.ops is not None:
            self.reload()

    def _refresh_badge(self) -> None:
        """The open-alert count for the sidebar badge, also while another view is showing."""
        if not self.badge_runner.read(lambda ops: ops.alerts.open_count(), self._on_badge_count,
                                      on_error=lambda _exc: None):
            self.badge_changed.emit(0)

    def _on_badge_count(self, n: int) -> None:
        self._on_alert_count(n)
        self.badge_changed.emit(n)

    def _on_context_changed(self) -> None:
        self._needs_reload = self._needs_pickers = True
        self._refresh_badge()
        if self.context.ops is None:
            self._generation += 1
            self.model.set_page([], has_more=False)
            self.details.show_row(None)
            self.total = None
            self._show_count()

    def _on_data_changed(self, changes: Changes) -> None:
        if changes.concerns(*BADGE):
            self._refresh_badge()
        if changes.concerns(*PICKERS):
            self._needs_pickers = True
        if changes.concerns(*SHOWN):
            self._needs_reload = True
        if not self.isVisible():
            return
        if self._needs_reload:
            current = self.current_row()
            self._keep_key = current.key if current else None
        self.activate()

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.details.show_row(self.model.row_at(current.row()) if current.isValid() else None)
        self._update_actions()

    def _on_alert_count(self, n: int) -> None:
        self.tabs.setTabText(1, self.tr("Alerts ({n})").format(n=format_qty(n)) if n else self.tr("Alerts"))

    def current_row(self) -> StockRow | None:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def _update_actions(self) -> None:
        connected = self.context.ops is not None
        for button in (self.adjust_button, self.count_button):
            button.setEnabled(connected and bool(self.locations))
        self.threshold_button.setEnabled(connected and self.current_row() is not None)

    def _show_count(self) -> None:
        if self.total is None:
            self.count_label.setText(self.tr("Loading…") if self.context.ops is not None else "")
        elif self.total == 1:
            self.count_label.setText(self.tr("1 stock line"))
        else:
            self.count_label.setText(self.tr("{n} stock lines").format(n=format_qty(self.total)))

    def _update_empty_state(self) -> None:
        if self.model.rowCount():
            self.results.setCurrentWidget(self.table)
            return
        if self.filters.is_filtered():
            self.empty.set_text(self.tr("Nothing matches these filters"),
                                self.tr("Try another search, location or category, or clear the filters."))
            self.empty.action.setText(self.tr("Clear filters"))
        else:
            self.empty.set_text(self.tr("No stock yet"),
                                self.tr("No stock yet — receive a purchase order or post an adjustment."))
            self.empty.action.setText(self.tr("Adjust stock…"))
        self.results.setCurrentWidget(self.empty)

    def _on_empty_action(self) -> None:
        if self.filters.is_filtered():
            self.filters.clear()
        else:
            self.open_adjust()

    # -- actions -----------------------------------------------------------------------------------------
    def _open(self, dialog: Any) -> Any:
        self.dialog = dialog
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.open()
        return dialog

    def _location_hint(self) -> int | None:
        row = self.current_row()
        return row.location_id if row else self.filters.current_filter().location_id

    def open_adjust(self) -> AdjustStockDialog | None:
        if self.context.ops is None or not self.locations:
            return None
        dialog = AdjustStockDialog(self.context, self.tasks, self.locations, location_id=self._location_hint(),
                                   parent=self)
        row = self.current_row()
        if row is not None:
            dialog.add_variant({"variant_id": row.variant_id, "sku": row.sku, "barcode": row.barcode,
                                "title": row.title}, change=0)
        dialog.posted.connect(lambda _result: self.banner.show_message(self.tr("Adjustment posted."), "success"))
        return self._open(dialog)

    def open_count(self) -> StockCountDialog | None:
        if self.context.ops is None or not self.locations:
            return None
        dialog = StockCountDialog(self.context, self.tasks, self.locations, location_id=self._location_hint(),
                                  parent=self)
        dialog.posted.connect(lambda info: self.banner.show_message(
            plural(len(info.differences), self.tr("Count {number} posted: {n} difference corrected."),
                   self.tr("Count {number} posted: {n} differences corrected."), number=info.number), "success"))
        return self._open(dialog)

    def open_threshold(self) -> ThresholdDialog | None:
        row = self.current_row()
        if self.context.ops is None or row is None:
            return None
        return self._open(ThresholdDialog(self.context, self.tasks, row, parent=self))

    def open_mail_settings(self) -> Any:
        from backoffice.ui.dialogs.mail_settings import MailSettingsDialog

        if self.context.ops is None:
            return None
        return self._open(MailSettingsDialog(self.context, self.tasks, self, secrets=self.alerts.secrets))
