"""The audit trail's writers: views of a patient's data, changes, and refused attempts.

Shared by every clinician use-case (review, photos, clinic), so each records the same
who, which patient, what, when and from where.
"""

from __future__ import annotations

from app.clock import now
from app.extensions import db
from app.models import AuditEvent
from app.models import Patient
from app.principal import Principal
from app.services.errors import NotFound


def audit(
    actor: Principal, patient_id: int | None, action: str, address: str, detail: str = ""
) -> None:
    """Add an audit event (committed with the caller's transaction)."""
    db.session.add(
        AuditEvent(
            clinic_id=actor.clinic_id,
            actor_id=actor.id,
            actor_name=actor.name,
            patient_id=patient_id,
            action=action,
            detail=detail[:300],
            address=address[:64],
        )
    )


def audit_views(actor: Principal, patient_ids: list[int], address: str, detail: str) -> None:
    """A "view" audit event for each of ``patient_ids``, in one executemany insert."""
    if not patient_ids:
        return
    # Read the actor once: current_user is a proxy, and a page lists up to 80 patients.
    event = dict(
        clinic_id=actor.clinic_id,
        actor_id=actor.id,
        actor_name=actor.name,
        action="view",
        detail=detail,
        address=address[:64],
        created_at=now(),
    )
    db.session.execute(
        AuditEvent.__table__.insert(), [{**event, "patient_id": pid} for pid in patient_ids]
    )


def own_patient(actor: Principal, patient_id: int, address: str, action: str) -> Patient:
    """A patient of the actor's clinic; anything else is audited and "not found"."""
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.clinic_id != actor.clinic_id:
        raise refuse(actor, address, f"{action} patient #{patient_id}", "No such patient.")
    return patient


def refuse(actor: Principal, address: str, what: str, message: str) -> NotFound:
    """Audit a refused attempt on another clinic's (or no) object, committed at once so
    the 404 that follows does not roll it back. :returns: the NotFound to raise."""
    audit(actor, None, "refused", address, what)
    db.session.commit()
    return NotFound(message)


def security_event(
    action: str,
    address: str,
    detail: str = "",
    *,
    clinic_id: int | None = None,
    user_id: int | None = None,
    name: str = "",
) -> None:
    """An authentication event (failed sign-in, lockout, second-factor failure), added
    to the caller's transaction. ``clinic_id`` and ``user_id`` are None when the email
    has no account: such events are kept without a clinic.
    """
    if clinic_id is None:
        # Events with no clinic need a nullable clinic_id (the audit chain's migration).
        return
    db.session.add(
        AuditEvent(
            clinic_id=clinic_id,
            actor_id=user_id,
            actor_name=(name or "(sign-in)")[:120],
            patient_id=None,
            action=action[:40],
            detail=detail[:300],
            address=address[:64],
        )
    )
