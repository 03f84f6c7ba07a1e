"""Reminder planning: keys, due instants in the patient's zone, quiet hours, DST."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.domain.protocol import parse_protocol
from app.domain.reminders import EVENT_VALIDITY
from app.domain.reminders import MESSAGES
from app.domain.reminders import QuietHours
from app.domain.reminders import after_quiet_hours
from app.domain.reminders import decide_at_send
from app.domain.reminders import newest_per_kind
from app.domain.reminders import plan_treatment

PROTOCOLS = Path(__file__).resolve().parents[2] / "app" / "protocols"
P72 = parse_protocol((PROTOCOLS / "compression-72h.toml").read_text(), "72h")
LONDON = ZoneInfo("Europe/London")
QUIET = QuietHours()


def test_quiet_window_wraps_midnight():
    assert (
        QUIET.contains(time(21, 0)) and QUIET.contains(time(23, 59)) and QUIET.contains(time(7, 59))
    )
    assert not QUIET.contains(time(8, 0)) and not QUIET.contains(time(20, 59))
    daytime = QuietHours(time(13, 0), time(14, 0))
    assert daytime.contains(time(13, 30)) and not daytime.contains(time(14, 0))
    assert not QuietHours(time(9, 0), time(9, 0)).contains(time(9, 0))


@pytest.mark.parametrize(
    ("local", "expected_local"),
    [
        (datetime(2026, 11, 23, 22, 30), datetime(2026, 11, 24, 8, 0)),  # evening -> next morning
        (datetime(2026, 11, 24, 3, 0), datetime(2026, 11, 24, 8, 0)),  # small hours -> same morning
        (datetime(2026, 11, 24, 12, 0), datetime(2026, 11, 24, 12, 0)),  # daytime unchanged
        (datetime(2026, 11, 24, 8, 0), datetime(2026, 11, 24, 8, 0)),  # the end itself is allowed
    ],
)
def test_after_quiet_hours(local, expected_local):
    due = local.replace(tzinfo=LONDON).astimezone(UTC)
    assert (
        after_quiet_hours(due, LONDON, QUIET).astimezone(LONDON).replace(tzinfo=None)
        == expected_local
    )


def test_quiet_hours_end_is_local_across_the_clock_change():
    # Night of Sat 24 to Sun 25 Oct 2026: London falls back at 02:00. 08:00 local is
    # 08:00 GMT on the Sunday, not 07:00: the wall-clock time is kept.
    due = datetime(2026, 10, 24, 22, 0, tzinfo=LONDON).astimezone(UTC)
    moved = after_quiet_hours(due, LONDON, QUIET)
    assert moved == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    # And in spring (29 Mar 2026, clocks go forward): 08:00 BST is 07:00 UTC.
    due = datetime(2026, 3, 28, 23, 0, tzinfo=LONDON).astimezone(UTC)
    assert after_quiet_hours(due, LONDON, QUIET) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_plan_before_treatment_has_only_checklist_reminders():
    appointment = datetime(2026, 12, 1, 10, 0, tzinfo=LONDON)
    plan = plan_treatment(P72, appointment=appointment, treated_at=None, tz=LONDON, quiet=QUIET)
    assert {r.kind for r in plan} == {"checklist"}
    by_key = {r.key: r for r in plan}
    # "No lotions" applies from 24 h before: reminded then (10:00 the day before).
    assert by_key["checklist:no-lotions"].due == appointment - timedelta(hours=24)
    # "Before photos" starts on day -3 (00:00), in quiet hours, so reminded at 08:00.
    assert by_key["checklist:before-photos"].due == datetime(2026, 11, 28, 8, 0, tzinfo=LONDON)
    # The clinic's own items (duplex scan, consultation) never nag the patient.
    assert "checklist:duplex-scan" not in by_key and "checklist:screening" not in by_key
    assert set(by_key) == {f"checklist:{i.key}" for i in P72.checklist if i.by == "patient"}
    assert all(r.link == "/patient/checklist" for r in plan)


def test_plan_after_treatment_covers_milestones_daily_and_next_session():
    treated = datetime(2026, 11, 20, 10, 0, tzinfo=LONDON)
    plan = plan_treatment(P72, appointment=treated, treated_at=treated, tz=LONDON, quiet=QUIET)
    keys = [r.key for r in plan]
    assert len(keys) == len(set(keys)), "keys must be unique per treatment"
    assert {f"milestone:{m.key}" for m in P72.milestones} <= set(keys)
    daily = sorted(int(k.split(":")[1]) for k in keys if k.startswith("daily:"))
    # Tasks run until the end of day 14; check-ins are reminded until day 28 (DVT window).
    assert daily == list(range(1, 29))
    assert next(r for r in plan if r.key == "daily:3").due == datetime(
        2026, 11, 23, 9, 0, tzinfo=LONDON
    )
    nxt = next(r for r in plan if r.key == "next-session")
    assert nxt.due == datetime(2026, 12, 18, 10, 0, tzinfo=LONDON) and nxt.link == "/patient/plan"
    assert [r.due for r in plan] == sorted(r.due for r in plan)


def test_time_critical_items_ignore_quiet_hours():
    text = (PROTOCOLS / "compression-72h.toml").read_text()
    source = 'source = "Clinic page 4: after 72 hours, hosiery during the day only"'
    text = text.replace(f'at = "72h"\n{source}', f'at = "72h"\ntime_critical = true\n{source}')
    protocol = parse_protocol(text, "critical.toml")
    treated = datetime(2026, 11, 20, 22, 30, tzinfo=LONDON)
    plan = {
        r.key: r
        for r in plan_treatment(
            protocol, appointment=treated, treated_at=treated, tz=LONDON, quiet=QUIET
        )
    }
    critical = plan["milestone:stockings-night-off"]
    assert critical.time_critical and critical.due == treated + timedelta(hours=72)
    normal = plan["milestone:stockings-done"]
    assert not QUIET.contains(normal.due.astimezone(LONDON).time())


def test_messages_carry_no_health_details():
    for text in MESSAGES.values():
        lowered = text.lower()
        assert not any(
            w in lowered
            for w in ("stocking", "vein", "bruis", "leg", "pain", "injection", "treatment")
        )


ZONES = [
    "Europe/London",
    "Australia/Sydney",
    "America/Santiago",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
]


@settings(max_examples=150, deadline=None)
@given(
    treated=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
    start=st.integers(0, 23),
    length=st.integers(1, 12),
)
def test_no_planned_reminder_falls_in_quiet_hours(treated, zone, start, length):
    """Whatever the zone, treatment time and quiet window, nothing (not time-critical)
    is planned inside quiet hours, and nothing moves earlier than first planned (but a
    checklist reminder quiet hours would push past its end)."""
    tz = ZoneInfo(zone)
    quiet = QuietHours(time(start, 0), time((start + length) % 24, 0))
    plan = plan_treatment(P72, appointment=treated, treated_at=treated, tz=tz, quiet=quiet)
    raw = {
        r.key: r
        for r in plan_treatment(
            P72, appointment=treated, treated_at=treated, tz=tz, quiet=QuietHours(time(0), time(0))
        )
    }
    for r in plan:
        local = r.due.astimezone(tz).time()
        assert not quiet.contains(local) or r.time_critical, (r.key, r.due.astimezone(tz))
        if r.kind == "checklist" and r.due < raw[r.key].due:
            # Quiet hours would have pushed it past its end (a night appointment): it
            # comes a day ahead instead, still before its end (_ahead_of_time).
            assert r.expires is not None and r.due < r.expires
            continue
        assert r.due >= raw[r.key].due
        assert r.due - raw[r.key].due <= timedelta(hours=length + 1)


def test_a_later_session_trims_the_earlier_plan():
    treated = datetime(2026, 11, 20, 10, 0, tzinfo=LONDON)
    full = plan_treatment(P72, appointment=treated, treated_at=treated, tz=LONDON, quiet=QUIET)
    booked = plan_treatment(
        P72, appointment=treated, treated_at=treated, tz=LONDON, quiet=QUIET, next_booked=True
    )
    assert [r for r in full if r.kind != "next-session"] == booked
    second = datetime(2026, 12, 4, 10, 0, tzinfo=LONDON)  # two weeks later
    trimmed = plan_treatment(
        P72,
        appointment=treated,
        treated_at=treated,
        tz=LONDON,
        quiet=QUIET,
        next_booked=True,
        next_treated_at=second,
    )
    assert trimmed and all(r.due < second for r in trimmed)
    assert [r for r in booked if r.due < second] == trimmed
    daily = [int(r.key.split(":")[1]) for r in trimmed if r.kind == "daily"]
    assert daily == list(range(1, 15))  # day 14 at 09:00 is before the 10:00 session


# ------------------------------------------------------------------ validity at send time


def test_every_planned_reminder_has_a_validity_window_that_fits_its_kind():
    treated = datetime(2026, 11, 20, 10, 0, tzinfo=LONDON).astimezone(UTC)
    plan = plan_treatment(P72, appointment=treated, treated_at=treated, tz=LONDON, quiet=QUIET)
    before = plan_treatment(
        P72,
        appointment=treated + timedelta(days=10),
        treated_at=None,
        tz=LONDON,
        quiet=QUIET,
    )
    for r in plan + before:
        assert r.expires is not None and r.expires > r.due, r
        local_due = r.due.astimezone(LONDON)
        if r.kind in ("daily", "milestone"):
            # Over when the local day it falls on is over.
            assert r.expires.astimezone(LONDON) == datetime.combine(
                local_due.date() + timedelta(days=1), time(0), LONDON
            )
        if r.kind == "checklist":
            assert r.expires <= treated + timedelta(days=10)  # never after the appointment
    (ns,) = [r for r in plan if r.kind == "next-session"]
    assert ns.expires - ns.due > timedelta(days=7)  # the booking window stays open a while


def test_a_daily_prompt_found_at_night_is_dropped_once_its_day_would_be_over():
    due = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # Sun 09:00 London
    day_end = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    # At 03:00 on Monday (18 hours late, inside quiet hours): dropped, not sent.
    late = decide_at_send(
        kind="daily",
        due=due,
        expires=day_end,
        now=datetime(2026, 11, 23, 3, 0, tzinfo=UTC),
        tz=LONDON,
        quiet=QUIET,
        time_critical=False,
    )
    assert late.action == "drop" and late.reason
    # At 22:00 on Sunday (quiet hours; they end after the day): dropped as well.
    night = decide_at_send(
        kind="daily",
        due=due,
        expires=day_end,
        now=datetime(2026, 11, 22, 22, 0, tzinfo=UTC),
        tz=LONDON,
        quiet=QUIET,
        time_critical=False,
    )
    assert night.action == "drop"
    # At 15:00 on Sunday: late but still its day, so it goes.
    afternoon = decide_at_send(
        kind="daily",
        due=due,
        expires=day_end,
        now=datetime(2026, 11, 22, 15, 0, tzinfo=UTC),
        tz=LONDON,
        quiet=QUIET,
        time_critical=False,
    )
    assert afternoon.action == "send"


def test_an_event_message_waits_for_quiet_hours_to_end_and_then_expires():
    due = datetime(2026, 11, 22, 20, 55, tzinfo=UTC)
    later = decide_at_send(
        kind="comment",
        due=due,
        expires=None,
        now=datetime(2026, 11, 22, 21, 30, tzinfo=UTC),
        tz=LONDON,
        quiet=QUIET,
        time_critical=False,
    )
    assert later.action == "later" and later.at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    gone = decide_at_send(
        kind="comment",
        due=due,
        expires=None,
        now=due + EVENT_VALIDITY["comment"],
        tz=LONDON,
        quiet=QUIET,
        time_critical=False,
    )
    assert gone.action == "drop"
    urgent = decide_at_send(
        kind="checklist",
        due=due,
        expires=due + timedelta(hours=2),
        now=datetime(2026, 11, 22, 21, 30, tzinfo=UTC),
        tz=LONDON,
        quiet=QUIET,
        time_critical=True,
    )
    assert urgent.action == "send"


@settings(max_examples=200, deadline=None)
@given(
    due=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    late=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
    valid=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=3)),
    zone=st.sampled_from(["Europe/London", "America/Santiago", "Pacific/Auckland", "UTC"]),
)
def test_nothing_is_sent_after_its_window_or_inside_quiet_hours(due, late, valid, zone):
    tz = ZoneInfo(zone)
    now = due + late
    d = decide_at_send(
        kind="milestone",
        due=due,
        expires=due + valid,
        now=now,
        tz=tz,
        quiet=QUIET,
        time_critical=False,
    )
    if d.action == "send":
        assert now < due + valid and not QUIET.contains(now.astimezone(tz).time())
    elif d.action == "later":
        assert now < d.at < due + valid
        assert not QUIET.contains(d.at.astimezone(tz).time())
    else:
        assert now >= due + valid or after_quiet_hours(now, tz, QUIET) >= due + valid


def test_a_catch_up_keeps_the_newest_reminder_of_each_kind_per_person():
    t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    alice, bob = ("patient", 1), ("patient", 2)
    keep, replaced, together = newest_per_kind(
        [
            (1, alice, "daily", t - timedelta(days=2)),
            (2, alice, "daily", t - timedelta(days=1)),
            (3, alice, "daily", t),
            (4, alice, "checklist", t),
            (5, alice, "checklist", t),  # same moment: the later row wins
            (6, bob, "daily", t - timedelta(days=1)),
            (7, alice, "checklist", t - timedelta(hours=1)),
        ]
    )
    assert keep == {3, 5, 6} and replaced == {1, 2, 7}
    # Due at the same instant as the one kept: sent with it, not replaced by it.
    assert together == {4: 5}


def test_an_on_the_day_item_before_a_night_appointment_is_reminded_the_day_before():
    """ "Wear loose clothes" starts on the day (00:00, moved out of quiet hours to 08:00).
    For an appointment at 01:30 that is after the appointment: it could never be sent
    (adversarial review, 2026-12-07). It comes a day ahead instead, out of quiet hours."""
    appointment = datetime(2027, 3, 10, 1, 30, tzinfo=LONDON)
    plan = plan_treatment(P72, appointment=appointment, treated_at=None, tz=LONDON, quiet=QUIET)
    for r in plan:
        assert r.expires is None or r.due < r.expires, r
    clothes = next(r for r in plan if r.key == "checklist:loose-clothing")
    assert clothes.due == datetime(2027, 3, 9, 8, 0, tzinfo=LONDON)
    # A daytime appointment keeps the morning-of reminder.
    day = datetime(2027, 3, 10, 14, 0, tzinfo=LONDON)
    plan = plan_treatment(P72, appointment=day, treated_at=None, tz=LONDON, quiet=QUIET)
    clothes = next(r for r in plan if r.key == "checklist:loose-clothing")
    assert clothes.due == datetime(2027, 3, 10, 8, 0, tzinfo=LONDON)
