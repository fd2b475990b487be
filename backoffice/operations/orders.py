"""The orders area of the contract: orders the store wrote, reserved, fulfilled and cancelled here.

``process`` reserves new orders (idempotent per order, safe to run in several processes at once);
``fulfil`` ships units from one location through the ledger; ``cancel`` releases what is not shipped.
Writes that move stock take ``op_id``: the same id again moves nothing. Each write notes ORDERS with the
order's id, and STOCK at the locations and variants it touched.
"""

from __future__ import annotations

from backoffice.operations.base import Area
from backoffice.operations.changes import ORDERS, PRODUCTS, STOCK, Changes
from backoffice.operations.transfers import new_op_id
from backoffice.services import job_runs, orders
from backoffice.services.orders import (
    ALLOCATION_RULES,
    FulfilManyResult,
    PAYMENT_STATUSES,
    SHORTAGE_POLICIES,
    OrderFilter,
    OrderInfo,
    OrderLineInfo,
    OrderSettings,
    OrderSummary,
    ProcessResult,
    Reservation,
    ShipmentInfo,
    TimelineEntry,
)

__all__ = ["ALLOCATION_RULES", "FulfilManyResult", "PAYMENT_STATUSES", "SHORTAGE_POLICIES", "OrderFilter", "OrderInfo", "OrderLineInfo",
           "OrderOperations", "OrderSettings", "OrderSummary", "ProcessResult", "Reservation", "ShipmentInfo",
           "TimelineEntry"]


def _touched(info: OrderInfo) -> Changes:
    """An order's write: the order, and stock of its variants wherever it holds or shipped them."""
    locations = {r.location_id for ln in info.lines for r in ln.reservations} | {s.location_id for s in info.shipments}
    return Changes.of(ORDERS, STOCK, order=[info.id], variant=[ln.variant_id for ln in info.lines],
                      location=sorted(locations))


class OrderOperations(Area):
    # -- reads ---------------------------------------------------------------------------------------------
    def list(self, flt: OrderFilter = OrderFilter(), *, before_id: int | None = None, limit: int = 200) -> list[OrderSummary]:
        """Orders newest first, a keyset page at a time (``before_id``: the last id of the page before)."""
        return orders.list_orders(self._db, flt, before_id=before_id, limit=limit)

    def count(self, flt: OrderFilter = OrderFilter()) -> int:
        return orders.count_orders(self._db, flt)

    def state_counts(self) -> dict[str, int]:
        return orders.state_counts(self._db)

    def get(self, order_id: int) -> OrderInfo:
        return orders.get_order(self._db, order_id)

    def find(self, ref: str) -> OrderInfo:
        """By the store's number (SO-0001234) or id."""
        return orders.find_order(self._db, ref)

    def settings(self) -> OrderSettings:
        return orders.get_settings(self._db)

    # -- writes ----------------------------------------------------------------------------------------------
    def process(self, *, batch: int = orders.BATCH, retry_waiting: bool = True) -> ProcessResult:
        """Reserve every new order, then try again the units that waited for stock. One run at a time:
        while another is under way this one does nothing and raises JobBusy (recorded as skipped)."""
        with job_runs.exclusive(self._db, "orders-process", self._actor) as job:
            result = orders.process_orders(self._db, self._actor, batch=batch, retry_waiting=retry_waiting)
            job.done(f"{result.orders:,} new orders processed: {result.reserved_units:,} units reserved, "
                     f"{result.refused:,} refused; {result.retried:,} waiting orders tried again; "
                     f"{result.waiting_units:,} units wait for stock")
        if result.orders or result.reserved_units or result.refused:
            self.changed(Changes.of(ORDERS, STOCK))
        return result

    def place(self, *, lines: list[tuple[int, int, str]], customer_id: int | None = None, number: str | None = None,
              channel: str = "web", status: str = "paid", currency: str = "EUR", op_id: str | None = None) -> OrderInfo:
        """An order taken here or sent by the store's API (lines: variant id, units, unit price), reserved
        at once."""
        order_id = orders.place_order(self._db, self._actor, lines=[(v, q, str(p)) for v, q, p in lines],
                                      customer_id=customer_id, number=number, channel=channel, status=status,
                                      currency=currency, operation_id=op_id)
        info = orders.get_order(self._db, order_id)
        self.changed(_touched(info))
        return info

    def fulfil(self, order_id: int, *, location_id: int, quantities: dict[int, int] | None = None, carrier: str = "",
               tracking: str = "", op_id: str | None = None) -> OrderInfo:
        """Ship units (order line id -> units; None: all reserved at the location) as one shipment."""
        return self._write(lambda: orders.fulfil(self._db, self._actor, order_id, location_id=location_id,
                                                 quantities=None if quantities is None else dict(quantities),
                                                 carrier=carrier, tracking=tracking, operation_id=op_id or new_op_id()),
                           _touched)

    def fulfil_many(self, *, location_id: int, order_ids: list[int] | None = None, carrier: str = "",
                    limit: int | None = None, op_id: str | None = None) -> FulfilManyResult:
        """Ship everything reserved at the location for these orders (None: every order holding units there,
        oldest first, at most ``limit``), one shipment and one transaction per order; an order that cannot
        ship is reported in ``failed`` and the rest go on. The same ``op_id`` again ships nothing twice."""
        return self._write(lambda: orders.fulfil_many(self._db, self._actor, location_id=location_id,
                                                      order_ids=None if order_ids is None else [int(i) for i in order_ids],
                                                      carrier=carrier, limit=limit, operation_id=op_id or new_op_id()),
                           lambda r: Changes.of(ORDERS, STOCK, order=r.order_ids, location=[location_id]))

    def cancel(self, order_id: int, *, reason: str = "", quantities: dict[int, int] | None = None,
               expected_version: int | None = None, op_id: str | None = None) -> OrderInfo:
        """Cancel units not shipped (None: all of them); their reservations are released."""
        return self._write(lambda: orders.cancel(self._db, self._actor, order_id, reason=reason,
                                                 quantities=None if quantities is None else dict(quantities),
                                                 expected_version=expected_version, operation_id=op_id), _touched)

    def record_payment(self, order_id: int, *, status: str, op_id: str | None = None) -> OrderInfo:
        """The payment status as the store reports it."""
        return self._write(lambda: orders.record_payment(self._db, self._actor, order_id, status=status,
                                                         operation_id=op_id),
                           lambda info: Changes.of(ORDERS, order=[info.id]))

    def set_backorders(self, product_ids: list[int], *, allowed: bool, op_id: str | None = None) -> int:
        """Let orders for these products reserve beyond stock, or stop it; the number changed."""
        return self._write(lambda: orders.set_backorders(self._db, self._actor, list(product_ids), allowed=allowed,
                                                         operation_id=op_id),
                           Changes.of(PRODUCTS, product=list(product_ids)))

    def save_settings(self, settings: OrderSettings, *, op_id: str | None = None) -> OrderSettings:
        return self._write(lambda: orders.save_settings(self._db, self._actor, settings, operation_id=op_id),
                           Changes.of(ORDERS))

    def check(self) -> list[dict[str, int]]:
        """Levels whose reserved differs from their orders' reservations (empty: sound)."""
        return orders.reservation_mismatches(self._db)

    def reserved_at(self, location_id: int) -> list[tuple[int, int]]:
        """The open orders holding units at the location (what ``fulfil_many`` with no ``order_ids`` ships),
        oldest first: (order id, units reserved there)."""
        return orders.reserved_at(self._db, location_id)
