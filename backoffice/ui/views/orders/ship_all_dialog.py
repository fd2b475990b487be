"""Ship all reserved…: a warehouse's shipping wave. Every order holding units at the chosen location gets
one shipment of them, oldest order first (``ops.orders.fulfil_many``).

The dialog reads in the background which orders hold units there and how many (``ops.orders.reserved_at``,
the same orders ``fulfil_many`` would pick itself); Ship turns that reading into the dialog's plan and
sends it in chunks of ``CHUNK`` orders, one call each, as one background job with a progress bar (orders
done of the plan's) and a Cancel that stops between chunks. At the end it says what shipped ("12
shipments, 31 units from WH1") and lists the orders that could not ship, with why; the others went on.

Nothing ships twice from one dialog: once Ship is pressed the plan (location, carrier, orders) is fixed,
and each chunk has an operation id of its own made from the dialog's (made when it opens) and the
chunk's place in the plan. A second press, or a retry after an error or a cancel, sends only the chunks
not finished, with the same ids, so each order only ever ships under one id, which the service refuses
to ship again. A chunk's id is its own, not the dialog's for every call, because over the store API the
id is the request's Idempotency-Key, which stands for one request body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QWidget,
)

from backoffice.operations import Changes, Operations
from backoffice.operations.changes import ORDERS
from backoffice.operations.orders import FulfilManyResult
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_count, plural
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.views.orders.models import tr
from backoffice.ui.widgets.document_editor import fill_combo, stock_locations
from backoffice.ui.widgets.rows import RowsModel, make_table, muted
from backoffice.ui.widgets.step_dialog import StepDialog

CHUNK = 25      # orders per fulfil_many call: a Cancel waits for at most this many shipments


@dataclass(frozen=True)
class ShipPlan:
    """What Ship sends: the orders read at the location (order id, units reserved there), oldest first."""

    location_id: int
    code: str
    carrier: str
    orders: tuple[tuple[int, int], ...]
    chunk: int = CHUNK

    @property
    def units(self) -> int:
        return sum(units for _, units in self.orders)

    def chunks(self) -> list[list[int]]:
        ids = [order_id for order_id, _ in self.orders]
        return [ids[i:i + self.chunk] for i in range(0, len(ids), self.chunk)]

    def orders_in(self, first_chunks: int) -> int:
        """The orders in the plan's first ``first_chunks`` chunks."""
        return min(len(self.orders), first_chunks * self.chunk)


def chunk_op_id(operation_id: str, index: int) -> str:
    """The operation id of the plan's chunk ``index`` (the service gives each order's shipment
    ``<this>:<order id>``)."""
    return f"{operation_id}-{index}"


@dataclass(frozen=True)
class RunOutcome:
    """What one press of Ship did: the results of the chunks it finished (from ``first``), and why it
    stopped before the end, if it did."""

    first: int
    results: tuple[FulfilManyResult, ...]
    cancelled: bool = False
    error: BaseException | None = None


def ship_chunks(ops: Operations, plan: ShipPlan, first: int, operation_id: str, state: TaskState) -> RunOutcome:
    """The plan's chunks from ``first`` on, one ``fulfil_many`` each, until the end, a cancel (checked
    between chunks) or an error (kept, with what shipped before it). Runs on a worker: no widgets."""
    chunks, results = plan.chunks(), []
    for index in range(first, len(chunks)):
        if state.cancelled():
            return RunOutcome(first, tuple(results), cancelled=True)
        try:
            results.append(ops.orders.fulfil_many(location_id=plan.location_id, order_ids=chunks[index],
                                                  carrier=plan.carrier, op_id=chunk_op_id(operation_id, index)))
        except Exception as exc:  # noqa: BLE001 - shown in the dialog; what shipped before it stays shipped
            return RunOutcome(first, tuple(results), error=exc)
        state.set_progress(plan.orders_in(index + 1) / len(plan.orders))
    return RunOutcome(first, tuple(results))


@dataclass
class Shipped:
    """What the plan has done so far, over every press of Ship."""

    chunks_done: int = 0
    shipments: int = 0
    units: int = 0
    skipped: int = 0                  # shipped under the same id by an earlier press whose answer was lost
    failed: list[tuple[str, str]] = field(default_factory=list)

    def add(self, outcome: RunOutcome) -> None:
        for result in outcome.results:
            self.shipments += result.shipped
            self.units += result.units
            self.skipped += result.skipped
            self.failed.extend(result.failed)
        self.chunks_done = outcome.first + len(outcome.results)


def why_not(number: str, why: str) -> str:
    """The reason an order did not ship, without its number in front (the table shows it beside)."""
    return why[len(number) + 1:] if why.startswith(number + " ") else why


def shipped_text(shipments: int, units: int, code: str) -> str:
    """``12 shipments, 31 units from WH1``."""
    return tr("{shipments}, {units} from {location}").format(
        shipments=plural(shipments, tr("{n} shipment"), tr("{n} shipments")),
        units=plural(units, tr("{n} unit"), tr("{n} units")), location=code)


class ShipAllDialog(StepDialog):
    """``location_id``: the location to start with (the list's location filter), else the first warehouse."""

    shipped = Signal(str, str)     # what a press of Ship did, and its level: for the view's banner

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 location_id: int | None = None, chunk: int = CHUNK) -> None:
        super().__init__(context, tasks, parent)
        self.preferred = location_id
        self.chunk = max(1, chunk)
        self.reading: list[tuple[int, int]] | None = None   # (order id, units) at the chosen location, as read
        self._generation = 0
        self.plan: ShipPlan | None = None                    # fixed by the first press of Ship
        self.so_far = Shipped()
        self.job: TaskState | None = None
        self.setWindowTitle(tr("Ship all reserved"))
        self.setMinimumWidth(600)

        heading = QLabel(tr("Ship everything reserved at one location"))
        heading.setObjectName("DetailsTitle")
        intro = muted(tr("Each order holding units there gets one shipment of them, oldest order first. An order "
                         "that cannot ship is listed at the end and the others go on."))
        self.location = QComboBox()
        self.location.setMinimumWidth(280)
        self.location.currentIndexChanged.connect(lambda _i: self._read_reserved())
        self.carrier = QLineEdit()
        self.carrier.setMaxLength(60)
        self.carrier.setPlaceholderText(tr("DHL, UPS, La Poste… (optional, on every shipment)"))
        form = QFormLayout()
        form.addRow(tr("Ship from"), self.location)
        form.addRow(tr("Carrier"), self.carrier)
        self.form = QWidget()
        self.form.setLayout(form)
        form.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setObjectName("Card")
        self.summary.setWordWrap(True)
        self.summary.setContentsMargins(10, 8, 10, 8)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)      # the style's bar is a thin line: the count goes beside it
        self.bar_count = muted(wrap=False)
        self.bar.valueChanged.connect(self._show_count)
        self.progress_row = QWidget()
        row = QHBoxLayout(self.progress_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)
        row.addWidget(self.bar, 1)
        row.addWidget(self.bar_count)
        self.progress_row.hide()
        self.failed_label = QLabel()
        self.failed_label.setObjectName("ErrorText")
        self.failed_label.hide()
        self.failed_model = RowsModel([tr("Order"), tr("Why it did not ship")], parent=self)
        self.failed_table = make_table(self.failed_model, {0: 110}, stretch=(1,))
        self.failed_table.setMinimumHeight(150)
        self.failed_table.hide()
        self.ship_button = self.add_step_button(tr("Ship"), self.ship)
        self.close_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.lay_out(heading, intro, self.form, self.summary, self.progress_row, self.failed_label, self.failed_table,
                     stretch=self.failed_table)
        self._refresh()
        self._read_locations()
        context.data_changed.connect(self._on_data_changed)

    # -- reading -------------------------------------------------------------------------------------------------
    def is_loading(self) -> bool:
        return self.runner.busy

    def location_code(self) -> str:
        return self.location.currentText().split(" · ", 1)[0]

    def _read_locations(self) -> None:
        self.summary.setText(tr("Reading the locations…"))
        self.runner.read(lambda ops: ops.stock.locations(), self._set_locations, on_error=partial(self._read_failed, 0))

    def _set_locations(self, locations: list[dict[str, Any]]) -> None:
        fill_combo(self.location, stock_locations(locations))
        warehouses = [loc["id"] for loc in locations if loc["kind"] == "warehouse" and loc.get("active", True)]
        for choice in (self.preferred, *warehouses[:1]):
            if choice is not None and self.location.findData(choice) >= 0:
                self.location.blockSignals(True)
                self.location.setCurrentIndex(self.location.findData(choice))
                self.location.blockSignals(False)
                break
        self._read_reserved()

    def _read_reserved(self) -> None:
        self._generation += 1
        self.reading = None
        location_id = self.location.currentData()
        self._refresh()
        if location_id is None:
            return
        gen = self._generation
        self.runner.read(lambda ops: ops.orders.reserved_at(location_id), partial(self._on_reserved, gen),
                         on_error=partial(self._read_failed, gen))

    def _on_reserved(self, gen: int, rows: list[tuple[int, int]]) -> None:
        if gen == self._generation:
            self.reading = [(int(order_id), int(units)) for order_id, units in rows]
            self._refresh()

    def _on_data_changed(self, changes: Changes) -> None:
        # Orders reserved or shipped elsewhere meanwhile: count again, until Ship has made the plan.
        if self.plan is None and self.reading is not None and changes.concerns(ORDERS):
            self._read_reserved()

    def _read_failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.summary.setText("")
            self.banner.show_message(tr("What is reserved could not be read: {error}").format(error=error_text(exc)),
                                     "error")

    # -- shipping ---------------------------------------------------------------------------------------------
    def ship(self) -> None:
        """Send the plan's chunks not finished yet (the first press makes the plan from the reading shown)."""
        if self.job is not None or self.context.ops is None:
            return
        if self.plan is None:
            location_id = self.location.currentData()
            if location_id is None or not self.reading:
                return
            self.plan = ShipPlan(location_id, self.location_code(), " ".join(self.carrier.text().split()),
                                 tuple(self.reading), self.chunk)
        plan, first, op = self.plan, self.so_far.chunks_done, self.operation_id
        if first >= len(plan.chunks()):
            return
        self.job = state = TaskState(tr("Shipping everything reserved at {location}").format(location=plan.code),
                                     parent=self)
        state.progress_changed.connect(lambda f: self.bar.setValue(round(f * len(plan.orders))))
        self.banner.hide()
        self.bar.setRange(0, len(plan.orders))
        self.bar.setValue(plan.orders_in(first))
        self.runner.write(lambda ops: ship_chunks(ops, plan, first, op, state), self._on_run,
                          on_error=self._on_run_failed, state=state)
        self._refresh()

    def cancel(self) -> None:
        """Stop after the chunk being shipped (what has shipped stays shipped)."""
        if self.job is not None:
            self.job.cancel()
            self._refresh()

    def reject(self) -> None:
        # Closing while shipping stops after the current chunk; the dialog stays to say what shipped.
        if self.job is not None:
            self.cancel()
            return
        super().reject()

    def _on_run(self, outcome: RunOutcome) -> None:
        self.job = None
        self.so_far.add(outcome)
        plan = self.plan
        assert plan is not None
        self.bar.setValue(plan.orders_in(self.so_far.chunks_done))
        self.failed_model.set_rows([(number, why_not(number, why)) for number, why in self.so_far.failed])
        if outcome.error is not None:
            self.banner.show_message(tr("Shipping stopped: {error}. What shipped stays shipped; Ship again sends the "
                                        "rest.").format(error=error_text(outcome.error).rstrip(".")), "error")
        if outcome.results:
            self.shipped.emit(self.banner_text(), "warning" if self.so_far.failed or self.remaining() else "success")
        self._refresh()

    def _on_run_failed(self, exc: BaseException) -> None:
        self._on_run(RunOutcome(self.so_far.chunks_done, (), error=exc))

    def banner_text(self) -> str:
        """What the plan has done so far, in a sentence for the Orders view."""
        assert self.plan is not None
        text = shipped_text(self.so_far.shipments, self.so_far.units, self.plan.code)
        if self.so_far.failed:
            text += "; " + plural(len(self.so_far.failed), tr("{n} order could not ship"),
                                  tr("{n} orders could not ship"))
        if self.remaining():
            text += "; " + plural(self.remaining(), tr("{n} order not sent"), tr("{n} orders not sent"))
        return text + "."

    # -- what is shown ------------------------------------------------------------------------------------------
    def remaining(self) -> int:
        """Orders of the plan not sent yet."""
        return 0 if self.plan is None else len(self.plan.orders) - self.plan.orders_in(self.so_far.chunks_done)

    def finished(self) -> bool:
        return self.plan is not None and self.remaining() == 0

    def result_text(self) -> str:
        """What the plan has shipped so far, and what is left of it."""
        plan, so_far = self.plan, self.so_far
        if plan is None:
            return ""
        text = shipped_text(so_far.shipments, so_far.units, plan.code) + "."
        if so_far.skipped:
            text += " " + plural(so_far.skipped, tr("{n} order had already shipped from this dialog."),
                                 tr("{n} orders had already shipped from this dialog."))
        if so_far.failed:
            text += " " + plural(len(so_far.failed), tr("{n} order could not ship (below)."),
                                 tr("{n} orders could not ship (below)."))
        rest = self.remaining()
        if rest:
            text += " " + plural(rest, tr("{n} order was not sent: Ship sends it."),
                                 tr("{n} orders were not sent: Ship sends them."))
        return text

    def _reading_text(self) -> str:
        code = self.location_code()
        if self.location.count() == 0:
            return tr("Reading the locations…") if self.runner.busy else \
                tr("There is no active warehouse or store to ship from.")
        if self.reading is None:
            return tr("Counting what is reserved at {location}…").format(location=code)
        if not self.reading:
            return tr("Nothing is reserved at {location}: there is no order to ship from there.").format(location=code)
        units = plural(sum(u for _, u in self.reading), tr("{n} unit"), tr("{n} units"))
        return plural(len(self.reading), tr("{n} order holds {units} at {location}: it ships as one shipment."),
                      tr("{n} orders hold {units} at {location}: each ships as one shipment, oldest first."),
                      units=units, location=code)

    def _refresh(self) -> None:
        running, plan = self.job is not None, self.plan
        self.form.setEnabled(plan is None and not running)     # the plan, once made, is what ships
        if running:
            assert plan is not None
            self.summary.setText(
                tr("Shipping from {location}… Cancel stops after the shipments under way; what has shipped "
                   "stays shipped.").format(location=plan.code) if not self.job.cancelled() else
                tr("Stopping after the shipments under way…"))
        elif plan is not None:
            self.summary.setText(self.result_text())
        else:
            self.summary.setText(self._reading_text())
        self.progress_row.setVisible(plan is not None)
        failed = len(self.so_far.failed)
        self.failed_label.setText(plural(failed, tr("{n} order could not ship:"), tr("{n} orders could not ship:")))
        self.failed_label.setVisible(failed > 0)
        self.failed_table.setVisible(failed > 0)
        if plan is None:
            n = len(self.reading or ())
            self.ship_button.setText(plural(n, tr("Ship {n} order"), tr("Ship {n} orders")) if n else tr("Ship"))
            self.ship_button.setEnabled(n > 0 and not running)
        else:
            rest = self.remaining()
            self.ship_button.setText(plural(rest, tr("Ship the last order"), tr("Ship the other {n} orders"))
                                     if rest and plan.orders_in(self.so_far.chunks_done) else tr("Ship"))
            self.ship_button.setEnabled(rest > 0 and not running)
        if running:
            stopping = self.job is not None and self.job.cancelled()
            self.close_button.setText(tr("Stopping…") if stopping else tr("Cancel"))
            self.close_button.setEnabled(not stopping)
        else:
            self.close_button.setText(tr("Close") if plan is not None else tr("Cancel"))
            self.close_button.setEnabled(True)
        layout = self.layout()
        if self.isVisible() and layout is not None:    # taller (never shorter) for what is shown now, at this width
            needed = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else self.sizeHint().height()
            if needed > self.height():
                self.resize(self.width(), needed)

    def _show_count(self, value: int) -> None:
        self.bar_count.setText(plural(self.bar.maximum(), tr("{done} of {n} order"), tr("{done} of {n} orders"),
                                      done=format_count(value)))
