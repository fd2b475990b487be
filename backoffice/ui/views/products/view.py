"""Products: the merchandiser's grid over every variant of the catalog, however large.

One row per variant with its product's fields. Opening costs one keyset page; the count and ids follow in
the background (``loader``), and rows are fetched as they come into view (``model``). Edits are staged,
highlighted and listed in the Pending changes panel, with undo and redo, copy, paste and fill-down; Apply
writes them all as one changeset, and rows someone else changed meanwhile go to the conflict dialog.
The GUI thread never queries: every read and write goes through the operations contract in the background.

After a write anywhere in the application the grid reloads only for changes of what it shows; when the
write names the variants or products it changed and they are few, only the loaded rows among them are
fetched again (the grid is not reset, the ids are read again only if the filter or sort depends on what
changed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QT_TRANSLATE_NOOP, QPoint, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.catalog import VariantFilter
from backoffice.operations.changes import (
    ATTRIBUTES,
    CATEGORIES,
    IMAGES,
    PRICES,
    PRODUCTS,
    STOCK,
    THRESHOLDS,
    VARIANTS,
    Changes,
)
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_count
from backoffice.ui.operations import Runner
from backoffice.ui.settings import app_settings
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.products.clipboard import CellProblem, GridClipboard
from backoffice.ui.views.products.columns import CategoryIndex
from backoffice.ui.views.products.delegates import GridDelegate
from backoffice.ui.views.products.thumbs import GridThumbnails
from backoffice.ui.views.products.filters import ProductFilterBar
from backoffice.ui.views.products.loader import GridLoader
from backoffice.ui.views.products.models import PAGE_ROWS, ProductGridModel
from backoffice.ui.views.products.pending import ApplyController, PendingPanel
from backoffice.ui.views.products.merchandising import fill_merchandising_menu
from backoffice.ui.views.products.table import ColumnLayouts, GridTable
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState

MAX_PROBLEMS_SHOWN = 12
JUMP_PATIENCE_MS = 150   # Ctrl+End waits this long for the last rows before showing placeholders
# What the grid shows: a write of anything else does not concern it.
SHOWN = (PRODUCTS, PRICES, VARIANTS, CATEGORIES, ATTRIBUTES, IMAGES, STOCK, THRESHOLDS)
FACETS = (PRODUCTS, VARIANTS, CATEGORIES)     # vendors, tags and the category tree of the filter bar
ROWS_REFETCHED = 200    # a write naming at most this many variants and products refetches just their rows


class ProductsView(ViewPage):
    key = "products"
    TITLE = QT_TRANSLATE_NOOP("Views", "Products")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Every variant of the catalog in one grid: filter, edit, apply.")
    icon_name = "products"
    catalog_empty_changed = Signal(bool)  # the "catalog is empty" page is shown (True) or not

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 settings: QSettings | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.settings = settings if settings is not None else app_settings()
        self._needs_reload = self._needs_facets = True
        self._needs_revalidate = self._needs_ids = self._jump_pending = False
        self.dialog: QWidget | None = None           # the last dialog opened from here
        self.last_problems: list[CellProblem] = []

        self.model = ProductGridModel(self)
        self.runner = Runner(context, tasks, self)
        self.loader = GridLoader(self.model, context, tasks, self)
        self.table = GridTable()
        self.table.setModel(self.model)
        self.delegate = GridDelegate(self.model, self.table)
        self.table.setItemDelegate(self.delegate)
        self.thumbnails = GridThumbnails(self.delegate, self.table, context, tasks, self)
        self.layouts = ColumnLayouts(self.table, self.settings)
        self.layouts.restore_current()
        self.clipboard = GridClipboard(self.table, self.model, self.ensure_rows, self)
        self.filters = ProductFilterBar(self.settings)
        self.banner = MessageBanner()
        self.count_label = QLabel()
        self.count_label.setObjectName("CountLabel")
        self.pending_panel = PendingPanel(self.model.pending)
        self.applier = ApplyController(self.model, context, tasks, self)
        self.changesets_panel: QWidget | None = None
        self.side = QTabWidget()
        self.side.setObjectName("GridSide")
        self.side.addTab(self.pending_panel, self.tr("Pending changes"))
        self.side.addTab(QWidget(), self.tr("Changesets"))
        self.side.currentChanged.connect(self._on_side_tab)

        self.empty = EmptyState("products", "", "", action_text=self.tr("Clear filters"))
        self.empty.action.clicked.connect(self._on_empty_action)
        self.results = QStackedWidget()
        self.results.addWidget(self.table)
        self.results.addWidget(self.empty)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.results)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([960, 290])

        self._build_actions()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.tr("Products"), self.description(), self.count_label))
        layout.addWidget(self.toolbar)
        layout.addWidget(self.filters)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        self.filters.changed.connect(self.reload)
        header = self.table.horizontalHeader()
        header.sortIndicatorChanged.connect(lambda *_: self.reload())
        header.sectionMoved.connect(lambda *_: self.layouts.save_current())
        header.sectionResized.connect(lambda *_: self.layouts.save_current())
        header.customContextMenuRequested.connect(self._header_menu)
        self.table.customContextMenuRequested.connect(self._row_menu)
        self.table.copy_requested.connect(self.clipboard.copy)
        self.table.paste_requested.connect(self.clipboard.paste)
        self.table.fill_down_requested.connect(self.clipboard.fill_down)
        self.table.undo_requested.connect(self.model.undo_stack.undo)
        self.table.redo_requested.connect(self.model.undo_stack.redo)
        self.table.last_row_requested.connect(self.go_to_last_row)
        self.clipboard.problems.connect(self._show_problems)
        self.clipboard.staged.connect(lambda *_: self.banner.hide())
        self.delegate.rejected.connect(lambda text: self.banner.show_message(text, "warning"))
        self.loader.loading_changed.connect(self.loading_changed)
        self.loader.count_changed.connect(self._show_count)
        self.loader.first_page_shown.connect(self._update_empty_state)
        self.loader.first_page_shown.connect(self._facets_after_first_page)
        self.loader.tail_loaded.connect(self._jump_when_loaded)
        self.model.rows_arrived.connect(self._jump_when_loaded)
        self._jump_timer = QTimer(self)
        self._jump_timer.setSingleShot(True)
        self._jump_timer.setInterval(JUMP_PATIENCE_MS)
        self._jump_timer.timeout.connect(self._jump_when_loaded)
        self.loader.failed.connect(self._on_load_failed)
        self.model.pending.changed.connect(self._refresh_actions)
        self.pending_panel.apply_button.clicked.connect(lambda: self.apply_pending())
        self.applier.busy_changed.connect(self._on_apply_busy)
        self.applier.message.connect(self.banner.show_message)
        self.pending_panel.discard_button.clicked.connect(self.model.discard)
        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)
        self._show_count()
        self._refresh_actions()

    # -- actions -----------------------------------------------------------------------------------------
    def _action(self, text: str, slot: Callable[[], object], *, shortcut: QKeySequence | str | None = None,
                icon: str = "", tip: str = "") -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(resources.icon(icon, theme.TEXT))
        if shortcut is not None:
            action.setShortcut(shortcut)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(tip or text)
        action.triggered.connect(lambda _=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        stack = self.model.undo_stack
        self.undo_action = self._action(self.tr("Undo"), stack.undo, shortcut=QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(self.tr("Redo"), stack.redo, shortcut=QKeySequence.StandardKey.Redo)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        stack.canUndoChanged.connect(self.undo_action.setEnabled)
        stack.canRedoChanged.connect(self.redo_action.setEnabled)
        stack.undoTextChanged.connect(lambda t: self.undo_action.setToolTip(self.tr("Undo {what}").format(what=t)))
        stack.redoTextChanged.connect(lambda t: self.redo_action.setToolTip(self.tr("Redo {what}").format(what=t)))
        self.apply_action = self._action(self.tr("Apply"), lambda: self.apply_pending(), shortcut="Ctrl+S",
                                         tip=self.tr("Write every pending change as one changeset (Ctrl+S)"))
        self.discard_action = self._action(self.tr("Discard"), self.model.discard)
        self.import_action = self._action(self.tr("Import…"), self.open_import)
        self.export_action = self._action(self.tr("Export…"), self.open_export)
        self.refresh_action = self._action(self.tr("Refresh"), self.refresh, shortcut="F5", icon="refresh")
        self.copy_action = self._action(self.tr("Copy"), self.clipboard.copy)
        self.paste_action = self._action(self.tr("Paste"), self.clipboard.paste)
        self.fill_action = self._action(self.tr("Fill down"), self.clipboard.fill_down)
        self.bulk_selected_action = self._action(self.tr("Bulk edit selected rows…"), self.bulk_edit_selected)
        self.bulk_all_action = self._action(self.tr("Bulk edit all matching rows…"), self.bulk_edit_all)
        self.bulk_button = self._menu_button(self.tr("Bulk edit"), [self.bulk_selected_action, self.bulk_all_action])
        self.merchandising_menu = QMenu(self)
        fill_merchandising_menu(self, self.merchandising_menu)
        self.merchandising_button = self._menu_button(self.tr("Merchandising"), [], self.merchandising_menu)
        self.columns_menu = QMenu(self)
        self.columns_menu.aboutToShow.connect(lambda: self.layouts.fill_menu(self.columns_menu))
        self.columns_button = self._menu_button(self.tr("Columns"), [], self.columns_menu)
        self.toolbar = QToolBar()
        self.toolbar.setObjectName("GridToolbar")
        self.toolbar.setIconSize(QSize(16, 16))
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.addWidget(self.bulk_button)
        self.toolbar.addWidget(self.merchandising_button)
        for action in (self.import_action, self.export_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        for action in (self.undo_action, self.redo_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.columns_button)
        self.toolbar.addAction(self.refresh_action)
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding, spacer.sizePolicy().verticalPolicy())
        self.toolbar.addWidget(spacer)
        self.toolbar.addAction(self.discard_action)
        self.apply_toolbar_button = QPushButton(self.tr("Apply"))
        self.apply_toolbar_button.setProperty("primary", True)
        self.apply_toolbar_button.clicked.connect(lambda: self.apply_pending())
        self.toolbar.addWidget(self.apply_toolbar_button)

    def _menu_button(self, text: str, actions: list[QAction], menu: QMenu | None = None) -> QToolButton:
        button = QToolButton()
        button.setObjectName("ToolbarMenu")
        button.setText(text)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = menu or QMenu(button)
        for action in actions:
            menu.addAction(action)
        button.setMenu(menu)
        return button

    def _refresh_actions(self) -> None:
        n = len(self.model.pending)
        busy = self.applier.busy
        self.apply_action.setEnabled(n > 0 and not busy)
        self.discard_action.setEnabled(n > 0 and not busy)
        self.apply_toolbar_button.setEnabled(n > 0 and not busy)
        self.apply_toolbar_button.setText(self.tr("Apply {n} changes").format(n=n) if n > 1 else
                                          self.tr("Apply 1 change") if n == 1 else self.tr("Apply"))
        self.undo_action.setEnabled(self.model.undo_stack.canUndo())
        self.redo_action.setEnabled(self.model.undo_stack.canRedo())
        self.side.setTabText(0, self.tr("Pending changes ({n})").format(n=n) if n else self.tr("Pending changes"))

    # -- ViewPage ------------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_reload:
            self.reload()
        elif self._needs_revalidate:
            self._needs_revalidate = self._needs_ids = False
            self.loader.revalidate()
        elif self._needs_ids:
            self._needs_ids = False
            self.loader.reload_ids()
        if self._needs_facets and not self.loader.loading:
            self._load_facets()

    def _facets_after_first_page(self) -> None:
        # Filter choices load after the first rows are on screen: the first paint waits for nothing else.
        if self._needs_facets:
            self._load_facets()

    def is_loading(self) -> bool:
        return self.loader.loading or self.thumbnails.is_loading()

    # -- loading -------------------------------------------------------------------------------------------
    def sort(self) -> tuple[str, bool]:
        header = self.table.horizontalHeader()
        section = header.sortIndicatorSection()
        if not 0 <= section < len(self.model.columns):
            return "id", False
        return self.model.columns[section].key, header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder

    def reload(self) -> None:
        """Start over with the current filter and sort: first page, then count and ids."""
        self._needs_reload = self.context.ops is None
        self._needs_revalidate = self._needs_ids = self._jump_pending = False
        self.banner.hide()
        key, descending = self.sort()
        self.loader.load(self.filters.current_filter(), key, descending)
        self.results.setCurrentWidget(self.table)
        self._show_count()

    def refresh(self) -> None:
        self._needs_facets = True
        self.reload()

    def _load_facets(self) -> None:
        if self.runner.read(lambda ops: ops.catalog.facets(), self._show_facets, on_error=self._facets_failed):
            self._needs_facets = False

    def _show_facets(self, facets: dict) -> None:
        categories = CategoryIndex(facets.get("categories", []))
        self.model.categories = categories
        self.pending_panel.set_categories(categories)
        self.filters.set_facets(facets, categories)
        self.table.viewport().update()

    def _facets_failed(self, exc: BaseException) -> None:
        self.banner.show_message(self.tr("Filter choices could not be loaded: {e}").format(e=error_message(exc)),
                                 "warning")

    def ensure_rows(self, rows: list[int], then: Callable[[], None]) -> None:
        """Load the grid rows that are not cached yet (in the background), then call ``then``."""
        missing = [vid for r in rows if self.model.row_at(r) is None and (vid := self.model.id_at(r)) is not None]
        if not missing or not self.loader.connected:
            then()
            return

        def show_then_continue(loaded: dict) -> None:
            self.model.receive_rows(missing, loaded)
            then()

        self.runner.read(lambda ops: ops.catalog.rows_by_id(missing), show_then_continue,
                         on_error=lambda exc: self.banner.show_message(error_message(exc), "error"))

    def go_to_last_row(self) -> None:
        """Ctrl+End: the last row, by a reverse keyset page when the ids are not loaded yet. The view moves
        when the rows are in (or after a short wait), so it lands on rows rather than placeholders."""
        last = self.model.rowCount() - 1
        if self.model.total is not None and last >= 0 and self.model.row_at(last) is not None:
            self._jump_pending = False
            self._jump_timer.stop()
            column = max(self.table.currentIndex().column(), self.table.horizontalHeader().logicalIndex(0))
            self.table.setCurrentIndex(self.model.index(last, column))
            self.table.scrollToBottom()
            return
        if self.model.total is not None and last < 0:
            return
        self._jump_pending = True
        if self.model.ids_loaded:
            self.model.request_rows(max(0, last - PAGE_ROWS + 1), last)
        else:
            self.model.request_tail()     # with the count too, when it is not known yet
        if self.model.total is not None:
            self._jump_timer.start()

    def _on_load_failed(self, text: str) -> None:
        self._jump_pending = False
        self.banner.show_message(text, "error")

    def _jump_when_loaded(self) -> None:
        if self._jump_pending and self.model.total is not None:
            last = self.model.rowCount() - 1
            if self.model.row_at(last) is not None or not self._jump_timer.isActive():
                self._jump_pending = False
                self._jump_timer.stop()
                column = max(self.table.currentIndex().column(), self.table.horizontalHeader().logicalIndex(0))
                self.table.setCurrentIndex(self.model.index(last, column))
                self.table.scrollToBottom()

    def apply_pending(self, rows: set[tuple[str, int]] | None = None) -> None:
        """Write the staged edits (or those of ``rows``) as one changeset, in the background."""
        self.applier.apply(rows)

    def _on_apply_busy(self, busy: bool) -> None:
        self.pending_panel.set_busy(busy, self.tr("Applying…") if busy else "")
        self._refresh_actions()

    # -- dialogs of other features -------------------------------------------------------------------------
    def selected_variant_ids(self) -> list[int] | None:
        """Ids of the selected rows in grid order; None if some are not known yet (still loading)."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedIndexes()} or
                      ({self.table.currentIndex().row()} if self.table.currentIndex().isValid() else set()))
        ids = [self.model.id_at(r) for r in rows]
        return None if any(v is None for v in ids) else ids  # type: ignore[misc]

    def bulk_edit_selected(self) -> None:
        ids = self.selected_variant_ids()
        if ids is None:
            self.banner.show_message(self.tr("Some selected rows are still loading; try again in a moment."), "info")
            return
        if not ids:
            self.banner.show_message(self.tr("Select the rows to edit first."), "info")
            return
        from backoffice.operations.bulk import Target
        from backoffice.ui.views.products.bulk_dialog import BulkEditDialog, selection_label

        label = selection_label(len(ids))
        self._open(BulkEditDialog(self.context, self.tasks, Target(variant_ids=tuple(ids)), label, self))

    def bulk_edit_all(self) -> None:
        from backoffice.operations.bulk import Target
        from backoffice.ui.views.products.bulk_dialog import BulkEditDialog, filter_label

        label = filter_label(self.model.total)
        self._open(BulkEditDialog(self.context, self.tasks, Target(filter=self.loader.filter), label, self))

    def open_history(self, row: int) -> None:
        grid_row = self.model.row_at(row)
        if grid_row is None:
            return
        from backoffice.ui.views.products.history_dialog import HistoryDialog

        self._open(HistoryDialog(self.context, self.tasks, grid_row.product_id, grid_row.variant_id, self))

    def open_import(self) -> None:
        from backoffice.ui.views.products.import_wizard import ImportWizard

        self._open(ImportWizard(self.context, self.tasks, self))

    def open_export(self) -> None:
        from backoffice.ui.views.products.export_dialog import ExportDialog

        self._open(ExportDialog(self.context, self.tasks, self.loader.filter, self.model.total or 0, self))

    def _open(self, dialog: QWidget) -> None:
        self.dialog = dialog
        dialog.open()  # type: ignore[attr-defined]

    def _on_side_tab(self, index: int) -> None:
        if index == 1 and self.changesets_panel is None:
            from backoffice.ui.views.products.changesets_panel import ChangesetsPanel

            self.changesets_panel = ChangesetsPanel(self.context, self.tasks, self)
            self.side.blockSignals(True)
            self.side.removeTab(1)
            self.side.insertTab(1, self.changesets_panel, self.tr("Changesets"))
            self.side.setCurrentIndex(1)
            self.side.blockSignals(False)

    # -- menus ---------------------------------------------------------------------------------------------
    def _row_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        menu = QMenu(self)
        if index.isValid():
            menu.addAction(self.tr("History…")).triggered.connect(lambda: self.open_history(index.row()))
            menu.addSeparator()
        for action in (self.bulk_selected_action, self.copy_action, self.paste_action, self.fill_action):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.undo_action)
        menu.addAction(self.redo_action)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _header_menu(self, pos: QPoint) -> None:
        menu = QMenu(self)
        self.layouts.fill_menu(menu)
        menu.popup(self.table.horizontalHeader().mapToGlobal(pos))

    def _show_problems(self, title: str, problems: list[CellProblem]) -> None:
        self.last_problems = list(problems)
        lines = [p.text() for p in problems[:MAX_PROBLEMS_SHOWN]]
        if len(problems) > len(lines):
            lines.append(self.tr("…and {n} more").format(n=len(problems) - len(lines)))
        self.banner.show_message(f"{title}:\n• " + "\n• ".join(lines), "error")
        box = QMessageBox(QMessageBox.Icon.Warning, title, title, QMessageBox.StandardButton.Ok, self)
        box.setInformativeText("\n".join(lines))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = box
        box.open()

    # -- reacting ------------------------------------------------------------------------------------------
    def _on_context_changed(self) -> None:
        self._needs_reload = self._needs_facets = True
        self.model.pending.clear()
        self.model.undo_stack.clear()
        if self.context.ops is None:
            self.loader.load(self.filters.current_filter())
            self._show_count()

    def _on_data_changed(self, changes: Changes) -> None:
        if not changes.concerns(*SHOWN):
            return
        if changes.concerns(*FACETS):
            self._needs_facets = True
        shown = self.isVisible() and not self._needs_reload
        rows = self.changed_rows(changes)
        if rows is None:
            if shown:
                self.loader.revalidate()
            else:
                self._needs_revalidate = True
        else:
            self.model.refetch(*rows)   # the loaded rows among them; the rest are read when first drawn
            if self._order_may_change(changes):
                if shown:
                    self.loader.reload_ids()
                else:
                    self._needs_ids = True
        if shown and self._needs_facets:
            self._load_facets()

    @staticmethod
    def changed_rows(changes: Changes) -> tuple[frozenset[int], frozenset[int]] | None:
        """(variant ids, product ids) a write changed, when it names them and they are few enough to fetch
        their rows again; None when the grid must read everything again (rows added or removed, names
        of categories or options changed, or what changed is not known)."""
        if changes.everything or changes.concerns(VARIANTS, CATEGORIES, ATTRIBUTES):
            return None
        variants, products = changes.ids_of("variant"), changes.ids_of("product")
        if variants is None and products is None:
            return None
        variants, products = variants or frozenset(), products or frozenset()
        return (variants, products) if len(variants) + len(products) <= ROWS_REFETCHED else None

    def _order_may_change(self, changes: Changes) -> bool:
        """True when the filter or the sort depends on what changed: rows may have entered or left the
        filter, or moved, so the ids are read again."""
        f, key = self.loader.filter, self.loader.sort_key
        on_stock = f.stock_min is not None or f.stock_max is not None or f.low_stock
        if changes.concerns(STOCK, THRESHOLDS) and (key == "stock" or on_stock):
            return True
        on_fields = replace(f, stock_min=None, stock_max=None, low_stock=False) != VariantFilter()
        return changes.concerns(PRODUCTS, PRICES) and (key not in ("id", "stock") or on_fields)

    def _on_empty_action(self) -> None:
        if self.filters.is_filtered():
            self.filters.clear()
        else:
            self.open_import()

    def _show_count(self) -> None:
        total = self.model.total
        if self.context.ops is None:
            self.count_label.setText("")
        elif total is None:
            self.count_label.setText(self.tr("Loading…"))
        else:
            self.count_label.setText(self.tr("1 variant") if total == 1 else
                                     self.tr("{n} variants").format(n=format_count(total)))
        self._update_empty_state()

    def _update_empty_state(self) -> None:
        self.catalog_empty_changed.emit(self.model.total == 0 and not self.filters.is_filtered())
        if self.model.total != 0:
            self.results.setCurrentWidget(self.table)
            return
        if self.filters.is_filtered():
            self.empty.set_text(self.tr("No variants match these filters"),
                                self.tr("Try another search or fewer filters, or clear them."))
            self.empty.action.setText(self.tr("Clear filters"))
        else:
            self.empty.set_text(self.tr("The catalog is empty"),
                                self.tr("Add products with New product… or Import…, or try a demo store: run "
                                        "“backoffice demo --products 1000” and reopen."))
            self.empty.action.setText(self.tr("Import…"))
        self.empty.action.show()
        self.results.setCurrentWidget(self.empty)
