"""``flask retention run``: erase the clinical records whose retention period has ended
(issue 20 point 4), and the photo-removal both it and a closure use.

What "erase" means here:

* The patient's account row goes, and with it (ON DELETE CASCADE) the patient, their
  sessions, check-ins and their history, alerts, comments, ticks, ratings, photos, the
  closure row and everything queued for them. Photo files are removed after the commit
  (a crash in between leaves orphan files for `flask photos sweep`, never a row without
  its file), as a patient's own photo deletion does.
* The audit trail keeps every event: it is an append-only hash chain
  (app/domain/audit_chain.py), and removing an event would break it. Its events name
  patients by id (no foreign key), so they outlive the record. What could name the
  patient goes: the texts (actor name, detail) of the events the patient did and of
  those about them that may hold their name, email or phone number are blanked
  (``audit.erase_texts``); each event keeps its seal, so `flask audit verify` still
  passes (docs/decisions/account-closure.md). The erasure adds one event, "erase",
  naming the ids, the date the retention ended and how many events were blanked.

Idempotent: an erased record has no closure row left, so a second run finds nothing.
Each patient is erased in its own transaction, so a failure part-way keeps the others.
A run after downtime erases every record whose end has passed, however long ago.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import AccountClosure
from app.models import Patient
from app.models import Photo
from app.models import User
from app.services.audit import erase_texts
from app.services.audit import system_event
from app.services.locking import lock_patient
from app.services.outcomes import tallies
from app.services.photos import storage

log = logging.getLogger(__name__)

RUNNER = "retention run"


@dataclass
class RetentionReport:
    """What a run did: records erased and photo files removed."""

    erased: int = 0
    files: int = 0


def photo_keys(patient_id: int) -> list[str]:
    """The store keys of every photo of the patient (full size and thumbnail)."""
    rows = db.session.execute(
        sa.select(Photo.full_key, Photo.thumb_key).where(Photo.patient_id == patient_id)
    )
    return [key for row in rows for key in row]


def delete_photo_rows(patient_id: int) -> list[str]:
    """Delete the patient's photo rows (no commit). :returns: their files' keys, to
    remove once the transaction has committed (``remove_files``)."""
    keys = photo_keys(patient_id)
    db.session.execute(sa.delete(Photo).where(Photo.patient_id == patient_id))
    return keys


def remove_files(keys: Iterable[str]) -> int:
    """Remove photo files whose rows are gone; one that cannot be removed is left for
    the sweeper. :returns: how many were removed."""
    files, removed = storage.store(), 0
    for key in keys:
        try:
            files.delete(key)
            removed += 1
        except OSError:
            log.warning("a photo file of an erased record was left for the sweeper")
    return removed


def due(now: datetime) -> list[int]:
    """The closures whose record may be erased at ``now``, oldest end first."""
    return list(
        db.session.scalars(
            sa.select(AccountClosure.id)
            .where(AccountClosure.keep_until.is_not(None), AccountClosure.keep_until <= now)
            .order_by(AccountClosure.keep_until, AccountClosure.id)
        )
    )


def erase(closure_id: int, now: datetime) -> list[str] | None:
    """Erase one closed record (commit). :returns: the photo file keys to remove, or
    None when another run erased it meanwhile."""
    closure = db.session.get(AccountClosure, closure_id, with_for_update=True)
    if closure is None or closure.keep_until is None or closure.keep_until > now:
        db.session.rollback()
        return None
    patient = db.session.get(Patient, closure.patient_id)
    if patient is None:  # the patient row went some other way; the closure went with it
        db.session.rollback()
        return None
    # The patient's write lock (app/services/locking.py) before anything is read: a
    # score or check-in committed after the totals below are read would add a count
    # the cascade then strands (PostgreSQL; SQLite already serialises every write).
    lock_patient(patient.id)
    keys = photo_keys(patient.id)
    user_id = patient.user_id
    # Before the account row goes: the name and phone number to look for are on it.
    blanked = erase_texts(patient.id, user_id)
    detail = (
        f"record erased: closure #{closure.id}, retention of "
        f"{closure.retention_years} years ended {closure.keep_until:%Y-%m-%d}; "
        f"{blanked} audit events' texts erased"
    )
    system_event(closure.clinic_id, patient.id, "erase", detail, RUNNER)
    # The clinic's outcome totals count this patient's sessions; the cascade below
    # deletes them where no service sees it, so they leave the totals first.
    tallies.forget_patient(patient.id)
    db.session.expunge_all()  # the database cascades; no stale objects left to flush
    db.session.execute(sa.delete(User).where(User.id == user_id))
    db.session.commit()
    return keys


def run(now: datetime) -> RetentionReport:
    """Erase every record whose retention ended at or before ``now``."""
    report = RetentionReport()
    for closure_id in due(now):
        keys = erase(closure_id, now)
        if keys is None:
            continue
        report.erased += 1
        report.files += remove_files(keys)
    return report
