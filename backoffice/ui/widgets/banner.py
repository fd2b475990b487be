"""An inline message bar (info, success, warning, error) that the user can dismiss."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from backoffice.ui import resources, theme

_LEVELS = {
    "info": ("info", theme.ACCENT),
    "success": ("check-circle", theme.SUCCESS),
    "warning": ("alert-circle", theme.WARNING),
    "error": ("alert-circle", theme.DANGER),
}


class MessageBanner(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Banner")
        self.icon = QLabel()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setIcon(resources.icon("close", theme.TEXT_MUTED))
        close.setIconSize(QSize(14, 14))
        close.setAutoRaise(True)
        close.setToolTip(self.tr("Dismiss"))
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.setSpacing(10)
        layout.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.text, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, text: str, level: str = "info") -> None:
        icon_name, colour = _LEVELS.get(level, _LEVELS["info"])
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.icon.setPixmap(resources.svg_pixmap(icon_name, 18, colour, device_ratio=self.devicePixelRatioF()))
        self.text.setText(text)
        self.show()
