"""alert note shared with the patient

Reviewed by hand: when acknowledging an alert, the clinician may choose to share the
note with the patient, who then reads it on Today (issue 14 point 4). Existing
acknowledgements were written for the clinic only, so they start not shared.

Revision ID: 8753e0f1d18f
Revises: 7c1e5a9d20b4
Create Date: 2026-12-06 07:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8753e0f1d18f'
down_revision = '7c1e5a9d20b4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('note_shared', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('note_shared')
