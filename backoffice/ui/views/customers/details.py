"""The selected customer: their details, what they are worth (orders, lifetime value, returns), their
recent orders, and Edit…, Export data… and Erase…."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.customers import CustomerInfo
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import NO_VALUE, error_text, format_money, format_when, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.customers.dialogs import EditCustomerDialog, EraseCustomerDialog
from backoffice.ui.views.customers.models import display_name, recent_orders_model
from backoffice.ui.views.orders.models import STATE, STATE_COLOURS, fit_headings, tr
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.pills import StatePill, StatePillDelegate
from backoffice.ui.widgets.records import setup_table
from backoffice.ui.widgets.rows import muted


class CustomerPanel(QFrame):
    """Shows one customer; loads in the background, dropping answers for an older selection."""

    message = Signal(str, str)      # text, level: for the view's banner

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.info: CustomerInfo | None = None
        self.dialog: QWidget | None = None
        self._generation = 0
        self._loading_id: int | None = None

        self.heading = QLabel()
        self.heading.setObjectName("DetailsTitle")
        self.heading.setWordWrap(True)
        self.erased_pill = StatePill(lambda _s: tr("Erased"), colours={"erased": theme.DANGER})
        self.edit_button = self._button(tr("Edit…"), self.open_edit, primary=True)
        self.export_button = self._button(tr("Export data…"), self.ask_export)
        self.erase_button = self._button(tr("Erase…"), self.open_erase)
        self.stats = QLabel()
        self.stats.setWordWrap(True)
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(4)
        for key, label in (("email", tr("E-mail")), ("phone", tr("Phone")), ("address", tr("Address")),
                           ("country", tr("Country")), ("note", tr("Note")), ("since", tr("Customer since"))):
            value = QLabel()
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = value
            caption = QLabel(label)
            caption.setObjectName("Muted")
            form.addRow(caption, value)
        self.orders = recent_orders_model(self)
        self.orders_table = QTableView()
        setup_table(self.orders_table, self.orders, selectable=False, stretch=STATE)
        fit_headings(self.orders_table, self.orders)
        self.orders_table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.orders_table.setItemDelegateForColumn(self.orders.column_of(STATE),
                                                   StatePillDelegate(self.orders_table, STATE_COLOURS))
        self.orders_caption = QLabel()
        self.orders_caption.setObjectName("Muted")

        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.erased_pill)
        for button in (self.erase_button, self.export_button, self.edit_button):
            top.addWidget(button)
        details = QVBoxLayout()
        details.setSpacing(8)
        details.addWidget(self.stats)
        details.addLayout(form)
        details.addStretch(1)
        orders = QVBoxLayout()
        orders.setSpacing(4)
        orders.addWidget(self.orders_caption)
        orders.addWidget(self.orders_table, 1)
        body = QHBoxLayout()
        body.setSpacing(18)
        body.addLayout(details, 2)
        body.addLayout(orders, 3)
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        column.addLayout(top)
        column.addLayout(body, 1)
        self.empty = EmptyState("user", tr("No customer selected"),
                                tr("Select a customer to see their details and orders."))
        self.pages = QStackedWidget()
        self.pages.addWidget(page)
        self.pages.addWidget(self.empty)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addWidget(self.pages)
        self.clear()

    def _button(self, text: str, slot, *, primary: bool = False) -> QPushButton:  # type: ignore[no-untyped-def]
        button = QPushButton(text)
        if primary:
            button.setProperty("primary", True)
        button.clicked.connect(slot)
        return button

    # -- loading ----------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.runner.busy

    @property
    def customer_id(self) -> int | None:
        return self.info.id if self.info is not None else self._loading_id

    def load(self, customer_id: int) -> None:
        self._generation += 1
        self._loading_id = customer_id
        gen = self._generation
        self.runner.read(lambda ops: ops.customers.get(customer_id), partial(self._show, gen),
                         on_error=partial(self._failed, gen))

    def reload(self) -> None:
        if self.customer_id is not None:
            self.load(self.customer_id)

    def clear(self) -> None:
        self._generation += 1
        self._loading_id = None
        self.info = None
        self.pages.setCurrentWidget(self.empty)

    def _failed(self, gen: int, exc: BaseException) -> None:
        if gen == self._generation:
            self.message.emit(tr("The customer could not be loaded: {error}").format(error=error_text(exc)), "error")

    def _show(self, gen: int, info: CustomerInfo) -> None:
        if gen == self._generation:
            self.show_customer(info)

    def show_customer(self, info: CustomerInfo) -> None:
        self.info = info
        erased = info.erased_at is not None
        self.heading.setText(display_name(info.name, info.email, erased))
        self.erased_pill.set_state("erased" if erased else "")
        if erased:
            self.erased_pill.setToolTip(tr("Personal data erased {when}").format(when=format_when(info.erased_at)))
        values = {"email": info.email, "phone": info.phone, "address": info.address, "country": info.country,
                  "note": info.note, "since": format_when(info.created_at)}
        for key, label in self.fields.items():
            label.setText(values[key] or NO_VALUE)
        parts = [plural(info.orders, tr("{n} order"), tr("{n} orders")),
                 tr("lifetime value {amount}").format(amount=format_money(info.lifetime_value))]
        if info.refunded:
            parts.append(tr("{amount} refunded").format(amount=format_money(info.refunded)))
        parts.append(plural(info.returns, tr("{n} return"), tr("{n} returns")) + (
            " " + plural(info.returned_units, tr("({n} unit)"), tr("({n} units)")) if info.returns else ""))
        self.stats.setText(" · ".join(parts))
        self.orders.set_rows(info.recent_orders)
        self.orders_caption.setText(tr("Recent orders") if info.recent_orders else tr("No orders yet"))
        self.orders_table.setVisible(bool(info.recent_orders))
        self._refresh_actions()
        self.pages.setCurrentIndex(0)

    def _refresh_actions(self) -> None:
        erased = self.info is None or self.info.erased_at is not None
        for button, operation in ((self.edit_button, "customers.update"), (self.export_button, "customers.export"),
                                  (self.erase_button, "customers.erase")):
            may = self.context.may(operation)
            button.setEnabled(may and (self.info is not None) and (operation == "customers.export" or not erased))
            button.setToolTip("" if may else tr("For the roles {roles}.").format(roles=self.context.roles_for(operation)))

    # -- actions ------------------------------------------------------------------------------------------------
    def open_edit(self) -> EditCustomerDialog | None:
        if self.info is None or self.info.erased_at is not None:
            return None
        dialog = EditCustomerDialog(self.context, self.tasks, self.info, self)
        dialog.saved.connect(lambda info: self.message.emit(tr("{name} saved.").format(name=info.label), "success"))
        dialog.rejected.connect(self.reload)     # a conflict read the customer again: so does the panel
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_erase(self) -> EraseCustomerDialog | None:
        if self.info is None or self.info.erased_at is not None:
            return None
        dialog = EraseCustomerDialog(self.context, self.tasks, self.info, self)
        dialog.completed.connect(self._erased)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _erased(self, info: CustomerInfo) -> None:
        self.show_customer(info)
        self.message.emit(tr("The personal data of customer {id} was erased; their orders are kept.").format(id=info.id),
                          "success")

    def ask_export(self) -> None:
        if self.info is None:
            return
        suggested = str(Path.home() / f"customer-{self.info.id}.json")
        path, _ = QFileDialog.getSaveFileName(self, tr("Export the customer's data"), suggested,
                                              tr("JSON file (*.json)"))
        if path:
            self.export_to(path if path.lower().endswith(".json") else f"{path}.json")

    def export_to(self, path: str) -> None:
        """Everything held about the customer, as a JSON file at ``path`` (written in the background)."""
        if self.info is None:
            return
        cid = self.info.id
        self.export_button.setEnabled(False)
        self.runner.read(lambda ops: ops.customers.export(cid, path), self._exported, on_error=self._export_failed)

    def _exported(self, written: str) -> None:
        self._refresh_actions()
        self.message.emit(tr("The customer's data was written to {path}").format(path=written), "success")

    def _export_failed(self, exc: BaseException) -> None:
        self._refresh_actions()
        self.message.emit(tr("The export failed: {error}").format(error=error_text(exc)), "error")
