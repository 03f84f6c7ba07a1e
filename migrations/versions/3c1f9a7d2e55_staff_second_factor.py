"""staff second factor: TOTP secrets, recovery codes, trusted devices, pending sessions

Issue 18 point 4. A TOTP secret per enrolled account (sealed with a key derived from
SECRET_KEY), its single-use recovery codes (hashes only), browsers trusted to skip the
code for 12 hours (token hashes only), and on each sign-in session the second factor
still owed and the wrong codes typed. Existing sessions owe nothing (server default "").

Revision ID: 3c1f9a7d2e55
Revises: 60e7a1470d84
Create Date: 2026-12-06 22:35:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '3c1f9a7d2e55'
down_revision = '60e7a1470d84'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('mfa_secrets',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_step', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_secrets_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_mfa_secrets'))
    )
    op.create_table('mfa_recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_recovery_codes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_recovery_codes'))
    )
    with op.batch_alter_table('mfa_recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_recovery_codes_user_id'), ['user_id'], unique=False)

    op.create_table('mfa_trusted_devices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_mfa_trusted_devices_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mfa_trusted_devices')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_mfa_trusted_devices_token_hash'))
    )
    with op.batch_alter_table('mfa_trusted_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mfa_trusted_devices_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mfa_pending', sa.String(length=8), server_default='', nullable=False))
        batch_op.add_column(sa.Column('mfa_failures', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('auth_sessions', schema=None) as batch_op:
        batch_op.drop_column('mfa_failures')
        batch_op.drop_column('mfa_pending')

    with op.batch_alter_table('mfa_trusted_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_trusted_devices_user_id'))

    op.drop_table('mfa_trusted_devices')
    with op.batch_alter_table('mfa_recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mfa_recovery_codes_user_id'))

    op.drop_table('mfa_recovery_codes')
    op.drop_table('mfa_secrets')
