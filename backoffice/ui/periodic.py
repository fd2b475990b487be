"""Work the window does by itself while it is open: one operation of the contract once connected and then
every minute, in the background (the task manager's workers), for a signed-in role the permission table
lets run it (:mod:`backoffice.ui.order_processing`, :mod:`backoffice.ui.price_event_runs`).

Runs never overlap. A run that finds another under way (the OS scheduler's, another window's: JobBusy)
says nothing; a failure is not a dialog or a banner: the next minute tries again, and the status bar
(through ``notify``) and the log say what went wrong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from backoffice.operations.schedule import JobBusy
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message
from backoffice.ui.operations import run_write
from backoffice.ui.tasks import TaskManager

log = logging.getLogger(__name__)

INTERVAL_S = 60


class PeriodicRun(QObject):
    """Runs :attr:`operation` at start and every ``interval_s`` seconds while connected and allowed.
    ``notify(text)`` shows a short line (the main window's status bar). Subclasses say what to call
    (:meth:`call`), what a run's result means (:meth:`finished`) and how a failure reads (:meth:`failure_text`)."""

    operation = ""                 # the contract's "area.method", checked against the permission table
    failed = Signal(str)

    def __init__(self, context: AppContext, tasks: TaskManager, *, notify: Callable[[str], None] | None = None,
                 interval_s: int = INTERVAL_S, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.notify = notify or (lambda text: None)
        self.running = False
        self.timer = QTimer(self)
        self.timer.setInterval(max(1, interval_s) * 1000)
        self.timer.timeout.connect(self.run_now)
        self._enabled = False
        context.changed.connect(self._follow_context)

    # -- what a subclass says -------------------------------------------------------------------------
    def call(self, ops: Any) -> Any:  # noqa: ANN401 - the operations, the operation's result
        raise NotImplementedError

    def finished(self, result: Any, changes: Any) -> None:  # noqa: ANN401
        raise NotImplementedError

    def failure_text(self, error: str) -> str:
        raise NotImplementedError

    # -- the machinery --------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Connected, and the signed-in role may run the operation."""
        return self.context.connected and self.context.may(self.operation)

    def start(self) -> None:
        """Begin (the window is shown): a run now if allowed, then one a minute."""
        self._enabled = True
        self._follow_context()

    def stop(self) -> None:
        self._enabled = False
        self.timer.stop()

    def _follow_context(self) -> None:
        if self._enabled and self.active:
            if not self.timer.isActive():
                self.timer.start()
                self.run_now()
        else:
            self.timer.stop()

    def run_now(self) -> bool:
        """One run in the background; False when one is under way or runs are not for this window."""
        ops = self.context.ops
        if self.running or ops is None or not self.active:
            return False
        self.running = True
        try:
            self.tasks.run_in_background(lambda: run_write(ops, self.call), self._done, self._failed, context=self)
        except RuntimeError:   # the application is closing
            self.running = False
            return False
        return True

    def _done(self, outcome: tuple[Any, Any]) -> None:
        self.running = False
        result, changes = outcome
        self.finished(result, changes)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        if isinstance(exc, JobBusy):   # the scheduler or another window is at it: nothing to say
            log.debug("%s skipped: %s", self.operation, exc)
            return
        text = self.failure_text(error_message(exc))
        log.warning("%s", text)
        self.notify(text)
        self.failed.emit(text)
