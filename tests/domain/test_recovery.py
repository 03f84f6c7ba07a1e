"""Checklist states and order, the Today view day by day, and the recovery plan."""

from collections.abc import Iterable
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.domain.offsets import Offset
from app.domain.protocol import Protocol
from app.domain.protocol import parse_protocol
from app.domain.recovery import ChecklistView
from app.domain.recovery import TodayView
from app.domain.recovery import build_checklist
from app.domain.recovery import build_plan
from app.domain.recovery import build_today
from app.domain.recovery import next_session_window
from app.domain.recovery import window

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "app" / "protocols"
LONDON = ZoneInfo("Europe/London")

ALL_RESTRICTIONS_72H = ["heat-and-cold", "high-impact-exercise", "long-journeys", "sun", "waxing"]
RED_FLAGS_72H = {
    "emergency": ["chest-breathing", "allergy", "stroke-signs"],
    "same_day": ["calf-pain-swelling", "skin-breakdown", "cold-foot-severe-pain", "infection"],
    "routine": ["routine-changes"],
}


def load(key: str) -> Protocol:
    path = PROTOCOL_DIR / f"{key}.toml"
    return parse_protocol(path.read_text(encoding="utf-8"), path.name)


@pytest.fixture(scope="module")
def p72() -> Protocol:
    return load("compression-72h")


def at(*args: int, tz: ZoneInfo = LONDON) -> datetime:
    """A London wall-clock time as an aware UTC instant."""
    return datetime(*args, tzinfo=tz).astimezone(UTC)


# Treatment on Monday 10 June 2024 at 10:00 London time (BST, 09:00 UTC).
TREATED = at(2024, 6, 10, 10, 0)
# Appointment on Thursday 20 June 2024 at 10:00 London time.
APPOINTMENT = at(2024, 6, 20, 10, 0)


# ------------------------------------------------------------------ window


def test_window_hours_end_is_exact() -> None:
    w = window(Offset.parse("0h"), Offset.parse("72h"), TREATED, LONDON)
    assert (w.start, w.end) == (TREATED, TREATED + timedelta(hours=72))
    assert (w.first_date, w.last_date) == (date(2024, 6, 10), date(2024, 6, 13))
    assert w.end_is_exact
    assert w.covers(TREATED) and not w.covers(w.end)
    assert w.covers_date(date(2024, 6, 13)) and not w.covers_date(date(2024, 6, 14))
    assert not w.covers_date(date(2024, 6, 9))


def test_window_day_end_covers_whole_day() -> None:
    w = window(Offset.parse("day 3"), Offset.parse("day 28"), TREATED, LONDON)
    assert w.start == at(2024, 6, 13, 0, 0)
    assert w.end == at(2024, 7, 9, 0, 0)
    assert (w.first_date, w.last_date) == (date(2024, 6, 13), date(2024, 7, 8))
    assert not w.end_is_exact
    assert window(Offset.parse("0h"), Offset.parse("day 2 18:00"), TREATED, LONDON).end_is_exact


# ------------------------------------------------------------------ checklist


def states(view: ChecklistView) -> dict[str, str]:
    return {e.item.key: e.state for e in view.entries}


def test_checklist_is_ordered_by_start_or_due(p72: Protocol) -> None:
    view = build_checklist(p72, APPOINTMENT, LONDON, at(2024, 6, 1, 12, 0), set())
    assert [e.item.key for e in view.entries] == [
        "before-photos",  # starts day -3
        "bring-stockings",  # starts -24h, ties with no-lotions
        "no-lotions",
        "loose-clothing",  # starts day 0 (midnight)
    ]
    starts = [e.starts or e.due for e in view.entries]
    assert starts == sorted(starts)
    assert view.total == 4
    # The clinic's own items (by = "clinic") are listed apart, by due time then key.
    assert [e.item.key for e in view.clinic_entries] == ["duplex-scan", "screening"]


def test_checklist_resolves_due_and_starts(p72: Protocol) -> None:
    view = build_checklist(p72, APPOINTMENT, LONDON, at(2024, 6, 1, 12, 0), set())
    by_key = {e.item.key: e for e in view.entries + view.clinic_entries}
    assert by_key["screening"].due == at(2024, 6, 13, 0, 0)
    assert by_key["screening"].starts is None
    assert by_key["no-lotions"].starts == APPOINTMENT - timedelta(hours=24)
    assert by_key["no-lotions"].due == APPOINTMENT
    assert by_key["before-photos"].starts == at(2024, 6, 17, 0, 0)
    assert by_key["before-photos"].due == at(2024, 6, 20, 8, 0)
    assert by_key["before-photos"].item.photo is True


def test_checklist_states_well_before(p72: Protocol) -> None:
    view = build_checklist(p72, APPOINTMENT, LONDON, at(2024, 6, 1, 12, 0), set())
    assert states(view) == {
        "before-photos": "upcoming",
        "bring-stockings": "upcoming",
        "no-lotions": "upcoming",
        "loose-clothing": "upcoming",
    }
    assert (view.done_count, view.overdue_count) == (0, 0)


def test_checklist_done_and_overdue(p72: Protocol) -> None:
    now = at(2024, 6, 20, 9, 0)  # photos were due at 08:00
    view = build_checklist(p72, APPOINTMENT, LONDON, now, {"no-lotions"})
    s = states(view)
    assert s["no-lotions"] == "done"
    assert s["before-photos"] == "overdue"
    assert (view.done_count, view.overdue_count) == (1, 1)
    done = next(e for e in view.entries if e.item.key == "no-lotions")
    assert done.done is True


def test_clinic_items_are_never_overdue_or_counted_for_the_patient(p72: Protocol) -> None:
    # Issue 14 point 10: the duplex scan (due day -7) on the morning of the appointment
    # is the clinic's task, not the patient's overdue item; a tick does not count either.
    now = at(2024, 6, 20, 9, 0)
    view = build_checklist(p72, APPOINTMENT, LONDON, now, {"duplex-scan", "screening"})
    assert {e.item.key: e.state for e in view.clinic_entries} == {
        "duplex-scan": "clinic",
        "screening": "clinic",
    }
    assert "duplex-scan" not in states(view)
    assert (view.done_count, view.overdue_count, view.total) == (0, 1, 4)


def test_checklist_day_before(p72: Protocol) -> None:
    now = at(2024, 6, 19, 12, 0)
    view = build_checklist(p72, APPOINTMENT, LONDON, now, set())
    assert states(view) == {
        "before-photos": "now",
        "bring-stockings": "now",
        "no-lotions": "now",
        "loose-clothing": "upcoming",
    }


def test_checklist_morning_of_appointment(p72: Protocol) -> None:
    now = at(2024, 6, 20, 9, 0)  # an hour before; photos were due at 08:00
    view = build_checklist(p72, APPOINTMENT, LONDON, now, {"screening", "duplex-scan"})
    s = states(view)
    assert s["before-photos"] == "overdue"
    assert s["loose-clothing"] == "now"
    assert s["no-lotions"] == "now"
    assert view.overdue_count == 1


def test_checklist_state_boundaries(p72: Protocol) -> None:
    starts = APPOINTMENT - timedelta(hours=24)
    one_us = timedelta(microseconds=1)

    def lotions(now: datetime) -> str:
        return states(build_checklist(p72, APPOINTMENT, LONDON, now, set()))["no-lotions"]

    assert lotions(starts - one_us) == "upcoming"
    assert lotions(starts) == "now"
    assert lotions(APPOINTMENT - one_us) == "now"
    assert lotions(APPOINTMENT) == "overdue"


def test_ticked_item_is_done_even_when_late(p72: Protocol) -> None:
    keys = {i.key for i in p72.checklist}
    view = build_checklist(p72, APPOINTMENT, LONDON, APPOINTMENT + timedelta(days=1), keys)
    assert set(states(view).values()) == {"done"}
    assert (view.done_count, view.overdue_count) == (4, 0)


def test_unknown_ticks_are_ignored(p72: Protocol) -> None:
    view = build_checklist(p72, APPOINTMENT, LONDON, at(2024, 6, 1, 12, 0), {"not-an-item"})
    assert view.done_count == 0


# ------------------------------------------------------------------ today (72 h protocol)


def today(protocol: Protocol, now: datetime, ticked: frozenset[str] = frozenset()) -> TodayView:
    return build_today(protocol, TREATED, LONDON, now, ticked)


def keys(items: Iterable[Any]) -> list[str]:
    return [i.key for i in items]


def test_today_day_0(p72: Protocol) -> None:
    view = today(p72, at(2024, 6, 10, 12, 0), frozenset({"walks"}))
    assert (view.day, view.date) == (0, date(2024, 6, 10))
    assert keys(view.tasks) == [
        "walk-after-treatment",
        "stockings-day-night",
        "walks",
        "elevate-legs",
    ]
    assert {t.key: t.done for t in view.tasks}["walks"] is True
    assert {t.key: t.done for t in view.tasks}["elevate-legs"] is False
    assert keys(view.restrictions) == ALL_RESTRICTIONS_72H
    assert view.milestones == ()
    assert keys(view.normal) == ["itching-welts", "worse-before-better", "bruising"]


def test_today_restriction_last_dates(p72: Protocol) -> None:
    view = today(p72, at(2024, 6, 10, 12, 0))
    last = {r.key: r.window.last_date for r in view.restrictions}
    assert last == {
        "heat-and-cold": date(2024, 6, 24),  # day 14
        "high-impact-exercise": date(2024, 6, 24),
        "long-journeys": date(2024, 6, 24),
        "sun": date(2024, 7, 8),  # day 28
        "waxing": date(2024, 7, 8),
    }
    ends = [r.window.end for r in view.restrictions]
    assert ends == sorted(ends)


def test_today_day_3(p72: Protocol) -> None:
    view = today(p72, at(2024, 6, 13, 12, 0))
    assert view.day == 3
    # day-and-night stockings ended at 10:00 today (72 h); daytime stockings started then
    assert keys(view.tasks) == ["stockings-daytime", "walks", "elevate-legs"]
    assert view.tasks[0].window.start == at(2024, 6, 13, 10, 0)
    assert keys(view.milestones) == ["stockings-night-off"]
    assert view.milestones[0].at == at(2024, 6, 13, 10, 0)
    assert keys(view.normal) == ["itching-welts", "worse-before-better", "bruising", "tender-lumps"]
    assert keys(view.restrictions) == ALL_RESTRICTIONS_72H


def test_today_day_3_before_the_72_hours_are_up(p72: Protocol) -> None:
    view = today(p72, at(2024, 6, 13, 9, 0))
    assert view.day == 3
    assert keys(view.tasks) == ["stockings-day-night", "stockings-daytime", "walks", "elevate-legs"]
    day_night = view.tasks[0]
    assert day_night.window.end == at(2024, 6, 13, 10, 0)
    assert day_night.window.end_is_exact
    assert day_night.window.last_date == date(2024, 6, 13)


def test_today_day_10(p72: Protocol) -> None:
    view = today(p72, at(2024, 6, 20, 20, 0))
    assert view.day == 10
    assert keys(view.tasks) == ["stockings-daytime", "walks", "elevate-legs"]
    assert view.tasks[0].window.last_date == date(2024, 6, 20)
    assert view.milestones == ()
    assert keys(view.restrictions) == ALL_RESTRICTIONS_72H


def test_today_day_11_stockings_done(p72: Protocol) -> None:
    view = today(p72, at(2024, 6, 21, 8, 0))
    assert view.day == 11
    assert "stockings-daytime" not in keys(view.tasks)
    assert keys(view.milestones) == ["stockings-done"]


def test_today_day_14_last_evening_and_day_15(p72: Protocol) -> None:
    evening = today(p72, at(2024, 6, 24, 23, 59))
    assert evening.day == 14
    assert keys(evening.restrictions) == ALL_RESTRICTIONS_72H
    assert keys(evening.tasks) == ["walks", "elevate-legs"]
    morning = today(p72, at(2024, 6, 25, 0, 0))
    assert morning.day == 15
    assert keys(morning.restrictions) == ["sun", "waxing"]
    assert morning.tasks == ()
    assert keys(morning.milestones) == ["heat-exercise-ok"]


def test_today_day_20(p72: Protocol) -> None:
    view = today(p72, at(2024, 6, 30, 12, 0))
    assert view.day == 20
    assert view.tasks == ()
    assert keys(view.restrictions) == ["sun", "waxing"]
    assert [r.window.last_date for r in view.restrictions] == [date(2024, 7, 8)] * 2
    assert view.milestones == ()
    assert keys(view.normal) == [
        "worse-before-better",
        "bruising",
        "tender-lumps",
        "brown-marks",
        "fine-red-vessels",
    ]


def test_today_day_29_sun_and_waxing_over(p72: Protocol) -> None:
    view = today(p72, at(2024, 7, 9, 9, 0))
    assert view.day == 29
    assert view.restrictions == ()
    assert keys(view.milestones) == ["sun-waxing-ok"]


@pytest.mark.parametrize("day", [0, 1, 3, 10, 14, 20, 28, 60, 200])
def test_today_shows_all_red_flags_every_day(p72: Protocol, day: int) -> None:
    view = today(p72, at(2024, 6, 10, 12, 0) + timedelta(days=day))
    assert view.day == day
    assert {tier: keys(notes) for tier, notes in view.red_flags.items()} == RED_FLAGS_72H
    assert all(note.title for notes in view.red_flags.values() for note in notes)


def test_today_next_session(p72: Protocol) -> None:
    view = today(p72, at(2024, 6, 20, 12, 0))
    assert view.next_session == (date(2024, 7, 8), date(2024, 9, 2))  # 4 to 12 weeks


def test_today_before_treatment_shows_nothing_to_do(p72: Protocol) -> None:
    view = today(p72, at(2024, 6, 9, 12, 0))
    assert view.day == -1
    assert (view.tasks, view.restrictions, view.milestones, view.normal) == ((), (), (), ())


def test_restriction_dropped_once_its_exact_end_passes() -> None:
    none = load("compression-none")
    during = build_today(none, TREATED, LONDON, at(2024, 6, 11, 9, 59), frozenset())
    assert "exercise-first-day" in keys(during.restrictions)
    after = build_today(none, TREATED, LONDON, at(2024, 6, 11, 10, 0), frozenset())
    assert after.day == during.day == 1
    assert "exercise-first-day" not in keys(after.restrictions)
    assert "normal-exercise-ok" in keys(after.milestones)


def test_task_with_exact_end_leaves_the_list_once_it_ends() -> None:
    p24 = load("compression-24h")
    before = build_today(p24, TREATED, LONDON, at(2024, 6, 11, 9, 59), frozenset())
    assert before.day == 1
    assert keys(before.tasks)[:2] == ["stockings-day-night", "stockings-daytime"]
    after = build_today(p24, TREATED, LONDON, at(2024, 6, 11, 10, 0), frozenset())
    assert after.day == 1
    assert "stockings-day-night" not in keys(after.tasks)
    assert keys(after.tasks)[0] == "stockings-daytime"
    assert keys(after.milestones) == ["stockings-night-off"]


def test_task_with_whole_day_end_stays_until_the_day_is_over(p72: Protocol) -> None:
    late = today(p72, at(2024, 6, 20, 23, 59))  # day 10, the last day of daytime stockings
    assert "stockings-daytime" in keys(late.tasks)
    next_day = today(p72, at(2024, 6, 21, 0, 0))
    assert "stockings-daytime" not in keys(next_day.tasks)


def test_compression_24h_late_evening_treatment() -> None:
    p24 = load("compression-24h")
    treated = at(2024, 6, 10, 23, 30)
    daytime = next(t for t in p24.tasks if t.key == "stockings-daytime")
    w = window(daytime.start, daytime.end, treated, LONDON)
    assert (w.first_date, w.last_date) == (date(2024, 6, 11), date(2024, 6, 25))
    on_day_15 = build_today(p24, treated, LONDON, at(2024, 6, 25, 21, 0), frozenset())
    assert on_day_15.day == 15
    assert keys(on_day_15.tasks) == ["stockings-daytime"]
    on_day_16 = build_today(p24, treated, LONDON, at(2024, 6, 26, 8, 0), frozenset())
    assert on_day_16.tasks == ()
    assert keys(on_day_16.milestones) == ["stockings-done"]


def test_today_uses_patient_zone() -> None:
    p72 = load("compression-72h")
    sydney = ZoneInfo("Australia/Sydney")
    treated = at(2024, 6, 10, 17, 0, tz=sydney)
    now = at(2024, 6, 11, 7, 0, tz=sydney)  # still 10 June in UTC
    view = build_today(p72, treated, sydney, now, frozenset())
    assert (view.day, view.date) == (1, date(2024, 6, 11))
    assert "walk-after-treatment" not in keys(view.tasks)


# ------------------------------------------------------------------ plan


def test_plan_has_next_session_window(p72: Protocol) -> None:
    plan = build_plan(p72, TREATED, LONDON)
    sessions = [e for e in plan.events if e.kind == "session"]
    assert len(sessions) == 1
    assert (sessions[0].on, sessions[0].day) == (date(2024, 7, 8), 28)
    assert "Mon 2 Sep 2024" in sessions[0].detail
    assert next_session_window(p72, TREATED, LONDON) == (date(2024, 7, 8), date(2024, 9, 2))


def test_plan_has_restriction_end_dates(p72: Protocol) -> None:
    plan = build_plan(p72, TREATED, LONDON)
    ends = {(e.on, e.day, e.title) for e in plan.events if e.kind == "ends"}
    assert ends == {
        (date(2024, 6, 24), 14, "Last day to avoid: very hot or very cold on your legs"),
        (date(2024, 6, 24), 14, "Last day to avoid: high-impact exercise"),
        (date(2024, 6, 24), 14, "Last day to avoid: long flights and long journeys sitting still"),
        (date(2024, 7, 8), 28, "Last day to avoid: sun on the treated areas"),
        (date(2024, 7, 8), 28, "Last day to avoid: waxing your legs"),
    }


def test_plan_has_milestones_and_task_starts(p72: Protocol) -> None:
    plan = build_plan(p72, TREATED, LONDON)
    milestones = {e.title: e.day for e in plan.events if e.kind == "milestone"}
    assert milestones == {
        "You can take your stockings off at night from now": 3,
        "You no longer need to wear your stockings": 11,
        "Hot baths and high-impact exercise are fine again": 15,
        "Sun and waxing are fine again": 29,
    }
    starts = {e.title: e.day for e in plan.events if e.kind == "starts"}
    assert starts["Wear your stockings in the daytime"] == 3
    assert starts["Wear your stockings day and night"] == 0


def test_plan_is_sorted_and_grouped_by_week(p72: Protocol) -> None:
    plan = build_plan(p72, TREATED, LONDON)
    dates = [e.on for e in plan.events]
    assert dates == sorted(dates)
    assert len(plan.events) == len(p72.milestones) + len(p72.tasks) + len(p72.restrictions) + 1
    assert [w for w, _ in plan.weeks] == [0, 1, 2, 4]  # days 0-3, 11, 14-15, 28-29
    for week, events in plan.weeks:
        assert all(e.day // 7 == week for e in events)
    assert sum(len(events) for _, events in plan.weeks) == len(plan.events)
    # on one date: starts, then milestones, then last days of rules, then the session
    day_28 = [e.kind for e in plan.events if e.day == 28]
    assert day_28 == ["ends", "ends", "session"]


def test_plan_for_each_protocol_includes_session() -> None:
    for key, first_week in (("compression-none", 2), ("compression-24h", 6)):
        plan = build_plan(load(key), TREATED, LONDON)
        session = next(e for e in plan.events if e.kind == "session")
        assert session.day == first_week * 7
