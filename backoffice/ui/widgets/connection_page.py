"""The page shown instead of the views while connecting, or when the database could not be opened."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.ui import theme
from backoffice.ui.context import AppContext, ConnectionState
from backoffice.ui.widgets.empty_state import Glyph


class ConnectionPage(QWidget):
    retry_requested = Signal()
    profiles_requested = Signal()
    upgrade_requested = Signal()   # back the file up and upgrade its schema, then connect again

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self.glyph = Glyph("database", diameter=96)
        self.title = QLabel()
        self.title.setObjectName("EmptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.target = QLabel()
        self.target.setObjectName("Muted")
        self.target.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.target.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.step = QLabel()
        self.step.setObjectName("EmptyText")
        self.step.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(260)
        self.error = QLabel()
        self.error.setObjectName("ErrorText")
        self.error.setWordWrap(True)
        self.error.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint = QLabel()
        self.hint.setObjectName("EmptyText")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)
        self.retry = QPushButton(self.tr("Retry"))
        self.retry.setProperty("primary", True)
        self.retry.clicked.connect(self.retry_requested)
        self.profiles = QPushButton(self.tr("Connection profiles…"))
        self.profiles.clicked.connect(self.profiles_requested)
        self.upgrade = QPushButton(self.tr("Back up and upgrade"))
        self.upgrade.setToolTip(self.tr("Copy the file to the backups folder first, then bring its schema up to "
                                        "this version of Backoffice"))
        self.upgrade.clicked.connect(self.upgrade_requested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.profiles)
        buttons.addWidget(self.retry)
        buttons.addWidget(self.upgrade)
        buttons.addStretch(1)

        card = QFrame()
        card.setObjectName("Card")
        card.setFixedWidth(560)  # a fixed width lets the wrapped labels compute their height
        column = QVBoxLayout(card)
        column.setContentsMargins(36, 32, 36, 32)
        column.setSpacing(10)
        column.addWidget(self.glyph, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addSpacing(6)
        column.addWidget(self.title)
        column.addWidget(self.target)
        column.addSpacing(6)
        column.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.step)
        column.addWidget(self.error)
        column.addWidget(self.hint)
        column.addSpacing(8)
        column.addLayout(buttons)

        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card)
        row.addStretch(1)
        outer = QVBoxLayout(self)
        outer.addStretch(2)
        outer.addLayout(row)
        outer.addStretch(3)
        context.changed.connect(self.refresh)
        self.refresh()

    def set_step(self, text: str) -> None:
        self.step.setText(text)

    def refresh(self) -> None:
        c = self._context
        failed = c.state is ConnectionState.FAILED
        self.target.setText(c.target)
        if failed:
            self.glyph.set_icon("alert-circle", theme.DANGER)
            self.title.setText(self.tr("Could not open the database"))
        elif c.state is ConnectionState.CONNECTING:
            self.glyph.set_icon("database", theme.ACCENT)
            self.title.setText(self.tr("Connecting…"))
        else:
            self.glyph.set_icon("plug", theme.TEXT_MUTED)
            self.title.setText(self.tr("Not connected"))
        self.busy.setVisible(c.state is ConnectionState.CONNECTING)
        self.step.setVisible(c.state is ConnectionState.CONNECTING)
        if c.state is not ConnectionState.CONNECTING:
            self.step.clear()
        self.error.setText(c.error)
        self.error.setVisible(failed and bool(c.error))
        self.hint.setText(c.hint)
        self.hint.setVisible(failed and bool(c.hint))
        self.retry.setVisible(c.state is not ConnectionState.CONNECTING)
        offer_upgrade = failed and c.fix == "upgrade"
        self.upgrade.setVisible(offer_upgrade)
        self.upgrade.setProperty("primary", offer_upgrade)
        self.retry.setProperty("primary", not offer_upgrade)
        for button in (self.upgrade, self.retry):
            button.style().unpolish(button)
            button.style().polish(button)
        self.profiles.setVisible(c.state is not ConnectionState.CONNECTING)
