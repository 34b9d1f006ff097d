"""Values edited in the admin console, kept over the file's by config load

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'console_edit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entity', sa.String(length=20), nullable=False),
        sa.Column('row_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=100), nullable=False),
        sa.Column('value', sa.JSON(), nullable=True),
        sa.Column('edited_by', sa.String(length=254), nullable=False),
        sa.Column('edited_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_console_edit')),
        sa.UniqueConstraint(
            'entity', 'row_id', 'field', name=op.f('uq_console_edit_entity')
        ),
    )


def downgrade():
    op.drop_table('console_edit')
