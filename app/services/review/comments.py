"""Clinic comments written into a patient's diary, with a notification queued for them."""

from __future__ import annotations

from datetime import datetime

from app.extensions import db
from app.models import Comment
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.errors import Invalid
from app.services.notify.enqueue import enqueue_comment
from app.services.review.actions import NOTE_MAX


def add_comment(
    actor: Principal, patient_id: int, body: str, address: str, now: datetime
) -> Comment:
    """Write a comment into the patient's diary and queue a (generic) notification."""
    patient = own_patient(actor, patient_id, address, "comment on")
    text = body.strip()
    if not text:
        raise Invalid("body", "Write a comment first.")
    if len(text) > NOTE_MAX:
        raise Invalid("body", f"Please keep comments under {NOTE_MAX:,} characters.")
    comment = Comment(
        patient_id=patient.id, author_id=actor.id, author_name=actor.name, body=text, created_at=now
    )
    db.session.add(comment)
    db.session.flush()
    enqueue_comment(comment, patient, now)
    audit(actor, patient.id, "comment", address)
    db.session.commit()
    return comment
