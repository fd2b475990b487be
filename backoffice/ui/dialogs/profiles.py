"""Connection profiles: list, create, edit, delete, test, and connect.

A profile is saved without its password (``ProfileStore``); the password goes to the system keyring
(``SecretStore``). Without a usable keyring the user is told the password will be asked each session,
and it is kept in memory for this session only. "Test connection" runs in the background executor.

A store API profile (``backoffice serve`` or the store's own server) is a URL and the user name of the
person who signs in. Its Test signs in (with the password typed, which is then forgotten: the session
is kept in the keyring as tokens, so connecting needs no password) and shows the server's version, who
the session is, their role and the round trip.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import (
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import make_url
from sqlalchemy.engine import URL

from backoffice.config import API_KIND, Profile, ProfileError, ProfileStore
from backoffice.remote.urls import normalise_api_url
from backoffice.operations import session
from backoffice.operations.session import DatabaseError, current_os_username, default_sqlite_path
from backoffice.secrets import KeyringUnavailable, SecretStore
from backoffice.ui import resources, theme
from backoffice.ui.context import describe_target
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
TARGET_ROLE = Qt.ItemDataRole.UserRole + 2
DEFAULT_ROLE = Qt.ItemDataRole.UserRole + 3


def check_api_profile(url: str, username: str, password: str, secrets: SecretStore) -> str:
    """Sign in (or use the stored session) and describe the server, in a worker."""
    from backoffice.remote.session import check_api, open_api, sign_in

    if password:
        ops = sign_in(url, username, password, secrets=secrets)
    else:
        ops = open_api(url, username, secrets=secrets)
    try:
        checked = check_api(ops)
    finally:
        ops.close()
    return QCoreApplication.translate(
        "ProfilesDialog", "Connected to Backoffice {version} as {user} ({role}); round trip {ms:.0f} ms.").format(
        version=checked.server_version, user=checked.username, role=checked.role, ms=checked.round_trip_ms)


def describe_profile_target(p: Profile) -> str:
    return f"Store API · {p.url}" if p.kind == API_KIND else describe_target(p.url)


def check_connection(url: str, secrets: SecretStore) -> str:
    """Connect, ping, and check the schema (in a worker). Returns a sentence for the user; raises
    DatabaseError with a one-line reason when the database cannot be reached."""
    checked = session.check_connection(url, secrets=secrets)
    if checked.schema.problem:
        return QCoreApplication.translate("ProfilesDialog", "Connected, but: {error}").format(error=checked.schema.problem)
    return QCoreApplication.translate("ProfilesDialog", "Connected. The schema is up to date.")


class ProfileItemDelegate(QStyledItemDelegate):
    """Two lines per profile: the name (and a "default" tag), then where it points, elided."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(0, option.fontMetrics.height() * 2 + 18)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = QIcon()
        style = opt.widget.style() if opt.widget else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        rect = opt.rect.adjusted(10, 8, -10, -8)
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(icon, QIcon):
            icon.paint(painter, QRect(rect.left(), rect.top() + 2, 18, 18))
        text_rect = rect.adjusted(28, 0, 0, 0)
        line = opt.fontMetrics.height()
        painter.save()
        bold = QFont(opt.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(QColor(theme.TEXT))
        name = QFontMetrics(bold).elidedText(index.data(NAME_ROLE) or "", Qt.TextElideMode.ElideRight, text_rect.width() - 60)
        painter.drawText(QRect(text_rect.left(), text_rect.top(), text_rect.width(), line), Qt.AlignmentFlag.AlignLeft, name)
        if index.data(DEFAULT_ROLE):
            tag_x = text_rect.left() + QFontMetrics(bold).horizontalAdvance(name) + 8
            painter.setFont(opt.font)
            painter.setPen(QColor(theme.ACCENT))
            painter.drawText(QRect(tag_x, text_rect.top(), 80, line), Qt.AlignmentFlag.AlignLeft,
                             QCoreApplication.translate("ProfilesDialog", "default"))
        painter.setFont(opt.font)
        painter.setPen(QColor(theme.TEXT_MUTED))
        target = opt.fontMetrics.elidedText(index.data(TARGET_ROLE) or "", Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(QRect(text_rect.left(), text_rect.top() + line + 2, text_rect.width(), line),
                         Qt.AlignmentFlag.AlignLeft, target)
        painter.restore()


class ProfilesDialog(QDialog):
    connect_requested = Signal(object)  # Profile: the user asked to switch to it
    saved = Signal(object)               # Profile

    def __init__(self, store: ProfileStore, secrets: SecretStore, tasks: TaskManager,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Connection profiles"))
        self.setMinimumSize(QSize(780, 500))
        self.store, self.secrets, self.tasks = store, secrets, tasks
        self._editing: str | None = None
        self._test_generation = 0
        self._tests_running = 0

        # -- left: the list -------------------------------------------------------------------------
        self.list = QListWidget()
        self.list.setIconSize(QSize(18, 18))
        self.list.setItemDelegate(ProfileItemDelegate(self.list))
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.currentItemChanged.connect(self._on_selected)
        self.new_button = QPushButton(self.tr("New"))
        self.new_button.setIcon(resources.icon("plus", theme.TEXT))
        self.new_button.clicked.connect(self.new_profile)
        self.delete_button = QPushButton(self.tr("Delete"))
        self.delete_button.setIcon(resources.icon("trash", theme.TEXT))
        self.delete_button.clicked.connect(self.delete_profile)
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.new_button)
        list_buttons.addWidget(self.delete_button)
        list_buttons.addStretch(1)
        left = QVBoxLayout()
        left.setSpacing(8)
        heading = QLabel(self.tr("Profiles"))
        heading.setObjectName("DetailsTitle")
        left.addWidget(heading)
        left.addWidget(self.list, 1)
        left.addLayout(list_buttons)

        # -- right: the form ------------------------------------------------------------------------
        self.name = QLineEdit()
        self.name.setPlaceholderText(self.tr("e.g. Shop database"))
        self.sqlite_radio = QRadioButton(self.tr("SQLite file"))
        self.pg_radio = QRadioButton(self.tr("PostgreSQL server"))
        self.api_radio = QRadioButton(self.tr("Store API"))
        kinds = QButtonGroup(self)
        kinds.addButton(self.sqlite_radio)
        kinds.addButton(self.pg_radio)
        kinds.addButton(self.api_radio)
        kind_row = QHBoxLayout()
        kind_row.addWidget(self.sqlite_radio)
        kind_row.addWidget(self.pg_radio)
        kind_row.addWidget(self.api_radio)
        kind_row.addStretch(1)

        self.path = QLineEdit()
        self.path.setPlaceholderText(str(default_sqlite_path()))
        browse = QPushButton(self.tr("Browse…"))
        browse.clicked.connect(self._browse)
        self.path_row = QWidget()
        path_layout = QHBoxLayout(self.path_row)
        path_layout.setContentsMargins(0, 0, 0, 0)
        path_layout.addWidget(self.path, 1)
        path_layout.addWidget(browse)

        self.host = QLineEdit()
        self.host.setPlaceholderText("localhost")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(5432)
        self.port.setMinimumWidth(100)
        self.port.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.database = QLineEdit()
        self.user = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_note = QLabel(self.tr("Kept in the system keyring, never in the profile file."))
        self.password_note.setObjectName("Muted")
        self.api_url = QLineEdit()
        self.api_url.setPlaceholderText("https://store.example.com:8443")
        self.api_user = QLineEdit()
        self.api_user.setPlaceholderText(self.tr("Your user name on the store API"))
        self.api_password = QLineEdit()
        self.api_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_password.setPlaceholderText(self.tr("Only to test and sign in; never stored"))
        self._api_rows = [self.api_url, self.api_user, self.api_password]
        for radio in (self.sqlite_radio, self.api_radio):
            radio.toggled.connect(self._show_kind_rows)
            radio.toggled.connect(self._invalidate_test)

        self.acting_user = QLineEdit()
        self.acting_user.setPlaceholderText(self.tr("{name} (your login name)").format(name=current_os_username()))
        self.make_default = QCheckBox(self.tr("Open this profile when Backoffice starts"))
        self.image_store = QLineEdit()
        self.image_store.setPlaceholderText(self.tr("In your user data folder (or a shared network folder)"))
        self.image_store.setToolTip(self.tr("Where product images are kept; share one folder between everyone "
                                            "using the same store"))

        self.test_button = QPushButton(self.tr("Test connection"))
        self.test_button.setIcon(resources.icon("plug", theme.TEXT))
        self.test_button.clicked.connect(self.test)
        self.test_icon = QLabel()
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addSpacing(6)
        test_row.addWidget(self.test_icon, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.test_result, 1)

        form = self.form = QFormLayout()
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(10)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.addRow(self.tr("Name"), self.name)
        form.addRow(self.tr("Kind"), kind_row)
        form.addRow(self.tr("File"), self.path_row)
        self._pg_rows = [self.host, self.port, self.database, self.user, self.password, self.password_note]
        for label, widget in zip((self.tr("Host"), self.tr("Port"), self.tr("Database"), self.tr("User"),
                                  self.tr("Password"), ""), self._pg_rows, strict=True):
            form.addRow(label, widget)
        for label, widget in zip((self.tr("Server URL"), self.tr("User name"), self.tr("Password")), self._api_rows,
                                 strict=True):
            form.addRow(label, widget)
        form.addRow(self.tr("Act as user"), self.acting_user)
        form.addRow(self.tr("Image folder"), self.image_store)
        form.addRow("", self.make_default)
        self._show_kind_rows()

        self.banner = MessageBanner()
        card = QFrame()
        card.setObjectName("Card")
        card_layout = QVBoxLayout(card)
        card_layout.setContentsMargins(20, 18, 20, 18)
        card_layout.setSpacing(12)
        card_layout.addLayout(form)
        card_layout.addStretch(1)
        card_layout.addLayout(test_row)

        self.connect_button = QPushButton(self.tr("Save and connect"))
        self.connect_button.clicked.connect(self.save_and_connect)
        self.save_button = QPushButton(self.tr("Save"))
        self.save_button.setProperty("primary", True)
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        close = QPushButton(self.tr("Close"))
        close.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.connect_button)
        bottom.addWidget(close)
        bottom.addWidget(self.save_button)

        right = QVBoxLayout()
        right.setSpacing(10)
        right.addWidget(self.banner)
        right.addWidget(card, 1)
        columns = QHBoxLayout()
        columns.setSpacing(18)
        columns.addLayout(left, 0)
        columns.addLayout(right, 1)
        self.list.setFixedWidth(250)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.setSpacing(14)
        layout.addLayout(columns, 1)
        layout.addLayout(bottom)

        for edit in (self.path, self.host, self.database, self.user, self.password, self.api_url, self.api_user,
                     self.api_password):
            edit.textChanged.connect(self._invalidate_test)
        self.port.valueChanged.connect(self._invalidate_test)
        self.reload_list()
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.new_profile()

    def _show_kind_rows(self, *_args: object) -> None:
        sqlite, api = self.sqlite_radio.isChecked(), self.api_radio.isChecked()
        self.form.setRowVisible(self.path_row, sqlite)
        for widget in self._pg_rows:
            self.form.setRowVisible(widget, not sqlite and not api)
        for widget in self._api_rows:
            self.form.setRowVisible(widget, api)
        for widget in (self.acting_user, self.image_store):   # the server decides both for an API profile
            self.form.setRowVisible(widget, not api)

    # -- list ------------------------------------------------------------------------------------------
    def reload_list(self, select: str | None = None) -> None:
        try:
            profiles, default = self.store.list(), self.store.default()
        except ProfileError as exc:
            self.banner.show_message(str(exc), "error")
            profiles, default = [], None
        self.list.blockSignals(True)
        self.list.clear()
        for p in profiles:
            item = QListWidgetItem(resources.icon("database" if p.kind == "postgresql" else "server", theme.TEXT_MUTED),
                                   p.name)
            item.setData(NAME_ROLE, p.name)
            item.setData(TARGET_ROLE, describe_profile_target(p))
            item.setData(DEFAULT_ROLE, bool(default and default.name == p.name))
            item.setToolTip(describe_profile_target(p))
            self.list.addItem(item)
            if p.name == select:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.delete_button.setEnabled(self.list.currentItem() is not None)

    def profile_names(self) -> list[str]:
        return [self.list.item(i).data(NAME_ROLE) for i in range(self.list.count())]

    def select_profile(self, name: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(NAME_ROLE) == name:
                self.list.setCurrentRow(i)

    def _on_selected(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        self.delete_button.setEnabled(item is not None)
        if item is None:
            return
        try:
            profile = self.store.get(item.data(NAME_ROLE))
            default = self.store.default()
        except ProfileError as exc:
            self.banner.show_message(str(exc), "error")
            return
        self._fill(profile, is_default=default is not None and default.name == profile.name)

    def _fill(self, p: Profile, *, is_default: bool) -> None:
        self._editing = p.name
        self.banner.hide()
        self.name.setText(p.name)
        self.api_password.clear()
        if p.kind == API_KIND:
            self.api_radio.setChecked(True)
            self.api_url.setText(p.url)
            self.api_user.setText(p.username)
            self.make_default.setChecked(is_default)
            self._invalidate_test()
            return
        u = make_url(p.url)
        if p.kind == "sqlite":
            self.sqlite_radio.setChecked(True)
            self.path.setText(u.database or "")
        else:
            self.pg_radio.setChecked(True)
            self.host.setText(u.host or "")
            self.port.setValue(u.port or 5432)
            self.database.setText(u.database or "")
            self.user.setText(u.username or "")
        self.password.clear()
        self.password.setPlaceholderText(self.tr("Leave empty to keep the stored password"))
        self.acting_user.setText(p.username)
        self.image_store.setText(p.image_store)
        self.make_default.setChecked(is_default)
        self._invalidate_test()

    def new_profile(self) -> None:
        self.list.blockSignals(True)
        self.list.setCurrentItem(None)
        self.list.clearSelection()
        self.list.blockSignals(False)
        self.delete_button.setEnabled(False)
        self._editing = None
        self.banner.hide()
        for edit in (self.name, self.path, self.host, self.database, self.user, self.password, self.acting_user,
                     self.image_store, self.api_url, self.api_user, self.api_password):
            edit.clear()
        self.password.setPlaceholderText("")
        self.port.setValue(5432)
        self.pg_radio.setChecked(True)
        self.make_default.setChecked(self.list.count() == 0)
        self.name.setFocus()
        self._invalidate_test()

    # -- building the URL --------------------------------------------------------------------------------
    def url(self, *, with_password: bool = False) -> str:
        """The URL the form describes; raises ProfileError naming the missing field."""
        if self.api_radio.isChecked():
            try:
                return normalise_api_url(self.api_url.text())
            except ValueError as exc:
                raise ProfileError(self.tr("enter the server's URL (https://host:port)") if not self.api_url.text().strip()
                                   else str(exc)) from None
        if self.sqlite_radio.isChecked():
            path = self.path.text().strip()
            if not path:
                raise ProfileError(self.tr("choose the SQLite file"))
            return f"sqlite:///{path}"
        host, database = self.host.text().strip(), self.database.text().strip()
        if not host:
            raise ProfileError(self.tr("enter the PostgreSQL host"))
        if not database:
            raise ProfileError(self.tr("enter the database name"))
        password = self.password.text() if with_password and self.password.text() else None
        u = URL.create("postgresql+psycopg", username=self.user.text().strip() or None, password=password,
                       host=host, port=self.port.value(), database=database)
        return u.render_as_string(hide_password=False)

    # -- actions -----------------------------------------------------------------------------------------
    @property
    def testing(self) -> bool:
        return self._tests_running > 0

    def save(self) -> Profile | None:
        """Save the form: the profile without password, the password (if typed) in the keyring."""
        name = self.name.text().strip()
        try:
            if not name:
                raise ProfileError(self.tr("a profile needs a name"))
            url = self.url()
            if self.api_radio.isChecked() and not self.api_user.text().strip():
                raise ProfileError(self.tr("enter the user name that signs in to the store API"))
            username = self.api_user.text() if self.api_radio.isChecked() else self.acting_user.text()
            profile, _ = self.store.save(name, url, username=username,
                                         make_default=self.make_default.isChecked(),
                                         image_store=self.image_store.text())
            if self._editing and self._editing != name:
                self.store.delete(self._editing)  # a rename
        except (ProfileError, DatabaseError) as exc:
            self.banner.show_message(self.tr("Not saved: {error}").format(error=exc), "error")
            return None
        message, level = self.tr("Profile “{name}” saved.").format(name=name), "success"
        password = self.password.text()
        if profile.kind == "postgresql" and password:
            try:
                self.secrets.set(profile.secret_key(), password)
                message = self.tr("Profile “{name}” saved; the password is in the system keyring.").format(name=name)
            except KeyringUnavailable:
                self.secrets.remember_for_session(profile.secret_key(), password)
                message = self.tr("Profile “{name}” saved. No secure keyring is available, so the password was not "
                                  "stored: it will be asked for each session.").format(name=name)
                level = "warning"
        self.password.clear()
        self.reload_list(select=name)
        self._editing = name
        self.banner.show_message(message, level)
        self.saved.emit(profile)
        return profile

    def save_and_connect(self) -> None:
        profile = self.save()
        if profile is not None:
            self.connect_requested.emit(profile)
            self.accept()

    def delete_profile(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        name = item.data(NAME_ROLE)
        answer = QMessageBox.question(self, self.tr("Delete profile"),
                                      self.tr("Delete the profile “{name}”? Its stored password is removed too.").format(name=name))
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            profile = self.store.get(name)
            self.store.delete(name)
            if profile.kind == "postgresql" and all(p.secret_key() != profile.secret_key() for p in self.store.list()):
                self.secrets.delete(profile.secret_key())
        except (ProfileError, KeyringUnavailable) as exc:
            self.banner.show_message(str(exc), "error")
            return
        self.reload_list()
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self.new_profile()
        self.banner.show_message(self.tr("Profile “{name}” deleted.").format(name=name), "info")

    def test(self) -> None:
        try:
            url = self.url(with_password=True)
            if self.api_radio.isChecked() and not self.api_user.text().strip():
                raise ProfileError(self.tr("enter the user name that signs in to the store API"))
        except ProfileError as exc:
            self._show_test(False, str(exc))
            return
        self._test_generation += 1
        self._tests_running += 1
        self.test_button.setEnabled(False)
        self._show_test(None, self.tr("Testing…"))
        secrets = self.secrets
        check = (partial(check_api_profile, url, self.api_user.text().strip(), self.api_password.text(), secrets)
                 if self.api_radio.isChecked() else partial(check_connection, url, secrets))
        self.tasks.run_in_background(check,
                                     partial(self._test_done, self._test_generation, True),
                                     partial(self._test_done, self._test_generation, False), context=self)

    def _test_done(self, generation: int, ok: bool, value: object) -> None:
        self._tests_running -= 1
        self.test_button.setEnabled(self._tests_running == 0)
        if generation != self._test_generation:
            return  # the form changed since: this answer is about other settings
        if ok:
            self._show_test(True, str(value))
        else:
            text = str(value).strip().splitlines()
            self._show_test(False, text[0] if text else type(value).__name__)

    def _show_test(self, ok: bool | None, text: str) -> None:
        self.test_result.setObjectName("SuccessText" if ok else "ErrorText" if ok is False else "Muted")
        self.test_result.style().unpolish(self.test_result)
        self.test_result.style().polish(self.test_result)
        self.test_result.setText(text)
        if ok is None:
            self.test_icon.clear()
        else:
            name, colour = ("check-circle", theme.SUCCESS) if ok else ("alert-circle", theme.DANGER)
            self.test_icon.setPixmap(resources.svg_pixmap(name, 18, colour, device_ratio=self.devicePixelRatioF()))

    def _invalidate_test(self, *_args: object) -> None:
        self._test_generation += 1
        self.test_result.clear()
        self.test_icon.clear()

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, self.tr("SQLite database file"), self.path.text() or str(default_sqlite_path()),
                                              self.tr("SQLite databases (*.sqlite *.db);;All files (*)"),
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.path.setText(path)
