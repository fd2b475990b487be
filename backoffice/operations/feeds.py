"""The change-feed area of the operations contract: what changed in products, variants, stock levels,
orders and the audit log after a cursor, page by page (for integrations that keep a copy in step).

Reads only. The catalog, stock and order feeds are for every member of staff; the audit feed carries the
audit trail's before/after values, so it is for those who may read the audit log (``audit_changes``).
See backoffice/services/change_feed.py for how a late commit is never skipped.
"""

from __future__ import annotations

from backoffice.operations.base import Area
from backoffice.services import change_feed
from backoffice.services.change_feed import DEFAULT_LIMIT, KINDS, MAX_LIMIT, FeedPage

__all__ = ["AUDIT", "DEFAULT_LIMIT", "KINDS", "MAX_LIMIT", "FeedOperations", "FeedPage"]

AUDIT = "audit"


class FeedOperations(Area):
    def changes(self, kind: str, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> FeedPage:
        """Rows of ``kind`` (products, variants, stock-levels, orders; audit needs ``audit_changes``'s
        roles) changed after ``cursor`` (None: from the beginning), each once at its current state,
        deletions as ``{"id": …, "deleted": true}``; ``next_cursor`` continues after them."""
        if kind == AUDIT:
            return self.audit_changes(cursor, limit)
        return change_feed.read_page(self._db, kind, cursor, limit)

    def cursor(self, kind: str) -> str:
        """The end of the ``kind`` feed as of now: take it before a full load, then follow from it."""
        if kind == AUDIT:
            return self.audit_cursor()
        return change_feed.current_cursor(self._db, kind)

    def audit_changes(self, cursor: str | None = None, limit: int = DEFAULT_LIMIT) -> FeedPage:
        """Audit entries written after ``cursor``, oldest first."""
        return change_feed.read_page(self._db, AUDIT, cursor, limit)

    def audit_cursor(self) -> str:
        """The end of the audit feed as of now."""
        return change_feed.current_cursor(self._db, AUDIT)
