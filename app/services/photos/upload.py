"""Adding a photo: check, re-encode, place it in the course, store it, commit.

Write order (security checklist F3): re-encode in memory, write both files durably
(``storage``), insert the row, commit, answer. Any error before the commit removes the
files again; a crash leaves only unreferenced files, which ``upkeep.sweep`` removes. A
repeated client key (double tap, replay) returns the photo stored the first time.
"""

from __future__ import annotations

from datetime import date
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.adapters import imaging
from app.domain import photos as rules
from app.domain.offsets import local_date
from app.extensions import db
from app.i18n import N_
from app.i18n import _
from app.models import Photo
from app.principal import Principal
from app.services.care.course import Course
from app.services.care.course import load_course
from app.services.errors import Invalid
from app.services.locking import lock_patient
from app.services.photos import storage
from app.services.photos.sites import Site

NOTE_MAX = 500


def add_photo(
    user: Principal,
    data: bytes,
    site: Site,
    note: str,
    client_key: str | None,
    now: datetime,
) -> Photo:
    """Re-encode and store a photo of a site, placed in the patient's course.

    A repeated ``client_key`` (double tap, replay) returns the photo stored the first time.

    :raises Invalid: for a file that is not an acceptable photo, a note that is too long,
        or a full quota; nothing is stored then.
    """
    course = load_course(user)
    patient_id = course.patient.id
    client_key = (client_key or "").strip()[:64] or None
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise Invalid("note", _("Please keep the note under %(n)s characters.", n=NOTE_MAX))
    if not (client_key and _replay(patient_id, client_key)):
        _check_quota(patient_id, local_date(now, course.tz))  # before the slow image work
    try:
        processed = imaging.process(data, storage.settings())
    except imaging.Rejected as exc:
        raise Invalid("photo", str(exc)) from None
    replay, client_key = _sent_before(patient_id, client_key, processed)
    if replay is not None:
        return replay
    treatment_id, phase, day = place(course, now)
    # One writer per patient from here (after the slow image work): the same key sent
    # from two devices or tabs at once stores one photo, and the second gets it back
    # rather than a clash on the unique key (issue 15 point 3).
    lock_patient(patient_id)
    replay, client_key = _sent_before(patient_id, client_key, processed)
    if replay is not None:
        db.session.commit()  # nothing written: just let the lock go
        return replay
    try:
        _check_quota(patient_id, local_date(now, course.tz))
    except Invalid:
        db.session.rollback()
        raise
    photo = Photo(
        patient_id=patient_id,
        clinic_id=user.clinic_id,
        treatment_id=treatment_id,
        phase=phase,
        day=day,
        taken_at=now,
        taken_on=local_date(now, course.tz),
        side=site.side,
        region=site.region,
        view=site.view,
        note=note,
        width=processed.width,
        height=processed.height,
        source_format=processed.source_format,
        client_key=client_key,
        created_at=now,
    )
    try:
        _store_and_commit(photo, processed)
    except sa.exc.IntegrityError:
        # Only another patient's upload can hold this key (ours are serialised above);
        # _store_and_commit has removed this one's files.
        if client_key and (replay := _replay(patient_id, client_key)) is not None:
            return replay
        raise Invalid("photo", N_("Please reload the page and try again.")) from None
    storage.crash("committed")
    return photo


def _store_and_commit(photo: Photo, processed: imaging.Processed) -> None:
    """Files first, durably; then the row. On any error, no row and no files remain."""
    files = storage.store()
    written: list[str] = []
    try:
        full = files.put(processed.full)
        written.append(full.key)
        thumb = files.put(processed.thumb)
        written.append(thumb.key)
        photo.full_key, photo.full_sha256, photo.full_size = full.key, full.sha256, full.size
        photo.thumb_key, photo.thumb_sha256 = thumb.key, thumb.sha256
        db.session.add(photo)
        db.session.flush()
        storage.crash("stored")
        db.session.commit()
    except Exception:
        db.session.rollback()
        for key in written:
            files.delete(key)
        raise


def _sent_before(
    patient_id: int, client_key: str | None, processed: imaging.Processed
) -> tuple[Photo | None, str | None]:
    """(the photo stored before under this key, None) for the same photo sent again (a
    double tap, a replay); else (None, the key to store it under).

    Another photo under a key seen before (a page restored with its key, another photo
    chosen) is a photo of its own, never lost behind the first: its key is made from the
    first and its own bytes, so its own double tap is stored once too.
    """
    if not client_key:
        return None, None
    replay = _replay(patient_id, client_key)
    if replay is None:
        return None, client_key
    if replay.full_sha256 == processed.full_sha256:
        return replay, client_key
    own = f"{client_key[:40]}:{processed.full_sha256[:16]}"
    return _replay(patient_id, own), own


def _replay(patient_id: int, client_key: str) -> Photo | None:
    found = db.session.scalar(sa.select(Photo).where(Photo.client_key == client_key))
    if found is not None and found.patient_id != patient_id:
        raise Invalid("photo", N_("Please reload the page and try again."))
    return found


def _check_quota(patient_id: int, today: date) -> None:
    config = current_app.config
    counts = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(Photo.taken_on == today),
        ).where(Photo.patient_id == patient_id)
    ).one()
    if counts[1] >= config["PHOTO_MAX_PER_DAY"]:
        raise Invalid(
            "photo",
            _(
                "You have added %(n)s photos today, the most for one day. "
                "Please add more tomorrow, or delete one you do not need.",
                n=counts[1],
            ),
        )
    if counts[0] >= config["PHOTO_MAX_TOTAL"]:
        raise Invalid(
            "photo",
            N_(
                "Your photo diary is full. Please delete photos you no longer need, "
                "or ask your clinic."
            ),
        )


def place(course: Course, now: datetime) -> tuple[int | None, str, int | None]:
    """Which session a photo taken now belongs to: (treatment id, phase, day).

    The rule is the domain's (``app.domain.photos.place``); this passes it the course.
    """
    upcoming, recovering = course.upcoming, course.recovering
    return rules.place(
        now,
        course.tz,
        (upcoming.id, upcoming.appointment_at) if upcoming is not None else None,
        (recovering.id, recovering.anchor) if recovering is not None else None,
    )
