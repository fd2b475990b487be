"""The Transfers view's models: the list of transfers (newest first, keyset pages) and a transfer's lines.
Plain rows handed in; no queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP

from backoffice.operations.transfers import TransferLineInfo, TransferSummary
from backoffice.ui import theme
from backoffice.ui.format import format_qty, translator
from backoffice.ui.widgets.records import Column, RecordsModel

tr = translator("Stock")

STATES = ("draft", "shipped", "partial", "received", "closed", "cancelled")
STATE_LABELS = {
    "draft": QT_TRANSLATE_NOOP("Stock", "Draft"),
    "shipped": QT_TRANSLATE_NOOP("Stock", "Shipped"),
    "partial": QT_TRANSLATE_NOOP("Stock", "Partly received"),
    "received": QT_TRANSLATE_NOOP("Stock", "Received"),
    "closed": QT_TRANSLATE_NOOP("Stock", "Closed"),
    "cancelled": QT_TRANSLATE_NOOP("Stock", "Cancelled"),
}
OPEN_STATES = ("draft", "shipped", "partial")


def state_label(state: str) -> str:
    label = STATE_LABELS.get(state)
    return tr(label) if label else state.capitalize()


NUMBER = QT_TRANSLATE_NOOP("Stock", "Number")
STATE = QT_TRANSLATE_NOOP("Stock", "State")
ROUTE = QT_TRANSLATE_NOOP("Stock", "From → to")
LINES = QT_TRANSLATE_NOOP("Stock", "Lines")
UNITS = QT_TRANSLATE_NOOP("Stock", "Units")
IN_TRANSIT = QT_TRANSLATE_NOOP("Stock", "In transit")
CREATED = QT_TRANSLATE_NOOP("Stock", "Created")
USER = QT_TRANSLATE_NOOP("Stock", "User")

LIST_COLUMNS = (
    Column(NUMBER, lambda r: r.number, width=96),
    Column(STATE, lambda r: state_label(r.state), width=124),
    Column(ROUTE, lambda r: f"{r.source} → {r.destination}", width=130),
    Column(LINES, lambda r: r.lines, "qty", 52),
    Column(UNITS, lambda r: r.units, "qty", 60),
    Column(IN_TRANSIT, lambda r: r.in_transit, "qty", 72),
    Column(CREATED, lambda r: r.created_at, "when", 124),
    Column(USER, lambda r: r.created_by, width=80),
)
COL_NUMBER, COL_STATE = 0, 1


class DocumentListModel(RecordsModel):
    """A list of documents, newest first, a keyset page at a time: ``has_more`` when a page was full."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.has_more = False

    def row_of_id(self, document_id: int) -> int:
        return next((i for i, r in enumerate(self._rows) if r.id == document_id), -1)

    def last_id(self) -> int | None:
        return self._rows[-1].id if self._rows else None


class TransferListModel(DocumentListModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(LIST_COLUMNS, parent, foreground=self._foreground)

    @staticmethod
    def _foreground(row: TransferSummary, column: int) -> str | None:
        if column == 5 and row.in_transit:
            return theme.ACCENT
        return None


# -- a transfer's lines -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EditLine:
    """A line as the editor shows it: what is asked for, what moved, and what the source has now."""

    variant_id: int
    sku: str
    barcode: str | None
    title: str
    quantity: int
    shipped: int = 0
    received: int = 0
    lost: int = 0
    returned: int = 0
    available: int | None = None     # at the source, for a draft; None until loaded

    @property
    def in_transit(self) -> int:
        return self.shipped - self.received - self.lost - self.returned

    @property
    def short(self) -> bool:
        """More asked for than the source has available."""
        return self.available is not None and self.quantity > self.available

    @classmethod
    def from_info(cls, ln: TransferLineInfo) -> EditLine:
        return cls(ln.variant_id, ln.sku, ln.barcode, ln.title, ln.quantity, ln.shipped, ln.received, ln.lost,
                   ln.returned)


QUANTITY = QT_TRANSLATE_NOOP("Stock", "Quantity")
AVAILABLE = QT_TRANSLATE_NOOP("Stock", "Available")
SHIPPED = QT_TRANSLATE_NOOP("Stock", "Shipped")
RECEIVED = QT_TRANSLATE_NOOP("Stock", "Received")

LINE_COLUMNS = (
    Column(QT_TRANSLATE_NOOP("Stock", "SKU"), lambda r: r.sku, "sku", 110),
    Column(QT_TRANSLATE_NOOP("Stock", "Product"), lambda r: r.title, width=200),
    Column(QUANTITY, lambda r: r.quantity, "qty", 72, editable=True),
    Column(AVAILABLE, lambda r: r.available, "qty", 76),
    Column(SHIPPED, lambda r: r.shipped, "qty", 70),
    Column(RECEIVED, lambda r: r.received, "qty", 72),
    Column(IN_TRANSIT, lambda r: r.in_transit, "qty", 76),
)
COL_QUANTITY, COL_AVAILABLE, COL_SHIPPED, COL_RECEIVED, COL_LINE_TRANSIT = 2, 3, 4, 5, 6
SHORT_BG = "#fdecec"


def lines_model(parent: Any, on_edit: Any) -> RecordsModel:
    def foreground(line: EditLine, column: int) -> str | None:
        if line.short and column in (COL_QUANTITY, COL_AVAILABLE):
            return theme.DANGER
        if column == COL_LINE_TRANSIT and line.in_transit:
            return theme.ACCENT
        return None

    def tooltip(line: EditLine, column: int) -> str | None:
        if line.short:
            return tr("{quantity} asked for, but only {available} available at the source").format(
                quantity=format_qty(line.quantity), available=format_qty(line.available))
        return None

    return RecordsModel(LINE_COLUMNS, parent, foreground=foreground, tooltip=tooltip,
                        background=lambda ln: SHORT_BG if ln.short else None, on_edit=on_edit)
