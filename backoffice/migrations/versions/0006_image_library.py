"""Image library: renditions and sizes on product_images, one original per product, the variants that
show an image, and edit versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('product_images', schema=None) as batch_op:
        batch_op.add_column(sa.Column('original_format', sa.String(length=16), server_default='', nullable=False))
        batch_op.add_column(sa.Column('original_bytes', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('current_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('web_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('web_format', sa.String(length=8), server_default='', nullable=False))
        batch_op.add_column(sa.Column('web_width', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('web_height', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('web_bytes', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('thumb_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_product_images_product_id_content_hash'),
                                          ['product_id', 'content_hash'])

    op.create_table('product_image_variants',
    sa.Column('image_id', _ID, nullable=False),
    sa.Column('variant_id', _ID, nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['product_images.id'], name=op.f('fk_product_image_variants_image_id_product_images'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], name=op.f('fk_product_image_variants_variant_id_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id', 'variant_id', name=op.f('pk_product_image_variants'))
    )
    with op.batch_alter_table('product_image_variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_image_variants_variant_id'), ['variant_id'], unique=False)

    op.create_table('image_versions',
    sa.Column('id', _ID, nullable=False),
    sa.Column('image_id', _ID, nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('edits', _JSON, nullable=False),
    sa.Column('note', sa.String(length=200), server_default='', nullable=False),
    sa.Column('web_hash', sa.String(length=64), nullable=False),
    sa.Column('web_width', sa.Integer(), nullable=False),
    sa.Column('web_height', sa.Integer(), nullable=False),
    sa.Column('web_bytes', sa.Integer(), nullable=False),
    sa.Column('thumb_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['product_images.id'], name=op.f('fk_image_versions_image_id_product_images'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_image_versions')),
    sa.UniqueConstraint('image_id', 'number', name=op.f('uq_image_versions_image_id_number'))
    )


def downgrade() -> None:
    op.drop_table('image_versions')
    with op.batch_alter_table('product_image_variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_image_variants_variant_id'))
    op.drop_table('product_image_variants')
    with op.batch_alter_table('product_images', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_product_images_product_id_content_hash'), type_='unique')
        for name in ('thumb_hash', 'web_bytes', 'web_height', 'web_width', 'web_format', 'web_hash',
                     'current_version', 'original_bytes', 'original_format'):
            batch_op.drop_column(name)
