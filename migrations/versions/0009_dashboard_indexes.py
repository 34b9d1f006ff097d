"""Dashboard indexes: the issue list newest first (keyset pages), unrouted issues, links by state, duplicated links, recent events by kind

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# PostgreSQL sorts NULLs first in descending order, so the listing's index says
# NULLS LAST; SQLite's descending order puts them last already and its CREATE
# INDEX takes no NULLS clause (webapp.extensions drops it there).
LISTING = [sa.text('crm_created_at DESC NULLS LAST'), sa.text('id DESC')]


def upgrade():
    op.create_index('ix_issue_listing', 'issue', LISTING, unique=False)
    unrouted = sa.text('skip_reason IS NOT NULL')
    op.create_index(
        'ix_issue_skipped',
        'issue',
        LISTING,
        unique=False,
        postgresql_where=unrouted,
        sqlite_where=unrouted,
    )
    op.create_index('ix_event_kind_created', 'event', ['kind', 'created_at'], unique=False)
    op.create_index(
        'ix_sync_link_state_integration', 'sync_link', ['state', 'integration_id'], unique=False
    )
    duplicated = sa.text('remote_duplicates IS NOT NULL')
    op.create_index(
        'ix_sync_link_duplicates',
        'sync_link',
        ['integration_id'],
        unique=False,
        postgresql_where=duplicated,
        sqlite_where=duplicated,
    )


def downgrade():
    op.drop_index('ix_sync_link_duplicates', table_name='sync_link')
    op.drop_index('ix_sync_link_state_integration', table_name='sync_link')
    op.drop_index('ix_event_kind_created', table_name='event')
    op.drop_index('ix_issue_skipped', table_name='issue')
    op.drop_index('ix_issue_listing', table_name='issue')
