"""The Orders view's item models and words: the list of orders (newest first, keyset pages), an order's
lines, shipments, returns and timeline; order states and payment statuses in plain words. Plain rows
handed in; no queries. The Customers view shows a customer's orders with the same list columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QTableView

from backoffice.operations.orders import OrderLineInfo, OrderSummary
from backoffice.operations.returns import ReturnInfo
from backoffice.ui import theme
from backoffice.ui.format import NO_VALUE, format_amount, format_money, format_qty, format_when, translator
from backoffice.ui.widgets.records import OBJECT_ROLE, RIGHT, SORT_ROLE, Column, RecordsModel

CONTEXT = "Sales"
tr = translator(CONTEXT)
N = QT_TRANSLATE_NOOP

# new → (processed) open / allocated → partially_fulfilled → fulfilled; cancelled from any open state
STATES = ("new", "open", "allocated", "partially_fulfilled", "fulfilled", "cancelled")
OPEN_STATES = ("new", "open", "allocated", "partially_fulfilled")
SHIPPABLE_STATES = ("open", "allocated", "partially_fulfilled")
STATE_LABELS = {
    "new": N("Sales", "New"),
    "open": N("Sales", "Waiting for stock"),
    "allocated": N("Sales", "Ready to ship"),
    "partially_fulfilled": N("Sales", "Partly shipped"),
    "fulfilled": N("Sales", "Shipped"),
    "cancelled": N("Sales", "Cancelled"),
}
STATE_HINTS = {
    "new": N("Sales", "Not processed yet: nothing is reserved."),
    "open": N("Sales", "Some units wait for stock; the rest is reserved."),
    "allocated": N("Sales", "Every unit not shipped is reserved."),
    "partially_fulfilled": N("Sales", "Some units have shipped."),
    "fulfilled": N("Sales", "Every unit has shipped or was cancelled."),
    "cancelled": N("Sales", "Nothing left to ship."),
}
STATE_COLOURS = {"new": theme.TEXT_MUTED, "open": theme.WARNING, "allocated": theme.ACCENT,
                 "partially_fulfilled": "#7c3aed", "fulfilled": theme.SUCCESS, "cancelled": theme.DANGER}
PAYMENT_LABELS = {
    "pending": N("Sales", "Pending"),
    "authorised": N("Sales", "Authorised"),
    "paid": N("Sales", "Paid"),
    "partially_refunded": N("Sales", "Partly refunded"),
    "refunded": N("Sales", "Refunded"),
    "cancelled": N("Sales", "Cancelled"),
}
RETURN_STATE_LABELS = {
    "authorised": N("Sales", "Authorised"),
    "received": N("Sales", "Received"),
    "cancelled": N("Sales", "Cancelled"),
}
REFUND_LABELS = {"pending": N("Sales", "refund pending"), "refunded": N("Sales", "refunded"),
                 "declined": N("Sales", "refund declined")}
CONDITION_LABELS = {"restock": N("Sales", "Back to stock"), "damaged": N("Sales", "Damaged: write off")}


def _label(labels: dict[str, str], value: str) -> str:
    label = labels.get(value)
    return tr(label) if label else value.replace("_", " ").capitalize()


def state_label(state: str) -> str:
    return _label(STATE_LABELS, state)


def state_hint(state: str) -> str:
    return _label(STATE_HINTS, state) if state in STATE_HINTS else ""


def payment_label(status: str) -> str:
    return _label(PAYMENT_LABELS, status)


def return_state_label(state: str) -> str:
    return _label(RETURN_STATE_LABELS, state)


def refund_label(status: str) -> str:
    return _label(REFUND_LABELS, status)


def condition_label(condition: str) -> str:
    return _label(CONDITION_LABELS, condition)


def reserved_text(line: OrderLineInfo) -> str:
    """Where a line's units are held: "2 at WH1, 1 at SHOP"; "—" for none."""
    if not line.reservations:
        return NO_VALUE
    return ", ".join(tr("{n} at {location}").format(n=format_qty(r.quantity), location=r.location)
                     for r in line.reservations)


# -- a records model that knows money ---------------------------------------------------------------------
class SalesRecordsModel(RecordsModel):
    """A RecordsModel translated in the Sales context whose ``money`` columns hold (amount, currency)
    pairs, shown exact with their currency (no currency: the store's, as ``format_money`` writes it),
    right-aligned, sorted by the amount. Keyset pages: ``has_more``
    when the last page was full; rows are looked up by ``id``."""

    def __init__(self, columns: Sequence[Column], parent: Any = None, **kwargs: Any) -> None:
        super().__init__(columns, parent, context=CONTEXT, **kwargs)
        self.has_more = False

    def row_of_id(self, row_id: int) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == row_id), -1)

    def last_id(self) -> int | None:
        return self._rows[-1].id if self._rows else None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (role == Qt.ItemDataRole.TextAlignmentRole and orientation == Qt.Orientation.Horizontal
                and 0 <= section < len(self.columns) and self.columns[section].kind == "money"):
            return RIGHT
        return super().headerData(section, orientation, role)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        col = self.columns[index.column()]
        if col.kind != "money" or role in (OBJECT_ROLE, Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole,
                                           Qt.ItemDataRole.ToolTipRole):
            return super().data(index, role)
        amount, currency = col.value(self._rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return format_amount(amount, currency) if currency else format_money(amount)
        if role in (Qt.ItemDataRole.EditRole, SORT_ROLE):
            return amount
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return RIGHT
        return None


UNSORTED_PADDING = 20   # the header's section padding (8 + 8) and its border: these lists have no sort arrow


def fit_headings(table: QTableView, model: RecordsModel) -> None:
    """Column widths as the model says, but no wider than a heading needs in a list that is never sorted
    by a click (``setup_table`` keeps room for the sort arrow): the Sales lists have many narrow numbers."""
    metrics = QFontMetrics(table.horizontalHeader().font())
    for i, column in enumerate(model.columns):
        if column.kind != "sku" and column.width:
            heading = str(model.headerData(i, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) or "")
            table.setColumnWidth(i, max(column.width, int(metrics.horizontalAdvance(heading) * 1.1) + UNSORTED_PADDING))


# -- the list of orders ---------------------------------------------------------------------------------------
NUMBER = N("Sales", "Number")
DATE = N("Sales", "Date")
CUSTOMER = N("Sales", "Customer")
STATE = N("Sales", "State")
PAYMENT = N("Sales", "Payment")
UNITS = N("Sales", "Units")
SHIPPED = N("Sales", "Shipped")
RESERVED = N("Sales", "Reserved")
WAITING = N("Sales", "Waiting")
TOTAL = N("Sales", "Total")

ORDER_COLUMNS = (
    Column(NUMBER, lambda r: r.number, width=100),
    Column(DATE, lambda r: r.ordered_at, "when", 144),
    Column(CUSTOMER, lambda r: r.customer, width=160),
    Column(STATE, lambda r: state_label(r.state), width=134),
    Column(PAYMENT, lambda r: payment_label(r.status), width=84),
    Column(UNITS, lambda r: r.units, "qty", 48),
    Column(SHIPPED, lambda r: r.fulfilled, "qty", 60),
    Column(RESERVED, lambda r: r.reserved, "qty", 64),
    Column(WAITING, lambda r: r.waiting, "qty", 60),
    Column(TOTAL, lambda r: (r.total, r.currency), "money", 104),
)
COL_NUMBER, COL_DATE, COL_CUSTOMER, COL_STATE, COL_PAYMENT = 0, 1, 2, 3, 4
COL_UNITS, COL_SHIPPED, COL_RESERVED, COL_WAITING, COL_TOTAL = 5, 6, 7, 8, 9
OVERDUE_FG = theme.DANGER


def order_tooltip(row: OrderSummary, column: int) -> str | None:
    if column == COL_STATE:
        hint = state_hint(row.state)
        return f"{hint} " + tr("Overdue: older than the order settings allow.") if row.overdue else hint
    if column == COL_WAITING and row.waiting:
        return tr("Units no location could reserve yet: they are reserved when stock arrives.")
    if column == COL_CUSTOMER:
        return row.customer
    return None


def order_foreground(row: OrderSummary, column: int) -> str | None:
    if column == COL_DATE and row.overdue:
        return OVERDUE_FG
    if column == COL_WAITING and row.waiting:
        return theme.WARNING
    if column == COL_CUSTOMER and row.customer_id is None:
        return theme.TEXT_MUTED
    return None


def orders_model(parent: Any = None, columns: Sequence[Column] = ORDER_COLUMNS) -> SalesRecordsModel:
    return SalesRecordsModel(columns, parent, foreground=order_foreground, tooltip=order_tooltip)


# -- an order's lines ------------------------------------------------------------------------------------------
LINE_COLUMNS = (
    Column(N("Sales", "SKU"), lambda r: r.sku, "sku", 110),
    Column(N("Sales", "Product"), lambda r: r.title, width=200),
    Column(N("Sales", "Ordered"), lambda r: r.quantity, "qty", 70),
    Column(SHIPPED, lambda r: r.fulfilled, "qty", 66),
    Column(N("Sales", "Cancelled"), lambda r: r.cancelled, "qty", 76),
    Column(N("Sales", "Returned"), lambda r: r.returned, "qty", 72),
    Column(RESERVED, reserved_text, width=140),
    Column(WAITING, lambda r: r.waiting, "qty", 64),
)
LINE_COL_RESERVED, LINE_COL_WAITING = 6, 7


def lines_model(parent: Any = None) -> SalesRecordsModel:
    def foreground(line: OrderLineInfo, column: int) -> str | None:
        if column == LINE_COL_WAITING and line.waiting:
            return theme.WARNING
        if column == LINE_COL_RESERVED and line.reserved:
            return theme.ACCENT
        return None

    return SalesRecordsModel(LINE_COLUMNS, parent, foreground=foreground)


# -- shipments, returns, timeline ----------------------------------------------------------------------------------
SHIPMENT_HEADERS = (N("Sales", "Shipment"), N("Sales", "From"), N("Sales", "Carrier"), N("Sales", "Tracking"),
                    N("Sales", "Shipped"), N("Sales", "Units"), N("Sales", "By"))
RETURN_HEADERS = (N("Sales", "Return"), N("Sales", "State"), N("Sales", "Units"), N("Sales", "Refund"),
                  N("Sales", "Authorised"), N("Sales", "Received at"))
TIMELINE_HEADERS = (N("Sales", "When"), N("Sales", "Who"), N("Sales", "What"))


def shipment_values(s: Any) -> tuple[str, ...]:
    return (s.number, s.location, s.carrier or NO_VALUE, s.tracking or NO_VALUE, format_when(s.shipped_at),
            format_qty(sum(q for _, _, q in s.lines)), s.username)


def return_values(r: ReturnInfo, currency: str) -> tuple[str, ...]:
    refund = f"{format_amount(r.refund_amount, currency)} · {refund_label(r.refund_status)}"
    received = (f"{r.location} · {format_when(r.received_at)}" if r.received_at else NO_VALUE)
    return (r.number, return_state_label(r.state), format_qty(r.units), refund, format_when(r.created_at), received)


def timeline_values(entry: Any) -> tuple[str, ...]:
    return format_when(entry.at), entry.username, entry.text
