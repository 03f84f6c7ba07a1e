"""outbox claim token and expiry

Reviewed by hand: two nullable columns on the outbox. ``claim_token`` fences each claim
(outcomes and lease renewals are written only by the claim's holder); ``expires_at`` is
when a reminder stops being worth sending. Existing rows get no expiry, so they behave
as before. The new ``dropped`` state needs no DDL: the state column is a VARCHAR(20)
without a CHECK constraint (native_enum=False).

Revision ID: 7c1e5a9d20b4
Revises: c708eb1af544
Create Date: 2026-12-06 07:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '7c1e5a9d20b4'
down_revision = 'c708eb1af544'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('expires_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('claim_token')
