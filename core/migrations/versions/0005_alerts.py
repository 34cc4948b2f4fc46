"""alerts: typed rule columns on ``alert_configs`` (owner, watch, condition, threshold, window,
cooldown, webhook URL, updated_at for reloads) and, on ``alert_history``, the series that fired,
the threshold, acknowledgement (acked_by/acked_at) and webhook delivery (state, attempts, last
error, delivered_at), for the alert engine (issue 14).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert_configs') as b:
        b.add_column(sa.Column('owner', sa.String(length=64), nullable=False, server_default=''))
        b.add_column(sa.Column('watch', sa.String(length=200), nullable=False, server_default=''))
        b.add_column(sa.Column('op', sa.String(length=16), nullable=False, server_default='above'))
        b.add_column(sa.Column('threshold', sa.Float(), nullable=True))
        b.add_column(sa.Column('window_s', sa.Float(), nullable=True))
        b.add_column(sa.Column('cooldown_s', sa.Float(), nullable=False, server_default='0'))
        b.add_column(sa.Column('webhook_url', sa.String(length=2048), nullable=False, server_default=''))
        b.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_alert_configs_owner', 'alert_configs', ['owner'])
    with op.batch_alter_table('alert_history') as b:
        b.add_column(sa.Column('series', sa.String(length=200), nullable=False, server_default=''))
        b.add_column(sa.Column('threshold', sa.Float(), nullable=True))
        b.add_column(sa.Column('acked_by', sa.String(length=64), nullable=True))
        b.add_column(sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column('delivery', sa.String(length=16), nullable=False, server_default='none'))
        b.add_column(sa.Column('delivery_attempts', sa.Integer(), nullable=False, server_default='0'))
        b.add_column(sa.Column('delivery_error', sa.Text(), nullable=False, server_default=''))
        b.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_alert_history_config_triggered', 'alert_history', ['config_id', 'triggered_at'])


def downgrade() -> None:
    op.drop_index('ix_alert_history_config_triggered', table_name='alert_history')
    with op.batch_alter_table('alert_history') as b:
        for c in ('delivered_at', 'delivery_error', 'delivery_attempts', 'delivery', 'acked_at', 'acked_by',
                  'threshold', 'series'):
            b.drop_column(c)
    op.drop_index('ix_alert_configs_owner', table_name='alert_configs')
    with op.batch_alter_table('alert_configs') as b:
        for c in ('updated_at', 'webhook_url', 'cooldown_s', 'window_s', 'threshold', 'op', 'watch', 'owner'):
            b.drop_column(c)
