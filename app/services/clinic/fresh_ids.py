"""Ids a new patient account gets on SQLite: never one an erased patient had.

SQLite gives a table without AUTOINCREMENT the highest id plus one, so erasing the
newest patient freed their id for the next one. That new patient then inherited the
erased one's FHIR identity (``app/domain/fhir.py`` derives resource ids from row ids)
and, in "Download my data", the audit events the erasure keeps by patient id (found by
an adversarial test). PostgreSQL's sequences never hand an id out twice, so there this
returns None and the database chooses.

The ids are read under the clinic's write lock (``lock_clinic``: the database's write
lock on SQLite), so two patients created at once cannot be given the same one.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import Patient
from app.models import User
from app.services.locking import lock_clinic


def fresh_ids(clinic_id: int) -> tuple[int, int] | None:
    """(user id, patient id) above every id a row or an audit event has used, on
    SQLite; None on PostgreSQL."""
    if db.session.get_bind().dialect.name != "sqlite":
        return None
    lock_clinic(clinic_id)
    user = max(
        db.session.scalar(sa.select(sa.func.max(User.id))) or 0,
        db.session.scalar(sa.select(sa.func.max(AuditEvent.actor_id))) or 0,
    )
    patient = max(
        db.session.scalar(sa.select(sa.func.max(Patient.id))) or 0,
        db.session.scalar(sa.select(sa.func.max(AuditEvent.patient_id))) or 0,
    )
    return user + 1, patient + 1
