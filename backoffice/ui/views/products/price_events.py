"""Price events from the Products view's Merchandising menu: a timeline of the events (bars over days and
weeks, a "now" line, a colour per state), the list with its counts, and the actions: plan an event
(:mod:`price_event_planner`), cancel one, resolve its conflicts, run what is due now, and the setting
"compare-at at the regular price during events".

Everything goes through ``ops.events`` off the GUI thread (``Runner``); the timeline only paints the
events it is handed (no query while drawing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.events import EventInfo, EventSettings, RunDueResult, local_time
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_count, plural, translator
from backoffice.ui.operations import Runner
from backoffice.ui.price_event_runs import run_due_text
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, heading, make_table, muted

tr = translator("PriceEvents")
UTC = dt.timezone.utc
MAX_TIMELINE_HEIGHT = 260
RECENT = dt.timedelta(days=30)     # ended events older than this leave the timeline (not the list)
STATE_COLOURS = {"planned": theme.ACCENT, "active": theme.SUCCESS, "ended": theme.TEXT_MUTED,
                 "cancelled": theme.TEXT_DISABLED}
STATE_WORDS = {"planned": tr("Planned"), "active": tr("Running"), "ended": tr("Ended"), "cancelled": tr("Cancelled")}
HEADERS = (tr("Event"), tr("State"), tr("Starts"), tr("Ends"), tr("Time zone"), tr("Price rule"), tr("Variants"),
           tr("Sold"), tr("Limit"), tr("Conflicts"))


def event_row(e: EventInfo) -> tuple[str, ...]:
    """One event as the list shows it: times in the zone it was planned in, counts as counts."""
    start, end = local_time(e.starts_at, e.time_zone), local_time(e.ends_at, e.time_zone)
    return (e.name, STATE_WORDS.get(e.state, e.state), start.rsplit(" ", 1)[0], end.rsplit(" ", 1)[0],
            start.rsplit(" ", 1)[-1], e.rule_text, format_count(e.variants), format_count(e.sold),
            format_count(e.quantity_limit) if e.quantity_limit else "—",
            format_count(e.conflicts) if e.conflicts else "")


# -- the timeline -------------------------------------------------------------------------------------------
class Timeline(QWidget):
    """Events as bars over days, one lane per event, a "now" line; a click selects an event."""

    selected = Signal(str)          # the name of the event clicked
    LANE, TOP, LEFT = 24, 30, 8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.events: list[EventInfo] = []
        self.now = dt.datetime.now(UTC)
        self.current = ""               # the name of the event selected (drawn outlined)
        self.setMinimumHeight(140)

    def set_events(self, events: Sequence[EventInfo], now: dt.datetime) -> None:
        self.events, self.now = list(events), now
        self.setMinimumHeight(self.TOP + max(1, len(self.events)) * self.LANE + 12)
        self.update()

    def span(self) -> tuple[dt.datetime, dt.datetime]:
        """The days shown: a week before now to four weeks after, widened to every event's bar."""
        day = self.now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        first, last = day - dt.timedelta(days=7), day + dt.timedelta(days=28)
        for e in self.events:
            first, last = min(first, e.starts_at), max(last, e.ends_at)
        first = first.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        last = last.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
        return first, last

    def x_of(self, moment: dt.datetime, first: dt.datetime, last: dt.datetime) -> float:
        width = max(1, self.width() - 2 * self.LEFT)
        return self.LEFT + width * (moment - first).total_seconds() / max(1.0, (last - first).total_seconds())

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(theme.SURFACE))
        first, last = self.span()
        days = (last - first).days
        step = 1 if days <= 21 else 7      # a tick a day, or a week over longer spans
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() - 1))
        painter.setFont(small)
        for n in range(0, days + 1):
            moment = first + dt.timedelta(days=n)
            x = self.x_of(moment, first, last)
            if step == 7 and moment.weekday() != 0:
                continue
            painter.setPen(QPen(QColor(theme.BORDER), 1))
            painter.drawLine(int(x), self.TOP - 6, int(x), self.height())
            painter.setPen(QColor(theme.TEXT_MUTED))
            painter.drawText(QRectF(x + 3, 4, 80, 18), Qt.AlignmentFlag.AlignLeft, f"{moment:%d %b}")
        if not self.events:
            painter.setPen(QColor(theme.TEXT_MUTED))
            painter.drawText(self.rect().adjusted(0, self.TOP, 0, 0), Qt.AlignmentFlag.AlignCenter,
                             tr("No price events yet: plan one to see it here."))
        for lane, e in enumerate(self.events):
            x0, x1 = self.x_of(e.starts_at, first, last), self.x_of(e.ends_at, first, last)
            bar = QRectF(x0, self.TOP + lane * self.LANE + 3, max(4.0, x1 - x0), self.LANE - 6)
            colour = QColor(STATE_COLOURS.get(e.state, theme.TEXT_MUTED))
            painter.setPen(QPen(QColor(theme.DANGER), 2) if e.conflicts else
                           QPen(QColor(theme.TEXT), 2) if e.name == self.current else Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(bar, 4, 4)
            fits = painter.fontMetrics().horizontalAdvance(e.name) + 12 <= bar.width()
            if fits:      # the name on the bar, or after it when the bar is too short to hold it
                painter.setPen(QColor("#ffffff") if e.state in ("planned", "active") else QColor(theme.TEXT))
                where = bar.adjusted(6, 0, -4, 0)
            else:
                painter.setPen(QColor(theme.TEXT))
                where = QRectF(bar.right() + 6, bar.top(), 400, bar.height())
            painter.drawText(where, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, e.name)
        x_now = self.x_of(self.now, first, last)
        painter.setPen(QPen(QColor(theme.DANGER), 2))
        painter.drawLine(int(x_now), self.TOP - 10, int(x_now), self.height())
        painter.drawText(QRectF(x_now + 3, self.TOP - 14, 40, 14), Qt.AlignmentFlag.AlignLeft, tr("now"))
        painter.end()

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        lane = int((event.position().y() - self.TOP) // self.LANE)
        if 0 <= lane < len(self.events):
            self.selected.emit(self.events[lane].name)


# -- the dialog ---------------------------------------------------------------------------------------------
class PriceEventsDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, view: Any = None,  # noqa: ANN401 - the Products view
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.view = context, tasks, view
        self.runner = Runner(context, tasks, self)
        self.events: list[EventInfo] = []
        self.child: QDialog | None = None
        self.setWindowTitle(tr("Price events"))
        self.resize(1100, 640)

        self.banner = MessageBanner(self)
        self.timeline = Timeline(self)
        self.timeline.selected.connect(self._select_named)
        self.model = RowsModel(HEADERS, align_right=(6, 7, 8, 9), parent=self)
        self.table = make_table(self.model, {0: 170, 1: 80, 2: 125, 3: 125, 4: 105, 5: 250, 6: 70, 7: 60, 8: 60})
        self.table.selectionModel().currentRowChanged.connect(lambda current, _p: self._select(current.row()))
        self.summary = muted()
        self.compare_at = QCheckBox(tr("During events, show the regular price as the compare-at price"))
        self.compare_at.setEnabled(False)
        self.compare_at.toggled.connect(self._save_setting)

        self.plan_button = QPushButton(tr("Plan an event…"))
        self.plan_button.setProperty("primary", True)
        self.plan_button.clicked.connect(self.open_planner)
        self.cancel_button = QPushButton(tr("Cancel event"))
        self.cancel_button.clicked.connect(self.cancel_selected)
        self.conflicts_button = QPushButton(tr("Conflicts…"))
        self.conflicts_button.clicked.connect(self.open_conflicts)
        self.run_button = QPushButton(tr("Run due now"))
        self.run_button.setToolTip(tr("Start and end the events that are due (the scheduler and the app do it "
                                      "every few minutes)"))
        self.run_button.clicked.connect(self.run_due)
        close = QPushButton(tr("Close"))
        close.clicked.connect(self.accept)
        for button, operation in ((self.plan_button, "events.plan"), (self.cancel_button, "events.cancel"),
                                  (self.conflicts_button, "events.resolve"), (self.run_button, "events.run_due")):
            if not context.may(operation):
                button.setToolTip(tr("Needs the role {roles}").format(roles=context.roles_for(operation)))

        buttons = QHBoxLayout()
        for b in (self.plan_button, self.cancel_button, self.conflicts_button, self.run_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(heading(tr("Timeline")))
        self.timeline_area = QScrollArea(self)      # many events at once: the lanes scroll
        self.timeline_area.setWidgetResizable(True)
        self.timeline_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.timeline_area.setWidget(self.timeline)
        self.timeline_area.setMinimumHeight(self.timeline.minimumHeight() + 2)
        self.timeline_area.setMaximumHeight(MAX_TIMELINE_HEIGHT)
        layout.addWidget(self.timeline_area)
        layout.addWidget(heading(tr("Events")))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.compare_at)
        layout.addLayout(buttons)
        self.runner.failed.connect(lambda text: self.banner.show_message(text, "error"))
        self.runner.succeeded.connect(lambda text: self.banner.show_message(text, "success", 6000))
        context.data_changed.connect(self._on_data_changed)
        self._refresh_actions()
        self.reload()

    # -- loading -----------------------------------------------------------------------------------------------
    def reload(self) -> None:
        self.runner.read(lambda ops: (ops.events.list(), ops.events.settings()), self._show)

    def _on_data_changed(self, changes: Any) -> None:  # noqa: ANN401
        if getattr(changes, "everything", False) or {"prices", "settings"} & set(getattr(changes, "kinds", ())):
            self.reload()

    def _show(self, loaded: tuple[list[EventInfo], EventSettings]) -> None:
        events, settings = loaded
        keep = self.selected_event().name if self.selected_event() else None
        self.events = events
        self.model.set_rows([event_row(e) for e in events], events)
        now = dt.datetime.now(UTC)
        self.timeline.set_events([e for e in events if e.ends_at >= now - RECENT or e.conflicts
                                  or e.state in ("planned", "active")], now)
        self.timeline_area.setMinimumHeight(min(MAX_TIMELINE_HEIGHT, self.timeline.minimumHeight() + 2))
        self.compare_at.blockSignals(True)
        self.compare_at.setChecked(settings.compare_at_regular)
        self.compare_at.blockSignals(False)
        self.compare_at.setEnabled(self.context.may("events.save_settings"))
        counts = {s: sum(1 for e in events if e.state == s) for s in STATE_WORDS}
        conflicts = sum(e.conflicts for e in events)
        self.summary.setText(tr("{planned} planned · {active} running · {ended} ended · {cancelled} cancelled")
                             .format(**{k: format_count(v) for k, v in counts.items()})
                             + (" · " + plural(conflicts, tr("{n} conflict to resolve"), tr("{n} conflicts to resolve"))
                                if conflicts else ""))
        for row, e in enumerate(events):
            if e.name == keep:
                self.table.selectRow(row)
        self._refresh_actions()

    def selected_event(self) -> EventInfo | None:
        row = self.table.currentIndex().row()
        return self.events[row] if 0 <= row < len(self.events) else None

    def _select_named(self, name: str) -> None:
        row = next((i for i, e in enumerate(self.events) if e.name == name), -1)
        if row >= 0:
            self.table.selectRow(row)

    def _select(self, row: int) -> None:
        self.timeline.current = self.events[row].name if 0 <= row < len(self.events) else ""
        self.timeline.update()
        self._refresh_actions()

    def _refresh_actions(self) -> None:
        e = self.selected_event()
        self.plan_button.setEnabled(self.context.may("events.plan"))
        self.cancel_button.setEnabled(e is not None and e.state in ("planned", "active")
                                      and self.context.may("events.cancel"))
        self.conflicts_button.setEnabled(e is not None and e.conflicts > 0)
        self.run_button.setEnabled(self.context.may("events.run_due"))

    # -- actions ---------------------------------------------------------------------------------------------
    def _save_setting(self, on: bool) -> None:
        self.runner.write(lambda ops: ops.events.save_settings(EventSettings(on)), None,
                          success=tr("Saved: compare-at prices follow the regular price during events.") if on
                          else tr("Saved: compare-at prices are left as they are during events."))

    def open_planner(self) -> None:
        from backoffice.ui.views.products.price_event_planner import EventPlanner, targets_of

        self.child = EventPlanner(self.context, self.tasks, targets_of(self.view), self)
        self.child.finished.connect(lambda _code: self.reload())
        self.child.open()

    def open_conflicts(self) -> None:
        e = self.selected_event()
        if e is None:
            return
        from backoffice.ui.views.products.price_event_planner import ConflictsDialog

        self.child = ConflictsDialog(self.context, self.tasks, e.name, self)
        self.child.finished.connect(lambda _code: self.reload())
        self.child.open()

    def cancel_selected(self) -> None:
        e = self.selected_event()
        if e is None:
            return
        what = (tr("“{name}” will not start.") if e.state == "planned" else
                tr("“{name}” ends now: its variants go back to their regular prices (prices edited meanwhile are "
                   "kept and listed as conflicts).")).format(name=e.name)
        answer = QMessageBox.question(self, tr("Cancel the event?"), what,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        name = e.name
        self.runner.write(lambda ops: ops.events.cancel(name), lambda _info: self.reload(),
                          success=tr("“{name}” was cancelled.").format(name=name))

    def run_due(self) -> None:
        self.run_button.setEnabled(False)
        self.runner.write(lambda ops: ops.events.run_due(), self._ran, on_error=self._run_failed)

    def _ran(self, result: RunDueResult) -> None:
        self._refresh_actions()
        self.banner.show_message(run_due_text(result), "success" if not result.conflicts else "warning", 8000)
        self.reload()

    def _run_failed(self, exc: BaseException) -> None:
        self._refresh_actions()
        self.banner.show_message(error_message(exc), "error")


def open_price_events(view: Any, *_checked: object) -> None:  # noqa: ANN401 - the Products view
    """The Merchandising menu's "Price events…"."""
    dialog = PriceEventsDialog(view.context, view.tasks, view, view)
    view.dialog = dialog      # kept, as the view keeps the dialogs it opens
    dialog.open()
