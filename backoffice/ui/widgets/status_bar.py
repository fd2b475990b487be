"""The permanent part of the status bar: profile, acting user, connection state."""

from __future__ import annotations

from PySide6.QtCore import QObject, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QStatusBar, QWidget

from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext, ConnectionState

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
