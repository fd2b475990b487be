"""The bulk area of the operations contract."""

from __future__ import annotations

from backoffice.operations.base import Area


class BulkOperations(Area):
    pass
