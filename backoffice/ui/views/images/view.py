"""Images: each product's gallery. Pick a product on the left (search by title, handle or SKU); its
images show as thumbnails in gallery order (the first is the main image), dragged to reorder. The panel on
the right edits the selected image's alt text (flagged when missing) and shows its sizes and variants.
Bulk upload, the editor (crop, rotate, flip, versions) and variant assignment open from the toolbar.

Every read and write goes through the operations contract off the GUI thread (``ui/operations.Runner``);
thumbnails are read from the image store the same way. Each (re)load carries a generation number and
answers to an older one are dropped; the gallery reloads when a write changed images, products or
variants.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from PySide6.QtCore import QT_TRANSLATE_NOOP, QItemSelectionModel, QSize, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations.changes import IMAGES, PRODUCTS, VARIANTS, Changes
from backoffice.operations.images import GalleryImage, ProductHit, VariantChoice
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.thumbnails import ThumbnailLoader
from backoffice.ui.views.base import ViewPage, page_header
from backoffice.ui.views.images.delegates import ProductDelegate
from backoffice.ui.views.images.details import ImageDetails
from backoffice.ui.views.images.gallery import GalleryView
from backoffice.ui.views.images.models import GalleryModel, ProductListModel
from backoffice.ui.views.images.variants_panel import VariantsPanel
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import EmptyState

SEARCH_DELAY_MS = 250
PRODUCT_LIMIT = 200
SHOWN = (IMAGES, PRODUCTS, VARIANTS)   # galleries, the products they belong to, the variants they show
T = TypeVar("T")


class ImagesView(ViewPage):
    key = "images"
    TITLE = QT_TRANSLATE_NOOP("Views", "Images")
    DESCRIPTION = QT_TRANSLATE_NOOP("Views", "Product galleries: upload, order, alt text, crop and versions.")
    icon_name = "images"

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self._generation = 0          # of the product list
        self._product_hits: int | None = None    # products listed (at most PRODUCT_LIMIT)
        self._product_total: int | None = None   # products found, counted by the service
        self._gallery_generation = 0
        self._select_next: int | None = None   # the image to select when the gallery reloads after a write
        self._needs_reload = True
        self.product: ProductHit | None = None
        self.variants: list[VariantChoice] = []
        self.dialog: QWidget | None = None
        self.runner = Runner(context, tasks, self)
        self.runner.failed.connect(lambda text: self.banner.show_message(text, "error"))
        self.runner.busy_changed.connect(lambda _busy: self._emit_loading())
        self.thumbnails = ThumbnailLoader(tasks, self)
        self.thumbnails.follow(context)

        self.upload_button = QPushButton(self.tr("Upload images…"))
        self.upload_button.setProperty("primary", True)
        self.upload_button.setIcon(resources.icon("plus", "#ffffff"))
        self.upload_button.clicked.connect(lambda: self.open_upload())
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.setShortcut("F5")
        self.refresh_button.clicked.connect(self.reload)
        self.banner = MessageBanner()

        # products
        self.search = QLineEdit()
        self.search.setPlaceholderText(self.tr("Search title, handle or SKU"))
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.scope = QComboBox()
        self.scope.addItem(self.tr("All products"), "all")
        self.scope.setToolTip(self.tr("Products with images are listed first"))
        self.scope.addItem(self.tr("Products with images"), "images")
        self.scope.addItem(self.tr("Images missing alt text"), "missing_alt")
        self.scope.currentIndexChanged.connect(lambda _i: self.reload())
        self.products = ProductListModel(self)
        self.product_list = QListView()
        self.product_list.setObjectName("ProductPicker")
        self.product_list.setModel(self.products)
        self.product_list.setItemDelegate(ProductDelegate(self.product_list))
        self.product_list.setUniformItemSizes(True)
        self.product_list.setMouseTracking(True)
        self.product_list.selectionModel().currentChanged.connect(lambda cur, _prev: self._on_product(cur.row()))
        self.products_count = QLabel()
        self.products_count.setObjectName("Muted")
        left = QWidget()
        left.setMinimumWidth(220)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(8)
        for w in (self.search, self.scope):
            left_layout.addWidget(w)
        left_layout.addWidget(self.product_list, 1)
        left_layout.addWidget(self.products_count)

        # gallery
        self.gallery_title = QLabel()
        self.gallery_title.setObjectName("DetailsTitle")
        self.gallery_subtitle = QLabel()
        self.gallery_subtitle.setObjectName("Muted")
        self.main_button = QPushButton(self.tr("Set as main"))
        self.main_button.clicked.connect(self.set_main)
        self.edit_button = QPushButton(self.tr("Edit…"))
        self.edit_button.clicked.connect(self.open_editor)
        self.assign_button = QPushButton(self.tr("Variants…"))
        self.assign_button.clicked.connect(self.open_assign)
        self.delete_button = QPushButton(self.tr("Remove"))
        self.delete_button.setProperty("flat", True)
        self.delete_button.clicked.connect(self.remove_selected)
        self.gallery = GalleryModel(self.thumbnails.source, self)
        self.thumbnails.loaded.connect(self._on_thumbnail)
        self.thumbnails.idle_changed.connect(lambda _i: self._emit_loading())
        self.gallery_view = GalleryView()
        self.gallery_view.setModel(self.gallery)
        self.gallery_view.selectionModel().selectionChanged.connect(lambda *_: self._on_image_selection())
        self.gallery_view.doubleClicked.connect(lambda _i: self.open_editor())
        self.gallery_view.reordered.connect(self.store_order)
        self.gallery_view.files_dropped.connect(lambda paths: self.open_upload(paths))
        self.empty = EmptyState("images", "", "", action_text=self.tr("Upload images…"))
        self.empty.action.clicked.connect(lambda: self.open_upload())
        self.stack = QStackedWidget()
        self.stack.addWidget(self.gallery_view)
        self.stack.addWidget(self.empty)
        self.gallery_subtitle.setWordWrap(True)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        for w in (self.main_button, self.edit_button, self.assign_button, self.delete_button):
            actions.addWidget(w)
        actions.addStretch(1)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(6)
        centre_layout.addWidget(self.gallery_title)
        centre_layout.addWidget(self.gallery_subtitle)
        centre_layout.addLayout(actions)
        centre_layout.addWidget(self.stack, 1)
        self.details = ImageDetails()
        self.details.alt_text_saved.connect(self.save_alt_text)
        self.variants_panel = VariantsPanel()
        self.variants_panel.setFixedWidth(self.details.width())
        self.variants_panel.toggled.connect(self.toggle_variant)
        self.variants_panel.images_dropped.connect(self.add_to_variant)
        side = QSplitter(Qt.Orientation.Vertical)   # a splitter honours the details' minimum height
        side.addWidget(self.details)
        side.addWidget(self.variants_panel)
        side.setChildrenCollapsible(False)
        side.setStretchFactor(1, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(side)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([228, 670, 242])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(page_header(self.title(), self.description(), self.upload_button, self.refresh_button))
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        context.changed.connect(self._on_context_changed)
        context.data_changed.connect(self._on_data_changed)
        self.setAcceptDrops(True)   # files dropped anywhere on the page (an empty gallery too) start an upload
        self._show_gallery_state()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.context.ops is not None and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_upload(paths)

    # -- ViewPage ------------------------------------------------------------------------------------
    def activate(self) -> None:
        if self._needs_reload:
            self.reload()

    def is_loading(self) -> bool:
        return self.runner.busy or self.thumbnails.in_flight > 0

    def _emit_loading(self) -> None:
        self.loading_changed.emit(self.is_loading())

    # -- loading ---------------------------------------------------------------------------------------
    def reload(self) -> None:
        """The product list for the current search; then the gallery of the selected (or first) product."""
        self._generation += 1
        if self.context.ops is None:
            self._needs_reload = True
            return
        self._needs_reload = False
        gen, text, scope = self._generation, self.search.text(), self.scope.currentData()
        only = {"with_images_only": scope == "images", "missing_alt_only": scope == "missing_alt"}
        self._product_hits, self._product_total = None, None
        self.runner.read(lambda ops: ops.images.search_products(text, limit=PRODUCT_LIMIT, **only),
                         partial(self._on_products, gen))
        self.runner.read(lambda ops: ops.images.count_products(text, **only), partial(self._on_product_count, gen))

    def _on_product_count(self, gen: int, total: int) -> None:
        if gen != self._generation:
            return
        self._product_total = total
        self._show_products_count()

    def _show_products_count(self) -> None:
        """The true number of products found; "Showing 200 of 5,000 products" when the list is capped."""
        shown, total = self._product_hits, self._product_total
        if shown is None:
            return
        if total is None and shown >= PRODUCT_LIMIT:
            text = self.tr("Showing the first {n} products; counting…").format(n=f"{shown:,}")
        elif total is not None and total > shown:
            text = self.tr("Showing {shown} of {n} products").format(shown=f"{shown:,}", n=f"{total:,}")
        else:
            n = shown if total is None else total
            text = plural(n, self.tr("{n} product"), self.tr("{n} products"))
        self.products_count.setText(text)

    def _on_products(self, gen: int, hits: list[ProductHit]) -> None:
        if gen != self._generation:
            return
        keep = self.product.id if self.product is not None else None
        self.products.set_rows(hits)
        self._product_hits = len(hits)
        self._show_products_count()
        row = self.products.row_of(keep) if keep is not None else -1
        row = row if row >= 0 else (0 if hits else -1)
        if row >= 0:
            self.product_list.selectionModel().setCurrentIndex(
                self.products.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if self.product is not None and hits[row].id == self.product.id:
                self._on_product(row, force=True)
        else:
            self.product = None
            self.gallery.set_rows([])
            self._show_gallery_state()

    def _on_product(self, row: int, *, force: bool = False) -> None:
        hit = self.products.row_at(row)
        if hit is None:
            return
        if not force and self.product is not None and hit.id == self.product.id:
            return
        self.product = hit
        self.load_gallery()

    def load_gallery(self, select_id: int | None = None) -> None:
        select_id, self._select_next = select_id or self._select_next, None
        product = self.product
        if self.context.ops is None or product is None:
            return
        self._gallery_generation += 1
        gen = self._gallery_generation
        self.runner.read(lambda ops: (ops.images.gallery(product.id), ops.images.product_variants(product.id)),
                         partial(self._on_gallery, gen, select_id))

    def _on_gallery(self, gen: int, select_id: int | None, loaded: tuple[list[GalleryImage], list[VariantChoice]]) -> None:
        if gen != self._gallery_generation:
            return
        rows, self.variants = loaded
        selected = select_id or (self.selected_image().id if self.selected_image() else None)
        self.gallery.variant_labels = {v.id: v.sku for v in self.variants}
        self.gallery.set_rows(rows)
        self.thumbnails.request(self.gallery.thumbnail_hashes())
        if self.product is not None:
            self.products.update_counts(self.product.id, len(rows), sum(1 for r in rows if r.missing_alt))
        row = self.gallery.row_of(selected) if selected is not None else -1
        if row < 0 and rows:
            row = 0
        if row >= 0:
            self.gallery_view.selectionModel().setCurrentIndex(self.gallery.index(row),
                                                               QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._show_gallery_state()
        self._on_image_selection()

    def _on_thumbnail(self, content_hash: str) -> None:
        self.gallery.thumbnail_arrived(content_hash)
        image = self.selected_image()
        if image is not None and image.thumb_hash == content_hash:
            self.details.set_pixmap(self.thumbnails.source.get(content_hash),
                                    missing=content_hash in self.thumbnails.source.missing)

    # -- state -----------------------------------------------------------------------------------------
    def selected_image(self) -> GalleryImage | None:
        rows = sorted(i.row() for i in self.gallery_view.selectionModel().selectedIndexes())
        return self.gallery.row_at(rows[0]) if rows else None

    def _on_image_selection(self) -> None:
        image = self.selected_image()
        self.details.show_image(image, self.gallery.variant_labels,
                                self.thumbnails.source.get(image.thumb_hash) if image else None,
                                missing=image is not None and image.thumb_hash in self.thumbnails.source.missing)
        self.variants_panel.set_variants(self.variants, image)
        has = image is not None and self.context.actor is not None
        self.main_button.setEnabled(has and not image.is_main)
        for button in (self.edit_button, self.assign_button, self.delete_button):
            button.setEnabled(has)

    def _show_gallery_state(self) -> None:
        product, rows = self.product, self.gallery.rows
        if product is None:
            self.gallery_title.setText(self.tr("No product selected"))
            self.gallery_subtitle.setText("")
            scope = self.scope.currentData()
            if self.search.text():
                self.empty.set_text(self.tr("No product matches"), self.tr("Try another title, handle or SKU."))
            elif scope == "missing_alt":
                self.empty.set_text(self.tr("Every image has alt text"),
                                    self.tr("Nothing is missing: screen readers and search engines can describe "
                                            "every product image."))
            elif scope == "images":
                self.empty.set_text(self.tr("No product has images yet"),
                                    self.tr("Upload a folder of photos named after SKUs or handles to fill many "
                                            "galleries at once."))
            else:
                self.empty.set_text(self.tr("No products yet"), self.tr("Import products first, then upload their images."))
            self.empty.action.setVisible(scope == "images")
            self.empty.action.hide()
            self.stack.setCurrentWidget(self.empty)
        else:
            self.gallery_title.setText(product.title)
            missing = sum(1 for r in rows if r.missing_alt)
            sub = f"{product.handle} · " + plural(len(rows), self.tr("{n} image"), self.tr("{n} images"))
            if missing:
                sub += " · " + plural(missing, self.tr("{n} without alt text"), self.tr("{n} without alt text"))
            if len(rows) > 1:
                sub += " · " + self.tr("drag to reorder; the first is the main image")
            self.gallery_subtitle.setText(sub)
            if rows:
                self.stack.setCurrentWidget(self.gallery_view)
            else:
                self.empty.set_text(self.tr("No images yet"),
                                    self.tr("Upload photos of {title}, or drop image files here. Files named after a "
                                            "SKU go to that variant.").format(title=product.title))
                self.empty.action.show()
                self.stack.setCurrentWidget(self.empty)
        self.upload_button.setEnabled(self.context.ops is not None)

    # -- writes ------------------------------------------------------------------------------------------
    def select_after_reload(self, image_id: int | None) -> None:
        """Select this image when the gallery reloads next (the change a write made reloads it)."""
        self._select_next = image_id

    def _write(self, action: Callable[[Operations], T], select_id: int | None = None) -> None:
        """A gallery write; the change it made then reloads the gallery (with ``select_id`` selected). A
        refused write shows why and reloads the gallery as it is now."""
        def written(_result: T) -> None:
            self.banner.hide()   # an earlier write's error is stale now
            self.select_after_reload(select_id)

        def refused(exc: BaseException) -> None:
            self.banner.show_message(error_text(exc), "error")
            self.load_gallery()

        self.runner.write(action, written, on_error=refused)

    def store_order(self, ids: list[int]) -> None:
        product = self.product
        if product is None:
            return
        versions = {r.id: r.version for r in self.gallery.rows}
        self._write(lambda ops: ops.images.reorder(product.id, ids, expected_versions=versions),
                    select_id=self.selected_image().id if self.selected_image() else None)

    def set_main(self) -> None:
        image = self.selected_image()
        if image is not None:
            self._write(lambda ops: ops.images.set_main(image.id, expected_version=image.version), select_id=image.id)

    def save_alt_text(self, image_id: int, version: int, text: str) -> None:
        self._write(lambda ops: ops.images.set_alt_text(image_id, text, expected_version=version), select_id=image_id)

    def toggle_variant(self, variant_id: int, shown: bool) -> None:
        image = self.selected_image()
        if image is not None:
            ids = sorted((set(image.variant_ids) | {variant_id}) if shown else (set(image.variant_ids) - {variant_id}))
            self._write(lambda ops: ops.images.assign_variants(image.id, ids, expected_version=image.version),
                        select_id=image.id)

    def add_to_variant(self, variant_id: int, image_ids: list[int]) -> None:
        """Images dragged onto a variant: each also shows for it (one write per image, its version checked)."""
        rows = [r for r in self.gallery.rows if r.id in set(image_ids) and variant_id not in r.variant_ids]

        def add_each(ops: Operations) -> list[Any]:
            return [ops.images.assign_variants(r.id, sorted({*r.variant_ids, variant_id}), expected_version=r.version)
                    for r in rows]

        if rows:
            self._write(add_each, select_id=rows[0].id)

    def remove_selected(self) -> None:
        image = self.selected_image()
        if image is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("Remove image"),
                          self.tr("Remove {name} from the gallery of {title}?").format(
                              name=image.filename, title=self.product.title if self.product else ""),
                          QMessageBox.StandardButton.Cancel, self)
        remove = box.addButton(self.tr("Remove"), QMessageBox.ButtonRole.DestructiveRole)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda b: b is remove and self._write(
            lambda ops: ops.images.delete(image.id, expected_version=image.version)))
        self.dialog = box
        box.open()

    # -- dialogs -----------------------------------------------------------------------------------------
    def open_upload(self, paths: list[str] | None = None) -> None:
        from backoffice.ui.views.images.upload_dialog import BulkUploadDialog

        if self.context.ops is None:
            return
        dialog = BulkUploadDialog(self.context, self.tasks, self.product, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.ingested.connect(lambda _r: self.reload())
        self.dialog = dialog
        dialog.open()
        if paths:
            dialog.add_paths(paths)

    def open_editor(self) -> None:
        from backoffice.ui.views.images.editor_dialog import ImageEditorDialog

        image = self.selected_image()
        if image is None:
            return
        dialog = ImageEditorDialog(self.context, self.tasks, image, self.thumbnails, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.changed.connect(lambda img: self.select_after_reload(img.id))
        self.dialog = dialog
        dialog.open()

    def open_assign(self) -> None:
        from backoffice.ui.views.images.assign_dialog import AssignVariantsDialog

        image = self.selected_image()
        if image is None:
            return
        dialog = AssignVariantsDialog(image, self.variants, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.assign(image, dialog.choice()))
        self.dialog = dialog
        dialog.open()

    def assign(self, image: GalleryImage, choice: tuple[str, str] | list[int]) -> None:
        if isinstance(choice, tuple):
            code, value = choice
            self._write(lambda ops: ops.images.assign_by_option(image.id, code, value, expected_version=image.version),
                        select_id=image.id)
        else:
            self._write(lambda ops: ops.images.assign_variants(image.id, choice, expected_version=image.version),
                        select_id=image.id)

    # -- reacting ----------------------------------------------------------------------------------------
    def _on_context_changed(self) -> None:
        self._needs_reload = True
        self.thumbnails.follow(self.context)
        self.product = None
        if self.isVisible() and self.context.ops is not None:
            self.reload()

    def _on_data_changed(self, changes: Changes) -> None:
        if not changes.concerns(*SHOWN):
            return
        if self.isVisible():
            self.load_gallery()
        else:
            self._needs_reload = True
