"""The CRM issue's visibility (private_visibility), for private categories

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 09:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('private', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.drop_column('private')
