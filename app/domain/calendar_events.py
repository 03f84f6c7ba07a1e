"""A patient's calendar (issue 20 point 3): which events their course gives, and how an
event's revision moves on when a session moves.

Two kinds of event, with generic titles only: a calendar is read on lock screens, shared
with family and synced to other companies' servers, so a title says "Clinic appointment"
or "Aftercare" and nothing about veins, legs, products or symptoms (CONTRIBUTING.md
"Privacy", as for push payloads). The description only says to open the app.

* ``appointment``: each booked or treated session, at its appointment time; a cancelled
  one is an event marked cancelled, which the feed keeps only where a calendar may have
  it already (app/services/ical/feed.py), so that calendar hides it.
* ``aftercare``: each protocol milestone of a treated session, at the instant the
  reminder planner gives it (``reminders.plan_treatment``, without quiet hours: the
  calendar shows when the step is, not when a push would be polite); a milestone at a
  bare "day N" is that whole day. A later treated session's aftercare replaces this
  one's, as on Today.

UIDs are stable (a session's id, a milestone's key, at the app's host name) and opaque
(an HMAC under the installation's own key, so not even a milestone's key reaches the
calendar: a plain hash of so few values could be reversed by trying them all, and a
milestone's key can name the care, "stockings-night-off"): a moved session keeps its
UID, and the calendar updates the event instead of adding a second one. ``revise`` bumps
SEQUENCE and the modification time whenever what an event says changes (RFC 5545
3.8.7.4).

Pure: no clock, no Flask; instants are aware datetimes and the zone is an argument.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.language import N_
from app.domain.offsets import local_date
from app.domain.offsets import local_midnight
from app.domain.protocol.model import Protocol
from app.domain.reminders import QuietHours
from app.domain.reminders import plan_treatment

EventKind = Literal["appointment", "aftercare"]

# The only titles an event ever has (issue 20 point 3).
TITLES: dict[str, str] = {
    "appointment": N_("Clinic appointment"),
    "aftercare": N_("Aftercare"),
}
DESCRIPTION = N_("Open ScleroCare for today's steps.")
# A session's length is not stored, so the calendar blocks the session and the stay
# after it: docs/clinical-reference.md 2.3 asks for a 15 to 20 minute supervised walk
# afterwards (30 minutes after foam). A placeholder for the diary, not a clinical rule.
APPOINTMENT_LENGTH = timedelta(minutes=60)
# A milestone is a moment; a short event keeps it visible without filling the day.
AFTERCARE_LENGTH = timedelta(minutes=15)
# Quiet hours that never apply (start == end), for the planner.
_NEVER_QUIET = QuietHours(time(0, 0), time(0, 0))


@dataclass(frozen=True)
class CourseSession:
    """One session of the course, as the calendar needs it."""

    id: int
    status: str  # "scheduled" | "done" | "cancelled" (TreatmentStatus values)
    appointment: datetime
    treated_at: datetime | None
    protocol: Protocol


@dataclass(frozen=True)
class CalendarEvent:
    """One event: what the calendar shows, without its revision."""

    uid: str
    kind: EventKind
    start: datetime
    end: datetime
    cancelled: bool = False
    # A whole local day (``start`` and ``end`` are its midnights): written as dates.
    all_day: bool = False

    @property
    def fingerprint(self) -> str:
        """What a calendar shows of the event; a change means a new revision."""
        # In UTC: the same instant read back in another zone is not a change.
        start, end = self.start.astimezone(UTC), self.end.astimezone(UTC)
        parts = (self.kind, start.isoformat(), end.isoformat(), str(self.cancelled))
        text = "|".join(parts) + ("|all-day" if self.all_day else "")
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Revision:
    """An event's SEQUENCE, the fingerprint it was given for, and when it changed."""

    sequence: int
    fingerprint: str
    modified: datetime


def event_uid(host: str, secret: bytes, *parts: object) -> str:
    """A stable, opaque UID from the event's identity (never its time), at ``host``:
    the app's own host name (RFC 5545 3.8.4.7), so two clinics' installations never
    give two different sessions one UID in a calendar that follows both. ``secret`` is
    the installation's own key: without it, nobody can tell which identity a UID has."""
    text = ":".join(str(p) for p in parts).encode("utf-8")
    digest = hmac.new(secret, text, hashlib.sha256).hexdigest()
    return f"{digest[:32]}@{host}"


def course_events(
    sessions: Iterable[CourseSession], tz: ZoneInfo, host: str, secret: bytes
) -> list[CalendarEvent]:
    """Every event of a course, in time order (then UID); UIDs at ``host``, under
    ``secret`` (``event_uid``)."""
    course = sorted(sessions, key=lambda s: (s.appointment, s.id))
    out: list[CalendarEvent] = []
    for session in course:
        start = session.appointment
        out.append(
            CalendarEvent(
                event_uid(host, secret, "session", session.id),
                "appointment",
                start,
                start + APPOINTMENT_LENGTH,
                cancelled=session.status == "cancelled",
            )
        )
        out.extend(_aftercare(session, course, tz, host, secret))
    return sorted(out, key=lambda e: (e.start, e.uid))


def _aftercare(
    session: CourseSession, course: list[CourseSession], tz: ZoneInfo, host: str, secret: bytes
) -> list[CalendarEvent]:
    if session.status != "done" or session.treated_at is None:
        return []
    later = [
        s
        for s in course
        if s.id != session.id and s.status != "cancelled" and s.appointment > session.appointment
    ]
    planned = plan_treatment(
        session.protocol,
        appointment=session.appointment,
        treated_at=session.treated_at,
        tz=tz,
        quiet=_NEVER_QUIET,
        next_booked=bool(later),
        next_treated_at=min(
            (s.treated_at for s in later if s.status == "done" and s.treated_at),
            default=None,
        ),
    )
    offsets = {f"milestone:{m.key}": m.at for m in session.protocol.milestones}
    out = []
    for r in planned:
        if r.kind != "milestone":
            continue
        uid = event_uid(host, secret, "aftercare", session.id, r.key)
        offset = offsets.get(r.key)
        if offset is not None and offset.day is not None and offset.at is None:
            # "day 11" is a whole day of the patient's calendar, not its midnight.
            day = local_date(r.due, tz)
            start, end = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
            out.append(CalendarEvent(uid, "aftercare", start, end, all_day=True))
        else:
            out.append(CalendarEvent(uid, "aftercare", r.due, r.due + AFTERCARE_LENGTH))
    return out


def revise(
    stored: Mapping[str, Revision], events: Iterable[CalendarEvent], now: datetime
) -> dict[str, Revision]:
    """The revisions that change: a new event starts at SEQUENCE 0, a changed one goes
    up by one; both are modified ``now``. Unchanged events are not in the answer.

    Events that left the course (a later treatment replaced a session's aftercare) keep
    their stored revision: should they come back, their SEQUENCE still only rises.
    """
    changed: dict[str, Revision] = {}
    for event in events:
        before = stored.get(event.uid)
        if before is None:
            changed[event.uid] = Revision(0, event.fingerprint, now)
        elif before.fingerprint != event.fingerprint:
            changed[event.uid] = Revision(before.sequence + 1, event.fingerprint, now)
    return changed
