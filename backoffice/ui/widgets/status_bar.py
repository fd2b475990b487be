"""The permanent part of the status bar: profile, acting user, connection state; for a store API
profile also how fresh this computer's copy is and how many changes wait to be sent."""

from __future__ import annotations

import datetime as dt
import time

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStatusBar, QWidget

from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext, ConnectionState
from backoffice.ui.format import translator

_STATE_COLOURS = {
    ConnectionState.CONNECTED: theme.SUCCESS,
    ConnectionState.CONNECTING: theme.WARNING,
    ConnectionState.FAILED: theme.DANGER,
    ConnectionState.DISCONNECTED: theme.DANGER,
}


def dot_pixmap(colour: str, size: int = 10, ratio: float = 1.0) -> QPixmap:
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    halo = QColor(colour)
    halo.setAlpha(60)
    painter.setBrush(halo)
    painter.drawEllipse(QRectF(0, 0, size * ratio, size * ratio))
    painter.setBrush(QColor(colour))
    inset = size * ratio * 0.2
    painter.drawEllipse(QRectF(inset, inset, size * ratio - 2 * inset, size * ratio - 2 * inset))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


class _IconLabel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.icon = QLabel()
        self.label = QLabel()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 0, 8, 0)
        layout.setSpacing(6)
        layout.addWidget(self.icon)
        layout.addWidget(self.label)

    def set(self, pixmap: QPixmap, text: str, tooltip: str = "") -> None:
        self.icon.setPixmap(pixmap)
        self.label.setText(text)
        self.setToolTip(tooltip)

    def text(self) -> str:
        return self.label.text()


class _ClickableIconLabel(_IconLabel):
    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class SessionStatus(QObject):
    """Puts three permanent widgets into ``status_bar`` and keeps them following ``context``."""

    def __init__(self, context: AppContext, status_bar: QStatusBar) -> None:
        super().__init__(status_bar)
        self._context = context
        self._bar = status_bar
        self.profile = _IconLabel()
        self.user = _IconLabel()
        self.connection = _IconLabel()
        for widget in (self.profile, self.user, self.connection):
            status_bar.addPermanentWidget(widget)
        context.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        c = self._context
        ratio = self._bar.devicePixelRatioF()
        self.profile.set(
            resources.svg_pixmap("server", 14, theme.TEXT_MUTED, device_ratio=ratio),
            c.profile_name or self.tr("No profile"),
            self.tr("Connection profile"),
        )
        if c.actor is not None:
            user_text = c.user_label()
        else:
            user_text = self.tr("Not signed in")
        self.user.set(resources.svg_pixmap("user", 14, theme.TEXT_MUTED, device_ratio=ratio), user_text,
                      self.tr("Acting user and role"))
        self.user.setVisible(c.actor is not None)
        if c.state is ConnectionState.CONNECTED:
            text = c.target
        elif c.state is ConnectionState.CONNECTING:
            text = self.tr("Connecting to {target}…").format(target=c.target)
        elif c.state is ConnectionState.FAILED:
            text = self.tr("Not connected · {target}").format(target=c.target)
        else:
            text = self.tr("Not connected")
        self.connection.set(dot_pixmap(_STATE_COLOURS[c.state], 10, ratio), text, c.error or c.target)


_tr = translator("SyncStatus")
SHOW_SYNCING_AFTER_S = 0.7   # a quick round does not flash "Syncing…" every few seconds


def ago(seconds: float) -> str:
    """"12 s", "3 min", "2 h", "4 d": how long ago, roughly."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def freshness_text(now: dt.datetime, synced_at: dt.datetime | None, *, syncing: bool, loading: bool,
                   offline: bool, signed_out: bool = False) -> tuple[str, str]:
    """(text, level: "ok", "busy", "warning") of the freshness label."""
    since = ago((now - synced_at).total_seconds()) if synced_at is not None else ""
    if loading:
        return _tr("Loading the catalog…"), "busy"
    if signed_out:
        return _tr("Signed out — sign in again to sync"), "warning"
    if offline:
        if since:
            return _tr("Offline — last synced {ago} ago").format(ago=since), "warning"
        return _tr("Offline — never synced"), "warning"
    if syncing:
        return _tr("Syncing…"), "busy"
    if synced_at is None:
        return _tr("Not synced yet"), "busy"
    return _tr("Synced {ago} ago").format(ago=since), "ok"


def outbox_text(pending: int, attention: int) -> tuple[str, str]:
    """(text, level) of the outbox indicator."""
    parts = []
    if pending == 1:
        parts.append(_tr("1 change waiting"))
    elif pending:
        parts.append(_tr("{n} changes waiting").format(n=pending))
    if attention == 1:
        parts.append(_tr("1 needs you"))
    elif attention:
        parts.append(_tr("{n} need you").format(n=attention))
    if not parts:
        return _tr("All changes sent"), "ok"
    return " · ".join(parts), "danger" if attention else "warning"


_LEVEL_COLOURS = {"ok": theme.SUCCESS, "busy": theme.ACCENT, "warning": theme.WARNING, "danger": theme.DANGER}


class SyncStatus(QObject):
    """The freshness label and the outbox indicator of a store API profile, following a SyncController
    (``backoffice.ui.sync``); hidden for a direct database. Clicking the indicator emits
    :attr:`outbox_clicked` (the window opens the Pending changes dialog)."""

    outbox_clicked = Signal()

    def __init__(self, sync, status_bar: QStatusBar) -> None:  # type: ignore[no-untyped-def]
        super().__init__(status_bar)
        self._sync = sync
        self._bar = status_bar
        self._round_started: float | None = None
        self.freshness = _IconLabel()
        self.outbox = _ClickableIconLabel()
        self.outbox.setToolTip(self.tr("Changes saved on this computer and not yet sent: click to see them"))
        self.outbox.clicked.connect(self.outbox_clicked)
        status_bar.addPermanentWidget(self.freshness)
        status_bar.addPermanentWidget(self.outbox)
        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self.refresh)
        sync.state_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        c = self._sync
        active = c.active
        self.freshness.setVisible(active)
        self.outbox.setVisible(active)
        if not active:
            self.clock.stop()
            self._round_started = None
            return
        if not self.clock.isActive():
            self.clock.start()
        if c.syncing and self._round_started is None:
            self._round_started = time.monotonic()
        elif not c.syncing:
            self._round_started = None
        long_round = self._round_started is not None and time.monotonic() - self._round_started >= SHOW_SYNCING_AFTER_S
        text, level = freshness_text(dt.datetime.now(dt.timezone.utc), c.synced_at, syncing=long_round,
                                     loading=c.loading is not None, offline=c.offline, signed_out=c.signed_out)
        ratio = self._bar.devicePixelRatioF()
        tooltip = c.last_error if (c.offline or c.signed_out) and c.last_error else self.tr(
            "When this computer's copy of the catalog was last brought up to date")
        self.freshness.set(dot_pixmap(_LEVEL_COLOURS[level], 10, ratio), text, tooltip)
        self.freshness.label.setStyleSheet(f"color: {theme.WARNING};" if level == "warning" else "")
        text, level = outbox_text(c.pending, c.attention)
        self.outbox.set(resources.svg_pixmap("check-circle" if level == "ok" else "alert-circle", 14,
                                             _LEVEL_COLOURS[level], device_ratio=ratio), text,
                        self.outbox.toolTip())
        self.outbox.label.setStyleSheet("" if level == "ok" else f"color: {_LEVEL_COLOURS[level]};")
