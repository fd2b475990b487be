"""Purchasing: replenishment suggestions that explain themselves, purchase orders from draft to received,
and suppliers with their items. One tab each; every query and write runs through the operations contract
in the background. After a write each tab reloads only when the change concerns it
(``context.data_changed``): the suggestions on stock, thresholds, transfers, orders, suppliers, settings
and the catalog; the orders on orders, suppliers and locations; the suppliers on suppliers."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QSize
from PySide6.QtWidgets import QPushButton, QTabWidget, QVBoxLayout, QWidget

from backoffice.operations import Changes
from backoffice.operations.changes import (
    LOCATIONS,
    PRODUCTS,
    PURCHASE_ORDERS,
    SETTINGS,
    STOCK,
    SUPPLIERS,
    THRESHOLDS,
    TRANSFERS,
    VARIANTS,
)
from backoffice.operations.replenishment import DraftsResult
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.purchasing.orders_panel import OrdersPanel
from backoffice.ui.views.purchasing.suggestions_panel import SuggestionsPanel
from backoffice.ui.views.purchasing.suppliers_panel import SuppliersPanel
from backoffice.ui.widgets.banner import MessageBanner


# What each tab shows, by the kinds of change that make it reload.
SUGGESTION_KINDS = (STOCK, THRESHOLDS, TRANSFERS, PURCHASE_ORDERS, SUPPLIERS, SETTINGS, LOCATIONS, PRODUCTS, VARIANTS)
ORDER_KINDS = (PURCHASE_ORDERS, SUPPLIERS, LOCATIONS)
SUPPLIER_KINDS = (SUPPLIERS,)


class PurchasingView(ViewPage):
    key = "purchasing"
    TITLE = QT_TRANSLATE_NOOP("Views", "Purchasing")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Suppliers, reorder suggestions and purchase orders.")
    icon_name = "purchasing"
    REQUIRES = "purchase_orders.list"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(lambda _b: self.loading_changed.emit(self.is_loading()))
        self._needs_choices = True
        self.locations: list[dict] = []
        self.banner = MessageBanner()
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.refresh)

        self.suggestions = SuggestionsPanel(context, tasks)
        self.orders = OrdersPanel(context, tasks)
        self.suppliers = SuppliersPanel(context, tasks)
        for panel in (self.suggestions, self.orders, self.suppliers):
            panel.message.connect(self.banner.show_message)
            panel.loading_changed.connect(lambda _b: self.loading_changed.emit(self.is_loading()))
        self.suggestions.drafts_created.connect(self._on_drafts)
        self.suppliers.suppliers_loaded.connect(lambda rows: self.orders.set_choices(rows, self.locations))
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.suggestions, self.tr("Suggestions"))
        self.tabs.addTab(self.orders, self.tr("Purchase orders"))
        self.tabs.addTab(self.suppliers, self.tr("Suppliers"))
        self.tabs.currentChanged.connect(lambda _i: self._load_current())

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.title(), self.description(), self.refresh_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)

    # -- ViewPage ------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_choices:
            self._load_choices()
        self._load_current()

    def is_loading(self) -> bool:
        return (self.runner.busy or self.suggestions.is_loading() or self.orders.is_loading()
                or self.suppliers.is_loading())

    def refresh(self) -> None:
        self._load_choices()
        for panel in (self.suggestions, self.orders, self.suppliers):
            panel.needs_reload = True
        self._load_current()

    # -- loading ---------------------------------------------------------------------------------------
    def _load_choices(self) -> None:
        if self.context.ops is None:
            return
        self._needs_choices = False
        self.runner.read(lambda ops: (ops.stock.locations(), ops.suppliers.list()), self._show_choices,
                         on_error=self._choices_failed)

    def _show_choices(self, result: tuple[list[dict], list]) -> None:  # type: ignore[type-arg]
        self.locations, supplier_rows = result
        self.suggestions.set_locations(self.locations)
        self.orders.set_choices(supplier_rows, self.locations)

    def _choices_failed(self, exc: BaseException) -> None:
        self._needs_choices = True
        self.banner.show_message(error_text(exc), "error")

    def _load_current(self) -> None:
        panel = self.tabs.currentWidget()
        if getattr(panel, "needs_reload", False):
            panel.reload()

    def _on_drafts(self, result: DraftsResult) -> None:
        if result.orders:
            self.orders.show_order(result.orders[0]["id"])

    def _on_context_changed(self) -> None:
        self._needs_choices = True
        for panel in (self.suggestions, self.orders, self.suppliers):
            panel.needs_reload = True

    def _on_data_changed(self, changes: Changes) -> None:
        if changes.concerns(LOCATIONS, SUPPLIERS):
            self._needs_choices = True
        concerned = [panel for panel, kinds in ((self.suggestions, SUGGESTION_KINDS), (self.orders, ORDER_KINDS),
                                                (self.suppliers, SUPPLIER_KINDS)) if changes.concerns(*kinds)]
        for panel in concerned:
            panel.needs_reload = True
        if self.isVisible():
            if self._needs_choices:
                self._load_choices()
            if concerned:
                self._load_current()
