"""The purchase-order editor: a new or saved order, its lines, and the step its state allows (a document
editor: see ``widgets.document_editor``).

A draft is edited here: supplier and destination, lines added by scanning or typing a SKU (the
supplier's item gives the cost and supplier SKU; a variant the supplier does not sell is refused with
its name), quantities and unit costs edited in place. Then Send… (fixes it, sets the expected date,
e-mails the PDF and Excel order when a mail server is set); once sent, Receive…, Close and Cancel. The
document can be exported as PDF or Excel at any time. Every step runs in the background.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from backoffice.operations import Changes, Operations
from backoffice.operations.changes import PURCHASE_ORDERS
from backoffice.operations.purchase_orders import OrderInfo, ScannedLine
from backoffice.ui.context import AppContext
from backoffice.ui.format import error_text, format_amount, format_qty, format_when
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.purchasing.common import MoneyRecordsModel, state_label, tr
from backoffice.ui.views.purchasing.dialogs import ReceiveDialog, SendDialog
from backoffice.ui.views.purchasing.models import COL_LINE_QTY, COL_LINE_RECEIVED, EditLine, line_columns
from backoffice.ui.widgets.document_editor import DocumentEditor, choose, fill_combo, stock_locations
from backoffice.ui.widgets.pills import StatePill
from backoffice.ui.widgets.scanner import CodeResolver


class OrderEditor(DocumentEditor):
    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, OrderEditor._lines_model, pill=StatePill(state_label, tr("late")),
                         new_title=tr("New purchase order"), unsaved_name=tr("the new order"), export_text=tr("Document"),
                         stretch=line_columns(str)[2].header, quantity_column=COL_LINE_QTY, parent=parent)
        self.locations: list[dict[str, Any]] = []
        self.currency = ""
        self._currencies: dict[int, str] = {}
        self.supplier = QComboBox()
        self.supplier.setMinimumContentsLength(18)
        self.supplier.currentIndexChanged.connect(self._on_supplier_changed)
        self.destination = QComboBox()
        self.destination.currentIndexChanged.connect(lambda _i: self._set_dirty())
        self.note.setPlaceholderText(tr("Note for the supplier (optional)"))
        self._scan_supplier: int | None = None     # whose items the scanned codes are looked up in
        # In scan order, one lookup at a time, repeated codes answered from the cache.
        self.resolver = CodeResolver(tasks, self._find_line, self)
        self.resolver.resolved.connect(self._on_found)
        self.resolver.failed.connect(lambda _code, exc: self.banner.show_message(error_text(exc), "error"))
        self.scan.scanned.connect(self._on_scanned)
        self.send_button = self.button(tr("Send…"), self.open_send, primary=True)
        self.receive_button = self.button(tr("Receive…"), self.open_receive, primary=True)
        self.close_button = self.button(tr("Close order"), self.close_order)
        self.cancel_button = self.button(tr("Cancel order"), self.cancel_order)
        route = QHBoxLayout()
        route.addWidget(self.supplier, 2)
        route.addWidget(QLabel("→"))
        route.addWidget(self.destination, 1)
        self.lay_out(tr("Supplier → to"), route, self.cancel_button,
                     (self.close_button, self.receive_button, self.send_button))
        self.new_order()

    @staticmethod
    def _lines_model(editor: OrderEditor) -> MoneyRecordsModel:
        return MoneyRecordsModel(line_columns(lambda: editor.currency), editor, on_edit=editor._on_edit)

    def _find_line(self, code: str) -> ScannedLine | None:
        """In the resolver's worker: the scanned code as a line of the chosen supplier's order."""
        ops, supplier_id = self.context.ops, self._scan_supplier
        if ops is None or supplier_id is None:
            return None
        return ops.purchase_orders.find_line(supplier_id, code)

    # -- what is shown ---------------------------------------------------------------------------------
    @property
    def order(self) -> OrderInfo | None:
        return self.document

    def set_choices(self, supplier_rows: list[Any], locations: list[dict[str, Any]]) -> None:
        self.locations = locations
        fill_combo(self.supplier, [(f"{s.name} · {s.currency}", s.id) for s in supplier_rows])
        fill_combo(self.destination, stock_locations(locations))
        self._currencies = {s.id: s.currency for s in supplier_rows}
        if self.order is not None:
            choose([(self.supplier, self.order.supplier_id), (self.destination, self.order.destination_location_id)])
        else:
            self.currency = self._currencies.get(self.supplier.currentData(), "")
        self._refresh()

    def new_order(self) -> None:
        self.clear_document()
        self.currency = self._currencies.get(self.supplier.currentData(), "")
        self._set_dirty(False)
        self.scan.setFocus()

    def fetch(self, ops: Operations, document_id: int) -> OrderInfo:
        return ops.purchase_orders.get(document_id)

    def show_document(self, document: OrderInfo) -> None:
        self.currency = document.currency
        choose([(self.supplier, document.supplier_id), (self.destination, document.destination_location_id)])
        self.show_lines(document, [EditLine.from_info(ln) for ln in document.lines])

    def editable_widgets(self) -> list[QWidget]:
        return [self.destination, *super().editable_widgets()]

    def set_pill(self) -> None:
        info = self.order
        self.pill.set_state(info.state if info else "", info.late() if info else False)

    def can_export(self) -> bool:
        return self.order is not None and bool(self.lines)

    def meta_text(self) -> str:
        info = self.order
        if info is None:
            return tr("Choose the supplier and where the goods go, then scan or type the items.")
        parts = [tr("Created {when} by {user}").format(when=format_when(info.created_at), user=info.created_by)]
        if info.sent_at:
            parts.append(tr("sent {when}").format(when=format_when(info.sent_at)))
        if info.expected_on:
            parts.append(tr("expected {day}").format(day=info.expected_on.isoformat()))
        if info.receipts:
            parts.append(tr("{n} receipts").format(n=format_qty(len(info.receipts))))
        return " · ".join(parts)

    def refresh_steps(self, busy: bool, has_lines: bool) -> None:
        state, editable = self.state, self.editable
        self.supplier.setEnabled(self.order is None and not busy)
        self.remove_button.setVisible(editable)
        self.table.setColumnHidden(COL_LINE_RECEIVED, editable)
        self.send_button.setVisible(editable)
        self.send_button.setEnabled(not busy and has_lines)
        self.receive_button.setVisible(state in ("sent", "partial"))
        self.close_button.setVisible(state in ("partial", "received"))
        self.cancel_button.setVisible(state in ("draft", "sent"))
        for b in (self.receive_button, self.close_button, self.cancel_button):
            b.setEnabled(not busy)

    def totals_text(self) -> str:
        info = self.order
        total = sum((ln.line_total for ln in self.lines), Decimal("0.00"))
        text = tr("{lines} lines · {units} units · {total}").format(
            lines=format_qty(len(self.lines)), units=format_qty(sum(ln.quantity for ln in self.lines)),
            total=format_amount(total, self.currency))
        if info is not None and not self.editable:
            text += " · " + tr("{n} outstanding").format(n=format_qty(info.outstanding))
        return text

    def _on_supplier_changed(self) -> None:
        self.currency = self._currencies.get(self.supplier.currentData(), "")
        if self.order is None and self.lines:
            self.model.set_rows([])   # another supplier's costs and items: start the lines again
        self._set_dirty()

    # -- editing a draft -------------------------------------------------------------------------------
    def _on_scanned(self, code: str) -> None:
        supplier_id = self.supplier.currentData()
        if self.context.ops is None or supplier_id is None or not self.editable:
            return
        if supplier_id != self._scan_supplier:
            self._scan_supplier = supplier_id
            self.resolver.forget_all()
        self.resolver.submit(code)

    def _on_found(self, code: str, found: ScannedLine | None) -> None:
        if found is None or found.item is None:
            self.scan.flash_error()
            text = (tr("No item has the barcode or SKU “{code}”.").format(code=code) if found is None else
                    tr("{supplier} has no supplier item for {sku}: add one under Suppliers first.").format(
                        supplier=self.supplier.currentText().split(" · ")[0], sku=found.sku))
            self.banner.show_message(text, "error")
            return
        self.banner.hide()
        item = found.item
        self.add_line(EditLine(found.variant_id, found.sku, found.barcode, found.title, item.supplier_sku,
                               max(1, item.min_order_qty), item.unit_cost))

    def _on_edit(self, row: int, column: int, value: Any) -> bool:
        if not self.editable:
            return False
        line = self.lines[row]
        if column == COL_LINE_QTY:
            if int(value) < 1:
                return False
            line = replace(line, quantity=int(value))
        else:
            try:
                cost = Decimal(str(value).strip().replace(",", "."))
            except InvalidOperation:
                self.banner.show_message(tr("“{value}” is not an amount.").format(value=value), "error")
                return False
            if not cost.is_finite() or cost < 0:
                return False
            line = replace(line, unit_cost=cost.quantize(Decimal("0.01")))
        self.model.replace_row(row, line)
        self._set_dirty()
        return True

    # -- steps -----------------------------------------------------------------------------------------
    def save_action(self):  # type: ignore[no-untyped-def]
        info = self.order
        lines = [(ln.variant_id, ln.quantity, str(ln.unit_cost)) for ln in self.lines]
        supplier, dest, note = self.supplier.currentData(), self.destination.currentData(), self.note.text().strip()
        if info is None:
            return lambda ops: ops.purchase_orders.create(supplier_id=supplier, destination_location_id=dest,
                                                          lines=lines, note=note)
        if not self.dirty:
            return None
        return lambda ops: ops.purchase_orders.update_draft(info.id, expected_version=info.version, lines=lines,
                                                            note=note, destination_location_id=dest)

    def edited(self, document: OrderInfo) -> Changes:
        return Changes.of(PURCHASE_ORDERS, purchase_order=[document.id])

    def open_send(self) -> None:
        """Save the draft if it changed, then ask how to send it."""
        if self.busy or not self.lines:
            return
        action = self.save_action()
        if action is None:
            self._open_send_dialog(self.order)
        else:
            self.run(action, then=self._open_send_dialog)

    def _open_send_dialog(self, info: OrderInfo | None) -> None:
        if info is not None:
            self.open_step(SendDialog(self.context, self.tasks, info, self), tr("{number} sent."))

    def open_receive(self) -> None:
        if self.order is not None and not self.busy:
            self.open_step(ReceiveDialog(self.context, self.tasks, self.order, self.locations, self),
                           tr("Receipt posted to {number}."))

    def close_order(self) -> None:
        info = self.order
        if info is None or self.busy:
            return
        if self.confirm(tr("Close order"), tr("Close {number}? The {n} units still outstanding will not be expected "
                                              "any more.").format(number=info.number, n=format_qty(info.outstanding))):
            self.run(lambda ops: ops.purchase_orders.close(info.id), tr("{number} closed."))

    def cancel_order(self) -> None:
        info = self.order
        if info is None or self.busy:
            return
        if self.confirm(tr("Cancel order"), tr("Cancel {number}?").format(number=info.number)):
            self.run(lambda ops: ops.purchase_orders.cancel(info.id), tr("{number} cancelled."))

    # -- the document --------------------------------------------------------------------------------
    def paper_name(self) -> tuple[str, str]:
        number = self.order.number if self.order is not None else "purchase-order"
        return number, number

    def paper(self, path: str):  # type: ignore[no-untyped-def]
        info = self.order
        return (lambda ops: ops.purchase_orders.write_document(info.id, path)), info.number
