"""The background executor, TaskState (cancel, throttled progress) and the progress panel."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject

from backoffice.ui.tasks import Cancelled, TaskManager, TaskState
from backoffice.ui.widgets.progress import ProgressPanel


def test_result_comes_back_on_the_gui_thread(qtbot, tasks: TaskManager) -> None:
    gui_thread = threading.get_ident()
    seen: dict[str, object] = {}

    def work() -> int:
        seen["worker"] = threading.get_ident()
        return 42

    def done(value: int) -> None:
        seen["callback"] = threading.get_ident()
        seen["value"] = value

    with qtbot.waitSignal(tasks.idle, timeout=5_000):
        tasks.run_in_background(work, done)
    assert seen["value"] == 42
    assert seen["worker"] != gui_thread
    assert seen["callback"] == gui_thread
    assert tasks.pending == 0


def test_errors_go_to_on_error(qtbot, tasks: TaskManager) -> None:
    errors: list[BaseException] = []

    def fail() -> None:
        raise ValueError("boom")

    tasks.run_in_background(fail, lambda _: pytest.fail("on_done must not run"), errors.append)
    assert tasks.wait_idle(5_000)
    assert len(errors) == 1 and str(errors[0]) == "boom"


def test_callbacks_are_skipped_when_the_context_object_is_gone(qtbot, tasks: TaskManager) -> None:
    owner = QObject()
    gate = threading.Event()
    called: list[int] = []
    tasks.run_in_background(lambda: gate.wait(5) and 1, called.append, context=owner)
    with qtbot.waitSignal(owner.destroyed, timeout=10_000):  # deleteLater has run, however long that took
        owner.deleteLater()
    gate.set()
    assert tasks.wait_idle(5_000)
    assert called == []


def test_cancel_flag_stops_the_job(qtbot, tasks: TaskManager) -> None:
    state = TaskState("long job")
    started = threading.Event()
    outcome: list[object] = []

    def job() -> str:
        started.set()
        while not state.cancelled():
            time.sleep(0.005)
        state.raise_if_cancelled()
        return "not reached"

    tasks.run_in_background(job, outcome.append, outcome.append, state=state)
    assert started.wait(5)
    assert not state.cancelled()
    state.cancel()
    assert tasks.wait_idle(5_000)
    assert state.cancelled()
    assert len(outcome) == 1 and isinstance(outcome[0], Cancelled)


def test_progress_updates_are_throttled_and_the_last_one_arrives(qtbot, tasks: TaskManager) -> None:
    """Consecutive updates reach the GUI at least one interval apart, however fast the job reports. A busy
    machine can only make the gaps longer, so this holds under any load; the final flush when the job ends
    may follow sooner (it must: the last value always arrives)."""
    interval = 0.05
    state = TaskState("busy", min_interval=interval)
    received: list[tuple[float, float]] = []
    statuses: list[str] = []
    state.progress_changed.connect(lambda value: received.append((time.monotonic(), value)))
    state.status_changed.connect(statuses.append)
    reports = 20_000
    half = threading.Event()

    def job() -> None:
        for i in range(1, reports + 1):
            state.report(i / reports, f"step {i}")
            if i == reports // 2:
                half.wait(10)  # the GUI has published at least once before the second half

    tasks.run_in_background(job, state=state)
    qtbot.waitUntil(lambda: bool(received), timeout=10_000)
    half.set()
    assert tasks.wait_idle(10_000)
    gaps = [b[0] - a[0] for a, b in zip(received[:-1], received[1:-1], strict=False)]
    # Qt may fire a timer a little early (coarse timers: up to 5%; whole milliseconds): allow 20%.
    assert all(gap >= interval * 0.8 for gap in gaps), gaps
    assert received[-1][1] == pytest.approx(1.0)
    assert statuses[-1] == f"step {reports}"
    assert state.progress == pytest.approx(1.0)


def test_reports_made_while_the_gui_is_busy_arrive_as_one_update_with_the_last_value(qtbot) -> None:  # type: ignore[no-untyped-def]
    state = TaskState("busy", min_interval=0.05)
    received: list[float] = []
    state.progress_changed.connect(received.append)
    for i in range(1, 20_001):  # no event is processed meanwhile: the GUI is "busy"
        state.report(i / 20_000, f"step {i}")
    assert received == []
    qtbot.waitUntil(lambda: bool(received), timeout=10_000)
    assert received == [pytest.approx(1.0)] and state.status == "step 20000"


def test_shutdown_drains_the_pool(qtbot) -> None:
    manager = TaskManager()
    finished = threading.Event()

    def slow() -> None:
        time.sleep(0.2)
        finished.set()

    manager.run_in_background(slow, lambda _: pytest.fail("no callback after shutdown"))
    assert manager.shutdown(5_000)
    assert finished.is_set()
    with pytest.raises(RuntimeError):
        manager.run_in_background(lambda: None)
    qtbot.wait(20)


def test_progress_panel_follows_the_job_and_cancels_it(qtbot, tasks: TaskManager) -> None:
    panel = ProgressPanel(tasks)
    qtbot.addWidget(panel)
    panel.show()
    state = TaskState("Creating the demo store", min_interval=0.0)
    release = threading.Event()

    def job() -> None:
        state.report(0.25, "Creating products…")
        release.wait(5)
        state.raise_if_cancelled()

    tasks.run_in_background(job, state=state, on_error=lambda exc: None)
    assert panel.isVisible()
    assert panel.title.text() == "Creating the demo store"
    qtbot.waitUntil(lambda: panel.status.text() == "Creating products…", timeout=5_000)
    assert panel.bar.value() == 250
    assert panel.percent.text() == "25%"
    panel.cancel_button.click()
    assert state.cancelled()
    assert not panel.cancel_button.isEnabled()
    release.set()
    assert tasks.wait_idle(5_000)
    assert not panel.isVisible()
