"""Orders move stock: the order's state, reservations per location, shipments, returns, customers' details

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04

- ``orders`` gain the state the back-office owns (``new`` until ``orders process`` has seen the order),
  the sales channel (its preferred location allocates first), when it was processed, the allocation
  rule's explanation, a cancel reason and a version; ``order_lines`` count their fulfilled, cancelled and
  returned units.
- ``order_reservations``: units of a line held at a location. ``stock_levels.reserved`` is their sum per
  variant and location, written in the same transaction.
- ``shipments``/``shipment_lines``: what left which location for the customer (one stock operation each);
  ``returns``/``return_lines``: return authorisations and what came back, in which condition.
- ``customers`` gain a name, phone, address, note, a version and ``erased_at`` (anonymised); their edits
  are audited by the service by field name only (no row audit: an erased customer leaves no copy);
  ``products.allow_backorder``: orders may reserve more than is on hand.

Orders already in the database were written before the back-office tracked fulfilment: cancelled ones
become ``cancelled`` (their units cancelled), the others ``fulfilled`` (their units shipped), so only
orders the store writes from now on are reserved and fulfilled here.

PostgreSQL: ``reserved`` is written only by ``bo_reserve`` (and read under lock by ``bo_lock_levels``),
run as the schema's owner like ``bo_post_moves``; staff roles get EXECUTE from the permission table.
The new tables get the row-audit triggers of 0014.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from backoffice.migrations import current_schema


revision: str = '0016'
down_revision: Union[str, Sequence[str], None] = '0015'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
NOW = sa.text('CURRENT_TIMESTAMP')
MONEY = sa.Numeric(precision=12, scale=2)
AUDITED = ("orders", "order_lines", "order_reservations", "shipments", "shipment_lines", "returns",
           "return_lines")
ORDER_STATES = ('new', 'open', 'allocated', 'partially_fulfilled', 'fulfilled', 'cancelled')


def _functions(schema: str) -> list[str]:
    pin = f"SET search_path = {schema}, pg_temp"
    return [
        f"""
CREATE OR REPLACE FUNCTION bo_lock_levels(p_variants bigint[])
RETURNS TABLE (variant_id bigint, location_id bigint, on_hand int, reserved int)
LANGUAGE sql SECURITY DEFINER {pin} AS $fn$
    SELECT s.variant_id, s.location_id, s.on_hand, s.reserved FROM stock_levels s
    WHERE s.variant_id = ANY(p_variants) ORDER BY s.variant_id, s.location_id FOR UPDATE
$fn$""",
        f"""
CREATE OR REPLACE FUNCTION bo_reserve(p_changes jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER {pin} AS $fn$
BEGIN
    IF bo_acting_user_id() IS NULL AND NOT bo_trusted() THEN
        RAISE EXCEPTION 'bo:not_staff' USING DETAIL = session_user, ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO stock_levels (variant_id, location_id, on_hand, reserved, version, created_at, updated_at)
    SELECT DISTINCT c.v, c.l, 0, 0, 1, now(), now()
    FROM jsonb_to_recordset(p_changes) AS c(v bigint, l bigint, d int)
    ORDER BY c.v, c.l
    ON CONFLICT (variant_id, location_id) DO NOTHING;
    UPDATE stock_levels s SET reserved = s.reserved + c.d, version = s.version + 1, updated_at = now()
    FROM (SELECT v, l, sum(d)::int AS d FROM jsonb_to_recordset(p_changes) AS c(v bigint, l bigint, d int)
          GROUP BY v, l) AS c
    WHERE s.variant_id = c.v AND s.location_id = c.l AND c.d <> 0;
END
$fn$""",
    ]


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    # orders is in the change log (0011): on SQLite plain ADD COLUMNs keep its triggers (no table copy)
    op.add_column('orders', sa.Column('state', sa.Enum(*ORDER_STATES, name='order_state', native_enum=False,
                                                       create_constraint=not sqlite),
                                      server_default='new', nullable=False))
    op.add_column('orders', sa.Column('channel', sa.String(length=40), server_default='web', nullable=False))
    op.add_column('orders', sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('orders', sa.Column('allocation_note', sa.String(length=1000), server_default='', nullable=False))
    op.add_column('orders', sa.Column('cancel_reason', sa.String(length=200), server_default='', nullable=False))
    op.add_column('orders', sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.create_index('ix_orders_state_id', 'orders', ['state', 'id'])
    with op.batch_alter_table('order_lines') as batch:
        batch.add_column(sa.Column('fulfilled', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('cancelled', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('returned', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE orders SET state = CASE WHEN status = 'cancelled' THEN 'cancelled' ELSE 'fulfilled' END, "
               "processed_at = ordered_at")
    op.execute("UPDATE order_lines SET fulfilled = quantity WHERE order_id IN "
               "(SELECT id FROM orders WHERE state = 'fulfilled')")
    op.execute("UPDATE order_lines SET cancelled = quantity WHERE order_id IN "
               "(SELECT id FROM orders WHERE state = 'cancelled')")
    with op.batch_alter_table('order_lines') as batch:
        batch.create_check_constraint('settled_within_quantity',
                                      'fulfilled >= 0 AND cancelled >= 0 AND fulfilled + cancelled <= quantity')
        batch.create_check_constraint('returned_within_fulfilled', 'returned >= 0 AND returned <= fulfilled')

    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('name', sa.String(length=200), server_default='', nullable=False))
        batch.add_column(sa.Column('phone', sa.String(length=40), server_default='', nullable=False))
        batch.add_column(sa.Column('address', sa.String(length=500), server_default='', nullable=False))
        batch.add_column(sa.Column('note', sa.String(length=1000), server_default='', nullable=False))
        batch.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.add_column('products', sa.Column('allow_backorder', sa.Boolean(), server_default=sa.false(), nullable=False))

    op.create_table('order_reservations',
    sa.Column('id', BIG, nullable=False),
    sa.Column('order_line_id', BIG, nullable=False),
    sa.Column('variant_id', BIG, nullable=False),
    sa.Column('location_id', BIG, nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_reservations_quantity_positive')),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_order_reservations_location_id_locations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_order_reservations_order_line_id_order_lines'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_order_reservations_variant_id_variants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_reservations')),
    sa.UniqueConstraint('order_line_id', 'location_id', name=op.f('uq_order_reservations_order_line_id_location_id')),
    )
    op.create_index('ix_order_reservations_variant_id_location_id', 'order_reservations', ['variant_id', 'location_id'])
    op.create_table('shipments',
    sa.Column('id', BIG, nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('order_id', BIG, nullable=False),
    sa.Column('location_id', BIG, nullable=False),
    sa.Column('carrier', sa.String(length=60), server_default='', nullable=False),
    sa.Column('tracking', sa.String(length=100), server_default='', nullable=False),
    sa.Column('operation_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', BIG, nullable=True),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_shipments_location_id_locations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_shipments_order_id_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_shipments_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments')),
    sa.UniqueConstraint('number', name=op.f('uq_shipments_number')),
    sa.UniqueConstraint('operation_id', name=op.f('uq_shipments_operation_id')),
    )
    op.create_index('ix_shipments_order_id', 'shipments', ['order_id'])
    op.create_index('ix_shipments_shipped_at', 'shipments', ['shipped_at'])
    op.create_table('shipment_lines',
    sa.Column('id', BIG, nullable=False),
    sa.Column('shipment_id', BIG, nullable=False),
    sa.Column('order_line_id', BIG, nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_shipment_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_shipment_lines_order_line_id_order_lines'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], name=op.f('fk_shipment_lines_shipment_id_shipments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_lines')),
    )
    op.create_index('ix_shipment_lines_shipment_id', 'shipment_lines', ['shipment_id'])
    op.create_index('ix_shipment_lines_order_line_id', 'shipment_lines', ['order_line_id'])
    op.create_table('returns',
    sa.Column('id', BIG, nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('order_id', BIG, nullable=False),
    sa.Column('state', sa.Enum('authorised', 'received', 'cancelled', name='return_state', native_enum=False, create_constraint=True), server_default='authorised', nullable=False),
    sa.Column('note', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('refund_amount', MONEY, server_default='0', nullable=False),
    sa.Column('refund_status', sa.String(length=20), server_default='pending', nullable=False),
    sa.Column('location_id', BIG, nullable=True),
    sa.Column('operation_id', sa.String(length=64), nullable=True),
    sa.Column('user_id', BIG, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_returns_location_id_locations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_returns_order_id_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_returns_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_returns')),
    sa.UniqueConstraint('number', name=op.f('uq_returns_number')),
    sa.UniqueConstraint('operation_id', name=op.f('uq_returns_operation_id')),
    )
    op.create_index('ix_returns_order_id', 'returns', ['order_id'])
    op.create_index('ix_returns_created_at', 'returns', ['created_at'])
    op.create_table('return_lines',
    sa.Column('id', BIG, nullable=False),
    sa.Column('return_id', BIG, nullable=False),
    sa.Column('order_line_id', BIG, nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=60), nullable=False),
    sa.Column('condition', sa.String(length=20), server_default='restock', nullable=False),
    sa.CheckConstraint("condition IN ('restock', 'damaged')", name=op.f('ck_return_lines_condition_known')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_return_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_return_lines_order_line_id_order_lines'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['return_id'], ['returns.id'], name=op.f('fk_return_lines_return_id_returns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_return_lines')),
    )
    op.create_index('ix_return_lines_return_id', 'return_lines', ['return_id'])
    op.create_index('ix_return_lines_order_line_id', 'return_lines', ['order_line_id'])
    if sqlite:
        return
    schema = current_schema(bind)
    for statement in _functions(schema):
        op.execute(statement)
    rows = {"insert": "NEW TABLE AS new_rows", "update": "NEW TABLE AS new_rows", "delete": "OLD TABLE AS old_rows"}
    for table in AUDITED:
        for action, transition in rows.items():
            op.execute(f"CREATE TRIGGER bo_row_audit_{action} AFTER {action.upper()} ON {table} "
                       f"REFERENCING {transition} FOR EACH STATEMENT EXECUTE FUNCTION bo_row_audit('id')")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in AUDITED:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS bo_row_audit_{action} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS bo_reserve(jsonb)")
        op.execute("DROP FUNCTION IF EXISTS bo_lock_levels(bigint[])")
    op.execute("UPDATE stock_levels SET reserved = 0 WHERE reserved <> 0")
    for table in ("return_lines", "returns", "shipment_lines", "shipments", "order_reservations"):
        op.drop_table(table)
    op.drop_column('products', 'allow_backorder')
    with op.batch_alter_table('customers') as batch:
        for column in ("version", "erased_at", "note", "address", "phone", "name"):
            batch.drop_column(column)
    with op.batch_alter_table('order_lines') as batch:
        batch.drop_constraint('returned_within_fulfilled', type_='check')
        batch.drop_constraint('settled_within_quantity', type_='check')
        for column in ("returned", "cancelled", "fulfilled"):
            batch.drop_column(column)
    op.drop_index('ix_orders_state_id', 'orders')
    with op.batch_alter_table('orders') as batch:
        for column in ("version", "cancel_reason", "allocation_note", "processed_at", "channel", "state"):
            batch.drop_column(column)
