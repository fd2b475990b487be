"""The admin area of the operations contract: the schema and the demo store."""

from __future__ import annotations

from backoffice.operations.base import Area


class AdminOperations(Area):
    pass
