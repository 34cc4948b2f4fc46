"""job parents: ``tickdeck.jobs.parent_id`` links a child job (e.g. a backfill's collect jobs) to the job
that queued it, so the parent's outcome follows its children's.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as b:
        b.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
    op.create_index('ix_jobs_parent_id', 'jobs', ['parent_id'])


def downgrade() -> None:
    op.drop_index('ix_jobs_parent_id', table_name='jobs')
    with op.batch_alter_table('jobs') as b:
        b.drop_column('parent_id')
