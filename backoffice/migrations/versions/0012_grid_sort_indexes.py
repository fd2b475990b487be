"""Indexes for the grid's sort orders, so a page in any of them is a short index scan at a million variants

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

A grid page (the store API's ``/v1/catalog/variants``, the desktop's first page) is a keyset read: the
rows after the last one shown, in display order. Without an index on the sort key, each page sorts
every matching row (1.5 s by price at a million variants). With one, it reads the next hundred entries.

- variants (price, id) and (updated_at, id): the order (value, variant id).
- products (title, id), (vendor, id), (product_type, id): the product-field sorts order by (value,
  product id, variant id), so a page walks these and the variants of each product. (vendor, id)
  replaces the index on vendor alone, which it covers.
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_variants_price_id', 'variants', ['price', 'id'])
    op.create_index('ix_variants_updated_at_id', 'variants', ['updated_at', 'id'])
    op.create_index('ix_products_title_id', 'products', ['title', 'id'])
    op.create_index('ix_products_vendor_id', 'products', ['vendor', 'id'])
    op.create_index('ix_products_product_type_id', 'products', ['product_type', 'id'])
    op.drop_index('ix_products_vendor', table_name='products')


def downgrade() -> None:
    op.create_index('ix_products_vendor', 'products', ['vendor'])
    op.drop_index('ix_products_product_type_id', table_name='products')
    op.drop_index('ix_products_vendor_id', table_name='products')
    op.drop_index('ix_products_title_id', table_name='products')
    op.drop_index('ix_variants_updated_at_id', table_name='variants')
    op.drop_index('ix_variants_price_id', table_name='variants')
