"""audit events: texts sealed, so an erased patient's name can leave the trail

Reviewed by hand (issue 20 points 4 and 5, docs/decisions/account-closure.md). Each
audit event gets ``seal_salt`` and ``seal`` (a salted SHA-256 of ``actor_name`` and
``detail``), and its ``row_hash`` covers the seal instead of the texts
(app/domain/audit_chain.py: ``sealed_row_hash``). So ``flask retention run`` can blank
the texts that name an erased patient (and the salt) and the chain still verifies.

The events already stored are re-chained here, in id order, in batches: first checked
against their current hashes (a trail already broken is refused, not re-hashed into a
clean one: run ``flask audit verify``), then sealed and hashed again, and the head gets
the new last hash. A hash of the old chain copied somewhere else no longer matches after
this; the decision record says why that price is paid. On PostgreSQL the append-only
trigger is replaced by one that also lets an erasure blank a sealed event's texts and
salt, and nothing else.

The downgrade hashes every event over its texts again (an erased event keeps its blanked
texts), drops the seal columns and puts back the trigger without the erasure case.

Revision ID: c4f9a2d6e8b1
Revises: b5d1e8a3c7f2
Create Date: 2026-12-07 15:20:00

"""
import secrets

from alembic import op
import sqlalchemy as sa

from app.domain.audit_chain import CONTENT_FIELDS
from app.domain.audit_chain import GENESIS
from app.domain.audit_chain import row_hash
from app.domain.audit_chain import seal
from app.domain.audit_chain import sealed_row_hash
from app.models.audit import APPEND_ONLY_FUNCTION
from app.models.audit import MAINTENANCE_SETTING

import app.dbtypes


# revision identifiers, used by Alembic.
revision = 'c4f9a2d6e8b1'
down_revision = 'b5d1e8a3c7f2'
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
    sa.column('seal_salt', sa.String()),
    sa.column('seal', sa.String()),
)
head = sa.table(
    'audit_chain_head', sa.column('id', sa.Integer()), sa.column('last_hash', sa.String())
)

# The trigger function as revision 10d1caf10312 installed it, for the downgrade.
_UNSEALED_FUNCTION = f"""
CREATE OR REPLACE FUNCTION sclero_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('{MAINTENANCE_SETTING}', true), '') = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _maintenance():
    """Let this migration's transaction rewrite stored events (PostgreSQL's trigger)."""
    if op.get_context().dialect.name == 'postgresql':
        op.execute(f"SET LOCAL {MAINTENANCE_SETTING} = 'on'")


def upgrade():
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seal_salt', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('seal', sa.String(length=64), nullable=True))
    _maintenance()
    _rechain(sealed=True)
    if op.get_context().dialect.name == 'postgresql':
        op.execute(APPEND_ONLY_FUNCTION)


def downgrade():
    _maintenance()
    _rechain(sealed=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('seal')
        batch_op.drop_column('seal_salt')
    if op.get_context().dialect.name == 'postgresql':
        op.execute(_UNSEALED_FUNCTION)


def _current_hash(row, prev_hash: str) -> str:
    """The hash the stored event should carry now (sealed or not)."""
    if row['seal'] is None:
        return row_hash(row, prev_hash)
    return sealed_row_hash(row, prev_hash)


def _rechain(*, sealed: bool) -> None:
    """Check every stored event against its hash, then hash it again, sealed or not, a
    batch at a time (an install may hold millions); the head gets the last hash."""
    conn = op.get_bind()
    columns = [events.c[name] for name in CONTENT_FIELDS]
    old_last, new_last, last_id = GENESIS, GENESIS, 0
    while True:
        rows = conn.execute(
            sa.select(*columns, events.c.prev_hash, events.c.row_hash, events.c.seal_salt,
                      events.c.seal)
            .where(events.c.id > last_id).order_by(events.c.id).limit(BATCH)
        ).mappings().all()
        if not rows:
            break
        updates = []
        for row in rows:
            if row['prev_hash'] != old_last or row['row_hash'] != _current_hash(row, old_last):
                raise RuntimeError(
                    f"audit event #{row['id']} does not match the chain: the trail is not "
                    "re-hashed over a break. Run `flask audit verify` and resolve it first."
                )
            old_last = row['row_hash']
            if sealed:
                salt = secrets.token_hex(16)
                digest = seal(salt, row['actor_name'], row['detail'])
                new = sealed_row_hash({**row, 'seal': digest}, new_last)
            else:
                salt = digest = None
                new = row_hash(row, new_last)
            updates.append(
                {'key': row['id'], 'prev': new_last, 'digest': new, 'salt': salt, 'seal_': digest}
            )
            new_last, last_id = new, row['id']
        conn.execute(
            events.update()
            .where(events.c.id == sa.bindparam('key'))
            .values(
                prev_hash=sa.bindparam('prev'),
                row_hash=sa.bindparam('digest'),
                seal_salt=sa.bindparam('salt'),
                seal=sa.bindparam('seal_'),
            ),
            updates,
        )
    conn.execute(head.update().where(head.c.id == 1).values(last_hash=new_last))
