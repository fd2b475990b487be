"""Locking the main window: an overlay over everything the window shows until the signed-in person gives
their password again, and the idle timer that locks the window after a while without input.

The overlay only covers: the views underneath, with their selections, scroll positions and staged edits,
stay exactly as they were, and unlocking removes it. While locked the menus are disabled, no shortcut of
the window acts, the window's open dialogs are hidden (and shown again on unlock) and the keyboard focus
stays in the overlay. The password is checked by ``ops.verify_password`` in the background.

A dialog waiting in a nested event loop (an application-modal question) cannot be hidden without
answering it, so the idle lock waits until it is closed.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, translator
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.empty_state import Glyph

tr = translator("Lock")

CARD_WIDTH = 440
IDLE_LOCK_KEY = "security/idle_lock_minutes"
DEFAULT_IDLE_MINUTES = 15
MAX_IDLE_MINUTES = 24 * 60

# What counts as someone at the keyboard: any key, click, wheel turn, touch or pointer movement.
_INPUT_EVENTS = frozenset({
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick, QEvent.Type.MouseMove,
    QEvent.Type.HoverMove, QEvent.Type.Wheel, QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate,
    QEvent.Type.TabletPress,
})


def idle_minutes(settings: QSettings | None) -> int:
    """The idle time before the window locks, from the settings (0: never)."""
    if settings is None:
        return DEFAULT_IDLE_MINUTES
    try:
        minutes = int(settings.value(IDLE_LOCK_KEY, DEFAULT_IDLE_MINUTES))
    except (TypeError, ValueError):
        return DEFAULT_IDLE_MINUTES
    return max(0, min(MAX_IDLE_MINUTES, minutes))


class IdleLock(QObject):
    """Emits :attr:`idle` after ``timeout_ms`` without keyboard, mouse or touch input anywhere in the
    application, while armed (the window is open, connected and not locked). An application-wide event
    filter, installed only while it counts, restarts the timer on every input; 0 never fires."""

    idle = Signal()

    def __init__(self, minutes: int = DEFAULT_IDLE_MINUTES, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timeout_ms = max(0, minutes) * 60_000
        self._armed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.idle)
        self._filtering = False

    @property
    def timeout_ms(self) -> int:
        return self._timeout_ms

    @property
    def armed(self) -> bool:
        return self._armed

    def is_counting(self) -> bool:
        return self._timer.isActive()

    def set_minutes(self, minutes: int) -> None:
        self.set_timeout_ms(max(0, minutes) * 60_000)

    def set_timeout_ms(self, timeout_ms: int) -> None:
        self._timeout_ms = max(0, int(timeout_ms))
        self.restart()

    def set_armed(self, armed: bool) -> None:
        self._armed = armed
        self.restart()

    def restart(self) -> None:
        """Count the idle time again from now (or stop counting when disarmed or disabled)."""
        counting = self._armed and self._timeout_ms > 0
        self._filter_input(counting)
        if counting:
            self._timer.start(self._timeout_ms)
        else:
            self._timer.stop()

    def _filter_input(self, on: bool) -> None:
        app = QApplication.instance()
        if app is None or on == self._filtering:
            return
        if on:
            app.installEventFilter(self)
        else:
            app.removeEventFilter(self)
        self._filtering = on

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._armed and event.type() in _INPUT_EVENTS:
            self._timer.start()
        return False


class LockOverlay(QWidget):
    """What a locked window shows: who it is locked for, a password field, Unlock and "Switch user…"."""

    unlock_requested = Signal(str)
    switch_user_requested = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("LockOverlay")
        self.setAutoFillBackground(False)
        self.card = card = QFrame()
        card.setObjectName("Card")
        card.setFixedWidth(CARD_WIDTH)
        self.glyph = Glyph("user", diameter=72, color=theme.ACCENT)
        self.title = QLabel()
        self.title.setObjectName("EmptyTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setWordWrap(True)
        self.hint = QLabel(tr("Enter your password to unlock. Everything stays as you left it."))
        self.hint.setObjectName("Muted")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(tr("Password"))
        self.password.returnPressed.connect(self.submit)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.error.setStyleSheet(f"color: {theme.DANGER};")
        self.error.hide()
        self.unlock_button = QPushButton(tr("Unlock"))
        self.unlock_button.setProperty("primary", True)
        self.unlock_button.setDefault(True)
        self.unlock_button.clicked.connect(self.submit)
        self.switch_link = QPushButton(tr("Switch user…"))
        self.switch_link.setObjectName("LockSwitchLink")
        self.switch_link.setFlat(True)
        self.switch_link.setCursor(Qt.CursorShape.PointingHandCursor)
        self.switch_link.setStyleSheet(
            f"#LockSwitchLink {{ border: none; background: transparent; color: {theme.ACCENT}; padding: 2px 4px; }}"
            f"#LockSwitchLink:hover {{ text-decoration: underline; }}"
            f"#LockSwitchLink:disabled {{ color: {theme.TEXT_DISABLED}; }}")
        self.switch_link.clicked.connect(self.switch_user_requested)
        self._switch_available = True

        column = QVBoxLayout(card)
        column.setContentsMargins(32, 28, 32, 24)
        column.setSpacing(10)
        column.addWidget(self.glyph, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addSpacing(4)
        column.addWidget(self.title)
        column.addWidget(self.hint)
        column.addSpacing(6)
        column.addWidget(self.password)
        column.addWidget(self.error)
        column.addWidget(self.unlock_button)
        links = QHBoxLayout()
        links.addStretch(1)
        links.addWidget(self.switch_link)
        links.addStretch(1)
        column.addLayout(links)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 24, 24, 48)
        outer.addStretch(2)
        outer.addWidget(card, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(3)
        self.hide()

    def set_person(self, name: str, role: str) -> None:
        self.title.setText(tr("Locked — {name} ({role})").format(name=name, role=role) if role
                           else tr("Locked — {name}").format(name=name))
        self._fit_card()

    def _fit_card(self) -> None:
        """The card's height for its wrapped lines at its own width (a centred box layout would measure
        them at the overlay's whole width, and a long name would run over the picture)."""
        self.card.setFixedHeight(self.card.layout().totalHeightForWidth(CARD_WIDTH))

    def set_switch_available(self, available: bool, reason: str = "") -> None:
        self._switch_available = available
        self.switch_link.setEnabled(available and self.unlock_button.isEnabled())
        self.switch_link.setToolTip("" if available else reason)

    def submit(self) -> None:
        if self.unlock_button.isEnabled():
            self.unlock_requested.emit(self.password.text())

    def set_busy(self, busy: bool) -> None:
        for widget in (self.password, self.unlock_button):
            widget.setEnabled(not busy)
        self.switch_link.setEnabled(self._switch_available and not busy)
        self.unlock_button.setText(tr("Checking…") if busy else tr("Unlock"))
        if busy:
            self.error.hide()

    def show_error(self, message: str) -> None:
        """A refusal: said under the field, which is cleared for the next try."""
        self.set_busy(False)
        self.error.setText(message)
        self.error.show()
        self._fit_card()
        self.password.clear()
        self.password.setFocus()

    def reset(self) -> None:
        self.set_busy(False)
        self.error.clear()
        self.error.hide()
        self._fit_card()
        self.password.clear()

    def paintEvent(self, event: QPaintEvent) -> None:
        # Opaque: nothing of the window shows through while it is locked.
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        painter.end()

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: A002 - Qt's name
        """Tab moves among the overlay's own fields only, never to the widgets it covers."""
        chain = [w for w in (self.password, self.unlock_button, self.switch_link) if w.isEnabled() and w.isVisible()]
        if not chain:
            return True
        current = QApplication.focusWidget()
        position = chain.index(current) if current in chain else -1
        chain[(position + (1 if next else -1)) % len(chain)].setFocus(
            Qt.FocusReason.TabFocusReason if next else Qt.FocusReason.BacktabFocusReason)
        return True


class WindowLock(QObject):
    """Locks and unlocks one main window for the person signed in to its context."""

    locked_changed = Signal(bool)
    switch_user_requested = Signal()

    def __init__(self, window: QMainWindow, context: AppContext, tasks: TaskManager) -> None:
        super().__init__(window)
        self._window = window
        self.context = context
        self.runner = Runner(context, tasks, self)
        self._covered = window.centralWidget()
        self.overlay = LockOverlay(self._covered)
        self.overlay.unlock_requested.connect(self.unlock)
        self.overlay.switch_user_requested.connect(self.switch_user_requested)
        self._covered.installEventFilter(self)
        self._locked = False
        self._hidden: list[QWidget] = []
        self._focus: QWidget | None = None
        context.changed.connect(self._on_context_changed)

    @property
    def locked(self) -> bool:
        return self._locked

    def can_lock(self) -> bool:
        """Only a signed-in window locks; and not under a question waiting in a nested event loop."""
        if not self.context.connected or self.context.actor is None:
            return False
        modal = QApplication.activeModalWidget()
        return modal is None or modal.windowModality() != Qt.WindowModality.ApplicationModal

    def lock(self) -> bool:
        """Cover the window (True), or nothing when it cannot be locked now or already is (False)."""
        if self._locked or not self.can_lock():
            return False
        focus = QApplication.focusWidget()
        self._focus = focus if focus is not None and self._belongs(focus) else None
        self._close_transients()
        self._hidden = [w for w in QApplication.topLevelWidgets()
                        if w is not self._window and w.isVisible() and self._belongs(w)]
        for widget in self._hidden:
            if isinstance(widget, QDialog):
                widget.finished.connect(self._hidden_dialog_finished)
            widget.hide()
        self.overlay.set_person(self.context.display_name or self.context.actor.username,
                                self.context.role_label())
        self.overlay.set_switch_available(not self.context.personal_file,
                                          tr("A personal database file has one owner"))
        self.overlay.reset()
        self.overlay.setGeometry(self._covered.rect())
        self.overlay.show()
        self.overlay.raise_()
        self._window.menuBar().setEnabled(False)
        QApplication.instance().installEventFilter(self)
        self._locked = True
        self.overlay.password.setFocus(Qt.FocusReason.OtherFocusReason)
        self.locked_changed.emit(True)
        return True

    def unlock(self, password: str) -> None:
        """Check ``password`` in the background; the overlay goes only when it is the person's."""
        if not self._locked or self.runner.busy:
            return
        self.overlay.set_busy(True)
        if not self.runner.read(lambda ops: ops.verify_password(password), self._on_verified,
                                on_error=self._on_verify_failed):
            self.release()   # no longer connected: nobody's session is left to protect

    def _on_verified(self, accepted: bool) -> None:
        if not self._locked:
            return
        if accepted:
            self.release()
        else:
            self.overlay.show_error(tr("Wrong password. The window stays locked."))

    def _on_verify_failed(self, exc: BaseException) -> None:
        if self._locked:
            self.overlay.show_error(tr("The password could not be checked: {error}").format(error=error_text(exc)))

    def release(self) -> None:
        """Remove the overlay and give everything back as it was (dialogs shown again, focus restored)."""
        if not self._locked:
            return
        QApplication.instance().removeEventFilter(self)
        self._locked = False
        self.overlay.hide()
        self.overlay.reset()
        self._window.menuBar().setEnabled(True)
        hidden, self._hidden = self._hidden, []
        for widget in hidden:
            if not shiboken6.isValid(widget):
                continue
            if isinstance(widget, QDialog):
                widget.finished.disconnect(self._hidden_dialog_finished)
            widget.show()
        focus, self._focus = self._focus, None
        if focus is not None and shiboken6.isValid(focus) and focus.isVisible():
            focus.setFocus(Qt.FocusReason.OtherFocusReason)
        self.locked_changed.emit(False)

    def _hidden_dialog_finished(self) -> None:
        """A dialog hidden by the lock was closed meanwhile (its work ended): it is not shown again."""
        dialog = self.sender()
        if dialog in self._hidden:
            self._hidden.remove(dialog)
            dialog.finished.disconnect(self._hidden_dialog_finished)

    def stand_down(self) -> None:
        """The window is closing: stop watching the application's shortcuts, show nothing again."""
        if self._locked:
            QApplication.instance().removeEventFilter(self)
            self._locked = False
            self._hidden = []

    def _on_context_changed(self) -> None:
        if self._locked and (not self.context.connected or self.context.actor is None):
            self.release()   # signed out (switching user): the lock protected a session that is gone

    # -- what belongs to the window ------------------------------------------------------------------
    def _belongs(self, widget: QWidget) -> bool:
        """True for the window itself and its widgets and dialogs (at any depth)."""
        current: QObject | None = widget
        while current is not None:
            if current is self._window:
                return True
            current = current.parent()
        return False

    def _close_transients(self) -> None:
        """Menus and tooltips open at lock time go: they would float over the overlay."""
        QToolTip.hideText()
        for _ in range(8):
            popup = QApplication.activePopupWidget()
            if popup is None:
                break
            popup.close()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._covered and event.type() == QEvent.Type.Resize:
            self.overlay.setGeometry(self._covered.rect())
            return False
        if self._locked and event.type() == QEvent.Type.Shortcut and self._belongs_to_window_not_overlay(watched):
            return True   # no shortcut of the covered window acts while it is locked
        return False

    def _belongs_to_window_not_overlay(self, target: QObject) -> bool:
        current: QObject | None = target
        while current is not None:
            if current is self.overlay:
                return False
            if current is self._window:
                return True
            current = current.parent()
        return False
