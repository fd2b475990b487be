"""The editor of a stock document (a transfer, a purchase order): a new or saved document, its lines, and
the steps its state allows.

What every document editor has is here: a heading with the number and a state pill, a line of facts, a
form (the route or the supplier, a note, the scan field), the lines table (a scanned or typed code adds a
line or one more unit; quantities edited in place; a line removed), the totals under it, a banner, Save
draft and the step buttons, and the document as PDF or Excel. Loads and steps run through the contract
with a :class:`~backoffice.ui.operations.Runner`, with the buttons off while one runs; a write's
changes reach every view. The subclass says what the document is: how it is read and saved, its facts,
totals and steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.operations import Changes, Operations
from backoffice.remote.errors import QueuedOffline
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, translator
from backoffice.ui.operations import Runner
from backoffice.ui.tasks import TaskManager
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.pills import StatePill, elide_sku_columns
from backoffice.ui.widgets.records import QuantityDelegate, RecordsModel, setup_table
from backoffice.ui.widgets.scanner import ScanField
from backoffice.ui.widgets.step_dialog import StepDialog

tr = translator("Stock")

EDIT_TRIGGERS = (QTableView.EditTrigger.DoubleClicked | QTableView.EditTrigger.EditKeyPressed
                 | QTableView.EditTrigger.AnyKeyPressed)
INTERNAL_KINDS = ("warehouse", "store")

Action = Callable[[Operations], Any]


class SavedThenFailed(Exception):
    """Saving the draft worked, the step after it did not: show the saved draft, then the error."""

    def __init__(self, saved: Any, error: BaseException) -> None:
        super().__init__(str(error))
        self.saved, self.error = saved, error


def fill_combo(combo: QComboBox, items: Sequence[tuple[str, Any]]) -> None:
    """Replace a picker's (label, value) items, keeping the value chosen if it is still there."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for label, value in items:
        combo.addItem(label, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.blockSignals(False)


def stock_locations(locations: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    """The active warehouses and stores of ``ops.stock.locations()`` as picker items."""
    return [(f"{loc['code']} · {loc['name']}", loc["id"]) for loc in locations
            if loc["kind"] in INTERNAL_KINDS and loc.get("active", True)]


def choose(pairs: Sequence[tuple[QComboBox, Any]]) -> None:
    """Set pickers to values without their change signals (showing, not editing)."""
    for combo, value in pairs:
        combo.blockSignals(True)
        combo.setCurrentIndex(combo.findData(value))
        combo.blockSignals(False)


class DocumentEditor(QFrame):
    saved = Signal(object)          # the document after any write
    message = Signal(str, str)      # text, level: for the view's banner

    def __init__(self, context: AppContext, tasks: TaskManager, lines_model: Callable[[Any], RecordsModel], *,
                 pill: StatePill, new_title: str, unsaved_name: str, export_text: str, stretch: str,
                 quantity_column: int, parent: QWidget | None = None) -> None:
        """``lines_model(editor)``: the model of the lines, made once the editor exists; ``unsaved_name``: what
        a new document is called when asking whether to discard it ("the new transfer")."""
        super().__init__(parent)
        self.setObjectName("Card")
        self.context, self.tasks = context, tasks
        self.runner = Runner(context, tasks, self)     # loads and steps: the editor is busy while they run
        self.lookups = Runner(context, tasks, self)    # figures shown beside the lines: never busy
        self.document: Any = None
        self.dirty = False
        self.busy = False
        self.dialog: Any = None
        self.new_title, self.unsaved_name = new_title, unsaved_name
        self.quantity_column = quantity_column
        self._load_generation = 0

        self.heading = QLabel(new_title)
        self.heading.setObjectName("DetailsTitle")
        self.pill = pill
        self.meta = QLabel()
        self.meta.setObjectName("Muted")
        self.meta.setWordWrap(True)
        self.note = QLineEdit()
        self.note.setMaxLength(500)
        self.note.textEdited.connect(lambda _t: self._set_dirty())
        self.scan = ScanField()
        self.model = lines_model(self)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=stretch)
        elide_sku_columns(self.table, self.model)
        self.table.setItemDelegateForColumn(quantity_column, QuantityDelegate(minimum=1, parent=self.table))
        self.remove_button = QPushButton(tr("Remove line"))
        self.remove_button.setProperty("flat", True)
        self.remove_button.clicked.connect(self.remove_current_line)
        self.totals = QLabel()
        self.totals.setObjectName("Muted")
        self.banner = MessageBanner()
        self.save_button = self.button(tr("Save draft"), self.save_draft)
        self.export_button = QToolButton()
        self.export_button.setObjectName("MenuButton")
        self.export_button.setText(export_text)
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction(tr("PDF…"), partial(self._ask_export, "pdf"))
        menu.addAction(tr("Excel workbook (.xlsx)…"), partial(self._ask_export, "xlsx"))
        self.export_button.setMenu(menu)

    @staticmethod
    def button(text: str, slot: Callable[[], Any], *, primary: bool = False) -> QPushButton:
        button = QPushButton(text)
        button.setProperty("primary", primary)
        button.clicked.connect(slot)
        return button

    def lay_out(self, route_label: str, route: QLayout, cancel: QPushButton, steps: Sequence[QPushButton]) -> None:
        """Heading, facts, the form (route, note, scan), the lines, totals, banner; the buttons: ``cancel``
        on the left, Save draft and ``steps`` on the right."""
        title_row = QHBoxLayout()
        title_row.addWidget(self.heading)
        title_row.addWidget(self.pill)
        title_row.addStretch(1)
        title_row.addWidget(self.export_button)
        form = QFormLayout()
        form.addRow(route_label, route)
        form.addRow(tr("Note"), self.note)
        form.addRow(tr("Add items"), self.scan)
        under = QHBoxLayout()
        under.addWidget(self.totals, 1)
        under.addWidget(self.remove_button)
        buttons = QHBoxLayout()
        buttons.addWidget(cancel)
        buttons.addStretch(1)
        for b in (self.save_button, *steps):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.setSpacing(8)
        layout.addLayout(title_row)
        layout.addWidget(self.meta)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addLayout(under)
        layout.addWidget(self.banner)
        layout.addLayout(buttons)

    # -- what the subclass says ------------------------------------------------------------------------
    def fetch(self, ops: Operations, document_id: int) -> Any:
        """The document read through the contract (in a worker)."""
        raise NotImplementedError

    def save_action(self) -> Action | None:
        """The write that saves the draft as edited (create or update); None when there is nothing to save."""
        raise NotImplementedError

    def edited(self, document: Any) -> Changes:
        """What saving ``document`` changed (announced when the step after the save failed)."""
        raise NotImplementedError

    def meta_text(self) -> str:
        raise NotImplementedError

    def totals_text(self) -> str:
        raise NotImplementedError

    def refresh_steps(self, busy: bool, has_lines: bool) -> None:
        """Show and enable the step buttons the state allows."""
        raise NotImplementedError

    def paper(self, path: str) -> tuple[Action, str]:
        """The read that writes the document as ``path``, and what the message calls it."""
        raise NotImplementedError

    def paper_name(self) -> tuple[str, str]:
        """(the save dialog's title, the suggested file name without its suffix)."""
        raise NotImplementedError

    # -- what is shown ---------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.document.state if self.document is not None else "new"

    @property
    def editable(self) -> bool:
        return self.state in ("new", "draft")

    @property
    def lines(self) -> list[Any]:
        return self.model.rows

    def editable_widgets(self) -> list[QWidget]:
        return [self.note, self.scan, self.remove_button]

    def can_export(self) -> bool:
        return bool(self.lines)

    def set_pill(self) -> None:
        self.pill.set_state(self.document.state if self.document is not None else "")

    def _refresh(self) -> None:
        editable, busy, has_lines = self.editable, self.busy, bool(self.lines)
        self.heading.setText(self.document.number if self.document is not None else self.new_title)
        self.set_pill()
        self.meta.setText(self.meta_text())
        for w in self.editable_widgets():
            w.setEnabled(editable and not busy)
        self.table.setEditTriggers(EDIT_TRIGGERS if editable else QTableView.EditTrigger.NoEditTriggers)
        self.save_button.setVisible(editable)
        self.save_button.setEnabled(not busy and self.dirty and has_lines)
        self.refresh_steps(busy, has_lines)
        self.export_button.setEnabled(self.can_export() and not busy)
        self.totals.setText(self.totals_text())

    def _set_dirty(self, dirty: bool = True) -> None:
        self.dirty = dirty
        self._refresh()

    def show_lines(self, document: Any, lines: list[Any]) -> None:
        """Show a document read or written: its note and lines, nothing left to save."""
        self.document = document
        self.note.setText(document.note)
        self.model.set_rows(lines)
        self._set_dirty(False)

    def may_leave(self) -> bool:
        """True when showing another document loses nothing typed, or the user agreed to lose it."""
        if not (self.dirty and self.lines):
            return True
        name = self.document.number if self.document is not None else self.unsaved_name
        return self.confirm(tr("Unsaved changes"), tr("Discard the changes to {name}?").format(name=name))

    def clear_document(self) -> None:
        """A new document: nothing read, no lines, nothing typed."""
        self._load_generation += 1
        self.document = None
        self.note.clear()
        self.model.set_rows([])
        self.banner.hide()

    def show_document(self, document: Any) -> None:
        raise NotImplementedError

    # -- reading ---------------------------------------------------------------------------------------
    def load(self, document_id: int) -> None:
        self._load_generation += 1
        gen = self._load_generation
        self.busy = True
        self._refresh()
        if not self.runner.read(lambda ops: self.fetch(ops, document_id), partial(self._on_loaded, gen),
                                on_error=self._on_failed):
            self.busy = False
            self._refresh()

    def _on_loaded(self, gen: int, document: Any) -> None:
        self.busy = False
        if gen == self._load_generation:
            self.show_document(document)
        else:
            self._refresh()

    # -- editing a draft -------------------------------------------------------------------------------
    def add_line(self, line: Any, more: int = 1) -> bool:
        """``line`` appended, or ``more`` units added to the line of its variant; True when appended."""
        for i, shown in enumerate(self.lines):
            if shown.variant_id == line.variant_id:
                self.model.replace_row(i, replace(shown, quantity=shown.quantity + more))
                self.table.setCurrentIndex(self.model.index(i, self.quantity_column))
                self._set_dirty()
                return False
        self.model.append_rows([line])
        self.table.setCurrentIndex(self.model.index(len(self.lines) - 1, self.quantity_column))
        self._set_dirty()
        return True

    def remove_current_line(self) -> None:
        row = self.table.currentIndex().row()
        if self.editable and 0 <= row < len(self.lines):
            rows = self.lines
            del rows[row]
            self.model.set_rows(rows)
            self._set_dirty()

    # -- steps -----------------------------------------------------------------------------------------
    def save_draft(self) -> None:
        action = self.save_action()
        if action is not None and not self.busy:
            self.run(action, tr("{number} saved."))

    def save_then(self, step: Callable[[Operations, Any], Any]) -> Action:
        """Save the draft if it changed, then ``step(ops, saved)``, in one background call; when the step
        fails after a save, the saved draft is shown with the error."""
        save, current = self.save_action(), self.document

        def save_and_step(ops: Operations) -> Any:
            saved = save(ops) if save is not None else current
            try:
                return step(ops, saved)
            except Exception as exc:
                if save is None:
                    raise
                raise SavedThenFailed(saved, exc) from exc

        return save_and_step

    def run(self, action: Action, done_text: str | Callable[[Any], str] = "",
            then: Callable[[Any], Any] | None = None) -> None:
        """A write through the contract; on success the document is shown, announced (``done_text``, with
        ``{number}``) and handed to ``then``."""
        if self.busy:
            return
        self.busy = True
        self.banner.hide()
        self._refresh()
        if not self.runner.write(action, partial(self._after_write, done_text, then), on_error=self._on_failed):
            self.busy = False
            self._refresh()

    def _after_write(self, done_text: str | Callable[[Any], str], then: Callable[[Any], Any] | None,
                     document: Any) -> None:
        self.busy = False
        self.show_document(document)
        self.saved.emit(document)
        text = done_text(document) if callable(done_text) else done_text.format(number=document.number)
        if text:
            self.message.emit(text, "success")
        if then is not None:
            then(document)

    def _on_failed(self, exc: BaseException) -> None:
        self.busy = False
        if isinstance(exc, QueuedOffline):
            # Kept in the outbox, sent when the store API answers: saved, not failed. A new document is
            # cleared (it appears in the list once the server has it), so it is never submitted twice.
            if self.document is None:
                self.clear_document()
            self._set_dirty(False)
            self._refresh()
            self.banner.show_message(tr("Saved offline: it will be sent when the store API is back."), "info")
            return
        if isinstance(exc, SavedThenFailed):
            self.show_document(exc.saved)
            self.saved.emit(exc.saved)
            self.context.notify_data_changed(self.edited(exc.saved))
            exc = exc.error
        self._refresh()
        self.banner.show_message(error_text(exc), "error")

    def confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes

    def open_step(self, dialog: StepDialog, done_text: str | Callable[[Any], str]) -> StepDialog:
        """Open a step's dialog; when the step is taken, the document is shown and announced."""
        dialog.completed.connect(partial(self._after_write, done_text, None))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialog = dialog
        dialog.open()
        return dialog

    # -- the document on paper -------------------------------------------------------------------------
    def _ask_export(self, suffix: str) -> None:
        title, name = self.paper_name()
        filters = tr("PDF document (*.pdf)") if suffix == "pdf" else tr("Excel workbook (*.xlsx)")
        path, _ = QFileDialog.getSaveFileName(self, title, str(Path.home() / f"{name}.{suffix}"), filters)
        if path:
            self.export_document(path if path.lower().endswith(f".{suffix}") else f"{path}.{suffix}")

    def export_document(self, path: str | Path) -> None:
        action, what = self.paper(str(path))
        self.export_button.setEnabled(False)
        self.lookups.read(action, partial(self._exported, what), on_error=self._export_failed)

    def _exported(self, what: str, written: str) -> None:
        self._refresh()
        self.message.emit(tr("{title} written to {path}").format(title=what, path=written), "success")

    def _export_failed(self, exc: BaseException) -> None:
        self._refresh()
        self.banner.show_message(error_text(exc), "error")
