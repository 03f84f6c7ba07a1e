"""The patient's calendar events (issue 20 point 3): which events, stable opaque UIDs,
generic titles, whole days for "day N" milestones, DST, and revisions."""

from __future__ import annotations

import hashlib
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from app.domain.calendar_events import APPOINTMENT_LENGTH
from app.domain.calendar_events import TITLES
from app.domain.calendar_events import CourseSession
from app.domain.calendar_events import Revision
from app.domain.calendar_events import course_events
from app.domain.calendar_events import revise
from app.domain.protocol import parse_protocol

PROTOCOLS = Path(__file__).resolve().parents[2] / "app" / "protocols"
P72 = parse_protocol((PROTOCOLS / "compression-72h.toml").read_text(), "72h")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
# Words that would tell a reader of the calendar what the treatment is.
HOST = "care.clinic.example"
SECRET = b"test uid key"
HEALTH_WORDS = ("vein", "scler", "stocking", "leg", "inject", "foam", "bruis", "compression")


def _at(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)


def _session(sid: int, status: str, appointment: datetime, treated: bool = False) -> CourseSession:
    return CourseSession(sid, status, appointment, appointment if treated else None, P72)


def test_a_booked_session_is_one_clinic_appointment():
    at = _at(LONDON, 2026, 12, 8, 10, 0)
    (event,) = course_events([_session(1, "scheduled", at)], LONDON, HOST, SECRET)
    assert event.kind == "appointment" and TITLES[event.kind] == "Clinic appointment"
    assert (event.start, event.end) == (at, at + APPOINTMENT_LENGTH)
    assert not event.cancelled and not event.all_day


def test_a_moved_session_keeps_its_uid_and_changes_its_fingerprint():
    before = course_events(
        [_session(7, "scheduled", _at(LONDON, 2026, 12, 8, 10, 0))], LONDON, HOST, SECRET
    )
    after = course_events(
        [_session(7, "scheduled", _at(LONDON, 2026, 12, 9, 14, 0))], LONDON, HOST, SECRET
    )
    assert before[0].uid == after[0].uid
    assert before[0].fingerprint != after[0].fingerprint


def test_a_cancelled_session_stays_as_a_cancelled_event():
    at = _at(LONDON, 2026, 12, 8, 10, 0)
    (booked,) = course_events([_session(3, "scheduled", at)], LONDON, HOST, SECRET)
    (cancelled,) = course_events([_session(3, "cancelled", at)], LONDON, HOST, SECRET)
    assert cancelled.cancelled and cancelled.uid == booked.uid
    assert cancelled.fingerprint != booked.fingerprint


def test_a_treated_session_has_its_milestones_as_aftercare():
    treated = _at(LONDON, 2026, 11, 2, 10, 0)
    events = course_events([_session(1, "done", treated, treated=True)], LONDON, HOST, SECRET)
    aftercare = [e for e in events if e.kind == "aftercare"]
    assert len(aftercare) == len(P72.milestones) == 4
    # "72h" is an exact moment; "day 11" is the whole of the patient's day 11.
    timed = [e for e in aftercare if not e.all_day]
    assert [e.start for e in timed] == [treated + timedelta(hours=72)]
    whole = [e for e in aftercare if e.all_day]
    assert whole[0].start == _at(LONDON, 2026, 11, 13, 0, 0)
    assert whole[0].end == _at(LONDON, 2026, 11, 14, 0, 0)


def test_no_title_or_uid_says_anything_about_health():
    treated = _at(LONDON, 2026, 11, 2, 10, 0)
    events = course_events([_session(1, "done", treated, treated=True)], LONDON, HOST, SECRET)
    assert set(TITLES.values()) == {"Clinic appointment", "Aftercare"}
    for event in events:
        text = f"{TITLES[event.kind]} {event.uid}".lower()
        assert not [w for w in HEALTH_WORDS if w in text], text
        assert "milestone" not in event.uid and "session" not in event.uid


def test_a_uid_cannot_be_traced_back_by_trying_every_session_and_milestone():
    # Review rvical: a UID was a plain SHA-256 of "aftercare:<session id>:milestone:<key>",
    # and both are from small, known sets (ids count up, keys are in the open protocol
    # files): trying them all named the step ("stockings-night-off") from the calendar.
    treated = _at(LONDON, 2026, 11, 2, 10, 0)
    events = course_events([_session(1, "done", treated, treated=True)], LONDON, HOST, SECRET)
    guesses = ["session:1"] + [f"aftercare:1:milestone:{m.key}" for m in P72.milestones]
    plain = {hashlib.sha256(g.encode("utf-8")).hexdigest()[:32] for g in guesses}
    assert len(events) > 1 and not {e.uid.partition("@")[0] for e in events} & plain
    # Still stable under the same key (a moved event stays one event); another key's
    # UIDs are all different.
    again = course_events([_session(1, "done", treated, treated=True)], LONDON, HOST, SECRET)
    other = course_events([_session(1, "done", treated, treated=True)], LONDON, HOST, b"other")
    assert [e.uid for e in again] == [e.uid for e in events]
    assert not {e.uid for e in other} & {e.uid for e in events}


def test_uids_belong_to_the_installation():
    at = _at(LONDON, 2026, 12, 8, 10, 0)
    (here,) = course_events([_session(1, "scheduled", at)], LONDON, HOST, SECRET)
    (there,) = course_events([_session(1, "scheduled", at)], LONDON, "other.example", SECRET)
    assert here.uid != there.uid


def test_the_same_instant_in_another_zone_is_not_a_change():
    at = _at(LONDON, 2026, 12, 8, 10, 0)
    (utc,) = course_events([_session(1, "scheduled", at)], LONDON, HOST, SECRET)
    (local,) = course_events(
        [_session(1, "scheduled", at.astimezone(LONDON))], LONDON, HOST, SECRET
    )
    assert utc.fingerprint == local.fingerprint


def test_uids_differ_between_sessions_and_milestones():
    a = _at(LONDON, 2026, 10, 1, 10, 0)
    events = course_events(
        [_session(1, "done", a, True), _session(2, "done", a, True)], LONDON, HOST, SECRET
    )
    uids = [e.uid for e in events]
    assert len(uids) == len(set(uids)) and all(u.endswith("@care.clinic.example") for u in uids)


def test_a_later_treatment_replaces_the_earlier_aftercare():
    first = _at(LONDON, 2026, 11, 2, 10, 0)
    second = first + timedelta(days=7)
    events = course_events(
        [_session(1, "done", first, True), _session(2, "done", second, True)], LONDON, HOST, SECRET
    )
    aftercare = [e for e in events if e.kind == "aftercare"]
    # Session 1's milestones stop at session 2's treatment: only its "72h" is before it.
    assert len(aftercare) == 4 + 1
    assert len([e for e in aftercare if e.start >= second]) == 4


def test_whole_days_follow_the_clock_change_in_london():
    # Day 11 after Thu 19 Mar 2026 is Mon 30 Mar; the clocks went forward on Sun 29 Mar.
    treated = _at(LONDON, 2026, 3, 19, 10, 0)
    events = course_events([_session(1, "done", treated, True)], LONDON, HOST, SECRET)
    (day11, *_) = [e for e in events if e.all_day]
    assert day11.start.astimezone(LONDON).replace(tzinfo=None) == datetime(2026, 3, 30, 0, 0)
    assert day11.end - day11.start == timedelta(hours=24)
    # And the "72h" milestone is 72 real hours, so 11:00 BST on the clock after the change.
    treated_late = _at(LONDON, 2026, 3, 27, 10, 0)
    events = course_events([_session(1, "done", treated_late, True)], LONDON, HOST, SECRET)
    (h72,) = [e for e in events if e.kind == "aftercare" and not e.all_day]
    assert h72.start.astimezone(LONDON).hour == 11


def test_a_day_across_the_clock_change_in_new_york_is_23_hours():
    # New York springs forward on Sun 8 Mar 2026: that local day has 23 hours.
    treated = _at(NEW_YORK, 2026, 2, 25, 9, 0)  # day 11 is Sun 8 Mar
    events = course_events([_session(1, "done", treated, True)], NEW_YORK, HOST, SECRET)
    (day11, *_) = [e for e in events if e.all_day]
    assert day11.start.astimezone(NEW_YORK).date() == datetime(2026, 3, 8).date()
    assert day11.end - day11.start == timedelta(hours=23)


NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_revise_starts_new_events_at_zero_and_leaves_unchanged_ones_alone():
    events = course_events(
        [_session(1, "scheduled", _at(LONDON, 2026, 12, 8, 10, 0))], LONDON, HOST, SECRET
    )
    first = revise({}, events, NOW)
    assert first == {events[0].uid: Revision(0, events[0].fingerprint, NOW)}
    assert revise(first, events, NOW + timedelta(hours=1)) == {}


def test_revise_bumps_sequence_and_modified_when_an_event_changes():
    booked = course_events(
        [_session(1, "scheduled", _at(LONDON, 2026, 12, 8, 10, 0))], LONDON, HOST, SECRET
    )
    stored = {booked[0].uid: Revision(4, booked[0].fingerprint, NOW)}
    moved = course_events(
        [_session(1, "scheduled", _at(LONDON, 2026, 12, 9, 10, 0))], LONDON, HOST, SECRET
    )
    later = NOW + timedelta(days=1)
    assert revise(stored, moved, later) == {moved[0].uid: Revision(5, moved[0].fingerprint, later)}
