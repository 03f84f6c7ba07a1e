"""patients.messages_seen_at: when the patient last read the clinic's messages

Issue 19 point 3. Today shows a card for clinic comments and acknowledged alerts newer
than this instant, until the patient reads or dismisses them. Nullable with no default:
an existing patient has read nothing yet, so needs no backfill.

Revision ID: d9c3e1a7b512
Revises: 5e7a1b9c3d42
Create Date: 2026-12-07 02:10:00

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'd9c3e1a7b512'
down_revision = '5e7a1b9c3d42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('messages_seen_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('messages_seen_at')
