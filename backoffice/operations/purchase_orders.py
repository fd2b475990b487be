"""The purchase orders area of the operations contract."""

from __future__ import annotations

from backoffice.operations.base import Area


class PurchaseOrderOperations(Area):
    pass
