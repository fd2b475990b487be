"""Variant templates, price rules (surcharges per attribute value), product base prices, per-variant
price overrides, and archived attributes and values

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _editable() -> list[sa.Column]:
    return [
        sa.Column('id', _ID, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    ]


def upgrade() -> None:
    op.create_table('variant_templates',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=500), server_default='', nullable=False),
    sa.Column('sku_pattern', sa.String(length=200), server_default='', nullable=False),
    sa.Column('exclusions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    *_editable(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_variant_templates')),
    sa.UniqueConstraint('name', name=op.f('uq_variant_templates_name'))
    )
    op.create_table('price_rules',
    sa.Column('attribute_value_id', _ID, nullable=False),
    sa.Column('product_id', _ID, nullable=True),
    sa.Column('kind', sa.Enum('amount', 'percent', name='surcharge_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    *_editable(),
    sa.ForeignKeyConstraint(['attribute_value_id'], ['attribute_values.id'], name=op.f('fk_price_rules_attribute_value_id_attribute_values'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_price_rules_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_rules')),
    sa.UniqueConstraint('attribute_value_id', 'product_id', name=op.f('uq_price_rules_attribute_value_id_product_id'))
    )
    with op.batch_alter_table('price_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_rules_attribute_value_id'), ['attribute_value_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_price_rules_product_id'), ['product_id'], unique=False)

    op.create_table('product_base_prices',
    sa.Column('product_id', _ID, nullable=False),
    sa.Column('base_price', sa.Numeric(precision=12, scale=2), nullable=False),
    *_editable(),
    sa.CheckConstraint('base_price >= 0', name=op.f('ck_product_base_prices_base_price_not_negative')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_base_prices_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_base_prices')),
    sa.UniqueConstraint('product_id', name=op.f('uq_product_base_prices_product_id'))
    )
    op.create_table('variant_template_values',
    sa.Column('template_id', _ID, nullable=False),
    sa.Column('attribute_value_id', _ID, nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['attribute_value_id'], ['attribute_values.id'], name=op.f('fk_variant_template_values_attribute_value_id_attribute_values'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['template_id'], ['variant_templates.id'], name=op.f('fk_variant_template_values_template_id_variant_templates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('template_id', 'attribute_value_id', name=op.f('pk_variant_template_values'))
    )
    with op.batch_alter_table('variant_template_values', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_variant_template_values_attribute_value_id'), ['attribute_value_id'], unique=False)

    op.create_table('variant_price_overrides',
    sa.Column('variant_id', _ID, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=100), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_variant_price_overrides_variant_id_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('variant_id', name=op.f('pk_variant_price_overrides'))
    )
    # A plain ADD COLUMN, not a batch copy: on SQLite a batch recreates the table, and dropping the old
    # attribute_values with variant_options rows still pointing at it fails the foreign key check.
    op.add_column('attribute_values', sa.Column('archived', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('attributes', sa.Column('archived', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column('attributes', 'archived')
    op.drop_column('attribute_values', 'archived')

    op.drop_table('variant_price_overrides')
    with op.batch_alter_table('variant_template_values', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_variant_template_values_attribute_value_id'))

    op.drop_table('variant_template_values')
    op.drop_table('product_base_prices')
    with op.batch_alter_table('price_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_rules_product_id'))
        batch_op.drop_index(batch_op.f('ix_price_rules_attribute_value_id'))

    op.drop_table('price_rules')
    op.drop_table('variant_templates')
