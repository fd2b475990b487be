"""Keeping an API profile's window current: the replica synced and the outbox sent, in the background.

While the window is connected through the store API (``context.sync`` holds the profile's
:class:`~backoffice.sync.controller.ApiSync`), the controller

- loads the replica the first time as a long job (progress bar and Cancel in the progress panel: a
  million variants take a while), and until then the grid reads from the server;
- then runs a round (send what waits, then an incremental sync) every ``sync/interval_seconds``
  (QSettings, 10 by default), after every write the window makes (the replica then shows it without
  waiting for the next tick), and on demand (:meth:`sync_now`, File → Sync now);
- tells the views what a round brought (``context.notify_data_changed``), and the status bar how fresh
  the copy is, whether the server answers and how many changes wait (:attr:`state_changed`).

Rounds never overlap and never run on the GUI thread. A server that does not answer is a state
("Offline"), not an error message: the next tick tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from functools import partial

from PySide6.QtCore import QObject, QSettings, QTimer, Signal

from backoffice.operations import Changes
from backoffice.sync.controller import ApiSync, SyncOutcome
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message
from backoffice.ui.tasks import TaskManager, TaskState

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 10
AFTER_WRITE_MS = 300     # a write's round waits this long, so a burst of writes makes one round


def sync_interval_seconds(settings: QSettings | None) -> int:
    """How often an API profile syncs (``sync/interval_seconds``; at least 2 s)."""
    if settings is None:
        return DEFAULT_INTERVAL_S
    try:
        return max(2, int(settings.value("sync/interval_seconds", DEFAULT_INTERVAL_S)))
    except (TypeError, ValueError):
        return DEFAULT_INTERVAL_S


class SyncController(QObject):
    """Runs the rounds of the window's API profile; inactive (and silent) for a direct database."""

    state_changed = Signal()          # freshness, syncing, offline or the counts changed
    round_finished = Signal(object)   # the SyncOutcome of a round (tests and the status bar wait on it)

    def __init__(self, context: AppContext, tasks: TaskManager, *, settings: QSettings | None = None,
                 notify=None, parent: QObject | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.notify = notify or (lambda text, level, timeout_ms=None: log.info("%s: %s", level, text))
        self.session: ApiSync | None = None
        self.syncing = False
        self.loading: TaskState | None = None     # the first load, while it runs
        self.offline = False
        self.signed_out = False
        self.synced_at: dt.datetime | None = None
        self.pending = 0
        self.attention = 0
        self.last_error = ""
        self._again = False                      # a round was asked for while one ran
        self._stop = threading.Event()
        self._announcing = False
        self._retired: list[ApiSync] = []        # sessions left while one of their rounds ran
        self.timer = QTimer(self)
        self.timer.setInterval(sync_interval_seconds(settings) * 1000)
        self.timer.timeout.connect(self.sync_now)
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(AFTER_WRITE_MS)
        self._soon.timeout.connect(self.sync_now)
        context.changed.connect(self._follow_context)
        context.data_changed.connect(self._on_data_changed)
        context.outbox_changed.connect(self.refresh_counts)
        self._follow_context()

    @property
    def active(self) -> bool:
        return self.session is not None

    # -- following the connection ------------------------------------------------------------------------
    def _follow_context(self) -> None:
        session = self.context.sync if self.context.connected else None
        if session is self.session:
            return
        self._leave()
        if session is None:
            self.state_changed.emit()
            return
        self.session = session
        self._stop = threading.Event()
        self.offline = self.signed_out = False
        self.synced_at, self.pending, self.attention, self.last_error = None, 0, 0, ""
        self.timer.start()
        self.state_changed.emit()
        self.sync_now()

    def _leave(self) -> None:
        """Stop following the current session; it is closed off the GUI thread once no round uses it."""
        old, self.session = self.session, None
        self.timer.stop()
        self._soon.stop()
        self._stop.set()
        self._again = False
        if self.loading is not None:
            self.loading.cancel()
        if old is None:
            return
        if self.syncing:
            self._retired.append(old)
        else:
            self._close_later(old)

    def _close_later(self, session: ApiSync) -> None:
        try:
            self.tasks.run_in_background(session.close)
        except RuntimeError:      # the application is closing: close it here, nothing else runs
            session.close()

    def shutdown(self) -> None:
        """At exit, after the task manager has drained: close what is still open (idempotent)."""
        sessions = [*self._retired, *([self.session] if self.session is not None else [])]
        self._retired.clear()
        self.session = None
        self.timer.stop()
        self._soon.stop()
        self._stop.set()
        for session in sessions:
            session.close()

    # -- rounds --------------------------------------------------------------------------------------------
    def sync_now(self) -> bool:
        """Start a round now (or right after the one running). False when no API profile is open."""
        session = self.session
        if session is None:
            return False
        if self.syncing:
            self._again = True
            return True
        state = None
        if session.needs_initial_load:
            state = TaskState(self.tr("Loading the store's catalog onto this computer"), parent=self)
            self.loading = state
        stop = self._stop
        cancel = (lambda: stop.is_set() or state.cancelled()) if state is not None else stop.is_set
        task = partial(session.run, progress=state.report if state is not None else None, cancel=cancel)
        try:
            self.tasks.run_in_background(task, partial(self._finished, session, state),
                                         partial(self._failed, session, state), state=state, context=self)
        except RuntimeError:
            return False
        self.syncing = True
        self.state_changed.emit()
        return True

    def _round_over(self, session: ApiSync, state: TaskState | None) -> bool:
        """Bookkeeping common to a finished round; False when the session was left meanwhile."""
        self.syncing = False
        if state is not None and self.loading is state:
            self.loading = None
        if session in self._retired:
            self._retired.remove(session)
            self._close_later(session)
        return session is self.session

    def _finished(self, session: ApiSync, state: TaskState | None, outcome: SyncOutcome) -> None:
        if not self._round_over(session, state):
            return
        was_offline = self.offline
        self.offline, self.signed_out = outcome.unreachable, outcome.signed_out
        self.synced_at, self.pending, self.attention = outcome.synced_at, outcome.pending, outcome.attention
        self.last_error = outcome.error
        if outcome.cancelled and state is not None and state.cancelled():
            self.notify(self.tr("Loading the catalog was stopped; the grid reads from the server until it "
                                "completes (File → Sync now continues where it stopped)."), "info")
        elif outcome.signed_out:
            self.timer.stop()
            self.notify(self.tr("Your session on the store API has ended: choose Retry or reconnect to sign in "
                                "again. Changes saved offline are kept."), "warning")
        elif was_offline and not outcome.unreachable:
            self.notify(self.tr("The store API answers again."), "info", 5000)
        if outcome.changes:
            self._announce(outcome.changes)
        self.state_changed.emit()
        self.round_finished.emit(outcome)
        self._next_round()

    def _failed(self, session: ApiSync, state: TaskState | None, exc: BaseException) -> None:
        if not self._round_over(session, state):
            return
        log.warning("sync round failed", exc_info=(type(exc), exc, exc.__traceback__))
        self.last_error = error_message(exc)
        self.state_changed.emit()
        self.round_finished.emit(None)
        self._next_round()

    def _next_round(self) -> None:
        if self._again and self.session is not None:
            self._again = False
            self.sync_now()

    def _announce(self, changes: Changes) -> None:
        self._announcing = True
        try:
            self.context.notify_data_changed(changes)
        finally:
            self._announcing = False

    def _on_data_changed(self, _changes: Changes) -> None:
        """A write of this window: sync soon, so the replica (which the grid reads) holds it."""
        if self.session is not None and not self._announcing and not self.signed_out:
            self._soon.start()

    # -- the outbox ----------------------------------------------------------------------------------------
    def refresh_counts(self) -> None:
        """Read the outbox's counts again (a write was kept offline, an entry retried or discarded)."""
        session = self.session
        if session is None:
            return
        try:
            self.tasks.run_in_background(session.counts, partial(self._counted, session), lambda _exc: None,
                                         context=self)
        except RuntimeError:
            return

    def _counted(self, session: ApiSync, counts: tuple[int, int]) -> None:
        if session is self.session:
            self.pending, self.attention = counts
            self.state_changed.emit()
