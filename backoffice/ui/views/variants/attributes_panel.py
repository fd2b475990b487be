"""Attributes and their ordered values: create, rename, reorder, remove (archived when in use), and
the saved variant templates."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.variants import AttributeInfo, TemplateInfo, ValueInfo
from backoffice.ui.format import format_count
from backoffice.ui.operations import Runner
from backoffice.ui.views.variants.models import attributes_model, values_model
from backoffice.ui.widgets.rows import RowsModel, make_table, muted, tool_button


class AttributesPanel(QWidget):
    """Left: the attributes; right: the selected attribute's values in their order."""

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.attributes_model = attributes_model(self)
        self.values_model = values_model(self)
        self.attributes_table = make_table(self.attributes_model, {0: 150, 1: 100}, stretch=())
        self.values_table = make_table(self.values_model, {0: 170, 1: 80})
        self.attributes_table.selectionModel().currentRowChanged.connect(lambda *_: self._show_values())
        self.values_table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())

        self.new_attribute = tool_button(self.tr("New attribute…"), "plus")
        self.rename_attribute = tool_button(self.tr("Rename…"))
        self.remove_attribute = tool_button(self.tr("Remove"), "trash",
                                            self.tr("Deleted if no variant uses it, archived otherwise"))
        self.add_value = tool_button(self.tr("Add values…"), "plus")
        self.rename_value = tool_button(self.tr("Rename…"))
        self.move_up = tool_button(self.tr("Move up"))
        self.move_down = tool_button(self.tr("Move down"))
        self.remove_value = tool_button(self.tr("Remove"), "trash",
                                        self.tr("Deleted if no variant uses it, archived otherwise"))
        self.new_attribute.clicked.connect(self._ask_new_attribute)
        self.rename_attribute.clicked.connect(self._ask_rename_attribute)
        self.remove_attribute.clicked.connect(self._remove_attribute)
        self.add_value.clicked.connect(self._ask_add_values)
        self.rename_value.clicked.connect(self._ask_rename_value)
        self.move_up.clicked.connect(lambda: self.move_value(-1))
        self.move_down.clicked.connect(lambda: self.move_value(1))
        self.remove_value.clicked.connect(self._remove_value)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        for b in (self.new_attribute, self.rename_attribute, self.remove_attribute):
            row.addWidget(b)
        row.addStretch(1)
        lv.addLayout(row)
        lv.addWidget(self.attributes_table, 1)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        for b in (self.add_value, self.rename_value, self.move_up, self.move_down, self.remove_value):
            row.addWidget(b)
        row.addStretch(1)
        rv.addLayout(row)
        self.values_title = muted(wrap=False)
        rv.addWidget(self.values_title)
        rv.addWidget(self.values_table, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([360, 460])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(splitter)
        self._update_buttons()

    # -- data ------------------------------------------------------------------------------------------
    def set_attributes(self, attributes: list[AttributeInfo]) -> None:
        current = self.current_attribute()
        self.attributes_model.set_rows(attributes)
        row = next((i for i, a in enumerate(attributes) if current and a.id == current.id), 0 if attributes else -1)
        if row >= 0:
            self.attributes_table.selectRow(row)
        self._show_values()

    def current_attribute(self) -> AttributeInfo | None:
        index = self.attributes_table.currentIndex()
        return self.attributes_model.row_at(index.row()) if index.isValid() else None

    def current_value(self) -> ValueInfo | None:
        index = self.values_table.currentIndex()
        return self.values_model.row_at(index.row()) if index.isValid() else None

    def _show_values(self) -> None:
        attribute = self.current_attribute()
        selected = self.current_value()
        values = list(attribute.values) if attribute else []
        self.values_model.set_rows(values)
        if attribute is None:
            self.values_title.setText(self.tr("Choose an attribute to see its values."))
        else:
            self.values_title.setText(self.tr("Values of {name}, in the order customers see them").format(
                name=attribute.name))
        row = next((i for i, v in enumerate(values) if selected and v.id == selected.id), -1)
        if row >= 0:
            self.values_table.selectRow(row)
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_attribute, value = self.current_attribute() is not None, self.current_value()
        for b in (self.rename_attribute, self.remove_attribute, self.add_value):
            b.setEnabled(has_attribute)
        for b in (self.rename_value, self.remove_value, self.move_up, self.move_down):
            b.setEnabled(value is not None)

    # -- writes (the dialogs only ask; the services decide) --------------------------------------------
    def create_attribute(self, code: str, name: str, values: list[str]) -> None:
        self.runner.write(lambda ops: ops.variants.create_attribute(code, name=name, values=values))

    def move_value(self, step: int) -> None:
        attribute, value = self.current_attribute(), self.current_value()
        if attribute is None or value is None:
            return
        ids = [v.id for v in attribute.values]
        i = ids.index(value.id)
        j = i + step
        if not 0 <= j < len(ids):
            return
        ids[i], ids[j] = ids[j], ids[i]
        version = attribute.version
        self.runner.write(lambda ops: ops.variants.reorder_values(attribute.id, ids, expected_version=version))

    def _ask_new_attribute(self) -> None:
        code, ok = QInputDialog.getText(self, self.tr("New attribute"),
                                        self.tr("Code (lower-case, used in SKU patterns), e.g. size:"))
        if not ok or not code.strip():
            return
        values, ok = QInputDialog.getText(self, self.tr("New attribute"),
                                          self.tr("Values in order, separated by commas, e.g. S, M, L:"))
        if ok:
            self.create_attribute(code.strip(), "", [v.strip() for v in values.split(",") if v.strip()])

    def _ask_rename_attribute(self) -> None:
        a = self.current_attribute()
        if a is None:
            return
        name, ok = QInputDialog.getText(self, self.tr("Rename attribute"), self.tr("Name:"), text=a.name)
        if ok and name.strip():
            self.runner.write(lambda ops: ops.variants.rename_attribute(a.id, name, expected_version=a.version))

    def _remove_attribute(self) -> None:
        a = self.current_attribute()
        if a is None:
            return
        answer = QMessageBox.question(self, self.tr("Remove attribute"), self.tr(
            "Remove {name}? If variants use it, it is archived instead: they keep their values, and it is no longer "
            "offered for new combinations.").format(name=a.name))
        if answer == QMessageBox.StandardButton.Yes:
            self.runner.write(lambda ops: ops.variants.remove_attribute(a.id, expected_version=a.version))

    def _ask_add_values(self) -> None:
        a = self.current_attribute()
        if a is None:
            return
        text, ok = QInputDialog.getText(self, self.tr("Add values"),
                                        self.tr("New values of {name}, separated by commas:").format(name=a.name))
        values = [v.strip() for v in text.split(",") if v.strip()]
        if ok and values:
            self.runner.write(lambda ops: ops.variants.add_values(a.id, values))

    def _ask_rename_value(self) -> None:
        v = self.current_value()
        if v is None:
            return
        text, ok = QInputDialog.getText(self, self.tr("Rename value"), self.tr("Value:"), text=v.value)
        if ok and text.strip():
            self.runner.write(lambda ops: ops.variants.rename_value(v.id, text, expected_version=v.version))

    def _remove_value(self) -> None:
        v = self.current_value()
        if v is not None:
            self.runner.write(lambda ops: ops.variants.remove_value(v.id, expected_version=v.version))


class TemplatesPanel(QWidget):
    """Saved option sets; "Use" opens the generator with one."""

    use_requested = Signal(int)

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.templates: list[TemplateInfo] = []
        self.model = RowsModel([self.tr("Template"), self.tr("Options"), self.tr("Combinations"), self.tr("SKU pattern")],
                               align_right=(2,))
        self.table = make_table(self.model, {0: 220, 1: 300, 2: 130})
        self.use = tool_button(self.tr("Use in generator…"), "variants")
        self.delete = tool_button(self.tr("Delete"), "trash")
        self.use.clicked.connect(self._use)
        self.delete.clicked.connect(self._delete)
        self.empty = QLabel(self.tr("No templates yet. In the generator, choose attributes and values, then "
                                    "“Save as template” to reuse them on other products."))
        self.empty.setObjectName("Muted")
        self.empty.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.use)
        row.addWidget(self.delete)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addLayout(row)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._update_buttons())
        self._update_buttons()

    def set_templates(self, templates: list[TemplateInfo]) -> None:
        self.templates = list(templates)
        rows = []
        for t in templates:
            rows.append((t.name, t.summary(), format_count(t.combination_count()), t.sku_pattern or self.tr("default")))
        self.model.set_rows(rows, templates)
        self.empty.setVisible(not templates)
        self._update_buttons()

    def current(self) -> TemplateInfo | None:
        index = self.table.currentIndex()
        return self.model.object_at(index.row()) if index.isValid() else None

    def _update_buttons(self) -> None:
        self.use.setEnabled(self.current() is not None)
        self.delete.setEnabled(self.current() is not None)

    def _use(self) -> None:
        t = self.current()
        if t is not None:
            self.use_requested.emit(t.id)

    def _delete(self) -> None:
        t = self.current()
        if t is not None:
            self.runner.write(lambda ops: ops.variants.delete_template(t.id))
