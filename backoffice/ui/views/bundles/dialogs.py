"""Editing a bundle (its SKU, pricing rule and components; a stale save is a conflict shown, never an
overwrite) and a mix-and-match rule. Saves run through the operations contract off the GUI thread."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.bundles import BundleRow, ComponentSpec, RuleRow
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.bundles.models import tr
from backoffice.ui.widgets.banner import MessageBanner


class BundleDialog(QDialog):
    """A new bundle (no ``row``) or an existing one: SKU, title, pricing (fixed, or the components' prices
    less a percentage and/or an amount) and the components (SKU and quantity per bundle)."""

    saved = Signal(object)   # the BundleRow as saved

    def __init__(self, context: AppContext, tasks: TaskManager, row: BundleRow | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row = row
        self.op_id = uuid.uuid4().hex        # one save however often the button is pressed
        self.runner = Runner(context, tasks, self)
        self.setWindowTitle(tr("New bundle") if row is None else tr("Edit bundle {sku}").format(sku=row.sku))
        self.setMinimumWidth(560)
        self.banner = MessageBanner()
        self.sku = QLineEdit(row.sku if row else "")
        self.sku.setMaxLength(100)
        self.sku.setReadOnly(row is not None)
        self.sku.setPlaceholderText(tr("A new SKU, or an existing one without stock"))
        self.title_edit = QLineEdit(row.title if row else "")
        self.title_edit.setEnabled(row is None)
        self.title_edit.setPlaceholderText(tr("Title of the new product (default: the SKU)"))
        self.pricing = QComboBox()
        self.pricing.addItem(tr("Components' prices less a discount"), "discount")
        self.pricing.addItem(tr("Fixed price"), "fixed")
        self.amount = QLineEdit(str(row.amount) if row else "0.00")
        self.percent = QLineEdit(str(row.percent_off) if row else "0")
        if row is not None:
            self.pricing.setCurrentIndex(0 if row.pricing == "discount" else 1)
        self.pricing.currentIndexChanged.connect(self._pricing_changed)
        self.components = QTableWidget(0, 2)
        self.components.setHorizontalHeaderLabels([tr("Component SKU"), tr("Quantity")])
        self.components.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.components.setColumnWidth(1, 90)
        self.components.verticalHeader().hide()
        self.components.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for c in (row.components if row else []):
            self._add_component(c.sku, c.quantity)
        if row is None:
            self._add_component("", 1)
        add = QPushButton(tr("Add component"))
        add.clicked.connect(lambda: self._add_component("", 1))
        remove = QPushButton(tr("Remove"))
        remove.clicked.connect(self._remove_selected)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(add)
        buttons_row.addWidget(remove)
        buttons_row.addStretch(1)

        form = QFormLayout()
        form.addRow(tr("SKU"), self.sku)
        form.addRow(tr("Title"), self.title_edit)
        form.addRow(tr("Pricing"), self.pricing)
        self.amount_label = QLabel()
        form.addRow(self.amount_label, self.amount)
        self.percent_label = QLabel(tr("Percentage off"))
        form.addRow(self.percent_label, self.percent)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(form)
        layout.addWidget(QLabel(tr("Components (units in one bundle)")))
        layout.addWidget(self.components, 1)
        layout.addLayout(buttons_row)
        layout.addWidget(self.buttons)
        self._pricing_changed()

    def _pricing_changed(self) -> None:
        fixed = self.pricing.currentData() == "fixed"
        self.amount_label.setText(tr("Price") if fixed else tr("Amount off"))
        self.percent.setVisible(not fixed)
        self.percent_label.setVisible(not fixed)

    def _add_component(self, sku: str, quantity: int) -> None:
        r = self.components.rowCount()
        self.components.insertRow(r)
        self.components.setItem(r, 0, QTableWidgetItem(sku))
        box = QSpinBox()
        box.setRange(1, 100_000)
        box.setValue(quantity)
        box.setFrame(False)
        box.setButtonSymbols(QSpinBox.ButtonSymbols.NoButtons)   # typed: the row is too low for arrows
        box.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.components.setCellWidget(r, 1, box)

    def _remove_selected(self) -> None:
        for r in sorted({i.row() for i in self.components.selectedIndexes()}, reverse=True):
            self.components.removeRow(r)

    def specs(self) -> list[ComponentSpec]:
        out = []
        for r in range(self.components.rowCount()):
            item = self.components.item(r, 0)
            sku = item.text().strip() if item else ""
            box = self.components.cellWidget(r, 1)
            if sku:
                out.append(ComponentSpec(sku, int(box.value()) if isinstance(box, QSpinBox) else 1))
        return out

    def save(self) -> None:
        sku, pricing = self.sku.text().strip(), str(self.pricing.currentData())
        amount, percent = self.amount.text().strip() or "0", self.percent.text().strip() or "0"
        if pricing == "fixed":
            percent = "0"
        for label, text in ((self.amount_label.text(), amount), (tr("Percentage off"), percent)):
            try:
                Decimal(text.rstrip("%"))
            except InvalidOperation:
                self.banner.show_message(tr("{field}: {value} is not a number").format(field=label, value=text), "error")
                return
        specs, version = self.specs(), self.row.version if self.row else None
        title = self.title_edit.text().strip()
        self.buttons.setEnabled(False)
        self.runner.write(lambda ops: ops.bundles.save(sku, pricing=pricing, amount=amount, percent_off=percent.rstrip("%"),
                                                       components=specs, title=title, expected_version=version,
                                                       op_id=self.op_id),
                          self._saved, on_error=self._failed)

    def _saved(self, row: BundleRow) -> None:
        self.saved.emit(row)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.op_id = uuid.uuid4().hex
        self.banner.show_message(error_text(exc), "error")


def _ids(text: str) -> list[int] | None:
    try:
        return [int(p) for p in text.replace(";", ",").split(",") if p.strip()]
    except ValueError:
        return None


class RuleDialog(QDialog):
    """A mix-and-match rule: any N items of the products and categories (ids) for a price or a percentage off."""

    saved = Signal(object)

    def __init__(self, context: AppContext, tasks: TaskManager, rule: RuleRow | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rule = rule
        self.op_id = uuid.uuid4().hex
        self.runner = Runner(context, tasks, self)
        self.setWindowTitle(tr("New mix-and-match rule") if rule is None else tr("Edit rule {name}").format(name=rule.name))
        self.setMinimumWidth(480)
        self.banner = MessageBanner()
        self.name = QLineEdit(rule.name if rule else "")
        self.quantity = QSpinBox()
        self.quantity.setRange(2, 1000)
        self.quantity.setValue(rule.quantity if rule else 3)
        self.kind = QComboBox()
        self.kind.addItem(tr("for a price"), "price")
        self.kind.addItem(tr("at a percentage off"), "percent")
        if rule is not None and rule.kind == "percent":
            self.kind.setCurrentIndex(1)
        self.amount = QLineEdit(str(rule.amount) if rule else "")
        self.products = QLineEdit(", ".join(str(i) for i in rule.product_ids) if rule else "")
        self.products.setPlaceholderText(tr("Product ids, separated by commas"))
        self.categories = QLineEdit(", ".join(str(i) for i in rule.category_ids) if rule else "")
        self.categories.setPlaceholderText(tr("Category ids (with the categories below them)"))
        self.active = QCheckBox(tr("Active"))
        self.active.setChecked(rule.active if rule else True)
        form = QFormLayout()
        form.addRow(tr("Name"), self.name)
        form.addRow(tr("Any"), self.quantity)
        form.addRow(tr("Deal"), self.kind)
        form.addRow(tr("Price or percentage"), self.amount)
        form.addRow(tr("Products"), self.products)
        form.addRow(tr("Categories"), self.categories)
        form.addRow("", self.active)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def save(self) -> None:
        products, categories = _ids(self.products.text()), _ids(self.categories.text())
        if products is None or categories is None:
            self.banner.show_message(tr("Products and categories: give ids as whole numbers separated by commas"), "error")
            return
        values = {"name": self.name.text(), "quantity": self.quantity.value(), "kind": str(self.kind.currentData()),
                  "amount": self.amount.text().strip().rstrip("%") or "0", "product_ids": products,
                  "category_ids": categories, "active": self.active.isChecked()}
        rule_id = self.rule.id if self.rule else None
        version = self.rule.version if self.rule else None
        self.buttons.setEnabled(False)
        self.runner.write(lambda ops: ops.bundles.save_rule(**values, rule_id=rule_id, expected_version=version,
                                                            op_id=self.op_id),
                          self._saved, on_error=self._failed)

    def _saved(self, rule: RuleRow) -> None:
        self.saved.emit(rule)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.op_id = uuid.uuid4().hex
        self.banner.show_message(error_text(exc), "error")
