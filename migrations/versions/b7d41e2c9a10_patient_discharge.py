"""patient discharge: when and why

Reviewed by hand: a patient is discharged by a clinician (issue 17 point 4) and may be
re-opened. Existing patients are all active, so both columns start empty (NULL and '').

Revision ID: b7d41e2c9a10
Revises: b7e2c4a91f03
Create Date: 2026-12-06 19:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'b7d41e2c9a10'
down_revision = 'b7e2c4a91f03'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discharged_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('discharge_reason', sa.String(length=500), server_default='', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('discharge_reason')
        batch_op.drop_column('discharged_at')
