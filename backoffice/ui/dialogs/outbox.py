"""Pending changes: what a store API profile saved on this computer and has not sent, or what the server
would not take, with what the person can do about each.

- **Waiting** entries go by themselves when the server answers ("Send now" tries at once).
- **Failed** ones were refused (the server's reason is shown): Retry sends them again with the same
  idempotency key (the server never applies one twice), Discard gives them up.
- **Conflicts** of catalog edits (someone changed the rows meanwhile) open the same theirs / yours /
  read dialog as in the grid. What the person chooses is sent as a new save of the re-based rows, at the
  version stored now, and the entry is settled. A row left on "Skip" keeps the whole entry open for
  later: nothing is sent, so no row goes twice.

The list is read off the GUI thread (the outbox is an SQLite file), and so is every decision.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import wire
from backoffice.operations.catalog import Conflict, RowChange
from backoffice.remote.errors import QueuedOffline
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.products.columns import CategoryIndex
from backoffice.ui.views.products.conflicts import REBASE, SKIP, ConflictDialog, from_stored

COL_CHANGE, COL_STATUS, COL_ATTEMPTS, COL_ERROR, COL_SAVED = range(5)
_STATUS_COLOURS = {"pending": theme.WARNING, "sending": theme.ACCENT, "failed": theme.DANGER,
                   "conflict": theme.DANGER}


def conflicts_of(entry: Any) -> list[Conflict]:  # noqa: ANN401 - an OutboxEntry
    """The rows of a conflicting catalog save, from the server's answer kept with the entry."""
    if entry.operation != "catalog.save_edits" or not isinstance(entry.result, dict):
        return []
    call = wire.call_of("catalog.save_edits")
    assert call is not None
    return list(call.result_from_plain(entry.result).conflicts)


def rebased_rows(conflicts: list[Conflict], choices: dict[tuple[str, int], str]) -> list[RowChange]:
    """The person's values of the rows they chose to re-base, at the version stored now."""
    rows = []
    for key, choice in choices.items():
        if choice != REBASE:
            continue
        mine = [c for c in conflicts if (c.entity, c.entity_id) == key]
        entity, entity_id = key
        rows.append(RowChange(entity, entity_id, mine[0].current_version,
                              {c.field: from_stored(entity, c.field, c.yours) for c in mine},
                              {c.field: c.theirs for c in mine}))
    return rows


class PendingChangesDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, sync, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.setWindowTitle(self.tr("Pending changes"))
        self.setObjectName("PendingChangesDialog")
        self.context, self.tasks, self.sync = context, tasks, sync
        self.runner = Runner(context, tasks, self)
        self.entries: list[Any] = []
        self.conflict_dialog: ConflictDialog | None = None

        intro = QLabel(self.tr("Changes saved on this computer go to the store API in the order they were made. "
                               "Waiting ones are sent as soon as the server answers."))
        intro.setWordWrap(True)
        intro.setObjectName("Muted")
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels([self.tr("Change"), self.tr("Status"), self.tr("Attempts"),
                                              self.tr("Last error"), self.tr("Saved")])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for col, width in ((COL_CHANGE, 250), (COL_STATUS, 90), (COL_ATTEMPTS, 84), (COL_SAVED, 120)):
            self.table.setColumnWidth(col, width)
        header.setSectionResizeMode(COL_ERROR, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._follow_selection)
        self.empty = QLabel(self.tr("All changes sent: nothing is waiting."))
        self.empty.setObjectName("Muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()

        self.retry_button = QPushButton(self.tr("Retry"))
        self.retry_button.setToolTip(self.tr("Send it again with the next round (it is applied at most once)"))
        self.discard_button = QPushButton(self.tr("Discard"))
        self.discard_button.setToolTip(self.tr("Give this change up: it is never sent"))
        self.resolve_button = QPushButton(self.tr("Resolve…"))
        self.resolve_button.setToolTip(self.tr("Compare with what is stored now and choose per row"))
        self.send_button = QPushButton(self.tr("Send now"))
        self.retry_button.clicked.connect(lambda: self._on_selected(self.retry_entry))
        self.discard_button.clicked.connect(lambda: self._on_selected(self._confirm_discard))
        self.resolve_button.clicked.connect(lambda: self._on_selected(self.resolve_entry))
        self.send_button.clicked.connect(self.send_now)
        actions = QHBoxLayout()
        for button in (self.retry_button, self.discard_button, self.resolve_button):
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.send_button)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 14)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.message)
        layout.addLayout(actions)
        layout.addWidget(close)
        self.resize(860, 380)
        sync.round_finished.connect(lambda _outcome: self.reload())
        self._follow_selection()
        self.reload()

    # -- the list ------------------------------------------------------------------------------------------
    def reload(self) -> None:
        session = self.sync.session
        if session is None:
            self._show([])
            return
        self.tasks.run_in_background(session.entries, self._show, self._failed, context=self)

    def _show(self, entries: list[Any]) -> None:
        selected = self.selected_entry()
        self.entries = entries
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            error = entry.last_error.splitlines()[0] if entry.last_error else ""
            values = (entry.label or entry.operation, self._status_text(entry.status), str(entry.attempts), error,
                      _local_time(entry.created_at))
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col == COL_ERROR and entry.last_error:
                    item.setToolTip(entry.last_error)
                if col == COL_STATUS and entry.status in _STATUS_COLOURS:
                    item.setForeground(QColor(_STATUS_COLOURS[entry.status]))
                item.setData(Qt.ItemDataRole.UserRole, entry.id)
                self.table.setItem(row, col, item)
            if selected is not None and entry.id == selected.id:
                self.table.selectRow(row)
        self.table.setVisible(bool(entries))
        self.empty.setVisible(not entries)
        self._follow_selection()

    def _status_text(self, status: str) -> str:
        return {"pending": self.tr("Waiting"), "sending": self.tr("Sending"), "failed": self.tr("Failed"),
                "conflict": self.tr("Conflict")}.get(status, status)

    def _failed(self, exc: BaseException) -> None:
        self.show_message(error_message(exc), "error")

    def show_message(self, text: str, level: str = "info") -> None:
        colour = {"error": theme.DANGER, "warning": theme.WARNING, "success": theme.SUCCESS}.get(level, theme.TEXT)
        self.message.setStyleSheet(f"color: {colour};")
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def selected_entry(self) -> Any:  # noqa: ANN401 - an OutboxEntry or None
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows or rows[0].row() >= len(self.entries):
            return None
        return self.entries[rows[0].row()]

    def select_entry(self, entry_id: int) -> None:
        for row, entry in enumerate(self.entries):
            if entry.id == entry_id:
                self.table.selectRow(row)

    def _follow_selection(self) -> None:
        entry = self.selected_entry()
        status = entry.status if entry is not None else ""
        self.retry_button.setEnabled(status in ("failed", "conflict"))
        self.discard_button.setEnabled(status in ("pending", "failed", "conflict"))
        self.resolve_button.setEnabled(status == "conflict" and entry.operation == "catalog.save_edits")
        self.send_button.setEnabled(self.sync.session is not None)

    def _on_selected(self, action) -> None:  # type: ignore[no-untyped-def]
        entry = self.selected_entry()
        if entry is not None:
            action(entry)

    # -- decisions -------------------------------------------------------------------------------------------
    def _decided(self, text: str = "", level: str = "info", *, send: bool = False) -> None:
        self.context.notify_outbox_changed()
        self.show_message(text, level)
        if send:
            self.sync.sync_now()
        self.reload()

    def _run(self, task, on_done) -> None:  # type: ignore[no-untyped-def]
        self.tasks.run_in_background(task, on_done, self._failed, context=self)

    def send_now(self) -> None:
        self.sync.sync_now()

    def retry_entry(self, entry: Any) -> None:  # noqa: ANN401
        session = self.sync.session
        if session is not None:
            self._run(partial(session.retry, entry.id), lambda _r: self._decided(
                self.tr("It goes with the next round."), send=True))

    def _confirm_discard(self, entry: Any) -> None:  # noqa: ANN401
        answer = QMessageBox.question(self, self.tr("Discard this change?"),
                                      self.tr("“{label}” will never be sent to the store API.").format(
                                          label=entry.label or entry.operation))
        if answer == QMessageBox.StandardButton.Yes:
            self.discard_entry(entry)

    def discard_entry(self, entry: Any) -> None:  # noqa: ANN401
        session = self.sync.session
        if session is not None:
            self._run(partial(session.discard, entry.id),
                      lambda _r: self._decided(self.tr("The change was discarded."), "info"))

    def resolve_entry(self, entry: Any) -> None:  # noqa: ANN401
        """Open the merge dialog for a conflicting catalog save (the category names read first)."""
        try:
            conflicts = conflicts_of(entry)
        except Exception as exc:   # an answer that cannot be read: say so, the entry stays as it is
            self.show_message(self.tr("This conflict cannot be shown: {error}").format(error=error_message(exc)),
                              "error")
            return
        if not conflicts:
            self.show_message(self.tr("The server reported no rows for this conflict: retry or discard it."),
                              "warning")
            return
        if not self.runner.read(lambda ops: ops.catalog.facets().get("categories", []),
                                partial(self._open_conflicts, entry, conflicts),
                                on_error=lambda _exc: self._open_conflicts(entry, conflicts, [])):
            self.show_message(self.tr("Not connected."), "error")

    def _open_conflicts(self, entry: Any, conflicts: list[Conflict], categories: list[dict]) -> None:  # noqa: ANN401
        dialog = ConflictDialog(conflicts, CategoryIndex(categories), self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        self.conflict_dialog = dialog
        dialog.finished.connect(lambda _code: self._conflicts_chosen(entry, conflicts, dialog))
        dialog.open()

    def _conflicts_chosen(self, entry: Any, conflicts: list[Conflict], dialog: ConflictDialog) -> None:  # noqa: ANN401
        self.conflict_dialog = None
        accepted = dialog.result() == QDialog.DialogCode.Accepted
        choices = dialog.resolutions()
        dialog.deleteLater()
        if not accepted:
            return
        if SKIP in choices.values():
            self.show_message(self.tr("Nothing was sent: choose Re-base or Keep theirs for every row to settle "
                                      "this change (Skip keeps it for later)."), "warning")
            return
        self.settle(entry, rebased_rows(conflicts, choices))

    def settle(self, entry: Any, rows: list[RowChange]) -> None:  # noqa: ANN401
        """Send the re-based rows as a new save and mark the entry settled (both off the GUI thread)."""
        session = self.sync.session
        if session is None:
            return
        description = self.tr("{label}, merged").format(label=entry.label or self.tr("Edits"))

        def send_and_settle(ops: Any) -> bool:  # noqa: ANN401
            queued = False
            if rows:
                try:
                    ops.catalog.save_edits(rows, description=description)
                except QueuedOffline:
                    queued = True
            session.resolve(entry.id)
            return queued

        def done(queued: bool) -> None:
            if queued:
                text = self.tr("Saved offline: your merged rows will be sent when the store API is back.")
            elif rows:
                text = self.tr("Your merged rows were sent.")
            else:
                text = self.tr("Settled: their values are kept.")
            self._decided(text, "success")

        self.runner.write(send_and_settle, done, on_error=self._failed)


def _local_time(iso: str) -> str:
    """An outbox time (UTC, ISO 8601) as this computer's local time, "3 Dec 18:04"."""
    try:
        at = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    local = at.astimezone()
    return f"{local.day} {local:%b %H:%M}"
