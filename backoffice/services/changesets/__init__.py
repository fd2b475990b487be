"""Changesets: the write path for staged grid edits, bulk operations, imports and reverts.

``apply_changes`` takes row changes ("variant 17, read at version 3: price → 9.99") and, in one
transaction:

1. reads the current rows (locked, in id order) and sets aside every row whose version moved on since
   the caller read it: those are *conflicts*, reported with the value the caller read, the value they
   want and the value now stored; they are never overwritten;
2. validates the remaining rows as they would end up (negative prices, compare-at below price,
   duplicate SKUs, unknown categories...) and refuses the whole batch if any is invalid, naming each row;
3. writes them with set-based statements (a staging table and one UPDATE … FROM per group of fields,
   versions checked in SQL), records a changeset with every row's before/after values and the row
   versions, and one audit row for the changeset.

Reverting a changeset is a new changeset that restores the "before" values of rows that have not been
changed since; rows changed since are reported as conflicts. Each kind of changeset is reverted by the
module that made it (``register_reverter``): this package does not import those modules.

Modules: ``rows`` (RowChange, Conflict, ApplyResult), ``apply`` (the write), ``staging`` (PostgreSQL's
set-based paths), ``revert`` (the reverters), ``reads`` (lists, entries, history).
"""

from __future__ import annotations

from backoffice.services.changesets.apply import (
    CREATED_VARIANT_FIELDS,
    apply_changes,
    apply_in_session,
    replayed,
)
from backoffice.services.changesets.reads import (
    ChangesetInfo,
    FieldChange,
    changed_entities,
    changeset_entries,
    changeset_for_operation,
    changeset_rows,
    get_changeset,
    history,
    list_changesets,
)
from backoffice.services.changesets.revert import Reverter, register_reverter, revert_changeset, revert_rows
from backoffice.services.changesets.rows import EDITABLE, ApplyResult, Conflict, RowChange

__all__ = [
    "CREATED_VARIANT_FIELDS", "EDITABLE", "ApplyResult", "ChangesetInfo", "Conflict", "FieldChange",
    "Reverter", "RowChange", "apply_changes", "apply_in_session", "changed_entities", "changeset_entries",
    "changeset_for_operation", "changeset_rows", "get_changeset", "history", "list_changesets", "register_reverter",
    "replayed", "revert_changeset", "revert_rows",
]
