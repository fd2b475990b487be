"""Bundles: the fixed bundles (price, component cost, margin, what each selling location can sell) with the
selected bundle's components below, and a tab of mix-and-match rules.

Reads and writes go through the operations contract off the GUI thread (``Runner``); answers to an older
load are dropped. The view reloads when products, prices, stock or orders changed (a bundle's price,
margin and availability follow its components).
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QT_TRANSLATE_NOOP, QModelIndex, QSize, Qt, QTimer
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Changes
from backoffice.operations.bundles import BundleRow, RuleRow
from backoffice.operations.changes import ORDERS, PRICES, PRODUCTS, STOCK
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_money, format_qty, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.bundles.dialogs import BundleDialog, RuleDialog
from backoffice.ui.views.bundles.models import BundleListModel, components_model, rules_model, tr
from backoffice.ui.widgets.banner import TRANSIENT_MS, MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.records import setup_table

SEARCH_DEBOUNCE_MS = 300


class BundlesView(ViewPage):
    key = "bundles"
    TITLE = QT_TRANSLATE_NOOP("Views", "Bundles")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Kits sold as one SKU from their components' stock, and mix-and-match deals.")
    icon_name = "products"
    REQUIRES = "bundles.list"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.loading_changed)
        self.runner.failed.connect(lambda text: self.banner.show_message(text, "error"))
        self.runner.succeeded.connect(lambda text: self.banner.show_message(text, "success", TRANSIENT_MS))
        self._generation = 0
        self._needs_reload = True
        self._select_sku: str | None = None

        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.reload)
        self.banner = MessageBanner()

        # -- the bundles tab ---------------------------------------------------------------------------
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("Search SKU or title…"))
        self.search.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.reload)
        self.search.textChanged.connect(self._debounce.start)
        self.new_button = QPushButton(tr("New bundle…"))
        self.new_button.setIcon(resources.icon("plus", theme.TEXT))
        self.new_button.clicked.connect(self.new_bundle)
        self.edit_button = QPushButton(tr("Edit…"))
        self.edit_button.clicked.connect(self.edit_bundle)
        self.delete_button = QPushButton(tr("Delete"))
        self.delete_button.clicked.connect(self.delete_bundle)
        self.count_label = QLabel()
        self.count_label.setObjectName("Muted")
        self.model = BundleListModel(self)
        self.table = QTableView()
        setup_table(self.table, self.model)
        self.table.doubleClicked.connect(lambda _i: self.edit_bundle())
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.empty = EmptyState("products", "", "")
        self.empty.action.setText(tr("New bundle…"))
        self.empty.action.clicked.connect(self.new_bundle)
        self.results = QStackedWidget()
        self.results.addWidget(self.table)
        self.results.addWidget(self.empty)
        self.detail_title = QLabel()
        self.detail_title.setObjectName("DetailsTitle")
        self.detail_text = QLabel()
        self.detail_text.setObjectName("DetailsMeta")
        self.detail_text.setWordWrap(True)
        self.components = components_model(self)
        self.components_table = QTableView()
        setup_table(self.components_table, self.components, stretch=self.components.columns[2].header)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.new_button)
        top.addWidget(self.edit_button)
        top.addWidget(self.delete_button)
        list_panel = QWidget()
        list_layout = QVBoxLayout(list_panel)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addLayout(top)
        list_layout.addWidget(self.results, 1)
        list_layout.addWidget(self.count_label)
        detail_panel = QWidget()
        detail_layout = QVBoxLayout(detail_panel)
        detail_layout.setContentsMargins(0, 6, 0, 0)
        detail_layout.addWidget(self.detail_title)
        detail_layout.addWidget(self.detail_text)
        detail_layout.addWidget(self.components_table, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(list_panel)
        splitter.addWidget(detail_panel)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([380, 240])

        # -- the rules tab -------------------------------------------------------------------------------
        self.rules = rules_model(self)
        self.rules_table = QTableView()
        setup_table(self.rules_table, self.rules, stretch=self.rules.columns[2].header)
        self.rules_table.doubleClicked.connect(lambda _i: self.edit_rule())
        self.rules_empty = EmptyState("products", tr("No mix-and-match rules yet"),
                                      tr("A rule prices any N items of a set of products or categories: "
                                         "“any 3 socks for 12.00”, “any 2 shirts at 15 % off”."))
        self.rules_empty.action.setText(tr("New rule…"))
        self.rules_empty.action.clicked.connect(self.new_rule)
        self.rules_stack = QStackedWidget()
        self.rules_stack.addWidget(self.rules_table)
        self.rules_stack.addWidget(self.rules_empty)
        new_rule = QPushButton(tr("New rule…"))
        new_rule.setIcon(resources.icon("plus", theme.TEXT))
        new_rule.clicked.connect(self.new_rule)
        edit_rule = QPushButton(tr("Edit…"))
        edit_rule.clicked.connect(self.edit_rule)
        delete_rule = QPushButton(tr("Delete"))
        delete_rule.clicked.connect(self.delete_rule)
        rule_buttons = QHBoxLayout()
        rule_buttons.addStretch(1)
        for b in (new_rule, edit_rule, delete_rule):
            rule_buttons.addWidget(b)
        rules_panel = QWidget()
        rules_layout = QVBoxLayout(rules_panel)
        rules_layout.setContentsMargins(0, 8, 0, 0)
        rules_layout.addLayout(rule_buttons)
        rules_layout.addWidget(self.rules_stack, 1)

        self.tabs = QTabWidget()
        self.tabs.addTab(splitter, tr("Fixed bundles"))
        self.tabs.addTab(rules_panel, tr("Mix and match"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.title(), self.description(), self.refresh_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        self._update_buttons()

        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)

    # -- ViewPage ----------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_reload:
            self.reload()

    def is_loading(self) -> bool:
        return self.runner.busy

    # -- loading -------------------------------------------------------------------------------------------
    def reload(self) -> None:
        self._debounce.stop()
        self._generation += 1
        if self.context.ops is None:
            self._needs_reload = True
            self.model.clear()
            return
        self._needs_reload = False
        gen, text = self._generation, self.search.text().strip()
        current = self.current_bundle()
        if self._select_sku is None and current is not None:
            self._select_sku = current.sku
        self.runner.read(lambda ops: (ops.bundles.list(text=text), ops.bundles.rules()),
                         partial(self._on_loaded, gen), on_error=partial(self._on_error, gen))

    def _on_loaded(self, gen: int, loaded: tuple[list[BundleRow], list[RuleRow]]) -> None:
        if gen != self._generation:
            return
        rows, rules = loaded
        if self.model.set_bundles(rows):     # the selling locations changed: size their columns
            metrics = QFontMetrics(self.table.horizontalHeader().font())
            for i, column in enumerate(self.model.columns):
                heading = str(self.model.headerData(i, Qt.Orientation.Horizontal) or "")
                if column.kind != "sku" and column.width:
                    self.table.setColumnWidth(i, max(column.width, int(metrics.horizontalAdvance(heading) * 1.1) + 24))
        self.rules.set_rows(rules)
        self.rules_stack.setCurrentWidget(self.rules_table if rules else self.rules_empty)
        self.count_label.setText(plural(len(rows), tr("{n} bundle"), tr("{n} bundles")))
        if rows:
            self.results.setCurrentWidget(self.table)
        else:
            searching = bool(self.search.text().strip())
            self.empty.set_text(tr("No bundle matches") if searching else tr("No bundles yet"),
                                tr("No SKU or title contains “{text}”.").format(text=self.search.text().strip())
                                if searching else
                                tr("A bundle is a SKU made of other SKUs: it sells from its components' stock, "
                                   "at a fixed price or at its components' prices less a discount."))
            self.results.setCurrentWidget(self.empty)
        select, self._select_sku = self._select_sku, None
        row = next((i for i, r in enumerate(rows) if r.sku == select), 0 if rows else -1)
        if row >= 0:
            self.table.setCurrentIndex(self.model.index(row, 0))
        self._show_detail(rows[row] if row >= 0 else None)

    def _on_error(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.banner.show_message(tr("The bundles could not be loaded: {error}").format(error=error_text(exc)), "error")

    # -- the selected bundle ---------------------------------------------------------------------------
    def current_bundle(self) -> BundleRow | None:
        index = self.table.currentIndex()
        return self.model.row_at(index.row()) if index.isValid() else None

    def current_rule(self) -> RuleRow | None:
        index = self.rules_table.currentIndex()
        return self.rules.row_at(index.row()) if index.isValid() else None

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_detail(self.model.row_at(current.row()) if current.isValid() else None)

    def _show_detail(self, row: BundleRow | None) -> None:
        self._update_buttons()
        if row is None:
            self.detail_title.setText("")
            self.detail_text.setText("")
            self.components.clear()
            return
        self.detail_title.setText(tr("{sku} · {title}").format(sku=row.sku, title=row.title))
        where = ", ".join(f"{code} {format_qty(n)}" for code, n in row.available.items()) or tr("no selling location")
        self.detail_text.setText(tr("Components' prices {prices} · cost {cost} · can be sold: {where}").format(
            prices=format_money(row.component_price), cost=format_money(row.component_cost), where=where))
        self.components.set_rows(row.components)

    def _update_buttons(self) -> None:
        has = self.current_bundle() is not None
        self.edit_button.setEnabled(has)
        self.delete_button.setEnabled(has)

    # -- actions --------------------------------------------------------------------------------------------
    def new_bundle(self) -> None:
        self._open_bundle(None)

    def edit_bundle(self) -> None:
        row = self.current_bundle()
        if row is not None:
            self._open_bundle(row)

    def _open_bundle(self, row: BundleRow | None) -> BundleDialog:
        dialog = BundleDialog(self.context, self.tasks, row, self)
        dialog.saved.connect(self._bundle_saved)
        dialog.open()
        return dialog

    def _bundle_saved(self, row: BundleRow) -> None:
        self._select_sku = row.sku
        self.banner.show_message(tr("Bundle {sku} saved: price {price}").format(sku=row.sku, price=format_money(row.price)),
                                 "success", TRANSIENT_MS)

    def delete_bundle(self) -> None:
        row = self.current_bundle()
        if row is None:
            return
        answer = QMessageBox.question(self, tr("Delete bundle"), tr(
            "{sku} stops being a bundle: its product stays, without components. Past orders keep their "
            "component lines.").format(sku=row.sku))
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.runner.write(lambda ops: ops.bundles.delete(row.id, expected_version=row.version),
                          success=tr("{sku} is no longer a bundle").format(sku=row.sku))

    def new_rule(self) -> None:
        self._open_rule(None)

    def edit_rule(self) -> None:
        rule = self.current_rule()
        if rule is not None:
            self._open_rule(rule)

    def _open_rule(self, rule: RuleRow | None) -> RuleDialog:
        dialog = RuleDialog(self.context, self.tasks, rule, self)
        dialog.saved.connect(lambda r: self.banner.show_message(tr("Rule {name} saved").format(name=r.name),
                                                                "success", TRANSIENT_MS))
        dialog.open()
        return dialog

    def delete_rule(self) -> None:
        rule = self.current_rule()
        if rule is None:
            return
        if QMessageBox.question(self, tr("Delete rule"), tr("Delete the rule {name}?").format(name=rule.name)) \
                != QMessageBox.StandardButton.Yes:
            return
        self.runner.write(lambda ops: ops.bundles.delete_rule(rule.id),
                          success=tr("Rule {name} deleted").format(name=rule.name))

    # -- reacting --------------------------------------------------------------------------------------------
    def _on_context_changed(self) -> None:
        self._needs_reload = True
        if self.context.ops is None:
            self._generation += 1
            self.model.clear()
            self.rules.clear()

    def _on_data_changed(self, changes: Changes) -> None:
        if changes.concerns(PRODUCTS, PRICES, STOCK, ORDERS):
            self._needs_reload = True
            if self.isVisible():
                self.reload()
