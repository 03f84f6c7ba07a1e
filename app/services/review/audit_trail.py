"""The clinic's audit trail as a clinic admin reads it, a page at a time.

Events name patients by id (``app.services.audit.actor_label``), and an erased record's
events have their texts blanked (``audit.erase_texts``): names are looked up here, when
the page is shown. A patient whose record is gone shows as "Erased patient #id".
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.domain.audit_chain import ERASED_TEXT
from app.models import AuditEvent
from app.models import Patient
from app.models import User
from app.models.user import Role
from app.principal import Principal
from app.services.review.paging import Section
from app.services.review.paging import counted_page


@dataclass(frozen=True)
class AuditLine:
    """One event as the page shows it (the names resolved)."""

    created_at: datetime
    actor_name: str
    action: str
    detail: str
    address: str
    patient_id: int | None
    patient_name: str | None


def audit_log(actor: Principal, page: int) -> Section:
    """The clinic's audit trail, newest first (clinic admins only; checked by the view)."""
    where = (AuditEvent.clinic_id == actor.clinic_id,)
    acting = aliased(User)
    acting_patient = aliased(Patient)
    query = (
        sa.select(
            AuditEvent.created_at,
            AuditEvent.actor_name,
            AuditEvent.actor_id,
            AuditEvent.action,
            AuditEvent.detail,
            AuditEvent.address,
            AuditEvent.patient_id,
            User.name.label("patient_name"),
            acting.name.label("acting_name"),
            acting.role.label("acting_role"),
            acting_patient.id.label("acting_patient_id"),
        )
        .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
        # An event older than the account is about an erased record whose id SQLite
        # gave to a newer patient (app/services/clinic/retention.py): no name, not theirs.
        .outerjoin(
            User, sa.and_(User.id == Patient.user_id, User.created_at <= AuditEvent.created_at)
        )
        .outerjoin(
            acting,
            sa.and_(acting.id == AuditEvent.actor_id, acting.created_at <= AuditEvent.created_at),
        )
        .outerjoin(acting_patient, acting_patient.user_id == acting.id)
        .where(*where)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    section = counted_page(
        query, sa.select(sa.func.count()).select_from(AuditEvent).where(*where), page
    )
    return replace(section, rows=[_line(row) for row in section.rows])


def _line(row: sa.Row) -> AuditLine:
    patient_name = row.patient_name
    if patient_name is None and row.patient_id is not None:
        patient_name = f"Erased patient #{row.patient_id}"
    return AuditLine(
        created_at=row.created_at,
        actor_name=_actor(row),
        action=row.action,
        detail="" if row.detail == ERASED_TEXT else row.detail,
        address=row.address,
        patient_id=row.patient_id,
        patient_name=patient_name,
    )


def _actor(row: sa.Row) -> str:
    """Who did it: a patient (stored by id) by their name while their record exists;
    anyone whose event was blanked by an erasure by their account, if it is still
    there; otherwise what the event stored."""
    if row.acting_role == Role.PATIENT and row.acting_name is not None:
        return f"{row.acting_name} (patient)"
    if row.actor_name == ERASED_TEXT:
        if row.acting_name is not None:
            return row.acting_name
        return "Erased patient" if row.actor_id is not None else "(erased)"
    if row.actor_name.startswith("patient #"):
        return f"Erased {row.actor_name}"  # the account is gone: the record was erased
    return row.actor_name
