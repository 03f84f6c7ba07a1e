"""users.link_notice_at: a one-time notice after a clinic's sign-in link

Issue 18 point 2. When a sign-in link from the clinic replaces an existing password,
the person's start page tells them once; this column holds when, until shown. Nullable
with no default, so existing rows need no backfill.

Revision ID: b18a2c5e7d01
Revises: c4a8e2f17b30
Create Date: 2026-12-06 22:40:00

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'b18a2c5e7d01'
down_revision = 'c4a8e2f17b30'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('link_notice_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('link_notice_at')
