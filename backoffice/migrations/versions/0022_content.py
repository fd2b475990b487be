"""Content: description templates and SEO checks

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04

``content_templates`` holds merchants' named description templates (Jinja2, rendered sandboxed) and
``content_settings`` the thresholds of the content checks (see backoffice/models/content.py). Both are
staff edits: on PostgreSQL the database audits their rows, as it does the catalog's.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from backoffice.migrations.row_audit import attach_row_audit, detach_row_audit

revision: str = '0022'
down_revision: Union[str, Sequence[str], None] = '0021'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

AUDITED = ("content_templates", "content_settings")


def upgrade() -> None:
    op.create_table('content_templates',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('target_field', sa.String(length=20), server_default='description', nullable=False),
    sa.Column('source', sa.Text(), server_default='', nullable=False),
    sa.Column('note', sa.String(length=500), server_default='', nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("target_field IN ('description', 'seo_title', 'seo_description')",
                       name=op.f('ck_content_templates_target_field_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_templates')),
    sa.UniqueConstraint('name', name=op.f('uq_content_templates_name'))
    )
    op.create_table('content_settings',
    sa.Column('thin_words', sa.Integer(), server_default='50', nullable=False),
    sa.Column('attention_below', sa.Integer(), server_default='80', nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint('attention_below >= 0 AND attention_below <= 100',
                       name=op.f('ck_content_settings_attention_below_range')),
    sa.CheckConstraint('thin_words >= 0 AND thin_words <= 10000', name=op.f('ck_content_settings_thin_words_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_content_settings'))
    )
    attach_row_audit(*AUDITED)


def downgrade() -> None:
    detach_row_audit(*AUDITED)
    op.drop_table('content_settings')
    op.drop_table('content_templates')
