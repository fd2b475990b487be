"""Backups: back the connected database up now, and (an SQLite file) restore it from a backup.

Everything goes through ``ops.admin`` (``backup``, ``verify_backup``, ``restore``, ``upgrade``) in the
background. A backup is written whole under a new name or not at all; a restore first reads the chosen
file through and shows what it holds (when it was made, its schema, how many products and variants), asks
before replacing anything, keeps the file it replaces next to it, and upgrades a backup made by an older
version so the window can go on at once. A PostgreSQL database is backed up with ``pg_dump``; it is
restored into a new database from the command line (docs/backups.md), never over the one in use.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations.admin import BackupCheck, BackupMade, BackupRestored, verify_backup
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.empty_state import Glyph

FILE_FILTER_SQLITE = "SQLite backups (*.sqlite *.db);;All files (*)"
FILE_FILTER_PG = "pg_dump archives (*.dump);;All files (*)"


def may_back_up(context: AppContext) -> bool:
    """Backups are made against the database itself: an SQLite file's owner, or a PostgreSQL admin (the
    dump runs with their login). Through the store API the server's operator backs up its database."""
    if not context.connected or context.remote or context.actor is None:
        return False
    return context.personal_file or context.actor.role.value == "admin"


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB" if size >= 100_000 else f"{size / 1000:,.0f} kB"


class BackupsDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self._follow_busy)
        self.checked: BackupCheck | None = None
        self.made: BackupMade | None = None
        self.restored: BackupRestored | None = None
        self.sqlite = context.personal_file
        self.setWindowTitle(self.tr("Back up and restore"))
        self.setMinimumWidth(600)

        heading = QLabel(self.tr("Back up and restore"))
        heading.setObjectName("DetailsTitle")
        where = QLabel(self.tr("Database: {target}").format(target=context.target))
        where.setObjectName("Muted")
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        # -- back up now --
        backup_title = QLabel(self.tr("Back up now"))
        backup_title.setObjectName("DetailsTitle")
        backup_text = QLabel(
            self.tr("A consistent copy of the whole store, taken while everyone keeps working, checked before "
                    "it is kept. An existing file is never overwritten.") if self.sqlite else
            self.tr("A pg_dump archive of the whole database (--format=custom), made with your login. Restore it "
                    "into a new database with pg_restore: see docs/backups.md."))
        backup_text.setObjectName("Muted")
        backup_text.setWordWrap(True)
        self.backup_path = QLineEdit()
        self.backup_path.setPlaceholderText(self.tr("A new file in the backups folder, named after the store and the time"))
        browse_backup = QPushButton(self.tr("Choose…"))
        browse_backup.clicked.connect(self._choose_backup_file)
        self.backup_button = QPushButton(self.tr("Back up"))
        self.backup_button.setProperty("primary", True)
        self.backup_button.clicked.connect(self.back_up)
        backup_row = QHBoxLayout()
        backup_row.addWidget(self.backup_path, 1)
        backup_row.addWidget(browse_backup)
        backup_row.addWidget(self.backup_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(Glyph("database", diameter=56, color=theme.ACCENT), 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(heading)
        layout.addWidget(where)
        layout.addWidget(backup_title)
        layout.addWidget(backup_text)
        layout.addLayout(backup_row)

        # -- restore (an SQLite file) --
        self.restore_path = QLineEdit()
        self.restore_button = QPushButton(self.tr("Restore…"))
        self.details = QLabel()
        if self.sqlite:
            line = QFrame()
            line.setFrameShape(QFrame.Shape.HLine)
            restore_title = QLabel(self.tr("Restore from a backup"))
            restore_title.setObjectName("DetailsTitle")
            restore_text = QLabel(self.tr("Replaces the store with the backup. The file as it is now is kept next "
                                          "to it (…before-restore-<time>.sqlite), so nothing is lost; a backup "
                                          "made by an older version is upgraded."))
            restore_text.setObjectName("Muted")
            restore_text.setWordWrap(True)
            self.restore_path.setPlaceholderText(self.tr("Choose a backup file"))
            self.restore_path.editingFinished.connect(self.check_backup)
            browse_restore = QPushButton(self.tr("Choose…"))
            browse_restore.clicked.connect(self._choose_restore_file)
            self.restore_button.setEnabled(False)
            self.restore_button.clicked.connect(self.restore)
            restore_row = QHBoxLayout()
            restore_row.addWidget(self.restore_path, 1)
            restore_row.addWidget(browse_restore)
            restore_row.addWidget(self.restore_button)
            self.details.setObjectName("Muted")
            self.details.setWordWrap(True)
            self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(line)
            layout.addWidget(restore_title)
            layout.addWidget(restore_text)
            layout.addLayout(restore_row)
            layout.addWidget(self.details)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.banner = MessageBanner()
        self.banner.text.setMinimumWidth(480)   # long paths wrap inside the dialog's width
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        layout.addWidget(self.progress)
        layout.addWidget(self.banner)
        layout.addStretch(1)
        layout.addWidget(buttons)

    # -- files ---------------------------------------------------------------------------------------------
    def _choose_backup_file(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, self.tr("Back up to"), self.backup_path.text() or str(Path.home()),
                                              FILE_FILTER_SQLITE if self.sqlite else FILE_FILTER_PG)
        if name:
            self.backup_path.setText(name)

    def _choose_restore_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, self.tr("Restore from"), self.restore_path.text() or str(Path.home()),
                                              FILE_FILTER_SQLITE)
        if name:
            self.restore_path.setText(name)
            self.check_backup()

    # -- back up -------------------------------------------------------------------------------------------
    def back_up(self) -> None:
        if self.runner.busy:
            return
        path = self.backup_path.text().strip() or None
        self.banner.show_message(self.tr("Backing up…"), "info")
        self.runner.read(lambda ops: ops.admin.backup(path), self._on_backed_up, on_error=self._on_failed)

    def _fit(self) -> None:
        """Grow to show a message's wrapped lines in full (a path can take two)."""
        QTimer.singleShot(0, lambda: self.resize(self.width(), max(self.height(), self.sizeHint().height())))

    def _on_backed_up(self, made: BackupMade) -> None:
        self.made = made
        counts = f" — {self.counts(made.rows, moves=False)}" if "products" in made.rows else ""
        self.banner.show_message(self.tr("Backed up to {path} ({size}){counts}; checked, schema {revision}.").format(
            path=made.path, size=megabytes(made.size), counts=counts, revision=made.revision or "—"), "success")
        self._fit()

    # -- restore -------------------------------------------------------------------------------------------
    def check_backup(self) -> None:
        path = self.restore_path.text().strip()
        self.checked = None
        self.restore_button.setEnabled(False)
        self.details.clear()
        if not path or self.runner.busy:
            return
        self.banner.show_message(self.tr("Reading the backup through…"), "info")
        self.runner.read(lambda _ops: verify_backup(path), self._on_checked, on_error=self._on_failed)

    def _on_checked(self, checked: BackupCheck) -> None:
        if checked.path != str(Path(self.restore_path.text().strip()).expanduser().absolute()):
            return   # another file was chosen meanwhile
        self.checked = checked
        made = dt.datetime.fromtimestamp(Path(checked.path).stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        upgrade = (self.tr(" It was made by an older version (schema {revision}) and is upgraded to {head} after "
                           "the restore.").format(revision=checked.revision, head=checked.head)
                   if checked.needs_upgrade else "")
        self.details.setText(self.tr("Backup of {made}, {size}: {counts}; schema {revision}; integrity "
                                     "checked.{upgrade}").format(
            made=made, size=megabytes(checked.size), counts=self.counts(checked.rows),
            revision=checked.revision or "—", upgrade=upgrade))
        self.banner.dismiss()
        self.restore_button.setEnabled(True)

    def restore(self) -> None:
        checked = self.checked
        if checked is None or self.runner.busy:
            return
        answer = QMessageBox.question(
            self, self.tr("Restore the backup?"),
            self.tr("The store will hold what the backup holds ({counts}). Changes made since the backup are no "
                    "longer in the store; the file as it is now is kept next to it.").format(
                counts=self.counts(checked.rows, moves=False)),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.banner.show_message(self.tr("Restoring…"), "info")
        self.runner.write(lambda ops: restore_and_upgrade(ops, checked.path), self._on_restored,
                          on_error=self._on_failed)

    def _on_restored(self, restored: BackupRestored) -> None:
        self.restored = restored
        self.restore_button.setEnabled(False)
        kept = self.tr(" The file as it was is kept as {kept}.").format(kept=restored.kept) if restored.kept else ""
        upgraded = (self.tr(" Upgraded from schema {revision} to {head}.").format(revision=restored.revision,
                                                                                  head=restored.head)
                    if restored.needs_upgrade else "")
        self.banner.show_message(self.tr("Restored {path}: {counts}.{upgraded}{kept}").format(
            path=restored.path, counts=self.counts(restored.rows, moves=False), upgraded=upgraded, kept=kept),
            "success")
        self._fit()

    def counts(self, rows: dict[str, int], *, moves: bool = True) -> str:
        """"1 product, 3 variants, 0 stock moves" from a backup's rows per table."""
        parts = [plural(rows.get("products", 0), self.tr("{n} product"), self.tr("{n} products")),
                 plural(rows.get("variants", 0), self.tr("{n} variant"), self.tr("{n} variants"))]
        if moves:
            parts.append(plural(rows.get("stock_moves", 0), self.tr("{n} stock move"), self.tr("{n} stock moves")))
        return ", ".join(parts)

    # -- state ---------------------------------------------------------------------------------------------
    def _on_failed(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")
        self._fit()

    def _follow_busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.backup_button.setEnabled(not busy)
        self.close_button.setEnabled(not busy)
        if busy:
            self.restore_button.setEnabled(False)


def restore_and_upgrade(ops: Operations, path: str) -> BackupRestored:
    """Restore ``path`` into the connected file; a backup of an older schema is upgraded at once, so the
    window (which works at this version's schema) goes on."""
    restored = ops.admin.restore(path)
    if restored.needs_upgrade:
        ops.admin.upgrade()
    return restored


def open_backups(window: QWidget) -> None:
    context = window.context   # type: ignore[attr-defined]
    if not may_back_up(context):
        return
    BackupsDialog(context, window.tasks, window).exec()   # type: ignore[attr-defined]


__all__ = ["BackupsDialog", "may_back_up", "open_backups", "restore_and_upgrade"]
