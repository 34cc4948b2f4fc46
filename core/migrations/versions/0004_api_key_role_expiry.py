"""API key role and expiry: ``api_keys.role`` (the key's own role, never above its user's; null
means the user's role) and ``api_keys.expires_at`` (null: no expiry), for the HTTP API (issue 13).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys') as b:
        b.add_column(sa.Column('role', sa.String(length=16), nullable=True))
        b.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('api_keys') as b:
        b.drop_column('expires_at')
        b.drop_column('role')
