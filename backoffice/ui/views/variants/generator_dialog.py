"""The combination generator: pick attributes and values (or a template), leave combinations out,
give a SKU pattern, preview every variant to be made (and, with "remove the rest", every one to be
archived or deleted) with the counts, then create them in one changeset.

The preview runs ``plan_generation`` in the background; any edit makes it stale and disables Create
until the next preview, so what is created is what was shown. Problems (a SKU already in the catalog,
two combinations with one SKU, a product without a price) are listed, each naming its row."""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.variants import (
    AttributeInfo,
    GenerationPlan,
    GenerationRequest,
    GenerationResult,
    ProductRow,
    TemplateInfo,
)
from backoffice.ui.context import AppContext
from backoffice.ui.format import format_count, format_money, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, make_table, muted, tool_button

PREVIEW_DEBOUNCE_MS = 300
ACTION_LABELS = {"create": QT_TRANSLATE_NOOP("GeneratorDialog", "Create"),
                 "archive": QT_TRANSLATE_NOOP("GeneratorDialog", "Archive"),
                 "delete": QT_TRANSLATE_NOOP("GeneratorDialog", "Delete")}


class GeneratorDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, products: list[ProductRow],
                 attributes: list[AttributeInfo], templates: list[TemplateInfo], *, template_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = Runner(context, tasks, self)
        self.runner.failed.connect(self._failed)
        self.products = list(products)
        self.attributes = [a for a in attributes if not a.archived and a.offered()]
        self.templates = list(templates)
        self.plan: GenerationPlan | None = None
        self.result: GenerationResult | None = None
        self._generation = 0
        self.setWindowTitle(self.tr("Generate variants"))
        self.resize(980, 680)

        self.template_box = QComboBox()
        self.template_box.addItem(self.tr("(no template)"), None)
        for t in self.templates:
            self.template_box.addItem(t.name, t.id)
        self.template_box.activated.connect(lambda _: self._apply_template(self.template_box.currentData()))
        self.value_lists: dict[str, QListWidget] = {}
        choices = QWidget()
        cv = QVBoxLayout(choices)
        cv.setContentsMargins(0, 0, 0, 0)
        for a in self.attributes:
            box = QGroupBox(a.name)
            box.setCheckable(True)
            box.setChecked(False)
            items = QListWidget()
            items.setMaximumHeight(118)
            for value in a.offered():
                item = QListWidgetItem(value)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Unchecked)
                items.addItem(item)
            items.itemChanged.connect(lambda *_: self._changed())
            box.toggled.connect(lambda *_: self._changed())
            QVBoxLayout(box).addWidget(items)
            self.value_lists[a.code] = items
            items.setProperty("group", box)
            cv.addWidget(box)
        cv.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(choices)

        self.exclusions = QPlainTextEdit()
        self.exclusions.setPlaceholderText(self.tr("One combination to leave out per line, e.g.\ncolour=Red, size=XS"))
        self.exclusions.setMaximumHeight(70)
        self.pattern = QLineEdit()
        self.pattern.setPlaceholderText("{handle}-{colour:3}-{size}")
        self.pattern.setToolTip(self.tr("Placeholders: {handle}, {title} and attribute codes; {code:3} keeps the first "
                                        "3 characters. Upper-cased; spaces and symbols become dashes."))
        self.price = QLineEdit()
        self.price.setPlaceholderText(self.tr("for products without a base price"))
        self.prune = QCheckBox(self.tr("Remove the combinations not chosen"))
        self.prune.setToolTip(self.tr("Variants with stock or sales are archived, the others deleted"))
        for w in (self.pattern, self.price):
            w.textChanged.connect(self._changed)
        self.exclusions.textChanged.connect(self._changed)
        self.prune.toggled.connect(self._changed)
        form = QFormLayout()
        form.addRow(self.tr("Leave out"), self.exclusions)
        form.addRow(self.tr("SKU pattern"), self.pattern)
        form.addRow(self.tr("Price"), self.price)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(muted(plural(len(products), self.tr("For {n} product: {names}"),
                                  self.tr("For {n} products: {names}"),
                                  names=", ".join(p.title for p in products[:3]) + ("…" if len(products) > 3 else ""))))
        template_row = QFormLayout()
        template_row.addRow(self.tr("Template"), self.template_box)
        lv.addLayout(template_row)
        lv.addWidget(scroll, 1)
        lv.addLayout(form)
        lv.addWidget(self.prune)

        self.count_label = QLabel()
        self.count_label.setObjectName("CountLabel")
        self.preview_model = RowsModel([self.tr("Product"), self.tr("Options"), self.tr("SKU"), self.tr("Price"),
                                        self.tr("Action")], align_right=(3,))
        self.preview_table = make_table(self.preview_model, {0: 140, 1: 120, 2: 180, 3: 80})
        self.banner = MessageBanner()
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.count_label)
        rv.addWidget(self.banner)
        rv.addWidget(self.preview_table, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([360, 620])

        self.save_template = tool_button(self.tr("Save as template…"))
        self.preview_button = tool_button(self.tr("Preview"), "refresh")
        self.create = tool_button(self.tr("Create"), "check-circle")
        self.create.setProperty("primary", True)
        self.close_button = tool_button(self.tr("Close"))
        self.save_template.clicked.connect(self._ask_save_template)
        self.preview_button.clicked.connect(self.preview)
        self.create.clicked.connect(self.apply)
        self.close_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_template)
        buttons.addStretch(1)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.create)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(PREVIEW_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.preview)
        if template_id is not None:
            self._apply_template(template_id)
            self.template_box.setCurrentIndex(max(0, self.template_box.findData(template_id)))
        self._changed()

    # -- the request on screen -------------------------------------------------------------------------
    def choose(self, code: str, values: list[str]) -> None:
        """Tick ``values`` of attribute ``code`` (and only those)."""
        items = self.value_lists[code]
        items.property("group").setChecked(bool(values))
        for i in range(items.count()):
            item = items.item(i)
            item.setCheckState(Qt.CheckState.Checked if item.text() in values else Qt.CheckState.Unchecked)

    def _apply_template(self, template_id: int | None) -> None:
        t = next((t for t in self.templates if t.id == template_id), None)
        if t is None:
            return
        for code in self.value_lists:
            self.choose(code, t.options.get(code, []))
        self.exclusions.setPlainText("\n".join(", ".join(f"{k}={v}" for k, v in ex.items()) for ex in t.exclusions))
        self.pattern.setText(t.sku_pattern)

    def options(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for code, items in self.value_lists.items():
            if not items.property("group").isChecked():
                continue
            out[code] = [items.item(i).text() for i in range(items.count())
                         if items.item(i).checkState() == Qt.CheckState.Checked]
        return out

    def parsed_exclusions(self) -> tuple[dict[str, str], ...]:
        out = []
        for line in self.exclusions.toPlainText().splitlines():
            combo = {}
            for part in line.split(","):
                code, sep, value = part.partition("=")
                if sep and code.strip() and value.strip():
                    combo[code.strip()] = value.strip()
            if combo:
                out.append(combo)
        return tuple(out)

    def request(self) -> GenerationRequest:
        return GenerationRequest(tuple(p.id for p in self.products), self.options(), self.parsed_exclusions(),
                                 self.pattern.text().strip(), self.price.text().strip().replace("€", "") or None,
                                 self.prune.isChecked())

    # -- preview and create ----------------------------------------------------------------------------
    def _changed(self) -> None:
        self.plan = None
        self._generation += 1
        self.create.setEnabled(False)
        if not self.options():
            self.count_label.setText(self.tr("Choose at least one attribute and its values."))
            self.preview_model.clear()
            return
        self.count_label.setText(self.tr("Previewing…"))
        self._debounce.start()

    def preview(self) -> None:
        self._debounce.stop()
        if not self.options():
            return
        gen, request = self._generation, self.request()
        self.runner.read(lambda ops: ops.variants.plan_generation(request), lambda plan: self._show_plan(gen, plan))

    def _show_plan(self, gen: int, plan: GenerationPlan) -> None:
        if gen != self._generation:
            return    # an answer for choices changed since
        self.plan = plan
        self.preview_model.set_rows([(handle, options, sku, format_money(price) if price is not None else "—",
                                      self.tr(ACTION_LABELS[action])) for handle, options, sku, price, action in plan.rows()])
        text = self.tr("{combinations} combinations per product ({excluded} left out): {create} to create, "
                       "{existing} already there").format(
            combinations=format_count(plan.combinations), excluded=format_count(plan.excluded),
            create=format_count(plan.to_create), existing=format_count(plan.existing))
        if plan.to_archive or plan.to_delete:
            text += self.tr(", {archive} to archive, {delete} to delete").format(
                archive=format_count(plan.to_archive), delete=format_count(plan.to_delete))
        if plan.other:
            text += self.tr("; {other} variants with other attributes are left as they are").format(
                other=format_count(plan.other))
        self.count_label.setText(text)
        if plan.problems:
            lines = [f"{row} {field}: {message}".replace("  ", " ") for row, field, message in plan.problems[:6]]
            more = len(plan.problems) - 6
            if more > 0:
                lines.append(self.tr("…and {n} more").format(n=format_count(more)))
            self.banner.show_message("\n".join(lines), "error")
        else:
            self.banner.hide()
        self.create.setEnabled(not plan.problems and bool(plan.to_create or plan.to_archive or plan.to_delete))

    def apply(self) -> None:
        if self.plan is None or self.plan.problems:
            return
        self.create.setEnabled(False)
        request = self.request()
        self.runner.write(lambda ops: ops.variants.generate(request), self._created)

    def _created(self, result: GenerationResult) -> None:
        self.result = result
        self.banner.show_message(self.tr("Created {created}, archived {archived}, deleted {deleted} "
                                         "(changeset #{cs}).").format(created=format_count(result.created),
                                                                      archived=format_count(result.archived),
                                                                      deleted=format_count(result.deleted),
                                                                      cs=result.changeset_id), "success")
        self._changed()

    def _failed(self, text: str) -> None:
        self.banner.show_message(text, "error")

    def _ask_save_template(self) -> None:
        name, ok = QInputDialog.getText(self, self.tr("Save as template"), self.tr("Template name:"))
        if ok and name.strip():
            self.save_as_template(name.strip())

    def save_as_template(self, name: str) -> None:
        request = self.request()
        self.runner.write(lambda ops: ops.variants.save_template(
            name, request.options, exclusions=list(request.exclusions), sku_pattern=request.sku_pattern),
            lambda _change: self.banner.show_message(self.tr("Saved the template {name}.").format(name=name),
                                                     "success"))
