"""The matrix of one product: one attribute down the side, another across the top, each cell the price
and total stock of the variants with that pair of values. Prices can be edited in place; saving writes
them as one changeset and marks those variants as keeping their own price."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.variants import ApplyResult, Matrix, MatrixPrice, ProductRow
from backoffice.ui.format import format_money, plural
from backoffice.ui.operations import Runner
from backoffice.ui.views.variants.models import MatrixModel
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.rows import muted, tool_button

STRETCH_COLUMNS = 6


class MatrixPanel(QWidget):
    message = Signal(str, str)
    generate_requested = Signal()

    def __init__(self, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.product: ProductRow | None = None
        self._generation = 0
        self.model = MatrixModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.table.setWordWrap(False)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(34)
        self.table.horizontalHeader().setDefaultSectionSize(170)
        self.table.horizontalHeader().setMinimumSectionSize(120)
        self.title = QLabel()
        self.title.setObjectName("DetailsTitle")
        self.subtitle = muted(wrap=False)
        for label in (self.title, self.subtitle):   # long titles elide instead of widening the panel
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.rows_box = QComboBox()
        self.columns_box = QComboBox()
        self.rows_box.activated.connect(lambda _: self.reload())
        self.columns_box.activated.connect(lambda _: self.reload())
        self.keep = QCheckBox(self.tr("Keep these prices when repricing"))
        self.keep.setChecked(True)
        self.save = tool_button(self.tr("Save prices"), "check-circle")
        self.save.setProperty("primary", True)
        self.discard = tool_button(self.tr("Discard"))
        self.save.clicked.connect(self.save_prices)
        self.discard.clicked.connect(lambda: self.model.set_matrix(self.model.grid))
        self.model.edits_changed.connect(self._update_buttons)

        self.empty = EmptyState("variants", self.tr("No product selected"),
                                self.tr("Choose a product on the left to see its variants by size and colour, "
                                        "with price and stock in each cell."),
                                action_text=self.tr("Generate variants…"))
        self.empty.action.clicked.connect(self.generate_requested)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        top = QHBoxLayout()
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.subtitle)
        top.addLayout(text, 1)
        rows_label, columns_label = QLabel(self.tr("Rows")), QLabel(self.tr("Columns"))
        top.addWidget(rows_label)
        top.addWidget(self.rows_box)
        top.addWidget(columns_label)
        top.addWidget(self.columns_box)
        hint = muted(self.tr("Double-click a price to edit it."), wrap=False)
        hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bottom = QHBoxLayout()
        bottom.addWidget(hint, 1)
        bottom.addWidget(self.keep)
        bottom.addWidget(self.discard)
        bottom.addWidget(self.save)
        self.controls = (rows_label, self.rows_box, columns_label, self.columns_box, hint, self.keep, self.discard,
                         self.save)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addLayout(bottom)
        self.show_product(None)

    def show_product(self, product: ProductRow | None, *, catalog_empty: bool = False) -> None:
        changed = product is None or self.product is None or product.id != self.product.id
        self.product = product
        self.catalog_empty = catalog_empty
        if changed:
            self.rows_box.clear()
            self.columns_box.clear()
        self.reload()

    def reload(self) -> None:
        self._generation += 1
        product = self.product
        if product is None:
            self.model.set_matrix(None)
            self.title.setText(self.tr("Matrix"))
            self.subtitle.setText("")
            if self.catalog_empty:
                self._empty(self.tr("No products yet"), self.tr("Create products in the Products view or import a "
                                                                "file; then generate their variants here."), False)
            else:
                self._empty(self.tr("No product selected"), self.tr(
                    "Choose a product on the left to see its variants by size and colour, with price and stock in "
                    "each cell."), False)
            self._update_buttons()
            return
        gen, rows, columns = self._generation, self.rows_box.currentData() or "", self.columns_box.currentData() or ""
        self.runner.read(lambda ops: ops.variants.matrix(product.id, rows, columns), lambda grid: self._show(gen, grid))

    def _show(self, gen: int, grid: Matrix) -> None:
        if gen != self._generation:
            return
        self.model.set_matrix(grid)
        self.title.setText(grid.title)
        variants = grid.variant_count
        base = self.tr("base price {price}").format(price=format_money(grid.base_price)) if grid.base_price is not None \
            else self.tr("no base price")
        self.subtitle.setText(plural(variants, self.tr("{n} variant"), self.tr("{n} variants")) + " · " + base)
        for box, chosen in ((self.rows_box, grid.row_attribute), (self.columns_box, grid.column_attribute)):
            box.blockSignals(True)
            box.clear()
            if box is self.columns_box:
                box.addItem(self.tr("(none)"), "")
            for code, name in grid.attributes:
                box.addItem(name, code)
            box.setCurrentIndex(max(0, box.findData(chosen)))
            box.blockSignals(False)
        # a few columns share the width; many keep a readable width and scroll
        header = self.table.horizontalHeader()
        few = 3 <= len(grid.columns) <= STRETCH_COLUMNS
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch if few else QHeaderView.ResizeMode.Interactive)
        if variants == 0:
            self._empty(self.tr("{title} has no variants yet").format(title=grid.title),
                        self.tr("Generate every combination of sizes, colours and other attributes in one step."), True)
        else:
            self.stack.setCurrentWidget(self.table)
            self._set_controls_visible(True)
        self._update_buttons()

    def _empty(self, title: str, text: str, can_generate: bool) -> None:
        self.empty.title.setText(title)
        self.empty.text.setText(text)
        self.empty.action.setVisible(can_generate)
        self.stack.setCurrentWidget(self.empty)
        self._set_controls_visible(False)

    def _set_controls_visible(self, visible: bool) -> None:
        for w in self.controls:
            w.setVisible(visible)

    def selected_variant_ids(self) -> list[int]:
        """The variants in the selected cells (for a bulk change of just those)."""
        ids: list[int] = []
        for index in self.table.selectionModel().selectedIndexes():
            key = self.model.key(index)
            cell = self.model.grid.cell(*key) if key is not None and self.model.grid is not None else None
            if cell is not None:
                ids.extend(cell.variant_ids)
        return sorted(set(ids))

    def _update_buttons(self) -> None:
        pending = bool(self.model.edits)
        self.save.setEnabled(pending)
        self.discard.setEnabled(pending)

    def save_prices(self) -> None:
        grid, keep = self.model.grid, self.keep.isChecked()
        prices = [MatrixPrice(row, column, price) for (row, column), price in self.model.edits.items()]
        if grid is None or not prices:
            return
        self.save.setEnabled(False)
        self.runner.write(lambda ops: ops.variants.save_matrix_prices(grid, prices, keep_prices=keep), self._saved)

    def _saved(self, result: ApplyResult) -> None:
        text = plural(result.applied_rows, self.tr("Saved {n} price."), self.tr("Saved {n} prices."))
        if result.conflicts:
            text += " " + self.tr("{n} variants were changed by someone else meanwhile and kept their price; "
                                  "the matrix shows them as they are now.").format(
                n=len({c.entity_id for c in result.conflicts}))
        self.message.emit(text, "warning" if result.conflicts else "success")
        # the prices written reload the view, and with it this matrix
