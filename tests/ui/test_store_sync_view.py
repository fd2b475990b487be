"""The Store sync view on a real database: the figures it shows are the ones the database holds (runs,
failed pushes, API response times), a manager runs syncs but changes nothing an admin owns, a
merchandiser never reaches it, a direction rule toggled by an admin is saved, connecting a store shows
its mistakes inline and saves nothing, and Sync now against a store that does not answer runs in the
background and ends with the failed run in the log."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import Qt

from backoffice.db import Database
from backoffice.models import Role
from backoffice.operations import LocalOperations
from backoffice.operations.changes import ORDERS, Changes
from backoffice.services import store_links
from backoffice.services.base import Actor
from backoffice.services.users import ensure_user
from backoffice.ui.format import format_count
from backoffice.ui.main_window import MainWindow
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.store_sync import StoreSyncView
from backoffice.ui.views.store_sync.models import RUN_COLUMNS, RUN_STATE_COL, format_ms, run_result

UNREACHABLE = "http://127.0.0.1:9"
MEAN_COL = next(i for i, c in enumerate(RUN_COLUMNS) if c.header == "Mean ms")
RESULT_COL = next(i for i, c in enumerate(RUN_COLUMNS) if c.header == "Sent and received")


def wait_idle(qtbot, view: StoreSyncView) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.is_loading() and view.tasks.pending == 0, timeout=20_000)


@pytest.fixture
def open_view(qtbot, tasks: TaskManager, connected_context):  # type: ignore[no-untyped-def]
    def open_(db: Database, actor: Actor) -> StoreSyncView:
        view = StoreSyncView(connected_context(db, actor), tasks)
        qtbot.addWidget(view)
        view.resize(1100, 760)
        view.show()
        view.activate()
        wait_idle(qtbot, view)
        return view

    return open_


def connect_shop(db: Database, actor: Actor) -> int:
    return LocalOperations(db, actor).connectors.add("medusa", "shop", UNREACHABLE, "key").id


def write_history(db: Database, actor: Actor, cid: int) -> None:
    """Three runs with their API calls (one failed run, one call without an answer), and three pushes:
    one waiting, one failed, one in conflict."""
    now = dt.datetime.now(dt.UTC)
    runs = [("ok", {"orders_new": 2, "prices_pushed": 5, "stock_set": 12}, "", [200, 200, 201]),
            ("partial", {"products_updated": 1, "errors": ["price of MC-S refused"]}, "", [200, 422]),
            ("failed", {}, "GET /admin/orders: the store does not answer", [0, 503, 503, 200])]
    for state, summary, error, statuses in runs:
        run = store_links.start_run(db, actor, cid, kind="sync", direction="both", dry_run=False)
        calls = [(now - dt.timedelta(minutes=30 - i), "GET", "/admin/orders", status, 40.0 + 37.5 * i)
                 for i, status in enumerate(statuses)]
        store_links.finish_run(db, actor, run, state=state, summary=summary, error=error, calls=calls)
    store_links.enqueue(db, cid, [("price", "MC-S", {"amount": "1"}), ("price", "MC-M", {"amount": "2"}),
                                  ("stock", "MC-L@WH1", {"qty": 3})])
    entries = store_links.outbox_entries(db, cid, states=["pending"])
    by_ref = {e.ref: e.id for e in entries}
    store_links.mark_entries(db, [(by_ref["MC-S"], "failed", "HTTP 400: currency not enabled"),
                                  (by_ref["MC-L@WH1"], "conflict", "the store holds 7 (expected 5)")])


def test_the_figures_shown_are_the_databases(qtbot, db, actor, open_view) -> None:  # type: ignore[no-untyped-def]
    cid = connect_shop(db, actor)
    write_history(db, actor, cid)
    ops = LocalOperations(db, actor).connectors
    view = open_view(db, actor)
    assert view.stack.currentWidget() is view.content
    runs = ops.runs("shop")
    info = ops.get("shop")
    assert view.runs_model.rowCount() == len(runs) == 3
    for row, run in enumerate(runs):     # newest first, the same mean per run as the log holds
        assert view.runs_model.row_at(row).id == run.id
        assert view.runs_model.display(row, MEAN_COL) == format_count(round(run.mean_ms))
        assert view.runs_model.display(row, RUN_STATE_COL) == run.state
    failed_run = view.runs_model.row_at(0)
    assert failed_run.state == "failed"
    assert view.runs_model.display(0, RESULT_COL) == "GET /admin/orders: the store does not answer"
    assert view.runs_model.display(2, RESULT_COL) == run_result(runs[2]) == "2 new orders · 5 prices sent · 12 stock levels set"

    assert (info.pending, info.failed) == (1, 2)
    assert view.header.pending.value.text() == "1"
    assert view.header.failed.value.text() == "2"
    assert view.outbox_model.rowCount() == 2
    assert {e.last_error for e in view.outbox_model.entries} == {"HTTP 400: currency not enabled",
                                                                "the store holds 7 (expected 5)"}
    assert view.tabs.tabText(1) == "Failed pushes (2)"
    assert view.header.last_sync.value.text() == "just now — failed"

    overall = next(s for s in ops.api_stats("shop", hours=168) if s.endpoint == "*")
    assert overall.calls == 9 and overall.errors == 4
    shown = view.api_figures.text()
    assert f"mean {format_ms(overall.mean_ms)}" in shown and f"p95 {format_ms(overall.p95_ms)}" in shown
    assert shown.startswith("9 calls · 4 errors (44.4 %)")
    points = ops.response_times("shop", hours=168)
    assert len(view.chart.points) == len(points) == 9
    assert view.chart.errors_marked == sum(1 for _, _, status in points if status == 0 or status >= 400) == 4

    # A write elsewhere that concerns orders reloads the view; a run written meanwhile appears.
    run = store_links.start_run(db, actor, cid, kind="sync", direction="pull", dry_run=True)
    store_links.finish_run(db, actor, run, state="ok", summary={"orders_new": 1})
    view.context.notify_data_changed(Changes.of(ORDERS))
    qtbot.waitUntil(lambda: view.runs_model.rowCount() == 4, timeout=10_000)
    assert view.header.last_sync.value.text() == "just now — dry run ok"


def test_a_manager_runs_syncs_but_changes_nothing_an_admin_owns(qtbot, db, actor, open_view) -> None:  # type: ignore[no-untyped-def]
    cid = connect_shop(db, actor)
    write_history(db, actor, cid)
    manager = ensure_user(db, "mona", Role.MANAGER)
    view = open_view(db, manager)
    assert view.stack.currentWidget() is view.content
    h = view.header
    assert h.sync_button.isEnabled() and h.dry_run_button.isEnabled() and h.reconcile_button.isEnabled()
    assert h.retry_button.isEnabled() and h.discard_button.isEnabled()
    admin_only = [*view.rules.checks.values(), view.rules.overlap, view.locations.link_button,
                  view.locations.unlink_button, h.pause_button]
    assert all(not w.isEnabled() for w in admin_only)
    assert not any(w.isVisible() for w in (view.locations.link_button, view.locations.unlink_button, h.pause_button))
    assert view.rules.read_only_note.isVisible()
    assert view.open_link_location() is None and view.open_connect_store() is None
    assert not view.change_setting("push_stock", False) and not view.toggle_active()
    assert LocalOperations(db, actor).connectors.get("shop").settings["push_stock"] is True


def test_a_manager_sees_no_connect_action_when_no_store_is_connected(qtbot, db, actor, open_view) -> None:  # type: ignore[no-untyped-def]
    manager = ensure_user(db, "mona", Role.MANAGER)
    view = open_view(db, manager)
    assert view.stack.currentWidget() is view.empty
    assert view.empty.title.text() == "No store is connected"
    assert not view.empty.action.isVisible() and not view.empty.action.isEnabled()
    assert "An admin can connect" in view.empty.text.text()


def test_a_merchandiser_cannot_open_the_view(qtbot, sqlite_db, tasks, ui_settings, connected_context) -> None:  # type: ignore[no-untyped-def]
    admin = ensure_user(sqlite_db, "boss", Role.ADMIN)
    connect_shop(sqlite_db, admin)
    mia = ensure_user(sqlite_db, "mia", Role.MERCHANDISER)
    window = MainWindow(connected_context(sqlite_db, mia), tasks, settings=ui_settings)
    qtbot.addWidget(window)
    window.show()
    window.show_view("store_sync")
    assert window.pages.currentWidget() is window.no_access
    shown = window.no_access.title.text() + " " + window.no_access.text.text()
    assert "Store sync" in shown and "manager or admin" in shown and "mia (merchandiser)" in shown
    view = window.view("store_sync")
    view.reload()
    qtbot.wait(200)
    assert view.snapshot is None and view.runs_model.rowCount() == 0     # never read


def test_an_admin_toggles_a_direction_rule_and_it_is_saved(qtbot, db, actor, open_view) -> None:  # type: ignore[no-untyped-def]
    connect_shop(db, actor)
    view = open_view(db, actor)
    check = view.rules.checks["push_stock"]
    assert check.isEnabled() and check.isChecked() and not view.rules.read_only_note.isVisible()
    check.click()
    wait_idle(qtbot, view)
    ops = LocalOperations(db, actor).connectors
    info = ops.get("shop")
    assert info.settings["push_stock"] is False and info.settings["push_prices"] is True
    assert not view.rules.checks["push_stock"].isChecked()
    view.rules.overlap.setValue(900)
    view.rules.overlap.editingFinished.emit()
    wait_idle(qtbot, view)
    assert ops.get("shop").settings["overlap_seconds"] == 900
    view.header.pause_button.click()
    wait_idle(qtbot, view)
    assert ops.get("shop").active is False
    assert view.header.state.text() == "Paused" and not view.header.sync_button.isEnabled()


def test_connecting_a_store_shows_mistakes_inline_and_saves_nothing(qtbot, db, actor, open_view) -> None:  # type: ignore[no-untyped-def]
    view = open_view(db, actor)
    assert view.stack.currentWidget() is view.empty and view.empty.action.isVisible()
    dialog = view.open_connect_store()
    assert dialog is not None
    assert dialog.api_key.echoMode() == dialog.api_key.EchoMode.Password
    dialog.name.setText("my shop")
    dialog.url.setText("shop.example.com")
    dialog.api_key.setText("secret")
    dialog.connect_button.click()
    qtbot.waitUntil(lambda: dialog.errors["url"].isVisible(), timeout=10_000)
    assert "http" in dialog.errors["url"].text() and dialog.errors["name"].isVisible()
    assert LocalOperations(db, actor).connectors.list() == []
    dialog.name.setText("shop")
    dialog.url.setText("https://shop.example.com")
    dialog.sales_channel.setText("sc_01")
    with qtbot.waitSignal(dialog.connected, timeout=10_000):
        dialog.connect_button.click()
    wait_idle(qtbot, view)
    info = LocalOperations(db, actor).connectors.get("shop")
    assert info.settings["sales_channel_id"] == "sc_01"
    assert view.stack.currentWidget() is view.content and view.header.name.text() == "shop"
    assert view.header.last_sync.value.text() == "never"


def test_sync_now_against_a_store_that_does_not_answer_ends_failed_in_the_log(qtbot, monkeypatch, db, actor,  # type: ignore[no-untyped-def]
                                                                              open_view) -> None:
    monkeypatch.setattr("backoffice.connectors.medusa.BACKOFF", 0.05)   # retries still happen, quickly
    connect_shop(db, actor)
    view = open_view(db, actor)
    assert view.runs_model.rowCount() == 0
    jobs: list[str] = []
    view.tasks.job_started.connect(lambda state: jobs.append(state.title))
    qtbot.mouseClick(view.header.sync_button, Qt.MouseButton.LeftButton)
    # The click returned while the run goes on in the background: the GUI says so and stays responsive.
    assert view.tasks.pending >= 1 and jobs == ["Syncing shop"]
    assert not view.header.sync_button.isEnabled() and view.header.last_sync.value.text() == "Syncing…"
    qtbot.waitUntil(lambda: view.runs_model.rowCount() == 1 and view.runs_model.row_at(0).state == "failed",
                    timeout=60_000)
    wait_idle(qtbot, view)
    run = LocalOperations(db, actor).connectors.runs("shop")[0]
    assert run.state == "failed" and "does not answer" in run.error
    assert view.runs_model.display(0, RUN_STATE_COL) == "failed"
    assert view.runs_model.display(0, RESULT_COL) == run.error
    assert view.header.last_sync.value.text() == "just now — failed"
    assert view.header.sync_button.isEnabled()
    assert view.banner.isVisible() and view.banner.level == "error" and "failed" in view.banner.text.text()


def test_failed_pushes_are_retried_or_discarded(qtbot, db, actor, open_view, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    cid = connect_shop(db, actor)
    write_history(db, actor, cid)
    view = open_view(db, actor)
    view.header.retry_button.click()
    wait_idle(qtbot, view)
    info = LocalOperations(db, actor).connectors.get("shop")
    assert (info.pending, info.failed) == (3, 0)
    assert view.header.failed.value.text() == "0" and view.header.pending.value.text() == "3"
    assert view.outbox_model.rowCount() == 0 and not view.header.retry_button.isEnabled()
    store_links.mark_entries(db, [(e.id, "failed", "HTTP 500") for e in store_links.outbox_entries(db, cid)])
    view.reload()
    wait_idle(qtbot, view)
    asked: list[str] = []
    monkeypatch.setattr(view, "confirm", lambda title, text: asked.append(text) or False)
    view.header.discard_button.click()
    assert asked == ["Give up 3 failed pushes? They are not sent again."] and view.tasks.pending == 0
    monkeypatch.setattr(view, "confirm", lambda title, text: True)
    view.header.discard_button.click()
    wait_idle(qtbot, view)
    info = LocalOperations(db, actor).connectors.get("shop")
    assert (info.pending, info.failed) == (0, 0)


def test_reconcile_shows_its_result_and_asks_before_fixing(qtbot, monkeypatch, sqlite_db, sqlite_actor,  # type: ignore[no-untyped-def]
                                                           open_view) -> None:
    """No location is linked yet: nothing to compare, so nothing is asked of the store, and nothing to fix."""
    connect_shop(sqlite_db, sqlite_actor)
    view = open_view(sqlite_db, sqlite_actor)
    assert view.reconcile(fix=False)
    assert not view.header.reconcile_button.isEnabled() and view.header.last_sync.value.text() == "Reconciling…"
    qtbot.waitUntil(lambda: view.reconcile_dialog is not None, timeout=20_000)
    wait_idle(qtbot, view)
    dialog = view.reconcile_dialog
    assert dialog.summary.text() == "0 stock levels compared, 0 different."
    assert dialog.model.rowCount() == 0 and not dialog.fix_button.isEnabled()
    run = LocalOperations(sqlite_db, sqlite_actor).connectors.runs("shop")[0]
    assert (run.kind, run.state) == ("reconcile", "ok")
    assert view.runs_model.rowCount() == 1 and view.runs_model.display(0, RESULT_COL) == "0 compared, 0 different"
    asked: list[str] = []
    monkeypatch.setattr(view, "confirm", lambda title, text: asked.append(title) or False)
    assert not view.fix_differences() and asked == ["Fix differences"] and view.tasks.pending == 0
    dialog.reject()
    qtbot.waitUntil(lambda: view.reconcile_dialog is None, timeout=2_000)
    assert view.header.reconcile_button.isEnabled()
