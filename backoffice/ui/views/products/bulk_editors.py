"""The editors of the bulk edit dialog, one per kind of operation. Each emits ``changed`` when the user
edits it and builds a ``BulkOperation`` (or raises Incomplete saying what is missing). No queries here:
the dialog hands in the vendors, tags and categories it loaded in the background."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from PySide6.QtCore import QT_TRANSLATE_NOOP, QSize, QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.bulk import (
    PRODUCT_STATUSES,
    VARIANT_STATUSES,
    BulkOperation,
    PriceStep,
    decimal_text,
    money_text,
)
from backoffice.ui import resources, theme
from backoffice.ui.views.products.dialog_parts import tr

# UI step -> (service op, sign, what the value is)
STEP_KINDS: dict[str, tuple[str, int, str]] = {
    "set": ("set", 1, "amount"),
    "add": ("add", 1, "amount"),
    "subtract": ("add", -1, "amount"),
    "raise": ("percent", 1, "percent"),
    "lower": ("percent", -1, "percent"),
    "from_cost": ("from_cost", 1, "percent"),
    "round_ending": ("round_ending", 1, "ending"),
    "round_step": ("round_step", 1, "amount"),
    "floor": ("floor", 1, "amount"),
}
ENDINGS = ("0.99", "0.95", "0.00")
STATUS_LABELS = {"draft": QT_TRANSLATE_NOOP("ProductsDialogs", "Draft"),
                 "active": QT_TRANSLATE_NOOP("ProductsDialogs", "Active"),
                 "disabled": QT_TRANSLATE_NOOP("ProductsDialogs", "Disabled"),
                 "archived": QT_TRANSLATE_NOOP("ProductsDialogs", "Archived")}
TEXT_FIELDS = ("title", "description", "seo_title", "seo_description", "vendor", "product_type", "sku", "barcode")


class Incomplete(Exception):
    """The operation cannot be built yet; the message says what to fill in."""


def parse_amount(text: str, *, percent: bool = False) -> Decimal:
    """"12.5", "12,50", "€ 12.50", "7 %" -> Decimal; raises ValueError for anything else."""
    cleaned = re.sub(r"[^\d.,\-]", "", text.strip())
    if cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    cleaned = cleaned.replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite() or value < 0:
        raise ValueError(text)
    if not percent and value != value.quantize(Decimal("0.01")):
        raise ValueError(text)
    return value


class MoneyStepRow(QWidget):
    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, kind: str = "raise", value: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = QComboBox()
        for key, label in (("set", self.tr("Set to")), ("add", self.tr("Add")), ("subtract", self.tr("Subtract")),
                           ("raise", self.tr("Raise by %")), ("lower", self.tr("Lower by %")),
                           ("from_cost", self.tr("Set from cost, margin %")),
                           ("round_ending", self.tr("Round to the nearest ending")),
                           ("round_step", self.tr("Round to a multiple of")), ("floor", self.tr("Never below"))):
            self.kind.addItem(label, key)
        self.kind.setMinimumWidth(220)
        self.value = QLineEdit()
        self.value.setPlaceholderText("0.00")
        self.value.setFixedWidth(110)
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.ending = QComboBox()
        for e in ENDINGS:
            self.ending.addItem(e[1:], e)   # ".99"
        self.ending.setFixedWidth(110)
        self.remove = QToolButton()
        self.remove.setIcon(resources.icon("close", theme.TEXT_MUTED))
        self.remove.setIconSize(QSize(14, 14))
        self.remove.setAutoRaise(True)
        self.remove.setToolTip(self.tr("Remove this step"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.number = QLabel()
        self.number.setObjectName("Muted")
        self.number.setFixedWidth(18)
        layout.addWidget(self.number)
        layout.addWidget(self.kind)
        layout.addWidget(self.value)
        layout.addWidget(self.ending)
        layout.addWidget(self.remove)
        layout.addStretch(1)
        self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))
        if kind == "round_ending" and value:
            self.ending.setCurrentIndex(max(0, self.ending.findData(value if value.startswith("0") else "0" + value)))
        else:
            self.value.setText(value)
        self._show_value()
        self.kind.currentIndexChanged.connect(self._on_kind)
        self.value.textChanged.connect(self.changed)
        self.ending.currentIndexChanged.connect(self.changed)
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))

    def _on_kind(self) -> None:
        self._show_value()
        self.changed.emit()

    def _show_value(self) -> None:
        what = STEP_KINDS[self.kind.currentData()][2]
        self.ending.setVisible(what == "ending")
        self.value.setVisible(what != "ending")
        self.value.setPlaceholderText("%" if what == "percent" else "0.00")

    def step(self, position: int) -> PriceStep:
        op, sign, what = STEP_KINDS[self.kind.currentData()]
        if what == "ending":
            return PriceStep(op, Decimal(self.ending.currentData()))
        text = self.value.text()
        if not text.strip():
            raise Incomplete(self.tr("Step {n}: enter {what}.").format(
                n=position, what=self.tr("a percentage") if what == "percent" else self.tr("an amount")))
        try:
            value = parse_amount(text, percent=what == "percent")
        except ValueError:
            raise Incomplete(self.tr("Step {n}: “{text}” is not {what}.").format(
                n=position, text=text, what=self.tr("a percentage") if what == "percent"
                else self.tr("an amount with at most two decimals"))) from None
        if op == "from_cost" and value >= 100:
            raise Incomplete(self.tr("Step {n}: a margin must be below 100 %.").format(n=position))
        if op == "round_step" and value <= 0:
            raise Incomplete(self.tr("Step {n}: the step must be more than zero.").format(n=position))
        return PriceStep(op, value * sign)


class MoneyStepsEditor(QWidget):
    """Money steps applied in order, e.g. "Raise by 7 %" then "Round to the nearest ending .99"."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[MoneyStepRow] = []
        self._list = QVBoxLayout()
        self._list.setSpacing(6)
        self.add_button = QPushButton(self.tr("Add a step"))
        self.add_button.setProperty("flat", True)
        self.add_button.setIcon(resources.icon("plus", theme.ACCENT))
        self.add_button.clicked.connect(lambda: self.add_step("round_ending"))
        hint = QLabel(self.tr("Steps apply in order, to each row's current value."))
        hint.setObjectName("Muted")
        bottom = QHBoxLayout()
        bottom.addWidget(self.add_button)
        bottom.addStretch(1)
        bottom.addWidget(hint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._list)
        layout.addLayout(bottom)
        self.add_step("raise")

    def add_step(self, kind: str, value: str = "") -> MoneyStepRow:
        row = MoneyStepRow(kind, value)
        row.changed.connect(self.changed)
        row.remove_requested.connect(self._remove)
        self.rows.append(row)
        self._list.addWidget(row)
        self._renumber()
        self.changed.emit()
        return row

    def _remove(self, row: MoneyStepRow, notify: bool = True) -> None:
        self.rows.remove(row)
        self._list.removeWidget(row)
        row.deleteLater()
        self._renumber()
        if notify:
            self.changed.emit()

    def _renumber(self) -> None:
        for i, row in enumerate(self.rows, start=1):
            row.number.setText(f"{i}.")

    def steps(self) -> tuple[PriceStep, ...]:
        if not self.rows:
            raise Incomplete(self.tr("Add at least one step."))
        return tuple(row.step(i) for i, row in enumerate(self.rows, start=1))


class CategoryEditor(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        self.mode.addItem(self.tr("Set the category to"), "set")
        self.mode.addItem(self.tr("Replace a category"), "replace")
        self.mode.addItem(self.tr("Remove the category"), "remove")
        self.old = QComboBox()
        self.new = QComboBox()
        for combo in (self.old, self.new):
            combo.setMinimumWidth(320)
            combo.setMaxVisibleItems(20)
        self.old_label = QLabel(self.tr("Replace"))
        self.new_label = QLabel(self.tr("With"))
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.tr("Action"), self.mode)
        form.addRow(self.old_label, self.old)
        form.addRow(self.new_label, self.new)
        self.mode.currentIndexChanged.connect(self._on_mode)
        self.old.currentIndexChanged.connect(self.changed)
        self.new.currentIndexChanged.connect(self.changed)
        self.set_categories({})

    def set_categories(self, paths: dict[int, str]) -> None:
        old_id, new_id = self.old.currentData(), self.new.currentData()
        for combo in (self.old, self.new):
            combo.blockSignals(True)
            combo.clear()
        self.old.addItem(self.tr("Any category"), None)
        self.new.addItem(self.tr("Choose a category…"), None)
        for cid, path in sorted(paths.items(), key=lambda kv: kv[1].casefold()):
            self.old.addItem(path, cid)
            self.new.addItem(path, cid)
        for combo, wanted in ((self.old, old_id), (self.new, new_id)):
            combo.setCurrentIndex(max(0, combo.findData(wanted)))
            combo.blockSignals(False)
        self._on_mode(notify=False)

    def _on_mode(self, *_args: object, notify: bool = True) -> None:
        mode = self.mode.currentData()
        self.old_label.setText(self.tr("Replace") if mode == "replace" else self.tr("Remove"))
        self.old.setItemText(0, self.tr("Any category") if mode == "remove" else self.tr("Choose a category…"))
        self.old_label.setVisible(mode != "set")
        self.old.setVisible(mode != "set")
        self.new_label.setText(self.tr("With") if mode == "replace" else self.tr("Category"))
        self.new_label.setVisible(mode != "remove")
        self.new.setVisible(mode != "remove")
        if notify:
            self.changed.emit()

    def operation(self) -> BulkOperation:
        mode, old, new = self.mode.currentData(), self.old.currentData(), self.new.currentData()
        if mode == "remove":
            return BulkOperation("category_remove", value=old)
        if new is None:
            raise Incomplete(self.tr("Choose the new category."))
        if mode == "set":
            return BulkOperation("set", "category_id", value=new)
        if old is None:
            raise Incomplete(self.tr("Choose the category to replace."))
        return BulkOperation("category_replace", value=new, find=str(old))


class ChoiceEditor(QWidget):
    """A status (product or variant) picked from its values."""

    changed = Signal()

    def __init__(self, field: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.combo = QComboBox()
        values = PRODUCT_STATUSES if field == "status" else VARIANT_STATUSES
        for v in values:
            self.combo.addItem(tr(STATUS_LABELS.get(v, v)), v)
        self.combo.setMinimumWidth(200)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.tr("Set to"), self.combo)
        self.combo.currentIndexChanged.connect(self.changed)

    def operation(self) -> BulkOperation:
        return BulkOperation("set", self.field, value=self.combo.currentData())


class TextValueEditor(QWidget):
    """Vendor or product type: an existing value from the store, or a new one (empty clears it)."""

    changed = Signal()

    def __init__(self, field: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.combo.setMinimumWidth(320)
        self.combo.lineEdit().setPlaceholderText(self.tr("Leave empty to clear it"))
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.tr("Set to"), self.combo)
        self.combo.editTextChanged.connect(self.changed)

    def set_values(self, values: list[str]) -> None:
        text = self.combo.currentText()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(values)
        self.combo.setEditText(text)
        self.combo.blockSignals(False)

    def operation(self) -> BulkOperation:
        return BulkOperation("set", self.field, value=self.combo.currentText().strip())


class TagsEditor(QWidget):
    changed = Signal()

    def __init__(self, adding: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.adding = adding
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(self.tr("sale, summer"))
        self.edit.setMinimumWidth(320)
        self._completions = QStringListModel(self)
        completer = QCompleter(self._completions, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.edit.setCompleter(completer)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow(self.tr("Tags to add") if adding else self.tr("Tags to remove"), self.edit)
        hint = QLabel(self.tr("Separate tags with commas."))
        hint.setObjectName("Muted")
        form.addRow("", hint)
        self.edit.textChanged.connect(self.changed)

    def set_values(self, tags: list[str]) -> None:
        self._completions.setStringList(tags)

    def operation(self) -> BulkOperation:
        tags = tuple(dict.fromkeys(t.strip() for t in self.edit.text().split(",") if t.strip()))
        if not tags:
            raise Incomplete(self.tr("Enter at least one tag."))
        return BulkOperation("tags_add" if self.adding else "tags_remove", tags=tags)


class ReplaceEditor(QWidget):
    changed = Signal()

    def __init__(self, labels: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = QComboBox()
        for name in TEXT_FIELDS:
            self.field.addItem(labels.get(name, name), name)
        self.find = QLineEdit()
        self.find.setPlaceholderText(self.tr("Text to find"))
        self.replace = QLineEdit()
        self.replace.setPlaceholderText(self.tr("Replace with (empty removes it)"))
        self.regex = QCheckBox(self.tr("Regular expression"))
        self.case = QCheckBox(self.tr("Match case"))
        self.error = QLabel()
        self.error.setObjectName("ErrorText")
        self.error.hide()
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.addWidget(QLabel(self.tr("In")), 0, 0)
        grid.addWidget(self.field, 0, 1)
        grid.addWidget(QLabel(self.tr("Find")), 1, 0)
        grid.addWidget(self.find, 1, 1)
        grid.addWidget(QLabel(self.tr("Replace")), 2, 0)
        grid.addWidget(self.replace, 2, 1)
        options = QHBoxLayout()
        options.setSpacing(20)
        options.addWidget(self.regex)
        options.addWidget(self.case)
        options.addStretch(1)
        grid.addLayout(options, 3, 1)
        grid.addWidget(self.error, 4, 1)
        grid.setColumnStretch(1, 1)
        for signal in (self.field.currentIndexChanged, self.find.textChanged, self.replace.textChanged,
                       self.regex.toggled, self.case.toggled):
            signal.connect(self.changed)

    def operation(self) -> BulkOperation:
        find = self.find.text()
        self.error.hide()
        if not find:
            raise Incomplete(self.tr("Enter the text to find."))
        if self.regex.isChecked():
            try:
                re.compile(find)
            except re.error as exc:
                self.error.setText(self.tr("Not a valid regular expression: {error}").format(error=str(exc)))
                self.error.show()
                raise Incomplete(self.error.text()) from None
        return BulkOperation("replace", self.field.currentData(), find=find, replace=self.replace.text(),
                             regex=self.regex.isChecked(), case_sensitive=self.case.isChecked())


def describe_step(step: PriceStep) -> str:
    """One money step in words, as stored in the changeset's description: "raise by 10 %", "add 2.50".
    Numbers go through ``decimal_text`` (never "1E+1", no trailing-zero noise)."""
    v = step.value
    if step.op == "set":
        return tr("set to {v}").format(v=money_text(v))
    if step.op == "add":
        return (tr("add {v}") if v >= 0 else tr("subtract {v}")).format(v=money_text(abs(v)))
    if step.op == "percent":
        return (tr("raise by {v} %") if v >= 0 else tr("lower by {v} %")).format(v=decimal_text(abs(v)))
    if step.op == "from_cost":
        return tr("from cost with a {v} % margin").format(v=decimal_text(v))
    if step.op == "round_ending":
        return tr("round to ending {v}").format(v=money_text(v)[1:])
    if step.op == "round_step":
        return tr("round to a multiple of {v}").format(v=money_text(v))
    if step.op == "floor":
        return tr("never below {v}").format(v=money_text(v))
    return f"{step.op} {decimal_text(v)}"


def describe_operation(op: BulkOperation, field_label: str, categories: dict[int, str]) -> str:
    """A changeset description people can read later: "Price: raise by 7 %, then round to ending .99"."""
    def category(value: object) -> str:
        try:
            return categories.get(int(value), str(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return str(value)

    if op.kind == "money":
        return f"{field_label}: " + tr(", then ").join(describe_step(s) for s in op.steps)
    if op.kind == "set" and op.field == "category_id":
        return tr("Category: set to {name}").format(name=category(op.value))
    if op.kind == "set":
        return tr("{field}: set to “{value}”").format(field=field_label, value=op.value)
    if op.kind == "category_replace":
        return tr("Category: {old} replaced with {new}").format(old=category(op.find), new=category(op.value))
    if op.kind == "category_remove":
        return tr("Category: removed") if op.value is None else tr("Category: {name} removed").format(
            name=category(op.value))
    if op.kind in ("tags_add", "tags_remove"):
        what = tr("Tags added: {tags}") if op.kind == "tags_add" else tr("Tags removed: {tags}")
        return what.format(tags=", ".join(op.tags))
    if op.kind == "replace":
        return tr("{field}: “{find}” replaced with “{replace}”").format(field=field_label, find=op.find,
                                                                      replace=op.replace)
    return op.describe()
