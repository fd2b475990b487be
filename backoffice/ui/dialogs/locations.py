"""The location manager: every warehouse, store and external place, added, renamed, re-kinded, archived
and restored. Reads and writes go through the operations contract in the background (ui/operations.py);
a refused write is shown on the row it concerns and in the banner, nothing else changes."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Operations
from backoffice.operations.store import Change
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.dialogs.setup_common import OperationIds
from backoffice.ui.format import error_text, format_count
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner

KINDS = (("warehouse", "Warehouse"), ("store", "Store"), ("supplier", "Supplier"), ("customer", "Customer"),
         ("adjustment", "Loss and adjustments"), ("transit", "Transit"))
COLUMNS = ("Code", "Name", "Kind", "On hand", "Status")


class LocationsDialog(QDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context, self.tasks = context, tasks
        self.rows: list[dict[str, Any]] = []
        self.row_errors: dict[int, str] = {}
        self.op_ids = OperationIds()
        self.runner = Runner(context, tasks, self)
        self._editing: dict[str, Any] | None = None
        self.setWindowTitle(self.tr("Locations"))
        self.resize(720, 520)

        heading = QLabel(self.tr("Locations"))
        heading.setObjectName("DetailsTitle")
        intro = QLabel(self.tr("Warehouses and stores hold stock. Suppliers, customers and the loss location are "
                               "the other side of receipts, sales and write-offs."))
        intro.setObjectName("Muted")
        intro.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _index: self.start_edit())

        self.add_button = QPushButton(self.tr("Add…"))
        self.edit_button = QPushButton(self.tr("Edit…"))
        self.archive_button = QPushButton(self.tr("Archive"))
        self.restore_button = QPushButton(self.tr("Restore"))
        self.add_button.clicked.connect(self.start_add)
        self.edit_button.clicked.connect(self.start_edit)
        self.archive_button.clicked.connect(self.archive_selected)
        self.restore_button.clicked.connect(self.restore_selected)
        actions = QHBoxLayout()
        for b in (self.add_button, self.edit_button, self.archive_button, self.restore_button):
            actions.addWidget(b)
        actions.addStretch(1)

        self.form = QGroupBox()
        self.code = QLineEdit()
        self.code.setPlaceholderText("WH1")
        self.code.setMaxLength(50)
        self.name = QLineEdit()
        self.name.setPlaceholderText(self.tr("Main warehouse"))
        self.kind = QComboBox()
        for value, label in KINDS:
            self.kind.addItem(self.tr(label), value)
        self.save_button = QPushButton(self.tr("Save"))
        self.save_button.setProperty("primary", True)
        self.cancel_button = QPushButton(self.tr("Cancel"))
        self.save_button.clicked.connect(self.save_form)
        self.cancel_button.clicked.connect(self._close_form)
        form = QFormLayout(self.form)
        form.addRow(self.tr("Code"), self.code)
        form.addRow(self.tr("Name"), self.name)
        form.addRow(self.tr("Kind"), self.kind)
        form_buttons = QHBoxLayout()
        form_buttons.addStretch(1)
        form_buttons.addWidget(self.cancel_button)
        form_buttons.addWidget(self.save_button)
        form.addRow(form_buttons)
        self.form.hide()

        self.banner = MessageBanner()
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addWidget(heading)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.form)
        layout.addWidget(self.banner)
        layout.addWidget(close)
        self.runner.busy_changed.connect(self._set_busy)
        self.runner.succeeded.connect(lambda text: self.banner.show_message(text, "success", 4000))
        self._selection_changed()
        self.reload()

    # -- reading -----------------------------------------------------------------------------------------
    def reload(self, select_id: int | None = None) -> None:
        self.runner.read(lambda ops: ops.store.list_locations(with_stock=True),
                         lambda rows: self._on_loaded(rows, select_id), on_error=self._on_failed)

    def _on_loaded(self, rows: list[dict[str, Any]], select_id: int | None) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        kinds = dict(KINDS)
        for r, loc in enumerate(rows):
            held = format_count(loc["on_hand"]) if loc["internal"] else "—"
            status = self.row_errors.get(loc["id"]) or (self.tr("Active") if loc["active"] else self.tr("Archived"))
            for c, text in enumerate((loc["code"], loc["name"], self.tr(kinds.get(loc["kind"], loc["kind"])), held,
                                      status)):
                item = QTableWidgetItem(text)
                if c == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if not loc["active"]:
                    item.setForeground(QBrush(QColor(theme.TEXT_MUTED)))
                if loc["id"] in self.row_errors:
                    item.setToolTip(self.row_errors[loc["id"]])
                    if c == 4:
                        item.setForeground(QBrush(QColor(theme.DANGER)))
                self.table.setItem(r, c, item)
            if loc["id"] == select_id:
                self.table.selectRow(r)

    def selected(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def _selection_changed(self) -> None:
        loc = self.selected()
        busy = self.runner.busy
        self.edit_button.setEnabled(loc is not None and not busy)
        self.archive_button.setEnabled(loc is not None and loc["active"] and not busy)
        self.restore_button.setEnabled(loc is not None and not loc["active"] and not busy)

    # -- the form ----------------------------------------------------------------------------------------
    def start_add(self) -> None:
        self._editing = None
        self.form.setTitle(self.tr("New location"))
        self.code.setEnabled(True)
        self.code.clear()
        self.name.clear()
        self.kind.setCurrentIndex(0)
        self.form.show()
        self.code.setFocus()

    def start_edit(self) -> None:
        loc = self.selected()
        if loc is None:
            return
        self._editing = loc
        self.form.setTitle(self.tr("Edit {code}").format(code=loc["code"]))
        self.code.setText(loc["code"])
        self.code.setEnabled(False)
        self.name.setText(loc["name"])
        self.kind.setCurrentIndex(max(0, self.kind.findData(loc["kind"])))
        self.form.show()
        self.name.setFocus()

    def _close_form(self) -> None:
        self.form.hide()
        self._editing = None

    def save_form(self) -> None:
        if self.runner.busy:
            return
        code, name, kind, editing = self.code.text(), self.name.text(), self.kind.currentData(), self._editing
        self.banner.hide()
        if editing is None:
            op = self.op_ids.for_request(("create", code, name, kind))
            self.runner.write(lambda ops: ops.store.add_location(code, name, kind, op_id=op), self._on_written,
                              on_error=lambda exc: self._on_write_failed(exc, None),
                              success=lambda change: self._done(self.tr("Location {code} added."), change))
            return
        op = self.op_ids.for_request(("update", editing["id"], name, kind))
        new_kind = kind if kind != editing["kind"] else None
        new_name = name if name != editing["name"] else None
        self.runner.write(lambda ops: ops.store.edit_location(editing["id"], expected_version=editing["version"],
                                                              name=new_name, kind=new_kind, op_id=op),
                          self._on_written, on_error=lambda exc: self._on_write_failed(exc, editing["id"]),
                          success=lambda change: self._done(self.tr("Location {code} saved."), change))

    # -- archive / restore --------------------------------------------------------------------------------
    def archive_selected(self) -> None:
        self._set_active(False)

    def restore_selected(self) -> None:
        self._set_active(True)

    def _set_active(self, active: bool) -> None:
        loc = self.selected()
        if loc is None or self.runner.busy:
            return
        op = self.op_ids.for_request(("restore" if active else "archive", loc["id"], loc["version"]))
        text = self.tr("Location {code} restored.") if active else self.tr("Location {code} archived.")

        def set_active(ops: Operations) -> Change:
            write = ops.store.restore_location if active else ops.store.archive_location
            return write(loc["id"], expected_version=loc["version"], op_id=op)

        self.banner.hide()
        self.runner.write(set_active, self._on_written, on_error=lambda exc: self._on_write_failed(exc, loc["id"]),
                          success=lambda change: self._done(text, change))

    # -- after a write -------------------------------------------------------------------------------------
    def _done(self, text: str, change: Change) -> str:
        code = (change.after or {}).get("code") or next((r["code"] for r in self.rows if r["id"] == change.entity_id), "")
        return text.format(code=code)

    def _on_written(self, change: Change) -> None:
        self.op_ids.succeeded()
        self.row_errors.pop(change.entity_id, None)
        self._close_form()
        self.reload(select_id=change.entity_id)

    def _on_write_failed(self, exc: BaseException, row_id: int | None) -> None:
        text = error_text(exc)
        if row_id is not None:
            self.row_errors[row_id] = text.splitlines()[0]
            self._on_loaded(self.rows, row_id)
        self.banner.show_message(text, "error")

    def _on_failed(self, exc: BaseException) -> None:
        self.banner.show_message(error_text(exc), "error")

    def _set_busy(self, busy: bool) -> None:
        self.add_button.setEnabled(not busy)
        self.save_button.setEnabled(not busy)
        self._selection_changed()
