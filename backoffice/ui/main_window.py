"""The main window: navigation and a stack of views, nothing else.

It builds no view's content: each view is a ViewPage from ``backoffice.ui.views`` that loads its own data
in the background. The window switches between them (sidebar, View menu, Ctrl+1..Ctrl+9, Ctrl+0 for the
tenth), shows the
connection page until the database is open, and remembers its geometry and last view in QSettings. It
locks (File → Lock, or after a while without input: ``ui/lock.py``) and asks for someone else to sign
in (File → Switch user…, carried out by whoever connects it: :attr:`MainWindow.switch_user_requested`).
Connected through the store API, it keeps the profile's local copy current (``ui/sync.py``), shows how
fresh it is and what waits to be sent in the status bar, and lists those changes on a click.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QByteArray,
    QCoreApplication,
    QEvent,
    QSettings,
    Qt,
    Signal,
    qVersion,
)
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from backoffice import __version__
from backoffice.config import ProfileStore
from backoffice.secrets import SecretStore
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext, ConnectionState
from backoffice.ui.dialogs.maintenance_menu import install_maintenance_menu
from backoffice.ui.dialogs.session_menu import install_session_menu, request_switch_user
from backoffice.ui.lock import IdleLock, WindowLock, idle_minutes
from backoffice.ui.order_processing import OrderProcessing
from backoffice.ui.price_event_runs import PriceEventRuns
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views import DEFAULT_VIEW, SECTIONS, VIEW_CLASSES, ViewPage
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.connection_page import ConnectionPage
from backoffice.ui.widgets.empty_state import EmptyState
from backoffice.ui.widgets.progress import ProgressPanel
from backoffice.ui.widgets.sidebar import Sidebar
from backoffice.ui.sync import SyncController
from backoffice.ui.widgets.status_bar import SessionStatus, SyncStatus

DEFAULT_SIZE = (1280, 800)


class MainWindow(QMainWindow):
    retry_requested = Signal()
    connect_requested = Signal(object)  # a Profile chosen in the profiles dialog
    switch_user_requested = Signal()    # someone else is to sign in to the same shared database
    view_changed = Signal(str)
    upgrade_requested = Signal()   # the connection page's "Back up and upgrade" (an SQLite file of an older schema)

    def __init__(self, context: AppContext, tasks: TaskManager, *, settings: QSettings | None = None,
                 profiles: ProfileStore | None = None, secrets: SecretStore | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.settings = context, tasks, settings
        self._profiles, self._secrets = profiles, secrets
        self.profiles_dialog = None
        self.pending_dialog = None
        self.setWindowIcon(resources.app_icon())
        self.setMinimumSize(760, 480)

        self.sidebar = Sidebar()
        self.pages = QStackedWidget()
        self.connection_page = ConnectionPage(context)
        self.connection_page.retry_requested.connect(self.retry_requested)
        self.connection_page.upgrade_requested.connect(self.upgrade_requested)
        self.connection_page.profiles_requested.connect(self.open_profiles)
        self.pages.addWidget(self.connection_page)
        self.no_access = EmptyState("user", "", "")
        self.pages.addWidget(self.no_access)
        self.views: dict[str, ViewPage] = {}
        for section, classes in SECTIONS:
            self.sidebar.add_section(QCoreApplication.translate("Views", section))
            for cls in classes:
                view = cls(context, tasks)
                self.views[cls.key] = view
                view.badge_changed.connect(lambda n, key=cls.key: self.sidebar.set_badge(key, n))
                self.pages.addWidget(view)
                self.sidebar.add_item(cls.key, cls.title(), resources.icon(cls.icon_name, theme.TEXT_MUTED, theme.ACCENT),
                                      cls.description())
        self.banner = MessageBanner()
        self.progress = ProgressPanel(tasks)

        banner_box = QVBoxLayout()
        banner_box.setContentsMargins(24, 12, 24, 0)
        banner_box.addWidget(self.banner)
        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.setSpacing(0)
        content_layout.addLayout(banner_box)
        content_layout.addWidget(self.pages, 1)
        content_layout.addWidget(self.progress)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(content, 1)
        self.setCentralWidget(central)
        self.window_lock = WindowLock(self, context, tasks)
        self.window_lock.locked_changed.connect(self._follow_lock)
        self.window_lock.switch_user_requested.connect(lambda: request_switch_user(self))
        self.idle_lock = IdleLock(idle_minutes(settings), self)
        self.idle_lock.idle.connect(self._on_idle)

        self._build_menus()
        self.session_status = SessionStatus(context, self.statusBar())
        self.sync = SyncController(context, tasks, settings=settings, notify=self.show_message, parent=self)
        self.sync_status = SyncStatus(self.sync, self.statusBar())
        self.sync_status.outbox_clicked.connect(self.open_pending_changes)
        self.sync.state_changed.connect(self._follow_sync)
        self._follow_sync()
        # New orders are reserved while the window is open (from its first showing, then every minute).
        self.order_processing = OrderProcessing(context, tasks, notify=lambda text: self.statusBar().showMessage(
            text, 10_000), parent=self)
        # Price events start and end while the window is open too (the OS scheduler runs the same).
        self.price_event_runs = PriceEventRuns(context, tasks, notify=lambda text: self.statusBar().showMessage(
            text, 10_000), parent=self)
        self.statusBar().setSizeGripEnabled(False)

        self._current = DEFAULT_VIEW
        self.sidebar.current_changed.connect(self._on_sidebar)
        context.changed.connect(self._on_context_changed)
        self._restore_settings()
        self._on_context_changed()

    # -- menus ------------------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu(self.tr("&File"))
        self.profiles_action = file_menu.addAction(resources.icon("server", theme.TEXT), self.tr("Connection &profiles…"))
        self.profiles_action.triggered.connect(self.open_profiles)
        self.sync_action = file_menu.addAction(resources.icon("refresh", theme.TEXT), self.tr("&Sync now"))
        self.sync_action.setShortcut(QKeySequence("Shift+F5"))
        self.sync_action.setToolTip(self.tr("Send the changes waiting and bring this computer's copy up to date"))
        self.sync_action.triggered.connect(lambda: self.sync.sync_now())
        self.pending_action = file_menu.addAction(self.tr("Pending &changes…"))
        self.pending_action.triggered.connect(self.open_pending_changes)
        file_menu.addSeparator()
        install_session_menu(self, file_menu)  # Switch user…, Lock, Lock settings…, Who is connected…
        file_menu.addSeparator()
        install_maintenance_menu(self, file_menu)  # Back up and restore…, Scheduled work…
        file_menu.addSeparator()
        self.quit_action = file_menu.addAction(self.tr("&Quit"))
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)

        view_menu = self.menuBar().addMenu(self.tr("&View"))
        self.view_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        group.setExclusive(True)
        for number, cls in enumerate(VIEW_CLASSES, start=1):
            action = view_menu.addAction(resources.icon(cls.icon_name, theme.TEXT), cls.title())
            action.setCheckable(True)
            if number <= 10:   # Ctrl+1 … Ctrl+9, then Ctrl+0
                action.setShortcut(QKeySequence(f"Ctrl+{number % 10}"))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _checked=False, key=cls.key: self.show_view(key))
            group.addAction(action)
            self.view_actions[cls.key] = action
        view_menu.addSeparator()
        self.full_screen_action = view_menu.addAction(self.tr("&Full screen"))
        self.full_screen_action.setCheckable(True)
        self.full_screen_action.setShortcut(QKeySequence(QKeySequence.StandardKey.FullScreen))
        self.full_screen_action.toggled.connect(self.set_full_screen)

        from backoffice.ui.dialogs.setup_menu import install_store_menu

        install_store_menu(self)  # Store: new product, locations, categories
        help_menu = self.menuBar().addMenu(self.tr("&Help"))
        self.about_action = help_menu.addAction(self.tr("&About Backoffice"))
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)

    # -- navigation ---------------------------------------------------------------------------------------
    def current_view_key(self) -> str:
        return self._current

    def current_view(self) -> ViewPage:
        return self.views[self._current]

    def view(self, key: str) -> ViewPage:
        return self.views[key]

    def show_view(self, key: str) -> None:
        if key not in self.views:
            raise KeyError(f"unknown view {key!r}; known: {', '.join(self.views)}")
        self._current = key
        self.sidebar.set_current(key)  # no-op (no signal) when already current
        self.view_actions[key].setChecked(True)
        self._show_current_page()
        self.view_changed.emit(key)

    def _on_sidebar(self, key: str) -> None:
        if key != self._current:
            self.show_view(key)

    def _show_current_page(self) -> None:
        view = self.views[self._current]
        if self.context.state is ConnectionState.CONNECTED and view.REQUIRES and not self.context.may(view.REQUIRES):
            self._show_no_access(view)
        elif self.context.state is ConnectionState.CONNECTED:
            self.pages.setCurrentWidget(view)
            view.activate()
        else:
            self.pages.setCurrentWidget(self.connection_page)
        self.setWindowTitle(self.window_title())

    def _show_no_access(self, view: ViewPage) -> None:
        """The page says who may open it, instead of failing on its first read."""
        actor = self.context.actor
        self.no_access.set_text(
            view.title(),
            self.tr("{view} is for the roles {roles}. You are signed in as {user} ({role}); "
                    "ask an admin if you need it.").format(
                view=view.title(), roles=self.context.roles_for(view.REQUIRES),
                user=actor.username if actor else "", role=self.context.role_label().lower()))
        self.pages.setCurrentWidget(self.no_access)

    def window_title(self) -> str:
        """"Backoffice — <profile or database name>": the application's name once, then where the data is."""
        name = self.context.profile_name or _database_name(self.context.target)
        return f"{self.tr('Backoffice')} — {name}" if name else self.tr("Backoffice")

    def _on_context_changed(self) -> None:
        connected = self.context.state is ConnectionState.CONNECTED
        self.sidebar.list.setEnabled(connected)
        for action in self.view_actions.values():
            action.setEnabled(connected)
        if self.context.state is ConnectionState.CONNECTING:
            self.banner.hide()
        self._show_current_page()
        self._arm_idle_lock()

    # -- locking ------------------------------------------------------------------------------------------
    def lock(self) -> bool:
        """Cover the window until the signed-in person's password is given again (False: not signed in)."""
        return self.window_lock.lock()

    def is_locked(self) -> bool:
        return self.window_lock.locked

    def _on_idle(self) -> None:
        if not self.lock():
            self.idle_lock.restart()   # a question is waiting in its own event loop: try again later

    def _follow_lock(self, _locked: bool) -> None:
        self._arm_idle_lock()

    def _arm_idle_lock(self) -> None:
        """Count idle time while the window is open, signed in and not locked."""
        self.idle_lock.set_armed(self.isVisible() and self.context.connected and not self.window_lock.locked)

    # -- messages, dialogs ----------------------------------------------------------------------------------
    def show_message(self, text: str, level: str = "info", timeout_ms: int | None = None) -> None:
        """A dismissible message above the current page (errors, warnings, results of long jobs); with
        ``timeout_ms`` an info or success message hides itself after that long."""
        self.banner.show_message(text, level, timeout_ms)

    # -- the demo store being built ------------------------------------------------------------------------
    def follow_demo(self, state) -> None:  # type: ignore[no-untyped-def]  # a ui.tasks.TaskState
        """While the demo store is being built, every empty page says so, with the progress, instead of
        "the catalog is empty"."""
        self._demo_state = state
        self._demo_fraction: float | None = None
        self._demo_text = ""
        state.progress_changed.connect(self._on_demo_progress)
        state.status_changed.connect(self._on_demo_status)
        self._show_demo_progress()

    def _on_demo_progress(self, fraction: float) -> None:
        self._demo_fraction = fraction
        self._show_demo_progress()

    def _on_demo_status(self, text: str) -> None:
        self._demo_text = text
        self._show_demo_progress()

    def _show_demo_progress(self) -> None:
        if getattr(self, "_demo_state", None) is None:
            return
        detail = self._demo_text
        if self._demo_fraction is not None:
            percent = self.tr("{pct}% done").format(pct=int(self._demo_fraction * 100))
            detail = f"{detail} {percent}" if detail else percent
        title = self.tr("The demo store is being built")
        text = self.tr("Products, stock, sales and photos appear here when it is ready. {detail}").format(detail=detail)
        for empty in self.findChildren(EmptyState):
            empty.set_busy(title, text.strip(), self._demo_fraction)

    def demo_finished(self, _outcome: str = "") -> None:
        state = getattr(self, "_demo_state", None)
        if state is not None:
            for signal, slot in ((state.progress_changed, self._on_demo_progress),
                                 (state.status_changed, self._on_demo_status)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self._demo_state = None
        for empty in self.findChildren(EmptyState):
            empty.clear_busy()

    def open_profiles(self) -> None:
        from backoffice.ui.dialogs.profiles import ProfilesDialog

        if self.profiles_dialog is not None:
            self.profiles_dialog.raise_()
            return
        dialog = ProfilesDialog(self._profiles or ProfileStore(), self._secrets or SecretStore(), self.tasks, self)
        dialog.connect_requested.connect(self.connect_requested)
        dialog.finished.connect(self._profiles_closed)
        self.profiles_dialog = dialog
        dialog.open()

    def _follow_sync(self) -> None:
        """Sync now and Pending changes are there only for a store API profile."""
        for action in (self.sync_action, self.pending_action):
            action.setVisible(self.sync.active)
            action.setEnabled(self.sync.active)

    def open_pending_changes(self) -> None:
        """The Pending changes dialog of the store API profile (one at a time)."""
        from backoffice.ui.dialogs.outbox import PendingChangesDialog

        if not self.sync.active:
            return
        if self.pending_dialog is not None:
            self.pending_dialog.raise_()
            return
        dialog = PendingChangesDialog(self.context, self.tasks, self.sync, self)
        dialog.finished.connect(self._pending_closed)
        self.pending_dialog = dialog
        dialog.open()

    def _pending_closed(self) -> None:
        if self.pending_dialog is not None:
            self.pending_dialog.deleteLater()
        self.pending_dialog = None

    def _profiles_closed(self) -> None:
        if self.profiles_dialog is not None:
            self.profiles_dialog.deleteLater()
        self.profiles_dialog = None
        self.pending_dialog = None

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            self.tr("About Backoffice"),
            self.tr("<h3>Backoffice {version}</h3><p>Catalog, inventory, purchasing and reports for "
                    "e-commerce merchants.</p><p>Qt {qt} · {target}</p><p>Database schema {schema}</p>").format(
                version=__version__, qt=qVersion(), target=self.context.target or self.tr("not connected"),
                schema=self._schema_text()),
        )

    def _schema_text(self) -> str:
        """The schema this version works with; a connection is only made to a database at exactly it."""
        from backoffice.migrations import head_revision

        head = head_revision() or ""
        if not self.context.connected:
            return head
        if self.context.sync is not None:
            return self.tr("{head} (the store API server checks its own database)").format(head=head)
        return self.tr("{head} (the database is at it)").format(head=head)

    def set_full_screen(self, on: bool) -> None:
        if on and not self.isFullScreen():
            self.showFullScreen()
        elif not on and self.isFullScreen():
            self.showNormal()

    # -- settings -----------------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        view = DEFAULT_VIEW
        restored = False
        if self.settings is not None:
            geometry = self.settings.value("main_window/geometry")
            if isinstance(geometry, QByteArray) and not geometry.isEmpty():
                restored = self.restoreGeometry(geometry)
            state = self.settings.value("main_window/state")
            if isinstance(state, QByteArray) and not state.isEmpty():
                self.restoreState(state)
            saved_view = self.settings.value("main_window/view", DEFAULT_VIEW)
            if saved_view in self.views:
                view = str(saved_view)
        if not restored:
            self.resize(*DEFAULT_SIZE)
        self.show_view(view)

    def save_settings(self) -> None:
        if self.settings is None:
            return
        self.settings.setValue("main_window/geometry", self.saveGeometry())
        self.settings.setValue("main_window/state", self.saveState())
        self.settings.setValue("main_window/view", self._current)
        self.settings.sync()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._arm_idle_lock()
        self.order_processing.start()
        self.price_event_runs.start()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.WindowStateChange:
            # Leaving full screen through the window manager must uncheck the menu entry too.
            self.full_screen_action.blockSignals(True)
            self.full_screen_action.setChecked(self.isFullScreen())
            self.full_screen_action.blockSignals(False)
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        self.idle_lock.set_armed(False)
        self.order_processing.stop()
        self.price_event_runs.stop()
        self.window_lock.stand_down()
        super().closeEvent(event)


def _database_name(target: str) -> str:
    """"shop.sqlite" of "SQLite · /path/shop.sqlite", "shop" of "PostgreSQL · host/shop"."""
    where = target.split(" · ", 1)[-1].strip()
    if not where:
        return ""
    return where.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
