"""The change log behind the store API's change feeds, filled by triggers on both engines

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

``change_log`` gets a row for every row inserted, updated or deleted in products, variants, stock_levels,
orders and audit_log, written by the database itself, so no writer can forget it (the services, the
ledger function, COPY, a hand-typed statement alike).

- PostgreSQL: one plpgsql function, ``bo_log_changes``, run by AFTER … FOR EACH STATEMENT triggers with
  transition tables: one ``INSERT … SELECT`` per statement, however many rows it touched (a 100k-row
  price change or a COPY logs in one step; a trigger per row cost three times as much, measured). Each
  row records ``pg_current_xact_id()``, the writing transaction, which the feed needs to never skip a
  late commit (see backoffice/services/change_feed.py).
- SQLite: AFTER INSERT/UPDATE/DELETE … FOR EACH ROW triggers (SQLite has no statement triggers); txid 0.

Rows already in those tables are logged as inserts (txid 0), so a feed read from the beginning holds
every row.

Note for later migrations: SQLite's batch mode rebuilds a table to alter it, which drops its triggers;
a migration that alters one of these tables on SQLite must create them again (``sqlite_triggers``).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("products", "variants", "stock_levels", "orders", "audit_log")
OPS = ("insert", "update", "delete")

PG_FUNCTION = r"""
CREATE OR REPLACE FUNCTION bo_log_changes() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO change_log (entity, entity_id, op, txid)
        SELECT TG_TABLE_NAME, o.id, 'delete', pg_current_xact_id()::text::bigint FROM old_rows o;
    ELSE
        INSERT INTO change_log (entity, entity_id, op, txid)
        SELECT TG_TABLE_NAME, n.id, lower(TG_OP), pg_current_xact_id()::text::bigint FROM new_rows n;
    END IF;
    RETURN NULL;
END
$fn$;
"""


def pg_triggers(table: str) -> list[str]:
    rows = {"insert": "NEW TABLE AS new_rows", "update": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows"}
    return [f"CREATE TRIGGER bo_change_log_{o} AFTER {o.upper()} ON {table} REFERENCING {rows[o]} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION bo_log_changes()" for o in OPS]


def sqlite_triggers(table: str) -> list[str]:
    return [f"CREATE TRIGGER bo_change_log_{table}_{o} AFTER {o.upper()} ON {table} FOR EACH ROW BEGIN "
            f"INSERT INTO change_log (entity, entity_id, op, txid) "
            f"VALUES ('{table}', {'OLD' if o == 'delete' else 'NEW'}.id, '{o}', 0); END"
            for o in OPS]


def upgrade() -> None:
    op.create_table('change_log',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('op', sa.String(length=6), nullable=False),
    sa.Column('txid', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint("entity IN ('products', 'variants', 'stock_levels', 'orders', 'audit_log')",
                       name=op.f('ck_change_log_entity_known')),
    sa.CheckConstraint("op IN ('insert', 'update', 'delete')", name=op.f('ck_change_log_op_known')),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_change_log')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_change_log_entity_txid_seq', 'change_log', ['entity', 'txid', 'seq'], unique=False)
    op.create_index('ix_change_log_entity_entity_id_txid_seq', 'change_log', ['entity', 'entity_id', 'txid', 'seq'],
                    unique=False)
    for table in TABLES:
        op.execute(f"INSERT INTO change_log (entity, entity_id, op, txid) "
                   f"SELECT '{table}', id, 'insert', 0 FROM {table} ORDER BY id")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(PG_FUNCTION)
    for table in TABLES:
        for statement in (pg_triggers(table) if postgres else sqlite_triggers(table)):
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        for o in OPS:
            op.execute(f"DROP TRIGGER IF EXISTS bo_change_log_{o} ON {table}" if postgres
                       else f"DROP TRIGGER IF EXISTS bo_change_log_{table}_{o}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS bo_log_changes()")
    op.drop_index('ix_change_log_entity_entity_id_txid_seq', table_name='change_log')
    op.drop_index('ix_change_log_entity_txid_seq', table_name='change_log')
    op.drop_table('change_log')
