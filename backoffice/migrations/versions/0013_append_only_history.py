"""History nobody can rewrite: the audit log, the stock ledger and the changesets' entries refuse UPDATE and DELETE (PostgreSQL)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03

``audit_log``, ``stock_operations``, ``stock_moves`` and ``changeset_entries`` are written once and read
ever after: the application only inserts into them (a revert, a correction, a reversal are new rows).
On PostgreSQL a BEFORE UPDATE OR DELETE trigger now refuses any change to them, whoever sends it: the
app, a script, someone in psql with the app's credentials. Only the tables' owner could remove the
trigger (ALTER TABLE … DISABLE TRIGGER), deliberately and visibly.

On SQLite (one person's own file) nothing changes: whoever has the file can rewrite it anyway.
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("audit_log", "stock_operations", "stock_moves", "changeset_entries")

PG_FUNCTION = r"""
CREATE OR REPLACE FUNCTION bo_refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION '% is append-only: its rows are never changed or deleted (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a correction as a new entry (a revert, an adjustment) instead.';
END
$fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(PG_FUNCTION)
    for table in TABLES:
        op.execute(f"CREATE TRIGGER bo_append_only BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION bo_refuse_rewrite()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bo_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS bo_refuse_rewrite()")
