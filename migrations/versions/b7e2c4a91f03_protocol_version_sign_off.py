"""protocol version sign-off

Written by hand (issue 17 point 3): a protocol version records who signed it off for
patients (user id, and the name as it was then) and when. Only a signed-off version can
be chosen for a new treatment.

Existing rows start NOT signed off, on purpose. Sign-off means a named clinician read
the version and approved it; a migration cannot do that, and a row "signed off by
migration" would put an approval in the record that nobody gave. Treatments already
pinned to these versions are untouched (patients keep their version); only new
patients and bookings wait until a clinic admin signs off, on the Protocols page or
with `flask protocols sign-off --clinic SLUG --key K --version N --by EMAIL`.

Revision ID: b7e2c4a91f03
Revises: 8753e0f1d18f
Create Date: 2026-12-06 19:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'b7e2c4a91f03'
down_revision = '8753e0f1d18f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('protocol_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_off_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('signed_off_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('signed_off_by_name', sa.String(length=120), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_protocol_versions_signed_off_by_id_users'), 'users', ['signed_off_by_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('protocol_versions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_protocol_versions_signed_off_by_id_users'), type_='foreignkey')
        batch_op.drop_column('signed_off_by_name')
        batch_op.drop_column('signed_off_by_id')
        batch_op.drop_column('signed_off_at')
