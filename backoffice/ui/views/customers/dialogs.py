"""Editing a customer's details (checked against the version read: someone else's save meanwhile is a
conflict, shown and read again, never overwritten), and erasing their personal data (GDPR), which says
what goes and what stays before it is done."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import ConflictError
from backoffice.operations.customers import CustomerInfo
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.orders.models import tr
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import muted
from backoffice.ui.widgets.step_dialog import StepDialog

class EditCustomerDialog(QDialog):
    """Name, e-mail, phone, address, country and note; only the fields changed are sent."""

    saved = Signal(object)   # the CustomerInfo after the save

    def __init__(self, context: AppContext, tasks: TaskManager, info: CustomerInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = Runner(context, tasks, self)
        self.info = info
        self.setWindowTitle(tr("Edit {name}").format(name=info.label))
        self.setMinimumWidth(520)
        self.name = QLineEdit()
        self.name.setMaxLength(200)
        self.email = QLineEdit()
        self.email.setMaxLength(255)
        self.phone = QLineEdit()
        self.phone.setMaxLength(40)
        self.country = QLineEdit()
        self.country.setMaxLength(2)
        self.country.setFixedWidth(60)
        self.country.setToolTip(tr("Two-letter country code (DE, FR, NL…)"))
        self.address = QPlainTextEdit()
        self.address.setFixedHeight(72)
        self.note = QPlainTextEdit()
        self.note.setFixedHeight(64)
        self.note.setPlaceholderText(tr("For the team: preferences, agreements (the customer may ask for a copy)"))
        form = QFormLayout()
        form.addRow(tr("Name"), self.name)
        form.addRow(tr("E-mail"), self.email)
        form.addRow(tr("Phone"), self.phone)
        form.addRow(tr("Address"), self.address)
        form.addRow(tr("Country"), self.country)
        form.addRow(tr("Note"), self.note)
        self.banner = MessageBanner()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setProperty("primary", True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.addLayout(form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self.fill(info)

    def fill(self, info: CustomerInfo) -> None:
        self.info = info
        self.name.setText(info.name)
        self.email.setText(info.email)
        self.phone.setText(info.phone)
        self.country.setText(info.country)
        self.address.setPlainText(info.address)
        self.note.setPlainText(info.note)

    def values(self) -> dict[str, str]:
        return {"name": self.name.text().strip(), "email": self.email.text().strip(), "phone": self.phone.text().strip(),
                "address": self.address.toPlainText().strip(), "note": self.note.toPlainText().strip(),
                "country": self.country.text().strip().upper()}

    def changed_values(self) -> dict[str, str]:
        return {k: v for k, v in self.values().items() if v != (getattr(self.info, k) or "")}

    def save(self) -> None:
        changed = self.changed_values()
        if not changed:
            self.accept()
            return
        cid, version = self.info.id, self.info.version
        self.save_button.setEnabled(False)
        if not self.runner.write(lambda ops: ops.customers.update(cid, expected_version=version, values=changed),
                                 self._saved, on_error=self._failed):
            self.save_button.setEnabled(True)

    def _saved(self, info: CustomerInfo) -> None:
        self.saved.emit(info)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        if not isinstance(exc, ConflictError):
            self.banner.show_message(error_text(exc), "error")
            return
        # Someone else saved this customer since it was read: show their version; ours is not written over it.
        self.banner.show_message(tr("Someone else changed {name} after you opened it, so your changes were not "
                                    "saved. The form now shows the details as they are; make your changes "
                                    "again and save.").format(name=self.info.label), "error")
        cid = self.info.id
        self.runner.read(lambda ops: ops.customers.get(cid), self.fill,
                         on_error=lambda e: self.banner.show_message(error_text(e), "error"))


class EraseCustomerDialog(StepDialog):
    """Says exactly what erasing removes and what it keeps, then anonymises the customer."""

    def __init__(self, context: AppContext, tasks: TaskManager, info: CustomerInfo, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.info = info
        self.setWindowTitle(tr("Erase {name}").format(name=info.label))
        self.setMinimumWidth(520)
        heading = QLabel(tr("Erase the personal data of {name}?").format(name=info.label))
        heading.setObjectName("DetailsTitle")
        heading.setWordWrap(True)
        removed = muted(tr("<b>Removed:</b> name, e-mail address, phone, postal address, note and age band."))
        orders = plural(info.orders, tr("{n} order"), tr("{n} orders"))
        kept = muted(tr("<b>Kept, without their name:</b> the country (for the tax accounting) and their {orders} "
                        "with amounts, shipments, returns and the stock they moved. The audit log records that "
                        "you erased them, never the details.").format(orders=orders))
        warning = QLabel(tr("This cannot be undone. If they asked for a copy of their data, export it first."))
        warning.setWordWrap(True)
        warning.setStyleSheet(f"color: {theme.DANGER};")
        self.erase_button = self.add_step_button(tr("Erase personal data"), self.erase)
        self.erase_button.setStyleSheet(f"background: {theme.DANGER}; border-color: {theme.DANGER}; color: white;")
        self.lay_out(heading, removed, kept, warning)

    def erase(self) -> None:
        cid, op = self.info.id, self.operation_id
        self.run_step(lambda ops: ops.customers.erase(cid, op_id=op), self.erase_button)

