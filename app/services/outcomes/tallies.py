"""The clinic's running totals for its outcomes page (``OutcomeTally``): per protocol
version and sclerosant, how many done sessions, how many showed each complication,
their stocking answers, and a count per value of the patients' ratings and the
clearance scores (keys: app/domain/outcomes.py:session_tally).

Why totals: adding up every session of a clinic on each view cost 5 to 6 times the
dashboard on SQLite for 10,000 patients (bench/outcomes.py); the page now reads a few
hundred rows whatever the clinic's size. Medians still come out exact, because the
totals keep a count per value (0-100 % in whole per cent), not a sum.

How they stay right: every use case that changes what a session adds (recording it,
correcting its sclerosant, a check-in, a rating, a score) reads the session's share
before and after its change (``state``), under the patient's write lock
(app/services/locking.py), and adds the difference (``apply``) in its own transaction.
The share is worked out in one place (``session_tally``), so a session moved to another
group takes everything it counted with it. ``rebuild`` recounts from the rows
themselves, for loaders that bypass the services (benchmarks, the demo); the migration
that adds the table has its own copy over explicit columns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects import sqlite

from app.domain import outcomes as rules
from app.extensions import db
from app.models import ClearanceScore
from app.models import OutcomeRating
from app.models import OutcomeTally
from app.models import Patient
from app.models import SessionFacts
from app.models import Treatment
from app.models import TreatmentStatus

Group = tuple[int, int, str]  # clinic, protocol version, sclerosant as recorded


@dataclass(frozen=True)
class Share:
    """What one session adds to its clinic's totals, and to which group; a session
    not done (booked, cancelled, gone) adds nothing."""

    group: Group | None = None
    counts: dict[str, int] = field(default_factory=dict)


NOTHING = Share()


def _record(row: Any) -> rules.SessionRecord:  # noqa: ANN401 - a row of _SESSION_COLUMNS
    flags = frozenset(k for k in rules.COMPLICATIONS if getattr(row, k))
    stockings = tuple(getattr(row, k) or 0 for k in rules.STOCKING_COUNTS)
    rating = None
    if row.improvement is not None:
        rating = (row.improvement, row.satisfaction, row.side_effects or "")
    return rules.SessionRecord(flags, stockings, rating, row.score)  # type: ignore[arg-type]


def _session_columns() -> list:
    f = SessionFacts
    return [
        Patient.clinic_id,
        Treatment.protocol_version_id,
        Treatment.sclerosant,
        *(getattr(f, k) for k in rules.COMPLICATIONS),
        *(getattr(f, k) for k in rules.STOCKING_COUNTS),
        OutcomeRating.improvement,
        OutcomeRating.satisfaction,
        OutcomeRating.side_effects,
        ClearanceScore.score,
    ]


def _sessions(select: sa.Select) -> sa.Select:
    """Done sessions with their facts, rating and score (each at most one row)."""
    return (
        select.select_from(Treatment)
        .join(Patient, Patient.id == Treatment.patient_id)
        .outerjoin(SessionFacts, SessionFacts.treatment_id == Treatment.id)
        .outerjoin(OutcomeRating, OutcomeRating.treatment_id == Treatment.id)
        .outerjoin(ClearanceScore, ClearanceScore.treatment_id == Treatment.id)
        .where(Treatment.status == TreatmentStatus.DONE)
    )


def state(treatment_id: int) -> Share:
    """The session's share as stored now (one statement). Read it under the patient's
    write lock, before changing anything of the session, and again after."""
    row = db.session.execute(
        _sessions(sa.select(*_session_columns())).where(Treatment.id == treatment_id)
    ).first()
    if row is None:
        return NOTHING
    group = (row.clinic_id, row.protocol_version_id, row.sclerosant or "")
    return Share(group, rules.session_tally(_record(row)))


def apply(before: Share, after: Share) -> None:
    """Add ``after`` less ``before`` to the totals (nothing when they are the same)."""
    delta: Counter[tuple[Group, str]] = Counter()
    for share, sign in ((before, -1), (after, 1)):
        if share.group is not None:
            for key, n in share.counts.items():
                delta[(share.group, key)] += sign * n
    _add({k: n for k, n in delta.items() if n})


@contextmanager
def tracked(treatment_id: int) -> Iterator[None]:
    """Apply the change the block makes to one session's share (not on an error)."""
    before = state(treatment_id)
    yield
    apply(before, state(treatment_id))


def add_session(treatment_id: int) -> None:
    """Count a done session made without the services (test data, the demo)."""
    apply(NOTHING, state(treatment_id))


def forget_patient(patient_id: int) -> None:
    """Take a patient's sessions out of the totals (one read, one upsert): call it, in
    the same transaction, before deleting the patient's rows (an erasure deletes the
    account and the database cascades, which no service of the sessions sees)."""
    delta: Counter[tuple[Group, str]] = Counter()
    rows = db.session.execute(
        _sessions(sa.select(*_session_columns())).where(Treatment.patient_id == patient_id)
    )
    for row in rows:
        group = (row.clinic_id, row.protocol_version_id, row.sclerosant or "")
        for key, n in rules.session_tally(_record(row)).items():
            delta[(group, key)] -= n
    _add({k: n for k, n in delta.items() if n})


def _add(delta: dict[tuple[Group, str], int]) -> None:
    """One upsert adding each count. Rows in a fixed order, so two transactions of the
    same clinic lock its rows in the same order (PostgreSQL: no deadlock)."""
    if not delta:
        return
    rows = [
        {"clinic_id": c, "protocol_version_id": v, "sclerosant": s, "key": k, "count": n}
        for ((c, v, s), k), n in sorted(delta.items())
    ]
    db.session.execute(_upsert(db.session.get_bind().dialect.name), rows)


def _upsert(dialect: str) -> sa.Insert:
    table = OutcomeTally.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[
            table.c.clinic_id,
            table.c.protocol_version_id,
            table.c.sclerosant,
            table.c.key,
        ],
        set_={"count": table.c.count + stmt.excluded["count"]},
    )


def read(clinic_id: int) -> list[tuple[int, str, str, int]]:
    """The clinic's totals: (protocol version, sclerosant, key, count), none zero."""
    t = OutcomeTally
    return [
        tuple(r)  # type: ignore[misc]
        for r in db.session.execute(
            sa.select(t.protocol_version_id, t.sclerosant, t.key, t.count).where(
                t.clinic_id == clinic_id, t.count != 0
            )
        )
    ]


def rebuild(connection: sa.Connection, clinic_id: int | None = None) -> int:
    """Recount the totals of one clinic (or all) from the sessions, their facts, ratings
    and scores; :returns: rows written."""
    table = OutcomeTally.__table__
    columns = _session_columns()
    query = _sessions(sa.select(*columns, sa.func.count().label("n"))).group_by(*columns)
    wipe = sa.delete(table)
    if clinic_id is not None:
        query = query.where(Patient.clinic_id == clinic_id)
        wipe = wipe.where(table.c.clinic_id == clinic_id)
    totals: Counter[tuple[int, int, str, str]] = Counter()
    for row in connection.execute(query):
        group = (row.clinic_id, row.protocol_version_id, row.sclerosant or "")
        for key, n in rules.session_tally(_record(row)).items():
            totals[(*group, key)] += n * row.n
    connection.execute(wipe)
    rows = [
        {"clinic_id": c, "protocol_version_id": v, "sclerosant": s, "key": k, "count": n}
        for (c, v, s, k), n in sorted(totals.items())
    ]
    if rows:
        connection.execute(sa.insert(table), rows)
    return len(rows)
