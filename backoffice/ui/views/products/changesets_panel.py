"""Changesets: every bulk edit, import, grid save and revert, newest first, in keyset pages. Selecting
one shows its entries (row, field, before → after); "Revert…" restores the values it replaced, as a new
changeset, and lists the rows changed since instead of overwriting them."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QModelIndex, QSize, Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Changes
from backoffice.operations.changes import CHANGESETS
from backoffice.operations.changesets import ApplyResult, ChangesetInfo, FieldChange
from backoffice.ui import resources, theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_message, format_count, format_when, plural
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager, TaskState
from backoffice.ui.views.products.dialog_parts import field_label, format_value
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.rows import RowsModel, before_after_colours, heading, make_table, muted

PAGE_SIZE = 100
ENTRY_LIMIT = 1000     # entries shown for one changeset (the changeset keeps them all)
NARROW = 640           # below this width (docked beside the grid) the list shows fewer columns
KIND_LABELS = {"bulk": "Bulk edit", "import": "Import", "revert": "Revert", "edit": "Grid edit", "restore": "Revert to a date",
               "event": "Price event"}


class ChangesetsPanel(QWidget):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None, *,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(parent)
        self.context, self.tasks, self.page_size = context, tasks, page_size
        self.runner = Runner(context, tasks, self)
        self.runner.busy_changed.connect(self._on_busy)
        self._generation = 0
        self._needs_reload = True
        self._has_more = False
        self._selected_id: int | None = None
        self._reverting = False
        self.last_revert: ApplyResult | None = None

        self.list_model = RowsModel([self.tr("#"), self.tr("When"), self.tr("Who"), self.tr("Kind"),
                                     self.tr("Description"), self.tr("Rows"), self.tr("Reverted by")],
                                    align_right=(0, 5), parent=self)
        self.list_table = make_table(self.list_model, {0: 56, 1: 150, 2: 100, 3: 90, 5: 70, 6: 110}, stretch=(4,))
        self.list_table.selectionModel().currentRowChanged.connect(self._on_current)
        self.more_button = QPushButton(self.tr("Load more"))
        self.more_button.setProperty("flat", True)
        self.more_button.clicked.connect(self.load_more)
        self.more_button.hide()
        self.refresh_button = QPushButton(self.tr("Refresh"))
        self.refresh_button.setIcon(resources.icon("refresh", theme.TEXT))
        self.refresh_button.setIconSize(QSize(16, 16))
        self.refresh_button.clicked.connect(self.reload)
        self.revert_button = QPushButton(self.tr("Revert…"))
        self.revert_button.setEnabled(False)
        self.revert_button.clicked.connect(self.revert_selected)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(100)
        self.busy.hide()
        self.banner = MessageBanner()

        self.count_label = muted(wrap=False)
        top = QHBoxLayout()
        top.addWidget(self.count_label)
        top.addStretch(1)
        top.addWidget(self.busy)
        top.addWidget(self.refresh_button)
        top.addWidget(self.revert_button)
        list_box = QWidget()
        list_layout = QVBoxLayout(list_box)
        list_layout.setContentsMargins(0, 0, 0, 0)
        list_layout.addWidget(self.list_table, 1)
        list_layout.addWidget(self.more_button, 0, Qt.AlignmentFlag.AlignHCenter)

        self.details_title = heading(self.tr("Select a changeset to see what it changed."))
        self.details_title.setWordWrap(True)
        self.details_meta = muted()
        self.entries_model = RowsModel([self.tr("Row"), self.tr("Field"), self.tr("Before"), self.tr("After")],
                                       colours=before_after_colours(2, 3), parent=self)
        self.entries_table = make_table(self.entries_model, {0: 220, 1: 140}, stretch=(2, 3))
        self.entries_note = muted()
        self.conflicts_label = QLabel(self.tr("Rows changed since, left as they are:"))
        self.conflicts_label.setObjectName("DetailsTitle")
        self.conflicts_model = RowsModel([self.tr("Row"), self.tr("Field"), self.tr("Value now"),
                                          self.tr("Value it would restore")], colours=before_after_colours(2, 3),
                                         parent=self)
        self.conflicts_table = make_table(self.conflicts_model, {0: 220, 1: 140}, stretch=(2, 3))
        self._show_conflicts(False)
        details = QFrame()
        details.setObjectName("Card")
        details_layout = QVBoxLayout(details)
        details_layout.setContentsMargins(16, 12, 16, 12)
        details_layout.setSpacing(8)
        details_layout.addWidget(self.details_title)
        details_layout.addWidget(self.details_meta)
        details_layout.addWidget(self.entries_table, 2)
        details_layout.addWidget(self.entries_note)
        details_layout.addWidget(self.conflicts_label)
        details_layout.addWidget(self.conflicts_table, 1)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(list_box)
        splitter.addWidget(details)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([300, 360])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(splitter, 1)
        context.data_changed.connect(self._on_data_changed)
        context.changed.connect(self._on_connection_changed)

    # -- loading --------------------------------------------------------------------------------------
    def is_loading(self) -> bool:
        return self.runner.busy

    def _on_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Beside the grid the panel is narrow: then who, kind and reverted-by give way to the description
        (the details pane below still names them), and the entry tables get narrower fixed columns."""
        narrow = self.width() < NARROW
        for col in (2, 3, 6):
            self.list_table.setColumnHidden(col, narrow)
        when = self.list_table.fontMetrics().horizontalAdvance("2026-12-31 23:59") + 24
        for col, (small, wide) in {0: (40, 56), 1: (when, max(when, 150)), 5: (52, 70)}.items():
            self.list_table.setColumnWidth(col, small if narrow else wide)
        for table in (self.entries_table, self.conflicts_table):
            table.setColumnWidth(0, 120 if narrow else 220)
            table.setColumnWidth(1, 76 if narrow else 140)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._needs_reload:
            self.reload()

    def _on_data_changed(self, changes: Changes) -> None:
        if changes.concerns(CHANGESETS):
            self._reload_when_shown()

    def _on_connection_changed(self) -> None:
        self._reload_when_shown()

    def _reload_when_shown(self) -> None:
        self._needs_reload = True
        if self.isVisible():
            self.reload()

    def reload(self) -> None:
        """The newest page again (after a write, or Refresh); the selected changeset stays selected."""
        self._generation += 1
        gen, limit = self._generation, self.page_size
        if not self.runner.read(lambda ops: ops.changesets.list(limit=limit), partial(self._on_page, gen, False),
                                on_error=self._on_error):
            self.list_model.clear()
            return
        self._needs_reload = False

    def load_more(self) -> None:
        last: ChangesetInfo | None = self.list_model.object_at(self.list_model.rowCount() - 1)
        if last is None:
            return
        gen, limit, before = self._generation, self.page_size, last.id
        self.more_button.setEnabled(False)
        if not self.runner.read(lambda ops: ops.changesets.list(before_id=before, limit=limit),
                                partial(self._on_page, gen, True), on_error=self._on_error):
            self.more_button.setEnabled(True)

    def _on_page(self, gen: int, append: bool, infos: list[ChangesetInfo]) -> None:
        if gen != self._generation:
            return
        rows = [self._list_row(i) for i in infos]
        if append:
            self.list_model.append_rows(rows, infos)
        else:
            self.list_model.set_rows(rows, infos)
            self._reselect()
        self._has_more = len(infos) >= self.page_size
        n = self.list_model.rowCount()
        self.count_label.setText(plural(n, self.tr("{n} changeset"), self.tr("{n} changesets"))
                                 + (self.tr(" shown, newest first") if self._has_more else self.tr(", newest first")))
        self.more_button.setVisible(self._has_more)
        self.more_button.setEnabled(True)

    def _list_row(self, info: ChangesetInfo) -> tuple[str, ...]:
        kind = self.tr(KIND_LABELS[info.kind]) if info.kind in KIND_LABELS else info.kind
        description = info.description
        if info.reverts_id is not None and not description.startswith("Revert"):
            description = self.tr("Reverts #{id}: {text}").format(id=info.reverts_id, text=description)
        return (str(info.id), format_when(info.created_at), info.username, kind, description,
                format_count(info.row_count), ", ".join(f"#{r}" for r in info.reverted_by))

    def _reselect(self) -> None:
        wanted = self._selected_id
        for row in range(self.list_model.rowCount()):
            info = self.list_model.object_at(row)
            if info.id == wanted:
                self.list_table.setCurrentIndex(self.list_model.index(row, 0))
                self._update_revert_button(info)
                return
        if self.list_model.rowCount():
            self.list_table.setCurrentIndex(self.list_model.index(0, 0))

    def _on_error(self, exc: BaseException) -> None:
        self.more_button.setEnabled(True)
        self.banner.show_message(self.tr("Changesets could not be loaded: {error}").format(error=error_message(exc)),
                                 "error")

    # -- the selected changeset -----------------------------------------------------------------------
    def selected(self) -> ChangesetInfo | None:
        index = self.list_table.currentIndex()
        return self.list_model.object_at(index.row()) if index.isValid() else None

    def select_changeset(self, changeset_id: int) -> bool:
        for row in range(self.list_model.rowCount()):
            if self.list_model.object_at(row).id == changeset_id:
                self.list_table.setCurrentIndex(self.list_model.index(row, 0))
                return True
        return False

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        info: ChangesetInfo | None = self.list_model.object_at(current.row()) if current.isValid() else None
        self._update_revert_button(info)
        if info is None:
            return
        if info.id != self._selected_id:
            self._show_conflicts(False)
        self._selected_id = info.id
        when = format_when(info.created_at)
        self.details_title.setText(self.tr("Changeset #{id} · {description}").format(id=info.id,
                                                                                     description=info.description))
        self.details_meta.setText(self.tr("{kind} by {user} on {when} · {rows}").format(
            kind=self._list_row(info)[3], user=info.username, when=when,
            rows=plural(info.row_count, self.tr("{n} row"), self.tr("{n} rows"))))
        cid = info.id
        self.runner.read(lambda ops: ops.changesets.rows(cid, limit=ENTRY_LIMIT),
                         partial(self._on_entries, cid, info.row_count), on_error=self._on_error)

    def _on_entries(self, changeset_id: int, row_count: int, rows: list[FieldChange]) -> None:
        if changeset_id != self._selected_id:
            return
        self.entries_model.set_rows([(r.label, field_label(r.field), format_value(r.field, r.before),
                                      format_value(r.field, r.after)) for r in rows])
        self.entries_note.setText(self.tr("Showing the first {n} rows.").format(n=format_count(ENTRY_LIMIT))
                                  if row_count > ENTRY_LIMIT else "")
        self.entries_note.setVisible(row_count > ENTRY_LIMIT)

    def _update_revert_button(self, info: ChangesetInfo | None) -> None:
        can = info is not None and not info.reverted_by and not self._reverting
        self.revert_button.setEnabled(can)
        if info is not None and info.reverted_by:
            self.revert_button.setToolTip(self.tr("Already reverted by {ids}").format(
                ids=", ".join(f"#{r}" for r in info.reverted_by)))
        else:
            self.revert_button.setToolTip(self.tr("Restore the values this changeset replaced"))

    # -- revert ---------------------------------------------------------------------------------------
    def confirm_revert(self, info: ChangesetInfo) -> bool:
        answer = QMessageBox.question(
            self, self.tr("Revert changeset"),
            self.tr("Revert changeset #{id} ({description})?\n\nThe values it replaced are restored as a new "
                    "changeset. Rows changed since then are left as they are and listed.").format(
                id=info.id, description=info.description),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def revert_selected(self) -> None:
        info = self.selected()
        if info is None or self.context.ops is None or self._reverting or not self.confirm_revert(info):
            return
        self._reverting = True
        self._update_revert_button(info)
        self.banner.hide()
        state = TaskState(self.tr("Reverting changeset #{id}").format(id=info.id), cancellable=False, parent=self)
        cid = info.id
        if not self.runner.write(lambda ops: ops.changesets.revert(cid), partial(self._on_reverted, info),
                                 on_error=self._on_revert_error, state=state):
            self._reverting = False
            self._update_revert_button(info)

    def _on_reverted(self, info: ChangesetInfo, result: ApplyResult) -> None:
        self._reverting = False
        self.last_revert = result
        self.conflicts_model.set_rows([(f"SKU {c.label}" if c.entity == "variant" else f"product {c.label}",
                                        field_label(c.field), format_value(c.field, c.theirs),
                                        format_value(c.field, c.yours)) for c in result.conflicts])
        self._show_conflicts(bool(result.conflicts))
        n_conf = len(result.conflicts)
        if result.changeset_id is None:
            text = self.tr("Nothing was reverted: every row of #{id} has changed since.").format(id=info.id) \
                if n_conf else self.tr("Nothing to revert: the rows already hold those values.")
        else:
            text = plural(result.applied_rows, self.tr("Reverted #{id}: {n} row restored as changeset #{new}."),
                          self.tr("Reverted #{id}: {n} rows restored as changeset #{new}."),
                          id=info.id, new=result.changeset_id)
        if n_conf:
            text += " " + plural(n_conf, self.tr("{n} change was left as it is because the row changed since."),
                                 self.tr("{n} changes were left as they are because the rows changed since."))
        self.banner.show_message(text, "warning" if n_conf else "success")
        if result.changeset_id is None:
            self._update_revert_button(self.selected())

    def _on_revert_error(self, exc: BaseException) -> None:
        self._reverting = False
        self._update_revert_button(self.selected())
        self.banner.show_message(self.tr("Nothing was reverted: {error}").format(error=error_message(exc)), "error")

    def _show_conflicts(self, visible: bool) -> None:
        if not visible:
            self.conflicts_model.clear()
        self.conflicts_label.setVisible(visible)
        self.conflicts_table.setVisible(visible)
