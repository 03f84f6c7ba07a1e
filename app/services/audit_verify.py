"""Check the audit trail's hash chain (``flask audit verify``, docs/audit.md).

Walks the events in id order, a batch at a time (a clinic's trail holds millions), and
stops at the first problem:

* an edited event: its stored ``row_hash`` is not the hash of its content;
* a missing event: an event's ``prev_hash`` is not the ``row_hash`` of the event before
  it (or, for the first, not GENESIS), so something between them was removed, or the
  event before was rewritten together with its hash;
* missing newest events: the head (last id, last hash, count) does not match the last
  event, or there are events and no head;
* a sealed event (docs/decisions/account-closure.md) whose texts do not match its seal,
  or that was erased (salt gone) but carries words other than the erased marker;
* an event inserted directly, off the chain: with an id at or below 0 (the walk starts
  at the lowest id, whatever it is, so such a row meets the GENESIS check) or past the
  head's last id (looked for after the walk, against the head read again then).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.domain.audit_chain import CONTENT_FIELDS
from app.domain.audit_chain import ERASED_TEXT
from app.domain.audit_chain import GENESIS
from app.domain.audit_chain import row_hash
from app.domain.audit_chain import seal
from app.domain.audit_chain import sealed_row_hash
from app.models import AuditEvent
from app.models.audit import MAINTENANCE_SETTING
from app.models.audit import AuditChainHead

BATCH = 5000


@dataclass(frozen=True)
class ChainReport:
    """The outcome: ``problem`` is None when the chain is intact. ``event_id`` names the
    first event found wrong (the edited one, or the one after a gap), if any."""

    count: int
    problem: str | None = None
    event_id: int | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(connection: sa.Connection, batch: int = BATCH) -> ChainReport:
    """Walk the whole chain on ``connection``; see the module docstring."""
    guard = _check_guard(connection)
    if guard is not None:
        return ChainReport(0, guard)
    events = AuditEvent.__table__
    columns = [events.c[name] for name in CONTENT_FIELDS]
    head_table = AuditChainHead.__table__
    # The head first: the events up to its last id were committed with it, so the walk
    # up to there is not confused by events appended while it runs (each batch is its
    # own snapshot on READ COMMITTED and on SQLite).
    head = connection.execute(sa.select(head_table).where(head_table.c.id == 1)).first()
    upto = events.c.id <= head.last_id if head is not None else sa.true()
    last_id, last_hash, count = 0, GENESIS, 0
    # No lower bound on the first batch: appended ids start at 1, so a row with id 0 or
    # below was inserted by hand, and skipping it would let it pass unseen.
    after: sa.ColumnElement[bool] = sa.true()
    while True:
        rows = (
            connection.execute(
                sa.select(
                    *columns,
                    events.c.prev_hash,
                    events.c.row_hash,
                    events.c.seal_salt,
                    events.c.seal,
                )
                .where(after, upto)
                .order_by(events.c.id)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        if not rows:
            break
        for row in rows:
            if row["prev_hash"] != last_hash:
                after = f"after event #{last_id}" if count else "at the start of the trail"
                return ChainReport(
                    count,
                    f"chain broken at event #{row['id']}: an event is missing {after}, "
                    f"or event #{last_id} was rewritten with its hash",
                    row["id"],
                )
            try:
                expected = _expected_hash(row, last_hash)
            except ValueError:  # e.g. an id rewritten to text on SQLite
                expected = ""
            if row["row_hash"] != expected:
                return ChainReport(
                    count, f"event #{row['id']} was edited: its hash does not match", row["id"]
                )
            last_id, last_hash, count = row["id"], row["row_hash"], count + 1
        after = events.c.id > last_id
    report = _check_head(head, last_id, last_hash, count)
    if report.intact and head is not None:
        return _check_past_head(connection, count)
    return report


def _expected_hash(row: sa.RowMapping, prev_hash: str) -> str:
    """The hash ``row`` must carry, or "" when its texts do not fit its seal. An event
    chained before sealing (no seal) is hashed over its texts; a sealed one over its
    seal, which its texts must match while it has its salt, and which an erased event
    (no salt) must carry the erased marker in place of."""
    if row["seal"] is None:
        return row_hash(row, prev_hash)
    if row["seal_salt"] is None:
        if row["actor_name"] != ERASED_TEXT or row["detail"] != ERASED_TEXT:
            return ""
    elif seal(row["seal_salt"], row["actor_name"], row["detail"]) != row["seal"]:
        return ""
    return sealed_row_hash(row, prev_hash)


# The append-only triggers the migration installs (app/models/audit.py).
_TRIGGERS = (
    "audit_events_append_only",
    "audit_events_no_truncate",
    "audit_chain_head_keep",
    "audit_chain_head_no_truncate",
)


def _check_guard(connection: sa.Connection) -> str | None:
    """On PostgreSQL, the append-only triggers are there and enabled, and the
    maintenance bypass is not on by default (``ALTER DATABASE/ROLE ... SET`` or the
    connection's options would silently turn them off for the app). The chain would
    still show an edit, but the database would no longer refuse it."""
    if connection.dialect.name != "postgresql":
        return None
    enabled = set(
        connection.execute(
            sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgname = ANY(:names) AND tgenabled <> 'D' "
                "AND tgrelid IN ('audit_events'::regclass, 'audit_chain_head'::regclass)"
            ),
            {"names": list(_TRIGGERS)},
        ).scalars()
    )
    missing = [name for name in _TRIGGERS if name not in enabled]
    if missing:
        return f"the append-only trigger {missing[0]} is missing or disabled"
    bypass = connection.execute(
        sa.text(f"SELECT current_setting('{MAINTENANCE_SETTING}', true)")
    ).scalar()
    if (bypass or "") == "on":
        return (
            f"{MAINTENANCE_SETTING} is on for this connection by default, so the database "
            "accepts edits to the trail: remove it from the role, database or options"
        )
    return None


def _check_past_head(connection: sa.Connection, count: int) -> ChainReport:
    """An event past the head is one no appender wrote: each append moves the head in
    the same transaction as its events. The newest id is read first and the head after
    it, so an append committing meanwhile is covered by the head read second."""
    events = AuditEvent.__table__
    head_table = AuditChainHead.__table__
    newest = connection.execute(sa.select(sa.func.max(events.c.id))).scalar()
    head = connection.execute(sa.select(head_table).where(head_table.c.id == 1)).first()
    if newest is not None and (head is None or newest > head.last_id):
        return ChainReport(
            count,
            f"event #{newest} is not on the chain: it lies past the head "
            f"(#{head.last_id if head is not None else 0}), so it was inserted directly",
            newest,
        )
    return ChainReport(count)


def _check_head(head: sa.Row | None, last_id: int, last_hash: str, count: int) -> ChainReport:
    if head is None:
        if count == 0:
            return ChainReport(0)
        return ChainReport(count, "the chain's head row is missing")
    if (head.last_id, head.last_hash, head.count) != (last_id, last_hash, count):
        if head.count > count or head.last_id > last_id:
            return ChainReport(
                count,
                f"events are missing at the end: the head records {head.count} events up "
                f"to #{head.last_id}, the trail has {count} up to #{last_id}",
                head.last_id,
            )
        return ChainReport(
            count,
            f"the chain's head (#{head.last_id}, {head.count} events) does not match the "
            f"last event (#{last_id}, {count} events)",
            last_id or None,
        )
    return ChainReport(count)
