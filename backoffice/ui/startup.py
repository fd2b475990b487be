"""Connecting the GUI to its database, in the background, with every failure turned into a message.

The sequence (one background job, :func:`backoffice.operations.session.connect`): open the database
(keyring password, or a prompt marshalled to the GUI thread), create the schema of the embedded SQLite
file or the demo store when it is missing (its first admin, the file's owner, is the OS user), check the
schema, sign in. On an SQLite file the acting user is the named account (``--user`` or the profile's
user; having the file is the proof) or else the file's owner. A shared PostgreSQL database first shows
the sign-in dialog (user name prefilled, password); the password is checked in the background job
(``session.login``), a refusal is shown in the dialog, Cancel leaves the window not connected. No
account is ever created by connecting. The window then holds the operations it returned
(``context.ops``). For ``--demo``, it looks at what the store holds (a
short read): empty, it is filled with demo data (``ops.admin.generate_demo``) as a cancellable job shown
in the progress panel (``demo_started``); already the demo store, nothing is said (a relaunch);
someone's catalog, a message says the demo data was not added.

A staff login signed in with the password an admin gave it (temporary: ``ops.temporary_password_until``,
read in the connection job) is then asked to choose its own (:class:`OwnPasswordDialog`, "Later" keeps
the admin's until it stops working). The new password is set off the GUI thread, replaces the one the
keyring keeps for the person (if it keeps one, or they asked for that), and the window's operations are
reopened with it (connections the old ones would open next would be refused).

A store API profile (``profile.kind == "api"``) opens with the session the keyring keeps for the
profile's user (:func:`backoffice.remote.session.open_api`); when that session has ended, the sign-in
dialog asks for the password (the user name is the profile's) and the job signs in again. The job then
opens the profile's local side (:class:`~backoffice.sync.controller.ApiSync`: the replica and the
outbox, attached to the operations), which the window's sync controller keeps current.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any
from dataclasses import dataclass, field
from functools import partial
from urllib.parse import quote

import shiboken6
from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import QWidget
from sqlalchemy import make_url

from backoffice.config import API_KIND, DEMO_PROFILE, Profile, secret_key_for
from backoffice.operations import Changes, Operations, ServiceError, ValidationError
from backoffice.operations.auth import AccountLocked
from backoffice.operations.session import (
    AuthenticationFailed,
    DatabaseError,
    DatabaseUnreachable,
    PasswordPrompt,
    SchemaNewerThanApplication,
    SchemaNotMigrated,
    SchemaOlderThanApplication,
    SignInRequired,
    UnknownAccount,
    WrongPassword,
    connect,
    current_os_username,
    describe_target,
    is_demo_file,
    is_embedded_default,
    is_sqlite,
)
from backoffice.remote.errors import ServerUnreachable
from backoffice.secrets import KeyringUnavailable, PasswordRequired, SecretStore
from backoffice.ui.context import AppContext, ConnectionState
from backoffice.ui.dialogs.own_password import OwnPasswordDialog
from backoffice.ui.dialogs.sign_in import SignInDialog
from backoffice.ui.format import error_text, translator
from backoffice.ui.operations import Runner, run_write
from backoffice.ui.tasks import TaskManager, TaskState

log = logging.getLogger(__name__)
READY_BANNER_MS = 8000  # "The demo store is ready" hides itself after this long
tr = translator("Startup")


@dataclass(frozen=True)
class ConnectTarget:
    url: str
    profile: Profile | None = None
    username: str | None = None
    demo_products: int | None = None

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)

    @property
    def auto_migrate(self) -> bool:
        """Only Backoffice's own files get their schema created without asking: the embedded default
        SQLite file and the demo store. A shared server is upgraded by its administrator."""
        return self.is_sqlite and (self.demo_products is not None or is_embedded_default(self.url)
                                   or self.is_demo_file)

    @property
    def is_demo_file(self) -> bool:
        return is_demo_file(self.url)

    @property
    def is_api(self) -> bool:
        """A store API server (``backoffice serve``), reached over HTTP(S), not a database."""
        return self.profile is not None and self.profile.kind == API_KIND

    def describe(self) -> str:
        """Where the data is, for the status bar while connecting."""
        return f"Store API · {self.url}" if self.is_api else describe_target(self.url)

    def profile_label(self) -> str:
        if self.profile is not None and not (self.profile.name == DEMO_PROFILE and self.is_demo_file):
            return self.profile.name
        if self.demo_products is not None or self.is_demo_file:
            return tr("Demo store")
        if is_embedded_default(self.url):
            return tr("Local database")
        return ""

    def named_user(self) -> str | None:
        """The account named for this connection (``--user``, then the profile's user), or None."""
        return self.username or (self.profile.username if self.profile else "") or None

    @property
    def needs_sign_in(self) -> bool:
        """A shared database: who acts is proven with a password (the sign-in dialog)."""
        return not self.is_sqlite

    def sign_in_name(self) -> str:
        """The user name the sign-in dialog starts with."""
        return self.named_user() or current_os_username()


@dataclass(frozen=True)
class Credentials:
    """What a person gave to sign in to a shared database."""

    username: str
    password: str
    remember: bool = False   # keep the password in the OS keyring once it has been accepted


@dataclass(frozen=True)
class Connection:
    """A finished connection attempt: the operations, signed in; a note for the user or ""; the acting
    user's display name and user name; when the password they signed in with (an admin's) stops working,
    or None; what they signed in with (typed, or kept in the keyring), if anything."""

    ops: Operations
    note: str = ""
    display_name: str = ""
    username: str = ""
    password_until: dt.datetime | None = None
    signed_in_with: Credentials | None = field(default=None, repr=False)
    sync: Any = field(default=None, repr=False)    # an API profile's ApiSync (replica and outbox)


@dataclass(frozen=True)
class OwnPasswordChanged:
    """A person's own password, set: the operations reopened with it (None when that failed: the old ones
    stay), the acting user's display name, what the write changed, a note for the user or ""."""

    ops: Operations | None
    display_name: str
    changes: Changes
    note: str = ""


class SavedPasswordRefused(Exception):
    """The password kept in the keyring for this person was refused (and, unless the account is locked
    for a while, forgotten): the sign-in dialog asks instead."""


def personal_password_key(url: str, username: str) -> str:
    """The keyring entry of a person's own password for a shared database: the key of ``url`` with their
    user name as its user (a profile's connection password keeps the key of the URL itself)."""
    return secret_key_for(make_url(url).set(username=username, password=None))


def connect_job(target: ConnectTarget, state: TaskState, secrets: SecretStore,
                prompt: PasswordPrompt | None, credentials: Credentials | None = None) -> Connection:
    """Runs in a worker. An SQLite file: as the named account or its owner; a shared database: as
    ``credentials``, proven, their password kept in the keyring afterwards if they asked for that (a
    refused password never reaches the keyring)."""
    if credentials is not None:
        ops = connect(target.url, credentials.username, password=credentials.password, secrets=secrets,
                      prompt=prompt, progress=state.report)
    else:
        name = target.named_user()
        ops = connect(target.url, name, as_owner=name is None, secrets=secrets, prompt=prompt,
                      create_schema=target.auto_migrate, progress=state.report)
    try:
        notes = [_remember_prompted_password(target, secrets, prompt)]
        if credentials is not None and credentials.remember:
            notes.append(_remember_personal_password(target, secrets, credentials))
        username, display_name = who_signed_in(ops)
        until = temporary_password_until(ops)
    except BaseException:
        ops.close()
        raise
    return Connection(ops, " ".join(note for note in notes if note), display_name, username, until, credentials)


def api_connect_job(target: ConnectTarget, state: TaskState, secrets: SecretStore,
                    password: str | None = None) -> Connection:
    """Runs in a worker. Open a store API profile with the session the keyring keeps (or sign in again
    with ``password``); then open its replica and outbox. SignInRequired when the session has ended and
    no password was given (the dialog asks for it)."""
    from backoffice.remote.session import open_api
    from backoffice.sync.controller import ApiSync

    profile = target.profile
    assert profile is not None
    warnings: list[str] = []
    state.report(None, tr("Signing in to the store API"))
    ops = open_api(profile.url, profile.username, secrets=secrets, password=password, profile=profile.name,
                   warn=warnings.append)
    try:
        username, display_name = who_signed_in(ops)
        state.report(None, tr("Opening this computer's copy of the catalog"))
        sync = ApiSync(ops, profile.name)
    except BaseException:
        ops.close()
        raise
    note = tr("No secure keyring is available: you will be asked to sign in again next session.") if warnings else ""
    return Connection(ops, note, display_name, username, None, None, sync)


def saved_sign_in_job(target: ConnectTarget, state: TaskState, secrets: SecretStore, prompt: PasswordPrompt | None,
                      username: str) -> Connection | None:
    """Runs in a worker: sign ``username`` in to a shared database with the password the keyring keeps for
    them. None when it keeps none (or cannot be read): the dialog asks. A refused password is forgotten,
    so it is not tried again and again, and SavedPasswordRefused says so."""
    key = personal_password_key(target.url, username)
    try:
        password = secrets.get(key)
    except KeyringUnavailable:
        return None
    if not password:
        return None
    try:
        return connect_job(target, state, secrets, prompt, Credentials(username, password))
    except (AuthenticationFailed, UnknownAccount) as exc:
        if not isinstance(exc, AccountLocked):   # the password may well be right once the lock expires
            secrets.delete(key)
        raise SavedPasswordRefused(_one_line(exc)) from exc


def _remember_personal_password(target: ConnectTarget, secrets: SecretStore, credentials: Credentials) -> str:
    try:
        secrets.set(personal_password_key(target.url, credentials.username), credentials.password)
    except KeyringUnavailable:
        return tr("No secure keyring is available: your password was not remembered and will be asked for "
                  "next time.")
    return ""


def display_name_of(ops: Operations) -> str:
    """The acting user's display name ("" when it cannot be read: the user name is shown instead)."""
    return who_signed_in(ops)[1]


def who_signed_in(ops: Operations) -> tuple[str, str]:
    """(user name, display name) of the acting user; ("", "") without one, the display name "" when it
    cannot be read."""
    actor = ops.actor
    if actor is None:
        return "", ""
    try:
        me = ops.users.whoami()
    except Exception:   # only a label: never a reason to refuse a connection that worked
        log.warning("the display name of %s could not be read", actor.username, exc_info=True)
        return actor.username, ""
    return me.username, me.display_name


def temporary_password_until(ops: Operations) -> dt.datetime | None:
    """When the password the person signed in with, one an admin gave them, stops working; None when it
    is their own (or cannot be told: the window works on, it is only a reminder)."""
    read = getattr(ops, "temporary_password_until", None)
    if read is None or ops.actor is None:
        return None
    try:
        return read()
    except Exception:
        log.warning("when the password of %s expires could not be read", ops.actor.username, exc_info=True)
        return None


def own_password_job(target: ConnectTarget, ops: Operations, secrets: SecretStore, username: str, sign_in_name: str,
                     password: str, remember: bool) -> OwnPasswordChanged:
    """Runs in a worker: set ``username``'s own password (a refusal raises: nothing else is done); replace
    the password the keyring keeps for them, if it keeps one or ``remember``; open the operations again with
    the new password."""
    _none, changes = run_write(ops, lambda o: o.users.set_password(username, password))
    notes = [_replace_remembered_password(target, secrets, sign_in_name, password, remember)]
    try:
        fresh = connect(target.url, sign_in_name, password=password, secrets=secrets)
    except Exception:
        log.warning("the connection of %s could not be reopened with the new password", username, exc_info=True)
        notes.append(tr("The connection could not be reopened with it: if the database stops answering, sign in "
                        "again (File → Switch user…)."))
        return OwnPasswordChanged(None, "", changes, " ".join(note for note in notes if note))
    try:
        _username, display_name = who_signed_in(fresh)
    except BaseException:
        fresh.close()
        raise
    return OwnPasswordChanged(fresh, display_name, changes, " ".join(note for note in notes if note))


def _replace_remembered_password(target: ConnectTarget, secrets: SecretStore, sign_in_name: str, password: str,
                                 remember: bool) -> str:
    key = personal_password_key(target.url, sign_in_name)
    try:
        if not remember and not secrets.get(key):
            return ""
        secrets.set(key, password)
    except KeyringUnavailable:
        return tr("No secure keyring is available: your new password was not remembered.") if remember else ""
    return ""


def own_password_error(exc: BaseException) -> str:
    """Why the server refused a new password, as the dialog says it."""
    if isinstance(exc, ValidationError) and exc.problems and all(field == "password" for _r, field, _m in exc.problems):
        return " ".join(tr("The new password {problem}.").format(problem=message.rstrip("."))
                        for _r, _f, message in exc.problems)
    return error_text(exc)


def _remember_prompted_password(target: ConnectTarget, secrets: SecretStore, prompt: PasswordPrompt | None) -> str:
    """After a prompted password worked, store it in the keyring if the user asked for that."""
    if target.is_sqlite:
        return ""
    key = secret_key_for(target.url)
    wants = getattr(prompt, "wants_keyring", None)
    if wants is None or not wants(key):
        return ""
    password = secrets.get(key)
    if not password:
        return ""
    try:
        secrets.set(key, password)
    except KeyringUnavailable:
        return tr("No secure keyring is available: the password will be asked for again next session.")
    return ""


@dataclass(frozen=True)
class UpgradeDone:
    backup: str
    before: str | None
    after: str | None


def upgrade_job(url: str) -> UpgradeDone:
    """Runs in a worker: back an SQLite file up (checked), then upgrade its schema; nobody signs in."""
    ops = connect(url, None, require_schema=False)
    try:
        made = ops.admin.backup()
        done = ops.admin.upgrade()
    finally:
        ops.close()
    return UpgradeDone(made.path, done.before, done.after)


def describe_error(exc: BaseException) -> tuple[str, str]:
    """(one-line message, what to do about it) for the connection page; never a traceback."""
    message = _one_line(exc)
    if isinstance(exc, SchemaNewerThanApplication):
        return message, tr("A newer version of Backoffice has upgraded this database. Install that version (or "
                           "a later one) on this computer; this one does not open the database, so nothing in "
                           "it is changed.")
    if isinstance(exc, SchemaNotMigrated):
        return message, tr("The database answers, but its Backoffice tables are missing or out of date. Run "
                           "“backoffice db upgrade” against the same database (same --db or --profile), "
                           "then choose Retry.")
    if isinstance(exc, WrongPassword | PasswordRequired):
        return message, tr("Choose Retry to enter the password again, or update the profile.")
    if isinstance(exc, SignInRequired):
        return message, tr("Make the first admin with “backoffice db upgrade” (on this file: you become its "
                           "owner) or “backoffice users bootstrap-admin NAME”, then choose Retry.")
    if isinstance(exc, UnknownAccount):
        return message, tr("Ask an admin to create the account, or connect without a user name (as the owner "
                           "of an SQLite file).")
    if isinstance(exc, DatabaseUnreachable):
        return message, tr("Check that the database server is running and reachable from this computer, "
                           "then choose Retry, or pick another connection profile.")
    if isinstance(exc, ServerUnreachable):
        return message, tr("Check that the store API server is running and reachable from this computer "
                           "(the profile's URL), then choose Retry.")
    if isinstance(exc, DatabaseError | ServiceError | KeyringUnavailable):
        return message, ""
    log.error("unexpected error while connecting", exc_info=(type(exc), exc, exc.__traceback__))
    return tr("Unexpected error: {kind}: {message}").format(kind=type(exc).__name__, message=message), \
        tr("The details were written to the log.")


def _close_connection(connection: Connection) -> None:
    if connection.sync is not None:
        connection.sync.close()
    connection.ops.close()


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class Connector(QObject):
    """Runs the connection sequence for a window's AppContext; one attempt at a time counts."""

    attempt_started = Signal(object)  # the TaskState of a connection attempt (its status: the current step)
    connected = Signal()
    failed = Signal(str)
    demo_started = Signal(object)  # the TaskState of the demo store being built
    demo_finished = Signal(str)  # "done", "cancelled", "existing", "skipped" or "failed"
    sign_in_shown = Signal(object)  # the SignInDialog of a shared database, once shown (lets tests fill it in)
    own_password_shown = Signal(object)   # the OwnPasswordDialog after signing in with an admin's password
    own_password_changed = Signal()       # the person's own password was set (and the operations reopened)

    def __init__(self, context: AppContext, tasks: TaskManager, *, secrets: SecretStore | None = None,
                 prompt: PasswordPrompt | None = None, notify: Callable[[str, str], None] | None = None,
                 settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.secrets = secrets or SecretStore()
        self.settings = settings   # remembers who last signed in to each shared database (never a password)
        self.prompt = prompt
        self.notify = notify or (lambda text, level, timeout_ms=None: log.info("%s: %s", level, text))
        self.target: ConnectTarget | None = None
        self.state: TaskState | None = None
        self.runner = Runner(context, tasks, self)
        self._generation = 0
        self.sign_in_dialog: SignInDialog | None = None
        self.own_password_dialog: OwnPasswordDialog | None = None

    def connect_to(self, target: ConnectTarget, *, ask: bool = False) -> None:
        """Connect to ``target``; a shared database signs in with the password the keyring keeps for the
        person (if they asked for that), else asks. ``ask``: always ask, with no name filled in."""
        self._generation += 1
        self.target = target
        old = self.context.set_connecting(profile_name=target.profile_label(), target=target.describe())
        if old is not None:
            self.tasks.run_in_background(old.close)
        self.state = TaskState(tr("Connecting"), cancellable=False, parent=self)
        self.attempt_started.emit(self.state)
        self._close_sign_in()
        self._close_own_password()
        if target.is_api:
            self._start_api(self._generation, target, None)
        elif target.needs_sign_in and ask:
            self._ask_sign_in(self._generation, target, "")
        elif target.needs_sign_in:
            self._sign_in_with_saved_password(self._generation, target)
        else:
            self._start(self._generation, target, None)

    def switch_user(self) -> bool:
        """Let someone else sign in to the same shared database: the current operations are closed (off
        the GUI thread) and the sign-in dialog asks. False, doing nothing, for an SQLite file: a personal
        file has one owner."""
        if self.target is None or not self.target.needs_sign_in or self.target.is_api:
            return False   # an API profile is one person's: its changes waiting to be sent are theirs
        self.connect_to(self.target, ask=True)
        return True

    def _start(self, generation: int, target: ConnectTarget, credentials: Credentials | None) -> None:
        assert self.state is not None
        self.tasks.run_in_background(partial(connect_job, target, self.state, self.secrets, self.prompt, credentials),
                                     partial(self._on_connected, generation, target, credentials),
                                     partial(self._on_failed, generation))

    # -- a store API profile -----------------------------------------------------------------------------
    def _start_api(self, generation: int, target: ConnectTarget, password: str | None) -> None:
        assert self.state is not None
        self.tasks.run_in_background(partial(api_connect_job, target, self.state, self.secrets, password),
                                     partial(self._on_connected, generation, target, None),
                                     partial(self._on_api_failed, generation, target))

    def _on_api_failed(self, generation: int, target: ConnectTarget, exc: BaseException) -> None:
        if generation == self._generation and isinstance(exc, SignInRequired) and self.sign_in_dialog is None:
            self._ask_api_sign_in(generation, target)
            return
        self._on_failed(generation, exc)

    def _ask_api_sign_in(self, generation: int, target: ConnectTarget) -> None:
        """The session on the server has ended (or never began): ask for the profile user's password."""
        assert target.profile is not None
        parent = self.parent()
        dialog = SignInDialog(target.describe(), target.profile.username,
                              parent if isinstance(parent, QWidget) else None, api=True)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.submitted.connect(lambda _username, password, _keep: self._start_api(generation, target, password))
        dialog.rejected.connect(partial(self._sign_in_cancelled, generation, dialog))
        self.sign_in_dialog = dialog
        dialog.open()
        self.sign_in_shown.emit(dialog)

    # -- signing in to a shared database ---------------------------------------------------------------
    def sign_in_name(self, target: ConnectTarget) -> str:
        """Who signs in first: the user named for the connection, else whoever last signed in to this
        database on this computer, else the OS login name."""
        return target.named_user() or self._last_user(target) or current_os_username()

    def _last_user_key(self, target: ConnectTarget) -> str:
        return "sign_in/last_user/" + quote(secret_key_for(target.url), safe="")

    def _last_user(self, target: ConnectTarget) -> str:
        if self.settings is None:
            return ""
        return str(self.settings.value(self._last_user_key(target), "") or "")

    def _remember_last_user(self, target: ConnectTarget, username: str) -> None:
        if self.settings is not None:
            self.settings.setValue(self._last_user_key(target), username)

    def _sign_in_with_saved_password(self, generation: int, target: ConnectTarget) -> None:
        """Look in the keyring (off the GUI thread: it may wait on the OS) for the person's password and
        sign in with it; ask when there is none or it is refused."""
        assert self.state is not None
        name = self.sign_in_name(target)
        self.tasks.run_in_background(
            partial(saved_sign_in_job, target, self.state, self.secrets, self.prompt, name),
            partial(self._on_saved_sign_in, generation, target, name),
            partial(self._on_saved_sign_in_failed, generation, target, name))

    def _on_saved_sign_in(self, generation: int, target: ConnectTarget, name: str,
                          connection: Connection | None) -> None:
        if connection is not None:
            self._on_connected(generation, target, None, connection)
        elif generation == self._generation:
            self._ask_sign_in(generation, target, name)

    def _on_saved_sign_in_failed(self, generation: int, target: ConnectTarget, name: str, exc: BaseException) -> None:
        if generation != self._generation:
            return
        if isinstance(exc, SavedPasswordRefused):
            self._ask_sign_in(generation, target, name, remember=True,
                              error=tr("Your saved password was refused ({reason}): enter your password.").format(
                                  reason=str(exc)))
            return
        self._on_failed(generation, exc)

    def _ask_sign_in(self, generation: int, target: ConnectTarget, name: str, *, remember: bool = False,
                     error: str = "") -> None:
        parent = self.parent()
        dialog = SignInDialog(target.describe(), name, parent if isinstance(parent, QWidget) else None,
                              remember=remember)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.submitted.connect(lambda username, password, keep: self._start(
            generation, target, Credentials(username, password, keep)))
        dialog.rejected.connect(partial(self._sign_in_cancelled, generation, dialog))
        self.sign_in_dialog = dialog
        dialog.open()
        if error:
            dialog.show_error(error)
        self.sign_in_shown.emit(dialog)

    def _sign_in_cancelled(self, generation: int, dialog: SignInDialog) -> None:
        if self.sign_in_dialog is dialog:
            self.sign_in_dialog = None
        dialog.deleteLater()
        if generation != self._generation:
            return
        message = tr("Not signed in")
        where = tr("the store API") if self.target is not None and self.target.is_api else tr("a shared database")
        self.context.set_failed(message, tr("This is {where}: choose Retry to sign in with your user name and "
                                            "password.").format(where=where))
        self.failed.emit(message)

    def _close_sign_in(self) -> None:
        """Close the dialog of a finished or replaced attempt (without counting it as cancelled)."""
        dialog, self.sign_in_dialog = self.sign_in_dialog, None
        if dialog is not None and shiboken6.isValid(dialog):
            dialog.rejected.disconnect()
            dialog.done(0)
            dialog.deleteLater()

    def retry(self) -> None:
        if self.target is not None:
            self.connect_to(self.target)

    def _on_connected(self, generation: int, target: ConnectTarget, credentials: Credentials | None,
                      connection: Connection) -> None:
        ops = connection.ops
        if generation != self._generation:
            self.tasks.run_in_background(partial(_close_connection, connection))  # a newer attempt replaced it
            return
        self._close_sign_in()
        if credentials is not None:
            self._remember_last_user(target, credentials.username)
        self.context.set_connected(ops, connection.display_name, sync=connection.sync)
        if connection.note:
            self.notify(connection.note, "warning")
        self.connected.emit()
        if target.demo_products is not None:
            self.start_demo(target.demo_products)
        if connection.password_until is not None:
            self._ask_own_password(generation, target, credentials or connection.signed_in_with, connection)

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        dialog = self.sign_in_dialog
        if dialog is not None and shiboken6.isValid(dialog) and isinstance(exc, AuthenticationFailed | UnknownAccount):
            dialog.show_error(_one_line(exc))   # refused: say so in the dialog, which stays open for another try
            return
        self._close_sign_in()
        message, hint = describe_error(exc)
        target = self.target
        upgradable = target is not None and target.is_sqlite and isinstance(exc, SchemaOlderThanApplication)
        if upgradable:
            hint = tr("This file was made by an earlier version of Backoffice. Choose Back up and upgrade: a copy "
                      "goes to the backups folder first, then the file is brought up to this version.")
        self.context.set_failed(message, hint, "upgrade" if upgradable else "")
        self.failed.emit(message)

    # -- an SQLite file of an earlier version ---------------------------------------------------------------
    def back_up_and_upgrade(self) -> None:
        """Back the file up, upgrade its schema, then connect again (the connection page's offer for a file
        an earlier version made; a shared server is upgraded by its administrator with ``db upgrade``)."""
        target = self.target
        if target is None or not target.is_sqlite or self.context.state is ConnectionState.CONNECTING:
            return
        self._generation += 1
        generation = self._generation
        self.context.set_connecting(profile_name=target.profile_label(), target=target.describe())
        self.state = TaskState(tr("Backing up and upgrading"), cancellable=False, parent=self)
        self.attempt_started.emit(self.state)
        self.tasks.run_in_background(partial(upgrade_job, target.url), partial(self._upgraded, generation, target),
                                     partial(self._on_failed, generation), state=self.state)

    def _upgraded(self, generation: int, target: ConnectTarget, done: UpgradeDone) -> None:
        if generation != self._generation:
            return
        self.notify(tr("Backed up to {path}; upgraded the schema from {before} to {after}.").format(
            path=done.backup, before=done.before or "—", after=done.after), "success")
        self.connect_to(target)

    # -- choosing one's own password ----------------------------------------------------------------------
    def _ask_own_password(self, generation: int, target: ConnectTarget, credentials: Credentials | None,
                          connection: Connection) -> None:
        """The person signed in with a password an admin gave them: ask for their own (window-modal)."""
        assert connection.password_until is not None
        username = connection.username or (connection.ops.actor.username if connection.ops.actor else "")
        parent = self.parent()
        dialog = OwnPasswordDialog(username, connection.password_until,
                                   parent if isinstance(parent, QWidget) else None,
                                   current=credentials.password if credentials is not None else None)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        sign_in_name = credentials.username if credentials is not None else username
        remember = credentials is not None and credentials.remember
        dialog.chosen.connect(partial(self._change_own_password, generation, target, dialog, sign_in_name, remember))
        dialog.finished.connect(partial(self._own_password_closed, dialog))
        self.own_password_dialog = dialog
        dialog.open()
        self.own_password_shown.emit(dialog)

    def _change_own_password(self, generation: int, target: ConnectTarget, dialog: OwnPasswordDialog,
                             sign_in_name: str, remember: bool, password: str) -> None:
        ops = self.context.ops
        if generation != self._generation or ops is None:
            dialog.show_error(tr("Not connected any more: sign in again first."))
            return
        self.tasks.run_in_background(
            partial(own_password_job, target, ops, self.secrets, dialog.username, sign_in_name, password, remember),
            partial(self._own_password_set, generation, dialog, ops),
            partial(self._own_password_refused, dialog))

    def _own_password_set(self, generation: int, dialog: OwnPasswordDialog, old: Operations,
                          result: OwnPasswordChanged) -> None:
        if result.ops is not None:
            if generation == self._generation and self.context.ops is old:
                self.context.set_connected(result.ops, result.display_name or self.context.display_name)
                self.tasks.run_in_background(old.close)
            else:   # the window moved on (switched user, reconnected) meanwhile
                self.tasks.run_in_background(result.ops.close)
        self.context.notify_data_changed(result.changes)
        if self.own_password_dialog is dialog:
            self.own_password_dialog = None
        if shiboken6.isValid(dialog):
            dialog.set_busy(False)
            dialog.accept()
        self.notify(" ".join(t for t in (tr("Your own password is set."), result.note) if t),
                    "warning" if result.note else "success")
        self.own_password_changed.emit()

    def _own_password_refused(self, dialog: OwnPasswordDialog, exc: BaseException) -> None:
        if shiboken6.isValid(dialog):
            dialog.show_error(own_password_error(exc))   # the dialog stays open for another try

    def _own_password_closed(self, dialog: OwnPasswordDialog, _result: int) -> None:
        if self.own_password_dialog is dialog:
            self.own_password_dialog = None
        dialog.deleteLater()

    def _close_own_password(self) -> None:
        """Close the question of a replaced connection (its answer no longer applies)."""
        dialog, self.own_password_dialog = self.own_password_dialog, None
        if dialog is not None and shiboken6.isValid(dialog):
            dialog.done(0)

    # -- demo data ---------------------------------------------------------------------------------------
    def start_demo(self, products: int) -> None:
        """Look at what the store holds (in the background), then build the demo store if it is empty."""
        generation = self._generation
        self.runner.read(lambda ops: ops.admin.demo_state(), partial(self._demo_looked, generation, products),
                         on_error=partial(self._demo_look_failed, generation))

    def _demo_looked(self, generation: int, products: int, holds: str) -> None:
        if generation != self._generation:
            return
        if holds == "demo":
            # A relaunch of --demo on the demo store it built before: nothing new to say.
            self.demo_finished.emit("existing")
        elif holds == "other":
            self.notify(tr("Demo data was not added: this database already holds a catalog; the demo store "
                           "is only ever made in an empty one."), "info")
            self.demo_finished.emit("skipped")
        else:
            self.build_demo(products)

    def _demo_look_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        message, _hint = describe_error(exc)
        self.notify(tr("The demo store could not be created: {error}").format(error=message), "error")
        self.demo_finished.emit("failed")

    def build_demo(self, products: int) -> TaskState | None:
        if self.context.ops is None:
            return None
        state = TaskState(tr("Creating the demo store"), parent=self)
        profile_name = self.target.profile.name if self.target is not None and self.target.profile else ""

        def fill_demo_store(ops: Operations) -> object:
            return ops.admin.generate_demo(products, profile=profile_name, progress=state.report,
                                           cancel=state.cancelled)

        self.demo_started.emit(state)
        self.runner.write(fill_demo_store, partial(self._demo_done, state), on_error=partial(self._demo_failed, state),
                          state=state)
        return state

    def _demo_done(self, state: TaskState, _result: object) -> None:
        if state.cancelled():
            self.notify(tr("Creating the demo store was cancelled."), "info")
            self.demo_finished.emit("cancelled")
        else:
            self.notify(tr("The demo store is ready."), "success", READY_BANNER_MS)
            self.demo_finished.emit("done")

    def _demo_failed(self, state: TaskState, exc: BaseException) -> None:
        if state.cancelled():
            self.notify(tr("Creating the demo store was cancelled; nothing was written."), "info")
            self.demo_finished.emit("cancelled")
        elif isinstance(exc, ValidationError):
            # Someone filled the catalog between the look and the build: say why nothing was added.
            self.notify(tr("Demo data was not added: {reason}").format(reason=_one_line(exc)), "info")
            self.demo_finished.emit("skipped")
        else:
            message, _hint = describe_error(exc)
            self.notify(tr("The demo store could not be created: {error}").format(error=message), "error")
            self.demo_finished.emit("failed")
