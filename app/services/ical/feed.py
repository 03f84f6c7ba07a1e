"""A patient's calendar file: the course's events, their revisions, the iCalendar text.

The same file for the signed-in patient's download and for the subscription link.
Revisions are kept in ``calendar_event_revisions``: when an event says something new (a
session moved, was cancelled, a treatment was recorded and its aftercare appeared) its
SEQUENCE goes up and it is modified at that fetch, so a calendar app that has it updates
it in place rather than adding a copy. Nothing is written while nothing changes: a
fetch reads, and only a change takes the patient's lock and writes. A row is kept under
the UID's opaque part, without its ``@host``: a host name may be 253 characters long,
the column 80, so a long one would have failed every fetch on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from app.domain.calendar_events import DESCRIPTION
from app.domain.calendar_events import TITLES
from app.domain.calendar_events import CalendarEvent
from app.domain.calendar_events import CourseSession
from app.domain.calendar_events import Revision
from app.domain.calendar_events import course_events
from app.domain.calendar_events import revise
from app.domain.language import N_
from app.domain.language import say
from app.extensions import db
from app.i18n import force_locale
from app.i18n import locale_for
from app.models import CalendarEventRevision
from app.models import Clinic
from app.models import Patient
from app.models import ProtocolVersion
from app.models import Treatment
from app.models import User
from app.principal import Principal
from app.services.errors import NotFound
from app.services.ical.links import patient_for_token
from app.services.ical.links import recently_ended
from app.services.ical.links import recently_retired
from app.services.ical.render import Words
from app.services.ical.render import render
from app.services.ical.render import render_empty
from app.services.locking import lock_patient
from app.services.notify.email_content import absolute
from app.services.notify.email_content import mail_host
from app.services.protocols import protocol_by_version

CALENDAR_NAME = N_("My clinic appointments")
# What the UIDs' key is derived from SECRET_KEY with (app/domain/calendar_events.py):
# a key of their own, so a UID reveals nothing about the app's other secrets. A new
# SECRET_KEY gives every event a new UID: a subscribed calendar swaps them in one fetch.
_UID_LABEL = b"sclerocare calendar event uid"
# Where every event's link leads: Today, which shows the day's steps after sign-in.
TODAY_PATH = "/patient/today"


def calendar_for_patient(user: Principal, now: datetime) -> bytes:
    """The signed-in patient's calendar (the download); commits new revisions."""
    if user.patient is None:
        raise NotFound("Not a patient account.")
    patient = db.session.get(Patient, user.patient.id)
    if patient is None:
        raise NotFound("Not a patient account.")
    return _calendar(patient, now)


def calendar_for_link(token: str, now: datetime) -> bytes:
    """The calendar behind a subscription link; commits new revisions. A link stopped
    or replaced recently, or the live link of a patient discharged recently, gives an
    empty calendar instead (``links.recently_retired``, ``links.recently_ended``).

    :raises NotFound: as ``links.patient_for_token``, once past that period.
    """
    try:
        patient = patient_for_token(token)
    except NotFound:
        if recently_retired(token, now) or recently_ended(token, now):
            db.session.rollback()  # end the read
            return render_empty()
        raise
    return _calendar(patient, now)


def _calendar(patient: Patient, now: datetime) -> bytes:
    timezone, language, patient_id = patient.timezone, patient.language, patient.id
    clinic_locale = db.session.scalar(
        sa.select(Clinic.locale).where(Clinic.id == patient.clinic_id)
    )
    course = _Course(patient_id, ZoneInfo(timezone), mail_host(), _uid_secret())
    events, revisions = _revisions(course, now)
    # The link has no signed-in reader: the patient's own language, as on their pages.
    with force_locale(locale_for(language, clinic_locale or "")):
        words = Words(
            name=say(CALENDAR_NAME),
            titles={kind: say(title) for kind, title in TITLES.items()},
            description=say(DESCRIPTION),
            app_url=absolute(TODAY_PATH),
        )
    return render(events, revisions, timezone, words)


@dataclass(frozen=True)
class _Course:
    """Whose calendar, and how its events are named."""

    patient_id: int
    tz: ZoneInfo
    host: str
    secret: bytes

    def read(self) -> tuple[list[CalendarEvent], dict[str, Revision]]:
        """The course's events and their stored revisions, as the database has them."""
        stored = _stored(self.patient_id, self.host)
        # A cancelled session stays only where a calendar may have it already (it was
        # in an earlier file): there, it must turn "cancelled"; elsewhere it is noise.
        events = [
            e
            for e in course_events(_sessions(self.patient_id), self.tz, self.host, self.secret)
            if not e.cancelled or e.uid in stored
        ]
        return events, stored


def _sessions(patient_id: int) -> list[CourseSession]:
    rows = db.session.execute(
        sa.select(
            Treatment.id,
            Treatment.status,
            Treatment.appointment_at,
            Treatment.treated_at,
            ProtocolVersion.id,
            ProtocolVersion.sha256,
        )
        .join(ProtocolVersion, ProtocolVersion.id == Treatment.protocol_version_id)
        .where(Treatment.patient_id == patient_id)
    )
    return [
        CourseSession(tid, str(status.value), at, treated, protocol_by_version(vid, sha))
        for tid, status, at, treated, vid, sha in rows
    ]


def _account_open(patient_id: int) -> bool:
    found = db.session.scalar(
        sa.select(Patient.id)
        .join(User, User.id == Patient.user_id)
        .where(Patient.id == patient_id, User.is_active.is_(True))
    )
    return found is not None


def _uid_secret() -> bytes:
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, _UID_LABEL, hashlib.sha256).digest()


def _row_key(uid: str) -> str:
    """What an event's revision row is kept under: its UID without ``@host``."""
    return uid.partition("@")[0]


def _stored(patient_id: int, host: str) -> dict[str, Revision]:
    """The stored revisions, by full UID (at ``host``, as ``course_events`` gives it)."""
    rows = db.session.scalars(
        sa.select(CalendarEventRevision).where(CalendarEventRevision.patient_id == patient_id)
    )
    return {f"{r.uid}@{host}": Revision(r.sequence, r.fingerprint, r.modified_at) for r in rows}


def _revisions(course: _Course, now: datetime) -> tuple[list[CalendarEvent], dict[str, Revision]]:
    """The events and every event's revision; new ones stored under the patient's lock,
    one commit."""
    events, stored = course.read()
    if not revise(stored, events, now):
        db.session.commit()  # nothing of ours to write: end the read transaction
        return events, stored
    # Two fetches at once (a phone and a laptop) must not both insert the same row, nor
    # both bump the same SEQUENCE; and a fetch that read the course before a session
    # moved again (and another fetch stored that) must not store the old time as the
    # newest revision. So decide again under the lock, on fresh rows of both.
    lock_patient(course.patient_id)
    db.session.expire_all()
    # The account may have been closed while this fetch waited for the lock: closure
    # removed the revisions, and none may come back for a closed account.
    if not _account_open(course.patient_id):
        db.session.rollback()
        raise NotFound("This link is not valid.")
    events, stored = course.read()
    changed = revise(stored, events, now)
    for uid, revision in changed.items():
        key = (course.patient_id, _row_key(uid))
        row = db.session.get(CalendarEventRevision, key)
        if row is None:
            row = CalendarEventRevision(patient_id=course.patient_id, uid=_row_key(uid))
            db.session.add(row)
        row.sequence = revision.sequence
        row.fingerprint = revision.fingerprint
        row.modified_at = revision.modified
    db.session.commit()
    return events, {**stored, **changed}
