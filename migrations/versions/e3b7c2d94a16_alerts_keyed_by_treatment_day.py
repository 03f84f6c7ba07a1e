"""alerts keyed by treatment and day

Issue 19 point 3: a warning sign answered "yes" on a check-in form refused for another
reason (a question left blank) is alerted at once, before any check-in is stored. An
alert is therefore keyed by its treatment and day, and ``checkin_id`` may be empty
until the check-in is sent; the check-in then joins that alert instead of raising a
second one. Existing alerts get the treatment and day of their check-in.

Revision ID: e3b7c2d94a16
Revises: e1c4a7d2b9f3
Create Date: 2026-12-07 05:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e3b7c2d94a16'
down_revision = 'e1c4a7d2b9f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('treatment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('day', sa.Integer(), nullable=True))
        batch_op.alter_column('checkin_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f('fk_alerts_treatment_id_treatments'),
            'treatments',
            ['treatment_id'],
            ['id'],
            ondelete='CASCADE',
        )
        batch_op.create_index('ix_alerts_treatment_day', ['treatment_id', 'day'], unique=False)
    # Every alert so far came from a stored check-in: give it that check-in's key.
    op.execute(
        "UPDATE alerts SET "
        "treatment_id = (SELECT checkins.treatment_id FROM checkins "
        "WHERE checkins.id = alerts.checkin_id), "
        "day = (SELECT checkins.day FROM checkins WHERE checkins.id = alerts.checkin_id)"
    )


def downgrade():
    # An alert without a check-in cannot be kept by the older schema: it is dropped
    # (the clinic has already been told; the check-in, once sent, raises its own).
    op.execute("DELETE FROM alerts WHERE checkin_id IS NULL")
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_treatment_day')
        batch_op.drop_constraint(batch_op.f('fk_alerts_treatment_id_treatments'), type_='foreignkey')
        batch_op.alter_column('checkin_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('day')
        batch_op.drop_column('treatment_id')
