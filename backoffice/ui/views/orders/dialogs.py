"""The other steps on an order, as step dialogs (see ``widgets.step_dialog``: the operation id is made when
the dialog opens, so a double click or a retry writes once):

- Cancel…: every unit not shipped yet, with a reason; its reservations are released;
- Return…: a return authorised against the shipped units (per line: units, reason, condition) with the
  refund decided; nothing moves yet;
- Receive return…: the goods arrive at a location; restockable units go back on hand there, damaged
  ones are written off;
- Cancel return…: an authorised return withdrawn before its goods arrive; nothing moves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTableView,
    QWidget,
)

from backoffice.operations import ConflictError
from backoffice.operations.orders import OrderInfo
from backoffice.operations.returns import CONDITIONS, ReturnInfo
from backoffice.ui.context import AppContext
from backoffice.ui.format import format_amount, format_qty, plural
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.orders.fulfil_dialog import default_location
from backoffice.ui.views.orders.models import condition_label, tr
from backoffice.ui.widgets.document_editor import fill_combo, stock_locations
from backoffice.ui.widgets.rows import RowsModel, make_table, muted
from backoffice.ui.widgets.step_dialog import StepDialog

MAX_REFUND = 10_000_000


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("DetailsTitle")
    label.setWordWrap(True)
    return label


# -- cancel ------------------------------------------------------------------------------------------------------
class CancelOrderDialog(StepDialog):
    """Cancels every unit not shipped yet (waiting ones first, then reserved ones, released where they are
    held). Checked against the version shown: if the order changed meanwhile, nothing is cancelled and
    :attr:`stale` asks for the order to be read again."""

    stale = Signal()

    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.info = info
        self.setWindowTitle(tr("Cancel {number}").format(number=info.number))
        self.setMinimumWidth(500)
        left = sum(ln.outstanding for ln in info.lines)
        reserved = sum(ln.reserved for ln in info.lines)
        shipped = sum(ln.fulfilled for ln in info.lines)
        places = sorted({r.location for ln in info.lines for r in ln.reservations})
        heading = _heading(plural(left, tr("Cancel the {n} unit of {number} not shipped yet?"),
                                  tr("Cancel the {n} units of {number} not shipped yet?"), number=info.number))
        parts = []
        if reserved:
            parts.append(plural(reserved, tr("{n} reserved unit is released at {places}."),
                                tr("{n} reserved units are released at {places}."), places=", ".join(places)))
        if shipped:
            parts.append(plural(shipped, tr("The {n} unit already shipped stays shipped (take it back with Return…)."),
                                tr("The {n} units already shipped stay shipped (take them back with Return…).")))
        parts.append(tr("The store's payment is not refunded from here."))
        self.reason = QLineEdit()
        self.reason.setMaxLength(200)
        self.reason.setPlaceholderText(tr("Why (kept on the order's timeline; required)"))
        self.reason.textChanged.connect(self._refresh)
        self.cancel_button = self.add_step_button(tr("Cancel order"), self.cancel_order)
        self.buttons.button(self.buttons.StandardButton.Cancel).setText(tr("Keep the order"))
        self.lay_out(heading, muted(" ".join(parts)), self.reason)
        self._refresh()

    def _refresh(self) -> None:
        self.cancel_button.setEnabled(bool(self.reason.text().strip()) and not self.busy)

    def cancel_order(self) -> None:
        oid, version, op, reason = self.info.id, self.info.version, self.operation_id, self.reason.text().strip()
        if reason:
            self.run_step(lambda ops: ops.orders.cancel(oid, reason=reason, expected_version=version, op_id=op),
                          self.cancel_button)

    def _step_failed(self, button: Any, exc: BaseException) -> None:
        super()._step_failed(button, exc)
        if isinstance(exc, ConflictError):
            self.banner.show_message(tr("{number} changed since you opened it (someone shipped, cancelled or "
                                        "processed it): nothing was cancelled. It has been read again; look at "
                                        "it before you cancel.").format(number=self.info.number), "error")
            self.cancel_button.setEnabled(False)
            self.stale.emit()


# -- authorise a return ------------------------------------------------------------------------------------------------
def returnable_units(info: OrderInfo, returns: Sequence[ReturnInfo]) -> dict[int, int]:
    """order line id -> units shipped and not yet returned or promised to an authorised return."""
    pending: dict[int, int] = {}
    for r in returns:
        if r.state == "authorised":
            for rl in r.lines:
                pending[rl.order_line_id] = pending.get(rl.order_line_id, 0) + rl.quantity
    return {ln.id: ln.fulfilled - ln.returned - pending.get(ln.id, 0) for ln in info.lines}


class ReturnDialog(StepDialog):
    """Per shipped line: the units coming back, why, and whether they go back to stock; then the refund."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, returns: Sequence[ReturnInfo],
                 reasons: Mapping[str, str], parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.info = info
        self.setWindowTitle(tr("Return from {number}").format(number=info.number))
        self.setMinimumSize(800, 420)
        left = returnable_units(info, returns)
        self.rows: list[tuple[Any, QSpinBox, QComboBox, QComboBox]] = []
        grid_widget = QWidget()
        grid = QGridLayout(grid_widget)
        grid.setHorizontalSpacing(10)
        for col, text in enumerate((tr("Item"), tr("Returnable"), tr("Units back"), tr("Reason"), tr("Condition"))):
            label = QLabel(text)
            label.setObjectName("Muted")
            grid.addWidget(label, 0, col)
        for ln in info.lines:
            if left.get(ln.id, 0) <= 0:
                continue
            units = QSpinBox()
            units.setRange(0, left[ln.id])
            units.valueChanged.connect(self._refresh)
            reason = QComboBox()
            for code, text in reasons.items():
                reason.addItem(text, code)
            condition = QComboBox()
            for code in CONDITIONS:
                condition.addItem(condition_label(code), code)
            r = len(self.rows) + 1
            item = QLabel(f"{ln.sku} · {ln.title}")
            item.setToolTip(item.text())
            item.setMinimumWidth(120)
            item.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)   # cut, never widening
            grid.addWidget(item, r, 0)
            grid.addWidget(QLabel(format_qty(left[ln.id])), r, 1, Qt.AlignmentFlag.AlignRight)
            grid.addWidget(units, r, 2)
            grid.addWidget(reason, r, 3)
            grid.addWidget(condition, r, 4)
            self.rows.append((ln, units, reason, condition))
        grid.setColumnStretch(0, 1)
        grid.setRowStretch(len(self.rows) + 1, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(grid_widget)
        self.refund = QDoubleSpinBox()
        self.refund.setDecimals(2)
        self.refund.setRange(0, MAX_REFUND)
        self.refund.setGroupSeparatorShown(True)
        self.refund.setSuffix(f" {info.currency}")
        self.refund.setMinimumWidth(160)
        self._refund_edited = False     # typed by hand: no longer follows the units
        self._suggesting = False
        self.refund.valueChanged.connect(self._on_refund)
        self.note = QLineEdit()
        self.note.setMaxLength(1000)
        self.note.setPlaceholderText(tr("Note for the people receiving it (optional)"))
        self.note.setMinimumWidth(460)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        form.addRow(tr("Refund"), self.refund)
        form.addRow(tr("Note"), self.note)
        self.summary = muted()
        self.authorise_button = self.add_step_button(tr("Authorise return"), self.authorise)
        text = tr("Nothing moves until the goods arrive (Receive return…). The refund is paid by the store's "
                  "payment gateway; this records the amount decided.")
        self.lay_out(_heading(tr("Which items come back from {customer}?").format(customer=info.customer_name)),
                     muted(text), scroll, form, self.summary, stretch=scroll)
        self._refresh()

    def set_units(self, order_line_id: int, units: int, reason: str = "", condition: str = "") -> None:
        """Fill one line (as a person would with its pickers)."""
        for ln, spin, reason_box, condition_box in self.rows:
            if ln.id == order_line_id:
                spin.setValue(units)
                if reason:
                    reason_box.setCurrentIndex(reason_box.findData(reason))
                if condition:
                    condition_box.setCurrentIndex(condition_box.findData(condition))

    def lines(self) -> list[tuple[int, int, str, str]]:
        return [(ln.id, spin.value(), reason.currentData(), condition.currentData())
                for ln, spin, reason, condition in self.rows if spin.value() > 0]

    def suggested_refund(self) -> Decimal:
        return sum((ln.unit_price * spin.value() for ln, spin, _r, _c in self.rows), Decimal("0"))

    def _on_refund(self, _value: float) -> None:
        if not self._suggesting:
            self._refund_edited = True

    def _refresh(self) -> None:
        units = sum(spin.value() for _ln, spin, _r, _c in self.rows)
        if not self._refund_edited:
            self._suggesting = True
            self.refund.setValue(float(self.suggested_refund()))
            self._suggesting = False
        if not self.rows:
            self.summary.setText(tr("Nothing shipped is left to return on {number}.").format(number=self.info.number))
        else:
            self.summary.setText(plural(units, tr("{n} unit comes back; the items' price is {amount}."),
                                        tr("{n} units come back; the items' price is {amount}."),
                                        amount=format_amount(self.suggested_refund(), self.info.currency)))
        self.authorise_button.setEnabled(units > 0 and not self.busy)

    def authorise(self) -> None:
        oid, op, lines = self.info.id, self.operation_id, self.lines()
        note, amount = self.note.text().strip(), f"{Decimal(str(self.refund.value())):.2f}"
        if lines:
            self.run_step(lambda ops: ops.returns.authorise(oid, lines=lines, note=note, refund_amount=amount, op_id=op),
                          self.authorise_button)


# -- receive a return --------------------------------------------------------------------------------------------------
class ReceiveReturnDialog(StepDialog):
    """An authorised return arrives: restockable units back on hand at the chosen location, damaged ones
    written off."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, returns: Sequence[ReturnInfo],
                 locations: Sequence[dict[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.info = info
        self.returns = [r for r in returns if r.state == "authorised"]
        self.setWindowTitle(tr("Receive a return of {number}").format(number=info.number))
        self.setMinimumSize(600, 380)
        self.which = QComboBox()
        for r in self.returns:
            self.which.addItem(plural(r.units, tr("{number} · {n} unit"), tr("{number} · {n} units"), number=r.number),
                               r.id)
        self.which.currentIndexChanged.connect(lambda _i: self._refresh())
        self.location = QComboBox()
        fill_combo(self.location, stock_locations(locations))
        shipped_from = info.shipments[-1].location_id if info.shipments else default_location(info)
        if shipped_from is not None and self.location.findData(shipped_from) >= 0:
            self.location.setCurrentIndex(self.location.findData(shipped_from))
        self.location.currentIndexChanged.connect(lambda _i: self._refresh())
        form = QFormLayout()
        form.addRow(tr("Return"), self.which)
        form.addRow(tr("Receive at"), self.location)
        self.model = RowsModel([tr("SKU"), tr("Product"), tr("Units"), tr("Condition")], align_right=(2,))
        self.table: QTableView = make_table(self.model, {0: 110, 2: 56, 3: 130}, stretch=(1,))
        self.summary = muted()
        self.receive_button = self.add_step_button(tr("Receive"), self.receive)
        self.lay_out(_heading(tr("The goods of a return arrive")), form, self.table, self.summary, stretch=self.table)
        self._refresh()

    def current(self) -> ReturnInfo | None:
        rid = self.which.currentData()
        return next((r for r in self.returns if r.id == rid), None)

    def _refresh(self) -> None:
        r = self.current()
        lines = r.lines if r is not None else []
        self.model.set_rows([(ln.sku, ln.title, format_qty(ln.quantity), condition_label(ln.condition))
                             for ln in lines])
        restock = sum(ln.quantity for ln in lines if ln.condition == "restock")
        damaged = sum(ln.quantity for ln in lines if ln.condition != "restock")
        where = self.location.currentText().split(" · ", 1)[0] or "—"
        text = plural(restock, tr("{n} unit goes back on hand at {location}."),
                      tr("{n} units go back on hand at {location}."), location=where)
        if damaged:
            text += " " + plural(damaged, tr("{n} damaged unit is written off."), tr("{n} damaged units are written off."))
        self.summary.setText(text if r is not None else tr("No return of this order is waiting to be received."))
        self.receive_button.setEnabled(r is not None and self.location.currentData() is not None and not self.busy)

    def receive(self) -> None:
        r, loc, op = self.current(), self.location.currentData(), self.operation_id
        if r is not None and loc is not None:
            rid = r.id
            self.run_step(lambda ops: ops.returns.receive(rid, location_id=loc, op_id=op), self.receive_button)

    def done_text(self, result: ReturnInfo) -> str:
        return tr("{number} received at {location}.").format(number=result.number, location=result.location)



# -- cancel a return ---------------------------------------------------------------------------------------------------
class CancelReturnDialog(StepDialog):
    """Asks before an authorised return is withdrawn: its goods are no longer expected, nothing moves in
    stock, and the refund decided for it is not paid from here."""

    def __init__(self, context: AppContext, tasks: TaskManager, ret: ReturnInfo, currency: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.ret = ret
        self.setWindowTitle(tr("Cancel {number}").format(number=ret.number))
        self.setMinimumWidth(460)
        heading = _heading(plural(ret.units, tr("Cancel return {number} of {n} unit?"),
                                  tr("Cancel return {number} of {n} units?"), number=ret.number))
        text = tr("Its goods are no longer expected back for {order}; nothing moves in stock.").format(
            order=ret.order_number)
        if ret.refund_amount:
            text += " " + tr("The refund decided ({amount}) is not paid from here.").format(
                amount=format_amount(ret.refund_amount, currency))
        self.cancel_button = self.add_step_button(tr("Cancel return"), self.cancel_return)
        self.buttons.button(self.buttons.StandardButton.Cancel).setText(tr("Keep the return"))
        self.lay_out(heading, muted(text))

    def cancel_return(self) -> None:
        rid, op = self.ret.id, self.operation_id
        self.run_step(lambda ops: ops.returns.cancel(rid, op_id=op), self.cancel_button)

    @staticmethod
    def done_text(result: ReturnInfo) -> str:
        return tr("{number} cancelled: its goods are no longer expected.").format(number=result.number)
