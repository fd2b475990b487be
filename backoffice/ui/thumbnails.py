"""Thumbnails read from the image store off the GUI thread, a batch per background task, and kept by
content hash (the same thumbnail is read once however many views show it). Used by the Images view's
gallery and the Products grid."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from backoffice.services.image_store import ImageStore, StoreError
from backoffice.ui.tasks import TaskManager

BATCH = 24


class ThumbnailSource:
    """Pixmaps by content hash, shared by the views that show them (filled by the loader)."""

    def __init__(self) -> None:
        self.pixmaps: dict[str, QPixmap] = {}
        self.missing: set[str] = set()      # hashes whose file the store does not have (or cannot be read)

    def get(self, content_hash: str | None) -> QPixmap | None:
        return self.pixmaps.get(content_hash or "")


def read_images(store: ImageStore, hashes: list[str]) -> dict[str, QImage]:
    """Runs on a worker: QImage (unlike QPixmap) may be made off the GUI thread."""
    out: dict[str, QImage] = {}
    for h in hashes:
        try:
            image = QImage.fromData(store.read_bytes(h))
        except (StoreError, OSError):
            image = QImage()
        out[h] = image
    return out


class ThumbnailLoader(QObject):
    loaded = Signal(str)        # a content hash whose pixmap is now in ``source``
    idle_changed = Signal(bool)

    def __init__(self, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.source = ThumbnailSource()
        self.store: ImageStore | None = None
        self._asked: set[str] = set()
        self.in_flight = 0

    def set_store(self, store: ImageStore) -> None:
        if self.store is None or store.root != self.store.root:
            self.store = store
            self.source.pixmaps.clear()
            self._asked.clear()
            self.source.missing.clear()

    def request(self, hashes: Iterable[str]) -> None:
        store = self.store
        wanted = [h for h in dict.fromkeys(hashes) if h and h not in self._asked]
        if store is None or not wanted:
            return
        self._asked.update(wanted)
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start:start + BATCH]
            self.in_flight += 1
            try:
                self.tasks.run_in_background(lambda b=batch: read_images(store, b), self._arrived, self._failed,
                                             context=self)
            except RuntimeError:   # the application is closing
                self.in_flight -= 1
                return

    def _arrived(self, images: dict[str, QImage]) -> None:
        self.in_flight -= 1
        for h, image in images.items():
            if image.isNull():
                self.source.missing.add(h)
                self.loaded.emit(h)       # drawn as missing rather than loading forever
                continue
            self.source.pixmaps[h] = QPixmap.fromImage(image)
            self.loaded.emit(h)
        if self.in_flight == 0:
            self.idle_changed.emit(True)

    def _failed(self, _exc: BaseException) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle_changed.emit(True)
