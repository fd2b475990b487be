"""Starting the GUI: the application object, the theme, the main window, and connecting in the background.

The window appears at once in a "connecting…" state; the database is opened by a background job (see
``startup``), so a slow or unreachable server never freezes it. On exit, running jobs are cancelled,
open password prompts answered with "no", the worker pool drained and the engine disposed.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from backoffice import __version__
from backoffice.config import Profile, ProfileStore
from backoffice.secrets import SecretStore
from backoffice.ui.context import AppContext
from backoffice.ui.dialogs.password import PasswordPrompter
from backoffice.ui.main_window import MainWindow
from backoffice.ui.settings import APPLICATION, ORGANIZATION, app_settings
from backoffice.ui.startup import Connector, ConnectTarget
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.resources import apply_theme

log = logging.getLogger(__name__)


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (the existing one if any), named and themed."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv if argv is not None else sys.argv[:1]))
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    # No application display name: the platform would append it to every window title, and the main
    # window's title already reads "Backoffice — <profile or database>".
    app.setApplicationVersion(__version__)
    apply_theme(app)
    return app


@dataclass
class Gui:
    """Everything one running window is made of (returned by :func:`start_gui`, for tests and run_gui)."""

    app: QApplication
    context: AppContext
    tasks: TaskManager
    window: MainWindow
    connector: Connector
    prompter: PasswordPrompter

    def shutdown(self) -> None:
        """Answer open prompts, cancel and drain background work, close the database (idempotent)."""
        self.prompter.cancel_all()
        self.tasks.shutdown()
        self.window.sync.shutdown()
        if self.context.ops is not None:
            self.context.ops.close()


def start_gui(*, db_url: str, profile: Profile | None = None, username: str | None = None,
              demo_products: int | None = None, settings: QSettings | None = None,
              secrets: SecretStore | None = None, profiles: ProfileStore | None = None) -> Gui:
    """Create the application, show the main window and start connecting; does not run the event loop."""
    app = create_application()
    secrets = secrets or SecretStore()
    profiles = profiles or ProfileStore()
    context = AppContext()
    tasks = TaskManager(app)
    window = MainWindow(context, tasks, settings=settings if settings is not None else app_settings(),
                        profiles=profiles, secrets=secrets)
    prompter = PasswordPrompter(window)
    connector = Connector(context, tasks, secrets=secrets, prompt=prompter, notify=window.show_message,
                          settings=window.settings, parent=window)

    def follow_attempt(state: TaskState) -> None:
        window.connection_page.set_step(state.status)
        state.status_changed.connect(window.connection_page.set_step)

    connector.attempt_started.connect(follow_attempt)
    connector.demo_started.connect(window.follow_demo)
    connector.demo_finished.connect(window.demo_finished)
    window.retry_requested.connect(connector.retry)
    window.upgrade_requested.connect(connector.back_up_and_upgrade)
    window.switch_user_requested.connect(connector.switch_user)
    window.connect_requested.connect(
        lambda p: connector.connect_to(ConnectTarget(p.url, profile=p, username=p.username or username))
    )
    window.show()
    connector.connect_to(ConnectTarget(db_url, profile=profile, username=username, demo_products=demo_products))
    return Gui(app, context, tasks, window, connector, prompter)


def run_gui(*, db_url: str, profile: Profile | None, username: str | None, demo_products: int | None) -> int:
    """The ``backoffice`` command without a subcommand: run the desktop application until it quits."""
    gui = start_gui(db_url=db_url, profile=profile, username=username, demo_products=demo_products)
    gui.app.aboutToQuit.connect(gui.shutdown)
    previous_handler = signal.getsignal(signal.SIGINT)
    timer = _quit_on_sigint(gui.app)
    try:
        return gui.app.exec()
    finally:
        timer.stop()
        signal.signal(signal.SIGINT, previous_handler)
        gui.app.aboutToQuit.disconnect(gui.shutdown)
        gui.shutdown()
        gui.window.deleteLater()


def _quit_on_sigint(app: QApplication) -> QTimer:
    """Ctrl+C in the terminal closes the window (Python only sees signals between Qt events, hence
    the idle timer that lets the interpreter run now and then)."""
    signal.signal(signal.SIGINT, lambda *_: app.closeAllWindows())
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return timer
