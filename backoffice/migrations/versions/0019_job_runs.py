"""Scheduled jobs: their run history and the leases that keep two runs of a job from overlapping

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04

``backoffice schedule install`` registers the periodic jobs with the OS scheduler; every run of one
(whoever starts it) takes the job's lease in ``job_locks`` and is recorded in ``job_runs`` (see
backoffice/models/jobs.py and backoffice/services/job_runs.py).
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = '0019'
down_revision: Union[str, Sequence[str], None] = '0018'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('job_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('job', sa.String(length=40), nullable=False),
    sa.Column('scope', sa.String(length=100), server_default='', nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('summary', sa.Text(), server_default='', nullable=False),
    sa.Column('host', sa.String(length=255), server_default='', nullable=False),
    sa.Column('pid', sa.Integer(), server_default='0', nullable=False),
    sa.Column('username', sa.String(length=100), server_default='', nullable=False),
    sa.Column('os_user', sa.String(length=100), server_default='', nullable=False),
    sa.CheckConstraint("status IN ('running', 'ok', 'failed', 'skipped')", name=op.f('ck_job_runs_status_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_job_started_at', ['job', 'started_at'], unique=False)

    op.create_table('job_locks',
    sa.Column('name', sa.String(length=150), nullable=False),
    sa.Column('token', sa.String(length=36), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('host', sa.String(length=255), server_default='', nullable=False),
    sa.Column('pid', sa.Integer(), server_default='0', nullable=False),
    sa.Column('node', sa.String(length=100), server_default='', nullable=False),
    sa.Column('username', sa.String(length=100), server_default='', nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['job_runs.id'], name=op.f('fk_job_locks_run_id_job_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_job_locks'))
    )


def downgrade() -> None:
    op.drop_table('job_locks')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_job_started_at')

    op.drop_table('job_runs')
