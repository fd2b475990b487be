""""Revert to this date…" from a product's History: choose a moment, see every field of the product and
its variants that changed since (now → then) and what cannot be reverted (variants created or deleted
since, values not on record), then apply it as one changeset, which can itself be reverted.

The preview and the write go through ``ops.product_templates`` off the GUI thread (``Runner``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.product_templates import RevertPlan, RevertResult
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.dialog_parts import field_label, format_value
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, before_after_colours, heading, make_table, muted

COL_ROW, COL_FIELD, COL_NOW, COL_THEN = range(4)
KIND_LABELS = {"created": "Created since", "deleted": "Deleted since", "unknown": "Not on record",
               "changed": "Changed meanwhile"}


def to_utc(value: QDateTime) -> dt.datetime:
    """A date-time edit's value (local time) as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(value.toSecsSinceEpoch(), dt.timezone.utc)


class RevertDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, product_id: int, title: str,
                 at: dt.datetime | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.product_id = context, tasks, product_id
        self.plan: RevertPlan | None = None
        self.setWindowTitle(self.tr("Revert to a date"))
        self.resize(1100, 600)
        self.runner = Runner(context, tasks, self)
        self.banner = MessageBanner()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(100)
        self.busy.hide()
        self.runner.busy_changed.connect(self.busy.setVisible)

        self.when = QDateTimeEdit()
        self.when.setCalendarPopup(True)
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        moment = at or dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
        self.when.setDateTime(QDateTime.fromSecsSinceEpoch(int(moment.timestamp())))
        self.when.setMaximumDateTime(QDateTime.currentDateTime().addDays(1))
        self.preview_button = QPushButton(self.tr("Preview"))
        self.preview_button.clicked.connect(self.preview)
        self.exact_at = at       # the moment as given (finer than the editor's seconds) until the user picks one
        self.when.dateTimeChanged.connect(lambda _: self._stale())

        self.summary = muted(self.tr("Choose the moment to go back to, then Preview."))
        self.model = RowsModel([self.tr("Row"), self.tr("Field"), self.tr("Now"), self.tr("Then (restored)")],
                               colours=before_after_colours(COL_NOW, COL_THEN), parent=self)
        self.table = make_table(self.model, {COL_ROW: 220, COL_FIELD: 150}, stretch=(COL_NOW, COL_THEN))
        self.conflicts_title = heading(self.tr("Not reverted"))
        self.conflicts = RowsModel([self.tr("Row"), self.tr("Why"), self.tr("Details")], parent=self)
        self.conflicts_table = make_table(self.conflicts, {0: 220, 1: 150}, stretch=(2,))
        self.conflicts_table.setMaximumHeight(170)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.apply_button = self.buttons.addButton(self.tr("Revert"), QDialogButtonBox.ButtonRole.AcceptRole)
        self.apply_button.setEnabled(False)
        self.buttons.accepted.connect(self.apply)
        self.buttons.rejected.connect(self.reject)

        top = QHBoxLayout()
        top.addWidget(heading(self.tr("Revert {title} to").format(title=title), "PageTitle"))
        top.addWidget(self.when)
        top.addWidget(QLabel(self.tr("(your local time)")))
        top.addWidget(self.preview_button)
        top.addStretch(1)
        top.addWidget(self.busy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.conflicts_title)
        layout.addWidget(self.conflicts_table)
        layout.addWidget(self.buttons)
        self.conflicts_title.hide()
        self.conflicts_table.hide()
        self.preview()

    def is_loading(self) -> bool:
        return self.runner.busy

    def _stale(self) -> None:
        self.exact_at = None
        self.apply_button.setEnabled(False)
        self.summary.setText(self.tr("The moment changed: Preview again."))

    def preview(self) -> None:
        pid, at = self.product_id, self.exact_at or to_utc(self.when.dateTime())
        self.apply_button.setEnabled(False)
        if not self.runner.read(lambda ops: ops.product_templates.plan_revert(pid, at), self._on_plan,
                                on_error=self._on_error):
            self.banner.show_message(self.tr("Not connected to a database."), "error")

    def _on_plan(self, plan: RevertPlan) -> None:
        self.plan = plan
        self.banner.hide()
        self.model.set_rows([(f.label, field_label(f.field), format_value(f.field, f.now),
                              format_value(f.field, f.then)) for f in plan.fields], plan.fields)
        if plan.fields:
            self.summary.setText(plural(len(plan.fields), self.tr("{n} field to set back, on {rows} rows"),
                                        self.tr("{n} fields to set back, on {rows} rows"), rows=plan.rows))
        else:
            self.summary.setText(self.tr("Nothing to revert: every field is as it was then."))
        self._show_conflicts(plan.conflicts)
        self.apply_button.setEnabled(bool(plan.fields))

    def _show_conflicts(self, conflicts: list[Any]) -> None:
        self.conflicts.set_rows([(c.label, self.tr(KIND_LABELS.get(c.kind, c.kind)), c.message) for c in conflicts],
                                conflicts)
        self.conflicts_title.setVisible(bool(conflicts))
        self.conflicts_table.setVisible(bool(conflicts))

    def apply(self) -> None:
        plan = self.plan
        if plan is None or not plan.fields:
            return
        pid, at, versions = self.product_id, plan.at, dict(plan.versions)
        self.apply_button.setEnabled(False)
        self.runner.write(lambda ops: ops.product_templates.apply_revert(pid, at, versions=versions),
                          self._on_applied, on_error=self._on_error)

    def _on_applied(self, result: RevertResult) -> None:
        self.result = result
        if result.changeset_id is None:
            self.banner.show_message(self.tr("Nothing was written."), "info")
        else:
            self.banner.show_message(plural(result.applied_rows, self.tr("Reverted as changeset #{id}: {n} row written."),
                                            self.tr("Reverted as changeset #{id}: {n} rows written."),
                                            id=result.changeset_id), "success")
        late = [c for c in result.conflicts if c.kind == "changed"]
        if late:
            self.banner.show_message(plural(len(late), self.tr("{n} row was changed by someone else meanwhile and left "
                                                               "as it is; the others were reverted."),
                                            self.tr("{n} rows were changed by someone else meanwhile and left "
                                                    "as they are; the others were reverted.")), "warning")
        self._show_conflicts(result.conflicts)
        self.model.clear()
        self.summary.setText(self.tr("Done. The revert is a changeset of its own: it can be reverted too."))

    def _on_error(self, exc: BaseException) -> None:
        self.banner.show_message(error_message(exc), "error")
        self.apply_button.setEnabled(self.plan is not None and bool(self.plan.fields))

