"""Operations in the GUI (Anki's ``CollectionOp`` / ``QueryOp``): a read or a write against the
contract, run off the GUI thread by the one task manager, with busy state, progress and cancel for long
work, one readable error, and, after a write, the typed changes it made sent to every view.

    runner = Runner(context, tasks, parent=self)
    runner.read(lambda ops: ops.transfers.list(state="shipped"), self.show_rows)
    runner.write(lambda ops: ops.transfers.ship(ref, op_id=op_id), self.shipped, success=tr("Shipped."))

The write's changes (``Changes``: kinds and ids) are collected in the worker while the call runs and
emitted with ``context.data_changed`` on the GUI thread; each view reloads only when they concern it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from backoffice.operations import Changes, Operations, collecting, merge
from backoffice.remote.errors import QueuedOffline
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, translator
from backoffice.ui.tasks import TaskManager, TaskState

T = TypeVar("T")
tr = translator("Operations")


def run_write(ops: Operations, action: Callable[[Operations], T]) -> tuple[T, Changes]:
    """``action(ops)`` and what it changed (in the calling thread: a worker)."""
    with collecting() as noted:
        result = action(ops)
    return result, merge(noted)


class Runner(QObject):
    """Runs reads and writes for one view, panel or dialog; counts what is in flight (``busy_changed``),
    reports failures through ``failed`` (one readable message) and success messages through
    ``succeeded``, and announces a write's changes with ``context.notify_data_changed``."""

    busy_changed = Signal(bool)
    failed = Signal(str)
    succeeded = Signal(str)

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QObject) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.inflight = 0

    @property
    def busy(self) -> bool:
        return self.inflight > 0

    def read(self, query: Callable[[Operations], T], on_done: Callable[[T], Any], *,
             on_error: Callable[[BaseException], Any] | None = None, state: TaskState | None = None) -> bool:
        """``query(ops)`` off the GUI thread, then ``on_done(result)`` on it. False when not connected."""
        ops = self.context.ops
        if ops is None:
            return False
        self._start(lambda: query(ops), on_done, on_error, state)
        return True

    def write(self, action: Callable[[Operations], T], on_done: Callable[[T], Any] | None = None, *,
              on_error: Callable[[BaseException], Any] | None = None, state: TaskState | None = None,
              success: str | Callable[[T], str] = "") -> bool:
        """``action(ops)`` off the GUI thread; on success ``on_done(result)``, the success message (text
        or made from the result) and the changes it made sent to every view. False when not connected."""
        ops = self.context.ops
        if ops is None:
            return False

        def deliver_and_announce(outcome: tuple[T, Changes]) -> None:
            result, changes = outcome
            try:
                if on_done is not None:
                    on_done(result)
                text = success(result) if callable(success) else success
                if text:
                    self.succeeded.emit(text)
            finally:
                self.context.notify_data_changed(changes)

        self._start(lambda: run_write(ops, action), deliver_and_announce, on_error, state)
        return True

    def _start(self, task: Callable[[], Any], on_done: Callable[[Any], Any],
               on_error: Callable[[BaseException], Any] | None, state: TaskState | None) -> None:
        try:
            self.tasks.run_in_background(task, lambda result: self._finish(on_done, result),
                                         lambda exc: self._finish(None, exc, on_error), state=state,
                                         context=self.parent())
        except RuntimeError:   # the application is closing: nothing more is started
            return
        self.inflight += 1
        if self.inflight == 1:
            self.busy_changed.emit(True)

    def _finish(self, on_done: Callable[[Any], Any] | None, value: Any,
                on_error: Callable[[BaseException], Any] | None = None) -> None:
        self.inflight -= 1
        try:
            if on_done is not None:
                on_done(value)
            elif on_error is not None:
                on_error(value)
            elif isinstance(value, QueuedOffline):
                # Not a failure: the change waits in the outbox and goes when the store API answers.
                self.succeeded.emit(tr("Saved offline: it will be sent when the store API is back."))
            else:
                self.failed.emit(error_text(value))
        finally:
            if self.inflight == 0:
                self.busy_changed.emit(False)
