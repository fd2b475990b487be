"""An inline message bar (info, success, warning, error) that the user can dismiss.

A message stays until dismissed unless it is shown with ``timeout_ms``: then an info or success message
(a transient result: "Saved", "Mailed 12 alerts") hides itself after that long; the countdown runs only
while the bar is on screen (it pauses while its page is hidden). Errors and warnings always stay until
dismissed, whatever timeout is passed: they describe a state the user has to see. ``TRANSIENT_MS`` is the
usual timeout; :meth:`MessageBanner.flash` shows a message with it.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from backoffice.ui import resources, theme

_LEVELS = {
    "info": ("info", theme.ACCENT),
    "success": ("check-circle", theme.SUCCESS),
    "warning": ("alert-circle", theme.WARNING),
    "error": ("alert-circle", theme.DANGER),
}
TRANSIENT_LEVELS = frozenset({"info", "success"})  # only these may hide by themselves
TRANSIENT_MS = 6000


class MessageBanner(QFrame):
    dismissed = Signal()  # hidden by the close button or by its timeout

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.level = ""
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = close = QToolButton()
        close.setIcon(resources.icon("close", theme.TEXT_MUTED))
        close.setIconSize(QSize(14, 14))
        close.setAutoRaise(True)
        close.setToolTip(self.tr("Dismiss"))
        close.clicked.connect(self.dismiss)
        self.hide_timer = QTimer(self)
        self.hide_timer.setSingleShot(True)
        self.hide_timer.timeout.connect(self.dismiss)
        self._timeout_ms = 0
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.setSpacing(10)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.text, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, level: str = "info", timeout_ms: int | None = None) -> None:
        """Show ``text``; with ``timeout_ms`` (> 0) an info or success message hides itself after that
        long. Without it, or for a warning or an error, the message stays until dismissed or replaced."""
        icon_name, colour = _LEVELS.get(level, _LEVELS["info"])
        self.level = level if level in _LEVELS else "info"
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.icon.setPixmap(resources.svg_pixmap(icon_name, 18, colour, device_ratio=self.devicePixelRatioF()))
        self.text.setText(text)
        self.hide_timer.stop()
        self._timeout_ms = int(timeout_ms) if timeout_ms and self.level in TRANSIENT_LEVELS else 0
        if self._timeout_ms > 0:
            self.hide_timer.start(self._timeout_ms)
        self.show()

    def flash(self, text: str, level: str = "success") -> None:
        """A transient result: shown for ``TRANSIENT_MS`` (an error or warning still stays)."""
        self.show_message(text, level, TRANSIENT_MS)

    def is_transient(self) -> bool:
        """True while the message shown will hide by itself."""
        return self._timeout_ms > 0 and not self.isHidden()

    def dismiss(self) -> None:
        self.hide_timer.stop()
        self._timeout_ms = 0
        was_shown = not self.isHidden()
        self.hide()
        if was_shown:
            self.dismissed.emit()

    def showEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().showEvent(event)
        if self._timeout_ms > 0 and not self.hide_timer.isActive():
            self.hide_timer.start(self._timeout_ms)  # back on screen (its page was hidden): count again

    def hideEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        self.hide_timer.stop()  # also when its page is hidden: the countdown runs only while it can be read
        super().hideEvent(event)
