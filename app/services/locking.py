"""Serialising the writes of one patient's diary across devices and workers (and, with
``lock_clinic``, the clinic-wide rules such as "keep one active admin").

A patient may have the app open on several phones at once, each sending check-in
edits, task ticks and photos. Each of those use-cases reads something, decides, and
writes (a check-in's history is read, appended to and written back). Without a lock,
two of them interleave and one confirmed write is lost (issue 15 point 3: 37 of 60
confirmed answer sets gone). So a use-case that writes the diary first takes the
patient's lock, then reads what it decides on, then commits once, which releases it.

* PostgreSQL: ``SELECT ... FOR UPDATE`` on the patient's row; other patients are not
  affected.
* SQLite has no row locks: a no-op ``UPDATE`` takes the database's write lock (the
  driver begins the transaction just before it), so reads after it see the latest
  commit and no other writer can commit in between. Waiting writers wait up to the
  connection's busy timeout.

Take the lock *after* anything slow that needs no lock (validation, image processing),
and re-read what the decision depends on after it (``populate_existing``), because an
object loaded earlier in the request may be stale.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import Patient


def lock_patient(patient_id: int) -> None:
    """Hold the patient's write lock until this request's transaction ends."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(Patient.id).where(Patient.id == patient_id).with_for_update())
        return
    # Writes a column to its own value (not the key, so no foreign-key checks run).
    table = Patient.__table__
    db.session.execute(
        table.update().where(table.c.id == patient_id).values(timezone=table.c.timezone)
    )


def lock_clinic(clinic_id: int) -> None:
    """Hold the clinic's write lock until this request's transaction ends: for a rule
    over the clinic's staff (app/services/accounts/staff_changes.py), the same way."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.select(Clinic.id).where(Clinic.id == clinic_id).with_for_update())
        return
    table = Clinic.__table__
    db.session.execute(table.update().where(table.c.id == clinic_id).values(name=table.c.name))
