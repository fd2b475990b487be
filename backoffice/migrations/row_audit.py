"""Row auditing of staff-edited tables on PostgreSQL, for the migrations that add such tables.

``bo_row_audit`` (migration 0013) records every inserted, updated and deleted row of a table it is
attached to, by statement, with the row's ``id``; SQLite has no such triggers (the services audit there).
"""

from __future__ import annotations

from alembic import op

_TRANSITIONS = {"insert": "NEW TABLE AS new_rows", "update": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows"}


def attach_row_audit(*tables: str) -> None:
    """Audit every row written to ``tables`` (PostgreSQL; nothing on SQLite)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        for action, transition in _TRANSITIONS.items():
            op.execute(f"CREATE TRIGGER bo_row_audit_{action} AFTER {action.upper()} ON {table} "
                       f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION bo_row_audit('id')")


def detach_row_audit(*tables: str) -> None:
    """Undo :func:`attach_row_audit` (a downgrade)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        for action in _TRANSITIONS:
            op.execute(f"DROP TRIGGER IF EXISTS bo_row_audit_{action} ON {table}")
