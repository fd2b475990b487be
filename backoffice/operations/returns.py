"""The returns area of the contract: return authorisations against shipped lines, received into stock."""

from __future__ import annotations

from backoffice.operations.base import Area
from backoffice.operations.changes import ORDERS, STOCK, Changes
from backoffice.operations.transfers import new_op_id
from backoffice.services import returns
from backoffice.services.returns import CONDITIONS, REASONS, REFUND_STATUSES, ReturnInfo, ReturnLineInfo

__all__ = ["CONDITIONS", "REASONS", "REFUND_STATUSES", "ReturnInfo", "ReturnLineInfo", "ReturnOperations"]


def _edited(info: ReturnInfo) -> Changes:
    return Changes.of(ORDERS, order=[info.order_id])


def _received(info: ReturnInfo) -> Changes:
    return Changes.of(ORDERS, STOCK, order=[info.order_id], variant=[ln.variant_id for ln in info.lines])


class ReturnOperations(Area):
    def list(self, *, states: tuple[str, ...] = (), order_id: int | None = None, before_id: int | None = None,
             limit: int = 200) -> list[ReturnInfo]:
        return returns.list_returns(self._db, states=tuple(states), order_id=order_id, before_id=before_id, limit=limit)

    def get(self, return_id: int) -> ReturnInfo:
        return returns.get_return(self._db, return_id)

    def find(self, ref: str) -> ReturnInfo:
        """By number (RMA-000012) or id."""
        return returns.find_return(self._db, ref)

    def reasons(self) -> dict[str, str]:
        return dict(returns.REASONS)

    def authorise(self, order_id: int, *, lines: list[tuple[int, int, str, str]], note: str = "",
                  refund_amount: str = "0", op_id: str | None = None) -> ReturnInfo:
        """(order line id, units, reason, condition "restock"/"damaged") per line; nothing moves yet."""
        return self._write(lambda: returns.authorise(self._db, self._actor, order_id, lines=[tuple(x) for x in lines],
                                                     note=note, refund_amount=refund_amount, operation_id=op_id), _edited)

    def receive(self, return_id: int, *, location_id: int, op_id: str | None = None) -> ReturnInfo:
        """The goods arrive: restockable into the location, damaged to the write-off location."""
        return self._write(lambda: returns.receive(self._db, self._actor, return_id, location_id=location_id,
                                                   operation_id=op_id or new_op_id()), _received)

    def cancel(self, return_id: int, *, op_id: str | None = None) -> ReturnInfo:
        return self._write(lambda: returns.cancel(self._db, self._actor, return_id, operation_id=op_id), _edited)

    def record_refund(self, return_id: int, *, status: str, amount: str | None = None,
                      op_id: str | None = None) -> ReturnInfo:
        """The refund as the store's payment gateway reports it."""
        return self._write(lambda: returns.record_refund(self._db, self._actor, return_id, status=status, amount=amount,
                                                         operation_id=op_id), _edited)
