"""changesets

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('changesets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('operation_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('username', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('reverts_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['reverts_id'], ['changesets.id'], name=op.f('fk_changesets_reverts_id_changesets'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_changesets_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_changesets')),
    sa.UniqueConstraint('operation_id', name=op.f('uq_changesets_operation_id'))
    )
    with op.batch_alter_table('changesets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_changesets_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_changesets_reverts_id'), ['reverts_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_changesets_user_id'), ['user_id'], unique=False)

    op.create_table('changeset_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('changeset_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entity', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version_before', sa.Integer(), nullable=False),
    sa.Column('version_after', sa.Integer(), nullable=False),
    sa.Column('before', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('after', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['changeset_id'], ['changesets.id'], name=op.f('fk_changeset_entries_changeset_id_changesets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_changeset_entries'))
    )
    with op.batch_alter_table('changeset_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_changeset_entries_changeset_id'), ['changeset_id'], unique=False)
        batch_op.create_index('ix_changeset_entries_entity_entity_id', ['entity', 'entity_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('changeset_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_changeset_entries_entity_entity_id')
        batch_op.drop_index(batch_op.f('ix_changeset_entries_changeset_id'))

    op.drop_table('changeset_entries')
    with op.batch_alter_table('changesets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_changesets_user_id'))
        batch_op.drop_index(batch_op.f('ix_changesets_reverts_id'))
        batch_op.drop_index(batch_op.f('ix_changesets_created_at'))

    op.drop_table('changesets')
