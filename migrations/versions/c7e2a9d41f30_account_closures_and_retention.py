"""account closures and retention

Issue 20 point 4: a patient's request to close their account (one per patient), what
its completion kept and until when; and each clinic's retention policy (years to keep a
closed account's clinical record, and whether photos are kept with it or deleted at
closure). Both clinic columns start empty: the config's defaults apply until an admin
chooses, so existing clinics need no data move.

Revision ID: c7e2a9d41f30
Revises: b4a543c3e3ae
Create Date: 2026-12-07 05:30:00

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'c7e2a9d41f30'
down_revision = 'b4a543c3e3ae'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_closures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.Column('retention_years', sa.Integer(), nullable=True),
    sa.Column('photos_policy', sa.String(length=10), server_default='', nullable=False),
    sa.Column('keep_until', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_account_closures_clinic_id_clinics')),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_account_closures_completed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_account_closures_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_closures')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_account_closures_patient_id'))
    )
    with op.batch_alter_table('account_closures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_closures_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index('ix_account_closures_keep_until', ['keep_until'], unique=False)

    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_years', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('photos_at_closure', sa.String(length=10), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('photos_at_closure')
        batch_op.drop_column('retention_years')

    with op.batch_alter_table('account_closures', schema=None) as batch_op:
        batch_op.drop_index('ix_account_closures_keep_until')
        batch_op.drop_index(batch_op.f('ix_account_closures_clinic_id'))

    op.drop_table('account_closures')
