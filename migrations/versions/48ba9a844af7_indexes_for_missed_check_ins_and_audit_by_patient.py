"""indexes for missed check-ins and audit events by patient

* patients: the dashboard's "missed two or more check-ins" reads a range of last_seen_at
  (the follow-up window up to two days ago) in the order it shows, instead of every
  patient still followed; the old index served only that query.
* audit_events: the dashboard now audits each patient it lists, so a followed patient
  gathers many events; "who looked at your diary" reads their latest in index order.

Revision ID: 48ba9a844af7
Revises: 514e7405b894
Create Date: 2026-11-22 04:15:03.748062

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '48ba9a844af7'
down_revision = '514e7405b894'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_patient_time', ['patient_id', 'created_at'], unique=False)
        batch_op.drop_index('ix_audit_events_patient_id')

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_last_seen', ['clinic_id', 'last_seen_at', 'follow_until'], unique=False)
        batch_op.drop_index('ix_patients_followup')


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_followup', ['clinic_id', 'follow_until', 'last_seen_at'], unique=False)
        batch_op.drop_index('ix_patients_last_seen')

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_patient_id', ['patient_id'], unique=False)
        batch_op.drop_index('ix_audit_events_patient_time')
