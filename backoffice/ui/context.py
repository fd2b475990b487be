"""What one main window is connected to: the operations (``context.ops``: the data, through the
contract), the acting user, the profile, and the state of the connection. Created per window and
handed to every view (no global, nothing shared between tests).

``data_changed`` is the one "something was written" notification (Anki's ``operation_did_execute``):
after a write finishes, whoever ran it calls :meth:`AppContext.notify_data_changed` and each open view
decides what to reload.

An API profile also has its local side (``context.sync``: the replica and the outbox), which the sync
controller keeps current; ``outbox_changed`` says a write was kept in the outbox instead of sent.
"""

from __future__ import annotations

import enum
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal

from backoffice.operations import Actor, Changes, Operations
from backoffice.operations.permissions import Role, allowed, describe, roles_for
from backoffice.operations.session import describe_target, is_embedded_default, is_sqlite

__all__ = ["AppContext", "ConnectionState", "describe_target", "is_embedded_default"]


class ConnectionState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"


class AppContext(QObject):
    changed = Signal()              # connection state, database, user or profile changed
    data_changed = Signal(object)   # Changes: something was written; views reload what concerns them
    outbox_changed = Signal()       # a write waits in the outbox (saved offline), or an entry was settled

    def __init__(self, *, profile_name: str = "", target: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.profile_name = profile_name
        self.target = target            # describe_target() of the database, for the status bar
        self.state = ConnectionState.DISCONNECTED
        self.ops: Operations | None = None
        self.sync: Any = None           # an API profile's ApiSync (backoffice.sync.controller), else None
        self.actor: Actor | None = None
        self.owner_mode = False         # acting as the owner of an SQLite file (no login)
        self.personal_file = False      # connected to an SQLite file: one owner, no shared sessions
        self.display_name = ""
        self.error = ""
        self.hint = ""
        self.fix = ""                   # what the connection page offers for the failure ("upgrade": back up and upgrade)

    @property
    def connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED and self.ops is not None

    def set_connecting(self, *, profile_name: str, target: str) -> Operations | None:
        """Forget the current connection; returns the old operations for the caller to close off-thread."""
        old, self.ops, self.actor, self.owner_mode = self.ops, None, None, False
        self.sync = None
        self.personal_file = False
        self.profile_name, self.target = profile_name, target
        self.state, self.error, self.hint, self.fix = ConnectionState.CONNECTING, "", "", ""
        self.changed.emit()
        return old

    def set_connected(self, ops: Operations, display_name: str = "", *, sync: Any = None) -> None:
        self.ops, self.actor, self.sync = ops, ops.actor, sync
        self.owner_mode = bool(getattr(ops, "owner_mode", False))
        self.personal_file = is_sqlite(ops.url)
        self.display_name = display_name or ops.actor.username
        self.target = ops.target
        self.state, self.error, self.hint = ConnectionState.CONNECTED, "", ""
        self.changed.emit()

    def set_failed(self, error: str, hint: str = "", fix: str = "") -> None:
        self.ops, self.actor, self.owner_mode, self.personal_file = None, None, False, False
        self.sync = None
        self.state, self.error, self.hint, self.fix = ConnectionState.FAILED, error, hint, fix
        self.changed.emit()

    def notify_data_changed(self, changes: Changes | None = None) -> None:
        """Tell every view what a write changed (everything, when the writer cannot tell)."""
        self.data_changed.emit(changes if changes is not None else Changes.all())

    def notify_outbox_changed(self) -> None:
        """A write was kept in the outbox (the server did not answer) or an entry was settled: the
        pending count is read again."""
        self.outbox_changed.emit()

    @property
    def remote(self) -> bool:
        """Connected through the store API (not to a database)."""
        return bool(getattr(self.ops, "remote", False))

    def may(self, operation: str) -> bool:
        """True when the signed-in user's role may run ``operation`` (``area.method``) by the permission
        table; the contract refuses the others whatever the window shows."""
        return self.actor is not None and allowed(operation, self.actor.role)

    def roles_for(self, operation: str) -> str:
        """Who may run ``operation``: ``manager or admin``."""
        roles = roles_for(operation) or frozenset()
        return describe(roles | {Role.ADMIN})

    def role_label(self) -> str:
        if self.actor is None:
            return ""
        return QCoreApplication.translate("Roles", self.actor.role.value.capitalize())

    def user_label(self) -> str:
        """Who acts, for the status bar: "bob · Warehouse", or "alice · owner of this file (admin)"."""
        if self.actor is None:
            return ""
        name = self.display_name or self.actor.username
        if self.owner_mode:
            return QCoreApplication.translate("Roles", "{name} · owner of this file ({role})").format(
                name=name, role=self.role_label().lower())
        return f"{name} · {self.role_label()}"
