"""Product templates from the Products view's Merchandising menu: the list of templates and a form to
edit one (vendor, type, category, tags, status, variant options or a variant template, SKU pattern,
description and SEO templates, default price and cost), and "New product from template…", which shows
the product and the variants a title would make before creating them (one transaction).

Everything goes through ``ops.product_templates`` off the GUI thread (``Runner``)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.product_templates import ProductPlan, ProductTemplateInfo
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_money, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.dialog_parts import category_paths
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, heading, make_table, muted

STATUSES = ("draft", "active", "archived")


def options_text(attributes: dict[str, list[str]]) -> str:
    """``size=S,M,L; color=Red,Blue`` for the options field."""
    return "; ".join(f"{code}={','.join(values)}" for code, values in attributes.items())


def parse_options(text: str) -> dict[str, list[str]] | str:
    """The options field as ``{"size": ["S", "M"]}``, or a message saying what is wrong with it."""
    out: dict[str, list[str]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        code, sep, values = part.partition("=")
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not code.strip() or not items:
            return f"“{part}”: write attribute=value,value (size=S,M,L), attributes separated by ;"
        out[code.strip()] = items
    return out


class TemplateForm(QWidget):
    """The fields of one template; ``values()`` gives them as ``product_templates.save`` takes them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit()
        self.vendor = QLineEdit()
        self.product_type = QLineEdit()
        self.category = QComboBox()
        self.tags = QLineEdit()
        self.tags.setPlaceholderText(self.tr("comma-separated"))
        self.status = QComboBox()
        for s in STATUSES:
            self.status.addItem(s.capitalize(), s)
        self.options = QLineEdit()
        self.options.setPlaceholderText(self.tr("size=S,M,L; color=Red,Blue  (empty: the variant template's)"))
        self.variant_template = QComboBox()
        self.sku_pattern = QLineEdit()
        self.sku_pattern.setPlaceholderText(self.tr("{handle}-{size} (empty: handle and each option)"))
        self.price = QLineEdit()
        self.price.setPlaceholderText("0.00")
        self.cost = QLineEdit()
        self.cost.setPlaceholderText(self.tr("optional"))
        self.description = QPlainTextEdit()
        self.description.setPlaceholderText(self.tr("{{ title }} by {{ vendor }}, in {{ attributes.size }}."))
        self.description.setFixedHeight(110)
        self.seo_title = QLineEdit()
        self.seo_description = QLineEdit()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.tr("Name"), self.name)
        form.addRow(self.tr("Vendor"), self.vendor)
        form.addRow(self.tr("Product type"), self.product_type)
        form.addRow(self.tr("Category"), self.category)
        form.addRow(self.tr("Tags"), self.tags)
        form.addRow(self.tr("Status"), self.status)
        form.addRow(self.tr("Variant options"), self.options)
        form.addRow(self.tr("Variant template"), self.variant_template)
        form.addRow(self.tr("SKU pattern"), self.sku_pattern)
        form.addRow(self.tr("Default price"), self.price)
        form.addRow(self.tr("Default cost"), self.cost)
        form.addRow(self.tr("Description template"), self.description)
        form.addRow(self.tr("SEO title template"), self.seo_title)
        form.addRow(self.tr("SEO description template"), self.seo_description)

    def set_choices(self, categories: list[dict[str, Any]], variant_templates: list[Any]) -> None:
        self.category.clear()
        self.category.addItem(self.tr("(none)"), None)
        for cid, path in sorted(category_paths(categories).items(), key=lambda kv: kv[1].lower()):
            self.category.addItem(path, cid)
        self.variant_template.clear()
        self.variant_template.addItem(self.tr("(none)"), None)
        for t in variant_templates:
            self.variant_template.addItem(f"{t.name} — {t.summary()}", t.id)

    def show_template(self, t: ProductTemplateInfo | None) -> None:
        def pick(combo: QComboBox, value: Any) -> None:  # noqa: ANN401
            index = combo.findData(value)
            combo.setCurrentIndex(max(index, 0))

        self.name.setText(t.name if t else "")
        self.vendor.setText(t.vendor if t else "")
        self.product_type.setText(t.product_type if t else "")
        pick(self.category, t.category_id if t else None)
        self.tags.setText(", ".join(t.tags) if t else "")
        pick(self.status, t.status if t else "draft")
        self.options.setText(options_text(t.attributes) if t else "")
        pick(self.variant_template, t.variant_template_id if t else None)
        self.sku_pattern.setText(t.sku_pattern if t else "")
        self.price.setText("" if t is None or t.default_price is None else str(t.default_price))
        self.cost.setText("" if t is None or t.default_cost is None else str(t.default_cost))
        self.description.setPlainText(t.description_template if t else "")
        self.seo_title.setText(t.seo_title_template if t else "")
        self.seo_description.setText(t.seo_description_template if t else "")

    def values(self) -> dict[str, Any] | str:
        options = parse_options(self.options.text())
        if isinstance(options, str):
            return self.tr("Variant options: {problem}").format(problem=options)
        return {"name": self.name.text(), "vendor": self.vendor.text(), "product_type": self.product_type.text(),
                "category_id": self.category.currentData(), "tags": self.tags.text(),
                "status": self.status.currentData(), "attributes": options,
                "variant_template_id": self.variant_template.currentData(), "sku_pattern": self.sku_pattern.text(),
                "default_price": self.price.text().strip() or None, "default_cost": self.cost.text().strip() or None,
                "description_template": self.description.toPlainText(), "seo_title_template": self.seo_title.text(),
                "seo_description_template": self.seo_description.text()}


class ProductTemplatesDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.templates: list[ProductTemplateInfo] = []
        self.current: ProductTemplateInfo | None = None
        self.setWindowTitle(self.tr("Product templates"))
        self.resize(980, 640)
        self.runner = Runner(context, tasks, self)
        self.banner = MessageBanner()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(100)
        self.runner.busy_changed.connect(self.busy.setVisible)

        self.list = QListWidget()
        self.list.currentRowChanged.connect(self._on_pick)
        self.empty = muted(self.tr("No templates yet. Fill in the form and Save to make the first one."))
        self.new_button = QPushButton(self.tr("New template"))
        self.new_button.clicked.connect(self._on_new)
        self.delete_button = QPushButton(self.tr("Delete"))
        self.delete_button.clicked.connect(self._on_delete)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(heading(self.tr("Templates")))
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(self.empty)
        buttons_left = QHBoxLayout()
        buttons_left.addWidget(self.new_button)
        buttons_left.addWidget(self.delete_button)
        left_layout.addLayout(buttons_left)

        self.form = TemplateForm()
        self.save_button = QPushButton(self.tr("Save"))
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self._on_save)
        self.make_button = QPushButton(self.tr("New product from template…"))
        self.make_button.clicked.connect(self._on_make)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.form, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.make_button)
        actions.addStretch(1)
        actions.addWidget(self.save_button)
        right_layout.addLayout(actions)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([260, 700])
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(heading(self.tr("Product templates"), "PageTitle"), 1)
        top.addWidget(self.busy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(split, 1)
        layout.addWidget(close)
        self.reload()

    def is_loading(self) -> bool:
        return self.runner.busy

    def reload(self, select_id: int | None = None) -> None:
        def load(ops: Any) -> tuple[list[ProductTemplateInfo], list[dict[str, Any]], list[Any]]:  # noqa: ANN401
            return ops.product_templates.list(), ops.catalog.facets()["categories"], ops.variants.templates()

        if not self.runner.read(load, lambda r: self._on_loaded(r, select_id), on_error=self._on_error):
            self.banner.show_message(self.tr("Not connected to a database."), "error")

    def _on_loaded(self, loaded: tuple[list[ProductTemplateInfo], list[dict[str, Any]], list[Any]],
                   select_id: int | None) -> None:
        self.templates, categories, variant_templates = loaded
        self.form.set_choices(categories, variant_templates)
        self.list.blockSignals(True)
        self.list.clear()
        for t in self.templates:
            item = QListWidgetItem(t.name)
            item.setData(Qt.ItemDataRole.UserRole, t.id)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.empty.setVisible(not self.templates)
        ids = [t.id for t in self.templates]
        wanted = select_id if select_id in ids else (self.current.id if self.current and self.current.id in ids else None)
        if wanted is None and ids:
            wanted = ids[0]
        if wanted is None:
            self._on_new()
        else:
            self.list.setCurrentRow(ids.index(wanted))
            self._on_pick(ids.index(wanted))

    def _on_pick(self, row: int) -> None:
        self.current = self.templates[row] if 0 <= row < len(self.templates) else None
        self.form.show_template(self.current)
        self.delete_button.setEnabled(self.current is not None)
        self.make_button.setEnabled(self.current is not None)

    def _on_new(self) -> None:
        self.list.clearSelection()
        self.current = None
        self.form.show_template(None)
        self.delete_button.setEnabled(False)
        self.make_button.setEnabled(False)
        self.form.name.setFocus()

    def _on_save(self) -> None:
        values = self.form.values()
        if isinstance(values, str):
            self.banner.show_message(values, "error")
            return
        current = self.current
        tid, version = (current.id, current.version) if current else (None, None)
        self.runner.write(lambda ops: ops.product_templates.save(values, template_id=tid, expected_version=version),
                          self._on_saved, on_error=self._on_error)

    def _on_saved(self, saved: ProductTemplateInfo) -> None:
        self.banner.show_message(self.tr("Saved template “{name}”.").format(name=saved.name), "success", 4000)
        self.current = saved
        self.reload(saved.id)

    def _on_delete(self) -> None:
        current = self.current
        if current is None:
            return
        self.runner.write(lambda ops: ops.product_templates.delete(current.id, expected_version=current.version),
                          lambda _: self._on_deleted(current.name), on_error=self._on_error)

    def _on_deleted(self, name: str) -> None:
        self.banner.show_message(self.tr("Deleted template “{name}”.").format(name=name), "success", 4000)
        self.current = None
        self.reload()

    def _on_make(self) -> None:
        if self.current is not None:
            dialog = NewProductDialog(self.context, self.tasks, self.current, self)
            dialog.open()
            self.new_product_dialog = dialog

    def _on_error(self, exc: BaseException) -> None:
        self.banner.show_message(error_message(exc), "error")


COL_SKU, COL_OPTIONS, COL_PRICE, COL_COST = range(4)


class NewProductDialog(QDialog):
    """A title (and optionally a handle and price) → the product and variants the template makes,
    previewed as one types, created in one transaction."""

    def __init__(self, context: AppContext, tasks: TaskManager, template: ProductTemplateInfo,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.template = context, tasks, template
        self.plan: ProductPlan | None = None
        self.setWindowTitle(self.tr("New product from “{name}”").format(name=template.name))
        self.resize(820, 600)
        self.runner = Runner(context, tasks, self)
        self.banner = MessageBanner()
        self.title = QLineEdit()
        self.title.setPlaceholderText(self.tr("Linen Shirt"))
        self.handle = QLineEdit()
        self.handle.setPlaceholderText(self.tr("made from the title"))
        self.price = QLineEdit()
        self.price.setPlaceholderText(self.tr("template: {price}").format(price=format_money(template.default_price)))
        form = QFormLayout()
        form.addRow(self.tr("Title"), self.title)
        form.addRow(self.tr("Handle"), self.handle)
        form.addRow(self.tr("Price"), self.price)
        self.summary = muted(self.tr("Type a title to see the product and its variants."))
        self.model = RowsModel([self.tr("SKU"), self.tr("Options"), self.tr("Price"), self.tr("Cost")], parent=self)
        self.table = make_table(self.model, {COL_SKU: 220, COL_PRICE: 110, COL_COST: 110}, stretch=(COL_OPTIONS,))
        self.description = QPlainTextEdit()
        self.description.setReadOnly(True)
        self.description.setFixedHeight(90)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create_button = self.buttons.addButton(self.tr("Create product"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.create_button.setEnabled(False)
        self.buttons.accepted.connect(self._on_create)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addWidget(heading(self.windowTitle(), "PageTitle"))
        layout.addWidget(self.banner)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(muted(self.tr("Description")))
        layout.addWidget(self.description)
        layout.addWidget(self.buttons)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(300)
        self.timer.timeout.connect(self.preview)
        for edit in (self.title, self.handle, self.price):
            edit.textChanged.connect(self.timer.start)

    def _arguments(self) -> tuple[str, str | None, dict[str, Any]]:
        price = self.price.text().strip()
        return self.title.text(), self.handle.text().strip() or None, ({"price": price} if price else {})

    def preview(self) -> None:
        title, handle, overrides = self._arguments()
        if not title.strip():
            self.plan = None
            self.model.clear()
            self.create_button.setEnabled(False)
            return
        name = str(self.template.id)
        self.runner.read(lambda ops: ops.product_templates.plan_product(name, title=title, handle=handle,
                                                                        overrides=overrides),
                         self._on_plan, on_error=lambda exc: self.banner.show_message(error_message(exc), "error"))

    def _on_plan(self, plan: ProductPlan) -> None:
        if self._arguments()[0] != plan.values.get("title", self._arguments()[0]):
            return   # typed on meanwhile: a newer preview is on its way
        self.plan = plan
        self.model.set_rows([(v.sku, v.title or "—", format_money(v.price), format_money(v.cost))
                             for v in plan.variants], plan.variants)
        self.description.setPlainText(str(plan.values.get("description") or ""))
        self.summary.setText(plural(len(plan.variants), self.tr("{handle}: {n} variant"),
                                    self.tr("{handle}: {n} variants"), handle=plan.handle))
        if plan.problems:
            lines = [" ".join(p for p in (row, field) if p) + f": {message}" for row, field, message in plan.problems]
            self.banner.show_message("\n".join(lines[:6]), "error")
        else:
            self.banner.hide()
        self.create_button.setEnabled(not plan.problems)

    def _on_create(self) -> None:
        if self.plan is None or self.plan.problems:
            return
        title, handle, overrides = self._arguments()
        name = str(self.template.id)
        self.create_button.setEnabled(False)
        self.runner.write(lambda ops: ops.product_templates.create_product(name, title=title, handle=handle,
                                                                           overrides=overrides),
                          lambda created: self.accept(),
                          on_error=self._on_error,
                          success=lambda created: self.tr("Created {handle} with {n} variants.").format(
                              handle=created.handle, n=len(created.variant_ids)))

    def _on_error(self, exc: BaseException) -> None:
        self.create_button.setEnabled(True)
        self.banner.show_message(error_message(exc), "error")


def open_product_templates(view: Any, *_checked: object) -> None:  # noqa: ANN401
    """The Merchandising menu's "Product templates…"."""
    dialog = ProductTemplatesDialog(view.context, view.tasks, view)
    view.dialog = dialog      # kept, as the view keeps the dialogs it opens
    dialog.open()
