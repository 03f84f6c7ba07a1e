"""The patient's private calendar subscription link: one per patient, stored hashed.

A calendar app fetches the link with no cookie, so the link itself is the key: 256
random bits (``app.security.new_token``), only its SHA-256 in the database, as for
sign-in links. "Make a new link" replaces the hash, so the old link answers 404 at
once; "Stop the link" deletes it. Both are audited as the patient's own changes.

The link answers 404, not 403, for every reason it does not work (unknown, stopped,
the patient discharged, the account closed or gone): a stranger learns nothing.

Except for a while after it stops. A calendar app that subscribed keeps polling the old
link, and on a 404 every client we know keeps the events it last had: the patient's
calendar would show old appointments for ever. So a replaced or stopped link is kept as
its hash in ``calendar_links_retired`` and, for ``SCLERO_CALENDAR_RETIRED`` (30 days:
Google polls a subscription every day or so, Apple and Outlook by their own refresh
setting, a week at most), answers a valid calendar with no events (``feed.EMPTY``), no
name and no time zone, nothing personal: the calendar clears itself. Then it is 404.
The live link of a patient discharged within that period answers the same empty
calendar (``recently_ended``). Rows past the period are deleted whenever a link is
made or stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.i18n import _
from app.models import CalendarLink
from app.models import Patient
from app.models import RetiredCalendarLink
from app.models import User
from app.principal import Principal
from app.security import new_token
from app.security import token_hash
from app.services.audit import audit
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.locking import lock_patient

# A token from new_token() is 43 characters; anything far from that is not one of ours
# and is refused before it reaches the database.
_TOKEN_LENGTHS = range(20, 100)


@dataclass(frozen=True)
class CalendarStatus:
    """Whether the patient has a live subscription link, and since when."""

    has_link: bool
    created_at: datetime | None


def _patient_id(user: Principal) -> int:
    if user.patient is None:
        raise NotFound("Not a patient account.")
    return user.patient.id


def calendar_status(user: Principal) -> CalendarStatus:
    """The patient's link, as the Reminders page shows it (never the token)."""
    row = db.session.get(CalendarLink, _patient_id(user))
    return CalendarStatus(row is not None, row.created_at if row else None)


def new_link(user: Principal, now: datetime, address: str) -> str:
    """A new subscription token for the patient (the old one stops), audited; commits.

    :returns: the token, shown to the patient once: only its hash is kept.
    """
    patient_id = _patient_id(user)
    # Two taps at once (a double submit, two tabs, two phones) must not both find no row
    # and both insert one: the second waits, then replaces the first's link.
    lock_patient(patient_id)
    # Discharge or closure may have been stored while this request waited for the lock
    # (its sign-in was checked before): a link made now would outlive them, and closure
    # says calendar links go at once (issue 20 point 4).
    if not _still_in_care(patient_id):
        db.session.rollback()
        raise Invalid(
            "calendar", _("Your course has ended, so a new calendar link cannot be made.")
        )
    token = new_token()
    row = db.session.get(CalendarLink, patient_id)
    replaced = row is not None
    if row is None:
        row = CalendarLink(patient_id=patient_id)
        db.session.add(row)
    else:
        _retire(row.token_hash, now)
    row.token_hash = token_hash(token)
    row.created_at = now
    detail = "new link, the old one stopped" if replaced else "new link"
    audit(user, patient_id, "calendar link", address, detail)
    db.session.commit()
    return token


def _still_in_care(patient_id: int) -> bool:
    """Whether the patient is neither discharged nor closed, read afresh."""
    found = db.session.scalar(
        sa.select(Patient.id)
        .join(User, User.id == Patient.user_id)
        .where(
            Patient.id == patient_id,
            Patient.discharged_at.is_(None),
            User.is_active.is_(True),
        )
    )
    return found is not None


def stop_link(user: Principal, address: str, now: datetime) -> bool:
    """Delete the patient's link (idempotent), audited when there was one; commits.

    :returns: whether there was a link to stop.
    """
    patient_id = _patient_id(user)
    # As in new_link: two stops at once must not both delete the one row (the second
    # would find nothing to delete at commit and fail); the second finds it gone.
    lock_patient(patient_id)
    row = db.session.get(CalendarLink, patient_id)
    if row is None:
        db.session.commit()
        return False
    _retire(row.token_hash, now)
    db.session.delete(row)
    audit(user, patient_id, "calendar link", address, "link stopped")
    db.session.commit()
    return True


def patient_for_token(token: str) -> Patient:
    """The patient whose live link ``token`` is.

    :raises NotFound: unknown or stopped link, a discharged patient, a closed account.
    """
    if len(token) not in _TOKEN_LENGTHS or not token.isascii():
        raise NotFound("This link is not valid.")
    patient = db.session.scalar(
        sa.select(Patient)
        .join(CalendarLink, CalendarLink.patient_id == Patient.id)
        .join(User, User.id == Patient.user_id)
        .where(CalendarLink.token_hash == token_hash(token), User.is_active.is_(True))
    )
    # Discharge ends the feed at once (issue 20): the course is over, and nothing new
    # should reach the patient's calendar from a clinic that no longer follows them.
    if patient is None or patient.discharged_at is not None:
        raise NotFound("This link is not valid.")
    return patient


def retire_on_closure(patient_id: int, now: datetime) -> None:
    """Account closure (app/services/clinic/closure_steps.py) deletes the link: keep its
    hash first, so calendars still polling it clear themselves as for a stopped link.
    Part of the caller's transaction."""
    row = db.session.get(CalendarLink, patient_id)
    if row is not None:
        _retire(row.token_hash, now)


def is_current_link(user: Principal, token: str) -> bool:
    """Whether ``token`` is the patient's live link (the one-time reveal after "Make a
    new link" shows it only while it is)."""
    row = db.session.get(CalendarLink, _patient_id(user))
    return row is not None and row.token_hash == token_hash(token)


def _retired_period() -> timedelta:
    return current_app.config["SCLERO_CALENDAR_RETIRED"]


def _retire(old_hash: str, now: datetime) -> None:
    """Keep a stopped link's hash (see the module docstring); drop those past the period."""
    cutoff = now - _retired_period()
    db.session.execute(
        sa.delete(RetiredCalendarLink).where(RetiredCalendarLink.retired_at < cutoff)
    )
    if db.session.get(RetiredCalendarLink, old_hash) is None:
        db.session.add(RetiredCalendarLink(token_hash=old_hash, retired_at=now))


def recently_ended(token: str, now: datetime) -> bool:
    """Whether ``token`` is the live link of a patient discharged less than
    ``SCLERO_CALENDAR_RETIRED`` ago: like a stopped link, it answers an empty calendar
    for that long, or the patient's calendar would show the course's appointments that
    are no longer coming for ever (the link stays until stopped: discharge keeps it)."""
    if len(token) not in _TOKEN_LENGTHS or not token.isascii():
        return False
    discharged = db.session.scalar(
        sa.select(Patient.discharged_at)
        .join(CalendarLink, CalendarLink.patient_id == Patient.id)
        .where(CalendarLink.token_hash == token_hash(token))
    )
    return discharged is not None and discharged > now - _retired_period()


def recently_retired(token: str, now: datetime) -> bool:
    """Whether ``token`` stopped less than ``SCLERO_CALENDAR_RETIRED`` ago."""
    if len(token) not in _TOKEN_LENGTHS or not token.isascii():
        return False
    row = db.session.get(RetiredCalendarLink, token_hash(token))
    return row is not None and row.retired_at > now - _retired_period()
