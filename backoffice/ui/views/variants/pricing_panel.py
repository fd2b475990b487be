"""Dynamic variant pricing: surcharge rules per attribute value, the base price of the selected
product, and repricing previewed as a list of old → new prices before it is applied as one changeset."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.variants import ApplyResult, AttributeInfo, ProductRow, RepricePreview, RuleInfo
from backoffice.ui.format import format_count, format_money, plural
from backoffice.ui.operations import Runner
from backoffice.ui.widgets.rows import RowsModel, before_after_colours, make_table, muted, tool_button


class PricingPanel(QWidget):
    """Rules on the left, the repricing preview on the right."""

    message = Signal(str, str)   # text, level

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.attributes: list[AttributeInfo] = []
        self.products: list[ProductRow] = []       # the products repricing works on (the selection)
        self.plan: RepricePreview | None = None
        self.last_result: ApplyResult | None = None

        self.rules_model = RowsModel([self.tr("Attribute"), self.tr("Value"), self.tr("Surcharge"),
                                      self.tr("Applies to")], align_right=(2,))
        self.rules_table = make_table(self.rules_model, stretch=(0, 1, 2, 3))
        self.rules_empty = muted(self.tr("No surcharges yet. Add one below, e.g. Size XL +2.00 or Material Leather "
                                         "+15 %."))
        self.attribute_box = QComboBox()
        self.value_box = QComboBox()
        self.kind_box = QComboBox()
        self.kind_box.addItem(self.tr("Amount (+2.00)"), "amount")
        self.kind_box.addItem(self.tr("Percent of base (+15 %)"), "percent")
        self.amount_edit = QLineEdit()
        self.amount_edit.setPlaceholderText(self.tr("e.g. 2.00 or -1.50"))
        self.only_product = QCheckBox(self.tr("Only for the selected product"))
        self.save_rule = tool_button(self.tr("Save rule"), "plus")
        self.delete_rule = tool_button(self.tr("Delete rule"), "trash")
        self.attribute_box.currentIndexChanged.connect(self._fill_values)
        self.save_rule.clicked.connect(self._save_rule)
        self.delete_rule.clicked.connect(self._delete_rule)
        self.rules_table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())

        rules_box = QGroupBox(self.tr("Surcharges"))
        form = QFormLayout()
        form.addRow(self.tr("Attribute"), self.attribute_box)
        form.addRow(self.tr("Value"), self.value_box)
        form.addRow(self.tr("Kind"), self.kind_box)
        form.addRow(self.tr("Surcharge"), self.amount_edit)
        form.addRow("", self.only_product)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_rule)
        buttons.addWidget(self.delete_rule)
        buttons.addStretch(1)
        rv = QVBoxLayout(rules_box)
        rv.addWidget(self.rules_empty)
        rv.addWidget(self.rules_table, 1)
        rv.addLayout(form)
        rv.addLayout(buttons)

        self.product_label = muted()
        self.base_edit = QLineEdit()
        self.base_edit.setPlaceholderText(self.tr("Base price"))
        self.base_edit.setMaximumWidth(120)
        self.set_base = tool_button(self.tr("Set base price"))
        self.set_base.clicked.connect(self._set_base)
        self.preview_button = tool_button(self.tr("Preview repricing"), "refresh")
        self.apply_button = tool_button(self.tr("Apply"), "check-circle")
        self.apply_button.setProperty("primary", True)
        self.revert_button = tool_button(self.tr("Revert last repricing"))
        self.preview_button.clicked.connect(self.preview)
        self.apply_button.clicked.connect(self.apply)
        self.revert_button.clicked.connect(self._revert)
        self.summary = muted()
        self.preview_model = RowsModel([self.tr("SKU"), self.tr("Now"), self.tr("New"), self.tr("Base + surcharges")],
                                       colours=before_after_colours(1, 2), align_right=(1, 2))
        self.preview_table = make_table(self.preview_model, {0: 150, 1: 80, 2: 80})
        reprice_box = QGroupBox(self.tr("Reprice the selected products"))
        base_row = QHBoxLayout()
        base_row.addWidget(self.base_edit)
        base_row.addWidget(self.set_base)
        base_row.addStretch(1)
        actions = QHBoxLayout()
        actions.addWidget(self.preview_button)
        actions.addWidget(self.apply_button)
        actions.addWidget(self.revert_button)
        actions.addStretch(1)
        pv = QVBoxLayout(reprice_box)
        pv.addWidget(self.product_label)
        pv.addLayout(base_row)
        pv.addWidget(muted(self.tr("Price = base price + amounts + base × percents. Variants whose price was "
                                   "set by hand keep it.")))
        pv.addLayout(actions)
        pv.addWidget(self.summary)
        pv.addWidget(self.preview_table, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(rules_box, 1)
        layout.addWidget(reprice_box, 1)
        self.set_products([])

    # -- data ------------------------------------------------------------------------------------------
    def set_attributes(self, attributes: list[AttributeInfo]) -> None:
        code = self.attribute_box.currentData()
        self.attributes = [a for a in attributes if not a.archived]
        self.attribute_box.blockSignals(True)
        self.attribute_box.clear()
        for a in self.attributes:
            self.attribute_box.addItem(a.name, a.code)
        self.attribute_box.blockSignals(False)
        if code is not None and self.attribute_box.findData(code) >= 0:
            self.attribute_box.setCurrentIndex(self.attribute_box.findData(code))
        self._fill_values()

    def _fill_values(self) -> None:
        self.value_box.clear()
        attribute = next((a for a in self.attributes if a.code == self.attribute_box.currentData()), None)
        for value in attribute.offered() if attribute else []:
            self.value_box.addItem(value, value)

    def set_rules(self, rules: list[RuleInfo]) -> None:
        rows = [(r.attribute_name, r.value, r.surcharge.describe(), r.product_handle or self.tr("All products"))
                for r in rules]
        self.rules_model.set_rows(rows, rules)
        self.rules_empty.setVisible(not rules)
        self._update_buttons()

    def set_products(self, products: list[ProductRow]) -> None:
        self.products = list(products)
        self.plan = None
        self.preview_model.clear()
        self.summary.setText(self.tr("Preview to see every price change before applying it."))
        if len(products) == 1:
            p = products[0]
            self.product_label.setText(self.tr("{title}: base price {price}").format(
                title=p.title, price=format_money(p.base_price) if p.base_price is not None else self.tr("not set")))
            self.base_edit.setText(str(p.base_price) if p.base_price is not None else "")
        elif products:
            self.product_label.setText(plural(len(products), self.tr("{n} product selected"),
                                              self.tr("{n} products selected")))
        else:
            self.product_label.setText(self.tr("Select products on the left to reprice them."))
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.delete_rule.setEnabled(self.rules_table.currentIndex().isValid())
        self.set_base.setEnabled(len(self.products) == 1)
        self.only_product.setEnabled(len(self.products) == 1)
        self.preview_button.setEnabled(bool(self.products))
        self.apply_button.setEnabled(self.plan is not None and self.plan.affected > 0 and not self.plan.invalid)
        self.revert_button.setEnabled(self.last_result is not None and self.last_result.changeset_id is not None)

    # -- actions ---------------------------------------------------------------------------------------
    def _save_rule(self) -> None:
        code, value, kind = self.attribute_box.currentData(), self.value_box.currentData(), self.kind_box.currentData()
        amount = self.amount_edit.text().strip().rstrip("%").strip()
        product_id = self.products[0].id if self.only_product.isChecked() and len(self.products) == 1 else None
        if not code or not value or not amount:
            self.message.emit(self.tr("Choose an attribute, a value and a surcharge."), "warning")
            return
        self.runner.write(lambda ops: ops.variants.set_rule(code, value, kind, amount, product_id=product_id),
                          lambda _change: self.amount_edit.clear())

    def _delete_rule(self) -> None:
        index = self.rules_table.currentIndex()
        rule = self.rules_model.object_at(index.row()) if index.isValid() else None
        if rule is not None:
            self.runner.write(lambda ops: ops.variants.delete_rule(rule.id))

    def _set_base(self) -> None:
        if len(self.products) != 1:
            return
        pid, text = self.products[0].id, self.base_edit.text().strip().replace("€", "") or None
        self.runner.write(lambda ops: ops.variants.set_base_price(pid, text),
                          lambda _change: self.message.emit(self.tr("Base price saved; preview to see what changes."),
                                                            "success"))

    def preview(self) -> None:
        ids = [p.id for p in self.products]
        self.runner.read(lambda ops: ops.variants.preview_reprice(ids), self._show_plan)

    def _show_plan(self, plan: RepricePreview) -> None:
        self.plan = plan
        self.preview_model.set_rows([(sku, format_money(old), format_money(new), how)
                                     for sku, old, new, how in plan.sample])
        text = self.tr("{changed} of {total} variants change; {overrides} kept their own price.").format(
            changed=format_count(plan.affected), total=format_count(plan.considered),
            overrides=format_count(plan.skipped_overrides))
        if plan.products_without_base:
            text += " " + self.tr("No base price (passed by): {handles}.").format(
                handles=", ".join(plan.products_without_base[:5]))
        if plan.invalid:
            text += " " + self.tr("{n} cannot be applied: {first}").format(
                n=len(plan.invalid), first=f"{plan.invalid[0][0]}: {plan.invalid[0][2]}")
        self.summary.setText(text)
        self._update_buttons()

    def apply(self) -> None:
        plan = self.plan
        if plan is None:
            return
        self.apply_button.setEnabled(False)
        self.runner.write(lambda ops: ops.variants.apply_reprice(plan.product_ids, stamp=plan.stamp), self._applied)

    def _applied(self, result: ApplyResult) -> None:
        self.last_result = result
        self.plan = None
        self.preview_model.clear()
        text = plural(result.applied_rows, self.tr("Repriced {n} variant (changeset #{cs})."),
                      self.tr("Repriced {n} variants (changeset #{cs})."), cs=result.changeset_id)
        if result.conflicts:
            text += " " + self.tr("{n} changed by someone else meanwhile were left as they are.").format(
                n=len({c.entity_id for c in result.conflicts}))
        self.summary.setText(text)
        self.message.emit(text, "success")
        self._update_buttons()

    def _revert(self) -> None:
        result = self.last_result
        if result is None or result.changeset_id is None:
            return
        cs = result.changeset_id
        self.runner.write(lambda ops: ops.changesets.revert(cs), self._reverted)

    def _reverted(self, result: ApplyResult) -> None:
        self.last_result = None
        self.message.emit(plural(result.applied_rows, self.tr("Reverted: {n} price restored."),
                                 self.tr("Reverted: {n} prices restored.")), "success")
        self._update_buttons()
