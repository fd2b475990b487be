"""A centred empty state: a large glyph in a soft disc, a title, a few lines of text, an optional action.

While something is filling the store (the demo store being built), :meth:`EmptyState.set_busy` shows
that instead, with its progress; :meth:`EmptyState.clear_busy` brings back what the view last set."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from backoffice.ui import resources, theme


class Glyph(QWidget):
    """An icon centred in two concentric tinted discs: an illustration without an illustrator."""

    def __init__(self, icon_name: str, *, diameter: int = 104, color: str = theme.ACCENT,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._icon_name = icon_name
        self._color = color
        self._diameter = diameter
        self.setFixedSize(QSize(diameter, diameter))

    def set_icon(self, icon_name: str, color: str | None = None) -> None:
        self._icon_name = icon_name
        if color:
            self._color = color
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        outer = QColor(self._color)
        outer.setAlpha(22)
        painter.setBrush(outer)
        d = float(self._diameter)
        painter.drawEllipse(QRectF(0, 0, d, d))
        inner = QColor(self._color)
        inner.setAlpha(38)
        painter.setBrush(inner)
        margin = d * 0.14
        painter.drawEllipse(QRectF(margin, margin, d - 2 * margin, d - 2 * margin))
        size = int(d * 0.40)
        pixmap = resources.svg_pixmap(self._icon_name, size, self._color, device_ratio=self.devicePixelRatioF())
        painter.drawPixmap(int((d - size) / 2), int((d - size) / 2), pixmap)
        painter.end()


class EmptyState(QWidget):
    """What a page shows when there is nothing to show yet, and what will be there."""

    def __init__(self, icon_name: str, title: str, text: str = "", *, bullets: Sequence[str] = (),
                 badge: str = "", action_text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.glyph = Glyph(icon_name)
        self.badge = QLabel(badge)
        self.badge.setObjectName("Badge")
        self.badge.setVisible(bool(badge))
        self.title = QLabel(title)
        self.title.setObjectName("EmptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel(text)
        self.text.setObjectName("EmptyText")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        self.text.setVisible(bool(text))
        self.action = QPushButton(action_text)
        self.action.setProperty("primary", True)
        self.action.setVisible(bool(action_text))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(320)
        self.progress.hide()
        self._action_box = QWidget()  # hidden while busy, whatever the view does with the action itself
        action_layout = QHBoxLayout(self._action_box)
        action_layout.setContentsMargins(0, 0, 0, 0)
        action_layout.addWidget(self.action)
        self._busy = False
        self._idle_text = (title, text)

        column = QVBoxLayout()
        column.setSpacing(10)
        column.addWidget(self.glyph, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addSpacing(8)
        column.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.title)
        column.addWidget(self.text)
        self._bullets = QVBoxLayout()
        self._bullets.setSpacing(6)
        bullet_box = QHBoxLayout()
        bullet_box.addStretch(1)
        bullet_box.addLayout(self._bullets)
        bullet_box.addStretch(1)
        column.addSpacing(4)
        column.addLayout(bullet_box)
        column.addSpacing(6)
        column.addWidget(self.progress, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self._action_box, 0, Qt.AlignmentFlag.AlignHCenter)
        self.set_bullets(bullets)

        holder = QWidget()
        holder.setLayout(column)
        holder.setMaximumWidth(560)
        holder.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(32, 32, 32, 48)
        outer.addStretch(2)
        outer.addWidget(holder, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(3)

    def set_bullets(self, bullets: Sequence[str]) -> None:
        while self._bullets.count():
            item = self._bullets.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        for line in bullets:
            row = QHBoxLayout()
            row.setSpacing(8)
            tick = QLabel()
            tick.setPixmap(resources.svg_pixmap("check-circle", 16, theme.ACCENT, device_ratio=self.devicePixelRatioF()))
            tick.setAlignment(Qt.AlignmentFlag.AlignTop)
            label = QLabel(line)
            label.setObjectName("EmptyBullet")
            row.addWidget(tick, 0, Qt.AlignmentFlag.AlignTop)
            row.addWidget(label, 1)
            box = QWidget()
            box.setLayout(row)
            row.setContentsMargins(0, 0, 0, 0)
            self._bullets.addWidget(box)

    def set_text(self, title: str, text: str = "") -> None:
        self._idle_text = (title, text)
        if not self._busy:
            self._show_text(title, text)

    def _show_text(self, title: str, text: str) -> None:
        self.title.setText(title)
        self.text.setText(text)
        self.text.setVisible(bool(text))

    # -- busy: the store is being filled ---------------------------------------------------------------
    def is_busy(self) -> bool:
        return self._busy

    def set_busy(self, title: str, text: str = "", fraction: float | None = None) -> None:
        """Say what is being done instead of "empty" (the action and bullets hidden), with its progress
        (``fraction`` 0..1; None: unknown, a moving bar)."""
        self._busy = True
        self._show_text(title, text)
        self._action_box.hide()
        self._set_bullets_visible(False)
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
        self.progress.show()

    def clear_busy(self) -> None:
        if not self._busy:
            return
        self._busy = False
        self.progress.hide()
        self._action_box.show()
        self._set_bullets_visible(True)
        self._show_text(*self._idle_text)

    def _set_bullets_visible(self, visible: bool) -> None:
        for i in range(self._bullets.count()):
            widget = self._bullets.itemAt(i).widget()
            if widget is not None:
                widget.setVisible(visible)
