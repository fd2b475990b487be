"""Bulk edit: one operation on many rows (a selection, or every row matching the grid's filter).

The user picks what to change and how; the dialog previews it with ``ops.bulk.preview`` in the background
(again, debounced, after every edit: find and replace shows its matches while typing), shows how many
rows change, a sample of old → new, the spread of price changes, every row the operation cannot be
applied to, and every row it would price below its cost. Invalid rows block Apply; rows below cost do not,
but Apply asks for a confirmation that lists them. Apply sends the operation, the target and the preview's
stamp to ``ops.bulk.apply``, which writes it as one changeset (revertible), then reports conflicts: rows
someone else changed since the preview are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.bulk import ApplyResult, BulkChoices, BulkOperation, BulkPreview, Target, replacer
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_change, format_count, format_money, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.views.products.bulk_editors import (
    CategoryEditor,
    ChoiceEditor,
    Incomplete,
    MoneyStepsEditor,
    ReplaceEditor,
    TagsEditor,
    TextValueEditor,
    describe_operation,
)
from backoffice.ui.views.products.dialog_parts import FIELD_LABELS, field_label, format_value, tr
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import HighlightDelegate, RowsModel, before_after_colours, make_table, muted
from backoffice.ui.widgets.sku_column import MiddleElideDelegate

PREVIEW_DEBOUNCE_MS = 350


def selection_label(n: int) -> str:
    """What a bulk edit of selected rows applies to: "1 selected variant", "5 selected variants"."""
    return plural(n, tr("{n} selected variant"), tr("{n} selected variants"))


def filter_label(total: int | None) -> str:
    """What a bulk edit of the filtered rows applies to: "the 1 variant matching the filter", "all 300
    variants matching the filter" (the count left out while it is not known yet)."""
    if total is None:
        return tr("all variants matching the filter")
    return plural(total, tr("the {n} variant matching the filter"), tr("all {n} variants matching the filter"))


class BulkEditDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, target: Target, target_label: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.target, self.target_label = context, tasks, target, target_label
        self.runner = Runner(context, tasks, self)
        self.plan: BulkPreview | None = None    # the preview on screen, for the operation on screen
        self.result: ApplyResult | None = None
        self.categories: dict[int, str] = {}
        self._planning = False
        self._applying = False
        self.setWindowTitle(self.tr("Bulk edit"))
        self.resize(900, 720)

        # -- what to change ---------------------------------------------------------------------------
        self.money = MoneyStepsEditor()
        self.category = CategoryEditor()
        self.status = ChoiceEditor("status")
        self.variant_status = ChoiceEditor("variant_status")
        self.vendor = TextValueEditor("vendor")
        self.product_type = TextValueEditor("product_type")
        self.tags_add = TagsEditor(adding=True)
        self.tags_remove = TagsEditor(adding=False)
        self.replace = ReplaceEditor({k: tr(v) for k, v in FIELD_LABELS.items()})
        self.operations: list[tuple[str, str, QWidget]] = [
            ("price", self.tr("Price"), self.money),
            ("compare_at_price", self.tr("Compare-at price"), self.money),
            ("cost", self.tr("Cost"), self.money),
            ("category", self.tr("Category"), self.category),
            ("status", self.tr("Product status"), self.status),
            ("variant_status", self.tr("Variant status"), self.variant_status),
            ("vendor", self.tr("Vendor"), self.vendor),
            ("product_type", self.tr("Product type"), self.product_type),
            ("tags_add", self.tr("Add tags"), self.tags_add),
            ("tags_remove", self.tr("Remove tags"), self.tags_remove),
            ("replace", self.tr("Find and replace text"), self.replace),
        ]
        self.kind = QComboBox()
        self.kind.setMinimumWidth(240)
        self.editors = QStackedWidget()
        for key, label, editor in self.operations:
            self.kind.addItem(label, key)
            if self.editors.indexOf(editor) < 0:
                self.editors.addWidget(editor)
            editor.changed.connect(self._on_edited)  # type: ignore[attr-defined]
        self.kind.currentIndexChanged.connect(self._on_kind)

        title = QLabel(self.tr("Bulk edit"))
        title.setObjectName("PageTitle")
        self.target_text = muted(target_label)
        kind_row = QHBoxLayout()
        kind_row.addWidget(QLabel(self.tr("Change")))
        kind_row.addWidget(self.kind)
        kind_row.addStretch(1)
        op_card = QFrame()
        op_card.setObjectName("Card")
        op_layout = QVBoxLayout(op_card)
        op_layout.setContentsMargins(16, 14, 16, 14)
        op_layout.setSpacing(12)
        op_layout.addLayout(kind_row)
        op_layout.addWidget(self.editors)

        # -- preview ----------------------------------------------------------------------------------
        self.summary = QLabel()
        self.summary.setObjectName("DetailsTitle")
        self.stats = muted()
        self.banner = MessageBanner()
        self.sample_model = RowsModel([self.tr("Row"), self.tr("Field"), self.tr("Before"), self.tr("After")],
                                      colours=before_after_colours(2, 3), parent=self)
        self.invalid_model = RowsModel([self.tr("Row"), self.tr("Field"), self.tr("Why it cannot change")], parent=self)
        self.below_cost_model = RowsModel([self.tr("Row"), self.tr("Price after"), self.tr("Cost")],
                                          colours={1: theme.WARNING}, parent=self)
        self.conflict_model = RowsModel([self.tr("Row"), self.tr("Field"), self.tr("Value now"), self.tr("Your value")],
                                        colours=before_after_colours(2, 3), parent=self)
        self.sample_table = make_table(self.sample_model, {0: 210, 1: 120}, stretch=(2, 3))
        self.highlight = HighlightDelegate(self.sample_table)
        self.sample_table.setItemDelegateForColumn(2, self.highlight)
        self.sample_note = muted()
        self.sample_note.hide()
        self.invalid_table = make_table(self.invalid_model, {0: 220, 1: 140})
        self.conflict_table = make_table(self.conflict_model, {0: 220, 1: 140}, stretch=(2, 3))
        self.below_cost_table = make_table(self.below_cost_model, {0: 260, 1: 140}, stretch=(2,))
        for table in (self.sample_table, self.invalid_table, self.conflict_table, self.below_cost_table):
            table.setItemDelegateForColumn(0, MiddleElideDelegate(table))   # "SKU …-NAVY-XL": keep the end
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.sample_table, self.tr("Changes"))
        self.tabs.addTab(self.invalid_table, self.tr("Problems"))
        self.tabs.addTab(self.conflict_table, self.tr("Conflicts"))
        self.tabs.addTab(self.below_cost_table, self.tr("Below cost"))
        preview_card = QFrame()
        preview_card.setObjectName("Card")
        preview_layout = QVBoxLayout(preview_card)
        preview_layout.setContentsMargins(16, 14, 16, 14)
        preview_layout.setSpacing(8)
        preview_layout.addWidget(self.summary)
        preview_layout.addWidget(self.stats)
        preview_layout.addWidget(self.banner)
        preview_layout.addWidget(self.tabs, 1)
        preview_layout.addWidget(self.sample_note)

        # -- buttons ----------------------------------------------------------------------------------
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(120)
        self.busy.hide()
        self.reason = muted(wrap=True)
        self.preview_button = QPushButton(self.tr("Preview"))
        self.preview_button.clicked.connect(self.preview)
        self.close_button = QPushButton(self.tr("Close"))
        self.close_button.clicked.connect(self.reject)
        self.apply_button = QPushButton(self.tr("Apply"))
        self.apply_button.setProperty("primary", True)
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self.apply)
        buttons = QHBoxLayout()
        buttons.addWidget(self.busy)
        buttons.addWidget(self.reason, 1)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.close_button)
        buttons.addWidget(self.apply_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(12)
        header = QVBoxLayout()
        header.setSpacing(2)
        header.addWidget(title)
        header.addWidget(self.target_text)
        layout.addLayout(header)
        layout.addWidget(op_card)
        layout.addWidget(preview_card, 1)
        layout.addLayout(buttons)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(PREVIEW_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.preview)
        self._on_kind()
        self._load_facets()

    # -- the operation --------------------------------------------------------------------------------
    @property
    def kind_key(self) -> str:
        return self.kind.currentData()

    def select(self, key: str) -> None:
        """Show the editor of an operation ("price", "category", "replace", ...)."""
        self.kind.setCurrentIndex(self.kind.findData(key))

    def operation(self) -> BulkOperation:
        """The operation the editors describe; raises Incomplete saying what is missing."""
        key = self.kind_key
        if key in ("price", "compare_at_price", "cost"):
            return BulkOperation("money", key, steps=self.money.steps())
        editor = self.editors.currentWidget()
        return editor.operation()  # type: ignore[attr-defined]

    def _on_kind(self) -> None:
        editor = next(e for k, _, e in self.operations if k == self.kind_key)
        self.editors.setCurrentWidget(editor)
        self._on_edited()

    def _on_edited(self) -> None:
        if self._applying:
            return
        self.plan = None
        self.result = None
        try:
            self.operation()
        except Incomplete as exc:
            self._debounce.stop()
            self._show_incomplete(str(exc))
            return
        self.summary.setText(self.tr("Previewing…"))
        self._update_buttons()
        self._debounce.start()

    # -- preview --------------------------------------------------------------------------------------
    def preview(self) -> None:
        """Compute the preview of the operation on screen in the background (at most one at a time)."""
        self._debounce.stop()
        try:
            op = self.operation()
        except Incomplete as exc:
            self._show_incomplete(str(exc))
            return
        if self.context.ops is None:
            self._show_error(self.tr("Not connected to a database."))
            return
        if self._planning:
            return   # when it ends, the answer is compared with the operation then on screen
        self._planning = True
        self.busy.show()
        target = self.target
        self.runner.read(lambda ops: ops.bulk.preview(op, target), lambda p: self._on_plan(op, p),
                         on_error=lambda exc: self._on_plan_error(op, exc))

    def _finish_planning(self, op: BulkOperation) -> bool:
        """Common end of a preview; True when the answer is for the operation now on screen (else a
        preview of that one is started)."""
        self._planning = False
        self.busy.setVisible(self._applying)
        try:
            current = self.operation()
        except Incomplete:
            return False
        if current != op:
            self.preview()
            return False
        return True

    def _on_plan(self, op: BulkOperation, plan: BulkPreview) -> None:
        if self._finish_planning(op):
            self.plan = plan
            self._show_plan(plan)

    def _on_plan_error(self, op: BulkOperation, exc: BaseException) -> None:
        if self._finish_planning(op):
            self.plan = None
            self.sample_model.clear()
            self.invalid_model.clear()
            self._update_tabs()
            self._show_error(self.tr("The preview failed: {error}").format(error=error_message(exc)))

    def _show_plan(self, plan: BulkPreview) -> None:
        if plan.entity == "product":
            text = plural(plan.considered, self.tr("{affected} of {n} product will change"),
                          self.tr("{affected} of {n} products will change"), affected=format_count(plan.affected))
        else:
            text = plural(plan.considered, self.tr("{affected} of {n} variant will change"),
                          self.tr("{affected} of {n} variants will change"), affected=format_count(plan.affected))
        self.summary.setText(text)
        if plan.stats:
            self.stats.setText(self.tr("Change per row: lowest {min} · median {median} · highest {max}").format(
                min=format_change(plan.stats["min"]), median=format_change(plan.stats["median"]),
                max=format_change(plan.stats["max"])))
        else:
            self.stats.setText("")
        self.stats.setVisible(bool(self.stats.text()))
        op = plan.operation
        if op.kind == "replace":
            pattern = re.compile(op.find if op.regex else re.escape(op.find), 0 if op.case_sensitive else re.IGNORECASE)
            fix = replacer(op)
            rows = [(label, field_label(f), *_excerpts(old or "", pattern, fix)) for label, f, old, _ in plan.sample]
        else:
            pattern = None
            rows = [(label, field_label(f), format_value(f, old, self.categories), format_value(f, new, self.categories))
                    for label, f, old, new in plan.sample]
        self.highlight.pattern = pattern
        self.sample_model.set_rows(rows)
        self.sample_note.setText(self.tr("Showing the first {shown} of {n} changes.").format(
            shown=format_count(len(plan.sample)), n=format_count(plan.affected)) if plan.affected > len(plan.sample) else "")
        self.sample_note.setVisible(bool(self.sample_note.text()))
        self.invalid_model.set_rows([(label, field_label(f), reason) for label, f, reason in plan.invalid])
        self.below_cost_model.set_rows([(label, format_money(price), format_money(cost))
                                        for label, price, cost in plan.below_cost])
        self.conflict_model.clear()
        self._update_tabs()
        if plan.invalid:
            self.banner.show_message(plural(len(plan.invalid), self.tr(
                "{n} row cannot take this change (see Problems). Nothing can be applied until the operation or "
                "the selection changes."), self.tr(
                "{n} rows cannot take this change (see Problems). Nothing can be applied until the operation or "
                "the selection changes.")), "error")
            self.tabs.setCurrentWidget(self.invalid_table)
        elif plan.below_cost:
            self.banner.show_message(self.below_cost_text(plan) + " " + self.tr(
                "You will be asked to confirm before it is applied (see Below cost)."), "warning")
            self.tabs.setCurrentWidget(self.below_cost_table)
        else:
            self.banner.hide()
            self.tabs.setCurrentWidget(self.sample_table)
        self._update_buttons()

    def _show_incomplete(self, message: str) -> None:
        self.plan = None
        self.summary.setText(self.tr("Nothing to preview yet"))
        self.stats.setText(message)
        self.stats.show()
        self.banner.hide()
        self.sample_model.clear()
        self.invalid_model.clear()
        self._update_tabs()
        self._update_buttons(reason=message)

    def _show_error(self, message: str) -> None:
        self.banner.show_message(message, "error")
        self._update_buttons()

    def _update_tabs(self) -> None:
        self.tabs.setTabText(0, self.tr("Changes ({n})").format(n=format_count(self.plan.affected if self.plan else 0)))
        self.tabs.setTabText(1, self.tr("Problems ({n})").format(n=format_count(self.invalid_model.rowCount())))
        self.tabs.setTabText(2, self.tr("Conflicts ({n})").format(n=format_count(self.conflict_model.rowCount())))
        self.tabs.setTabText(3, self.tr("Below cost ({n})").format(n=format_count(self.below_cost_model.rowCount())))
        self.tabs.setTabVisible(1, self.invalid_model.rowCount() > 0)
        self.tabs.setTabVisible(2, self.conflict_model.rowCount() > 0)
        self.tabs.setTabVisible(3, self.below_cost_model.rowCount() > 0)

    def apply_blocked_reason(self) -> str:
        """Why Apply is disabled (empty when it is enabled)."""
        if self._applying:
            return self.tr("Applying…")
        if self.result is not None:
            return self.tr("Applied. Change the operation to make another edit.")
        if self.context.actor is None or self.context.ops is None:
            return self.tr("Not connected to a database.")
        if self.plan is None:
            return self.tr("Preview the change first.")
        if self.plan.invalid:
            return plural(len(self.plan.invalid), self.tr("{n} row cannot take this change; see Problems."),
                          self.tr("{n} rows cannot take this change; see Problems."))
        if not self.plan.affected:
            return self.tr("Nothing to change: every row already has this value.")
        return ""

    def _update_buttons(self, reason: str | None = None) -> None:
        blocked = self.apply_blocked_reason()
        self.apply_button.setEnabled(not blocked)
        self.apply_button.setText(plural(self.plan.affected, self.tr("Apply to {n} row"), self.tr("Apply to {n} rows"))
                                  if self.plan is not None and not blocked else self.tr("Apply"))
        text = reason or blocked
        self.reason.setText(text)
        self.reason.setObjectName("ErrorText" if self.plan is not None and self.plan.invalid and not reason else "Muted")
        self.reason.style().unpolish(self.reason)
        self.reason.style().polish(self.reason)
        self.preview_button.setEnabled(not self._applying)
        self.kind.setEnabled(not self._applying)
        self.editors.setEnabled(not self._applying)

    # -- apply ----------------------------------------------------------------------------------------
    def below_cost_text(self, plan: BulkPreview) -> str:
        return plural(len(plan.below_cost), self.tr("{n} row would be priced below its cost."),
                      self.tr("{n} rows would be priced below their cost."))

    def confirm_below_cost(self, plan: BulkPreview) -> bool:
        """Asks whether to apply a plan that prices rows below their cost (never blocked, always asked)."""
        rows = "\n".join(f"{label}: {format_money(price)} < {format_money(cost)}"
                         for label, price, cost in plan.below_cost[:10])
        more = len(plan.below_cost) - 10
        if more > 0:
            rows += "\n" + self.tr("…and {n} more").format(n=format_count(more))
        answer = QMessageBox.warning(
            self, self.tr("Prices below cost"),
            self.below_cost_text(plan) + "\n\n" + rows + "\n\n" + self.tr("Apply the change anyway?"),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def apply(self) -> None:
        if self.apply_blocked_reason():
            return
        plan = self.plan
        assert plan is not None
        if plan.below_cost and not self.confirm_below_cost(plan):
            self.banner.show_message(self.below_cost_text(plan) + " " + self.tr("Nothing was applied."), "warning")
            return
        op = plan.operation
        label = field_label(op.field) if op.field else ""
        description = f"{describe_operation(op, label, self.categories)} · {self.target_label}"[:500]
        state = TaskState(self.tr("Applying bulk edit"), cancellable=False, parent=self)
        state.set_status(plural(plan.affected, self.tr("Writing {n} row…"), self.tr("Writing {n} rows…")))
        self._applying = True
        self.busy.show()
        self.banner.hide()
        self._update_buttons()
        target, stamp = self.target, plan.stamp
        self.runner.write(lambda ops: ops.bulk.apply(op, target, stamp=stamp, description=description,
                                                     allow_below_cost=True),   # confirmed above
                          self._on_applied, on_error=self._on_apply_error, state=state)

    def _on_applied(self, result: ApplyResult) -> None:
        self._applying = False
        self.busy.hide()
        self.result = result
        if result.changeset_id is not None:
            self.summary.setText(plural(result.applied_rows, self.tr("Applied: {n} row changed"),
                                        self.tr("Applied: {n} rows changed")))
        rows = [(f"SKU {c.label}" if c.entity == "variant" else f"product {c.label}", field_label(c.field),
                 format_value(c.field, c.theirs, self.categories),
                 format_value(c.field, c.yours, self.categories)) for c in result.conflicts]
        self.conflict_model.set_rows(rows)
        self._update_tabs()
        if result.changeset_id is None:
            text = self.tr("Nothing was applied.")
        else:
            text = plural(result.applied_rows, self.tr("Applied to {n} row as changeset #{id}."),
                          self.tr("Applied to {n} rows as changeset #{id}."), id=result.changeset_id)
        if result.conflicts:
            text += " " + plural(len(result.conflicts), self.tr(
                "{n} change was left out because someone changed that row since the preview (see Conflicts)."),
                self.tr("{n} changes were left out because someone changed those rows since the preview "
                        "(see Conflicts)."))
            self.tabs.setCurrentWidget(self.conflict_table)
        self.banner.show_message(text, "warning" if result.conflicts else "success")
        self.close_button.setText(self.tr("Done"))
        self._update_buttons()

    def _on_apply_error(self, exc: BaseException) -> None:
        self._applying = False
        self.busy.hide()
        problems = getattr(exc, "problems", None)
        if problems and len(problems) > 1:
            self.invalid_model.set_rows([(row, field_label(f), msg) for row, f, msg in problems])
            self._update_tabs()
            self.tabs.setCurrentWidget(self.invalid_table)
        self.banner.show_message(self.tr("Nothing was applied: {error}").format(error=error_message(exc)), "error")
        self.plan = None   # preview again before another try
        self._update_buttons()

    # -- facets ---------------------------------------------------------------------------------------
    def _load_facets(self) -> None:
        self.runner.read(lambda ops: ops.bulk.choices(), self._on_facets, on_error=lambda exc: None)

    def _on_facets(self, choices: BulkChoices) -> None:
        self.categories = choices.categories
        self.category.set_categories(self.categories)
        self.vendor.set_values(choices.vendors)
        self.tags_add.set_values(choices.tags)
        self.tags_remove.set_values(choices.tags)
        if self.plan is not None:
            self._show_plan(self.plan)   # category names instead of ids

    def done(self, result: int) -> None:
        if self._applying:
            return   # the write finishes first; the dialog then reports it
        self._debounce.stop()
        super().done(result)


EXCERPT = 60   # longer texts (descriptions) are shown from just before their first match


def _excerpts(old: str, pattern: re.Pattern[str], fix: Callable[[str], str]) -> tuple[str, str]:
    """Before and after of a find-and-replace, cut around the first match when the text is long."""
    text = old.replace("\n", " ")
    m = pattern.search(text)
    if len(text) <= EXCERPT or m is None:
        return text, fix(text)
    start, end = max(0, m.start() - 12), min(len(text), m.end() + EXCERPT - 12)
    window = text[start:end]
    lead, tail = ("…" if start else ""), ("…" if end < len(text) else "")
    return lead + window + tail, lead + fix(window) + tail
