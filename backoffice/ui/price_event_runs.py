"""Price events started and ended while the window is open: ``ops.events.run_due()`` once connected and
then every minute, in the background (the task manager's workers, alongside order processing), for a
signed-in role the permission table lets run it.

The OS scheduler runs the same operation (``backoffice events run-due``); each transition is claimed in
the database, so the window, the scheduler and other windows never apply one twice, and a run that finds
another under way (JobBusy) says nothing. A run that changed prices tells the views
(``context.data_changed``); a failure goes to the status bar and the log, and the next minute tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from backoffice.operations.events import RunDueResult
from backoffice.operations.schedule import JobBusy
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, plural, translator
from backoffice.ui.operations import run_write
from backoffice.ui.tasks import TaskManager

log = logging.getLogger(__name__)
tr = translator("PriceEvents")

INTERVAL_S = 60
OPERATION = "events.run_due"


class PriceEventRuns(QObject):
    ran = Signal(object)       # the RunDueResult of a run
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

    @property
    def active(self) -> bool:
        return self.context.connected and self.context.may(OPERATION)

    def start(self) -> None:
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
            self.tasks.run_in_background(lambda: run_write(ops, lambda o: o.events.run_due()), self._done,
                                         self._failed, context=self)
        except RuntimeError:   # the application is closing
            self.running = False
            return False
        return True

    def _done(self, outcome: tuple[RunDueResult, object]) -> None:
        self.running = False
        result, changes = outcome
        if result.changed or result.limit_reached:
            self.context.notify_data_changed(changes)   # type: ignore[arg-type]
            self.notify(tr("Price events: {what}").format(what=run_due_text(result)))
        self.ran.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        if isinstance(exc, JobBusy):   # the scheduler or another window is at it: nothing to say
            log.debug("price events run skipped: %s", exc)
            return
        text = tr("Running price events failed: {error}").format(error=error_message(exc))
        log.warning("%s", text)
        self.notify(text)
        self.failed.emit(text)


def run_due_text(result: RunDueResult) -> str:
    if not (result.changed or result.limit_reached):
        return tr("Nothing is due.")
    parts = []
    if result.started:
        parts.append(tr("Started: {names}").format(names=", ".join(result.started)))
    if result.ended:
        parts.append(tr("Ended: {names}").format(names=", ".join(result.ended)))
    if result.limit_reached:
        parts.append(plural(result.limit_reached, tr("{n} variant reached its limit"), tr("{n} variants reached their limit")))
    if result.conflicts:
        parts.append(plural(result.conflicts, tr("{n} price edited during an event was kept (a conflict to resolve)"),
                            tr("{n} prices edited during an event were kept (conflicts to resolve)")))
    return " · ".join(parts)
