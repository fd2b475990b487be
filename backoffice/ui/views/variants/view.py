"""Variants: attributes and their values, templates, the combination generator, surcharge pricing,
bulk variant operations and the price/stock matrix of a product.

Products to work on are picked on the left (a search, not the whole catalog). The tabs show the matrix
of the current product, the attributes and their ordered values, the templates and the pricing rules.
Every read and write goes through the operations contract off the GUI thread (``ui/operations.Runner``);
a write announces what it changed and the view reloads when that concerns what it shows.
"""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.changes import ATTRIBUTES, PRICES, PRODUCTS, STOCK, VARIANTS, Changes
from backoffice.operations.variants import Overview, ProductRow
from backoffice.ui.context import AppContext
from backoffice.ui.format import plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.variants.attributes_panel import AttributesPanel, TemplatesPanel
from backoffice.ui.views.variants.bulk_dialog import VariantBulkDialog
from backoffice.ui.views.variants.generator_dialog import GeneratorDialog
from backoffice.ui.views.variants.matrix_panel import MatrixPanel
from backoffice.ui.views.variants.models import products_model
from backoffice.ui.views.variants.pricing_panel import PricingPanel
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import make_table, tool_button

SEARCH_DEBOUNCE_MS = 250
PRODUCT_LIMIT = 200
SHOWN = (VARIANTS, PRICES, ATTRIBUTES, STOCK, PRODUCTS)   # what the products, matrix and panels show


class VariantsView(ViewPage):
    key = "variants"
    TITLE = QT_TRANSLATE_NOOP("Views", "Variants")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Attributes, combinations and variant pricing.")
    icon_name = "variants"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.runner = Runner(context, tasks, self)
        self.overview: Overview | None = None
        self.dialog: QWidget | None = None           # the last dialog opened from here
        self._needs_reload = True
        self._search_generation = 0

        self.count_label = QLabel()
        self.count_label.setObjectName("CountLabel")
        self.generate_button = tool_button(self.tr("Generate variants…"), "variants",
                                           self.tr("Create every combination of chosen values for the selected products"))
        self.generate_button.setProperty("primary", True)
        self.bulk_button = tool_button(self.tr("Bulk edit variants…"), "products",
                                       self.tr("Set price, cost, weight, status or threshold on many variants"))
        self.refresh_button = tool_button(self.tr("Refresh"), "refresh", self.tr("Reload (F5)"))
        self.refresh_button.setShortcut("F5")
        self.generate_button.clicked.connect(lambda: self.open_generator())
        self.bulk_button.clicked.connect(self.open_bulk)
        self.refresh_button.clicked.connect(self.reload)
        self.banner = MessageBanner()

        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search products by title or handle"))
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self.load_products)
        self.search.textChanged.connect(lambda _: self._search_timer.start())
        self.products_model = products_model(self)
        self.products_table = make_table(self.products_model, {1: 80}, stretch=(0,))
        self.products_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.products_table.selectionModel().selectionChanged.connect(lambda *_: self._on_selection())
        self.products_note = QLabel()
        self.products_note.setObjectName("Muted")
        self.products_note.setWordWrap(True)
        left = QWidget()
        left.setMinimumWidth(280)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.search)
        lv.addWidget(self.products_table, 1)
        lv.addWidget(self.products_note)

        self.matrix = MatrixPanel(self.runner)
        self.attributes = AttributesPanel(self.runner)
        self.templates = TemplatesPanel(self.runner)
        self.pricing = PricingPanel(self.runner)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.matrix, self.tr("Matrix"))
        self.tabs.addTab(self.attributes, self.tr("Attributes && values"))
        self.tabs.addTab(self.templates, self.tr("Templates"))
        self.tabs.addTab(self.pricing, self.tr("Pricing"))
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([330, 710])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.tr("Variants"), self.description(), self.count_label, self.refresh_button,
                                     self.bulk_button, self.generate_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        for panel in (self.matrix, self.pricing):
            panel.message.connect(self.banner.show_message)
        self.matrix.generate_requested.connect(lambda: self.open_generator())
        self.templates.use_requested.connect(lambda tid: self.open_generator(tid))
        self.runner.failed.connect(lambda text: self.banner.show_message(text, "error"))
        self.runner.busy_changed.connect(self.loading_changed)
        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)
        self._update_buttons()

    # -- ViewPage ------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_reload:
            self.reload()

    def is_loading(self) -> bool:
        return self.runner.inflight > 0

    def reload(self) -> None:
        if self.context.ops is None:
            self._needs_reload = True
            return
        self._needs_reload = False
        self.runner.read(lambda ops: ops.variants.overview(), self._show_overview)
        self.load_products()

    def load_products(self) -> None:
        self._search_generation += 1
        gen, text = self._search_generation, self.search.text()
        self.runner.read(lambda ops: ops.variants.find_products(text, limit=PRODUCT_LIMIT),
                         lambda rows: self._show_products(gen, rows))

    # -- results -------------------------------------------------------------------------------------
    def _show_overview(self, overview: Overview) -> None:
        self.overview = overview
        self.attributes.set_attributes(overview.attributes)
        self.templates.set_templates(overview.templates)
        self.pricing.set_attributes(overview.attributes)
        self.pricing.set_rules(overview.rules)
        self.count_label.setText(plural(len(overview.attributes), self.tr("{n} attribute"), self.tr("{n} attributes"))
                                 + " · " + plural(len(overview.templates), self.tr("{n} template"),
                                                  self.tr("{n} templates")))
        self._update_buttons()

    def _show_products(self, gen: int, rows: list[ProductRow]) -> None:
        if gen != self._search_generation:
            return
        selected = {p.id for p in self.selected_products()}
        self.products_model.set_rows(rows)
        if len(rows) >= PRODUCT_LIMIT:
            self.products_note.setText(self.tr("Showing the first {n}; search to narrow down.").format(n=PRODUCT_LIMIT))
        elif not rows:
            self.products_note.setText(self.tr("No product matches.") if self.search.text().strip()
                                       else self.tr("No products yet: create them in Products or import a file."))
        else:
            self.products_note.setText(plural(len(rows), self.tr("{n} product"), self.tr("{n} products")))
        keep = [i for i, p in enumerate(rows) if p.id in selected]
        if not keep and rows:   # start on the first product that has variants, so the matrix is never idle
            keep = [next((i for i, p in enumerate(rows) if p.variants), 0)]
        selection = self.products_table.selectionModel()
        flags = QItemSelectionModel.SelectionFlag
        selection.blockSignals(True)
        selection.clearSelection()
        for i in keep:
            selection.select(self.products_model.index(i, 0), flags.Select | flags.Rows)
        if keep:
            selection.setCurrentIndex(self.products_model.index(keep[0], 0), flags.NoUpdate)
        selection.blockSignals(False)
        if keep:
            self.products_table.scrollTo(self.products_model.index(keep[0], 0))
        self._on_selection()

    def selected_products(self) -> list[ProductRow]:
        rows = sorted({i.row() for i in self.products_table.selectionModel().selectedRows()})
        return [p for p in (self.products_model.row_at(r) for r in rows) if p is not None]

    def _on_selection(self) -> None:
        products = self.selected_products()
        current = products[0] if len(products) == 1 else None
        if current is None and products:
            index = self.products_table.currentIndex()
            current = self.products_model.row_at(index.row()) if index.isValid() else products[0]
        self.matrix.show_product(current, catalog_empty=not self.products_model.rowCount() and not self.search.text())
        self.pricing.set_products(products)
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = self.context.ops is not None and self.overview is not None
        self.generate_button.setEnabled(ready and bool(self.selected_products()))
        self.bulk_button.setEnabled(ready)

    # -- dialogs -------------------------------------------------------------------------------------
    def open_generator(self, template_id: int | None = None) -> GeneratorDialog | None:
        products = self.selected_products()
        if self.overview is None or not products:
            self.banner.show_message(self.tr("Select one or more products on the left first."), "info")
            return None
        dialog = GeneratorDialog(self.context, self.tasks, products, self.overview.attributes, self.overview.templates,
                                 template_id=template_id, parent=self)
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_bulk(self) -> VariantBulkDialog | None:
        if self.overview is None:
            return None
        dialog = VariantBulkDialog(self.context, self.tasks, self.selected_products(),
                                   [a for a in self.overview.attributes if not a.archived],
                                   self.matrix.selected_variant_ids() if self.tabs.currentWidget() is self.matrix else [],
                                   parent=self)
        self.dialog = dialog
        dialog.open()
        return dialog

    # -- reacting ------------------------------------------------------------------------------------
    def _on_context_changed(self) -> None:
        self._needs_reload = True
        if self.context.ops is None:
            self.overview = None
            self.products_model.set_rows([])
            self.matrix.show_product(None)
            self._update_buttons()

    def _on_data_changed(self, changes: Changes) -> None:
        if not changes.concerns(*SHOWN):
            return
        self._needs_reload = True
        if self.isVisible():
            self.reload()
