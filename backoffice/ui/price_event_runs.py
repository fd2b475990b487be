"""Price events started and ended while the window is open: ``ops.events.run_due()`` once connected and
then every minute, in the background (the task manager's workers, alongside order processing), for a
signed-in role the permission table lets run it.

The OS scheduler runs the same operation (``backoffice events run-due``); each transition is claimed in
the database, so the window, the scheduler and other windows never apply one twice, and a run that finds
another under way (JobBusy) says nothing. A run that changed prices tells the views
(``context.data_changed``); a failure goes to the status bar and the log, and the next minute tries again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal

from backoffice.operations.events import RunDueResult
from backoffice.ui.format import plural, translator
from backoffice.ui.periodic import INTERVAL_S, PeriodicRun

__all__ = ["INTERVAL_S", "PriceEventRuns", "run_due_text"]

tr = translator("PriceEvents")

OPERATION = "events.run_due"


class PriceEventRuns(PeriodicRun):
    """Runs ``events.run_due`` at start and every ``interval_s`` seconds while connected and allowed."""

    operation = OPERATION
    ran = Signal(object)       # the RunDueResult of a run

    def call(self, ops: Any) -> RunDueResult:  # noqa: ANN401
        return ops.events.run_due()

    def finished(self, result: RunDueResult, changes: Any) -> None:  # noqa: ANN401
        if result.changed or result.limit_reached:
            self.context.notify_data_changed(changes)
            self.notify(tr("Price events: {what}").format(what=run_due_text(result)))
        self.ran.emit(result)

    def failure_text(self, error: str) -> str:
        return tr("Running price events failed: {error}").format(error=error)


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
