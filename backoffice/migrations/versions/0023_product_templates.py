"""Product templates

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04

``product_templates``: what a new product starts from (see backoffice/models/product_templates.py).
Staff edit them, so on PostgreSQL their rows are audited by the database (``bo_row_audit``), as the
other tables of staff edits are.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from backoffice.migrations.row_audit import attach_row_audit, detach_row_audit
from sqlalchemy.dialects import postgresql, sqlite

revision: str = '0023'
down_revision: Union[str, Sequence[str], None] = '0022'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('product_templates',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('vendor', sa.String(length=200), server_default='', nullable=False),
    sa.Column('product_type', sa.String(length=200), server_default='', nullable=False),
    sa.Column('category_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('variant_template_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('sku_pattern', sa.String(length=200), server_default='', nullable=False),
    sa.Column('description_template', sa.Text(), server_default='', nullable=False),
    sa.Column('seo_title_template', sa.String(length=500), server_default='', nullable=False),
    sa.Column('seo_description_template', sa.Text(), server_default='', nullable=False),
    sa.Column('default_price', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('default_cost', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('default_cost IS NULL OR default_cost >= 0', name=op.f('ck_product_templates_default_cost_not_negative')),
    sa.CheckConstraint('default_price IS NULL OR default_price >= 0', name=op.f('ck_product_templates_default_price_not_negative')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_product_templates_category_id_categories'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['variant_template_id'], ['variant_templates.id'], name=op.f('fk_product_templates_variant_template_id_variant_templates'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_templates')),
    sa.UniqueConstraint('name', name=op.f('uq_product_templates_name'))
    )
    with op.batch_alter_table('product_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_templates_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_product_templates_variant_template_id'), ['variant_template_id'], unique=False)

    attach_row_audit("product_templates")


def downgrade() -> None:
    detach_row_audit("product_templates")
    with op.batch_alter_table('product_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_templates_variant_template_id'))
        batch_op.drop_index(batch_op.f('ix_product_templates_category_id'))

    op.drop_table('product_templates')
