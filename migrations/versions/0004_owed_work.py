"""Owed work in the database: link due times and leases, the periodic schedule, named leases

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 06:10:00

"""
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sync_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column('failures_in_row', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('lease_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('dispatched_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('remote_duplicates', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_sync_link_due_at'), ['due_at'], unique=False)
    op.create_table('periodic_run',
    sa.Column('key', sa.String(length=150), nullable=False),
    sa.Column('next_run_at', sa.DateTime(), nullable=False),
    sa.Column('last_queued_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_periodic_run'))
    )
    op.create_table('lease',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('owner', sa.String(length=200), nullable=True),
    sa.Column('until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_lease'))
    )
    # Work already owed when upgrading: pending links are due now (naive UTC,
    # as the models store it, whatever the database session's time zone).
    now = datetime.now(UTC).replace(tzinfo=None)
    op.get_bind().execute(
        sa.text("UPDATE sync_link SET due_at = :now WHERE state = 'pending'"), {"now": now}
    )


def downgrade():
    op.drop_table('lease')
    op.drop_table('periodic_run')
    with op.batch_alter_table('sync_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_link_due_at'))
        batch_op.drop_column('remote_duplicates')
        batch_op.drop_column('dispatched_at')
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')
        batch_op.drop_column('due_at')
        batch_op.drop_column('failures_in_row')
