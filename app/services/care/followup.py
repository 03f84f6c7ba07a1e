"""Each patient's follow-up state: when they were last heard from, and until when they
are followed for missed check-ins (the clinician dashboard reads both).

* ``follow_until``: the latest recorded treatment plus 28 days (the DVT window, ref 2.6).
* ``last_seen_at``: the later of the latest treatment and the latest check-in.

The services that store a check-in or record a treatment call ``note_checkin`` or
``note_treatment`` in the same transaction, next to the change (no ORM events: every
write is visible where it happens). ``backfill`` recomputes it all from scratch, for the
migration that added it and for bulk loaders that bypass the services.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.domain.reminders import CHECKIN_DAYS
from app.extensions import db
from app.models import CheckIn
from app.models import Patient
from app.models import Treatment
from app.models import TreatmentStatus

# As long as daily check-ins are asked for (and reminded).
FOLLOW_DAYS = CHECKIN_DAYS


def _later(column: Any, value: Any) -> sa.ColumnElement[Any]:
    return sa.case((sa.or_(column.is_(None), column < value), value), else_=column)


def note_checkin(patient_id: int, at: datetime) -> None:
    """A check-in was stored or changed at ``at``; no commit."""
    db.session.execute(
        sa.update(Patient)
        .where(Patient.id == patient_id)
        .values(last_seen_at=_later(Patient.last_seen_at, at))
        .execution_options(synchronize_session=False)
    )


def note_treatment(treatment: Treatment) -> None:
    """A treatment was recorded as done; no commit. Other states change nothing."""
    if treatment.status != TreatmentStatus.DONE or treatment.treated_at is None:
        return
    db.session.execute(
        sa.update(Patient)
        .where(Patient.id == treatment.patient_id)
        .values(
            last_seen_at=_later(Patient.last_seen_at, treatment.treated_at),
            follow_until=_later(
                Patient.follow_until, treatment.treated_at + timedelta(days=FOLLOW_DAYS)
            ),
        )
        .execution_options(synchronize_session=False)
    )


def backfill(connection: sa.Connection) -> int:
    """Recompute every patient's follow-up state from their treatments and check-ins.

    For loaders that bypass the ORM (benchmarks); two grouped reads and one batch write.
    :returns: the number of patients updated.
    """
    treated = dict(
        connection.execute(
            sa.select(Treatment.patient_id, sa.func.max(Treatment.treated_at))
            .where(Treatment.status == TreatmentStatus.DONE)
            .group_by(Treatment.patient_id)
        ).all()
    )
    checked = dict(
        connection.execute(
            sa.select(CheckIn.patient_id, sa.func.max(CheckIn.updated_at)).group_by(
                CheckIn.patient_id
            )
        ).all()
    )
    rows = []
    for pid in set(treated) | set(checked):
        t, c = treated.get(pid), checked.get(pid)
        seen = max(x for x in (t, c) if x is not None)
        rows.append(
            {"pid": pid, "seen": seen, "until": t + timedelta(days=FOLLOW_DAYS) if t else None}
        )
    if rows:
        table = Patient.__table__
        connection.execute(
            table.update()
            .where(table.c.id == sa.bindparam("pid"))
            .values(last_seen_at=sa.bindparam("seen"), follow_until=sa.bindparam("until")),
            rows,
        )
    return len(rows)
