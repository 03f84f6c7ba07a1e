"""email channel, email preferences, password resets

Reviewed by hand (issue 17 point 5). The outbox gets a channel (push, the default for
every existing row, or email), a ``detail`` (a digest's reminder kinds, a link's
purpose) and a ``secret`` (an account email's link until it is sent, then NULL).
Account emails and the day's reminder digest belong to no treatment, and a staff email
to no patient, so both columns become nullable; such rows are unique by key
(``uq_outbox_untied_key``, partial). The downgrade deletes them (they cannot exist
under the old schema) and counts digested reminders as sent.

Revision ID: 60e7a1470d84
Revises: ed2d519e497e
Create Date: 2026-12-06 19:24:43.593579

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '60e7a1470d84'
down_revision = 'ed2d519e497e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('password_resets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_resets_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_resets')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_password_resets_token_hash'))
    )
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_resets_user_id'), ['user_id'], unique=False)

    op.create_table('email_preferences',
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('reminders_by_email', sa.Boolean(), nullable=False),
    sa.Column('unsubscribed_at', app.dbtypes.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', app.dbtypes.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_email_preferences_patient_id_patients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', name=op.f('pk_email_preferences'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.Enum('push', 'email', name='channel', native_enum=False, length=10), server_default='push', nullable=False))
        batch_op.add_column(sa.Column('detail', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('secret', sa.String(length=1000), nullable=True))
        batch_op.alter_column('patient_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.alter_column('treatment_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_index('uq_outbox_untied_key', ['key'], unique=True, postgresql_where=sa.text('treatment_id IS NULL'), sqlite_where=sa.text('treatment_id IS NULL'))



def downgrade():
    op.execute("DELETE FROM outbox WHERE treatment_id IS NULL OR patient_id IS NULL")
    op.execute("UPDATE outbox SET state = 'sent' WHERE state = 'digested'")
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('uq_outbox_untied_key', postgresql_where=sa.text('treatment_id IS NULL'), sqlite_where=sa.text('treatment_id IS NULL'))
        batch_op.alter_column('treatment_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.alter_column('patient_id',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('secret')
        batch_op.drop_column('detail')
        batch_op.drop_column('channel')

    op.drop_table('email_preferences')
    with op.batch_alter_table('password_resets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_resets_user_id'))

    op.drop_table('password_resets')
