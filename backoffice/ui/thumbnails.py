"""Thumbnails read from the image store off the GUI thread, a batch per background task, and kept by
content hash (the same thumbnail is read once however many views show it). Used by the Images view's
gallery and the Products grid. The files come through the operations contract (``ops.images.read_files``)
from the image store of the connection's profile."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from backoffice.operations import Operations
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager

BATCH = 24


class ThumbnailSource:
    """Pixmaps by content hash, shared by the views that show them (filled by the loader)."""

    def __init__(self) -> None:
        self.pixmaps: dict[str, QPixmap] = {}
        self.missing: set[str] = set()      # hashes whose file the store does not have (or cannot be read)

    def get(self, content_hash: str | None) -> QPixmap | None:
        return self.pixmaps.get(content_hash or "")


def read_images(ops: Operations, hashes: list[str]) -> dict[str, QImage]:
    """Runs on a worker: QImage (unlike QPixmap) may be made off the GUI thread. A file the store does not
    have is a null image."""
    return {h: QImage() if data is None else QImage.fromData(data)
            for h, data in ops.images.read_files(hashes).items()}


def use_profile_store(context: AppContext) -> None:
    """Point the connection's image files at the folder of the context's profile (through the store API
    the server keeps the files, in its own folder: nothing to point)."""
    if context.ops is not None and not context.remote:
        context.ops.images.use_store(profile=context.profile_name)


class ThumbnailLoader(QObject):
    loaded = Signal(str)        # a content hash whose pixmap is now in ``source``
    idle_changed = Signal(bool)

    def __init__(self, tasks: TaskManager, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.source = ThumbnailSource()
        self.ops: Operations | None = None
        self._profile = ""
        self._asked: set[str] = set()
        self.in_flight = 0

    def follow(self, context: AppContext) -> None:
        """Read from the image store of the context's connection and profile; another connection or
        profile clears what was read."""
        use_profile_store(context)
        if context.ops is not self.ops or context.profile_name != self._profile:
            self.ops, self._profile = context.ops, context.profile_name
            self.source.pixmaps.clear()
            self.source.missing.clear()
            self._asked.clear()

    def request(self, hashes: Iterable[str]) -> None:
        ops = self.ops
        wanted = [h for h in dict.fromkeys(hashes) if h and h not in self._asked]
        if ops is None or not wanted:
            return
        self._asked.update(wanted)
        for start in range(0, len(wanted), BATCH):
            batch = wanted[start:start + BATCH]
            self.in_flight += 1
            try:
                self.tasks.run_in_background(lambda b=batch: read_images(ops, b), self._arrived, self._failed,
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
