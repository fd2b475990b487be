"""Who is connected (File menu, admins only): database connections and store API sessions listed in the
background, an empty state that says why, and ending the selected one after a confirmation."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import make_url

from backoffice.config import ProfileStore
from backoffice.db import Database
from backoffice.models import Role
from backoffice.operations import LocalOperations
from backoffice.operations.users import DatabaseSession, SessionInfo, UserOperations
from backoffice.secrets import SecretStore
from backoffice.services import users
from backoffice.services.users import ensure_user
from backoffice.ui.context import AppContext
from backoffice.ui.dialogs.connected import ConnectedDialog
from backoffice.ui.main_window import MainWindow
from tests.conftest import STAFF_PASSWORD

WHEN = dt.datetime(2024, 5, 6, 7, 8, tzinfo=dt.UTC)


@pytest.fixture
def open_window(qtbot, tasks, ui_settings):  # type: ignore[no-untyped-def]
    def open_(context: AppContext, settings: QSettings | None = ui_settings) -> MainWindow:
        window = MainWindow(context, tasks, settings=settings, profiles=ProfileStore(), secrets=SecretStore())
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    return open_


def context_for(db: Database, actor) -> AppContext:  # type: ignore[no-untyped-def]
    context = AppContext(profile_name="Shop HQ")
    context.set_connected(LocalOperations(db, actor))
    return context


def open_dialog(qtbot, window: MainWindow) -> ConnectedDialog:  # type: ignore[no-untyped-def]
    window.connected_action.trigger()
    dialog = window.connected_dialog
    qtbot.waitUntil(lambda: dialog.loaded and not dialog.runner.busy, timeout=10_000)
    return dialog


def confirm_end(qtbot, dialog: ConnectedDialog) -> None:  # type: ignore[no-untyped-def]
    dialog.end_button.click()
    box = dialog.confirmation
    assert isinstance(box, QMessageBox) and box.isVisible()
    end = next(b for b in box.buttons() if b.text() == "End session")
    end.click()
    qtbot.waitUntil(lambda: not dialog.runner.busy and dialog.loaded, timeout=10_000)


def test_only_admins_see_who_is_connected(qtbot, sqlite_db, open_window) -> None:  # type: ignore[no-untyped-def]
    admin = ensure_user(sqlite_db, "olive")
    mark = ensure_user(sqlite_db, "mark", Role.MERCHANDISER)
    assert open_window(context_for(sqlite_db, admin)).connected_action.isVisible()
    assert not open_window(context_for(sqlite_db, mark)).connected_action.isVisible()
    assert not open_window(AppContext()).connected_action.isVisible()


def test_a_personal_file_has_no_shared_sessions(qtbot, sqlite_db, sqlite_actor, open_window) -> None:  # type: ignore[no-untyped-def]
    dialog = open_dialog(qtbot, open_window(context_for(sqlite_db, sqlite_actor)))
    assert dialog.is_empty()
    assert dialog.empty_title.text() == "A personal database file has no shared sessions"
    assert not dialog.end_button.isEnabled()


def test_given_lists_are_shown_row_by_row(qtbot, sqlite_db, sqlite_actor, tasks) -> None:  # type: ignore[no-untyped-def]
    context = context_for(sqlite_db, sqlite_actor)
    context.personal_file = False                     # as on a shared database
    dialog = ConnectedDialog(context, tasks)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.loaded and not dialog.runner.busy, timeout=10_000)
    assert dialog.empty_title.text() == "Nobody else is connected"

    dialog.set_sessions(
        [DatabaseSession(101, "bo_wendy", "wendy", "backoffice", "10.0.0.7", WHEN, "idle", WHEN),
         DatabaseSession(102, "bo_api", None, "backoffice serve", "10.0.0.2", WHEN, "active", WHEN)],
        [SessionInfo(7, "pat", "api_key", "Shop sync", WHEN, None, None)])
    assert not dialog.is_empty()
    model = dialog.database_model
    assert [[model.display(r, c) for c in range(model.columnCount())] for r in range(model.rowCount())] == [
        ["bo_wendy", "wendy", "10.0.0.7", "backoffice", WHEN.astimezone().strftime("%Y-%m-%d %H:%M"), "idle"],
        ["bo_api", "—", "10.0.0.2", "backoffice serve", WHEN.astimezone().strftime("%Y-%m-%d %H:%M"), "active"]]
    api = dialog.api_model
    assert [api.display(0, c) for c in range(api.columnCount())] == [
        "pat", "API key", "Shop sync", WHEN.astimezone().strftime("%Y-%m-%d %H:%M"), "Never"]
    assert dialog.database_heading.text() == "Database connections (2)"
    # One selection at a time, across both lists.
    dialog.select(dialog.database_table, 1)
    assert dialog.selected().pid == 102 and dialog.end_button.isEnabled()
    dialog.select(dialog.api_table, 0)
    assert dialog.selected().id == 7 and not dialog.database_table.selectionModel().hasSelection()


def test_an_api_key_is_listed_and_ended_after_a_confirmation(qtbot, monkeypatch, sqlite_db, sqlite_actor,
                                                             open_window) -> None:  # type: ignore[no-untyped-def]
    ops = LocalOperations(sqlite_db, sqlite_actor)
    ops.users.create_api_key(sqlite_actor.username, "Shop sync")
    window = open_window(context_for(sqlite_db, sqlite_actor))
    dialog = open_dialog(qtbot, window)
    assert not dialog.is_empty()
    assert dialog.database_note.isVisible() and not dialog.database_table.isVisible()   # a file: no connections
    assert [dialog.api_model.display(0, c) for c in range(3)] == [sqlite_actor.username, "API key", "Shop sync"]

    dialog.select(dialog.api_table, 0)
    dialog.end_button.click()                        # cancelled: nothing happens
    dialog.confirmation.reject()
    qtbot.waitUntil(lambda: dialog.confirmation is None or not dialog.confirmation.isVisible(), timeout=2_000)
    assert len(ops.users.sessions()) == 1

    revoked_on: list[int] = []
    original = UserOperations.revoke_session

    def recording_revoke(area, session_id):  # type: ignore[no-untyped-def]
        revoked_on.append(threading.get_ident())
        return original(area, session_id)

    monkeypatch.setattr(UserOperations, "revoke_session", recording_revoke)
    dialog.select(dialog.api_table, 0)
    confirm_end(qtbot, dialog)
    assert revoked_on and revoked_on[0] != threading.get_ident()    # off the GUI thread
    assert ops.users.sessions() == []
    qtbot.waitUntil(dialog.is_empty, timeout=10_000)                 # read again: nothing left
    assert dialog.banner.isVisible() and "ended" in dialog.banner.text.text()


@pytest.mark.postgres
def test_a_staff_connection_is_listed_and_ended(qtbot, pg_db, open_window) -> None:  # type: ignore[no-untyped-def]
    admin = ensure_user(pg_db, "boss", password=STAFF_PASSWORD)
    clerk, _ = users.create_user(pg_db, admin, f"clerk{uuid.uuid4().hex[:6]}", Role.WAREHOUSE, password=STAFF_PASSWORD)
    login = users.login_name(clerk.username)
    theirs = Database(make_url(pg_db.url.render_as_string(hide_password=False)).set(username=login, password=None)
                      .render_as_string(hide_password=False), pool_size=1)
    theirs.ping()                                     # one open connection of the clerk's own login
    try:
        dialog = open_dialog(qtbot, open_window(context_for(pg_db, admin)))
        logins = [dialog.database_model.display(r, 0) for r in range(dialog.database_model.rowCount())]
        assert login in logins
        row = logins.index(login)
        assert dialog.database_model.display(row, 1) == clerk.username
        dialog.select(dialog.database_table, row)
        confirm_end(qtbot, dialog)
        qtbot.waitUntil(lambda: login not in [dialog.database_model.display(r, 0)
                                              for r in range(dialog.database_model.rowCount())], timeout=10_000)
    finally:
        theirs.dispose()
