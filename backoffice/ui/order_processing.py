"""New orders reserved while the window is open: ``ops.orders.process()`` once connected and then every
minute, in the background, for a signed-in role the permission table lets run it.

A run that reserved, refused or took up anything tells the views (``context.data_changed``: orders and
stock), so Orders and Inventory show it; a run that found nothing to do tells nobody. Runs never
overlap. A failure is not a dialog or a banner: the next minute tries again, and the status bar (through
``notify``) and the log say what went wrong. Processing is safe to run in several windows and processes
at once (the service takes each order once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from backoffice.operations.orders import ProcessResult
from backoffice.ui.context import AppContext
from backoffice.operations.schedule import JobBusy
from backoffice.ui.format import error_message, plural, translator
from backoffice.ui.operations import run_write
from backoffice.ui.tasks import TaskManager

log = logging.getLogger(__name__)
tr = translator("Sales")

INTERVAL_S = 60
OPERATION = "orders.process"


class OrderProcessing(QObject):
    """Runs ``orders.process`` at start and every ``interval_s`` seconds while connected and allowed.
    ``notify(text)`` shows a short line (the main window's status bar)."""

    processed = Signal(object)     # the ProcessResult of a run (the status line and tests wait on it)
    failed = Signal(str)

    def __init__(self, context: AppContext, tasks: TaskManager, *, notify: Callable[[str], None] | None = None,
                 interval_s: int = INTERVAL_S, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.notify = notify or (lambda text: None)
        self.running = False
        self.last_result: ProcessResult | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(max(1, interval_s) * 1000)
        self.timer.timeout.connect(self.run_now)
        self._enabled = False
        context.changed.connect(self._follow_context)

    @property
    def active(self) -> bool:
        """Connected, and the signed-in role may process orders."""
        return self.context.connected and self.context.may(OPERATION)

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
        """One run in the background; False when one is under way or processing is not for this window."""
        ops = self.context.ops
        if self.running or ops is None or not self.active:
            return False
        self.running = True
        try:
            self.tasks.run_in_background(lambda: run_write(ops, lambda o: o.orders.process()), self._done,
                                         self._failed, context=self)
        except RuntimeError:   # the application is closing
            self.running = False
            return False
        return True

    def _done(self, outcome) -> None:  # type: ignore[no-untyped-def]
        self.running = False
        result, changes = outcome
        self.last_result = result
        if result.orders or result.reserved_units or result.refused:
            self.context.notify_data_changed(changes)
            self.notify(plural(result.orders, tr("{n} new order processed"), tr("{n} new orders processed")) + " · "
                        + plural(result.reserved_units, tr("{n} unit reserved"), tr("{n} units reserved")))
        self.processed.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self.running = False
        if isinstance(exc, JobBusy):   # the scheduler or another window is processing: nothing to say
            log.debug("order processing skipped: %s", exc)
            return
        text = tr("Processing new orders failed: {error}").format(error=error_message(exc))
        log.warning("%s", text)
        self.notify(text)
        self.failed.emit(text)
