"""auth sessions: when the person last proved who they are (fresh sign-in)

Issue 18, checklist A9: ``authenticated_at`` is set at sign-in and by "Confirm it's
you"; sensitive staff actions need it within SCLERO_FRESH_AUTH. Sessions already open
keep NULL and count from ``created_at``. ``reauth_failures`` counts wrong tries on
that page (the fifth ends the session).

Revision ID: 5e7a1b9c3d42
Revises: 10d1caf10312
Create Date: 2026-12-06 23:20:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '5e7a1b9c3d42'
down_revision = '10d1caf10312'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authenticated_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('reauth_failures', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_column('reauth_failures')
        batch_op.drop_column('authenticated_at')
