"""The console's boundary map (where each importer candidate lies) and the agency's time zone

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 10:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('imported_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lng', sa.Float(), nullable=True))
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
    with op.batch_alter_table('imported_request', schema=None) as batch_op:
        batch_op.drop_column('lng')
        batch_op.drop_column('lat')
