"""Rendering a view of the main window to a PNG without a display (``backoffice screenshot``).

The window is built on the given operations (a database and the user acting on it), switched to the view, given time to finish its
background load (bounded by a timeout), then grabbed at exactly the requested size.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import (
    QCoreApplication,
    QDeadlineTimer,
    QEvent,
    QEventLoop,
    QPoint,
    QRect,
    Qt,
)
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QWidget

from backoffice.operations import Operations
from backoffice.ui.views import DEFAULT_VIEW, VIEW_KEYS

VIEW_NAMES: tuple[str, ...] = (*VIEW_KEYS, "shell", "profiles", "lock", "connected")
_OVER_DEFAULT_VIEW = ("shell", "profiles", "lock", "connected")
LOAD_TIMEOUT_MS = 20_000


def _process_events(ms: int = 50) -> None:
    deadline = QDeadlineTimer(ms)
    while not deadline.hasExpired():
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)


def render_view_to_file(ops: Operations, view: str, path: Path, *, width: int = 1280, height: int = 800,
                        profile_name: str = "") -> None:
    """Save a PNG of ``view`` (one of VIEW_NAMES) as the user of ``ops`` would see it.

    "shell" is the main window on its default view; "profiles" is the connection profiles dialog over
    it; "lock" is the window locked; "connected" is the "Who is connected" dialog over it (an admin's). Raises ValueError for an unknown view and OSError if the file cannot be written.
    """
    if view not in VIEW_NAMES:
        raise ValueError(f"unknown view {view!r}; valid views: {', '.join(VIEW_NAMES)}")
    if width < 1 or height < 1:
        raise ValueError(f"invalid size {width}x{height}")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from backoffice.config import ProfileStore
    from backoffice.secrets import SecretStore
    from backoffice.ui.app import create_application
    from backoffice.ui.context import AppContext
    from backoffice.ui.main_window import MainWindow
    from backoffice.ui.startup import display_name_of
    from backoffice.ui.tasks import TaskManager

    app = create_application()
    context = AppContext(profile_name=profile_name)
    context.set_connected(ops, display_name_of(ops))   # an offscreen render: waiting here is fine
    tasks = TaskManager()
    window = MainWindow(context, tasks, settings=None, profiles=ProfileStore(), secrets=SecretStore())
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    try:
        window.setMinimumSize(1, 1)
        window.resize(width, height)
        window.show()
        window.show_view(DEFAULT_VIEW if view in _OVER_DEFAULT_VIEW else view)
        _wait_until_loaded(window, tasks)
        if view == "lock":
            window.lock()
            _process_events(100)
        pixmap = window.grab()
        if view == "profiles":
            window.open_profiles()
            dialog = window.profiles_dialog
            assert dialog is not None
            dialog.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            _process_events(100)
            pixmap = _over_window(pixmap, dialog)
            dialog.reject()
        if view == "connected":
            from backoffice.ui.dialogs.session_menu import open_connected

            dialog = open_connected(window)
            if dialog is None:
                raise ValueError("only an admin sees who is connected")
            dialog.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            tasks.wait_idle(LOAD_TIMEOUT_MS)
            _process_events(100)
            pixmap = _over_window(pixmap, dialog)
            dialog.reject()
        if pixmap.size().width() != width or pixmap.size().height() != height:
            pixmap = _fit(pixmap, width, height)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not pixmap.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
    finally:
        window.close()
        tasks.shutdown()
        window.deleteLater()
        tasks.deleteLater()
        # Outside an event loop deleteLater alone never deletes: the window (with its views, timers and
        # filters) would outlive the render and slow every later one in the same process.
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()


def _wait_until_loaded(window: QWidget, tasks) -> None:  # type: ignore[no-untyped-def]
    deadline = QDeadlineTimer(LOAD_TIMEOUT_MS)
    _process_events(50)
    while not deadline.hasExpired():
        view = window.current_view()  # type: ignore[attr-defined]
        if tasks.pending == 0 and not view.is_loading():
            break
        tasks.wait_idle(min(200, max(1, deadline.remainingTime())))
    _process_events(150)  # layouts, deferred paints, fetchMore of a viewport not yet full


def _over_window(background: QPixmap, dialog: QWidget) -> QPixmap:
    """The dialog centred over the dimmed window, as a user would see it."""
    result = QPixmap(background)
    painter = QPainter(result)
    painter.fillRect(result.rect(), QColor(17, 24, 39, 90))
    shot = dialog.grab()
    top_left = QPoint((result.width() - shot.width()) // 2, max(0, (result.height() - shot.height()) // 2))
    painter.setPen(Qt.PenStyle.NoPen)
    for spread, alpha in ((8, 12), (5, 18), (2, 30)):
        painter.setBrush(QColor(0, 0, 0, alpha))
        painter.drawRoundedRect(QRect(top_left, shot.size()).adjusted(-spread, -spread + 2, spread, spread + 2), 10, 10)
    painter.drawPixmap(top_left, shot)
    painter.setPen(QColor("#cfd5dc"))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(QRect(top_left, shot.size()).adjusted(0, 0, -1, -1))
    painter.end()
    return result


def _fit(pixmap: QPixmap, width: int, height: int) -> QPixmap:
    """Crop or pad to the exact size asked for (a window may refuse to become smaller than its layout)."""
    result = QPixmap(width, height)
    result.fill(QColor("#f5f6f8"))
    painter = QPainter(result)
    painter.drawPixmap(0, 0, pixmap)
    painter.end()
    return result
