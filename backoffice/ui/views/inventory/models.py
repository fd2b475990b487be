"""The Inventory tables' models: stock levels in keyset pages, availability, history, alerts. No queries.

:class:`StockTableModel` holds ``StockRow`` values. When the table scrolls to the end it calls
``fetchMore``; the model emits :attr:`StockTableModel.more_requested` with the keyset cursor (the last
row's (variant, location) key) and whoever loads pages hands the next one to :meth:`append_page`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal

from backoffice.operations.alerts import AlertRow
from backoffice.operations.stock import LedgerRow, StockRow
from backoffice.ui import theme
from backoffice.ui.format import translator
from backoffice.ui.widgets.records import ROOT, Column, Index, RecordsModel

tr = translator("Stock")

LOW_BG = "#fff4e0"

SKU = QT_TRANSLATE_NOOP("Stock", "SKU")
PRODUCT = QT_TRANSLATE_NOOP("Stock", "Product")
LOCATION = QT_TRANSLATE_NOOP("Stock", "Location")
ON_HAND = QT_TRANSLATE_NOOP("Stock", "On hand")
RESERVED = QT_TRANSLATE_NOOP("Stock", "Reserved")
AVAILABLE = QT_TRANSLATE_NOOP("Stock", "Available")
IN_TRANSIT = QT_TRANSLATE_NOOP("Stock", "In transit")
THRESHOLD = QT_TRANSLATE_NOOP("Stock", "Low at")
REORDER = QT_TRANSLATE_NOOP("Stock", "Reorder at")
INCOMING = QT_TRANSLATE_NOOP("Stock", "Incoming")

STOCK_COLUMNS = (
    Column(SKU, lambda r: r.sku, "sku", 150),
    Column(PRODUCT, lambda r: r.title, width=230),
    Column(LOCATION, lambda r: r.location, width=90),
    Column(ON_HAND, lambda r: r.on_hand, "qty", 82),
    Column(RESERVED, lambda r: r.reserved, "qty", 82),
    Column(AVAILABLE, lambda r: r.available, "qty", 82),
    Column(IN_TRANSIT, lambda r: r.in_transit, "qty", 82),
    Column(THRESHOLD, lambda r: r.threshold, "qty", 70),
    Column(REORDER, lambda r: r.reorder_point, "qty", 82),
    Column(INCOMING, lambda r: r.incoming, "qty", 82),   # still expected on sent purchase orders
)
COL_SKU, COL_PRODUCT, COL_LOCATION, COL_ON_HAND, COL_RESERVED, COL_AVAILABLE, COL_IN_TRANSIT, COL_THRESHOLD, \
    COL_REORDER, COL_INCOMING = range(len(STOCK_COLUMNS))


def _stock_foreground(row: StockRow, column: int) -> str | None:
    if column == COL_AVAILABLE:
        if row.available <= 0:
            return theme.DANGER
        if row.low:
            return theme.WARNING
    if column == COL_IN_TRANSIT and row.in_transit:
        return theme.ACCENT
    if column == COL_INCOMING and row.incoming:
        return theme.ACCENT
    return None


def _stock_tooltip(row: StockRow, column: int) -> str | None:
    if row.low:
        return tr("Low stock: {available} available, low-stock threshold {threshold}").format(
            available=row.available, threshold=row.threshold)
    if column == COL_THRESHOLD and row.threshold is None:
        return tr("No low-stock threshold applies (none of its own, no default for its category or location)")
    return None


class StockTableModel(RecordsModel):
    more_requested = Signal(object)  # the (variant_id, location_id) key after which the next page starts

    def __init__(self, parent: Any = None) -> None:
        super().__init__(STOCK_COLUMNS, parent, foreground=_stock_foreground,
                         background=lambda r: LOW_BG if r.low else None, tooltip=_stock_tooltip)
        self._has_more = False
        self._fetching = False

    def set_page(self, rows: Sequence[StockRow], *, has_more: bool) -> None:
        self._has_more, self._fetching = has_more, False
        self.set_rows(rows)

    def append_page(self, rows: Sequence[StockRow], *, has_more: bool) -> None:
        self._has_more, self._fetching = has_more, False
        self.append_rows(rows)

    def set_fetching(self, fetching: bool) -> None:
        self._fetching = fetching

    def stop_fetching(self) -> None:
        self._fetching = self._has_more = False

    @property
    def has_more(self) -> bool:
        return self._has_more

    def row_of_key(self, key: tuple[int, int]) -> int:
        for i, r in enumerate(self._rows):
            if r.key == key:
                return i
        return -1

    def canFetchMore(self, parent: Index = ROOT) -> bool:
        return not parent.isValid() and self._has_more and not self._fetching and bool(self._rows)

    def fetchMore(self, parent: Index = ROOT) -> None:
        if self.canFetchMore(parent):
            self._fetching = True
            self.more_requested.emit(self._rows[-1].key)


# -- the side panel and the alerts tab ------------------------------------------------------------------
def availability_model(parent: Any = None) -> RecordsModel:
    return RecordsModel((
        Column(LOCATION, lambda r: r.location, width=80),
        Column(ON_HAND, lambda r: r.on_hand, "qty", 72),
        Column(RESERVED, lambda r: r.reserved, "qty", 72),
        Column(AVAILABLE, lambda r: r.available, "qty", 72),
        Column(IN_TRANSIT, lambda r: r.in_transit, "qty", 72),
    ), parent, foreground=_stock_foreground_short, background=lambda r: LOW_BG if r.low else None)


def _stock_foreground_short(row: StockRow, column: int) -> str | None:
    if column == 3 and row.available <= 0:
        return theme.DANGER
    if column == 3 and row.low:
        return theme.WARNING
    return None


WHEN = QT_TRANSLATE_NOOP("Stock", "When")
QUANTITY = QT_TRANSLATE_NOOP("Stock", "Quantity")
FROM = QT_TRANSLATE_NOOP("Stock", "From")
TO = QT_TRANSLATE_NOOP("Stock", "To")
REASON = QT_TRANSLATE_NOOP("Stock", "Reason")
DOCUMENT = QT_TRANSLATE_NOOP("Stock", "Document")
USER = QT_TRANSLATE_NOOP("Stock", "User")

HISTORY_HEADERS = (WHEN, QUANTITY, FROM, TO, REASON, DOCUMENT, USER)


def history_model(parent: Any = None) -> RecordsModel:
    return RecordsModel((
        Column(WHEN, lambda r: r.at, "when", 136),
        Column(QUANTITY, lambda r: r.quantity, "signed", 64),
        Column(FROM, lambda r: r.from_location, width=74),
        Column(TO, lambda r: r.to_location, width=74),
        Column(REASON, lambda r: reason_label(r.reason), width=80),
        Column(DOCUMENT, lambda r: r.document, width=150),
        Column(USER, lambda r: r.user, width=80),
    ), parent)


def history_values(r: LedgerRow) -> tuple[Any, ...]:
    return (r.at, r.quantity, r.from_location, r.to_location, reason_label(r.reason), r.document, r.user)


_REASONS = {
    "receipt": QT_TRANSLATE_NOOP("Stock", "Receipt"),
    "transfer": QT_TRANSLATE_NOOP("Stock", "Transfer"),
    "adjustment": QT_TRANSLATE_NOOP("Stock", "Adjustment"),
    "count": QT_TRANSLATE_NOOP("Stock", "Count"),
    "damage": QT_TRANSLATE_NOOP("Stock", "Damage"),
    "loss": QT_TRANSLATE_NOOP("Stock", "Loss"),
    "found": QT_TRANSLATE_NOOP("Stock", "Found"),
    "sale": QT_TRANSLATE_NOOP("Stock", "Sale"),
    "return": QT_TRANSLATE_NOOP("Stock", "Return"),
    "opening_balance": QT_TRANSLATE_NOOP("Stock", "Opening balance"),
}


def reason_label(reason: str) -> str:
    label = _REASONS.get(reason)
    return tr(label) if label else reason.replace("_", " ").capitalize()


OPENED = QT_TRANSLATE_NOOP("Stock", "Opened")
MAILED = QT_TRANSLATE_NOOP("Stock", "Mailed")


def alerts_model(parent: Any = None) -> RecordsModel:
    def foreground(row: AlertRow, column: int) -> str | None:
        return theme.DANGER if column == 3 and row.available <= 0 else theme.WARNING if column == 3 else None

    return RecordsModel((
        Column(SKU, lambda r: r.sku, "sku", 150),
        Column(PRODUCT, lambda r: r.title, width=280),
        Column(LOCATION, lambda r: r.location, width=90),
        Column(AVAILABLE, lambda r: r.available, "qty", 82),
        Column(THRESHOLD, lambda r: r.threshold, "qty", 70),
        Column(OPENED, lambda r: r.opened_at, "when", 130),
        Column(MAILED, lambda r: r.notified_at, "when", 130),
    ), parent, foreground=foreground)
