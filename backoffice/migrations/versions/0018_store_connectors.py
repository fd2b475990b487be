"""Store connectors: connected stores, id maps, cursors, the push outbox and the sync log

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04

The bookkeeping of syncing with a store's own API (see backoffice/models/connectors.py): which stores are
connected, how their ids map to ours, where each direction got to, what waits to be sent, and what each
run sent, received and how fast the store answered. Connection settings are row-audited on PostgreSQL.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

revision: str = '0018'
down_revision: Union[str, Sequence[str], None] = '0017'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('store_connections',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_connections')),
    sa.UniqueConstraint('name', name=op.f('uq_store_connections_name'))
    )
    op.create_table('store_cursors',
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('position', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_cursors_connection_id_store_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'entity', name=op.f('pk_store_cursors'))
    )
    op.create_table('store_location_links',
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_location_id', sa.String(length=100), nullable=False),
    sa.Column('owned', sa.Boolean(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_location_links_connection_id_store_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_store_location_links_location_id_locations'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('connection_id', 'location_id', name=op.f('pk_store_location_links')),
    sa.UniqueConstraint('connection_id', 'store_location_id', name=op.f('uq_store_location_links_connection_id_store_location_id'))
    )
    op.create_table('store_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('idem_key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=10), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('last_error', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'sending', 'done', 'failed', 'conflict')", name=op.f('ck_store_outbox_state_known')),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_outbox_connection_id_store_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_outbox')),
    sa.UniqueConstraint('connection_id', 'idem_key', name=op.f('uq_store_outbox_connection_id_idem_key'))
    )
    with op.batch_alter_table('store_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_store_outbox_connection_id_state_id', ['connection_id', 'state', 'id'], unique=False)

    op.create_table('store_sync_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('dry_run', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('state', sa.String(length=10), server_default='running', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('error', sa.Text(), server_default='', nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint("state IN ('running', 'ok', 'partial', 'failed')", name=op.f('ck_store_sync_runs_state_known')),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_sync_runs_connection_id_store_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_store_sync_runs_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_sync_runs'))
    )
    with op.batch_alter_table('store_sync_runs', schema=None) as batch_op:
        batch_op.create_index('ix_store_sync_runs_connection_id_id', ['connection_id', 'id'], unique=False)

    op.create_table('store_api_calls',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('endpoint', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('elapsed_ms', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_api_calls_connection_id_store_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['run_id'], ['store_sync_runs.id'], name=op.f('fk_store_api_calls_run_id_store_sync_runs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_api_calls'))
    )
    with op.batch_alter_table('store_api_calls', schema=None) as batch_op:
        batch_op.create_index('ix_store_api_calls_connection_id_at', ['connection_id', 'at'], unique=False)
        batch_op.create_index('ix_store_api_calls_run_id', ['run_id'], unique=False)

    op.create_table('store_order_links',
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_order_id', sa.String(length=100), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='open', nullable=False),
    sa.Column('payment_status', sa.String(length=30), server_default='pending', nullable=False),
    sa.Column('lines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_order_links_connection_id_store_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_store_order_links_order_id_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'store_order_id', name=op.f('pk_store_order_links')),
    sa.UniqueConstraint('order_id', name=op.f('uq_store_order_links_order_id'))
    )
    op.create_table('store_product_links',
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_product_id', sa.String(length=100), nullable=False),
    sa.Column('pushed_hash', sa.String(length=64), server_default='', nullable=False),
    sa.Column('pushed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_product_links_connection_id_store_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_store_product_links_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'product_id', name=op.f('pk_store_product_links')),
    sa.UniqueConstraint('connection_id', 'store_product_id', name=op.f('uq_store_product_links_connection_id_store_product_id'))
    )
    op.create_table('store_fulfilment_links',
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shipment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_fulfilment_id', sa.String(length=100), nullable=False),
    sa.Column('pushed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_fulfilment_links_connection_id_store_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_store_fulfilment_links_shipment_id_shipments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'shipment_id', name=op.f('pk_store_fulfilment_links'))
    )
    op.create_table('store_stock_links',
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('variant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('location_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('store_quantity', sa.Integer(), nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_stock_links_connection_id_store_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_store_stock_links_location_id_locations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_store_stock_links_variant_id_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'variant_id', 'location_id', name=op.f('pk_store_stock_links'))
    )
    op.create_table('store_variant_links',
    sa.Column('connection_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('variant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sku', sa.String(length=100), nullable=False),
    sa.Column('store_variant_id', sa.String(length=100), nullable=False),
    sa.Column('store_product_id', sa.String(length=100), nullable=False),
    sa.Column('inventory_item_id', sa.String(length=100), nullable=True),
    sa.Column('pushed_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('pushed_compare_at', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.ForeignKeyConstraint(['connection_id'], ['store_connections.id'], name=op.f('fk_store_variant_links_connection_id_store_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_store_variant_links_variant_id_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', 'variant_id', name=op.f('pk_store_variant_links')),
    sa.UniqueConstraint('connection_id', 'store_variant_id', name=op.f('uq_store_variant_links_connection_id_store_variant_id'))
    )
    with op.batch_alter_table('store_variant_links', schema=None) as batch_op:
        batch_op.create_index('ix_store_variant_links_connection_id_sku', ['connection_id', 'sku'], unique=False)

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        rows = {"insert": "NEW TABLE AS new_rows", "update": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows"}
        for action, transition in rows.items():
            op.execute(f"CREATE TRIGGER bo_row_audit_{action} AFTER {action.upper()} ON store_connections "
                       f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION bo_row_audit('id')")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for action in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS bo_row_audit_{action} ON store_connections")
    with op.batch_alter_table('store_variant_links', schema=None) as batch_op:
        batch_op.drop_index('ix_store_variant_links_connection_id_sku')

    op.drop_table('store_variant_links')
    op.drop_table('store_stock_links')
    op.drop_table('store_fulfilment_links')
    op.drop_table('store_product_links')
    op.drop_table('store_order_links')
    with op.batch_alter_table('store_api_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_store_api_calls_run_id')
        batch_op.drop_index('ix_store_api_calls_connection_id_at')

    op.drop_table('store_api_calls')
    with op.batch_alter_table('store_sync_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_store_sync_runs_connection_id_id')

    op.drop_table('store_sync_runs')
    with op.batch_alter_table('store_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_store_outbox_connection_id_state_id')

    op.drop_table('store_outbox')
    op.drop_table('store_location_links')
    op.drop_table('store_cursors')
    op.drop_table('store_connections')
