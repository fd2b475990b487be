"""The Audit view on a real database (SQLite and PostgreSQL): background loading, keyset pages,
filters, stale answers, the details diff and the empty states."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from PySide6.QtCore import QTimer

from backoffice.db import Database
from backoffice.models import Role
from backoffice.services import audit as audit_service
from backoffice.services.base import Actor
from backoffice.services.users import ensure_user
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.audit import AuditView
from backoffice.ui.views.audit.details import (
    CHANGED_ROLE,
    COL_AFTER,
    COL_BEFORE,
    COL_FIELD,
)


@pytest.fixture
def open_view(qtbot, tasks: TaskManager, connected_context):  # type: ignore[no-untyped-def]
    """``open_view(db, actor, page_size=20)``: an AuditView shown and asked to load."""

    def open_(db: Database, actor: Actor, *, page_size: int = 20) -> AuditView:
        view = AuditView(connected_context(db, actor), tasks, page_size=page_size)
        qtbot.addWidget(view)
        view.resize(1100, 700)
        view.show()
        view.activate()
        return view

    return open_


def wait_loaded(qtbot, view: AuditView) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not view.is_loading(), timeout=10_000)


def test_rows_load_in_a_worker_while_the_gui_keeps_running(qtbot, monkeypatch, db, actor, open_view, write_audit_rows) -> None:  # type: ignore[no-untyped-def]
    """The query blocks until the test releases it. If it ran on the GUI thread, opening the view could
    not return before the release (and the checks below would never run); nothing here depends on how
    fast the machine is."""
    write_audit_rows(db, actor, 5)
    original = audit_service.fetch_page
    worker_threads: list[int] = []
    started, release = threading.Event(), threading.Event()

    def blocking_fetch_page(*args, **kwargs):  # type: ignore[no-untyped-def]
        worker_threads.append(threading.get_ident())
        started.set()
        if not release.wait(30):  # never released: the test failed meanwhile; do not hang the pool
            raise RuntimeError("not released")
        return original(*args, **kwargs)

    monkeypatch.setattr(audit_service, "fetch_page", blocking_fetch_page)
    view = open_view(db, actor)  # returns while the query is blocked: the query is not on this thread
    try:
        assert started.wait(10), "the query never started"
        assert worker_threads and threading.get_ident() not in worker_threads
        # The GUI is responsive while the query waits: it shows its loading state and handles events.
        assert view.is_loading() and view.model.rowCount() == 0
        assert view.count_label.text() == "Loading…"
        ticked: list[bool] = []
        QTimer.singleShot(0, lambda: ticked.append(True))
        qtbot.waitUntil(lambda: bool(ticked), timeout=10_000)  # the event loop runs during the load
        assert view.is_loading() and view.model.rowCount() == 0 and not release.is_set()
    finally:
        release.set()
    qtbot.waitUntil(lambda: view.model.rowCount() == 6, timeout=10_000)
    wait_loaded(qtbot, view)
    assert view.count_label.text() == "6 entries"  # 5 rows + the tester's account creation
    ids = [r.id for r in view.model.rows]
    assert ids == sorted(ids, reverse=True)


def test_fetch_more_loads_the_next_keyset_page(qtbot, monkeypatch, db, actor, open_view, write_audit_rows) -> None:  # type: ignore[no-untyped-def]
    write_audit_rows(db, actor, 45)
    original = audit_service.fetch_page
    cursors: list[int | None] = []

    def recording_fetch_page(db_, f=None, *, before_id=None, limit=200):  # type: ignore[no-untyped-def]
        cursors.append(before_id)
        return original(db_, f or audit_service.AuditFilter(), before_id=before_id, limit=limit)

    monkeypatch.setattr(audit_service, "fetch_page", recording_fetch_page)
    view = open_view(db, actor, page_size=20)
    qtbot.waitUntil(lambda: view.model.rowCount() == 20, timeout=10_000)
    wait_loaded(qtbot, view)
    assert view.count_label.text() == "46 entries"
    assert view.model.canFetchMore()
    first_page_last = view.model.last_id()

    view.table.scrollToBottom()  # the table asks the model for more, as a user scrolling would
    qtbot.waitUntil(lambda: view.model.rowCount() == 40, timeout=10_000)
    assert cursors[:2] == [None, first_page_last]

    view.model.fetchMore()
    qtbot.waitUntil(lambda: view.model.rowCount() == 46, timeout=10_000)
    wait_loaded(qtbot, view)
    assert not view.model.canFetchMore()
    ids = [r.id for r in view.model.rows]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 46


def test_filters_reduce_the_rows(qtbot, db, actor, open_view, write_audit_rows) -> None:  # type: ignore[no-untyped-def]
    write_audit_rows(db, actor, 10, entity="product")
    write_audit_rows(db, actor, 4, entity="variant", action="create", start=100)
    ensure_user(db, "bob")  # one more entry, written by bob
    view = open_view(db, actor)
    qtbot.waitUntil(lambda: view.model.rowCount() == 16, timeout=10_000)
    wait_loaded(qtbot, view)
    filters = view.filters
    assert filters.entity.findData("variant") > 0 and filters.user.findData("bob") > 0  # facets arrived

    filters.entity.setCurrentIndex(filters.entity.findData("variant"))
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=10_000)
    wait_loaded(qtbot, view)
    assert {r.entity for r in view.model.rows} == {"variant"}
    assert view.count_label.text() == "4 entries"

    filters.set_filter(username="bob")
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    assert view.model.rows[0].username == "bob"

    filters.set_filter(action="create", entity="product")
    wait_loaded(qtbot, view)
    qtbot.waitUntil(lambda: view.results.currentWidget() is view.empty, timeout=10_000)
    assert view.empty.title.text() == "No entries match these filters"
    assert view.count_label.text() == "0 entries"
    view.empty.action.click()  # "Clear filters"
    qtbot.waitUntil(lambda: view.model.rowCount() == 16, timeout=10_000)
    assert not filters.is_filtered() and view.results.currentWidget() is view.table

    today = dt.date.today()
    filters.set_filter(since=today + dt.timedelta(days=2))
    qtbot.waitUntil(lambda: view.count_label.text() == "0 entries", timeout=10_000)
    filters.set_filter(until=today - dt.timedelta(days=2))
    wait_loaded(qtbot, view)
    assert view.model.rowCount() == 0
    filters.set_filter(since=today - dt.timedelta(days=1), until=today + dt.timedelta(days=1))
    qtbot.waitUntil(lambda: view.model.rowCount() == 16, timeout=10_000)
    assert filters.dates.text() == f"{today - dt.timedelta(days=1)} – {today + dt.timedelta(days=1)}"


def test_search_is_debounced_into_one_reload(qtbot, db, actor, open_view, write_audit_rows) -> None:  # type: ignore[no-untyped-def]
    write_audit_rows(db, actor, 3, entity="product")
    write_audit_rows(db, actor, 2, entity="variant", start=50)
    view = open_view(db, actor)
    wait_loaded(qtbot, view)
    generation = view.generation
    qtbot.keyClicks(view.filters.search, "varia")
    qtbot.waitUntil(lambda: view.generation == generation + 1 and not view.is_loading(), timeout=10_000)
    qtbot.wait(50)
    assert view.generation == generation + 1
    assert {r.entity for r in view.model.rows} == {"variant"} and view.model.rowCount() == 2


def test_stale_results_of_an_earlier_filter_are_dropped(qtbot, monkeypatch, db, actor, open_view, write_audit_rows) -> None:  # type: ignore[no-untyped-def]
    write_audit_rows(db, actor, 6, entity="product")
    write_audit_rows(db, actor, 3, entity="variant", start=100)
    view = open_view(db, actor)
    wait_loaded(qtbot, view)

    original = audit_service.fetch_page
    gate = threading.Event()
    slow_started = threading.Event()

    def gated_fetch_page(db_, f=None, **kwargs):  # type: ignore[no-untyped-def]
        f = f or audit_service.AuditFilter()
        if f.entity == "product":
            slow_started.set()
            gate.wait(10)
        return original(db_, f, **kwargs)

    monkeypatch.setattr(audit_service, "fetch_page", gated_fetch_page)
    view.filters.set_filter(entity="product")  # this answer will come back last
    assert slow_started.wait(5)
    view.filters.set_filter(entity="variant")
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10_000)
    gate.set()
    assert view.tasks.wait_idle(10_000)
    assert {r.entity for r in view.model.rows} == {"variant"}
    assert view.count_label.text() == "3 entries"


def test_details_show_before_and_after_field_by_field(qtbot, db, actor, open_view, write_audit_rows) -> None:  # type: ignore[no-untyped-def]
    write_audit_rows(db, actor, 2, entity="product")
    view = open_view(db, actor)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10_000)
    wait_loaded(qtbot, view)
    newest = view.model.rows[0]
    assert view.details.model.entry == newest  # the newest entry starts selected

    view.table.selectRow(1)
    entry = view.model.row_at(1)
    assert entry is not None and entry.entity == "product"
    details = view.details
    assert details.model.entry == entry
    assert details.title.text() == f"Product {entry.after['title']} · Update"  # by name: no such product row
    assert "2 fields changed" in details.meta.text() and "by tester" in details.meta.text()
    lines = [(details.model.data(details.model.index(r, COL_FIELD)),
              details.model.data(details.model.index(r, COL_BEFORE)),
              details.model.data(details.model.index(r, COL_AFTER)),
              details.model.data(details.model.index(r, COL_FIELD), CHANGED_ROLE))
             for r in range(details.model.rowCount())]
    assert lines == [("price", "10.00", "12.50", True), ("status", "draft", "active", True),
                     ("title", entry.before["title"], entry.after["title"], False)]
    details.show_unchanged.setChecked(False)
    assert details.model.rowCount() == 2


def test_empty_state_when_nothing_was_recorded(qtbot, sqlite_db, open_view) -> None:  # type: ignore[no-untyped-def]
    nobody = Actor(1, "viewer", Role.MANAGER)  # reads only: writes no audit row of its own
    view = open_view(sqlite_db, nobody)
    wait_loaded(qtbot, view)
    assert view.results.currentWidget() is view.empty
    assert view.empty.title.text() == "No changes recorded yet"
    assert not view.empty.action.isVisible()
    assert view.count_label.text() == "0 entries"


def test_data_changed_reloads_the_visible_view(qtbot, sqlite_db, sqlite_actor, open_view, write_audit_rows) -> None:  # type: ignore[no-untyped-def]
    view = open_view(sqlite_db, sqlite_actor)
    wait_loaded(qtbot, view)
    assert view.model.rowCount() == 1
    write_audit_rows(sqlite_db, sqlite_actor, 3)
    view.context.notify_data_changed()
    qtbot.waitUntil(lambda: view.model.rowCount() == 4, timeout=10_000)


def test_a_failed_page_shows_a_message_not_a_traceback(qtbot, monkeypatch, sqlite_db, sqlite_actor, open_view) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away\ndetails")

    monkeypatch.setattr(audit_service, "fetch_page", broken)
    view = open_view(sqlite_db, sqlite_actor)
    wait_loaded(qtbot, view)
    assert view.banner.isVisible()
    assert view.banner.text.text() == "The audit trail could not be loaded: database went away"
    assert not view.model.canFetchMore()


def test_entries_read_with_names_and_a_bulk_edit_opens_its_rows(qtbot, monkeypatch, db, actor, store, open_view) -> None:  # type: ignore[no-untyped-def]
    import re
    import uuid

    from backoffice.services import changesets, inventory, transfers
    from backoffice.services.inventory import MoveLine
    from backoffice.ui.views.audit.changeset_dialog import COL_AFTER as ROW_AFTER
    from backoffice.ui.views.audit.changeset_dialog import COL_BEFORE as ROW_BEFORE
    from backoffice.ui.views.audit.changeset_dialog import COL_ITEM as ROW_ITEM
    from backoffice.ui.views.audit.models import COL_ID, COL_SUMMARY

    s, m, _ = store.variant_ids
    wh, shop = store.locations["WH1"], store.locations["SHOP"]
    inventory.post_moves(db, actor, operation_id=uuid.uuid4().hex, reason="receipt",
                         lines=[MoveLine(s, store.locations["SUP"], wh, 4)])
    t = transfers.create_transfer(db, actor, source_location_id=wh, destination_location_id=shop, lines=[(s, 2)])
    applied = changesets.apply_changes(db, actor, [changesets.RowChange("variant", v, 1, {"price": "64.99"})
                                                   for v in (s, m)], description="Winter prices", kind="bulk")
    rows_threads: list[int] = []
    original_rows = audit_service.changeset_rows

    def recording_rows(*args, **kwargs):  # type: ignore[no-untyped-def]
        rows_threads.append(threading.get_ident())
        return original_rows(*args, **kwargs)

    monkeypatch.setattr(audit_service, "changeset_rows", recording_rows)
    view = open_view(db, actor)
    qtbot.waitUntil(lambda: view.model.rowCount() > 0, timeout=10_000)
    wait_loaded(qtbot, view)
    model = view.model
    raw = re.compile(r"[{}\[\]]|'[a-z_]+':|\b[a-z]+_id\b")
    for r in range(model.rowCount()):
        summary = model.data(model.index(r, COL_SUMMARY))
        assert not raw.search(summary), summary
    by_entity = {model.row_at(r).entity: r for r in range(model.rowCount())}
    transfer_row = by_entity["transfer"]
    assert model.data(model.index(transfer_row, COL_ID)) == t.number
    assert model.data(model.index(transfer_row, COL_SUMMARY)).startswith(f"created {t.number} (WH1 → SHOP)")

    view.table.selectRow(transfer_row)
    details = view.details
    assert details.title.text() == f"Transfer {t.number} (WH1 → SHOP) · Create"
    cells = {details.model.data(details.model.index(r, COL_FIELD)): details.model.data(details.model.index(r, COL_AFTER))
             for r in range(details.model.rowCount())}
    assert cells["destination location"] == "SHOP · City store"
    assert cells["line MC-S · Merino Crew"].startswith("quantity 2")
    assert not details.changeset_button.isVisible()

    view.table.selectRow(by_entity["changeset"])
    assert details.changeset_button.isVisible() and details.changeset_button.text() == "Show the 2 changed rows…"
    details.changeset_button.click()
    dialog = view.dialog
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2, timeout=10_000)
    assert rows_threads and threading.get_ident() not in rows_threads  # read in a worker
    assert dialog.heading.text() == f"Bulk edit #{applied.changeset_id}: Winter prices"
    assert "2 changed rows" in dialog.meta.text()
    shown = sorted((dialog.model.data(dialog.model.index(r, ROW_ITEM)), dialog.model.data(dialog.model.index(r, ROW_BEFORE)),
                    dialog.model.data(dialog.model.index(r, ROW_AFTER))) for r in range(2))
    assert shown == [("MC-M", "59.99", "64.99"), ("MC-S", "59.99", "64.99")]
    dialog.close()
