"""The transfer editor: a new or saved transfer, its lines, and the step its state allows.

A draft is edited here: source and destination (warehouses and stores), lines added by scanning (a USB
scanner types the code and Enter into the focused scan field: a known code adds the line or one more
unit; an unknown one beeps, flashes the field and names the code) or by typing a SKU, quantities edited
in place and marked red when the source has fewer available. Then Ship; once shipped, Receive…,
Close… or Cancel. Every step runs in the background with the buttons off, and a stock-moving step keeps
its operation id until it succeeds, so a double click or a retry moves the stock once.
"""

from __future__ import annotations

from collections.abc import Callable
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
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from backoffice.services import transfers
from backoffice.services.base import new_operation_id
from backoffice.services.transfers import TransferInfo
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.common import (
    QuantityDelegate,
    error_text,
    format_qty,
    format_when,
    plural,
    setup_table,
)
from backoffice.ui.views.transfers.delegates import StatePill
from backoffice.ui.views.transfers.documents import (
    DocumentLine,
    TransferDocument,
    write_document,
)
from backoffice.ui.views.transfers.model import (
    COL_AVAILABLE,
    COL_LINE_TRANSIT,
    COL_QUANTITY,
    COL_RECEIVED,
    COL_SHIPPED,
    LINE_COLUMNS,
    EditLine,
    lines_model,
)
from backoffice.ui.views.transfers.step_dialogs import CloseDialog, ReceiveDialog
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.scanner import CodeResolver, ScanField

INTERNAL_KINDS = ("warehouse", "store")
EDIT_TRIGGERS = (QTableView.EditTrigger.DoubleClicked | QTableView.EditTrigger.EditKeyPressed
                 | QTableView.EditTrigger.AnyKeyPressed)


class SavedThenFailed(Exception):
    """Saving the draft worked, the step after it did not: show the saved draft, then the error."""

    def __init__(self, saved: TransferInfo, error: BaseException) -> None:
        super().__init__(str(error))
        self.saved, self.error = saved, error


class TransferEditor(QFrame):
    saved = Signal(object)          # a TransferInfo after any write
    message = Signal(str, str)      # text, level: for the view's banner

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.context, self.tasks = context, tasks
        self.transfer: TransferInfo | None = None
        self.dirty = False
        self.dialog: Any = None
        self._busy = False
        self._ops: dict[str, str] = {}
        self._available_generation = 0
        self._load_generation = 0

        self.heading = QLabel(self.tr("New transfer"))
        self.heading.setObjectName("DetailsTitle")
        self.pill = StatePill()
        self.meta = QLabel()
        self.meta.setObjectName("Muted")
        self.source = QComboBox()
        self.destination = QComboBox()
        for combo in (self.source, self.destination):
            combo.setMinimumContentsLength(14)
            combo.currentIndexChanged.connect(self._on_route_changed)
        self.note = QLineEdit()
        self.note.setPlaceholderText(self.tr("Note for the people packing and receiving (optional)"))
        self.note.setMaxLength(500)
        self.note.textEdited.connect(lambda _t: self._set_dirty())
        self.scan = ScanField()
        self.resolver = CodeResolver(tasks, lambda code: transfers.find_variant_by_code(context.db, code), self)
        self.resolver.resolved.connect(self._on_resolved)
        self.resolver.failed.connect(lambda _code, exc: self.banner.show_message(error_text(exc), "error"))
        self.scan.scanned.connect(self.resolver.submit)
        self.model = lines_model(self, self._on_edit)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=LINE_COLUMNS[1].header)
        self.table.setItemDelegateForColumn(COL_QUANTITY, QuantityDelegate(minimum=1, parent=self.table))
        self.remove_button = QPushButton(self.tr("Remove line"))
        self.remove_button.setProperty("flat", True)
        self.remove_button.clicked.connect(self.remove_current_line)
        self.totals = QLabel()
        self.totals.setObjectName("Muted")
        self.banner = MessageBanner()

        self.save_button = self._button(self.tr("Save draft"), self.save_draft)
        self.ship_button = self._button(self.tr("Ship"), self.ship, primary=True)
        self.receive_button = self._button(self.tr("Receive…"), self.open_receive, primary=True)
        self.close_button = self._button(self.tr("Close…"), self.open_close)
        self.cancel_button = self._button(self.tr("Cancel transfer"), self.cancel_transfer)
        self.export_button = QToolButton()
        self.export_button.setObjectName("MenuButton")
        self.export_button.setText(self.tr("Pick list"))
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        menu.addAction(self.tr("PDF…"), partial(self._ask_export, "pdf"))
        menu.addAction(self.tr("Excel workbook (.xlsx)…"), partial(self._ask_export, "xlsx"))
        self.export_button.setMenu(menu)

        title_row = QHBoxLayout()
        title_row.addWidget(self.heading)
        title_row.addWidget(self.pill)
        title_row.addStretch(1)
        title_row.addWidget(self.export_button)
        route = QHBoxLayout()
        route.addWidget(self.source, 1)
        route.addWidget(QLabel("→"))
        route.addWidget(self.destination, 1)
        form = QFormLayout()
        form.addRow(self.tr("From → to"), route)
        form.addRow(self.tr("Note"), self.note)
        form.addRow(self.tr("Add items"), self.scan)
        under = QHBoxLayout()
        under.addWidget(self.totals, 1)
        under.addWidget(self.remove_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        for b in (self.save_button, self.close_button, self.receive_button, self.ship_button):
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
        self.new_transfer()

    @staticmethod
    def _button(text: str, slot, *, primary: bool = False) -> QPushButton:  # type: ignore[no-untyped-def]
        button = QPushButton(text)
        button.setProperty("primary", primary)
        button.clicked.connect(slot)
        return button

    # -- what is shown ---------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.transfer.state if self.transfer else "new"

    @property
    def editable(self) -> bool:
        return self.state in ("new", "draft")

    @property
    def lines(self) -> list[EditLine]:
        return self.model.rows

    def set_locations(self, locations: list[dict[str, Any]]) -> None:
        for combo in (self.source, self.destination):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for loc in locations:
                if loc["kind"] in INTERNAL_KINDS and loc.get("active", True):
                    combo.addItem(f"{loc['code']} · {loc['name']}", loc["id"])
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)
        if self.transfer is not None:
            self._select_route(self.transfer.source_location_id, self.transfer.destination_location_id)
        elif self.destination.currentIndex() == self.source.currentIndex() and self.destination.count() > 1:
            self.destination.setCurrentIndex(1)

    def _select_route(self, source_id: int, destination_id: int) -> None:
        for combo, loc_id in ((self.source, source_id), (self.destination, destination_id)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(loc_id))
            combo.blockSignals(False)

    def new_transfer(self) -> None:
        self._load_generation += 1
        self.transfer, self._ops = None, {}
        self.note.clear()
        self.model.set_rows([])
        self.banner.hide()
        if self.destination.currentIndex() == self.source.currentIndex() and self.destination.count() > 1:
            self.destination.setCurrentIndex(1)
        self._set_dirty(False)
        self._refresh()
        self.scan.setFocus()

    def load(self, transfer_id: int) -> None:
        db = self.context.db
        if db is None:
            return
        self._load_generation += 1
        gen = self._load_generation
        self._busy = True
        self._refresh()
        self.tasks.run_in_background(lambda: transfers.get_transfer(db, transfer_id), partial(self._on_loaded, gen),
                                     self._on_failed, context=self)

    def _on_loaded(self, gen: int, info: TransferInfo) -> None:
        self._busy = False
        if gen == self._load_generation:
            self.show_transfer(info)
        else:
            self._refresh()

    def show_transfer(self, info: TransferInfo) -> None:
        if self.transfer is None or (self.transfer.id, self.transfer.state) != (info.id, info.state):
            self._ops = {}   # a new step: new operation ids
        self.transfer = info
        self.note.setText(info.note)
        self._select_route(info.source_location_id, info.destination_location_id)
        self.model.set_rows([EditLine.from_info(ln) for ln in info.lines])
        for ln in info.lines:
            self._remember(ln.sku, ln.barcode, ln.variant_id, ln.title)
        self._set_dirty(False)
        self._refresh()
        self._load_available()

    def _refresh(self) -> None:
        state, editable, busy = self.state, self.editable, self._busy
        info = self.transfer
        self.heading.setText(info.number if info else self.tr("New transfer"))
        self.pill.set_state(info.state if info else "")
        if info is None:
            self.meta.setText(self.tr("Choose where the stock goes, then scan or type the items."))
        else:
            parts = [self.tr("Created {when} by {user}").format(when=format_when(info.created_at), user=info.created_by)]
            if info.shipped_at:
                parts.append(self.tr("shipped {when}").format(when=format_when(info.shipped_at)))
            if info.received_at:
                parts.append(self.tr("last received {when}").format(when=format_when(info.received_at)))
            self.meta.setText(" · ".join(parts))
        for w in (self.source, self.destination, self.note, self.scan, self.remove_button):
            w.setEnabled(editable and not busy)
        self.table.setEditTriggers(EDIT_TRIGGERS if editable else QTableView.EditTrigger.NoEditTriggers)
        self.table.setColumnHidden(COL_AVAILABLE, not editable)
        for col in (COL_SHIPPED, COL_RECEIVED, COL_LINE_TRANSIT):
            self.table.setColumnHidden(col, editable)
        has_lines = bool(self.lines)
        self.save_button.setVisible(editable)
        self.save_button.setEnabled(not busy and self.dirty and has_lines)
        self.ship_button.setVisible(editable)
        self.ship_button.setEnabled(not busy and has_lines)
        self.receive_button.setVisible(state in ("shipped", "partial"))
        self.close_button.setVisible(state in ("shipped", "partial"))
        self.cancel_button.setVisible(state in ("draft", "shipped", "partial"))
        for b in (self.receive_button, self.close_button, self.cancel_button):
            b.setEnabled(not busy)
        self.export_button.setEnabled(has_lines and not busy)
        units = sum(ln.quantity for ln in self.lines)
        short = sum(1 for ln in self.lines if ln.short) if editable else 0
        text = (plural(len(self.lines), self.tr("{n} line"), self.tr("{n} lines")) + " · "
                + plural(units, self.tr("{n} unit"), self.tr("{n} units")))
        if info is not None and not editable:
            text += " · " + self.tr("{n} in transit").format(n=format_qty(info.in_transit))
        if short:
            text += " · " + plural(short, self.tr("{n} line more than available"),
                                   self.tr("{n} lines more than available"))
        self.totals.setText(text)

    def _set_dirty(self, dirty: bool = True) -> None:
        self.dirty = dirty
        self._refresh()

    # -- editing a draft -------------------------------------------------------------------------------
    def _remember(self, sku: str, barcode: str | None, variant_id: int, title: str) -> None:
        found = {"variant_id": variant_id, "sku": sku, "barcode": barcode, "title": title}
        self.resolver.remember(sku, found)
        self.resolver.remember(barcode, found)

    def _on_resolved(self, code: str, variant: dict[str, Any] | None) -> None:
        if not self.editable:
            return
        if variant is None:
            self.scan.flash_error()
            self.banner.show_message(self.tr("No item has the barcode or SKU “{code}”.").format(code=code), "error")
            return
        self.banner.hide()
        self.add_variant(variant)

    def add_variant(self, variant: dict[str, Any], quantity: int = 1) -> None:
        for i, line in enumerate(self.lines):
            if line.variant_id == variant["variant_id"]:
                self.model.replace_row(i, replace(line, quantity=line.quantity + quantity))
                self.table.setCurrentIndex(self.model.index(i, COL_QUANTITY))
                self._set_dirty()
                return
        self.model.append_rows([EditLine(variant["variant_id"], variant["sku"], variant.get("barcode"),
                                         variant["title"], quantity)])
        self.table.setCurrentIndex(self.model.index(len(self.lines) - 1, COL_QUANTITY))
        self._set_dirty()
        self._load_available()

    def _on_edit(self, row: int, _column: int, value: Any) -> bool:
        if not self.editable or int(value) < 1:
            return False
        self.model.replace_row(row, replace(self.lines[row], quantity=int(value)))
        self._set_dirty()
        return True

    def remove_current_line(self) -> None:
        row = self.table.currentIndex().row()
        if self.editable and 0 <= row < len(self.lines):
            rows = self.lines
            del rows[row]
            self.model.set_rows(rows)
            self._set_dirty()

    def _on_route_changed(self) -> None:
        self._set_dirty()
        self._load_available()

    def _load_available(self) -> None:
        db, source = self.context.db, self.source.currentData()
        vids = [ln.variant_id for ln in self.lines]
        if db is None or source is None or not vids or not self.editable:
            return
        self._available_generation += 1
        gen = self._available_generation
        self.tasks.run_in_background(lambda: transfers.available_at(db, source, vids), partial(self._on_available, gen),
                                     lambda exc: None, context=self)

    def _on_available(self, gen: int, available: dict[int, int]) -> None:
        if gen != self._available_generation:
            return
        self.model.set_rows([replace(ln, available=available.get(ln.variant_id, ln.available)) for ln in self.lines])
        self._refresh()

    # -- steps -----------------------------------------------------------------------------------------
    def _op(self, step: str) -> str:
        return self._ops.setdefault(step, new_operation_id())

    def _save_work(self):  # type: ignore[no-untyped-def]
        """A function that saves the draft as edited (create or update) in a worker; None if nothing to save."""
        db, actor, info = self.context.db, self.context.actor, self.transfer
        lines = [(ln.variant_id, ln.quantity) for ln in self.lines]
        src, dst, note = self.source.currentData(), self.destination.currentData(), self.note.text().strip()
        if info is None:
            return lambda: transfers.create_transfer(db, actor, source_location_id=src, destination_location_id=dst,
                                                     lines=lines, note=note)
        if not self.dirty:
            return None
        return lambda: transfers.update_draft(db, actor, info.id, expected_version=info.version, lines=lines,
                                              note=note, source_location_id=src, destination_location_id=dst)

    def save_draft(self) -> None:
        work = self._save_work()
        if work is not None and not self._busy:
            self._run(work, self.tr("{number} saved."))

    def ship(self) -> None:
        if self._busy or not self.lines:
            return
        db, actor, op, save = self.context.db, self.context.actor, self._op("ship"), self._save_work()
        current = self.transfer

        def work() -> TransferInfo:
            saved = save() if save is not None else current
            try:
                return transfers.ship_transfer(db, actor, saved.id, operation_id=op)
            except Exception as exc:
                if save is None:
                    raise
                raise SavedThenFailed(saved, exc) from exc

        self._run(work, self.tr("{number} shipped: the stock is in transit."))

    def cancel_transfer(self) -> None:
        info = self.transfer
        if self._busy or info is None or not self._confirm_cancel(info):
            return
        db, actor, op = self.context.db, self.context.actor, self._op("cancel")
        self._run(lambda: transfers.cancel_transfer(db, actor, info.id, operation_id=op),
                  self.tr("{number} cancelled."))

    def _confirm_cancel(self, info: TransferInfo) -> bool:
        text = (self.tr("Cancel {number}? What is in transit goes back to {source}.") if info.state != "draft"
                else self.tr("Cancel the draft {number}?")).format(number=info.number, source=info.source)
        answer = QMessageBox.question(self, self.tr("Cancel transfer"), text)
        return answer == QMessageBox.StandardButton.Yes

    def _run(self, work, done_text: str) -> None:  # type: ignore[no-untyped-def]
        self._busy = True
        self.banner.hide()
        self._refresh()

        def done(info: TransferInfo) -> None:
            self._busy = False
            self.show_transfer(info)
            self.message.emit(done_text.format(number=info.number), "success")
            self.saved.emit(info)
            self.context.notify_data_changed()

        self.tasks.run_in_background(work, done, self._on_failed, context=self)

    def _on_failed(self, exc: BaseException) -> None:
        self._busy = False
        if isinstance(exc, SavedThenFailed):
            self.show_transfer(exc.saved)
            self.saved.emit(exc.saved)
            self.context.notify_data_changed()
            exc = exc.error
        self._refresh()
        self.banner.show_message(error_text(exc), "error")

    def _open_step(self, dialog: ReceiveDialog | CloseDialog, done_text: str | Callable[[TransferInfo], str]) -> Any:
        def text(info: TransferInfo) -> str:
            return done_text(info) if callable(done_text) else done_text.format(number=info.number)

        dialog.completed.connect(lambda info: (self.show_transfer(info), self.saved.emit(info),
                                               self.message.emit(text(info), "success")))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.dialog = dialog
        dialog.open()
        return dialog

    def open_receive(self) -> ReceiveDialog | None:
        if self.transfer is None or self.state not in ("shipped", "partial"):
            return None
        dialog = ReceiveDialog(self.context, self.tasks, self.transfer, self)
        return self._open_step(dialog, dialog.receipt_text)

    def open_close(self) -> CloseDialog | None:
        if self.transfer is None or self.state not in ("shipped", "partial"):
            return None
        return self._open_step(CloseDialog(self.context, self.tasks, self.transfer, self), self.tr("{number} closed."))

    # -- pick list / packing slip ------------------------------------------------------------------------
    def document(self) -> TransferDocument:
        info = self.transfer
        shipped = info is not None and info.state not in ("draft", "cancelled")
        lines = tuple(DocumentLine(ln.sku, ln.barcode or "", ln.title, ln.shipped if shipped else ln.quantity)
                      for ln in self.lines)
        return TransferDocument("packing" if shipped else "pick", info.number if info else "", info.state if info else "new",
                                self.source.currentText(), self.destination.currentText(), self.note.text().strip(),
                                info.created_by if info else "", info.created_at if info else None, lines)

    def _ask_export(self, suffix: str) -> None:
        doc = self.document()
        name = f"{doc.number or 'transfer'}-{'packing-slip' if doc.kind == 'packing' else 'pick-list'}.{suffix}"
        filters = self.tr("PDF document (*.pdf)") if suffix == "pdf" else self.tr("Excel workbook (*.xlsx)")
        path, _ = QFileDialog.getSaveFileName(self, doc.title, str(Path.home() / name), filters)
        if path:
            self.export_document(path if path.lower().endswith(f".{suffix}") else f"{path}.{suffix}")

    def export_document(self, path: str | Path) -> None:
        doc = self.document()
        self.export_button.setEnabled(False)

        def done(written: Path) -> None:
            self.export_button.setEnabled(True)
            self.message.emit(self.tr("{title} written to {path}").format(title=doc.title, path=written), "success")

        def failed(exc: BaseException) -> None:
            self.export_button.setEnabled(True)
            self.banner.show_message(error_text(exc), "error")

        self.tasks.run_in_background(lambda: write_document(doc, path), done, failed, context=self)
