"""Clinic comments written into a patient's diary, with a notification queued for them."""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import Comment
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.errors import Invalid
from app.services.notify.enqueue import enqueue_comment
from app.services.review.actions import NOTE_MAX


def add_comment(
    actor: Principal,
    patient_id: int,
    body: str,
    address: str,
    now: datetime,
    client_key: str | None = None,
) -> Comment:
    """Write a comment into the patient's diary and queue a (generic) notification.

    A repeated ``client_key`` with the same words (a double tap, a resend on slow
    Wi-Fi, two at once) gets the comment stored the first time: the patient never reads
    the same message twice, nor gets a second notification for it. Other words under a
    key seen before (a page restored with its key, the text changed) are a new comment.
    """
    patient = own_patient(actor, patient_id, address, "comment on")
    key = (client_key or "").strip()[:64] or None
    text = body.strip()
    if key and (first := _sent_before(patient.id, key)) is not None and first.body != text:
        # The key names the first comment; these words get a key of their own from it,
        # so their own double tap is stored once too.
        key = f"{key[:40]}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    if key and (first := _sent_before(patient.id, key)) is not None:
        return first
    if not text:
        raise Invalid("body", "Write a comment first.")
    if len(text) > NOTE_MAX:
        raise Invalid("body", f"Please keep comments under {NOTE_MAX:,} characters.")
    comment = Comment(
        patient_id=patient.id,
        author_id=actor.id,
        author_name=actor.name,
        body=text,
        created_at=now,
        client_key=key,
    )
    db.session.add(comment)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:
        # The same form, posted at the same moment, was stored first by another worker.
        db.session.rollback()
        if key and (first := _sent_before(patient.id, key)) is not None:
            return first
        raise
    enqueue_comment(comment, patient, now)
    audit(actor, patient.id, "comment", address)
    db.session.commit()
    return comment


def _sent_before(patient_id: int, key: str) -> Comment | None:
    return db.session.scalar(
        sa.select(Comment).where(Comment.patient_id == patient_id, Comment.client_key == key)
    )
