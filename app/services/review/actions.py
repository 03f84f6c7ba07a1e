"""What a clinician does about what they read: acknowledge an alert (with a note, maybe
shared with the patient), mark a check-in day reviewed, and mark photos as looked at.

Each action is idempotent and audited; one on another clinic's data is refused (and
audited as refused).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from datetime import datetime

import sqlalchemy as sa

from app.domain import reasons
from app.domain.reasons import alert_as_shown
from app.extensions import db
from app.i18n import _
from app.models import Alert
from app.models import CheckIn
from app.models import Photo
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.audit import refuse
from app.services.errors import Invalid

NOTE_MAX = 2000  # acknowledgement notes and comments, as the forms' maxlength says


class AlertChangedSinceSeen(Invalid):
    """The alert's level or reasons changed after the clinician's page showed it."""

    def __init__(self, alert: Alert):
        level = _("an emergency") if alert.level == "emergency" else _("same-day")
        super().__init__(
            "note",
            _(
                "The patient changed their answers after you opened the page: this alert"
                " is now %(level)s (%(reasons)s). Please read it again before"
                " acknowledging it.",
                level=level,
                reasons=", ".join(reasons.for_reader(r) for r in alert.reasons),
            ),
        )


def acknowledge(
    actor: Principal,
    alert_id: int,
    note: str,
    address: str,
    now: datetime,
    share: bool = False,
    seen: str | None = None,
) -> Alert:
    """Acknowledge an alert with a note (idempotent: the first acknowledgement stays).

    :param share: show the note to the patient on Today (a note left empty shares nothing).
    :param seen: the alert as the clinician's page showed it (``alert_as_shown``); an
        open alert that has changed since is not acknowledged (``AlertChangedSinceSeen``).
    :raises Invalid: for a note over ``NOTE_MAX`` characters (nothing is cut short), and
        for an emergency alert without a note: acknowledging one is a safety action, so
        the clinician must say what was done (issue 14 point 11).
    """
    alert = db.session.get(Alert, alert_id)
    if alert is None or alert.clinic_id != actor.clinic_id:
        raise refuse(actor, address, f"acknowledge alert #{alert_id}", "No such alert.")
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise Invalid("note", f"Please keep the note under {NOTE_MAX:,} characters.")
    if (
        seen is not None
        and alert.acknowledged_at is None
        and seen != alert_as_shown(alert.level, alert.reasons)
    ):
        raise AlertChangedSinceSeen(alert)
    if not note and alert.level == "emergency" and alert.acknowledged_at is None:
        raise Invalid(
            "note",
            "Write a note to acknowledge an emergency alert: what was done, for example "
            "'Called the patient, advised to go to A&E'.",
        )
    if alert.acknowledged_at is None:
        # Only if nobody acknowledged it since it was read: two clinicians at once must
        # not overwrite the first one's note, time and name (the first stays).
        shared_note = share and bool(note)
        won = db.session.execute(
            sa.update(Alert)
            .where(Alert.id == alert.id, Alert.acknowledged_at.is_(None))
            .values(
                acknowledged_at=now,
                acknowledged_by_id=actor.id,
                ack_note=note,
                note_shared=shared_note,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if won:
            shared = " (note shared with the patient)" if shared_note else ""
            audit(actor, alert.patient_id, "acknowledge", address, f"alert #{alert.id}{shared}")
    db.session.commit()
    db.session.refresh(alert)
    return alert


class ChangedSinceSeen(Invalid):
    """The patient changed a check-in after the clinician's page showed it."""

    def __init__(self, checkin: CheckIn):
        super().__init__(
            "seen",
            "The patient changed this day's answers after you opened the page. "
            "Please read them again before marking the day reviewed.",
        )
        self.checkin = checkin


def mark_reviewed(
    actor: Principal,
    checkin_id: int,
    address: str,
    now: datetime,
    seen: str | None = None,
    photos_upto: int | None = None,
    photo_ids: Collection[int] | None = None,
) -> CheckIn:
    """Mark a diary day as reviewed, with the photos taken that day (idempotent).

    :param seen: the check-in's ``updated_at`` as the clinician's page showed it; the
        patient may have changed the answers since, from a phone (issue 15 point 3), and
        answers nobody has looked at must not be marked as seen.
    :param photos_upto: the newest photo id the page showed for the day: a photo sent
        after the page was opened waits for its own look (pages from before
        ``photo_ids``, which showed all the day's photos).
    :param photo_ids: the photos of the day the page showed, when given: the diary
        shows a few of a day's photos, and one never shown must stay new.
    :raises ChangedSinceSeen: when the answers changed after the page was opened.
    """
    checkin = db.session.get(CheckIn, checkin_id)
    if checkin is None or checkin.clinic_id != actor.clinic_id:
        raise refuse(actor, address, f"review check-in #{checkin_id}", "No such check-in.")
    if seen is not None and seen != checkin.updated_at.isoformat():
        raise ChangedSinceSeen(checkin)
    if checkin.reviewed_at is None:
        checkin.reviewed_at, checkin.reviewed_by_id = now, actor.id
        audit(actor, checkin.patient_id, "review", address, f"day {checkin.day}")
    # The day's photos shown with it on the patient page are seen too.
    _mark_photos_of_day(actor, checkin.patient_id, checkin.on_date, now, photos_upto, photo_ids)
    db.session.commit()
    return checkin


def mark_photo_reviewed(actor: Principal, photo_id: int, address: str, now: datetime) -> Photo:
    """Mark one photo as looked at (idempotent)."""
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.clinic_id != actor.clinic_id:
        raise refuse(actor, address, f"review photo #{photo_id}", "No such photo.")
    if photo.reviewed_at is None:
        photo.reviewed_at, photo.reviewed_by_id = now, actor.id
        audit(actor, photo.patient_id, "review", address, f"photo #{photo.id}")
    db.session.commit()
    return photo


def mark_day_photos_reviewed(
    actor: Principal,
    patient_id: int,
    on: str,
    address: str,
    now: datetime,
    photos_upto: int | None = None,
    photo_ids: Collection[int] | None = None,
) -> date | None:
    """Mark a patient's photos of one day as looked at: for a diary day without a
    check-in, which has no "Mark day reviewed" (idempotent). With no day and the ids
    shown (the photo page of every day), those photos, whatever their day.

    :param on: the day as the page sent it (ISO date), or "" with ``photo_ids``.
    :param photos_upto: the newest photo id the page showed (later ones are not seen).
    :param photo_ids: the photos the page showed, when given (only those are marked).
    :returns: the day, or None for the page of every day.
    :raises Invalid: for a date that is not one.
    """
    patient = own_patient(actor, patient_id, address, "review photos of")
    day: date | None = None
    if on or photo_ids is None:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise Invalid("on", "That day could not be read; please reload the page.") from None
    marked = _mark_photos_of_day(actor, patient.id, day, now, photos_upto, photo_ids)
    if marked:
        what = f"photos of {day.isoformat()}" if day else f"{marked} photos of the photo page"
        audit(actor, patient.id, "review", address, what)
    db.session.commit()
    return day


def _mark_photos_of_day(
    actor: Principal,
    patient_id: int,
    on: date | None,
    now: datetime,
    upto: int | None = None,
    ids: Collection[int] | None = None,
) -> int:
    """Mark the patient's photos of one day (of any day: ``on`` None) reviewed: those
    of ``ids`` when given (the ones the clinician's page showed), else up to photo id
    ``upto`` (the newest an older page showed) when given; :returns: how many were new."""
    if ids is not None:
        if not ids:
            return 0  # the page showed none of the day's photos
        shown = Photo.id.in_(sorted(set(ids)))
    else:
        shown = Photo.id <= upto if upto is not None else sa.true()
    return db.session.execute(
        sa.update(Photo)
        .where(
            Photo.patient_id == patient_id,
            Photo.taken_on == on if on is not None else sa.true(),
            Photo.reviewed_at.is_(None),
            shown,
        )
        .values(reviewed_at=now, reviewed_by_id=actor.id)
    ).rowcount
