"""The clinic's audit trail as a clinic admin reads it, a page at a time."""

from __future__ import annotations

import sqlalchemy as sa

from app.models import AuditEvent
from app.models import Patient
from app.models import User
from app.principal import Principal
from app.services.review.paging import Section
from app.services.review.paging import counted_page


def audit_log(actor: Principal, page: int) -> Section:
    """The clinic's audit trail, newest first (clinic admins only; checked by the view)."""
    where = (AuditEvent.clinic_id == actor.clinic_id,)
    query = (
        sa.select(
            AuditEvent.created_at,
            AuditEvent.actor_name,
            AuditEvent.action,
            AuditEvent.detail,
            AuditEvent.address,
            AuditEvent.patient_id,
            User.name.label("patient_name"),
        )
        .outerjoin(Patient, Patient.id == AuditEvent.patient_id)
        # An event older than the account is about an erased record whose id SQLite
        # gave to a newer patient (app/services/clinic/retention.py): no name, not theirs.
        .outerjoin(
            User, sa.and_(User.id == Patient.user_id, User.created_at <= AuditEvent.created_at)
        )
        .where(*where)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    )
    return counted_page(
        query, sa.select(sa.func.count()).select_from(AuditEvent).where(*where), page
    )
