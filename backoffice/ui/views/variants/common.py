"""What the Variants panels and dialogs share: running service calls in the background with one
in-flight count, and small widget helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QSize, Signal
from PySide6.QtWidgets import QPushButton, QWidget

from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.dialog_parts import error_message


class Runner(QObject):
    """Runs service calls through the task manager for one panel; counts what is in flight, reports
    failures through ``failed`` (one readable message) and, after a write, tells every view that data
    changed."""

    busy_changed = Signal(bool)
    failed = Signal(str)

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QObject) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.inflight = 0

    def read(self, task: Callable[[Any], Any], on_done: Callable[[Any], Any]) -> bool:
        """``task(db)`` off the GUI thread, then ``on_done(result)`` on it. False when not connected."""
        db = self.context.db
        if db is None:
            return False
        self._start(lambda: task(db), on_done)
        return True

    def write(self, task: Callable[[Any, Any], Any], on_done: Callable[[Any], Any] | None = None) -> bool:
        """``task(db, actor)`` off the GUI thread; on success ``on_done(result)`` and a data-changed
        notification."""
        db, actor = self.context.db, self.context.actor
        if db is None or actor is None:
            return False

        def done(result: Any) -> None:
            if on_done is not None:
                on_done(result)
            self.context.notify_data_changed()

        self._start(lambda: task(db, actor), done)
        return True

    def _start(self, task: Callable[[], Any], on_done: Callable[[Any], Any]) -> None:
        self.inflight += 1
        if self.inflight == 1:
            self.busy_changed.emit(True)
        self.tasks.run_in_background(task, lambda result: self._finish(on_done, result),
                                     lambda exc: self._finish(None, exc), context=self.parent())

    def _finish(self, on_done: Callable[[Any], Any] | None, value: Any) -> None:
        self.inflight -= 1
        try:
            if on_done is not None:
                on_done(value)
            else:
                self.failed.emit(error_message(value))
        finally:
            if self.inflight == 0:
                self.busy_changed.emit(False)


def tool_button(text: str, icon: str = "", tip: str = "", parent: QWidget | None = None) -> QPushButton:
    button = QPushButton(text, parent)
    if icon:
        button.setIcon(resources.icon(icon, theme.TEXT))
        button.setIconSize(QSize(16, 16))
    if tip:
        button.setToolTip(tip)
    return button
