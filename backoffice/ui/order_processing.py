"""New orders reserved while the window is open: ``ops.orders.process()`` once connected and then every
minute, in the background, for a signed-in role the permission table lets run it.

A run that reserved, refused or took up anything tells the views (``context.data_changed``: orders and
stock), so Orders and Inventory show it; a run that found nothing to do tells nobody. Runs never
overlap. A failure is not a dialog or a banner: the next minute tries again, and the status bar (through
``notify``) and the log say what went wrong. Processing is safe to run in several windows and processes
at once (the service takes each order once).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal

from backoffice.operations.orders import ProcessResult
from backoffice.ui.format import plural, translator
from backoffice.ui.periodic import INTERVAL_S, PeriodicRun

__all__ = ["INTERVAL_S", "OrderProcessing"]

tr = translator("Sales")

OPERATION = "orders.process"


class OrderProcessing(PeriodicRun):
    """Runs ``orders.process`` at start and every ``interval_s`` seconds while connected and allowed."""

    operation = OPERATION
    processed = Signal(object)     # the ProcessResult of a run (the status line and tests wait on it)

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        super().__init__(*args, **kwargs)
        self.last_result: ProcessResult | None = None

    def call(self, ops: Any) -> ProcessResult:  # noqa: ANN401
        return ops.orders.process()

    def failure_text(self, error: str) -> str:
        return tr("Processing new orders failed: {error}").format(error=error)

    def finished(self, result: ProcessResult, changes: Any) -> None:  # noqa: ANN401
        self.last_result = result
        if result.orders or result.reserved_units or result.refused:
            self.context.notify_data_changed(changes)
            self.notify(plural(result.orders, tr("{n} new order processed"), tr("{n} new orders processed")) + " · "
                        + plural(result.reserved_units, tr("{n} unit reserved"), tr("{n} units reserved")))
        self.processed.emit(result)
