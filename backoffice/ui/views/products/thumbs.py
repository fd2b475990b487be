"""Pictures in the grid's Title column: the delegate asks for the thumbnails of the rows it paints, they
are read from the image store in the background (a batch per paint), and the viewport repaints as they
arrive. The store folder follows the connection profile."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QTableView

from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.thumbnails import ThumbnailLoader
from backoffice.ui.views.products.delegates import GridDelegate


class GridThumbnails(QObject):
    def __init__(self, delegate: GridDelegate, table: QTableView, context: AppContext, tasks: TaskManager,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context, self.table = context, table
        self.loader = ThumbnailLoader(tasks, self)
        self._wanted: dict[str, None] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._fetch)
        self.loader.loaded.connect(lambda _hash: self.table.viewport().update())
        delegate.thumbnails = self.loader.source
        delegate.request_thumbnail = self.want
        context.changed.connect(self._follow_profile)
        self._follow_profile()

    def _follow_profile(self) -> None:
        self.loader.follow(self.context)

    def want(self, content_hash: str) -> None:
        """Called while painting: remember the hash; the batch is fetched once the paint is over."""
        self._wanted[content_hash] = None
        if not self._timer.isActive():
            self._timer.start()

    def _fetch(self) -> None:
        wanted, self._wanted = list(self._wanted), {}
        self.loader.request(wanted)

    def is_loading(self) -> bool:
        return self.loader.in_flight > 0
