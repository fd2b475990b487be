"""The audit area of the operations contract: the audit trail read page by page (newest first, keyset
pages, filtered), each entry described for people (names instead of ids, lines compared line by line),
one entry, the counts and filter choices, and the rows a bulk edit, import or revert changed.

Reads only: the trail is written by every other write (on PostgreSQL by the database itself).
"""

from __future__ import annotations

from backoffice.operations.base import Area
from backoffice.services import audit as audit_service
from backoffice.services.audit import (
    PAGE_SIZE,
    AuditFilter,
    AuditRow,
    ChangesetRow,
    ChangesetRows,
    EntryView,
    FieldLine,
)

__all__ = ["PAGE_SIZE", "AuditFilter", "AuditOperations", "AuditRow", "ChangesetRow", "ChangesetRows", "EntryView",
           "FieldLine"]


class AuditOperations(Area):
    def page(self, f: AuditFilter = AuditFilter(), *, before_id: int | None = None,
             limit: int = PAGE_SIZE) -> list[AuditRow]:
        """Up to ``limit`` entries matching ``f`` older than entry ``before_id`` (newest first), each
        described: ``row.view`` holds the subject, summary and before/after lines by name."""
        return audit_service.fetch_described_page(self._db, f, before_id=before_id, limit=limit)

    def entry(self, entry_id: int) -> AuditRow:
        """One entry, described (NotFound when there is none)."""
        return audit_service.fetch_entry(self._db, entry_id)

    def count(self, f: AuditFilter = AuditFilter()) -> int:
        """How many entries match ``f``: the true number."""
        return audit_service.count(self._db, f)

    def facets(self) -> dict[str, list[str]]:
        """The entities, actions and users that occur, for the filter choices."""
        return audit_service.facets(self._db)

    def changeset_rows(self, changeset_id: int, *, limit: int = 1000) -> ChangesetRows:
        """Which rows a bulk edit, import or revert changed, each field before → after, by name (at most
        ``limit`` entries read; the total says how many there are)."""
        return audit_service.changeset_rows(self._db, changeset_id, limit=limit)
