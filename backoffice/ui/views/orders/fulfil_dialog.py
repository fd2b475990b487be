"""Fulfil…: ship an order's units from one location as one shipment, counted by scanning.

The location starts at the one where the order holds most of its reservations. Each line starts at zero
and a scan of its barcode or SKU adds one unit (a USB scanner types the code and Enter); a scan beyond
what is left to ship on the order is refused, with a beep and a message naming the item. "All reserved
here" fills in what the order holds at the location. Carrier and tracking go on the shipment. The
shipment's operation id is made when the dialog opens, so a double click or a retry after an error
ships once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QTableView, QWidget

from backoffice.operations.orders import OrderInfo
from backoffice.ui import theme
from backoffice.ui.context import AppContext
from backoffice.ui.format import format_qty, plural
from backoffice.ui.tasks import TaskManager
from backoffice.ui.views.orders.models import N, SalesRecordsModel, tr
from backoffice.ui.widgets.document_editor import fill_combo, stock_locations
from backoffice.ui.widgets.pills import elide_sku_columns
from backoffice.ui.widgets.records import Column, QuantityDelegate, setup_table
from backoffice.ui.widgets.scanner import ScanField
from backoffice.ui.widgets.step_dialog import StepDialog


@dataclass(frozen=True)
class ShipLine:
    id: int                 # the order line
    sku: str
    barcode: str
    title: str
    left: int               # ordered, not shipped and not cancelled
    reserved_here: int      # held for the line at the chosen location
    shipping: int = 0

    @property
    def beyond_reserved(self) -> bool:
        return self.shipping > self.reserved_here


SHIP_COLUMNS = (
    Column(N("Sales", "SKU"), lambda r: r.sku, "sku", 110),
    Column(N("Sales", "Product"), lambda r: r.title, width=200),
    Column(N("Sales", "Left to ship"), lambda r: r.left, "qty", 86),
    Column(N("Sales", "Reserved here"), lambda r: r.reserved_here, "qty", 100),
    Column(N("Sales", "Ship now"), lambda r: r.shipping, "qty", 80, editable=True),
)
COL_SHIP = 4


def default_location(info: OrderInfo) -> int | None:
    """Where the order holds most of its reserved units (None: nothing is reserved)."""
    held: dict[int, int] = {}
    for ln in info.lines:
        for r in ln.reservations:
            held[r.location_id] = held.get(r.location_id, 0) + r.quantity
    return max(held, key=lambda loc: (held[loc], -loc)) if held else None


class FulfilDialog(StepDialog):
    def __init__(self, context: AppContext, tasks: TaskManager, info: OrderInfo, locations: Sequence[dict[str, Any]],
                 parent: QWidget | None = None) -> None:
        super().__init__(context, tasks, parent)
        self.info = info
        self.setWindowTitle(tr("Fulfil {number}").format(number=info.number))
        self.setMinimumSize(720, 500)
        heading = QLabel(tr("Ship {number} to {customer}").format(number=info.number, customer=info.customer_name))
        heading.setObjectName("DetailsTitle")
        self.location = QComboBox()
        fill_combo(self.location, stock_locations(locations))
        preferred = default_location(info)
        if preferred is not None and self.location.findData(preferred) >= 0:
            self.location.setCurrentIndex(self.location.findData(preferred))
        self.location.currentIndexChanged.connect(lambda _i: self._on_location())
        self.carrier = QLineEdit()
        self.carrier.setMaxLength(60)
        self.carrier.setPlaceholderText(tr("DHL, UPS, La Poste… (optional)"))
        self.tracking = QLineEdit()
        self.tracking.setMaxLength(100)
        self.tracking.setPlaceholderText(tr("Tracking number (optional)"))
        form = QFormLayout()
        form.addRow(tr("Ship from"), self.location)
        form.addRow(tr("Carrier"), self.carrier)
        form.addRow(tr("Tracking"), self.tracking)

        self.model = SalesRecordsModel(SHIP_COLUMNS, self, on_edit=self._on_edit, foreground=self._foreground,
                                       tooltip=self._tooltip)
        self.model.set_rows([ShipLine(ln.id, ln.sku, ln.barcode, ln.title, ln.outstanding, 0)
                             for ln in info.lines if ln.outstanding > 0])
        self.table = QTableView()
        setup_table(self.table, self.model, stretch=SHIP_COLUMNS[1].header)
        elide_sku_columns(self.table, self.model)
        self.table.setItemDelegateForColumn(COL_SHIP, QuantityDelegate(minimum=0, parent=self.table))
        self.scan = ScanField()
        self.scan.setPlaceholderText(tr("Scan each item as it goes into the parcel (adds one)"))
        self.scan.scanned.connect(self.scan_code)
        self.reserved_button = QPushButton(tr("All reserved here"))
        self.reserved_button.setToolTip(tr("Ship every unit the order holds at this location"))
        self.reserved_button.clicked.connect(self.fill_reserved)
        self.zero_button = QPushButton(tr("Start from zero"))
        self.zero_button.clicked.connect(lambda: self._set_all(lambda ln: 0))
        tools = QHBoxLayout()
        tools.addWidget(self.scan, 1)
        tools.addWidget(self.reserved_button)
        tools.addWidget(self.zero_button)
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.summary.setWordWrap(True)
        self.ship_button = self.add_step_button(tr("Ship"), self.ship)
        self.lay_out(heading, form, tools, self.table, self.summary, stretch=self.table)
        self._on_location()
        self.scan.setFocus()

    # -- what is shown ----------------------------------------------------------------------------------------
    @property
    def lines(self) -> list[ShipLine]:
        return self.model.rows

    def quantities(self) -> dict[int, int]:
        """order line id -> units shipping now, the lines with any."""
        return {ln.id: ln.shipping for ln in self.lines if ln.shipping}

    def location_code(self) -> str:
        return self.location.currentText().split(" · ", 1)[0]

    def _on_location(self) -> None:
        loc = self.location.currentData()
        held = {ln.id: sum(r.quantity for r in ln.reservations if r.location_id == loc) for ln in self.info.lines}
        self.model.set_rows([replace(ln, reserved_here=held.get(ln.id, 0)) for ln in self.lines])
        self._refresh()

    @staticmethod
    def _foreground(line: ShipLine, column: int) -> str | None:
        return theme.WARNING if column == COL_SHIP and line.beyond_reserved else None

    def _tooltip(self, line: ShipLine, column: int) -> str | None:
        if column == COL_SHIP and line.beyond_reserved:
            return tr("{n} more than the order holds here: they must be available at {location}.").format(
                n=format_qty(line.shipping - line.reserved_here), location=self.location_code())
        return None

    def _refresh(self) -> None:
        shipping, left = sum(ln.shipping for ln in self.lines), sum(ln.left for ln in self.lines)
        text = plural(left, tr("{shipping} of {n} unit left to ship goes from {location}."),
                      tr("{shipping} of {n} units left to ship go from {location}."),
                      shipping=format_qty(shipping), location=self.location_code() or "—")
        beyond = sum(max(0, ln.shipping - ln.reserved_here) for ln in self.lines)
        if beyond:
            text += " " + plural(beyond, tr("{n} unit is not reserved there: it must be available."),
                                 tr("{n} units are not reserved there: they must be available."))
        self.summary.setText(text)
        self.ship_button.setEnabled(shipping > 0 and self.location.currentData() is not None and not self.busy)

    # -- counting ---------------------------------------------------------------------------------------------
    def scan_code(self, code: str) -> bool:
        """One unit more of the line with this barcode or SKU; False (beep, message) for a code not on the
        order or an item already counted in full."""
        key = code.strip().casefold()
        matches = [i for i, ln in enumerate(self.lines) if key in (ln.sku.casefold(), ln.barcode.casefold())]
        if not matches:
            return self._refuse(tr("“{code}” is not on {number}, or nothing of it is left to ship.").format(
                code=code, number=self.info.number))
        room = [i for i in matches if self.lines[i].shipping < self.lines[i].left]
        if not room:
            line = self.lines[matches[0]]
            left = sum(self.lines[i].left for i in matches)
            return self._refuse(plural(left, tr("{sku}: the {n} unit left to ship is already counted."),
                                       tr("{sku}: all {n} units left to ship are already counted."), sku=line.sku))
        i = room[0]
        self.model.replace_row(i, replace(self.lines[i], shipping=self.lines[i].shipping + 1))
        self.table.setCurrentIndex(self.model.index(i, COL_SHIP))
        self.banner.hide()
        self._refresh()
        return True

    def _refuse(self, text: str) -> bool:
        self.scan.flash_error()
        self.banner.show_message(text, "error")
        return False

    def fill_reserved(self) -> None:
        self._set_all(lambda ln: min(ln.left, ln.reserved_here))

    def _set_all(self, value: Any) -> None:
        self.model.set_rows([replace(ln, shipping=value(ln)) for ln in self.lines])
        self.banner.hide()
        self._refresh()
        self.scan.setFocus()

    def _on_edit(self, row: int, _column: int, value: Any) -> bool:
        line = self.lines[row]
        if int(value) > line.left:
            self.banner.show_message(plural(line.left, tr("{sku}: only {n} unit is left to ship."),
                                            tr("{sku}: only {n} units are left to ship."), sku=line.sku), "error")
            return False
        self.model.replace_row(row, replace(line, shipping=int(value)))
        self._refresh()
        return True

    # -- the step -----------------------------------------------------------------------------------------------
    def ship(self) -> None:
        oid, loc, op = self.info.id, self.location.currentData(), self.operation_id
        quantities, carrier, tracking = self.quantities(), self.carrier.text().strip(), self.tracking.text().strip()
        if not quantities or loc is None:
            return
        self.run_step(lambda ops: ops.orders.fulfil(oid, location_id=loc, quantities=quantities, carrier=carrier,
                                                    tracking=tracking, op_id=op), self.ship_button)

    def done_text(self, info: OrderInfo) -> str:
        shipment = info.shipments[-1].number if info.shipments else ""
        return plural(sum(self.quantities().values()), tr("{number}: {n} unit shipped from {location} ({shipment})."),
                      tr("{number}: {n} units shipped from {location} ({shipment})."), number=info.number,
                      location=self.location_code(), shipment=shipment)
