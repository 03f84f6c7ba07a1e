"""comments: a client key, so a double tap stores one comment

Reviewed by hand. A nullable ``client_key`` (the form load's key, set by app.js) and a
unique (patient_id, client_key): a second post of the same form returns the comment
stored the first time (app/services/review/comments.py). Comments stored before have
no key; NULLs never collide (SQLite and PostgreSQL alike), so they all stay. Batch mode
rebuilds the table on SQLite, which cannot add a constraint in place. The downgrade
drops both.

Revision ID: 75ef1145a157
Revises: c4f9a2d6e8b1
Create Date: 2026-12-07 19:04:46.855159

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision = '75ef1145a157'
down_revision = 'c4f9a2d6e8b1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_comments_patient_id'), ['patient_id', 'client_key'])


def downgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_comments_patient_id'), type_='unique')
        batch_op.drop_column('client_key')
