"""The gallery grid: thumbnails in icon mode, reordered by dragging (the model's order changes and
``reordered`` asks the view to store it), and image files dropped from the desktop (``files_dropped``)."""

from __future__ import annotations

import json

from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from backoffice.ui.views.images.delegates import CARD, GalleryDelegate
from backoffice.ui.views.images.models import IMAGE_IDS_MIME, GalleryModel


class GalleryView(QListView):
    reordered = Signal(list)        # image ids in the new gallery order
    files_dropped = Signal(list)    # local paths dropped from outside

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Gallery")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)      # no free placement: the order is the model's
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setGridSize(CARD + QSize(6, 6))
        self.setSpacing(0)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setItemDelegate(GalleryDelegate(self))
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)

    def gallery_model(self) -> GalleryModel:
        model = self.model()
        assert isinstance(model, GalleryModel)
        return model

    def drop_row(self, pos: QPoint) -> int:
        """The row a drop at ``pos`` goes in front of: the item under it (its right half: the next one)."""
        index = self.indexAt(pos)
        if not index.isValid():
            return self.model().rowCount()
        rect = self.visualRect(index)
        return index.row() + (1 if pos.x() > rect.center().x() else 0)

    def _acceptable(self, event: QDragEnterEvent | QDragMoveEvent | QDropEvent) -> bool:
        mime = event.mimeData()
        return mime.hasFormat(IMAGE_IDS_MIME) or (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._acceptable(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._acceptable(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        if mime.hasFormat(IMAGE_IDS_MIME):
            ids = json.loads(bytes(mime.data(IMAGE_IDS_MIME)).decode() or "[]")
            before = self.drop_row(event.position().toPoint())
            model = self.gallery_model()
            # Copy, not move, to the drag source: the rows were moved here, nothing must be removed there.
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            if model.move_ids(ids, before):
                for image_id in ids:
                    row = model.row_of(image_id)
                    self.selectionModel().select(model.index(row), self.selectionModel().SelectionFlag.Select)
                self.reordered.emit(model.ids())
            return
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        else:
            event.ignore()
