"""The transfer editor: a new or saved transfer, its lines, and the step its state allows (a document
editor: see ``widgets.document_editor``).

A draft is edited here: source and destination (warehouses and stores), lines added by scanning (a USB
scanner types the code and Enter into the focused scan field: a known code adds the line or one more
unit; an unknown one beeps, flashes the field and names the code) or by typing a SKU, quantities edited
in place and marked red when the source has fewer available. Then Ship; once shipped, Receive…,
Close… or Cancel. Every step runs in the background with the buttons off, and a stock-moving step keeps
its operation id until it succeeds, so a double click or a retry moves the stock once.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from backoffice.operations import Changes, Operations
from backoffice.operations.changes import TRANSFERS
from backoffice.operations.transfers import DocumentLine, TransferDocument, TransferInfo, document_kind, new_op_id
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_qty, format_when, plural, translator
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.transfers.models import (
    COL_AVAILABLE,
    COL_LINE_TRANSIT,
    COL_QUANTITY,
    COL_RECEIVED,
    COL_SHIPPED,
    LINE_COLUMNS,
    EditLine,
    lines_model,
    state_label,
)
from backoffice.ui.views.transfers.step_dialogs import CloseDialog, ReceiveDialog
from backoffice.ui.widgets.document_editor import DocumentEditor, choose, fill_combo, stock_locations
from backoffice.ui.widgets.pills import StatePill
from backoffice.ui.widgets.scanner import CodeResolver

tr = translator("Stock")


class TransferEditor(DocumentEditor):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, lambda editor: lines_model(editor, editor._on_edit), pill=StatePill(state_label),
                         new_title=tr("New transfer"), unsaved_name=tr("the new transfer"),
                         export_text=tr("Pick list"), stretch=LINE_COLUMNS[1].header,
                         quantity_column=COL_QUANTITY, parent=parent)
        self._ops: dict[str, str] = {}
        self._available_generation = 0
        self.source = QComboBox()
        self.destination = QComboBox()
        for combo in (self.source, self.destination):
            combo.setMinimumContentsLength(14)
            combo.currentIndexChanged.connect(self._on_route_changed)
        self.note.setPlaceholderText(tr("Note for the people packing and receiving (optional)"))
        self.resolver = CodeResolver(tasks, self._find_variant, self)
        self.resolver.resolved.connect(self._on_resolved)
        self.resolver.failed.connect(lambda _code, exc: self.banner.show_message(error_text(exc), "error"))
        self.scan.scanned.connect(self.resolver.submit)
        self.ship_button = self.button(tr("Ship"), self.ship, primary=True)
        self.receive_button = self.button(tr("Receive…"), self.open_receive, primary=True)
        self.close_button = self.button(tr("Close…"), self.open_close)
        self.cancel_button = self.button(tr("Cancel transfer"), self.cancel_transfer)
        route = QHBoxLayout()
        route.addWidget(self.source, 1)
        route.addWidget(QLabel("→"))
        route.addWidget(self.destination, 1)
        self.lay_out(tr("From → to"), route, self.cancel_button,
                     (self.close_button, self.receive_button, self.ship_button))
        self.new_transfer()

    def _find_variant(self, code: str) -> dict[str, Any] | None:
        """In the resolver's worker: the scanned code as a variant."""
        ops = self.context.ops
        if ops is None:
            raise RuntimeError(tr("Not connected."))
        return ops.transfers.find_variant(code)

    # -- what is shown ---------------------------------------------------------------------------------
    @property
    def transfer(self) -> TransferInfo | None:
        return self.document

    def set_locations(self, locations: list[dict[str, Any]]) -> None:
        items = stock_locations(locations)
        for combo in (self.source, self.destination):
            fill_combo(combo, items)
        if self.transfer is not None:
            choose([(self.source, self.transfer.source_location_id),
                    (self.destination, self.transfer.destination_location_id)])
        elif self.destination.currentIndex() == self.source.currentIndex() and self.destination.count() > 1:
            self.destination.setCurrentIndex(1)

    def new_transfer(self) -> None:
        self.clear_document()
        self._ops = {}
        if self.destination.currentIndex() == self.source.currentIndex() and self.destination.count() > 1:
            self.destination.setCurrentIndex(1)
        self._set_dirty(False)
        self.scan.setFocus()

    def fetch(self, ops: Operations, document_id: int) -> TransferInfo:
        return ops.transfers.get(document_id)

    def show_document(self, document: TransferInfo) -> None:
        if self.transfer is None or (self.transfer.id, self.transfer.state) != (document.id, document.state):
            self._ops = {}   # a new step: new operation ids
        choose([(self.source, document.source_location_id), (self.destination, document.destination_location_id)])
        for ln in document.lines:
            self._remember(ln.sku, ln.barcode, ln.variant_id, ln.title)
        self.show_lines(document, [EditLine.from_info(ln) for ln in document.lines])
        self.load_available()

    def editable_widgets(self) -> list[QWidget]:
        return [self.source, self.destination, *super().editable_widgets()]

    def meta_text(self) -> str:
        info = self.transfer
        if info is None:
            return tr("Choose where the stock goes, then scan or type the items.")
        parts = [tr("Created {when} by {user}").format(when=format_when(info.created_at), user=info.created_by)]
        if info.shipped_at:
            parts.append(tr("shipped {when}").format(when=format_when(info.shipped_at)))
        if info.received_at:
            parts.append(tr("last received {when}").format(when=format_when(info.received_at)))
        return " · ".join(parts)

    def refresh_steps(self, busy: bool, has_lines: bool) -> None:
        state, editable = self.state, self.editable
        self.table.setColumnHidden(COL_AVAILABLE, not editable)
        for col in (COL_SHIPPED, COL_RECEIVED, COL_LINE_TRANSIT):
            self.table.setColumnHidden(col, editable)
        self.ship_button.setVisible(editable)
        self.ship_button.setEnabled(not busy and has_lines)
        self.receive_button.setVisible(state in ("shipped", "partial"))
        self.close_button.setVisible(state in ("shipped", "partial"))
        self.cancel_button.setVisible(state in ("draft", "shipped", "partial"))
        for b in (self.receive_button, self.close_button, self.cancel_button):
            b.setEnabled(not busy)

    def totals_text(self) -> str:
        info, editable = self.transfer, self.editable
        units = sum(ln.quantity for ln in self.lines)
        short = sum(1 for ln in self.lines if ln.short) if editable else 0
        text = (plural(len(self.lines), tr("{n} line"), tr("{n} lines")) + " · "
                + plural(units, tr("{n} unit"), tr("{n} units")))
        if info is not None and not editable:
            text += " · " + tr("{n} in transit").format(n=format_qty(info.in_transit))
        if short:
            text += " · " + plural(short, tr("{n} line more than available"), tr("{n} lines more than available"))
        return text

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
            self.banner.show_message(tr("No item has the barcode or SKU “{code}”.").format(code=code), "error")
            return
        self.banner.hide()
        self.add_variant(variant)

    def add_variant(self, variant: dict[str, Any], quantity: int = 1) -> None:
        line = EditLine(variant["variant_id"], variant["sku"], variant.get("barcode"), variant["title"], quantity)
        if self.add_line(line, quantity):
            self.load_available()

    def _on_edit(self, row: int, _column: int, value: Any) -> bool:
        if not self.editable or int(value) < 1:
            return False
        self.model.replace_row(row, replace(self.lines[row], quantity=int(value)))
        self._set_dirty()
        return True

    def _on_route_changed(self) -> None:
        self._set_dirty()
        self.load_available()

    def load_available(self) -> None:
        """What the source has available for each line of a draft (marked red where it is short)."""
        source, vids = self.source.currentData(), [ln.variant_id for ln in self.lines]
        if source is None or not vids or not self.editable:
            return
        self._available_generation += 1
        self.lookups.read(lambda ops: ops.transfers.available_at(source, vids),
                          partial(self._show_available, self._available_generation), on_error=lambda exc: None)

    def _show_available(self, gen: int, available: dict[int, int]) -> None:
        if gen != self._available_generation:
            return
        self.model.set_rows([replace(ln, available=available.get(ln.variant_id, ln.available)) for ln in self.lines])
        self._refresh()

    # -- steps -----------------------------------------------------------------------------------------
    def _op(self, step: str) -> str:
        return self._ops.setdefault(step, new_op_id())

    def save_action(self):  # type: ignore[no-untyped-def]
        info = self.transfer
        lines = [(ln.variant_id, ln.quantity) for ln in self.lines]
        src, dst, note = self.source.currentData(), self.destination.currentData(), self.note.text().strip()
        if info is None:
            return lambda ops: ops.transfers.create(source_location_id=src, destination_location_id=dst, lines=lines,
                                                    note=note)
        if not self.dirty:
            return None
        return lambda ops: ops.transfers.update_draft(info.id, expected_version=info.version, lines=lines, note=note,
                                                      source_location_id=src, destination_location_id=dst)

    def edited(self, document: TransferInfo) -> Changes:
        return Changes.of(TRANSFERS, transfer=[document.id])

    def ship(self) -> None:
        if self.busy or not self.lines:
            return
        op = self._op("ship")
        self.run(self.save_then(lambda ops, saved: ops.transfers.ship(saved.id, op_id=op)),
                 tr("{number} shipped: the stock is in transit."))

    def cancel_transfer(self) -> None:
        info = self.transfer
        if self.busy or info is None:
            return
        text = (tr("Cancel {number}? What is in transit goes back to {source}.") if info.state != "draft"
                else tr("Cancel the draft {number}?")).format(number=info.number, source=info.source)
        if self.confirm(tr("Cancel transfer"), text):
            op = self._op("cancel")
            self.run(lambda ops: ops.transfers.cancel(info.id, op_id=op), tr("{number} cancelled."))

    def open_receive(self) -> ReceiveDialog | None:
        if self.transfer is None or self.state not in ("shipped", "partial"):
            return None
        dialog = ReceiveDialog(self.context, self.tasks, self.transfer, self)
        self.open_step(dialog, dialog.receipt_text)
        return dialog

    def open_close(self) -> CloseDialog | None:
        if self.transfer is None or self.state not in ("shipped", "partial"):
            return None
        dialog = CloseDialog(self.context, self.tasks, self.transfer, self)
        self.open_step(dialog, tr("{number} closed."))
        return dialog

    # -- pick list / packing slip ------------------------------------------------------------------------
    def paper_document(self) -> TransferDocument:
        """The pick list or packing slip of the transfer as the editor shows it (saved or not)."""
        info = self.transfer
        kind = document_kind(self.state)
        lines = tuple(DocumentLine(ln.sku, ln.barcode or "", ln.title, ln.shipped if kind == "packing" else ln.quantity)
                      for ln in self.lines)
        return TransferDocument(kind, info.number if info else "", self.state, self.source.currentText(),
                                self.destination.currentText(), self.note.text().strip(),
                                info.created_by if info else "", info.created_at if info else None, lines)

    def paper_name(self) -> tuple[str, str]:
        doc = self.paper_document()
        return doc.title, f"{doc.number or 'transfer'}-{'packing-slip' if doc.kind == 'packing' else 'pick-list'}"

    def paper(self, path: str):  # type: ignore[no-untyped-def]
        doc = self.paper_document()
        return (lambda ops: ops.transfers.write_document(doc, path)), doc.title
