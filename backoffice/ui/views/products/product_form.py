"""A new product with its variants, typed in: title (the handle follows it until edited by hand), vendor,
category, status, the option attributes the variants differ by, and a variants table (SKU, one column
per chosen attribute, price, cost, compare-at price, barcode). "Fill combinations" adds a row for each
combination of the chosen attributes' values not in the table yet.

Saving runs ``ops.catalog.create_product`` in the background with an operation id (the same one again if
the same form is saved again after an error), so a retry never creates the product twice. Every
problem the service finds is shown on the variant row it names; nothing is written until all is good.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import ValidationError
from backoffice.operations.catalog import AttributeInfo, Change, NewProductChoices, handle_from_title
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.dialogs.setup_common import OperationIds
from backoffice.ui.format import error_text
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner

MONEY_FIELDS = (("price", "Price"), ("cost", "Cost"), ("compare_at_price", "Compare at"))
STATUSES = (("draft", "Draft"), ("active", "Active"))


class ProductFormDialog(QDialog):
    created = Signal(int)   # the new product's id

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.attributes: list[AttributeInfo] = []   # of the store
        self.chosen: list[str] = []                 # attribute codes that are columns, in order
        self.op_ids = OperationIds()
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self._set_busy)
        self._handle_edited = False
        self.row_problems: dict[int, list[str]] = {}
        self.setWindowTitle(self.tr("New product"))
        self.resize(860, 640)

        self.title = QLineEdit()
        self.title.setPlaceholderText(self.tr("Linen shirt"))
        self.title.textChanged.connect(self._title_changed)
        self.handle = QLineEdit()
        self.handle.setPlaceholderText(self.tr("made from the title"))
        self.handle.textEdited.connect(self._handle_typed)
        self.vendor = QComboBox()
        self.vendor.setEditable(True)
        self.category = QComboBox()
        self.category.addItem(self.tr("(no category)"), None)
        self.status = QComboBox()
        for value, label in STATUSES:
            self.status.addItem(self.tr(label), value)
        form = QFormLayout()
        form.addRow(self.tr("Title"), self.title)
        form.addRow(self.tr("Handle"), self.handle)
        form.addRow(self.tr("Vendor"), self.vendor)
        form.addRow(self.tr("Category"), self.category)
        form.addRow(self.tr("Status"), self.status)

        self.options = QListWidget()
        self.options.setFlow(QListWidget.Flow.LeftToRight)
        self.options.setWrapping(True)
        self.options.setMaximumHeight(64)
        self.options.itemChanged.connect(self._options_changed)
        form.addRow(self.tr("Options"), self.options)

        self.table = QTableWidget(0, 0)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setDefaultSectionSize(28)
        self.add_row_button = QPushButton(self.tr("Add variant"))
        self.remove_row_button = QPushButton(self.tr("Remove selected"))
        self.fill_button = QPushButton(self.tr("Fill combinations"))
        self.fill_button.setToolTip(self.tr("Add a row for every combination of the chosen options' values"))
        self.add_row_button.clicked.connect(lambda: self.add_row())
        self.remove_row_button.clicked.connect(self.remove_selected_rows)
        self.fill_button.clicked.connect(self.fill_combinations)
        row_buttons = QHBoxLayout()
        row_buttons.addWidget(QLabel(self.tr("Variants")))
        row_buttons.addStretch(1)
        for b in (self.fill_button, self.add_row_button, self.remove_row_button):
            row_buttons.addWidget(b)

        self.banner = MessageBanner()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.setProperty("primary", True)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addLayout(form)
        layout.addLayout(row_buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self._rebuild_columns([])
        self.add_row()
        self.runner.read(lambda ops: ops.catalog.new_product_choices(), self._on_loaded, on_error=self._on_failed)

    # -- loading choices ---------------------------------------------------------------------------------
    def _on_loaded(self, choices: NewProductChoices) -> None:
        self.attributes = choices.attributes
        self.vendor.addItems(choices.vendors)
        self.vendor.setCurrentText("")
        for c in choices.categories:
            self.category.addItem(c["full_name"], c["id"])
        self.options.blockSignals(True)
        for a in self.attributes:
            item = QListWidgetItem(a.name or a.code)
            item.setData(Qt.ItemDataRole.UserRole, a.code)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.options.addItem(item)
        self.options.blockSignals(False)
        if not self.attributes:
            self.options.setToolTip(self.tr("No attributes yet: add them in the Variants view"))

    # -- title and handle --------------------------------------------------------------------------------
    def _title_changed(self, text: str) -> None:
        if not self._handle_edited:
            self.handle.setText(handle_from_title(text))

    def _handle_typed(self, text: str) -> None:
        self._handle_edited = bool(text.strip())

    # -- the variants table ------------------------------------------------------------------------------
    def columns(self) -> list[str]:
        return ["sku", *(f"option:{c}" for c in self.chosen), *(f for f, _ in MONEY_FIELDS), "barcode", "problem"]

    def _values_of(self, code: str) -> list[str]:
        found = next((a for a in self.attributes if a.code == code), None)
        return found.offered() if found is not None else []

    def _rebuild_columns(self, chosen: list[str]) -> None:
        rows = self.rows_data()
        self.chosen = chosen
        labels = {f: self.tr(label) for f, label in MONEY_FIELDS}
        names = {a.code: (a.name or a.code) for a in self.attributes}
        headers = [self.tr("SKU"), *(names.get(c, c) for c in chosen), *labels.values(), self.tr("Barcode"),
                   self.tr("Problem")]
        self.table.setRowCount(0)
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.horizontalHeader().setSectionResizeMode(len(headers) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, 190)
        for data in rows:
            self.add_row(data)

    def _options_changed(self, _item: QListWidgetItem) -> None:
        chosen = [self.options.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.options.count())
                  if self.options.item(i).checkState() is Qt.CheckState.Checked]
        self._rebuild_columns(chosen)

    def add_row(self, data: dict[str, Any] | None = None) -> int:
        data = data or {}
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, name in enumerate(self.columns()):
            if name.startswith("option:"):
                code = name.split(":", 1)[1]
                box = QComboBox()
                box.addItem("", "")
                for v in self._values_of(code):
                    box.addItem(v, v)
                box.setCurrentIndex(max(0, box.findData((data.get("options") or {}).get(code, ""))))
                self.table.setCellWidget(r, c, box)
                continue
            item = QTableWidgetItem(str(data.get(name) or ""))
            if name == "problem":
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                item.setForeground(QBrush(QColor(theme.DANGER)))
            elif name in dict(MONEY_FIELDS):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(r, c, item)
        return r

    def remove_selected_rows(self) -> None:
        for r in sorted({i.row() for i in self.table.selectionModel().selectedRows()}, reverse=True):
            self.table.removeRow(r)

    def rows_data(self) -> list[dict[str, Any]]:
        """Each table row as plain values (options by attribute code)."""
        out = []
        cols = self.columns() if self.table.columnCount() == len(self.columns()) else []
        for r in range(self.table.rowCount()):
            row: dict[str, Any] = {"options": {}}
            for c, name in enumerate(cols):
                if name.startswith("option:"):
                    box = self.table.cellWidget(r, c)
                    value = box.currentData() if isinstance(box, QComboBox) else ""
                    if value:
                        row["options"][name.split(":", 1)[1]] = value
                elif name != "problem":
                    item = self.table.item(r, c)
                    row[name] = item.text().strip() if item is not None else ""
            out.append(row)
        return out

    def fill_combinations(self) -> None:
        if not self.chosen:
            self.banner.show_message(self.tr("Tick the options the variants differ by first (size, colour…)."), "info")
            return
        rows = self.rows_data()
        have = {tuple(sorted(r["options"].items())) for r in rows}
        base = (self.handle.text().strip() or "SKU").upper()
        # rows without a SKU or options are only a template for the prices of the new ones: replaced
        template = next((r for r in rows if r.get("price")), {})
        for i in reversed([i for i, r in enumerate(rows) if not r.get("sku") and not r["options"]]):
            self.table.removeRow(i)
        for combo in itertools.product(*(self._values_of(c) for c in self.chosen)):
            options = dict(zip(self.chosen, combo, strict=True))
            if tuple(sorted(options.items())) in have:
                continue
            sku = "-".join([base, *(catalog_sku_part(v) for v in combo)])
            self.add_row({"sku": sku, "options": options, "price": template.get("price", ""),
                          "cost": template.get("cost", "")})

    # -- saving ------------------------------------------------------------------------------------------
    def form_values(self) -> tuple[dict[str, Any], list[dict[str, Any]], list[int]]:
        """(product values, variants, the table row of each variant): empty rows are left out."""
        values: dict[str, Any] = {"title": self.title.text().strip(), "handle": self.handle.text().strip(),
                                  "vendor": self.vendor.currentText().strip(), "status": self.status.currentData(),
                                  "category_id": self.category.currentData()}
        variants, where = [], []
        for r, row in enumerate(self.rows_data()):
            if not any(v for k, v in row.items() if k != "options") and not row["options"]:
                continue
            v: dict[str, Any] = {"sku": row.get("sku", ""), "price": row.get("price", ""), "options": row["options"]}
            for name in ("cost", "compare_at_price", "barcode"):
                if row.get(name):
                    v[name] = row[name]
            variants.append(v)
            where.append(r)
        return values, variants, where

    def save(self) -> None:
        if self.runner.busy or self.context.ops is None:
            return
        values, variants, where = self.form_values()
        self._show_problems([], where)
        if not variants:
            self.banner.show_message(self.tr("Add at least one variant with its SKU and price."), "error")
            return
        op = self.op_ids.for_request(json.dumps([values, variants], sort_keys=True, default=str))
        self.banner.hide()
        self.runner.write(lambda ops: ops.catalog.create_product(values, variants, op_id=op), self._on_saved,
                          on_error=lambda exc: self._on_save_failed(exc, where))

    def _on_saved(self, change: Change) -> None:
        self.op_ids.succeeded()
        self.created.emit(change.entity_id)
        self.accept()

    def _on_save_failed(self, exc: BaseException, where: list[int]) -> None:
        if isinstance(exc, ValidationError):
            self._show_problems(exc.problems, where)
        self.banner.show_message(error_text(exc), "error")

    def _show_problems(self, problems: list[tuple[str, str, str]], where: list[int]) -> None:
        """Each "variant N" problem on its table row (Problem column, tinted); the rest in the banner."""
        self.row_problems = {}
        for row, field_name, message in problems:
            if row.startswith("variant ") and row[8:].isdigit() and 0 < int(row[8:]) <= len(where):
                self.row_problems.setdefault(where[int(row[8:]) - 1], []).append(f"{field_name}: {message}")
        problem_col = self.table.columnCount() - 1
        for r in range(self.table.rowCount()):
            text = "; ".join(self.row_problems.get(r, []))
            item = self.table.item(r, problem_col)
            if item is not None:
                item.setText(text)
                item.setToolTip(text)
            for c in range(problem_col):
                cell = self.table.item(r, c)
                if cell is not None:
                    cell.setBackground(QBrush(QColor("#fdecec")) if text else QBrush())

    def _on_failed(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")

    def _set_busy(self, busy: bool) -> None:
        self.save_button.setEnabled(not busy)


def catalog_sku_part(value: str) -> str:
    """An option value as part of a SKU: "Navy Blue" -> "NAVY-BLUE"."""
    return handle_from_title(value).upper() or "X"
