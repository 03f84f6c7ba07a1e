"""Keep each patient's follow-up state current: when they were last heard from, and
until when they are followed for missed check-ins.

* ``follow_until``: the latest recorded treatment plus 28 days (the DVT window, ref 2.6).
* ``last_seen_at``: the later of the latest treatment and the latest check-in.

SQLAlchemy events on CheckIn and Treatment update the patient row in the same flush, so
every write path (services, demo data, tests) keeps it right. ``BACKFILL`` recomputes it
from scratch (used by the migration and by bulk loaders that bypass the ORM).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from app.domain.reminders import CHECKIN_DAYS
from app.models.checkin import CheckIn
from app.models.patient import Patient
from app.models.treatment import Treatment
from app.models.treatment import TreatmentStatus

# As long as daily check-ins are asked for (and reminded).
FOLLOW_DAYS = CHECKIN_DAYS


def _later(column: sa.Column[Any], value: Any) -> sa.ColumnElement[Any]:
    return sa.case((sa.or_(column.is_(None), column < value), value), else_=column)


def _after_checkin(_mapper: Any, connection: sa.Connection, checkin: CheckIn) -> None:
    connection.execute(
        sa.update(Patient)
        .where(Patient.id == checkin.patient_id)
        .values(last_seen_at=_later(Patient.last_seen_at, checkin.updated_at))
    )


def _after_treatment(_mapper: Any, connection: sa.Connection, treatment: Treatment) -> None:
    if treatment.status != TreatmentStatus.DONE or treatment.treated_at is None:
        return
    connection.execute(
        sa.update(Patient)
        .where(Patient.id == treatment.patient_id)
        .values(
            last_seen_at=_later(Patient.last_seen_at, treatment.treated_at),
            follow_until=_later(
                Patient.follow_until, treatment.treated_at + timedelta(days=FOLLOW_DAYS)
            ),
        )
    )


for _event in ("after_insert", "after_update"):
    event.listen(CheckIn, _event, _after_checkin)
    event.listen(Treatment, _event, _after_treatment)


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
