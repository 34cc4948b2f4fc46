"""hardening: server-side web sessions, dead-letter line numbers, a pending post-write marker per
tick day, and instrument terms per dataset (multiplier, size decimals, lot size, tick size).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 00:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('web_sessions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('client', sa.String(length=64), nullable=False, server_default=''),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash', name='uq_web_sessions_token')
    )
    op.create_index('ix_web_sessions_username', 'web_sessions', ['username'])
    with op.batch_alter_table('dead_letters') as b:
        b.add_column(sa.Column('line', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('tick_days') as b:
        b.add_column(sa.Column('post_write_pending', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('datasets') as b:
        b.add_column(sa.Column('multiplier', sa.Float(), nullable=False, server_default='1'))
        b.add_column(sa.Column('size_decimals', sa.Integer(), nullable=False, server_default='0'))
        b.add_column(sa.Column('lot_size', sa.Float(), nullable=True))
        b.add_column(sa.Column('tick_size', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('datasets') as b:
        for c in ('tick_size', 'lot_size', 'size_decimals', 'multiplier'):
            b.drop_column(c)
    with op.batch_alter_table('tick_days') as b:
        b.drop_column('post_write_pending')
    with op.batch_alter_table('dead_letters') as b:
        b.drop_column('line')
    op.drop_index('ix_web_sessions_username', table_name='web_sessions')
    op.drop_table('web_sessions')
