"""A patient's calendar events as iCalendar text (RFC 5545), with ``icalendar``.

Times are written in the patient's own zone (``DTSTART;TZID=Europe/London:...``) with
its VTIMEZONE, so the event stays at the clinic's wall-clock time whatever zone the
phone is in, and a calendar that knows the zone by name uses its own rules. The
VTIMEZONE covers only the years the events span (from the zone database), to keep the
file small. DTSTAMP is the event's last change, not the time of the fetch: RFC 5545
3.8.7.2 asks, in a file with a METHOD (this one says PUBLISH), for the time the file
was made, but then every fetch would differ. Kept as the last change, the file stays
the same while nothing changes (a calendar app's fetch can be compared byte for byte),
and an update still comes with both a higher SEQUENCE and a later DTSTAMP, which is
what iTIP clients compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from icalendar import Event
from icalendar import Timezone
from icalendar import TimezoneStandard
from icalendar import vDuration

from app.domain.calendar_events import CalendarEvent
from app.domain.calendar_events import Revision

PRODID = "-//ScleroCare//Patient calendar//EN"
# How often a subscribed calendar should fetch again (Apple, Outlook and Google read
# one or the other; Google polls on its own schedule whatever this says).
REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class Words:
    """What the file says, already in the patient's language (no health details)."""

    name: str
    titles: Mapping[str, str]
    description: str
    app_url: str


def render(
    events: Sequence[CalendarEvent],
    revisions: Mapping[str, Revision],
    timezone: str,
    words: Words,
) -> bytes:
    """The whole calendar as bytes (CRLF lines, UTF-8)."""
    tz = ZoneInfo(timezone)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", words.name)
    cal.add("x-wr-timezone", timezone)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    # An X- property has no known type, so a bare timedelta would be written as "1:00:00",
    # which Outlook cannot read: give it the DURATION form (PT1H) itself.
    cal.add("x-published-ttl", vDuration(REFRESH))
    for event in events:
        cal.add_component(_event(event, revisions[event.uid], tz, words))
    if events:
        first = min(e.start for e in events).astimezone(tz).date() - timedelta(days=1)
        last = max(e.end for e in events).astimezone(tz).date() + timedelta(days=1)
        cal.add_missing_timezones(first_date=first, last_date=last)
    return cal.to_ical()


def _event(event: CalendarEvent, revision: Revision, tz: ZoneInfo, words: Words) -> Event:
    out = Event()
    out.add("uid", event.uid)
    out.add("sequence", revision.sequence)
    modified = revision.modified.astimezone(UTC)
    out.add("dtstamp", modified)
    out.add("last-modified", modified)
    if event.all_day:
        out.add("dtstart", event.start.astimezone(tz).date())
        out.add("dtend", event.end.astimezone(tz).date())
    else:
        out.add("dtstart", _wall_clock(event.start, tz))
        out.add("dtend", _wall_clock(event.end, tz))
    out.add("summary", words.titles[event.kind])
    out.add("description", f"{words.description}\n{words.app_url}")
    out.add("url", words.app_url)
    out.add("class", "PRIVATE")
    out.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    # An appointment is busy time; an aftercare step is a note on the day.
    out.add("transp", "OPAQUE" if event.kind == "appointment" else "TRANSPARENT")
    return out


def render_empty() -> bytes:
    """A calendar with no events, for a link that stopped (app/services/ical/links.py):
    a subscribed calendar that fetches it drops every event it had from the link. No
    name, no zone of the patient's, nothing personal. RFC 5545 wants at least one
    component, so it holds a VTIMEZONE for UTC, which says nothing about anyone."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))
    utc = Timezone()
    utc.add("tzid", "UTC")
    standard = TimezoneStandard()
    standard.add("dtstart", datetime(1970, 1, 1))
    standard.add("tzoffsetfrom", timedelta(0))
    standard.add("tzoffsetto", timedelta(0))
    standard.add("tzname", "UTC")
    utc.add_component(standard)
    cal.add_component(utc)
    return cal.to_ical()


def _wall_clock(instant: datetime, tz: ZoneInfo) -> datetime:
    """``instant`` on the calendar's clock, unless that wall time names another instant
    (the repeated hour of an autumn change: a reader takes its first occurrence), then
    in UTC. A 01:30 appointment on that night ended at "01:30" again an hour later,
    which calendar apps read as a zero-length event (adversarial review, T2)."""
    local = instant.astimezone(tz)
    # Read back as a calendar app reads it: the wall time alone (fold 0, the first
    # occurrence), compared in UTC (PEP 495 never finds an ambiguous local time equal
    # to another zone's instant).
    read_back = local.replace(tzinfo=None, fold=0).replace(tzinfo=tz).astimezone(UTC)
    if read_back != instant.astimezone(UTC):
        return instant.astimezone(UTC)
    return local
