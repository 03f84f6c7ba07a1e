"""remembered devices (a patient's phone and its PIN)

Issue 18 point 10: short sign-in sessions, and a quick way back in on a patient's own
phone (docs/decisions/session-lifetimes.md). One new table; nothing existing changes.

Revision ID: c4a8e2f17b30
Revises: 3c1f9a7d2e55
Create Date: 2026-12-06 22:50:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'c4a8e2f17b30'
down_revision = '3c1f9a7d2e55'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('remembered_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('pin_hash', sa.String(length=255), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('failed_pins', sa.Integer(), nullable=False),
    sa.Column('forgotten_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_remembered_devices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remembered_devices')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_remembered_devices_token_hash'))
    )
    with op.batch_alter_table('remembered_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remembered_devices_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('remembered_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remembered_devices_user_id'))

    op.drop_table('remembered_devices')
