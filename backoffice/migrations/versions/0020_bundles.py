"""Bundles: fixed bundles and mix-and-match rules

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04

A bundle is a variant marked by a ``bundles`` row (its pricing rule) with its ``bundle_components``; an
order line of a component placed for a bundle is remembered in ``bundle_order_lines``; mix-and-match rules
price any N items of a set (see backoffice/models/bundles.py and backoffice/services/bundles.py).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from backoffice.migrations.row_audit import attach_row_audit, detach_row_audit

revision: str = '0020'
down_revision: Union[str, Sequence[str], None] = '0019'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql')
AUDITED = ("bundles", "mix_match_rules")   # bundle_components (no id) is audited by the service with its bundle


def _editable() -> list[sa.Column]:
    return [
        sa.Column('id', BIG, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    ]


def upgrade() -> None:
    op.create_table('bundles',
    *_editable(),
    sa.Column('variant_id', BIG, nullable=False),
    sa.Column('pricing', sa.Enum('fixed', 'discount', name='bundle_pricing', native_enum=False, create_constraint=True,
                                 length=8), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), server_default='0', nullable=False),
    sa.Column('percent_off', sa.Numeric(precision=12, scale=2), server_default='0', nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_bundles_amount_not_negative')),
    sa.CheckConstraint('percent_off >= 0 AND percent_off <= 100', name=op.f('ck_bundles_percent_within_range')),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_bundles_variant_id_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundles')),
    sa.UniqueConstraint('variant_id', name=op.f('uq_bundles_variant_id')),
    )
    op.create_table('bundle_components',
    sa.Column('bundle_id', BIG, nullable=False),
    sa.Column('component_variant_id', BIG, nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_bundle_components_quantity_positive')),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_bundle_components_bundle_id_bundles'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['component_variant_id'], ['variants.id'], name=op.f('fk_bundle_components_component_variant_id_variants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('bundle_id', 'component_variant_id', name=op.f('pk_bundle_components')),
    )
    op.create_index(op.f('ix_bundle_components_component_variant_id'), 'bundle_components', ['component_variant_id'])
    op.create_table('bundle_order_lines',
    sa.Column('order_line_id', BIG, nullable=False),
    sa.Column('bundle_variant_id', BIG, nullable=False),
    sa.Column('bundle_quantity', sa.Integer(), nullable=False),
    sa.Column('per_bundle', sa.Integer(), nullable=False),
    sa.CheckConstraint('bundle_quantity > 0 AND per_bundle > 0', name=op.f('ck_bundle_order_lines_quantities_positive')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_bundle_order_lines_order_line_id_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['bundle_variant_id'], ['variants.id'], name=op.f('fk_bundle_order_lines_bundle_variant_id_variants'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('order_line_id', name=op.f('pk_bundle_order_lines')),
    )
    op.create_index(op.f('ix_bundle_order_lines_bundle_variant_id'), 'bundle_order_lines', ['bundle_variant_id'])
    op.create_table('mix_match_rules',
    *_editable(),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('price', 'percent', name='mix_match_kind', native_enum=False, create_constraint=True,
                              length=7), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('product_ids', JSON, nullable=False),
    sa.Column('category_ids', JSON, nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_mix_match_rules_quantity_positive')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_mix_match_rules_amount_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mix_match_rules')),
    sa.UniqueConstraint('name', name=op.f('uq_mix_match_rules_name')),
    )
    attach_row_audit(*AUDITED)


def downgrade() -> None:
    detach_row_audit(*AUDITED)
    op.drop_table('mix_match_rules')
    op.drop_index(op.f('ix_bundle_order_lines_bundle_variant_id'), table_name='bundle_order_lines')
    op.drop_table('bundle_order_lines')
    op.drop_index(op.f('ix_bundle_components_component_variant_id'), table_name='bundle_components')
    op.drop_table('bundle_components')
    op.drop_table('bundles')
