"""The Customers view's item models: the list of customers (newest first, keyset pages) and a customer's
recent orders (the Orders list's columns). Plain rows handed in; no queries."""

from __future__ import annotations

from typing import Any

from backoffice.operations.customers import CustomerSummary
from backoffice.ui import theme
from backoffice.ui.format import NO_VALUE
from backoffice.ui.views.orders.models import ORDER_COLUMNS, N, SalesRecordsModel, orders_model, tr
from backoffice.ui.widgets.records import Column


def display_name(name: str, email: str, erased: bool) -> str:
    if erased:
        return tr("Erased customer")
    return name.strip() or email or tr("No name")


CUSTOMER_COLUMNS = (
    Column(N("Sales", "Name"), lambda r: tr("Erased customer") if r.erased else r.name.strip() or NO_VALUE, width=200),
    Column(N("Sales", "E-mail"), lambda r: r.email, width=240),
    Column(N("Sales", "Country"), lambda r: r.country, width=70),
    Column(N("Sales", "Orders"), lambda r: r.orders, "qty", 64),
    Column(N("Sales", "Lifetime value"), lambda r: (r.lifetime_value, ""), "money", 120),
    Column(N("Sales", "Last order"), lambda r: r.last_order_at, "when", 144),
)
COL_NAME, COL_EMAIL, COL_COUNTRY, COL_ORDERS, COL_VALUE, COL_LAST = range(6)


class CustomerListModel(SalesRecordsModel):
    """Lifetime value in the store's currency; an erased customer and one without orders read muted."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(CUSTOMER_COLUMNS, parent, foreground=self._foreground)

    @staticmethod
    def _foreground(row: CustomerSummary, column: int) -> str | None:
        if row.erased or (column == COL_ORDERS and not row.orders) or (column == COL_NAME and not row.name.strip()):
            return theme.TEXT_MUTED
        return None


# A customer's orders: number, date, state, units, total.
RECENT_COLUMNS = tuple(c for i, c in enumerate(ORDER_COLUMNS) if i in (0, 1, 3, 5, 9))


def recent_orders_model(parent: Any = None) -> SalesRecordsModel:
    return orders_model(parent, RECENT_COLUMNS)
