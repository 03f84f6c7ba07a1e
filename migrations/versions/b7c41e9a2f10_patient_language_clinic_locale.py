"""patients.language and clinics.locale: the language and date style of the pages

Issue 19 point 4: dates are formatted in the clinic's locale (default en_GB) and each
patient may choose the language they read the app in ("" follows the clinic).

Revision ID: b7c41e9a2f10
Revises: d9c3e1a7b512
Create Date: 2026-12-07 02:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c41e9a2f10'
down_revision = 'd9c3e1a7b512'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=10), server_default='', nullable=False))
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locale', sa.String(length=16), server_default='en_GB', nullable=False))


def downgrade():
    with op.batch_alter_table('clinics', schema=None) as batch_op:
        batch_op.drop_column('locale')
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_column('language')
