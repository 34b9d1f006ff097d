"""Sync link legs: when each leg was intended (committed before the vendor call)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

COLUMNS = (
    'remote_create_intended_at',
    'crm_ack_intended_at',
    'crm_close_intended_at',
    'remote_close_intended_at',
)


def upgrade():
    with op.batch_alter_table('sync_link', schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.DateTime(), nullable=True))
    # Legs already done were, by definition, intended: keep "in doubt" meaningful.
    op.execute(
        "UPDATE sync_link SET remote_create_intended_at = remote_created_at "
        "WHERE remote_created_at IS NOT NULL"
    )
    op.execute(
        "UPDATE sync_link SET crm_ack_intended_at = crm_acknowledged_at "
        "WHERE crm_acknowledged_at IS NOT NULL"
    )
    op.execute(
        "UPDATE sync_link SET crm_close_intended_at = crm_closed_at "
        "WHERE crm_closed_at IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('sync_link', schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
