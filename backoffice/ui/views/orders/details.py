"""The selected order: who, what state and why (the allocation rule as applied to it), its lines with where
each unit is held, its shipments, returns and timeline; and the steps its state allows (Fulfil…,
Cancel…, Return…, Receive return…, Record payment…; on the Returns tab, for the selected return, Cancel
return… and Record refund…), each in a dialog that writes through the contract. A step the signed-in
role may not take is shown off, its tooltip naming the roles that may."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.orders import OrderInfo
from backoffice.operations.returns import ReturnInfo
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_amount, format_when, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.orders.dialogs import (
    CancelOrderDialog,
    CancelReturnDialog,
    ReceiveReturnDialog,
    ReturnDialog,
    returnable_units,
)
from backoffice.ui.views.orders.fulfil_dialog import FulfilDialog
from backoffice.ui.views.orders.models import (
    OPEN_STATES,
    RETURN_HEADERS,
    SHIPMENT_HEADERS,
    SHIPPABLE_STATES,
    STATE_COLOURS,
    TIMELINE_HEADERS,
    fit_headings,
    lines_model,
    payment_label,
    return_values,
    shipment_values,
    state_hint,
    state_label,
    timeline_values,
    tr,
)
from backoffice.ui.views.orders.payments import RecordPaymentDialog, RecordRefundDialog
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.pills import StatePill, elide_sku_columns
from backoffice.ui.widgets.records import setup_table
from backoffice.ui.widgets.rows import RowsModel, make_table, muted
from backoffice.ui.widgets.step_dialog import StepDialog


class OrderPanel(QFrame):
    """Shows one order; loads it (with its returns) in the background, dropping answers for an older
    selection. ``message`` carries results and errors to the view's banner."""

    message = Signal(str, str)      # text, level

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.info: OrderInfo | None = None
        self.returns: list[ReturnInfo] = []
        self.locations: list[dict[str, Any]] = []
        self.dialog: StepDialog | None = None
        self._generation = 0
        self._loading_id: int | None = None

        self.heading = QLabel()
        self.heading.setObjectName("DetailsTitle")
        self.pill = StatePill(state_label, tr("overdue"), colours=STATE_COLOURS)
        self.payment = QLabel()
        self.payment.setObjectName("Muted")
        self.fulfil_button = self._button(tr("Fulfil…"), self.open_fulfil, primary=True)
        self.cancel_button = self._button(tr("Cancel…"), self.open_cancel)
        self.return_button = self._button(tr("Return…"), self.open_return)
        self.receive_button = self._button(tr("Receive return…"), self.open_receive)
        self.payment_button = self._button(tr("Record payment…"), self.open_payment)
        self.payment_button.setProperty("flat", True)
        self.meta = muted()
        self.note = muted()
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.lines = lines_model(self)
        self.lines_table = QTableView()
        setup_table(self.lines_table, self.lines, stretch=self.lines.columns[1].header, selectable=False)
        fit_headings(self.lines_table, self.lines)
        elide_sku_columns(self.lines_table, self.lines)
        self.lines_table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.shipments = RowsModel([tr(h) for h in SHIPMENT_HEADERS], align_right=(5,))
        self.returns_model = RowsModel([tr(h) for h in RETURN_HEADERS], align_right=(2,))
        self.timeline = RowsModel([tr(h) for h in TIMELINE_HEADERS])
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.lines_table, "")
        self.tabs.addTab(make_table(self.shipments, {0: 110, 1: 80, 2: 110, 3: 170, 4: 140, 5: 60}), "")
        self.returns_table = make_table(self.returns_model, {0: 110, 1: 96, 2: 60, 3: 250, 4: 140})
        self.returns_table.selectionModel().currentRowChanged.connect(lambda *_: self._refresh_return_steps())
        self.cancel_return_button = self._button(tr("Cancel return…"), self.open_cancel_return)
        self.refund_button = self._button(tr("Record refund…"), self.open_refund)
        self.return_hint = muted(wrap=False)
        self.tabs.addTab(self._returns_page(), "")
        self.tabs.addTab(make_table(self.timeline, {0: 140, 1: 100}), "")

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.heading)
        top.addWidget(self.pill)
        top.addWidget(self.payment)
        top.addWidget(self.payment_button)
        top.addStretch(1)
        for button in (self.receive_button, self.return_button, self.cancel_button, self.fulfil_button):
            top.addWidget(button)
        order_page = QWidget()
        column = QVBoxLayout(order_page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(6)
        column.addLayout(top)
        column.addWidget(self.meta)
        column.addWidget(self.note)
        column.addWidget(self.tabs, 1)
        self.empty = EmptyState("orders", tr("No order selected"), tr("Select an order to see its lines, "
                                                                          "shipments, returns and timeline."))
        self.pages = QStackedWidget()
        self.pages.addWidget(order_page)
        self.pages.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addWidget(self.pages)
        self.clear()

    def _returns_page(self) -> QWidget:
        """The returns of the order, and the steps on the selected one above them."""
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 6, 0, 0)
        column.setSpacing(6)
        bar = QHBoxLayout()
        bar.addWidget(self.return_hint, 1)
        bar.addWidget(self.cancel_return_button)
        bar.addWidget(self.refund_button)
        column.addLayout(bar)
        column.addWidget(self.returns_table, 1)
        return page

    def _button(self, text: str, slot: Any, *, primary: bool = False) -> QPushButton:
        button = QPushButton(text)
        if primary:
            button.setProperty("primary", True)
        button.clicked.connect(slot)
        return button

    # -- loading -----------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.runner.busy

    @property
    def order_id(self) -> int | None:
        return self.info.id if self.info is not None else self._loading_id

    def set_locations(self, locations: Sequence[dict[str, Any]]) -> None:
        self.locations = list(locations)

    def load(self, order_id: int) -> None:
        self._generation += 1
        self._loading_id = order_id
        gen = self._generation
        self.runner.read(lambda ops: (ops.orders.get(order_id), ops.returns.list(order_id=order_id)),
                         partial(self._show, gen), on_error=partial(self._failed, gen))

    def reload(self) -> None:
        if self.order_id is not None:
            self.load(self.order_id)

    def clear(self) -> None:
        self._generation += 1
        self._loading_id = None
        self.info, self.returns = None, []
        self.pages.setCurrentWidget(self.empty)

    def _failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.message.emit(tr("The order could not be loaded: {error}").format(error=error_text(exc)), "error")

    def _show(self, gen: int, loaded: tuple[OrderInfo, list[ReturnInfo]]) -> None:
        if gen != self._generation:
            return
        self.show_order(*loaded)

    def show_order(self, info: OrderInfo, returns: Sequence[ReturnInfo]) -> None:
        self.info, self.returns = info, list(returns)
        self.heading.setText(info.number)
        self.pill.set_state(info.state, info.overdue)
        self.pill.setToolTip(state_hint(info.state))
        self.payment.setText(tr("Payment: {status}").format(status=payment_label(info.status)))
        who = info.customer_name + (f" <{info.customer_email}>" if info.customer_email and
                                    info.customer_email != info.customer_name else "")
        self.meta.setText(" · ".join([who, tr("{channel} channel").format(channel=info.channel),
                                      tr("ordered {when}").format(when=format_when(info.ordered_at)),
                                      tr("total {amount}").format(amount=format_amount(info.total, info.currency))]))
        note = self.note_text(info)
        self.note.setText(note)
        self.note.setVisible(bool(note))
        self.lines.set_rows(info.lines)
        self.shipments.set_rows([shipment_values(s) for s in info.shipments])
        chosen = self.selected_return()
        self.returns_model.set_rows([return_values(r, info.currency) for r in self.returns], self.returns)
        self.select_return(chosen.id if chosen is not None else None)
        self.timeline.set_rows([timeline_values(e) for e in reversed(info.timeline)])
        for i, (one, many, n) in enumerate(((tr("{n} line"), tr("{n} lines"), len(info.lines)),
                                            (tr("{n} shipment"), tr("{n} shipments"), len(info.shipments)),
                                            (tr("{n} return"), tr("{n} returns"), len(self.returns)),
                                            (tr("Timeline ({n})"), tr("Timeline ({n})"), len(info.timeline)))):
            self.tabs.setTabText(i, plural(n, one, many))
        self._refresh_steps()
        self.pages.setCurrentIndex(0)

    @staticmethod
    def note_text(info: OrderInfo) -> str:
        """How the order was allocated (the rule, and where each line's units went), or why it waits."""
        parts = []
        if info.state == "new":
            parts.append(tr("Not processed yet: nothing is reserved. Processing reserves its units by the "
                            "allocation rule of the order settings."))
        elif info.allocation_note:
            parts.append(info.allocation_note)
        if info.waiting and info.state != "new":
            parts.append(plural(info.waiting, tr("{n} unit waits for stock: it is reserved when stock arrives."),
                                tr("{n} units wait for stock: they are reserved when stock arrives.")))
        if info.cancel_reason:
            parts.append(tr("Cancelled: {reason}").format(reason=info.cancel_reason))
        return "\n".join(parts)

    # -- the returns tab -------------------------------------------------------------------------------------------
    def selected_return(self) -> ReturnInfo | None:
        index = self.returns_table.currentIndex()
        return self.returns_model.object_at(index.row()) if index.isValid() else None

    def select_return(self, return_id: int | None) -> None:
        """Select the return ``return_id`` (None, or one no longer listed: the newest)."""
        rows = [i for i, r in enumerate(self.returns) if r.id == return_id] or \
            ([len(self.returns) - 1] if self.returns else [])
        if rows:
            self.returns_table.setCurrentIndex(self.returns_model.index(rows[0], 0))
        self._refresh_return_steps()

    def _refresh_return_steps(self) -> None:
        chosen = self.selected_return()
        state = chosen.state if chosen is not None else ""
        for button, operation, possible, why in (
                (self.cancel_return_button, "returns.cancel", state == "authorised",
                 tr("Only a return whose goods have not arrived yet can be cancelled.")),
                (self.refund_button, "returns.record_refund", state in ("authorised", "received"),
                 tr("A cancelled return has no refund to record."))):
            may = self.context.may(operation)
            button.setEnabled(possible and may)
            if not may:
                button.setToolTip(tr("For the roles {roles}.").format(roles=self.context.roles_for(operation)))
            else:
                button.setToolTip("" if possible or chosen is None else why)
        self.cancel_return_button.setVisible(bool(self.returns))
        self.refund_button.setVisible(bool(self.returns))
        if not self.returns:
            self.return_hint.setText(tr("No returns: Return… authorises one against the units shipped."))
        elif chosen is None:
            self.return_hint.setText(tr("Select a return to cancel it or record its refund."))
        else:
            self.return_hint.setText(tr("{number}: {units} · refund {refund}").format(
                number=chosen.number, units=plural(chosen.units, tr("{n} unit"), tr("{n} units")),
                refund=return_values(chosen, self.info.currency if self.info else "")[3]))

    # -- steps --------------------------------------------------------------------------------------------------
    def _refresh_steps(self) -> None:
        info = self.info
        state = info.state if info else ""
        returnable = bool(info) and any(n > 0 for n in returnable_units(info, self.returns).values())  # type: ignore[arg-type]
        waiting_return = any(r.state == "authorised" for r in self.returns)
        for button, operation, possible in (
                (self.fulfil_button, "orders.fulfil", state in SHIPPABLE_STATES),
                (self.cancel_button, "orders.cancel", state in OPEN_STATES),
                (self.return_button, "returns.authorise", returnable),
                (self.receive_button, "returns.receive", waiting_return)):
            may = self.context.may(operation)
            button.setVisible(possible)
            button.setEnabled(possible and may)
            button.setToolTip("" if may else tr("For the roles {roles}.").format(roles=self.context.roles_for(operation)))
        may_pay = self.context.may("orders.record_payment")
        self.payment_button.setVisible(info is not None)
        self.payment_button.setEnabled(info is not None and may_pay)
        self.payment_button.setToolTip(tr("The payment status as the store reports it") if may_pay else
                                       tr("For the roles {roles}.").format(
                                           roles=self.context.roles_for("orders.record_payment")))
        self._refresh_return_steps()

    def _open(self, dialog: StepDialog, done_text: Any) -> StepDialog:
        dialog.completed.connect(lambda result: self.message.emit(done_text(result), "success"))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_fulfil(self) -> FulfilDialog | None:
        if self.info is None or self.info.state not in SHIPPABLE_STATES:
            return None
        dialog = FulfilDialog(self.context, self.tasks, self.info, self.locations, self)
        self._open(dialog, dialog.done_text)
        return dialog

    def open_cancel(self) -> CancelOrderDialog | None:
        if self.info is None or self.info.state not in OPEN_STATES:
            return None
        dialog = CancelOrderDialog(self.context, self.tasks, self.info, self)
        dialog.stale.connect(self.reload)
        self._open(dialog, lambda info: tr("{number} cancelled: its reservations were released.").format(
            number=info.number))
        return dialog

    def open_return(self) -> ReturnDialog | None:
        if self.info is None:
            return None
        info, returns = self.info, list(self.returns)
        self.runner.read(lambda ops: ops.returns.reasons(), partial(self._open_return, info, returns),
                         on_error=lambda exc: self.message.emit(error_text(exc), "error"))
        return None

    def _open_return(self, info: OrderInfo, returns: list[ReturnInfo], reasons: dict[str, str]) -> None:
        if self.info is None or self.info.id != info.id:
            return
        dialog = ReturnDialog(self.context, self.tasks, info, returns, reasons, self)
        self._open(dialog, lambda r: tr("{number} authorised for {order}: receive it when the goods arrive.").format(
            number=r.number, order=r.order_number))

    def open_receive(self) -> ReceiveReturnDialog | None:
        if self.info is None or not any(r.state == "authorised" for r in self.returns):
            return None
        dialog = ReceiveReturnDialog(self.context, self.tasks, self.info, self.returns, self.locations, self)
        self._open(dialog, dialog.done_text)
        return dialog

    def open_payment(self) -> RecordPaymentDialog | None:
        if self.info is None or not self.context.may("orders.record_payment"):
            return None
        dialog = RecordPaymentDialog(self.context, self.tasks, self.info, self)
        self._open(dialog, dialog.done_text)
        return dialog

    def open_cancel_return(self) -> CancelReturnDialog | None:
        chosen = self.selected_return()
        if self.info is None or chosen is None or chosen.state != "authorised":
            return None
        dialog = CancelReturnDialog(self.context, self.tasks, chosen, self.info.currency, self)
        self._open(dialog, dialog.done_text)
        return dialog

    def open_refund(self) -> RecordRefundDialog | None:
        chosen = self.selected_return()
        if self.info is None or chosen is None or chosen.state == "cancelled":
            return None
        dialog = RecordRefundDialog(self.context, self.tasks, chosen, self.info.currency, self)
        self._open(dialog, dialog.done_text)
        return dialog
