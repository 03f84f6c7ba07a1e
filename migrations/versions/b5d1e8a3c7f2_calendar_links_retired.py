"""calendar links retired

Issue 20 point 3: a replaced or stopped calendar link answers an empty calendar for a
bounded period (so subscribed calendars clear the old events), then 404. Only the
token's hash and when it stopped; no patient id.

Revision ID: b5d1e8a3c7f2
Revises: 8808e182690c
Create Date: 2026-12-07 12:45:00

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'b5d1e8a3c7f2'
down_revision = '8808e182690c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_links_retired',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('retired_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_calendar_links_retired'))
    )
    with op.batch_alter_table('calendar_links_retired', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_links_retired_retired_at'), ['retired_at'], unique=False)


def downgrade():
    with op.batch_alter_table('calendar_links_retired', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_links_retired_retired_at'))
    op.drop_table('calendar_links_retired')
