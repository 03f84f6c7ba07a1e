"""calendar links and event revisions

Issue 20 point 3: a patient's private calendar subscription link (the token's SHA-256
only, one per patient) and the SEQUENCE / LAST-MODIFIED each calendar event was last
given, so a moved session updates the event a calendar app already has.

Revision ID: e1c4a7d2b9f3
Revises: c7e2a9d41f30
Create Date: 2026-12-07 05:30:00

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = 'e1c4a7d2b9f3'
down_revision = 'c7e2a9d41f30'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_links',
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_calendar_links_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_calendar_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_links_token_hash'))
    )
    op.create_table('calendar_event_revisions',
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=80), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('modified_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_calendar_event_revisions_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', 'uid', name=op.f('pk_calendar_event_revisions'))
    )


def downgrade():
    op.drop_table('calendar_event_revisions')
    op.drop_table('calendar_links')
