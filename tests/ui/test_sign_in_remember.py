"""Remembering a person's password on this computer, and switching user, on a shared PostgreSQL database.

The password goes to the OS keyring (an in-memory one in tests), under the key of the database URL with
the person's user name, only once it has been accepted; the next connection signs in with it without
asking, and a refused one is forgotten and asked for. Switch user closes the operations and asks again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from sqlalchemy import create_engine, make_url, text

from backoffice import migrations
from backoffice.db import Database
from backoffice.models import Role
from backoffice.operations import LocalOperations
from backoffice.secrets import SERVICE, SecretStore
from backoffice.services import users
from backoffice.services.users import ensure_user
from backoffice.ui.app import Gui, start_gui
from backoffice.ui.context import ConnectionState
from backoffice.ui.startup import personal_password_key
from tests.conftest import STAFF_PASSWORD
from tests.test_password_server import PASSWORD as SERVER_PASSWORD
from tests.test_password_server import secured_server  # noqa: F401  (the server fixture)

pytestmark = pytest.mark.postgres


@pytest.fixture
def launch(qtbot, tmp_path):  # type: ignore[no-untyped-def]
    """``launch(url, **kwargs)``: the GUI as ``backoffice`` starts it; every launch of one test shares
    the settings file (one computer)."""
    started: list[Gui] = []

    def launch_(db_url: str, **kwargs) -> Gui:  # type: ignore[no-untyped-def]
        gui = start_gui(db_url=db_url, settings=QSettings(str(tmp_path / "window.ini"), QSettings.Format.IniFormat),
                        **kwargs)
        started.append(gui)
        dialogs: list[object] = []
        gui.connector.sign_in_shown.connect(dialogs.append)
        gui.dialogs_shown = dialogs   # type: ignore[attr-defined]
        return gui

    yield launch_
    for gui in started:
        gui.shutdown()
        gui.window.close()
        gui.window.deleteLater()
    qtbot.wait(10)


@pytest.fixture
def staff(pg_db: Database) -> Database:
    ensure_user(pg_db, "pat", password=STAFF_PASSWORD)                                 # the admin
    ensure_user(pg_db, "wendy", Role.WAREHOUSE, "Wendy Wu", password=STAFF_PASSWORD)
    return pg_db


def url_of(db: Database) -> str:
    return db.url.render_as_string(hide_password=False)


def shown_dialog(qtbot, gui: Gui):  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: gui.connector.sign_in_dialog is not None and gui.connector.sign_in_dialog.isVisible(),
                    timeout=10_000)
    return gui.connector.sign_in_dialog


def sign_in(qtbot, dialog, password: str, *, name: str | None = None, remember: bool = False) -> None:  # type: ignore[no-untyped-def]
    if name is not None:
        dialog.username.setText(name)
    dialog.remember.setChecked(remember)
    qtbot.keyClicks(dialog.password, password)
    dialog.sign_in_button.click()


def connected(qtbot, gui: Gui) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: gui.context.state is ConnectionState.CONNECTED, timeout=15_000)


def test_the_password_is_remembered_only_once_accepted(qtbot, launch, staff, isolated_user_dirs) -> None:  # type: ignore[no-untyped-def]
    keyring = isolated_user_dirs
    before = dict(keyring.entries)
    gui = launch(url_of(staff), username="wendy")
    dialog = shown_dialog(qtbot, gui)
    assert not dialog.remember.isChecked()            # never without asking
    assert dialog.remember.text() == "Remember my password on this computer"

    sign_in(qtbot, dialog, "not the password", remember=True)
    qtbot.waitUntil(dialog.error.isVisible, timeout=10_000)
    assert dialog.error.text() == "wrong user name or password"
    assert keyring.entries == before                  # a refused password is not stored
    assert dialog.remember.isChecked() and dialog.remember.isEnabled()

    sign_in(qtbot, dialog, STAFF_PASSWORD, remember=True)
    connected(qtbot, gui)
    key = personal_password_key(url_of(staff), "wendy")
    assert key == f"postgresql://wendy@{staff.url.host}:{staff.url.port or 5432}/{staff.url.database}"
    assert keyring.entries == {**before, (SERVICE, key): STAFF_PASSWORD}
    assert gui.window.session_status.user.text() == "Wendy Wu · Warehouse"
    gui.window.settings.sync()
    assert STAFF_PASSWORD not in Path(gui.window.settings.fileName()).read_text(encoding="utf-8")   # never there

    # The next connection to the same database as the same person signs in without asking.
    again = launch(url_of(staff), username="wendy")
    connected(qtbot, again)
    assert again.dialogs_shown == [] and again.connector.sign_in_dialog is None
    assert again.context.actor.username == "wendy"
    assert again.window.session_status.user.text() == "Wendy Wu · Warehouse"


def test_without_the_box_nothing_is_stored(qtbot, launch, staff, isolated_user_dirs) -> None:  # type: ignore[no-untyped-def]
    before = dict(isolated_user_dirs.entries)
    gui = launch(url_of(staff), username="wendy")
    sign_in(qtbot, shown_dialog(qtbot, gui), STAFF_PASSWORD)
    connected(qtbot, gui)
    assert isolated_user_dirs.entries == before
    again = launch(url_of(staff), username="wendy")
    shown_dialog(qtbot, again)                        # asked again
    assert again.context.ops is None


def test_a_refused_saved_password_is_forgotten_and_asked_for(qtbot, launch, staff, isolated_user_dirs) -> None:  # type: ignore[no-untyped-def]
    key = personal_password_key(url_of(staff), "wendy")
    SecretStore().set(key, "an old password")
    gui = launch(url_of(staff), username="wendy")
    dialog = shown_dialog(qtbot, gui)
    assert dialog.error.isVisible() and dialog.error.text().startswith("Your saved password was refused")
    assert dialog.remember.isChecked()               # they had asked for it: the new one replaces it
    assert (SERVICE, key) not in isolated_user_dirs.entries
    sign_in(qtbot, dialog, STAFF_PASSWORD, remember=True)
    connected(qtbot, gui)
    assert isolated_user_dirs.entries[(SERVICE, key)] == STAFF_PASSWORD


def test_the_last_person_on_this_computer_is_asked_for_first(qtbot, launch, staff) -> None:  # type: ignore[no-untyped-def]
    gui = launch(url_of(staff))                      # no --user, no profile user
    sign_in(qtbot, shown_dialog(qtbot, gui), STAFF_PASSWORD, name="wendy", remember=True)
    connected(qtbot, gui)
    again = launch(url_of(staff))
    connected(qtbot, again)
    assert again.dialogs_shown == [] and again.context.actor.username == "wendy"


def test_switch_user_asks_again_and_the_status_bar_follows(qtbot, launch, staff) -> None:  # type: ignore[no-untyped-def]
    gui = launch(url_of(staff), username="wendy")
    sign_in(qtbot, shown_dialog(qtbot, gui), STAFF_PASSWORD, remember=True)
    connected(qtbot, gui)
    window = gui.window
    assert window.switch_user_action.isEnabled()
    assert not window.connected_action.isVisible()    # wendy is no admin
    old_ops = gui.context.ops

    window.switch_user_action.trigger()
    assert gui.context.ops is None and gui.context.state is ConnectionState.CONNECTING
    dialog = shown_dialog(qtbot, gui)
    assert dialog.username.text() == "" and not dialog.remember.isChecked()   # asked, even with a saved password
    qtbot.waitUntil(lambda: gui.tasks.pending == 0, timeout=10_000)          # the old operations closed
    assert old_ops is not gui.context.ops
    sign_in(qtbot, dialog, STAFF_PASSWORD, name="pat")
    connected(qtbot, gui)
    assert gui.context.actor.username == "pat"
    assert window.session_status.user.text() == "pat · Admin"
    assert window.connected_action.isVisible()        # pat is an admin; wendy was not
    window.lock()
    assert window.window_lock.overlay.title.text() == "Locked — pat (Admin)"


# -- a person's own PostgreSQL login, on a server that asks for passwords ----------------------------------
@pytest.fixture(scope="module")
def store_url(secured_server: str) -> Iterator[str]:  # noqa: F811
    owner = make_url(secured_server).set(password=SERVER_PASSWORD)
    engine = create_engine(owner, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text('CREATE DATABASE "desk"'))
    engine.dispose()
    url = owner.set(database="desk").render_as_string(hide_password=False)
    db = Database(url)
    migrations.upgrade(db)
    db.dispose()
    yield url


def test_a_staff_login_is_remembered_signs_in_as_itself_and_unlocks_with_its_password(
        qtbot, launch, store_url, isolated_user_dirs) -> None:  # type: ignore[no-untyped-def]
    db = Database(store_url)
    try:
        boss = users.ensure_user(db, "boss", password=STAFF_PASSWORD)
        name = f"ann{uuid.uuid4().hex[:6]}"
        LocalOperations(db, boss, owns_database=False).users.add(name, role="warehouse", display_name="Ann Staff",
                                                                  password=STAFF_PASSWORD)
    finally:
        db.dispose()
    before = dict(isolated_user_dirs.entries)
    gui = launch(store_url, username=name)
    dialog = shown_dialog(qtbot, gui)
    sign_in(qtbot, dialog, "not the password", remember=True)
    qtbot.waitUntil(dialog.error.isVisible, timeout=15_000)
    assert isolated_user_dirs.entries == before
    sign_in(qtbot, dialog, STAFF_PASSWORD, remember=True)
    connected(qtbot, gui)
    assert gui.context.ops.database_login() == (users.login_name(name), "staff")
    assert gui.window.session_status.user.text() == "Ann Staff · Warehouse"
    assert isolated_user_dirs.entries[(SERVICE, personal_password_key(store_url, name))] == STAFF_PASSWORD

    again = launch(store_url, username=name)
    connected(qtbot, again)
    assert again.dialogs_shown == [] and again.context.ops.database_login() == (users.login_name(name), "staff")

    window = again.window
    window.lock()
    overlay = window.window_lock.overlay
    for password, locked in (("not the password", True), (STAFF_PASSWORD, False)):
        qtbot.keyClicks(overlay.password, password)
        overlay.unlock_button.click()
        qtbot.waitUntil(lambda: not window.window_lock.runner.busy, timeout=15_000)
        assert window.is_locked() is locked
        assert overlay.error.isVisible() is locked
