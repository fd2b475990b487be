"""Suppliers and their items. The items of the selected supplier are edited in place like the product
grid (supplier SKU, unit cost, MOQ, pack size, lead time) or in bulk (costs by a percentage); the edits
wait as pending changes, drawn on the changed colour, until Save applies them as one changeset (so they
are recorded with before/after values and can be reverted). A row someone else changed meanwhile is a
conflict, reported and not overwritten."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.suppliers import ItemEdit, ItemsSaved, SupplierItemRow, SupplierRow
from backoffice.ui.context import AppContext
from backoffice.ui.format import format_qty
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.purchasing.common import MoneyRecordsModel
from backoffice.ui.views.purchasing.models import (
    ITEM_FIELDS,
    SUPPLIER_COLUMNS,
    item_columns,
    items_model,
    supplier_tooltip,
)
from backoffice.ui.widgets.pills import elide_sku_columns
from backoffice.ui.widgets.records import setup_table

ITEM_LIMIT = 5000


class SupplierDialog(QDialog):
    """A supplier's details: a new one, or ``row`` to change."""

    def __init__(self, row: SupplierRow | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row = row
        self.setWindowTitle(self.tr("New supplier") if row is None else self.tr("Supplier {name}").format(name=row.name))
        self.name, self.email, self.contact = QLineEdit(), QLineEdit(), QLineEdit()
        self.phone, self.terms, self.notes = QLineEdit(), QLineEdit(), QPlainTextEdit()
        self.notes.setFixedHeight(70)
        self.currency = QLineEdit("EUR")
        self.currency.setMaxLength(3)
        self.lead_time = QSpinBox()
        self.lead_time.setRange(0, 730)
        self.lead_time.setValue(14)
        self.lead_time.setSuffix(self.tr(" days"))
        if row is not None:
            for widget, value in ((self.name, row.name), (self.email, row.email), (self.contact, row.contact_name),
                                  (self.phone, row.phone), (self.terms, row.payment_terms), (self.currency, row.currency)):
                widget.setText(value)
            self.notes.setPlainText(row.notes)
            self.lead_time.setValue(row.lead_time_days)
        form = QFormLayout(self)
        for label, widget in ((self.tr("Name"), self.name), (self.tr("E-mail"), self.email),
                              (self.tr("Contact"), self.contact), (self.tr("Phone"), self.phone),
                              (self.tr("Currency"), self.currency), (self.tr("Default lead time"), self.lead_time),
                              (self.tr("Payment terms"), self.terms), (self.tr("Notes"), self.notes)):
            form.addRow(label, widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict[str, Any]:
        return {"name": self.name.text(), "email": self.email.text(), "contact_name": self.contact.text(),
                "phone": self.phone.text(), "currency": self.currency.text(), "lead_time_days": self.lead_time.value(),
                "payment_terms": self.terms.text(), "notes": self.notes.toPlainText()}


class SuppliersPanel(QWidget):
    message = Signal(str, str)
    loading_changed = Signal(bool)
    suppliers_loaded = Signal(object)    # list[SupplierRow], for the order editor's picker

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self.loading_changed)
        self.runner.busy_changed.connect(lambda _b: self._refresh())
        self.runner.failed.connect(lambda text: self.message.emit(text, "error"))
        self._generation = 0
        self.needs_reload = True
        self.pending: dict[int, dict[str, Any]] = {}     # item id -> field -> new value
        self._read: dict[int, SupplierItemRow] = {}      # item id -> the row as read (version, values)

        self.add_button = QPushButton(self.tr("New supplier…"))
        self.add_button.clicked.connect(self.add_supplier)
        self.supplier_model = MoneyRecordsModel(SUPPLIER_COLUMNS, self, tooltip=supplier_tooltip)
        self.supplier_table = QTableView()
        setup_table(self.supplier_table, self.supplier_model, stretch=SUPPLIER_COLUMNS[0].header)
        self.supplier_table.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.supplier_table.selectionModel().currentRowChanged.connect(self._on_supplier)
        self.supplier_table.doubleClicked.connect(lambda _i: self.edit_supplier())
        self.edit_button = QPushButton(self.tr("Edit…"))
        self.edit_button.clicked.connect(self.edit_supplier)
        self.items_label = QLabel()
        self.items_label.setObjectName("DetailsTitle")
        self.model = items_model(self, self._on_edit, lambda r: r.id in self.pending)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=item_columns()[2].header)
        elide_sku_columns(self.table, self.model)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.bulk_button = QPushButton(self.tr("Change costs by %…"))
        self.bulk_button.setToolTip(self.tr("Raise or lower the unit cost of the selected items (all, if none is "
                                            "selected) by a percentage"))
        self.bulk_button.clicked.connect(self.bulk_cost)
        self.discard_button = QPushButton(self.tr("Discard"))
        self.discard_button.clicked.connect(self.discard)
        self.save_button = QPushButton(self.tr("Save changes"))
        self.save_button.setProperty("primary", True)
        self.save_button.clicked.connect(self.save)
        self.status = QLabel()
        self.status.setObjectName("Muted")

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.edit_button)
        top.addWidget(self.add_button)
        left_layout.addLayout(top)
        left_layout.addWidget(self.supplier_table, 1)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.items_label)
        right_layout.addWidget(self.table, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.status, 1)
        for b in (self.bulk_button, self.discard_button, self.save_button):
            actions.addWidget(b)
        right_layout.addLayout(actions)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([400, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(splitter, 1)
        self._refresh()

    def is_loading(self) -> bool:
        return self.runner.busy

    # -- suppliers ------------------------------------------------------------------------------------
    def reload(self) -> None:
        if self.context.ops is None:
            self.needs_reload = True
            return
        self.needs_reload = False
        self.runner.read(lambda ops: ops.suppliers.list(), self._on_suppliers)

    def _on_suppliers(self, rows: list[SupplierRow]) -> None:
        current = self.current_supplier()
        self.supplier_model.set_rows(rows)
        self.suppliers_loaded.emit(rows)
        keep = next((i for i, r in enumerate(rows) if current is not None and r.id == current.id), 0 if rows else -1)
        if keep >= 0:
            self.supplier_table.setCurrentIndex(self.supplier_model.index(keep, 0))
            if current is not None and rows[keep].id == current.id:
                self.load_items()

    def current_supplier(self) -> SupplierRow | None:
        index = self.supplier_table.currentIndex()
        return self.supplier_model.row_at(index.row()) if index.isValid() else None

    def _on_supplier(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.pending.clear()
        self.load_items()

    def add_supplier(self) -> None:
        dialog = SupplierDialog(self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        values = dialog.values()
        self.runner.write(lambda ops: ops.suppliers.create(values, op_id=uuid.uuid4().hex),
                          partial(self._supplier_saved, self.tr("Supplier {name} added.")))

    def edit_supplier(self) -> None:
        row = self.current_supplier()
        if row is None:
            return
        dialog = SupplierDialog(row, self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        values = dialog.values()
        self.runner.write(lambda ops: ops.suppliers.update(row.id, expected_version=row.version, values=values),
                          partial(self._supplier_saved, self.tr("Supplier {name} saved.")))

    def _supplier_saved(self, text: str, saved: Any) -> None:
        self.message.emit(text.format(name=saved.values.get("name", "")), "success")
        self.reload()

    # -- items ------------------------------------------------------------------------------------------
    def load_items(self) -> None:
        supplier = self.current_supplier()
        self._generation += 1
        if self.context.ops is None or supplier is None:
            self.model.clear()
            return
        gen = self._generation
        self.items_label.setText(self.tr("Items from {name}").format(name=supplier.name))
        self.runner.read(lambda ops: ops.suppliers.items(supplier_id=supplier.id, limit=ITEM_LIMIT),
                         partial(self._on_items, gen))

    def _on_items(self, gen: int, rows: list[SupplierItemRow]) -> None:
        if gen != self._generation:
            return
        self._read = {r.id: r for r in rows}
        self.model.set_rows([self._with_pending(r) for r in rows])

    def _with_pending(self, row: SupplierItemRow) -> SupplierItemRow:
        values = self.pending.get(row.id, {})
        return replace(row, **values) if values else row

    def _on_edit(self, row: int, column: int, value: Any) -> bool:
        item = self.model.row_at(row)
        name = ITEM_FIELDS.get(column)
        if item is None or name is None:
            return False
        text = str(value).strip() if value is not None else ""
        try:
            if name == "unit_cost":
                new: Any = Decimal(text.replace(",", ".")).quantize(Decimal("0.01"))
                if new < 0:
                    return False
            elif name == "supplier_sku":
                new = text
            elif name == "lead_time_days" and text == "":
                new = None
            else:
                new = int(text)
                if new < (0 if name == "lead_time_days" else 1):
                    return False
        except (InvalidOperation, ValueError):
            self.message.emit(self.tr("“{value}” is not valid for {field}.").format(value=value, field=name), "error")
            return False
        self._stage(item.id, name, new)
        self.model.replace_row(row, self._with_pending(self._read[item.id]))
        self._refresh()
        return True

    def _stage(self, item_id: int, name: str, value: Any) -> None:
        original = getattr(self._read[item_id], name)
        fields = self.pending.setdefault(item_id, {})
        if value == original:
            fields.pop(name, None)
        else:
            fields[name] = value
        if not fields:
            self.pending.pop(item_id, None)

    def bulk_cost(self) -> None:
        percent, ok = QInputDialog.getDouble(self, self.tr("Change costs"), self.tr("Change the unit cost by (%)"),
                                             0.0, -90.0, 500.0, 1)
        if not ok or percent == 0:
            return
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()}) or range(self.model.rowCount())
        factor = 1 + Decimal(str(percent)) / 100
        for r in rows:
            item = self.model.row_at(r)
            new = (item.unit_cost * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            self._stage(item.id, "unit_cost", new)
        self.model.set_rows([self._with_pending(r) for r in self._read.values()])
        self._refresh()

    def discard(self) -> None:
        self.pending.clear()
        self.model.set_rows(list(self._read.values()))
        self._refresh()

    def save(self) -> None:
        if self.context.ops is None or not self.pending or self.runner.busy:
            return
        supplier = self.current_supplier()
        edits = [ItemEdit(item_id, self._read[item_id].version, dict(values),
                          {k: str(getattr(self._read[item_id], k)) for k in values})
                 for item_id, values in sorted(self.pending.items())]
        description = self.tr("Supplier items of {name}").format(name=supplier.name if supplier else "")
        op = uuid.uuid4().hex
        self.runner.write(lambda ops: ops.suppliers.save_items(edits, description=description, op_id=op),
                          self._on_saved)

    def _on_saved(self, result: ItemsSaved) -> None:
        conflicted = set(result.conflicts)
        self.pending = {k: v for k, v in self.pending.items() if k in conflicted}
        if result.conflicts:
            self.message.emit(self.tr("{n} rows were changed by someone else meanwhile and were not saved; they are "
                                      "reloaded with their current values.").format(n=format_qty(len(conflicted))),
                              "warning")
            self.pending.clear()
        else:
            self.message.emit(self.tr("{n} supplier items saved as changeset {id}.").format(
                n=format_qty(result.applied_rows), id=result.changeset_id), "success")
        self.load_items()

    def _refresh(self) -> None:
        n = len(self.pending)
        self.save_button.setEnabled(bool(n) and not self.runner.busy)
        self.discard_button.setEnabled(bool(n) and not self.runner.busy)
        self.bulk_button.setEnabled(self.model.rowCount() > 0 and not self.runner.busy)
        total = self.model.rowCount()
        text = self.tr("{n} items · ★ preferred · empty lead time: the supplier's default").format(n=format_qty(total))
        self.status.setText(text + (" · " + self.tr("{n} rows changed").format(n=format_qty(n)) if n else ""))

