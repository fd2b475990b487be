"""Scheduled work: the periodic jobs (reports, low-stock alerts, order processing, store sync) registered
with this computer's scheduler, so they run without the app open, and how each one last went.

What the database wants and the run history come from the contract (``ops.schedule``); what is
registered on this computer from ``backoffice.scheduling`` (systemd user timers or the crontab on Linux,
launchd on macOS, the Task Scheduler on Windows). Every read and the registration run in the background
(the scheduler's own commands may take a moment). The entries run this app with the window's profile, or
with its database URL when it was opened without one; a URL holding a password is refused and the dialog
says to save a profile. ``backoffice schedule install/status/remove`` does the same from the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_when
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import Glyph

COLUMNS = ("Job", "Every", "On this computer", "Last run", "Result")


@dataclass
class ScheduleView:
    """What the dialog shows, read in the background."""

    target: Any = None              # scheduling.Target, None when the connection cannot be scheduled
    target_problem: str = ""
    scheduler: str = ""             # the scheduler an install would use here ("" when none is usable)
    scheduler_problem: str = ""
    states: list[Any] = field(default_factory=list)       # scheduling.JobState
    plan: Any = None                # scheduling.Plan
    registered: int = 0


def _profile_name(context: AppContext) -> str | None:
    """The saved profile the window was opened with (None: a database URL given without one)."""
    from backoffice.config import ProfileStore

    name = context.profile_name
    if not name:
        return None
    try:
        profile = ProfileStore().get(name)
    except Exception:  # noqa: BLE001 - a label such as "Local database" is no profile
        return None
    return profile.name


def read_schedule(ops: Operations, profile: str | None, backend: Any = None) -> ScheduleView:  # noqa: ANN401
    """Runs in a worker: the jobs the database wants, what this computer has registered for this
    connection, and each job's latest runs."""
    from backoffice import scheduling

    view = ScheduleView()
    try:
        view.target = scheduling.target_for(url=ops.url, profile=profile)
    except scheduling.SchedulingError as exc:
        view.target_problem = str(exc)
    try:
        chosen = backend or scheduling.backend_for_platform()
        view.scheduler = chosen.description
    except scheduling.SchedulingError as exc:
        view.scheduler_problem = str(exc)
        chosen = None
    view.plan = scheduling.planned_jobs(ops)
    entries = []
    if view.target is not None:
        entries = scheduling.registered(instance=view.target.instance, backend=backend)
    view.registered = len(entries)
    view.states = scheduling.job_states(entries, ops.schedule.last_runs(), ops.schedule.jobs())
    return view


def register(ops: Operations, profile: str | None, backend: Any = None) -> Any:  # noqa: ANN401
    """Runs in a worker: register the jobs the database wants for this connection (idempotent); the
    scheduler's InstallResult and how many jobs it holds."""
    from backoffice import scheduling

    target = scheduling.target_for(url=ops.url, profile=profile)
    plan = scheduling.planned_jobs(ops)
    if not plan.jobs:
        raise scheduling.SchedulingError("nothing to schedule: " + "; ".join(
            f"{j.label}: {plan.reasons[j.key]}" for j in plan.left_out))
    return scheduling.install(plan.jobs, target, backend=backend), len(plan.jobs)


def unregister(ops: Operations, profile: str | None, backend: Any = None) -> list[Any]:  # noqa: ANN401
    """Runs in a worker: remove this connection's entries from the scheduler(s); the entries removed."""
    from backoffice import scheduling

    target = scheduling.target_for(url=ops.url, profile=profile)
    return scheduling.remove(instance=target.instance, backend=backend)


class ScheduledWorkDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 backend: Any = None) -> None:  # noqa: ANN401 - a scheduling.Backend (None: this platform's)
        super().__init__(parent)
        self.context, self.tasks, self.backend = context, tasks, backend
        self.profile = _profile_name(context)
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self._follow_busy)
        self.shown: ScheduleView | None = None
        self.setWindowTitle(self.tr("Scheduled work"))
        self.setMinimumSize(860, 420)

        heading = QLabel(self.tr("Scheduled work"))
        heading.setObjectName("DetailsTitle")
        intro = QLabel(self.tr("Reports are delivered, low-stock alerts mailed, new orders reserved and the store "
                               "synced by this computer's scheduler, without Backoffice open. Each job runs one at "
                               "a time whoever starts it; its runs are recorded in the database."))
        intro.setObjectName("Muted")
        intro.setWordWrap(True)
        self.where = QLabel()
        self.where.setObjectName("Muted")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        for column in (0, 1, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(2, 250)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(6)
        self.progress.hide()
        self.banner = MessageBanner()
        self.register_button = QPushButton(self.tr("Register on this computer"))
        self.register_button.setProperty("primary", True)
        self.register_button.clicked.connect(self.register)
        self.remove_button = QPushButton(self.tr("Remove from this computer"))
        self.remove_button.clicked.connect(self.remove)
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.clicked.connect(self.load)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.refresh_button)
        row.addStretch(1)
        row.addWidget(self.remove_button)
        row.addWidget(self.register_button)
        row.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        top = QHBoxLayout()
        top.addWidget(Glyph("refresh", diameter=48, color=theme.ACCENT), 0, Qt.AlignmentFlag.AlignTop)
        titles = QVBoxLayout()
        titles.addWidget(heading)
        titles.addWidget(intro)
        top.addLayout(titles, 1)
        layout.addLayout(top)
        layout.addWidget(self.where)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.banner)
        layout.addLayout(row)
        self.load()

    # -- reading -------------------------------------------------------------------------------------------
    def load(self) -> None:
        profile, backend = self.profile, self.backend
        self.runner.read(lambda ops: read_schedule(ops, profile, backend), self._show, on_error=self._failed)

    def _show(self, view: ScheduleView) -> None:
        self.shown = view
        if view.target is not None:
            where = self.tr("For {target}, with {scheduler}.").format(
                target=view.target.description, scheduler=view.scheduler or self.tr("no usable scheduler"))
        else:
            where = ""
        self.where.setText(where)
        problem = view.target_problem or view.scheduler_problem
        if problem:
            self.banner.show_message(problem, "warning")
        self.table.setRowCount(len(view.states))
        for row, state in enumerate(view.states):
            self._fill_row(row, state, view)
        self.table.resizeRowsToContents()
        self._follow_busy(self.runner.busy)

    def _fill_row(self, row: int, state: Any, view: ScheduleView) -> None:  # noqa: ANN401
        from backoffice.scheduling import describe_every

        plan = view.plan
        job = next((j for j in [*plan.jobs, *plan.left_out] if j.key == state.key), None) if plan else None
        entry = state.entry
        every = entry.every if entry is not None and entry.every else (job.every if job else None)
        if entry is not None:
            on_computer = self.tr("Registered ({scheduler})").format(scheduler=entry.scheduler)
            if entry.next_run is not None:
                on_computer += "\n" + self.tr("next {when}").format(when=format_when(entry.next_run))
        elif state.wanted is False:
            reason = plan.reasons.get(state.key, state.reason) if plan else state.reason
            on_computer = self.tr("Not needed: {reason}").format(reason=reason.split(" (")[0])  # no CLI hint
        else:
            on_computer = self.tr("Not registered")
        last = state.last_runs[0] if state.last_runs else None
        if last is None:
            when, result = self.tr("Never"), ""
        else:
            when = format_when(last.started_at)
            took = last.seconds
            status = {"ok": self.tr("OK"), "failed": self.tr("Failed"), "skipped": self.tr("Skipped"),
                      "running": self.tr("Running")}.get(last.status, last.status)
            result = f"{status}" + (f" · {took:,.1f} s" if took is not None else "") + (
                f" · {last.summary}" if last.summary else "")
        cells = [state.label, describe_every(every) if every else "—", on_computer, when, result]
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(text)
            if column == 4 and last is not None and last.status == "failed":
                item.setForeground(QColor(theme.DANGER))
            self.table.setItem(row, column, item)

    # -- registering ---------------------------------------------------------------------------------------
    def register(self) -> None:
        if self.runner.busy:
            return
        profile, backend = self.profile, self.backend
        self.banner.show_message(self.tr("Registering with this computer's scheduler…"), "info")
        self.runner.read(lambda ops: register(ops, profile, backend), self._registered, on_error=self._failed)

    def _registered(self, outcome: tuple[Any, int]) -> None:
        result, count = outcome   # scheduling.InstallResult, the number of jobs registered
        text = (self.tr("Registered {count} jobs with {scheduler}.").format(count=count, scheduler=result.scheduler)
                if result.changed else self.tr("Already registered as it is: nothing changed."))
        notes = " ".join(note[:1].upper() + note[1:] + ("" if note.endswith(".") else ".") for note in result.notes)
        self.banner.show_message(f"{text} {notes}".strip(), "warning" if result.notes else "success")
        self.load()

    def remove(self) -> None:
        if self.runner.busy:
            return
        answer = QMessageBox.question(
            self, self.tr("Remove the scheduled jobs?"),
            self.tr("Reports, alerts and the other jobs of this store will no longer run from this computer "
                    "while Backoffice is closed. Their history is kept."),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        profile, backend = self.profile, self.backend
        self.runner.read(lambda ops: unregister(ops, profile, backend), self._removed, on_error=self._failed)

    def _removed(self, removed: list[Any]) -> None:
        self.banner.show_message(self.tr("Removed {count} entries from this computer's scheduler.").format(
            count=len(removed)) if removed else self.tr("Nothing was registered here."), "success")
        self.load()

    # -- state ---------------------------------------------------------------------------------------------
    def _failed(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")

    def _follow_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        view = self.shown
        schedulable = view is not None and view.target is not None and not view.scheduler_problem
        self.register_button.setEnabled(not busy and schedulable)
        self.remove_button.setEnabled(not busy and view is not None and view.registered > 0)
        self.refresh_button.setEnabled(not busy)


def may_schedule(context: AppContext) -> bool:
    """Registering runs on this computer for a direct connection (a file or a database); through the store
    API the server's operator schedules the jobs next to it."""
    return context.connected and not context.remote


def open_scheduled_work(window: QWidget) -> None:
    context = window.context   # type: ignore[attr-defined]
    if not may_schedule(context):
        return
    ScheduledWorkDialog(context, window.tasks, window).exec()   # type: ignore[attr-defined]


__all__ = ["ScheduleView", "ScheduledWorkDialog", "may_schedule", "open_scheduled_work", "read_schedule",
           "register", "unregister"]
