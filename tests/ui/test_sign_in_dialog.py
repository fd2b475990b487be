"""Signing in from the GUI: on a shared PostgreSQL database the sign-in dialog comes before any data (name
prefilled, password checked off the GUI thread, a refusal shown in the dialog, Cancel leaves the window
unconnected); on an SQLite file the window acts as the file's owner, or as a named existing account. No
account is ever created by connecting."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QSettings
from sqlalchemy import func, select

from backoffice.db import Database
from backoffice.models import AuditEntry, User
from backoffice.operations import session
from backoffice.services.users import ensure_user
from backoffice.ui.app import Gui, start_gui
from backoffice.ui.context import ConnectionState
from tests.conftest import STAFF_PASSWORD


@pytest.fixture
def launch(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    started: list[Gui] = []

    def launch_(db_url: str, **kwargs) -> Gui:  # type: ignore[no-untyped-def]
        gui = start_gui(db_url=db_url, settings=QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat),
                        **kwargs)
        started.append(gui)
        return gui

    yield launch_
    for gui in started:
        gui.shutdown()
        gui.window.close()
        gui.window.deleteLater()
    qtbot.wait(10)


def users_count(db: Database) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(User))


def url_of(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def shown_dialog(qtbot, gui: Gui):  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: gui.connector.sign_in_dialog is not None and gui.connector.sign_in_dialog.isVisible(),
                    timeout=10_000)
    return gui.connector.sign_in_dialog


@pytest.mark.postgres
def test_a_wrong_password_is_shown_in_the_dialog_then_the_right_one_connects(qtbot, monkeypatch, launch, pg_db) -> None:  # type: ignore[no-untyped-def]
    ensure_user(pg_db, "pat", password=STAFF_PASSWORD)
    ensure_user(pg_db, "wendy", "warehouse", password=STAFF_PASSWORD)
    checked_on: list[int] = []
    original = session.connect

    def recording_connect(*args, **kwargs):  # type: ignore[no-untyped-def]
        checked_on.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr("backoffice.ui.startup.connect", recording_connect)
    gui = launch(url_of(pg_db), username="wendy")
    dialog = shown_dialog(qtbot, gui)
    assert dialog.username.text() == "wendy"          # prefilled from the profile or --user
    assert gui.context.ops is None                   # nothing connected before signing in
    qtbot.keyClicks(dialog.password, "not the password")
    dialog.sign_in_button.click()
    assert not dialog.password.isEnabled()           # checking, in the background
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10_000)
    assert dialog.error.text() == "wrong user name or password"
    assert dialog.isVisible() and dialog.password.isEnabled() and dialog.password.text() == ""
    assert gui.context.state is ConnectionState.CONNECTING and gui.context.ops is None
    assert checked_on and all(t != threading.get_ident() for t in checked_on)   # off the GUI thread
    with pg_db.read() as s:                           # the failure is audited
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "login_failed", AuditEntry.username == "wendy")) == 1

    qtbot.keyClicks(dialog.password, STAFF_PASSWORD)
    dialog.sign_in_button.click()
    qtbot.waitUntil(lambda: gui.context.state is ConnectionState.CONNECTED, timeout=10_000)
    assert gui.connector.sign_in_dialog is None       # closed (and deleted) once signed in
    assert gui.context.actor.username == "wendy"
    assert gui.window.session_status.user.text() == "wendy · Warehouse"
    assert not gui.context.owner_mode


@pytest.mark.postgres
def test_an_unknown_user_is_refused_and_no_account_is_made(qtbot, launch, pg_db) -> None:  # type: ignore[no-untyped-def]
    ensure_user(pg_db, "pat", password=STAFF_PASSWORD)
    before = users_count(pg_db)
    gui = launch(url_of(pg_db))
    dialog = shown_dialog(qtbot, gui)
    dialog.username.setText("nobody")
    qtbot.keyClicks(dialog.password, STAFF_PASSWORD)
    dialog.sign_in_button.click()
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=10_000)
    assert dialog.error.text() == "wrong user name or password"
    assert users_count(pg_db) == before


@pytest.mark.postgres
def test_cancelling_the_sign_in_leaves_the_window_unconnected(qtbot, launch, pg_db) -> None:  # type: ignore[no-untyped-def]
    gui = launch(url_of(pg_db))
    dialog = shown_dialog(qtbot, gui)
    assert dialog.username.text() == session.current_os_username()   # no --user, no profile user
    dialog.sign_in_button.click()                     # no password typed: said in the dialog, nothing sent
    assert dialog.error.text() == "Enter your user name and password." and dialog.password.isEnabled()
    dialog.reject()
    qtbot.waitUntil(lambda: gui.context.state is ConnectionState.FAILED, timeout=10_000)
    assert gui.context.error == "Not signed in" and "Retry" in gui.context.hint
    assert gui.context.ops is None and users_count(pg_db) == 0
    gui.connector.retry()                             # Retry asks again
    assert shown_dialog(qtbot, gui) is not dialog


def test_an_sqlite_file_opens_as_its_owner_or_as_a_named_account(qtbot, launch, sqlite_db) -> None:  # type: ignore[no-untyped-def]
    ensure_user(sqlite_db, "olive")                   # the oldest admin: the owner
    ensure_user(sqlite_db, "mark", "merchandiser")
    gui = launch(url_of(sqlite_db))
    qtbot.waitUntil(lambda: gui.context.state is ConnectionState.CONNECTED, timeout=20_000)
    assert gui.connector.sign_in_dialog is None       # a file: no sign-in dialog
    assert gui.window.session_status.user.text() == "olive · owner of this file (admin)"
    named = launch(url_of(sqlite_db), username="mark")
    qtbot.waitUntil(lambda: named.context.state is ConnectionState.CONNECTED, timeout=20_000)
    assert named.window.session_status.user.text() == "mark · Merchandiser"
    before = users_count(sqlite_db)
    unknown = launch(url_of(sqlite_db), username="nobody")
    qtbot.waitUntil(lambda: unknown.context.state is ConnectionState.FAILED, timeout=20_000)
    assert unknown.context.error == ("no account named nobody: an admin creates it with "
                                     "`backoffice users add nobody --role R`")
    assert users_count(sqlite_db) == before
