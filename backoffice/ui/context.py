"""What one main window is connected to: the database, the acting user, the profile, and the state of
the connection. Created per window and handed to every view (no global, nothing shared between tests).

``data_changed`` is the one "something was written" notification (Anki's ``operation_did_execute``):
after a write finishes, whoever ran it calls :meth:`AppContext.notify_data_changed` and each open view
decides what to reload.
"""

from __future__ import annotations

import enum
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, Signal
from sqlalchemy.engine import URL

from backoffice.db import Database, DatabaseError, default_url, normalise_url
from backoffice.services.base import Actor


class ConnectionState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    FAILED = "failed"


def describe_target(url: str | URL) -> str:
    """``SQLite · /path/file.sqlite`` or ``PostgreSQL · host/db``: where the data lives, no password."""
    try:
        u = normalise_url(url)
    except DatabaseError:
        return str(url)
    if u.get_backend_name() == "sqlite":
        return f"SQLite · {u.database or ':memory:'}"
    host = u.host or "localhost"
    if u.port and u.port != 5432:
        host = f"{host}:{u.port}"
    return f"PostgreSQL · {host}/{u.database or ''}"


def is_embedded_default(url: str | URL) -> bool:
    try:
        u, default = normalise_url(url), normalise_url(default_url())
    except DatabaseError:
        return False
    if u.get_backend_name() != "sqlite" or not u.database:
        return False
    return Path(u.database).expanduser().resolve() == Path(default.database or "").resolve()


class AppContext(QObject):
    changed = Signal()          # connection state, database, user or profile changed
    data_changed = Signal()     # something was written: views reload what they show

    def __init__(self, *, profile_name: str = "", target: str = "", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.profile_name = profile_name
        self.target = target            # describe_target() of the database, for the status bar
        self.state = ConnectionState.DISCONNECTED
        self.db: Database | None = None
        self.actor: Actor | None = None
        self.display_name = ""
        self.error = ""
        self.hint = ""

    @property
    def connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED and self.db is not None

    def set_connecting(self, *, profile_name: str, target: str) -> Database | None:
        """Forget the current connection; returns the old Database for the caller to dispose off-thread."""
        old, self.db, self.actor = self.db, None, None
        self.profile_name, self.target = profile_name, target
        self.state, self.error, self.hint = ConnectionState.CONNECTING, "", ""
        self.changed.emit()
        return old

    def set_connected(self, db: Database, actor: Actor, display_name: str = "") -> None:
        self.db, self.actor, self.display_name = db, actor, display_name or actor.username
        self.target = describe_target(db.url)
        self.state, self.error, self.hint = ConnectionState.CONNECTED, "", ""
        self.changed.emit()

    def set_failed(self, error: str, hint: str = "") -> None:
        self.db, self.actor = None, None
        self.state, self.error, self.hint = ConnectionState.FAILED, error, hint
        self.changed.emit()

    def notify_data_changed(self) -> None:
        self.data_changed.emit()

    def role_label(self) -> str:
        if self.actor is None:
            return ""
        return QCoreApplication.translate("Roles", self.actor.role.value.capitalize())
