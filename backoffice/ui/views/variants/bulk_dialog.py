"""Bulk variant operations: one field on the variants of the selected products, or on every variant
matching an option value (all XL) and a category. Previewed (count and a sample of old → new), applied
as one changeset, revertible from here or from the Products view's Changesets panel."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.bulk import BulkPreview
from backoffice.operations.variants import (
    ApplyResult,
    AttributeInfo,
    ImagePreview,
    ProductRow,
    Target,
    ThresholdPreview,
    VariantFilter,
)
from backoffice.ui.context import AppContext
from backoffice.ui.format import format_count, format_money, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.dialog_parts import format_value
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, before_after_colours, make_table, tool_button

# (field, label, needs a value)
FIELDS = (
    ("price", QT_TRANSLATE_NOOP("VariantBulkDialog", "Price"), True),
    ("compare_at_price", QT_TRANSLATE_NOOP("VariantBulkDialog", "Compare-at price"), True),
    ("cost", QT_TRANSLATE_NOOP("VariantBulkDialog", "Cost"), True),
    ("weight_grams", QT_TRANSLATE_NOOP("VariantBulkDialog", "Weight (g)"), True),
    ("status", QT_TRANSLATE_NOOP("VariantBulkDialog", "Status"), True),
    ("enable", QT_TRANSLATE_NOOP("VariantBulkDialog", "Enable"), False),
    ("disable", QT_TRANSLATE_NOOP("VariantBulkDialog", "Disable"), False),
    ("threshold", QT_TRANSLATE_NOOP("VariantBulkDialog", "Low-stock threshold"), True),
    ("image", QT_TRANSLATE_NOOP("VariantBulkDialog", "Image shown"), True),
)


class VariantBulkDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, products: list[ProductRow],
                 attributes: list[AttributeInfo], variant_ids: list[int] = (),  # type: ignore[assignment]
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = Runner(context, tasks, self)
        self.products = list(products)
        self.variant_ids = tuple(variant_ids)
        self.attributes = attributes
        self.plan: BulkPreview | ThresholdPreview | ImagePreview | None = None
        self.changeset_id: int | None = None
        self._generation = 0
        self.setWindowTitle(self.tr("Bulk edit variants"))
        self.resize(860, 620)

        self.selected_scope = QRadioButton(plural(len(products), self.tr("Variants of the selected product"),
                                                  self.tr("Variants of the {n} selected products")))
        self.all_scope = QRadioButton(self.tr("Every variant in the catalog"))
        self.cells_scope = QRadioButton(plural(len(self.variant_ids), self.tr("The variant selected in the matrix"),
                                               self.tr("The {n} variants selected in the matrix")))
        self.cells_scope.setVisible(bool(self.variant_ids))
        (self.cells_scope if self.variant_ids else self.selected_scope if products else self.all_scope).setChecked(True)
        self.selected_scope.setEnabled(bool(products))
        self.option_attribute = QComboBox()
        self.option_attribute.addItem(self.tr("(any)"), None)
        for a in attributes:
            self.option_attribute.addItem(a.name, a.code)
        self.option_value = QComboBox()
        self.category = QComboBox()
        self.category.addItem(self.tr("(any category)"), None)
        self.field = QComboBox()
        for name, label, _ in FIELDS:
            self.field.addItem(self.tr(label), name)
        self.value = QLineEdit()
        self.status_value = QComboBox()
        for status, label in (("active", self.tr("Active")), ("disabled", self.tr("Disabled")),
                              ("archived", self.tr("Archived"))):
            self.status_value.addItem(label, status)
        self.option_attribute.currentIndexChanged.connect(self._fill_values)
        for w in (self.option_attribute, self.option_value, self.category, self.field, self.status_value):
            w.currentIndexChanged.connect(self._changed)
        for w in (self.cells_scope, self.selected_scope, self.all_scope):
            w.toggled.connect(self._changed)
        self.value.textChanged.connect(self._changed)

        scope = QVBoxLayout()
        scope.addWidget(self.cells_scope)
        scope.addWidget(self.selected_scope)
        scope.addWidget(self.all_scope)
        option_row = QHBoxLayout()
        option_row.addWidget(self.option_attribute)
        option_row.addWidget(self.option_value)
        form = QFormLayout()
        form.addRow(self.tr("Variants"), scope)
        form.addRow(self.tr("With option"), option_row)
        form.addRow(self.tr("In category"), self.category)
        form.addRow(self.tr("Change"), self.field)
        value_row = QHBoxLayout()
        value_row.addWidget(self.value)
        value_row.addWidget(self.status_value)
        form.addRow(self.tr("To"), value_row)

        self.count_label = QLabel()
        self.count_label.setObjectName("CountLabel")
        self.banner = MessageBanner()
        self.preview_model = RowsModel([self.tr("Variant"), self.tr("Field"), self.tr("Before"), self.tr("After")],
                                       colours=before_after_colours(2, 3))
        self.preview_table = make_table(self.preview_model, {0: 240, 1: 160, 2: 140})
        self.preview_button = tool_button(self.tr("Preview"), "refresh")
        self.apply_button = tool_button(self.tr("Apply"), "check-circle")
        self.apply_button.setProperty("primary", True)
        self.revert_button = tool_button(self.tr("Revert"))
        self.close_button = tool_button(self.tr("Close"))
        self.preview_button.clicked.connect(self.preview)
        self.apply_button.clicked.connect(self.apply)
        self.revert_button.clicked.connect(self.revert)
        self.close_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.revert_button)
        buttons.addStretch(1)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.count_label)
        layout.addWidget(self.banner)
        layout.addWidget(self.preview_table, 1)
        layout.addLayout(buttons)
        self.runner.failed.connect(lambda text: self.banner.show_message(text, "error"))
        self.runner.read(lambda ops: ops.bulk.choices().categories, self._fill_categories)
        self._fill_values()
        self._changed()

    def _fill_categories(self, paths: dict[int, str]) -> None:
        for cid, path in sorted(paths.items(), key=lambda kv: kv[1]):
            self.category.addItem(path, cid)

    def _fill_values(self) -> None:
        self.option_value.clear()
        attribute = next((a for a in self.attributes if a.code == self.option_attribute.currentData()), None)
        self.option_value.setEnabled(attribute is not None)
        for v in attribute.values if attribute else []:
            self.option_value.addItem(v.value, v.id)

    def target(self) -> Target:
        f = VariantFilter(category_id=self.category.currentData())
        if self.cells_scope.isChecked():
            f = VariantFilter(category_id=f.category_id, variant_ids=self.variant_ids)
        elif self.selected_scope.isChecked():
            f = VariantFilter(category_id=f.category_id, product_ids=tuple(p.id for p in self.products))
        if self.option_attribute.currentData() is not None and self.option_value.currentData() is not None:
            f = VariantFilter(category_id=f.category_id, product_ids=f.product_ids, variant_ids=f.variant_ids,
                              option_value_ids=(self.option_value.currentData(),))
        return Target(filter=f)

    def _field(self) -> tuple[str, bool]:
        name = self.field.currentData()
        return name, next(needs for n, _, needs in FIELDS if n == name)

    def _changed(self) -> None:
        self._generation += 1
        self.plan = None
        self.apply_button.setEnabled(False)
        name, needs = self._field()
        self.value.setVisible(needs and name != "status")
        self.status_value.setVisible(name == "status")
        self.value.setPlaceholderText(
            self.tr("none: back to the defaults") if name == "threshold" else
            self.tr("part of the file name, per product (e.g. red); empty: the main image") if name == "image" else "")
        self.count_label.setText(self.tr("Preview to see which variants change."))
        self.revert_button.setEnabled(self.changeset_id is not None)

    def preview(self) -> None:
        name, _ = self._field()
        value: Any = self.status_value.currentData() if name == "status" else self.value.text().strip() or None
        gen, target = self._generation, self.target()
        if name == "image":
            self.runner.read(lambda ops: ops.variants.preview_image_assignment(target, value or ""),
                             lambda plan: self._show(gen, plan))
            return
        if name == "threshold":
            try:
                threshold = None if value in (None, "none") else int(value)
            except ValueError:
                self.banner.show_message(self.tr("The threshold must be a whole number."), "error")
                return
            self.runner.read(lambda ops: ops.variants.preview_thresholds(target, threshold),
                             lambda plan: self._show(gen, plan))
            return
        self.runner.read(lambda ops: ops.bulk.preview(ops.variants.bulk_operation(name, value), target),
                         lambda plan: self._show(gen, plan))

    def _show(self, gen: int, plan: BulkPreview | ThresholdPreview | ImagePreview) -> None:
        if gen != self._generation:
            return
        self.plan = plan
        self.banner.hide()
        main = self.tr("(main image)")
        if isinstance(plan, ImagePreview):
            rows = [(f"SKU {r.sku}", self.tr("Image shown"), ", ".join(r.before_names) or main, r.after_name or main)
                    for r in plan.sample]
            invalid = plan.invalid
        elif isinstance(plan, ThresholdPreview):
            rows = [(f"SKU {r.sku} · {r.location}", self.tr("Low-stock threshold"), format_value("", r.old),
                     format_value("", r.new)) for r in plan.sample]
            invalid: list = []
        else:
            rows = [(label, self.field.currentText(), format_value(field_name, old), format_value(field_name, new))
                    for label, field_name, old, new in plan.sample]
            invalid = plan.invalid
        self.preview_model.set_rows(rows)
        self.count_label.setText(self.tr("{changed} of {total} variants change").format(
            changed=format_count(plan.affected), total=format_count(plan.considered)))
        if invalid:
            lines = [f"{row} {f}: {m}" for row, f, m in invalid[:6]]
            if len(invalid) > 6:
                lines.append(self.tr("…and {n} more: nothing is applied while any row is invalid").format(
                    n=format_count(len(invalid) - 6)))
            self.banner.show_message("\n".join(lines), "error")
        elif isinstance(plan, BulkPreview) and plan.below_cost:
            self.banner.show_message(self.below_cost_text(plan) + " " + self.tr(
                "You will be asked to confirm before it is applied.") + "\n" + self.below_cost_rows(plan, 6),
                "warning")
        self.apply_button.setEnabled(plan.affected > 0 and not invalid)

    def below_cost_text(self, plan: BulkPreview) -> str:
        return plural(len(plan.below_cost), self.tr("{n} variant would be priced below its cost."),
                      self.tr("{n} variants would be priced below their cost."))

    def below_cost_rows(self, plan: BulkPreview, limit: int) -> str:
        rows = [f"{label}: {format_money(price)} < {format_money(cost)}" for label, price, cost in plan.below_cost[:limit]]
        if len(plan.below_cost) > limit:
            rows.append(self.tr("…and {n} more").format(n=format_count(len(plan.below_cost) - limit)))
        return "\n".join(rows)

    def confirm_below_cost(self, plan: BulkPreview) -> bool:
        """Asks whether to apply a plan that prices variants below their cost (never blocked, always asked)."""
        answer = QMessageBox.warning(
            self, self.tr("Prices below cost"),
            self.below_cost_text(plan) + "\n\n" + self.below_cost_rows(plan, 10) + "\n\n"
            + self.tr("Apply the change anyway?"),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def apply(self) -> None:
        plan = self.plan
        if plan is None:
            return
        self.apply_button.setEnabled(False)
        if isinstance(plan, ThresholdPreview):
            self.runner.write(lambda ops: ops.variants.apply_thresholds(plan.target, plan.threshold, stamp=plan.stamp),
                              self._applied)
        elif isinstance(plan, ImagePreview):
            self.runner.write(lambda ops: ops.variants.apply_image_assignment(plan.target, plan.match, stamp=plan.stamp),
                              self._applied)
        else:
            if plan.below_cost and not self.confirm_below_cost(plan):
                self.banner.show_message(self.below_cost_text(plan) + " " + self.tr("Nothing was applied."), "warning")
                self.apply_button.setEnabled(True)
                return
            self.runner.write(lambda ops: ops.bulk.apply(plan.operation, plan.target, stamp=plan.stamp,
                                                         allow_below_cost=True), self._applied)

    def _applied(self, result: ApplyResult) -> None:
        self.changeset_id = result.changeset_id
        text = self.tr("Applied to {n} rows (changeset #{cs}).").format(n=format_count(result.applied_rows),
                                                                        cs=result.changeset_id)
        if result.conflicts:
            text += " " + self.tr("{n} changed by someone else meanwhile were left as they are.").format(
                n=len(result.conflicts))
        self.banner.show_message(text, "success")
        self._changed()

    def revert(self) -> None:
        cs = self.changeset_id
        if cs is None:
            return
        # every kind of changeset (fields, thresholds, images) is reverted the same way
        self.runner.write(lambda ops: ops.changesets.revert(cs), self._reverted)

    def _reverted(self, result: ApplyResult) -> None:
        self.changeset_id = None
        self.banner.show_message(self.tr("Reverted {n} rows.").format(n=format_count(result.applied_rows)), "success")
        self._changed()
