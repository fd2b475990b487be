"""The one background executor of the GUI, and the state object of long jobs.

Everything that touches the database or the network runs here, never on the GUI thread (Anki's
``taskman``): ``run_in_background(task, on_done, on_error)`` runs ``task()`` on a pooled worker thread
and calls ``on_done(result)`` or ``on_error(exception)`` back on the GUI thread, through a queued
signal. Workers never touch widgets; they only compute and return plain values.

A long job gets a :class:`TaskState` (Orange3's ``concurrent.TaskState``): the job reports progress
and status through it from its thread, checks ``state.cancelled()`` to stop early, and the GUI sees
at most one update per throttle interval, always including the last one.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QDeadlineTimer,
    QEventLoop,
    QObject,
    QRunnable,
    Qt,
    QThreadPool,
    QTimer,
    Signal,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_THROTTLE_S = 0.05  # at most 20 progress updates a second reach the GUI


class Cancelled(Exception):
    """Raised by a job that noticed its TaskState was cancelled."""


class TaskState(QObject):
    """Progress, status text and a cancel flag shared between a job (any thread) and the GUI.

    The job calls :meth:`report` / :meth:`set_progress` / :meth:`set_status` and polls
    :meth:`cancelled`; the GUI listens to :attr:`progress_changed` and :attr:`status_changed`, which are
    emitted on the GUI thread no more often than ``min_interval`` seconds. Create it on the GUI thread.
    """

    progress_changed = Signal(float)
    status_changed = Signal(str)
    cancel_requested = Signal()
    _wake = Signal()

    def __init__(self, title: str = "", *, cancellable: bool = True, min_interval: float = DEFAULT_THROTTLE_S,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.cancellable = cancellable
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._progress = 0.0
        self._status = ""
        self._wake_pending = False
        self._published: tuple[float, str] = (0.0, "")
        self._last_publish = 0.0
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.timeout.connect(self.flush)
        self._wake.connect(self._on_wake, Qt.ConnectionType.QueuedConnection)

    # -- the job's side (any thread) --------------------------------------------------------------------
    def report(self, fraction: float | None = None, text: str | None = None) -> None:
        """Progress as a fraction 0..1 and/or a status line; the signature of ``progress=`` callbacks."""
        with self._lock:
            if fraction is not None:
                self._progress = min(1.0, max(0.0, float(fraction)))
            if text is not None:
                self._status = str(text)
            if self._wake_pending:
                return  # the GUI has not picked up the previous value yet: it will read this one
            self._wake_pending = True
        try:
            self._wake.emit()
        except RuntimeError:  # the state was deleted while the job still ran (application exit)
            pass

    def set_progress(self, fraction: float) -> None:
        self.report(fraction, None)

    def set_status(self, text: str) -> None:
        self.report(None, text)

    def cancelled(self) -> bool:
        """True once the user asked to stop. Pass this bound method as a job's ``cancel=`` callable."""
        return self._cancel.is_set()

    def raise_if_cancelled(self) -> None:
        if self._cancel.is_set():
            raise Cancelled(self.title or "cancelled")

    # -- the GUI's side -----------------------------------------------------------------------------------
    def cancel(self) -> None:
        if not self._cancel.is_set():
            self._cancel.set()
            self.cancel_requested.emit()

    @property
    def progress(self) -> float:
        return self._published[0]

    @property
    def status(self) -> str:
        return self._published[1]

    def _on_wake(self) -> None:
        wait = self.min_interval - (time.monotonic() - self._last_publish)
        if wait <= 0:
            self.flush()
        elif not self._flush_timer.isActive():
            self._flush_timer.start(max(1, int(wait * 1000)))

    def flush(self) -> None:
        """Publish the latest reported values now (called when the job ends, so the last one is shown)."""
        self._flush_timer.stop()
        with self._lock:
            self._wake_pending = False
            current = (self._progress, self._status)
        self._last_publish = time.monotonic()
        previous, self._published = self._published, current
        if current[0] != previous[0]:
            self.progress_changed.emit(current[0])
        if current[1] != previous[1]:
            self.status_changed.emit(current[1])


@dataclass
class _Submitted:
    """What the GUI thread keeps for a task until its outcome has been handled."""

    task: Callable[[], Any] | None
    on_done: Callable[[Any], Any] | None
    on_error: Callable[[BaseException], Any] | None
    state: TaskState | None
    context: QObject | None


class _Job(QRunnable):
    """Runs one task on a pool thread.

    A Python subclass rather than ``QRunnable.create``: the pool deletes finished runnables, and only
    for a subclass does the binding learn of it. The job drops its reference to the task and stores
    the outcome *before* it notifies the GUI thread, so the last reference to anything the task
    captured (widgets, QObjects, closures over them) is always released on the GUI thread.
    """

    def __init__(self, manager: TaskManager, task_id: int, task: Callable[[], Any]) -> None:
        super().__init__()
        self._store = manager._store_outcome
        self._notify = manager._done.emit
        self._task_id = task_id
        self._task: Callable[[], Any] | None = task

    def run(self) -> None:
        task, self._task = self._task, None
        try:
            outcome: tuple[bool, Any] = (True, task())  # type: ignore[misc]
        except BaseException as exc:  # noqa: BLE001 - delivered to on_error on the GUI thread
            outcome = (False, exc)
        del task
        self._store(self._task_id, outcome)
        del outcome
        try:
            self._notify(self._task_id)
        except RuntimeError:  # the manager itself is gone: nobody is left to call back
            pass


class TaskManager(QObject):
    """A QThreadPool of workers whose results come back on the GUI thread.

    ``pending`` counts tasks submitted and not yet called back; :attr:`idle` fires when it drops to 0,
    which is what tests and the screenshot renderer wait for (``qtbot.waitUntil(lambda: tasks.pending
    == 0)`` or :meth:`wait_idle`). :meth:`shutdown` cancels running jobs and drains the pool on exit.
    """

    idle = Signal()
    job_started = Signal(object)   # TaskState of a long job, for progress panels
    job_finished = Signal(object)
    _done = Signal(int)            # a task id: its outcome is waiting in _outcomes

    def __init__(self, parent: QObject | None = None, *, max_threads: int | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        if max_threads:
            self._pool.setMaxThreadCount(max_threads)
        self._closing = False
        self._jobs: list[TaskState] = []
        self._submitted: dict[int, _Submitted] = {}
        self._outcomes: dict[int, tuple[bool, Any]] = {}
        self._outcomes_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._done.connect(self._finish, Qt.ConnectionType.QueuedConnection)

    @property
    def pending(self) -> int:
        return len(self._submitted)

    @property
    def jobs(self) -> list[TaskState]:
        """Long jobs (with a TaskState) currently running, oldest first."""
        return list(self._jobs)

    def run_in_background(self, task: Callable[[], T], on_done: Callable[[T], Any] | None = None,
                          on_error: Callable[[BaseException], Any] | None = None, *,
                          state: TaskState | None = None, context: QObject | None = None) -> None:
        """Run ``task()`` on a worker thread; then, on the GUI thread, ``on_done(result)`` or
        ``on_error(exc)``. With ``context``, the callbacks are skipped if that object has been deleted
        meanwhile (a closed dialog). With ``state``, the job is announced to progress panels.
        ``task`` should compute plain values and never touch widgets."""
        if self._closing:
            raise RuntimeError("the task manager is shutting down")
        task_id = next(self._ids)
        self._submitted[task_id] = _Submitted(task, on_done, on_error, state, context)
        if state is not None:
            self._jobs.append(state)
            self.job_started.emit(state)
        self._pool.start(_Job(self, task_id, task))

    def _store_outcome(self, task_id: int, outcome: tuple[bool, Any]) -> None:
        with self._outcomes_lock:
            self._outcomes[task_id] = outcome

    def _finish(self, task_id: int) -> None:
        with self._outcomes_lock:
            ok, value = self._outcomes.pop(task_id)
        submitted = self._submitted.get(task_id)
        if submitted is None:
            return
        state, context = submitted.state, submitted.context
        try:
            if state is not None:
                if state in self._jobs:
                    self._jobs.remove(state)
                if shiboken6.isValid(state):
                    state.flush()
                    self.job_finished.emit(state)
            if self._closing or (context is not None and not shiboken6.isValid(context)):
                return
            if ok:
                if submitted.on_done is not None:
                    submitted.on_done(value)
            elif submitted.on_error is not None:
                submitted.on_error(value)
            else:
                log.error("background task failed", exc_info=(type(value), value, value.__traceback__))
        finally:
            del self._submitted[task_id]
            if not self._submitted:
                self.idle.emit()

    def wait_idle(self, timeout_ms: int = 10_000) -> bool:
        """Process events until every submitted task has been called back (or the timeout passes).
        For tests, scripts and the screenshot renderer; the running application never waits."""
        deadline = QDeadlineTimer(timeout_ms)
        while self._submitted and not deadline.hasExpired():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            self._pool.waitForDone(5)
        QCoreApplication.processEvents()
        return not self._submitted

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel long jobs, drop queued tasks and wait for running ones (application exit).
        Results arriving afterwards are discarded. Returns False if workers were still busy."""
        self._closing = True
        for state in self._jobs:
            if shiboken6.isValid(state):
                state.cancel()
        self._pool.clear()
        drained = self._pool.waitForDone(timeout_ms)
        if not drained:
            log.warning("background tasks still running at exit")
        return drained
