"""Price events and flash sales

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04

A price event applies a price rule to a set of variants (frozen at planning time) from its start to its
end, as changesets (see backoffice/models/price_events.py and backoffice/services/price_events.py).
Events are staff edits: row-audited on PostgreSQL like the other settings and documents.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from backoffice.migrations.row_audit import attach_row_audit, detach_row_audit
from sqlalchemy.dialects import postgresql, sqlite

revision: str = '0021'
down_revision: Union[str, Sequence[str], None] = '0020'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite')
AUDITED = ("price_events", "price_event_variants")


def upgrade() -> None:
    op.create_table('price_events',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('rule', JSON_DOC, nullable=False),
    sa.Column('rule_text', sa.String(length=500), nullable=False),
    sa.Column('target', JSON_DOC, nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('quantity_limit', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=20), server_default='planned', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('start_changeset_id', BIG_ID, nullable=True),
    sa.Column('end_changeset_id', BIG_ID, nullable=True),
    sa.Column('created_by', sa.String(length=100), server_default='', nullable=False),
    sa.Column('note', sa.String(length=500), server_default='', nullable=False),
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("state IN ('planned', 'active', 'ended', 'cancelled')", name=op.f('ck_price_events_state_known')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_price_events_ends_after_start')),
    sa.CheckConstraint('quantity_limit IS NULL OR quantity_limit > 0', name=op.f('ck_price_events_limit_positive')),
    sa.ForeignKeyConstraint(['start_changeset_id'], ['changesets.id'], name=op.f('fk_price_events_start_changeset_id_changesets'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['end_changeset_id'], ['changesets.id'], name=op.f('fk_price_events_end_changeset_id_changesets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_events')),
    sa.UniqueConstraint('name', name=op.f('uq_price_events_name'))
    )
    with op.batch_alter_table('price_events', schema=None) as batch_op:
        batch_op.create_index('ix_price_events_state_starts_at', ['state', 'starts_at'], unique=False)

    op.create_table('price_event_variants',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('event_id', BIG_ID, nullable=False),
    sa.Column('variant_id', BIG_ID, nullable=False),
    sa.Column('sku', sa.String(length=100), server_default='', nullable=False),
    sa.Column('state', sa.String(length=20), server_default='planned', nullable=False),
    sa.Column('regular_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('event_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('regular_compare_at', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('event_compare_at', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('current_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('sold', sa.Integer(), server_default='0', nullable=False),
    sa.Column('end_changeset_id', BIG_ID, nullable=True),
    sa.Column('note', sa.String(length=300), server_default='', nullable=False),
    sa.CheckConstraint("state IN ('planned', 'active', 'limit_reached', 'restored', 'conflict', 'kept', 'skipped', 'cancelled')", name=op.f('ck_price_event_variants_state_known')),
    sa.ForeignKeyConstraint(['event_id'], ['price_events.id'], name=op.f('fk_price_event_variants_event_id_price_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_price_event_variants_variant_id_variants'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['end_changeset_id'], ['changesets.id'], name=op.f('fk_price_event_variants_end_changeset_id_changesets'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_event_variants')),
    sa.UniqueConstraint('event_id', 'variant_id', name=op.f('uq_price_event_variants_event_id_variant_id'))
    )
    with op.batch_alter_table('price_event_variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_event_variants_event_id'), ['event_id'], unique=False)
        batch_op.create_index('ix_price_event_variants_variant_id_state', ['variant_id', 'state'], unique=False)

    attach_row_audit(*AUDITED)


def downgrade() -> None:
    detach_row_audit(*AUDITED)
    with op.batch_alter_table('price_event_variants', schema=None) as batch_op:
        batch_op.drop_index('ix_price_event_variants_variant_id_state')
        batch_op.drop_index(batch_op.f('ix_price_event_variants_event_id'))

    op.drop_table('price_event_variants')
    with op.batch_alter_table('price_events', schema=None) as batch_op:
        batch_op.drop_index('ix_price_events_state_starts_at')

    op.drop_table('price_events')
