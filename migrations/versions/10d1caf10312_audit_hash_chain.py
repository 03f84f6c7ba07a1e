"""audit events: an append-only hash chain

Reviewed by hand (issue 18 point 3). Each audit event gets ``prev_hash`` and
``row_hash`` (app/domain/audit_chain.py), and ``audit_chain_head`` holds the last id,
last hash and count. The events already stored are chained here, in id order, in
batches. ``clinic_id`` becomes nullable (sign-in events of an email with no account).
``actor_id`` and ``patient_id`` lose their foreign keys: ``ON DELETE SET NULL`` would
rewrite stored events. On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE on
``audit_events`` (and DELETE, TRUNCATE on the head) unless ``sclero.audit_maintenance``
is 'on' for the transaction (docs/audit.md).

The downgrade drops the triggers, the chain and the events with no clinic, and clears
ids that no longer name a user or patient so the foreign keys can come back.

Revision ID: 10d1caf10312
Revises: b18a2c5e7d01
Create Date: 2026-12-06 22:40:00.000000

"""
from alembic import op
import sqlalchemy as sa

import app.dbtypes
from app.domain.audit_chain import CONTENT_FIELDS
from app.domain.audit_chain import GENESIS
from app.domain.audit_chain import row_hash
from app.models.audit import APPEND_ONLY_FUNCTION
from app.models.audit import APPEND_ONLY_TRIGGERS
from app.models.audit import DROP_APPEND_ONLY


# revision identifiers, used by Alembic.
revision = '10d1caf10312'
down_revision = 'b18a2c5e7d01'
branch_labels = None
depends_on = None

BATCH = 1000

events = sa.table(
    'audit_events',
    sa.column('id', sa.Integer()),
    sa.column('clinic_id', sa.Integer()),
    sa.column('actor_id', sa.Integer()),
    sa.column('actor_name', sa.String()),
    sa.column('patient_id', sa.Integer()),
    sa.column('action', sa.String()),
    sa.column('detail', sa.String()),
    sa.column('address', sa.String()),
    sa.column('created_at', app.dbtypes.UTCDateTime(timezone=True)),
    sa.column('prev_hash', sa.String()),
    sa.column('row_hash', sa.String()),
)


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))
        batch_op.alter_column('clinic_id', existing_type=sa.INTEGER(), nullable=True)
        batch_op.drop_constraint('fk_audit_events_actor_id_users', type_='foreignkey')
        batch_op.drop_constraint('fk_audit_events_patient_id_patients', type_='foreignkey')

    head = op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_audit_chain_head_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    last_id, last_hash, count = _chain_stored_events()
    op.bulk_insert(head, [{'id': 1, 'last_id': last_id, 'last_hash': last_hash, 'count': count}])

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('row_hash', existing_type=sa.String(length=64), nullable=False)

    if op.get_context().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY_FUNCTION)
        for statement in APPEND_ONLY_TRIGGERS:
            op.execute(statement)


def _chain_stored_events() -> tuple[int, str, int]:
    """Chain the events already stored, in id order, a batch at a time (an install may
    hold millions). :returns: the last id, the last hash and the count."""
    conn = op.get_bind()
    columns = [events.c[name] for name in CONTENT_FIELDS]
    last_id, last_hash, count = 0, GENESIS, 0
    while True:
        rows = conn.execute(
            sa.select(*columns).where(events.c.id > last_id).order_by(events.c.id).limit(BATCH)
        ).mappings().all()
        if not rows:
            return last_id, last_hash, count
        updates = []
        for row in rows:
            digest = row_hash(row, last_hash)
            updates.append({'key': row['id'], 'prev': last_hash, 'digest': digest})
            last_id, last_hash, count = row['id'], digest, count + 1
        conn.execute(
            events.update()
            .where(events.c.id == sa.bindparam('key'))
            .values(prev_hash=sa.bindparam('prev'), row_hash=sa.bindparam('digest')),
            updates,
        )


def downgrade():
    if op.get_context().dialect.name == 'postgresql':
        for statement in DROP_APPEND_ONLY:
            op.execute(statement)
    op.drop_table('audit_chain_head')
    op.execute("DELETE FROM audit_events WHERE clinic_id IS NULL")
    op.execute(
        "UPDATE audit_events SET actor_id = NULL "
        "WHERE actor_id IS NOT NULL AND actor_id NOT IN (SELECT id FROM users)"
    )
    op.execute(
        "UPDATE audit_events SET patient_id = NULL "
        "WHERE patient_id IS NOT NULL AND patient_id NOT IN (SELECT id FROM patients)"
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_audit_events_patient_id_patients', 'patients', ['patient_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key('fk_audit_events_actor_id_users', 'users', ['actor_id'], ['id'], ondelete='SET NULL')
        batch_op.alter_column('clinic_id', existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')
