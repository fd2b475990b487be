"""The purchase-orders area of the operations contract: from a draft to stock on the shelf.

A draft is created and edited (lines at the supplier items' costs), sent (fixed, its expected date set,
and when asked e-mailed to the supplier as PDF and Excel), received in one or more receipts (posted to
the stock ledger), then closed; a draft or sent order can be cancelled. Every write takes ``op_id``:
the same id again reports the order as it is (``replayed``) and writes nothing. Each write notes
PURCHASE_ORDERS with the order's id; what changes the units expected or on hand at the destination
(sending, receiving, closing, cancelling) notes STOCK there for the order's variants too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backoffice.operations.base import Area
from backoffice.operations.changes import PURCHASE_ORDERS, STOCK, Changes
from backoffice.operations.transfers import new_op_id
from backoffice.services import documents, po_documents, purchase_orders, settings, suppliers
from backoffice.services.po_documents import OrderMail, format_money
from backoffice.services.purchase_orders import (
    OrderInfo,
    OrderLineInfo,
    OrderSummary,
    PurchaseOrderStateError,
    ReceiptInfo,
)
from backoffice.services.suppliers import SupplierItemRow

__all__ = ["MailRequest", "OrderInfo", "OrderLineInfo", "OrderSummary", "PurchaseOrderOperations",
           "PurchaseOrderStateError", "ReceiptInfo", "ScannedLine", "format_money"]

@dataclass(frozen=True)
class MailRequest:
    """E-mail the order's document while sending it: to ``to`` (empty: the supplier's address), through
    the store's mail server with ``password`` (its login's, from the sending machine's keyring)."""

    to: tuple[str, ...] = ()
    store_name: str = "Backoffice"
    message: str = ""
    password: str | None = None


@dataclass(frozen=True)
class ScannedLine:
    """A scanned or typed code on an order from one supplier: the variant, and that supplier's item
    for it (None: the supplier does not sell it)."""

    variant_id: int
    sku: str
    barcode: str | None
    title: str
    item: SupplierItemRow | None


def _edited(info: OrderInfo) -> Changes:
    return Changes.of(PURCHASE_ORDERS, purchase_order=[info.id])


def _expected(info: OrderInfo) -> Changes:
    """A step that changes what is expected or on hand at the destination."""
    return Changes.of(PURCHASE_ORDERS, STOCK, purchase_order=[info.id], location=[info.destination_location_id],
                      variant=[ln.variant_id for ln in info.lines])


class PurchaseOrderOperations(Area):
    # -- reads ---------------------------------------------------------------------------------------------
    def list(self, *, states: tuple[str, ...] = (), supplier_id: int | None = None, before_id: int | None = None,
             limit: int = 200, late_only: bool = False) -> list[OrderSummary]:
        """Orders newest first, a keyset page at a time; ``late_only``: sent or partly received orders past
        their expected date (the page is filtered: it may hold fewer than ``limit``)."""
        rows = purchase_orders.list_orders(self._db, states=tuple(states) or (("sent", "partial") if late_only else ()),
                                           supplier_id=supplier_id, before_id=before_id, limit=limit)
        return [r for r in rows if r.late] if late_only else rows

    def get(self, order_id: int) -> OrderInfo:
        return purchase_orders.get_order(self._db, order_id)

    def find(self, ref: str) -> OrderInfo:
        """By number (PO-000012) or id ("12")."""
        return purchase_orders.find_order(self._db, ref)

    def find_line(self, supplier_id: int, code: str) -> ScannedLine | None:
        """A scanned or typed code as a line of ``supplier_id``'s order; None for a code nothing has."""
        found = documents.find_variant_by_code(self._db, code)
        if found is None:
            return None
        items = suppliers.list_items(self._db, supplier_id=supplier_id, variant_ids=[found["variant_id"]])
        return ScannedLine(found["variant_id"], found["sku"], found["barcode"], found["title"],
                           items[0] if items else None)

    # -- drafts ---------------------------------------------------------------------------------------------
    def create(self, *, supplier_id: int, destination_location_id: int, lines: list[Any] = (), note: str = "",
               op_id: str | None = None) -> OrderInfo:
        """A draft in the supplier's currency. Lines: (variant id, quantity[, unit cost]); the cost
        defaults to the supplier item's."""
        return self._write(lambda: purchase_orders.create_order(
            self._db, self._actor, supplier_id=supplier_id, destination_location_id=destination_location_id,
            lines=list(lines), note=note, operation_id=op_id), _edited)

    def update_draft(self, order_id: int, *, expected_version: int, lines: list[Any] | None = None,
                     note: str | None = None, destination_location_id: int | None = None,
                     expected_on: dt.date | None = None, op_id: str | None = None) -> OrderInfo:
        """Replace a draft's lines, note, destination or expected date; a stale version is a ConflictError."""
        return self._write(lambda: purchase_orders.update_draft(
            self._db, self._actor, order_id, expected_version=expected_version,
            lines=None if lines is None else list(lines), note=note, destination_location_id=destination_location_id,
            expected_on=expected_on), _edited)

    # -- steps ----------------------------------------------------------------------------------------------
    def send(self, order_id: int, *, expected_version: int | None = None, mail: MailRequest | None = None,
             op_id: str | None = None) -> OrderInfo:
        """Fix a draft and mark it sent (the expected date from the lead times); with ``mail``, e-mail it in
        the same step: if the mail server refuses, the order stays a draft."""
        return self._write(lambda: purchase_orders.send_order(
            self._db, self._actor, order_id, expected_version=expected_version, mail=self._order_mail(mail),
            operation_id=op_id), _expected)

    def email(self, order_id: int, mail: MailRequest) -> list[str]:
        """E-mail a sent order's document (again); the recipients."""
        return purchase_orders.email_order(self._db, self._actor, order_id, mail=self._order_mail(mail))

    def receive(self, order_id: int, quantities: dict[int, int] | None = None, *, location_id: int | None = None,
                allow_over_receipt: bool = False, note: str = "", op_id: str | None = None) -> OrderInfo:
        """Units arriving now (variant id -> units; None: everything outstanding) into ``location_id`` (the
        order's destination unless told). More than is outstanding needs ``allow_over_receipt``."""
        if quantities is None:
            shown = purchase_orders.get_order(self._db, order_id)
            quantities = {ln.variant_id: ln.outstanding for ln in shown.lines if ln.outstanding > 0}
        wanted = dict(quantities)

        def received(info: OrderInfo) -> Changes:
            return _expected(info) | Changes.of(STOCK, location=[location_id or info.destination_location_id])

        return self._write(lambda: purchase_orders.receive_order(
            self._db, self._actor, order_id, quantities=wanted, operation_id=op_id or new_op_id(),
            location_id=location_id, allow_over_receipt=allow_over_receipt, note=note), received)

    def close(self, order_id: int, *, reason: str = "", op_id: str | None = None) -> OrderInfo:
        """Settle a received or partly received order: nothing more is expected."""
        return self._write(lambda: purchase_orders.close_order(self._db, self._actor, order_id, reason=reason,
                                                               operation_id=op_id), _expected)

    def cancel(self, order_id: int, *, reason: str = "", op_id: str | None = None) -> OrderInfo:
        """Call off a draft or sent order before anything arrived."""
        return self._write(lambda: purchase_orders.cancel_order(self._db, self._actor, order_id, reason=reason,
                                                                operation_id=op_id), _expected)

    # -- the document ---------------------------------------------------------------------------------------
    def write_document(self, order_id: int, path: str, *, store_name: str = "Backoffice") -> str:
        """Write what the supplier gets as ``path`` (.pdf or .xlsx); the path written."""
        document = purchase_orders.order_document(self._db, order_id, store_name)
        return str(po_documents.write_document(document, Path(path)))

    # -- plumbing --------------------------------------------------------------------------------------------
    def _order_mail(self, mail: MailRequest | None) -> OrderMail | None:
        if mail is None:
            return None
        return OrderMail(settings.get_smtp(self._db), mail.password, tuple(mail.to), mail.store_name, mail.message)
