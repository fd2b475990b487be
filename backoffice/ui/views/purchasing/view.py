"""Purchasing: replenishment suggestions that explain themselves, purchase orders from draft to received,
and suppliers with their items. One tab each; every query and write runs in the background executor,
and after any write the view reloads what it shows (``context.data_changed``)."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QSize
from PySide6.QtWidgets import QPushButton, QTabWidget, QVBoxLayout, QWidget

from backoffice.services import inventory, suppliers
from backoffice.services.replenishment import DraftsResult
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.inventory.common import error_text
from backoffice.ui.views.purchasing.orders_panel import OrdersPanel
from backoffice.ui.views.purchasing.suggestions_panel import SuggestionsPanel
from backoffice.ui.views.purchasing.suppliers_panel import SuppliersPanel
from backoffice.ui.widgets.banner import MessageBanner


class PurchasingView(ViewPage):
    key = "purchasing"
    TITLE = QT_TRANSLATE_NOOP("Views", "Purchasing")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Suppliers, reorder suggestions and purchase orders.")
    icon_name = "purchasing"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self._inflight = 0
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
        return (self._inflight > 0 or self.suggestions.is_loading() or self.orders.is_loading()
                or self.suppliers.is_loading())

    def refresh(self) -> None:
        self._load_choices()
        for panel in (self.suggestions, self.orders, self.suppliers):
            panel.needs_reload = True
        self._load_current()

    # -- loading ---------------------------------------------------------------------------------------
    def _load_choices(self) -> None:
        db = self.context.db
        if db is None:
            return
        self._needs_choices = False
        self._inflight += 1

        def done(result: tuple[list[dict], list]) -> None:  # type: ignore[type-arg]
            self._inflight -= 1
            self.locations, supplier_rows = result
            self.suggestions.set_locations(self.locations)
            self.orders.set_choices(supplier_rows, self.locations)
            self.loading_changed.emit(self.is_loading())

        def failed(exc: BaseException) -> None:
            self._inflight -= 1
            self._needs_choices = True
            self.banner.show_message(error_text(exc), "error")

        self.tasks.run_in_background(lambda: (inventory.list_locations(db), suppliers.list_suppliers(db)), done, failed,
                                     context=self)

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

    def _on_data_changed(self) -> None:
        for panel in (self.suggestions, self.orders, self.suppliers):
            panel.needs_reload = True
        if self.isVisible():
            self._load_current()
