"""Documented vendor formats: id-less CRM comments, the CRM user's id, the photo leg

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 07:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crm_commenter_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crm_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_comment_issue_crm_key', ['issue_id', 'crm_key'])
    with op.batch_alter_table('sync_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('photo_intended_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('photo_attached_at', sa.DateTime(), nullable=True))
    # Comments stored before: their CRM id is their key (the marker already sent).
    op.execute(
        "UPDATE comment SET crm_key = CAST(crm_comment_id AS VARCHAR(64)) "
        "WHERE crm_comment_id IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('sync_link', schema=None) as batch_op:
        batch_op.drop_column('photo_attached_at')
        batch_op.drop_column('photo_intended_at')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_constraint('uq_comment_issue_crm_key', type_='unique')
        batch_op.drop_column('crm_key')
    with op.batch_alter_table('agency', schema=None) as batch_op:
        batch_op.drop_column('crm_commenter_id')
