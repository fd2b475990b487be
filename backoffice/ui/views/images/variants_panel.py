"""The product's variants beside the gallery: ticked are those that show the selected image. Tick or
untick one to change that, or drag images from the gallery onto a variant to show them for it. The
panel only reports what the user did; the view does the writes."""

from __future__ import annotations

import json
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.images import GalleryImage, VariantChoice
from backoffice.ui.views.images.models import IMAGE_IDS_MIME

VARIANT_ROLE = Qt.ItemDataRole.UserRole


class VariantDropList(QListWidget):
    images_dropped = Signal(int, list)     # variant id, image ids

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setUniformItemSizes(True)

    def _over_variant(self, event: QDragMoveEvent | QDropEvent) -> QListWidgetItem | None:
        if not event.mimeData().hasFormat(IMAGE_IDS_MIME):
            return None
        return self.itemAt(event.position().toPoint())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(IMAGE_IDS_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        item = self._over_variant(event)
        if item is not None:
            self.setCurrentItem(item)
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        item = self._over_variant(event)
        if item is None:
            event.ignore()
            return
        ids = json.loads(bytes(event.mimeData().data(IMAGE_IDS_MIME)).decode() or "[]")
        event.setDropAction(Qt.DropAction.CopyAction)   # nothing is taken out of the gallery
        event.accept()
        if ids:
            self.images_dropped.emit(int(item.data(VARIANT_ROLE)), ids)


class VariantsPanel(QFrame):
    toggled = Signal(int, bool)            # variant id, now shows the selected image

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        title = QLabel(self.tr("Variants"))
        title.setObjectName("DetailsTitle")
        self.hint = QLabel(self.tr("Ticked ones show the selected image; drop images on a variant to add them."))
        self.hint.setObjectName("Muted")
        self.hint.setWordWrap(True)
        self.list = VariantDropList()
        self.list.itemChanged.connect(self._on_item_changed)
        self.images_dropped = self.list.images_dropped
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(6)
        layout.addWidget(title)
        layout.addWidget(self.hint)
        layout.addWidget(self.list, 1)
        self._filling = False
        # Whatever height the details above leave: the list scrolls.
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self.setMinimumHeight(140)

    def set_variants(self, variants: Sequence[VariantChoice], image: GalleryImage | None) -> None:
        self._filling = True
        self.list.clear()
        chosen = set(image.variant_ids) if image is not None else set()
        for v in variants:
            item = QListWidgetItem(v.sku)
            options = ", ".join(f"{k}: {val}" for k, val in v.options.items())
            item.setToolTip(f"{v.sku}\n{options}" if options else v.sku)
            item.setData(VARIANT_ROLE, v.id)
            flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsDropEnabled
            if image is not None:
                flags |= Qt.ItemFlag.ItemIsUserCheckable
                item.setCheckState(Qt.CheckState.Checked if v.id in chosen else Qt.CheckState.Unchecked)
            item.setFlags(flags)
            self.list.addItem(item)
        self._filling = False

    def checked_ids(self) -> list[int]:
        return [int(self.list.item(i).data(VARIANT_ROLE)) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if not self._filling:
            self.toggled.emit(int(item.data(VARIANT_ROLE)), item.checkState() == Qt.CheckState.Checked)
