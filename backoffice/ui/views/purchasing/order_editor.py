"""The purchase-order editor: a new or saved order, its lines, and the step its state allows.

A draft is edited here: supplier and destination, lines added by scanning or typing a SKU (the
supplier's item gives the cost and supplier SKU; a variant the supplier does not sell is refused with
its name), quantities and unit costs edited in place. Then Send… (fixes it, sets the expected date,
e-mails the PDF and Excel order when a mail server is set); once sent, Receive…, Close and Cancel. The
document can be exported as PDF or Excel at any time. Every step runs in the background executor.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
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

from backoffice.models import Supplier
from backoffice.services import purchase_orders, suppliers, transfers
from backoffice.services.po_documents import build_document, write_document
from backoffice.services.purchase_orders import OrderInfo
from backoffice.ui.context import AppContext
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.inventory.common import QuantityDelegate, error_text, format_qty, format_when, setup_table
from backoffice.ui.views.purchasing.common import MoneyRecordsModel, StatePill, elide_sku_columns, format_money
from backoffice.ui.views.purchasing.dialogs import ReceiveDialog, SendDialog
from backoffice.ui.views.purchasing.models import COL_LINE_QTY, COL_LINE_RECEIVED, EditLine, line_columns
from backoffice.ui.widgets.banner import MessageBanner
from backoffice.ui.widgets.scanner import CodeResolver, ScanField

EDIT_TRIGGERS = (QTableView.EditTrigger.DoubleClicked | QTableView.EditTrigger.EditKeyPressed
                 | QTableView.EditTrigger.AnyKeyPressed)


def lookup_line(db: Any, supplier_id: int | None, code: str) -> dict[str, Any] | None:
    """A scanned code as a line of this supplier's order (None: unknown code); raises when the supplier
    has no item for the variant."""
    found = transfers.find_variant_by_code(db, code)
    if found is None or supplier_id is None:
        return None
    items = suppliers.list_items(db, supplier_id=supplier_id, variant_ids=[found["variant_id"]])
    return {**found, "item": items[0] if items else None}


class OrderEditor(QFrame):
    saved = Signal(object)          # an OrderInfo after any write
    message = Signal(str, str)

    def __init__(self, context: AppContext, tasks: TaskManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Card")
        self.context, self.tasks = context, tasks
        self.order: OrderInfo | None = None
        self.dirty = False
        self.dialog: Any = None
        self._busy = False
        self._load_generation = 0
        self.locations: list[dict[str, Any]] = []
        self.currency = ""

        self.heading = QLabel(self.tr("New purchase order"))
        self.heading.setObjectName("DetailsTitle")
        self.pill = StatePill()
        self.meta = QLabel()
        self.meta.setObjectName("Muted")
        self.meta.setWordWrap(True)
        self.supplier = QComboBox()
        self.supplier.setMinimumContentsLength(18)
        self.supplier.currentIndexChanged.connect(self._on_supplier_changed)
        self.destination = QComboBox()
        self.destination.currentIndexChanged.connect(lambda _i: self._set_dirty())
        self.note = QLineEdit()
        self.note.setPlaceholderText(self.tr("Note for the supplier (optional)"))
        self.note.setMaxLength(500)
        self.note.textEdited.connect(lambda _t: self._set_dirty())
        self.scan = ScanField()
        self._scan_supplier: int | None = None     # whose items the scanned codes are looked up in
        # In scan order, one lookup at a time, repeated codes answered from the cache.
        self.resolver = CodeResolver(tasks, lambda code: lookup_line(context.db, self._scan_supplier, code), self)
        self.resolver.resolved.connect(self._on_found)
        self.resolver.failed.connect(lambda _code, exc: self.banner.show_message(error_text(exc), "error"))
        self.scan.scanned.connect(self._on_scanned)
        self.model = MoneyRecordsModel(line_columns(lambda: self.currency), self, on_edit=self._on_edit)
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=self.model.columns[2].header)
        elide_sku_columns(self.table, self.model)
        self.table.setItemDelegateForColumn(COL_LINE_QTY, QuantityDelegate(minimum=1, parent=self.table))
        self.remove_button = QPushButton(self.tr("Remove line"))
        self.remove_button.setProperty("flat", True)
        self.remove_button.clicked.connect(self.remove_current_line)
        self.totals = QLabel()
        self.totals.setObjectName("Muted")
        self.banner = MessageBanner()
        self.save_button = self._button(self.tr("Save draft"), self.save_draft)
        self.send_button = self._button(self.tr("Send…"), self.open_send, primary=True)
        self.receive_button = self._button(self.tr("Receive…"), self.open_receive, primary=True)
        self.close_button = self._button(self.tr("Close order"), self.close_order)
        self.cancel_button = self._button(self.tr("Cancel order"), self.cancel_order)
        self.export_button = QToolButton()
        self.export_button.setObjectName("MenuButton")
        self.export_button.setText(self.tr("Document"))
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
        route.addWidget(self.supplier, 2)
        route.addWidget(QLabel("→"))
        route.addWidget(self.destination, 1)
        form = QFormLayout()
        form.addRow(self.tr("Supplier → to"), route)
        form.addRow(self.tr("Note"), self.note)
        form.addRow(self.tr("Add items"), self.scan)
        under = QHBoxLayout()
        under.addWidget(self.totals, 1)
        under.addWidget(self.remove_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        for b in (self.save_button, self.close_button, self.receive_button, self.send_button):
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
        self.new_order()

    @staticmethod
    def _button(text: str, slot, *, primary: bool = False) -> QPushButton:  # type: ignore[no-untyped-def]
        button = QPushButton(text)
        button.setProperty("primary", primary)
        button.clicked.connect(slot)
        return button

    # -- what is shown ---------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self.order.state if self.order else "new"

    @property
    def editable(self) -> bool:
        return self.state in ("new", "draft")

    @property
    def lines(self) -> list[EditLine]:
        return self.model.rows

    def set_choices(self, supplier_rows: list[Any], locations: list[dict[str, Any]]) -> None:
        self.locations = locations
        for combo, items in ((self.supplier, [(f"{s.name} · {s.currency}", s.id) for s in supplier_rows]),
                             (self.destination, [(f"{loc['code']} · {loc['name']}", loc["id"]) for loc in locations
                                                 if loc["kind"] in ("warehouse", "store") and loc.get("active", True)])):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for label, value in items:
                combo.addItem(label, value)
            combo.setCurrentIndex(max(0, combo.findData(current)))
            combo.blockSignals(False)
        self._currencies = {s.id: s.currency for s in supplier_rows}
        if self.order is not None:
            self._select(self.order.supplier_id, self.order.destination_location_id)
        else:
            self.currency = self._currencies.get(self.supplier.currentData(), "")
        self._refresh()

    def _select(self, supplier_id: int, destination_id: int) -> None:
        for combo, value in ((self.supplier, supplier_id), (self.destination, destination_id)):
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(value))
            combo.blockSignals(False)

    def new_order(self) -> None:
        self._load_generation += 1
        self.order = None
        self.note.clear()
        self.model.set_rows([])
        self.banner.hide()
        self.currency = getattr(self, "_currencies", {}).get(self.supplier.currentData(), "")
        self._set_dirty(False)
        self.scan.setFocus()

    def load(self, order_id: int) -> None:
        db = self.context.db
        if db is None:
            return
        self._load_generation += 1
        gen = self._load_generation
        self._busy = True
        self._refresh()
        self.tasks.run_in_background(lambda: purchase_orders.get_order(db, order_id), partial(self._on_loaded, gen),
                                     self._on_failed, context=self)

    def _on_loaded(self, gen: int, info: OrderInfo) -> None:
        self._busy = False
        if gen == self._load_generation:
            self.show_order(info)
        else:
            self._refresh()

    def show_order(self, info: OrderInfo) -> None:
        self.order, self.currency = info, info.currency
        self.note.setText(info.note)
        self._select(info.supplier_id, info.destination_location_id)
        self.model.set_rows([EditLine.from_info(ln) for ln in info.lines])
        self._set_dirty(False)

    def _refresh(self) -> None:
        editable, busy, info = self.editable, self._busy, self.order
        self.heading.setText(info.number if info else self.tr("New purchase order"))
        self.pill.set_state(info.state if info else "", info.late() if info else False)
        if info is None:
            self.meta.setText(self.tr("Choose the supplier and where the goods go, then scan or type the items."))
        else:
            parts = [self.tr("Created {when} by {user}").format(when=format_when(info.created_at), user=info.created_by)]
            if info.sent_at:
                parts.append(self.tr("sent {when}").format(when=format_when(info.sent_at)))
            if info.expected_on:
                parts.append(self.tr("expected {day}").format(day=info.expected_on.isoformat()))
            if info.receipts:
                parts.append(self.tr("{n} receipts").format(n=format_qty(len(info.receipts))))
            self.meta.setText(" · ".join(parts))
        self.supplier.setEnabled(self.order is None and not busy)
        for w in (self.destination, self.note, self.scan, self.remove_button):
            w.setEnabled(editable and not busy)
        self.remove_button.setVisible(editable)
        self.table.setEditTriggers(EDIT_TRIGGERS if editable else QTableView.EditTrigger.NoEditTriggers)
        self.table.setColumnHidden(COL_LINE_RECEIVED, editable)
        has_lines = bool(self.lines)
        self.save_button.setVisible(editable)
        self.save_button.setEnabled(not busy and self.dirty and has_lines)
        self.send_button.setVisible(editable)
        self.send_button.setEnabled(not busy and has_lines)
        self.receive_button.setVisible(self.state in ("sent", "partial"))
        self.close_button.setVisible(self.state in ("partial", "received"))
        self.cancel_button.setVisible(self.state in ("draft", "sent"))
        for b in (self.receive_button, self.close_button, self.cancel_button):
            b.setEnabled(not busy)
        self.export_button.setEnabled(info is not None and has_lines and not busy)
        total = sum((ln.line_total for ln in self.lines), Decimal("0.00"))
        text = self.tr("{lines} lines · {units} units · {total}").format(
            lines=format_qty(len(self.lines)), units=format_qty(sum(ln.quantity for ln in self.lines)),
            total=format_money(total, self.currency))
        if info is not None and not editable:
            text += " · " + self.tr("{n} outstanding").format(n=format_qty(info.outstanding))
        self.totals.setText(text)

    def _set_dirty(self, dirty: bool = True) -> None:
        self.dirty = dirty
        self._refresh()

    def _on_supplier_changed(self) -> None:
        self.currency = getattr(self, "_currencies", {}).get(self.supplier.currentData(), "")
        if self.order is None and self.lines:
            self.model.set_rows([])   # another supplier's costs and items: start the lines again
        self._set_dirty()

    # -- editing a draft -------------------------------------------------------------------------------
    def _on_scanned(self, code: str) -> None:
        supplier_id = self.supplier.currentData()
        if self.context.db is None or supplier_id is None or not self.editable:
            return
        if supplier_id != self._scan_supplier:
            self._scan_supplier = supplier_id
            self.resolver.forget_all()
        self.resolver.submit(code)

    def _on_found(self, code: str, found: dict[str, Any] | None) -> None:
        if found is None or found["item"] is None:
            self.scan.flash_error()
            text = (self.tr("No item has the barcode or SKU “{code}”.").format(code=code) if found is None else
                    self.tr("{supplier} has no supplier item for {sku}: add one under Suppliers first.").format(
                        supplier=self.supplier.currentText().split(" · ")[0], sku=found["sku"]))
            self.banner.show_message(text, "error")
            return
        self.banner.hide()
        item = found["item"]
        for i, line in enumerate(self.lines):
            if line.variant_id == found["variant_id"]:
                self.model.replace_row(i, replace(line, quantity=line.quantity + 1))
                self._set_dirty()
                return
        self.model.append_rows([EditLine(found["variant_id"], found["sku"], found.get("barcode"), found["title"],
                                         item.supplier_sku, max(1, item.min_order_qty), item.unit_cost)])
        self.table.setCurrentIndex(self.model.index(len(self.lines) - 1, COL_LINE_QTY))
        self._set_dirty()

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
                self.banner.show_message(self.tr("“{value}” is not an amount.").format(value=value), "error")
                return False
            if not cost.is_finite() or cost < 0:
                return False
            line = replace(line, unit_cost=cost.quantize(Decimal("0.01")))
        self.model.replace_row(row, line)
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
    def _save_work(self):  # type: ignore[no-untyped-def]
        db, actor, info = self.context.db, self.context.actor, self.order
        lines = [(ln.variant_id, ln.quantity, str(ln.unit_cost)) for ln in self.lines]
        supplier, dest, note = self.supplier.currentData(), self.destination.currentData(), self.note.text().strip()
        if info is None:
            return lambda: purchase_orders.create_order(db, actor, supplier_id=supplier, destination_location_id=dest,
                                                        lines=lines, note=note)
        if not self.dirty:
            return None
        return lambda: purchase_orders.update_draft(db, actor, info.id, expected_version=info.version, lines=lines,
                                                    note=note, destination_location_id=dest)

    def save_draft(self) -> None:
        work = self._save_work()
        if work is not None and not self._busy:
            self._run(work, self.tr("{number} saved."))

    def open_send(self) -> None:
        """Save the draft if it changed, then ask how to send it."""
        if self._busy or not self.lines:
            return
        work = self._save_work()
        if work is None:
            self._open_send_dialog(self.order)
            return
        self._busy = True
        self._refresh()

        def saved(info: OrderInfo) -> None:
            self._busy = False
            self.show_order(info)
            self.saved.emit(info)
            self.context.notify_data_changed()
            self._open_send_dialog(info)

        self.tasks.run_in_background(work, saved, self._on_failed, context=self)

    def _open_send_dialog(self, info: OrderInfo | None) -> None:
        if info is None:
            return
        self.dialog = SendDialog(self.context, self.tasks, info, self)
        self.dialog.completed.connect(partial(self._after_step, self.tr("{number} sent.")))
        self.dialog.open()

    def open_receive(self) -> None:
        if self.order is None or self._busy:
            return
        self.dialog = ReceiveDialog(self.context, self.tasks, self.order, self.locations, self)
        self.dialog.completed.connect(partial(self._after_step, self.tr("Receipt posted to {number}.")))
        self.dialog.open()

    def _after_step(self, text: str, info: OrderInfo) -> None:
        self.show_order(info)
        self.saved.emit(info)
        self.message.emit(text.format(number=info.number), "success")

    def close_order(self) -> None:
        info = self.order
        if info is None or self._busy:
            return
        text = self.tr("Close {number}? The {n} units still outstanding will not be expected any more.").format(
            number=info.number, n=format_qty(info.outstanding))
        if QMessageBox.question(self, self.tr("Close order"), text) == QMessageBox.StandardButton.Yes:
            db, actor = self.context.db, self.context.actor
            self._run(lambda: purchase_orders.close_order(db, actor, info.id), self.tr("{number} closed."))

    def cancel_order(self) -> None:
        info = self.order
        if info is None or self._busy:
            return
        if QMessageBox.question(self, self.tr("Cancel order"), self.tr("Cancel {number}?").format(
                number=info.number)) == QMessageBox.StandardButton.Yes:
            db, actor = self.context.db, self.context.actor
            self._run(lambda: purchase_orders.cancel_order(db, actor, info.id), self.tr("{number} cancelled."))

    def _run(self, work, done_text: str) -> None:  # type: ignore[no-untyped-def]
        self._busy = True
        self._refresh()

        def done(info: OrderInfo) -> None:
            self._busy = False
            self.show_order(info)
            self.saved.emit(info)
            self.message.emit(done_text.format(number=info.number), "success")
            self.context.notify_data_changed()

        self.tasks.run_in_background(work, done, self._on_failed, context=self)

    def _on_failed(self, exc: BaseException) -> None:
        self._busy = False
        self._refresh()
        self.banner.show_message(error_text(exc), "error")

    # -- the document --------------------------------------------------------------------------------
    def _ask_export(self, suffix: str) -> None:
        if self.order is None:
            return
        filters = self.tr("PDF document (*.pdf)") if suffix == "pdf" else self.tr("Excel workbook (*.xlsx)")
        path, _ = QFileDialog.getSaveFileName(self, self.order.number, str(Path.home() / f"{self.order.number}.{suffix}"),
                                              filters)
        if path:
            self.export_document(path if path.lower().endswith(f".{suffix}") else f"{path}.{suffix}")

    def export_document(self, path: str | Path) -> None:
        db, info = self.context.db, self.order
        if db is None or info is None:
            return
        self.export_button.setEnabled(False)

        def work() -> Path:
            with db.read() as session:
                doc = build_document(info, session.get(Supplier, info.supplier_id))
            return write_document(doc, path)

        def done(written: Path) -> None:
            self._refresh()
            self.message.emit(self.tr("{number} written to {path}").format(number=info.number, path=written), "success")

        self.tasks.run_in_background(work, done, self._on_failed, context=self)
