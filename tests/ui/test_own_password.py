"""Choosing one's own password after signing in with one an admin gave: a staff login's password set by an
admin stops working at a set time, so the window asks for the person's own right after signing in.

The dialog checks the two fields itself (filled in, the same, not the admin's password); the server sets
the password (its refusals are shown in the dialog, which stays open); the keyring's copy is replaced when
the person keeps one there; the window goes on with operations opened with the new password."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, make_url, text

from backoffice import migrations
from backoffice.db import Database
from backoffice.operations import LocalOperations
from backoffice.operations.session import AuthenticationFailed, connect
from backoffice.secrets import SERVICE, SecretStore
from backoffice.services import users
from backoffice.ui.context import ConnectionState
from backoffice.ui.dialogs.own_password import OwnPasswordDialog, local_time_text
from backoffice.ui.startup import personal_password_key
from tests.conftest import STAFF_PASSWORD
from tests.test_password_server import PASSWORD as SERVER_PASSWORD
from tests.test_password_server import secured_server  # noqa: F401  (the server fixture)
from tests.ui.test_sign_in_remember import connected, launch, shown_dialog, sign_in  # noqa: F401  (launch: a fixture)

INITIAL = "given by the admin 1"
NEW = "my very own password 2"
UNTIL = dt.datetime(2027, 3, 4, 17, 30, tzinfo=dt.UTC)


# -- the dialog on its own ---------------------------------------------------------------------------------
@pytest.fixture
def dialog(qtbot) -> OwnPasswordDialog:  # type: ignore[no-untyped-def]
    shown = OwnPasswordDialog("ann", UNTIL, current=INITIAL)
    qtbot.addWidget(shown)
    shown.show()
    return shown


def fill(qtbot, dialog: OwnPasswordDialog, new: str, again: str) -> None:  # type: ignore[no-untyped-def]
    dialog.new_password.clear()
    dialog.repeat.clear()
    qtbot.keyClicks(dialog.new_password, new)
    qtbot.keyClicks(dialog.repeat, again)
    dialog.change_button.click()


def test_the_dialog_says_when_the_admins_password_stops_working(dialog) -> None:  # type: ignore[no-untyped-def]
    assert dialog.windowTitle() == "Choose your own password"
    when = local_time_text(UNTIL)
    assert dialog.explanation.text() == (f"The password you signed in with was given by an admin and stops working "
                                         f"on {when} (local time). Choose your own now.")
    local = UNTIL.astimezone()
    assert str(local.year) in when and str(local.day) in when
    assert dialog.change_button.text() == "Change password" and dialog.later_button.text() == "Later"


@pytest.mark.parametrize(("new", "again", "message"), [
    ("", "", "Type your new password in both fields."),
    (NEW, "", "Type your new password in both fields."),
    (NEW, NEW + "x", "The two passwords differ: type the same new password twice."),
    (INITIAL, INITIAL, "That is the password the admin gave you: choose a different one."),
])
def test_what_the_dialog_refuses_itself(qtbot, dialog, new: str, again: str, message: str) -> None:  # type: ignore[no-untyped-def]
    chosen: list[str] = []
    dialog.chosen.connect(chosen.append)
    fill(qtbot, dialog, new, again)
    assert chosen == []
    assert dialog.error.isVisible() and dialog.error.text() == message
    assert dialog.new_password.text() == "" and dialog.repeat.text() == ""
    assert dialog.isVisible() and dialog.change_button.isEnabled()


def test_a_new_password_is_handed_on_and_later_waits_for_its_outcome(qtbot, dialog) -> None:  # type: ignore[no-untyped-def]
    chosen: list[str] = []
    dialog.chosen.connect(chosen.append)
    fill(qtbot, dialog, NEW, NEW)
    assert chosen == [NEW]
    assert dialog.busy and not dialog.later_button.isEnabled() and not dialog.new_password.isEnabled()
    dialog.reject()                                   # Esc while it is being set: still open
    assert dialog.isVisible()
    dialog.show_error("The new password must be at least 8 characters long.")
    assert not dialog.busy and dialog.error.text() == "The new password must be at least 8 characters long."
    dialog.later_button.click()
    assert not dialog.isVisible() and dialog.result() == 0


def test_without_the_current_password_any_new_one_goes(qtbot) -> None:  # type: ignore[no-untyped-def]
    shown = OwnPasswordDialog("ann", UNTIL)
    qtbot.addWidget(shown)
    chosen: list[str] = []
    shown.chosen.connect(chosen.append)
    fill(qtbot, shown, INITIAL, INITIAL)
    assert chosen == [INITIAL]


# -- signing in to a server that asks for passwords --------------------------------------------------------
@pytest.fixture(scope="module")
def store_url(secured_server: str) -> Iterator[str]:  # noqa: F811
    owner = make_url(secured_server).set(password=SERVER_PASSWORD)
    engine = create_engine(owner, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text('CREATE DATABASE "ownpw"'))
    engine.dispose()
    url = owner.set(database="ownpw").render_as_string(hide_password=False)
    db = Database(url)
    migrations.upgrade(db)
    users.ensure_user(db, "boss", password=STAFF_PASSWORD)
    db.dispose()
    yield url


def staff_login(store_url: str, *, own: str | None = None) -> str:
    """A warehouse person with a login of their own and the password INITIAL from an admin (or then their
    own ``own``)."""
    name = f"tim{uuid.uuid4().hex[:6]}"
    db = Database(store_url)
    try:
        boss = users.ensure_user(db, "boss", password=STAFF_PASSWORD)
        LocalOperations(db, boss, owns_database=False).users.add(name, role="warehouse", password=INITIAL)
    finally:
        db.dispose()
    if own is not None:
        ops = connect(store_url, name, password=INITIAL)
        try:
            ops.users.set_password(name, own)
        finally:
            ops.close()
    return name


def until_for(store_url: str, name: str, password: str) -> dt.datetime | None:
    """When ``name``'s password stops working, as ``password`` proves (AuthenticationFailed: refused)."""
    ops = connect(store_url, name, password=password)
    try:
        return ops.temporary_password_until()
    finally:
        ops.close()


def own_password_dialog(qtbot, gui) -> OwnPasswordDialog:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: gui.connector.own_password_dialog is not None
                    and gui.connector.own_password_dialog.isVisible(), timeout=15_000)
    return gui.connector.own_password_dialog


pg = pytest.mark.postgres


@pg
def test_signed_in_with_an_admins_password_one_chooses_ones_own(qtbot, launch, store_url,  # noqa: F811
                                                                isolated_user_dirs) -> None:  # type: ignore[no-untyped-def]
    name = staff_login(store_url)
    until = until_for(store_url, name, INITIAL)
    assert until is not None and until > dt.datetime.now(dt.UTC)
    key = personal_password_key(store_url, name)
    gui = launch(store_url, username=name)
    sign_in(qtbot, shown_dialog(qtbot, gui), INITIAL, remember=True)
    connected(qtbot, gui)
    assert isolated_user_dirs.entries[(SERVICE, key)] == INITIAL
    dialog = own_password_dialog(qtbot, gui)
    assert dialog.parent() is gui.window and dialog.isModal()
    assert dialog.username == name
    assert local_time_text(until) in dialog.explanation.text()
    old_ops = gui.context.ops
    sent: list[str] = []
    dialog.chosen.connect(sent.append)

    # Two different passwords: said in the dialog, nothing sent, nothing changed.
    fill(qtbot, dialog, NEW, NEW + "!")
    assert dialog.error.text() == "The two passwords differ: type the same new password twice."
    fill(qtbot, dialog, INITIAL, INITIAL)
    assert dialog.error.text() == "That is the password the admin gave you: choose a different one."
    assert sent == [] and dialog.isVisible() and not dialog.busy
    assert until_for(store_url, name, INITIAL) == until
    assert isolated_user_dirs.entries[(SERVICE, key)] == INITIAL

    # The server's refusal: in the dialog, which stays open.
    fill(qtbot, dialog, "short", "short")
    qtbot.waitUntil(lambda: not dialog.busy, timeout=15_000)
    assert dialog.error.isVisible()
    assert dialog.error.text() == "The new password must be at least 8 characters long."
    assert dialog.isVisible() and gui.context.ops is old_ops
    assert until_for(store_url, name, INITIAL) == until

    with qtbot.waitSignal(gui.connector.own_password_changed, timeout=20_000):
        fill(qtbot, dialog, NEW, NEW)
    assert gui.connector.own_password_dialog is None and not dialog.isVisible()
    assert isolated_user_dirs.entries[(SERVICE, key)] == NEW
    assert until_for(store_url, name, NEW) is None                        # their own: it never expires
    with pytest.raises(AuthenticationFailed):
        until_for(store_url, name, INITIAL)
    # The window goes on with operations opened with the new password.
    assert gui.context.state is ConnectionState.CONNECTED and gui.context.ops is not old_ops
    assert gui.context.actor.username == name
    assert gui.context.ops.temporary_password_until() is None
    assert gui.context.ops.verify_password(NEW) and not gui.context.ops.verify_password(INITIAL)

    # Next time the keyring's password signs in, and nobody is asked anything.
    again = launch(store_url, username=name)
    connected(qtbot, again)
    qtbot.waitUntil(lambda: again.tasks.pending == 0, timeout=10_000)
    assert again.dialogs_shown == [] and again.connector.own_password_dialog is None


@pg
def test_later_keeps_the_admins_password_and_a_password_not_remembered_stays_so(
        qtbot, launch, store_url, isolated_user_dirs) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    name = staff_login(store_url)
    until = until_for(store_url, name, INITIAL)
    before = dict(isolated_user_dirs.entries)
    gui = launch(store_url, username=name)
    sign_in(qtbot, shown_dialog(qtbot, gui), INITIAL)
    connected(qtbot, gui)
    dialog = own_password_dialog(qtbot, gui)
    ops = gui.context.ops
    dialog.later_button.click()
    assert not dialog.isVisible() and gui.connector.own_password_dialog is None
    assert gui.context.state is ConnectionState.CONNECTED and gui.context.ops is ops
    assert until_for(store_url, name, INITIAL) == until

    gui.connector.retry()                              # signing in again asks again
    sign_in(qtbot, shown_dialog(qtbot, gui), INITIAL)
    connected(qtbot, gui)
    with qtbot.waitSignal(gui.connector.own_password_changed, timeout=20_000):
        fill(qtbot, own_password_dialog(qtbot, gui), NEW, NEW)
    assert until_for(store_url, name, NEW) is None
    assert isolated_user_dirs.entries == before        # never remembered: nothing to replace


@pg
def test_a_password_kept_in_the_keyring_is_replaced(qtbot, launch, store_url, isolated_user_dirs) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    name = staff_login(store_url)
    key = personal_password_key(store_url, name)
    SecretStore().set(key, INITIAL)                    # remembered on an earlier sign-in
    gui = launch(store_url, username=name)
    connected(qtbot, gui)                              # with the keyring's password, without asking
    assert gui.dialogs_shown == []
    dialog = own_password_dialog(qtbot, gui)
    fill(qtbot, dialog, INITIAL, INITIAL)              # the password signed in with is known here too
    assert dialog.error.text() == "That is the password the admin gave you: choose a different one."
    with qtbot.waitSignal(gui.connector.own_password_changed, timeout=20_000):
        fill(qtbot, dialog, NEW, NEW)
    assert isolated_user_dirs.entries[(SERVICE, key)] == NEW
    assert until_for(store_url, name, NEW) is None


@pg
def test_a_person_with_their_own_password_is_not_asked(qtbot, launch, store_url) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    name = staff_login(store_url, own=NEW)
    assert until_for(store_url, name, NEW) is None
    gui = launch(store_url, username=name)
    shown: list[object] = []
    gui.connector.own_password_shown.connect(shown.append)
    sign_in(qtbot, shown_dialog(qtbot, gui), NEW, remember=True)
    connected(qtbot, gui)
    qtbot.waitUntil(lambda: gui.tasks.pending == 0, timeout=10_000)
    qtbot.wait(50)
    assert shown == [] and gui.connector.own_password_dialog is None


@pg
def test_the_owner_is_never_asked(qtbot, launch, store_url) -> None:  # noqa: F811  # type: ignore[no-untyped-def]
    gui = launch(store_url, username="boss")
    shown: list[object] = []
    gui.connector.own_password_shown.connect(shown.append)
    sign_in(qtbot, shown_dialog(qtbot, gui), STAFF_PASSWORD)
    connected(qtbot, gui)
    qtbot.waitUntil(lambda: gui.tasks.pending == 0, timeout=10_000)
    assert shown == [] and gui.connector.own_password_dialog is None
