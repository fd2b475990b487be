"""Planning a price event, and resolving the conflicts of one (opened from the Price events dialog).

The planner takes its variants from the Products grid (the selected rows, or every row matching the
grid's filter), the price rule as the bulk editor's money steps, a start and an end in a time zone and an
optional limit per variant; it previews them with ``ops.events.preview`` (variants, price before →
after, rows that cannot take it, clashes with other events) and saves only a preview that is clean and
still on screen. The conflicts dialog lists the variants edited during an event and keeps their price or
restores the regular one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from PySide6.QtCore import QDateTime, QTime
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.events import EventConflict, EventDraft, EventPreview, Target, VariantFilter, zone_of
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_count, format_money, plural, translator
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.bulk_editors import Incomplete, MoneyStepsEditor
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, before_after_colours, heading, make_table, muted

tr = translator("PriceEvents")
ZONES = ("UTC", "Europe/London", "Europe/Paris", "Europe/Berlin", "America/New_York", "America/Chicago",
         "America/Los_Angeles", "Asia/Tokyo", "Australia/Sydney")


def targets_of(view: Any) -> list[tuple[str, Target]]:  # noqa: ANN401 - the Products view (or None)
    """The variants an event can be planned for from the grid: its selected rows, every row matching its
    filter (both when there is a selection), or the whole catalog without a grid."""
    if view is None:
        return [(tr("Every variant"), Target(filter=VariantFilter()))]
    out = []
    ids = view.selected_variant_ids()
    if ids:
        out.append((plural(len(ids), tr("The {n} selected variant"), tr("The {n} selected variants")),
                    Target(variant_ids=tuple(ids))))
    total = view.model.total
    label = (tr("Every variant matching the grid's filter") if total is None else
             plural(total, tr("The {n} variant matching the grid's filter"), tr("All {n} variants matching the grid's filter")))
    out.append((label, Target(filter=view.loader.filter)))
    return out


def local_zone() -> str:
    """This computer's zone as an offset (``+01:00``), or ``UTC``."""
    offset = dt.datetime.now().astimezone().utcoffset() or dt.timedelta()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class EventPlanner(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, targets: list[tuple[str, Target]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.targets = context, tasks, targets
        self.runner = Runner(context, tasks, self)
        self.preview: EventPreview | None = None
        self.previewed: EventDraft | None = None
        self.saved = None
        self.setWindowTitle(tr("Plan a price event"))
        self.resize(900, 680)

        self.name = QLineEdit()
        self.name.setPlaceholderText(tr("Winter sale"))
        self.target = QComboBox()
        for label, target in targets:
            self.target.addItem(label, target)
        self.steps = MoneyStepsEditor()
        first = self.steps.rows[0]
        first.kind.setCurrentIndex(max(0, first.kind.findData("lower")))
        first.value.setText("20")
        self.steps.add_step("round_ending", "0.99")
        start = QDateTime.currentDateTime().addSecs(3600)
        start.setTime(QTime(start.time().hour(), 0))
        self.start = QDateTimeEdit(start)
        self.end = QDateTimeEdit(start.addDays(3))
        for edit in (self.start, self.end):
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setCalendarPopup(True)
        self.zone = QComboBox()
        self.zone.setEditable(True)
        self.zone.addItems([local_zone(), *[z for z in ZONES if z != local_zone()]])
        self.limit = QSpinBox()
        self.limit.setRange(0, 1_000_000)
        self.limit.setSpecialValueText(tr("No limit"))
        self.limit.setSuffix(tr(" units per variant"))

        form = QFormLayout()
        form.addRow(tr("Name"), self.name)
        form.addRow(tr("Variants"), self.target)
        form.addRow(tr("Event price"), self.steps)
        when = QHBoxLayout()
        when.addWidget(self.start)
        when.addWidget(muted(tr("to"), wrap=False))
        when.addWidget(self.end)
        when.addWidget(muted(tr("in"), wrap=False))
        when.addWidget(self.zone, 1)
        form.addRow(tr("When"), when)
        form.addRow(tr("Quantity limit"), self.limit)

        self.banner = MessageBanner(self)
        self.counts = muted()
        self.model = RowsModel((tr("SKU"), tr("Price now"), tr("Event price"), tr("Compare-at during the event")),
                               colours=before_after_colours(1, 2), align_right=(1, 2, 3), parent=self)
        self.table = make_table(self.model, {0: 240, 1: 110, 2: 110})
        self.problems = RowsModel((tr("Row"), tr("Why it cannot be saved")), parent=self)
        self.problem_table = make_table(self.problems, {0: 220})
        self.problem_table.setMaximumHeight(120)
        self.problem_table.hide()

        self.preview_button = QPushButton(tr("Preview"))
        self.preview_button.clicked.connect(self.run_preview)
        self.save_button = QPushButton(tr("Save the event"))
        self.save_button.setProperty("primary", True)
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        cancel = QPushButton(tr("Cancel"))
        cancel.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_button)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(form)
        layout.addWidget(heading(tr("Preview")))
        layout.addWidget(self.counts)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problem_table)
        layout.addLayout(buttons)
        self.counts.setText(tr("Preview to see the variants and their event prices before saving."))
        for signal in (self.name.textChanged, self.target.currentIndexChanged, self.steps.changed,
                       self.start.dateTimeChanged, self.end.dateTimeChanged, self.zone.currentTextChanged,
                       self.limit.valueChanged):
            signal.connect(self._stale)
        self.runner.failed.connect(lambda text: self.banner.show_message(text, "error"))

    def draft(self) -> EventDraft:
        """The event on screen; Incomplete saying what is missing."""
        name = self.name.text().strip()
        if not name:
            raise Incomplete(tr("Give the event a name."))
        zone = self.zone.currentText().strip() or "UTC"
        try:
            tz = zone_of(zone)
        except ValueError as exc:
            raise Incomplete(str(exc)) from None
        starts = self.start.dateTime().toPython().replace(tzinfo=tz)     # type: ignore[union-attr]
        ends = self.end.dateTime().toPython().replace(tzinfo=tz)         # type: ignore[union-attr]
        return EventDraft(name, self.target.currentData(), self.steps.steps(), starts, ends, zone,
                          self.limit.value() or None)

    def _stale(self, *_args: object) -> None:
        self.save_button.setEnabled(False)
        if self.preview is not None:
            self.counts.setText(tr("Changed since the preview: preview again before saving."))

    def run_preview(self) -> None:
        try:
            draft = self.draft()
        except Incomplete as exc:
            self.banner.show_message(str(exc), "warning")
            return
        self.preview_button.setEnabled(False)
        self.counts.setText(tr("Previewing…"))
        self.runner.read(lambda ops: ops.events.preview(draft), lambda p: self._show(draft, p),
                         on_error=self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.preview_button.setEnabled(True)
        self.counts.setText("")
        self.banner.show_message(error_message(exc), "error")

    def _show(self, draft: EventDraft, preview: EventPreview) -> None:
        self.preview_button.setEnabled(True)
        self.preview, self.previewed = preview, draft
        self.model.set_rows([(sku, format_money(before), format_money(after),
                              format_money(compare) if compare is not None else "—")
                             for sku, before, after, compare in preview.sample])
        text = plural(preview.considered, tr("{n} variant"), tr("{n} variants")) + " · " + \
            plural(preview.changing, tr("{n} changes price"), tr("{n} change price"))
        if preview.considered > len(preview.sample):
            text += " · " + tr("the first {n} shown").format(n=format_count(len(preview.sample)))
        if preview.below_cost:
            text += " · " + plural(preview.below_cost, tr("{n} below its cost"), tr("{n} below their cost"))
        if preview.compare_at_regular:
            text += " · " + tr("compare-at set to the regular price")
        self.counts.setText(text)
        problems = [(tr("Event “{name}”").format(name=c.event), c.text()) for c in preview.clashes]
        problems += [(row, f"{field}: {why}") for row, field, why in preview.invalid]
        if not preview.considered:
            problems.append((tr("Variants"), tr("the filter or selection names no variant")))
        self.problems.set_rows(problems)
        self.problem_table.setVisible(bool(problems))
        if preview.clashes:
            self.banner.show_message(plural(len(preview.clashes), tr("It overlaps {n} other event on some variants."),
                                            tr("It overlaps {n} other events on some variants.")), "error")
        elif problems:
            self.banner.show_message(tr("Some variants cannot take this price; see below."), "error")
        else:
            self.banner.hide()
        self.save_button.setEnabled(preview.can_save)

    def save(self) -> None:
        if self.previewed is None or self.preview is None or not self.preview.can_save:
            return
        draft, op_id = self.previewed, uuid.uuid4().hex
        self.save_button.setEnabled(False)
        self.runner.write(lambda ops: ops.events.plan(draft, op_id=op_id), self._saved,
                          on_error=self._failed_save)

    def _saved(self, info: Any) -> None:  # noqa: ANN401
        self.saved = info
        self.accept()

    def _failed_save(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.banner.show_message(error_message(exc), "error")


class ConflictsDialog(QDialog):
    """The variants edited during an event: keep the price found or restore the regular price."""

    def __init__(self, context: AppContext, tasks: TaskManager, event: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.event_name = context, tasks, event
        self.runner = Runner(context, tasks, self)
        self.conflicts: list[EventConflict] = []
        self.setWindowTitle(tr("Conflicts of “{name}”").format(name=event))
        self.resize(720, 420)
        self.banner = MessageBanner(self)
        self.model = RowsModel((tr("SKU"), tr("Event price"), tr("Price now"), tr("Regular price")),
                               align_right=(1, 2, 3), parent=self)
        self.table = make_table(self.model, {0: 240, 1: 120, 2: 120})
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.keep = QPushButton(tr("Keep the price now"))
        self.keep.clicked.connect(lambda: self.resolve(True))
        self.restore = QPushButton(tr("Restore the regular price"))
        self.restore.clicked.connect(lambda: self.resolve(False))
        close = QPushButton(tr("Close"))
        close.clicked.connect(self.accept)
        for b in (self.keep, self.restore):
            b.setEnabled(context.may("events.resolve"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.keep)
        buttons.addWidget(self.restore)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(muted(tr("These prices were edited while the event ran: the event left them as they "
                                  "were. Select rows (none: all of them) and choose.")))
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self.runner.failed.connect(lambda text: self.banner.show_message(text, "error"))
        self.runner.succeeded.connect(lambda text: self.banner.show_message(text, "success", 6000))
        self.reload()

    def reload(self) -> None:
        name = self.event_name
        self.runner.read(lambda ops: ops.events.conflicts(name), self._show)

    def _show(self, conflicts: list[EventConflict]) -> None:
        self.conflicts = conflicts
        self.model.set_rows([(c.sku, format_money(c.event_price), format_money(c.current_price),
                              format_money(c.regular_price)) for c in conflicts], conflicts)
        if not conflicts:
            self.banner.show_message(tr("No conflicts left to resolve."), "success")
        for b in (self.keep, self.restore):
            b.setEnabled(bool(conflicts) and self.context.may("events.resolve"))

    def chosen_skus(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.conflicts[r].sku for r in rows if 0 <= r < len(self.conflicts)]

    def resolve(self, keep_current: bool) -> None:
        name, skus, op_id = self.event_name, self.chosen_skus(), uuid.uuid4().hex
        self.runner.write(lambda ops: ops.events.resolve(name, keep_current=keep_current, skus=skus, op_id=op_id),
                          lambda _r: self.reload(),
                          success=lambda r: plural(r.kept, tr("Kept the price of {n} variant."),
                                                   tr("Kept the price of {n} variants.")) if keep_current else
                          plural(r.restored, tr("Restored the regular price of {n} variant."),
                                 tr("Restored the regular price of {n} variants.")))
