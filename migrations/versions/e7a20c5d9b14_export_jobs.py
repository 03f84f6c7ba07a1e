"""export_jobs: a patient's "Download my data" requests

Issue 20 point 1. One row per export: claimed by a worker with a lease and a fencing
token, built into instance/exports, downloaded once or expired. The partial unique index
keeps one open export per patient (a double click gets the same job); the partial claim
index serves the worker's "what is due" query as the outbox's does. A new table: nothing
to backfill.

Revision ID: e7a20c5d9b14
Revises: e3b7c2d94a16
Create Date: 2026-12-07 05:30:00

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'e7a20c5d9b14'
down_revision = 'e3b7c2d94a16'
branch_labels = None
depends_on = None

OPEN = "state IN ('pending', 'building', 'ready')"
CLAIMABLE = "state IN ('pending', 'building')"


def upgrade():
    op.create_table(
        'export_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('clinic_id', sa.Integer(), nullable=False),
        sa.Column(
            'state',
            sa.Enum(
                'pending', 'building', 'ready', 'downloaded', 'expired', 'failed',
                name='exportstate', native_enum=False, length=20,
            ),
            nullable=False,
        ),
        sa.Column('requested_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column('available_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claim_token', sa.String(length=32), nullable=True),
        sa.Column('file_name', sa.String(length=100), nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('ready_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column('expires_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=200), server_default='', nullable=False),
        sa.ForeignKeyConstraint(
            ['clinic_id'], ['clinics.id'], name=op.f('fk_export_jobs_clinic_id_clinics')
        ),
        sa.ForeignKeyConstraint(
            ['patient_id'], ['patients.id'],
            name=op.f('fk_export_jobs_patient_id_patients'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_export_jobs')),
    )
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_jobs_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index(
            'uq_export_jobs_open', ['patient_id'], unique=True,
            postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
        )
        batch_op.create_index(
            'ix_export_jobs_claim', ['available_at'], unique=False,
            postgresql_where=sa.text(CLAIMABLE), sqlite_where=sa.text(CLAIMABLE),
        )


def downgrade():
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_export_jobs_claim')
        batch_op.drop_index('uq_export_jobs_open')
        batch_op.drop_index(batch_op.f('ix_export_jobs_patient_id'))
    op.drop_table('export_jobs')
