"""Who is connected (admins): the connections of staff logins and of the store API's server to the shared
PostgreSQL, and the live sign-in sessions and API keys of the store API. An admin may end any of them.
Listing and ending run in the background through the contract; after an end the lists are read again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations.users import DatabaseSession, SessionInfo
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import NO_VALUE, translator
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.format import format_when
from backoffice.ui.widgets.empty_state import Glyph
from backoffice.ui.widgets.records import Column, RecordsModel, setup_table
from backoffice.ui.widgets.rows import heading, muted

tr = translator("Connected")
CONTEXT = "Connected"
KINDS = {"session": "Sign-in session", "api_key": "API key"}

DATABASE_COLUMNS = (
    Column("Login", lambda s: s.login, width=140),
    Column("User", lambda s: s.username or NO_VALUE, width=110),
    Column("Client", lambda s: s.client, width=120),
    Column("Application", lambda s: s.application, width=160),
    Column("Since", lambda s: s.started_at, kind="when", width=140),
    Column("State", lambda s: s.state or NO_VALUE, width=170),
)
API_COLUMNS = (
    Column("User", lambda s: s.username, width=130),
    Column("Kind", lambda s: tr(KINDS.get(s.kind, s.kind)), width=130),
    Column("Name", lambda s: s.name, width=220),
    Column("Created", lambda s: s.created_at, kind="when", width=140),
    Column("Last used", lambda s: format_when(s.last_used_at) if s.last_used_at else tr("Never"), width=140),
)
TABLES_PAGE, EMPTY_PAGE = 0, 1


class ConnectedDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.runner = Runner(context, tasks, self)
        self.setWindowTitle(self.tr("Who is connected"))
        self.resize(920, 580)
        self.loaded = False
        self._selected_table: QTableView | None = None

        intro = muted(self.tr("Staff connected to this database and the store API's sessions and keys. Ending "
                              "one disconnects it; its unsaved work there is lost."))
        self.database_heading = heading(self.tr("Database connections"))
        self.database_note = muted(self.tr("A personal database file has no shared sessions."))
        self.database_model = RecordsModel(DATABASE_COLUMNS, self, context=CONTEXT)
        self.database_table = QTableView()
        setup_table(self.database_table, self.database_model, stretch="Application")
        self.api_heading = heading(self.tr("Store API sessions and keys"))
        self.api_model = RecordsModel(API_COLUMNS, self, context=CONTEXT)
        self.api_table = QTableView()
        setup_table(self.api_table, self.api_model, stretch="Name")
        for table in (self.database_table, self.api_table):
            table.selectionModel().selectionChanged.connect(lambda *_a, t=table: self._on_selection(t))
        tables = QWidget()
        tables_layout = QVBoxLayout(tables)
        tables_layout.setContentsMargins(0, 0, 0, 0)
        tables_layout.setSpacing(8)
        tables_layout.addWidget(self.database_heading)
        tables_layout.addWidget(self.database_note)
        tables_layout.addWidget(self.database_table, 3)
        tables_layout.addSpacing(8)
        tables_layout.addWidget(self.api_heading)
        tables_layout.addWidget(self.api_table, 2)

        empty = QWidget()
        self.empty_title = QLabel()
        self.empty_title.setObjectName("EmptyTitle")
        self.empty_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_text = muted()
        self.empty_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty_layout = QVBoxLayout(empty)
        empty_layout.addStretch(2)
        empty_layout.addWidget(Glyph("user", diameter=88, color=theme.ACCENT), 0, Qt.AlignmentFlag.AlignHCenter)
        empty_layout.addSpacing(8)
        empty_layout.addWidget(self.empty_title)
        empty_layout.addWidget(self.empty_text)
        empty_layout.addStretch(3)

        self.stack = QStackedWidget()
        self.stack.addWidget(tables)
        self.stack.addWidget(empty)
        self.banner = MessageBanner()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.end_button = QPushButton(self.tr("End session…"))
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.buttons.addButton(self.end_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(self.refresh_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.rejected.connect(self.reject)
        self.end_button.clicked.connect(self.end_selected)
        self.refresh_button.clicked.connect(self.reload)
        self.confirmation: QMessageBox | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(heading(self.tr("Who is connected")))
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.buttons)
        self.runner.busy_changed.connect(self._follow_busy)
        self.runner.failed.connect(lambda text: self.banner.show_message(text, "error"))
        self.runner.succeeded.connect(lambda text: self.banner.show_message(text, "success", 4000))
        self._update_buttons()
        self.reload()

    # -- reading -----------------------------------------------------------------------------------------
    def reload(self) -> None:
        self.runner.read(lambda ops: (ops.users.database_sessions(), ops.users.sessions()),
                         lambda lists: self.set_sessions(*lists))

    def set_sessions(self, database: Sequence[DatabaseSession], api: Sequence[SessionInfo]) -> None:
        """Show these lists (what the background read found)."""
        personal = self.context.personal_file
        self.loaded = True
        self._selected_table = None
        self.database_model.set_rows(database)
        self.api_model.set_rows(api)
        self.database_heading.setText(self.tr("Database connections ({n})").format(n=len(database)))
        self.api_heading.setText(self.tr("Store API sessions and keys ({n})").format(n=len(api)))
        self.database_note.setVisible(personal)
        self.database_table.setVisible(not personal)
        if not database and not api:
            if personal:
                self.empty_title.setText(self.tr("A personal database file has no shared sessions"))
                self.empty_text.setText(self.tr("Only its owner uses it on this computer, and no store API "
                                                "session or key is open on it."))
            else:
                self.empty_title.setText(self.tr("Nobody else is connected"))
                self.empty_text.setText(self.tr("No staff login and no store API session or key is connected "
                                                "to this database right now."))
            self.stack.setCurrentIndex(EMPTY_PAGE)
        else:
            self.stack.setCurrentIndex(TABLES_PAGE)
        self._update_buttons()

    def is_empty(self) -> bool:
        return self.stack.currentIndex() == EMPTY_PAGE

    # -- ending a session ------------------------------------------------------------------------------
    def select(self, table: QTableView, row: int) -> None:
        table.selectRow(row)
        self._on_selection(table)

    def selected(self) -> DatabaseSession | SessionInfo | None:
        """The row chosen in either list (one list's selection clears the other's)."""
        table = self._selected_table
        if table is None or not table.selectionModel().hasSelection():
            return None
        rows = table.selectionModel().selectedRows()
        return table.model().row_at(rows[0].row()) if rows else None

    def end_selected(self) -> None:
        """Ask, then end the selected connection or session in the background and read the lists again."""
        chosen = self.selected()
        if chosen is None or self.runner.busy:
            return
        if isinstance(chosen, DatabaseSession):
            who = chosen.username or chosen.login
            text = self.tr("End the database connection of {who} from {client}?").format(
                who=who, client=chosen.client or self.tr("this server"))
        else:
            text = self.tr("End the {kind} “{name}” of {who}?").format(
                kind=tr(KINDS.get(chosen.kind, chosen.kind)).lower(), name=chosen.name, who=chosen.username)
        box = QMessageBox(QMessageBox.Icon.Question, self.tr("End session"), text,
                          QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText(self.tr("Whatever it has not saved is lost."))
        end = box.addButton(self.tr("End session"), QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result: self._confirmed(chosen) if box.clickedButton() is end else None)
        self.confirmation = box
        box.open()

    def _confirmed(self, chosen: DatabaseSession | SessionInfo) -> None:
        self.confirmation = None
        self.end(chosen)

    def end(self, chosen: DatabaseSession | SessionInfo) -> None:
        """End ``chosen`` (no question asked) in the background, then read the lists again."""
        if isinstance(chosen, DatabaseSession):
            pid = chosen.pid
            self.runner.write(lambda ops: ops.users.end_database_session(pid), self._ended_connection)
        else:
            session_id = chosen.id
            self.runner.write(lambda ops: ops.users.revoke_session(session_id), self._ended_session)

    def _ended_connection(self, ended: bool) -> None:
        if ended:
            self.banner.show_message(self.tr("The connection was ended."), "success", 4000)
        else:
            self.banner.show_message(self.tr("That connection had already ended."), "info", 4000)
        self.reload()

    def _ended_session(self, _result: Any) -> None:
        self.banner.show_message(self.tr("The session was ended."), "success", 4000)
        self.reload()

    # -- state -------------------------------------------------------------------------------------------
    def _on_selection(self, table: QTableView) -> None:
        if table.selectionModel().hasSelection():
            self._selected_table = table
            other = self.api_table if table is self.database_table else self.database_table
            if other.selectionModel().hasSelection():
                other.clearSelection()
        self._update_buttons()

    def _follow_busy(self, busy: bool) -> None:
        self.refresh_button.setEnabled(not busy)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.end_button.setEnabled(self.selected() is not None and not self.runner.busy)
