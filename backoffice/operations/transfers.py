"""The transfers area of the operations contract."""

from __future__ import annotations

from backoffice.operations.base import Area


class TransferOperations(Area):
    pass
