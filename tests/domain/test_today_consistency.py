"""Today and the Plan never contradict themselves and always say when (issue 14 point 2).

For every protocol in app/protocols/ (the directory is read, so a protocol added later
is checked too), treatments every 30 minutes across the days the clocks change in
Europe/London and America/New_York, and "now" every 30 minutes after treatment.

What counts as a contradiction, concretely (derived from the protocol data, so no
protocol needs to declare it):

* an instruction shown as in force ("now") before its start or at or after its end:
  a task whose end has passed is never shown as something to do;
* a milestone says what changes at its moment; every task or rule that ends at that
  same instant is *released* by it ("you can take your stockings off to sleep" releases
  "wear them day and night"). A released instruction in force together with its
  milestone's moment having come is a contradiction;
* two tasks in force where one takes over from the other (one ends exactly when the
  other starts, as "day and night" hands over to "daytime");
* a milestone worded "from now" before its moment.

And "always says when": anything that starts or ends within the next 24 hours carries
its local time ("until 14:00 today", "from 14:00 tomorrow", "until midnight tonight").
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.domain.offsets import local_midnight
from app.domain.protocol import Protocol
from app.domain.protocol import parse_protocol
from app.domain.recovery import LOOKAHEAD
from app.domain.recovery import TodayView
from app.domain.recovery import build_plan
from app.domain.recovery import build_today
from app.domain.recovery import resolve_plan

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "app" / "protocols"
PROTOCOLS = {
    path.stem: parse_protocol(path.read_text(encoding="utf-8"), path.name)
    for path in sorted(PROTOCOL_DIR.glob("*.toml"))
}
# The local dates the clocks go forward and back in 2026.
CHANGES = [
    ("Europe/London", date(2026, 3, 29)),
    ("Europe/London", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
]
STEP = timedelta(minutes=30)
CLOCK = re.compile(r"\b\d\d:\d\d\b")


def half_hours(start: datetime, end: datetime) -> list[datetime]:
    """Every 30-minute instant from start (inclusive) to end (exclusive), in UTC: a day
    with a clock change has 46 or 50 of them, not 48."""
    out = []
    t = start
    while t < end:
        out.append(t)
        t += STEP
    return out


def treatment_times(zone: str, day: date) -> list[datetime]:
    tz = ZoneInfo(zone)
    return half_hours(local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz))


def subject(key: str) -> str:
    """What a task is about, by the protocols' key convention: "stockings-day-night" and
    "stockings-daytime" are two regimes of one thing, so never both in force."""
    return key.split("-", 1)[0]


def problems(protocol: Protocol, treated: datetime, tz: ZoneInfo, now: datetime) -> list[str]:
    """Every contradiction or missing 'when' in the Today view at ``now`` (empty if none)."""
    view = build_today(protocol, treated, tz, now, frozenset())
    return [
        *in_force_and_when(view, tz, now),
        *contradictions(view, protocol, treated, tz, now),
        *milestone_wording(view, now),
    ]


def in_force_and_when(view: TodayView, tz: ZoneInfo, now: datetime) -> list[str]:
    """In force only inside its window; coming up only before it; times within 24 h."""
    found: list[str] = []
    for i in [*view.tasks, *view.restrictions]:
        w = i.window
        if i.state == "now" and not w.start <= now < w.end:
            found.append(f"{i.key} shown in force outside {w.start}..{w.end}")
        if i.state == "upcoming" and not now < w.start:
            found.append(f"{i.key} shown as coming up after its start")
        if i.state == "upcoming" and not i.timing.startswith("From "):
            found.append(f"{i.key} coming up without saying from when: {i.timing!r}")
        if i.state == "now" and w.end - now <= LOOKAHEAD:
            if not (CLOCK.search(i.timing) or "midnight" in i.timing):
                found.append(f"{i.key} ends within 24 h without a time: {i.timing!r}")
        if i.state == "upcoming" and w.start - now <= LOOKAHEAD:
            local = w.start.astimezone(tz)
            at_midnight = (local.hour, local.minute) == (0, 0)
            if not (CLOCK.search(i.timing) or at_midnight):
                found.append(f"{i.key} starts within 24 h without a time: {i.timing!r}")
    return found


def contradictions(
    view: TodayView, protocol: Protocol, treated: datetime, tz: ZoneInfo, now: datetime
) -> list[str]:
    """Released instructions still in force; two regimes of one thing in force."""
    found: list[str] = []
    active = [i for i in [*view.tasks, *view.restrictions] if i.state == "now"]
    for m, at, _on in resolve_plan(protocol, treated, tz).milestones:
        if at > now:
            continue
        for i in active:
            if i.window.end == at:
                found.append(f"{i.key} still in force although {m.key} released it")
    for a in view.active_tasks:
        for b in view.active_tasks:
            if a.window.end == b.window.start:
                found.append(f"{a.key} and its successor {b.key} both in force")
            elif a.key < b.key and subject(a.key) == subject(b.key):
                found.append(f"{a.key} and {b.key} are two ways of doing one thing, both in force")
    return found


def milestone_wording(view: TodayView, now: datetime) -> list[str]:
    """Never "from now" before the moment; ahead of it, from when."""
    found: list[str] = []
    for m in view.milestones:
        assert m.at is not None
        if m.at > now and (m.state != "upcoming" or "from now" in m.heading.lower()):
            found.append(f"milestone {m.key} shown as from now before its moment")
        if m.state == "upcoming" and not m.heading.startswith("From "):
            found.append(f"milestone {m.key} ahead without saying from when: {m.heading!r}")
    return found


def plan_disagrees(protocol: Protocol, treated: datetime, tz: ZoneInfo, now: datetime) -> list[str]:
    """Milestones Today shows must read exactly as the Plan words them at the same instant,
    and the Plan never says "from now" of a moment still to come."""
    view: TodayView = build_today(protocol, treated, tz, now, frozenset())
    plan = build_plan(protocol, treated, tz, now)
    titles = {e.title for e in plan.events if e.kind == "milestone"}
    found = [f"Today says {m.heading!r}, the Plan does not" for m in view.milestones]
    found = [f for f, m in zip(found, view.milestones, strict=True) if m.heading not in titles]
    for m, at, _on in resolve_plan(protocol, treated, tz).milestones:
        if at > now and any(t.endswith("from now") and m.title.startswith(t) for t in titles):
            found.append(f"the Plan says {m.title!r} before its moment")
    if view.next_session is None and any(e.kind == "session" for e in plan.events):
        found.append("the Plan offers a next-session window Today calls passed")
    return found


def test_every_shipped_protocol_is_checked() -> None:
    # The shipped three at least; protocols added to the directory are checked too.
    assert {"compression-24h", "compression-72h", "compression-none"} <= set(PROTOCOLS)


@pytest.mark.parametrize("key", sorted(PROTOCOLS))
@pytest.mark.parametrize(("zone", "change"), CHANGES, ids=[f"{z}-{d}" for z, d in CHANGES])
def test_first_four_days_for_every_treatment_time(key: str, zone: str, change: date) -> None:
    """Exhaustive where the clock-time instructions live (3 h, 24 h, 72 h): every 30-minute
    treatment time of a clock-change day, every 30-minute instant of days 0-3."""
    protocol, tz = PROTOCOLS[key], ZoneInfo(zone)
    end = local_midnight(change + timedelta(days=4), tz)
    failures = []
    for treated in treatment_times(zone, change):
        for now in half_hours(treated, end):
            for p in problems(protocol, treated, tz, now):
                failures.append(f"treated {treated:%H:%M}Z, now {now:%d %H:%M}Z: {p}")
    assert failures == [], failures[:10]


@pytest.mark.parametrize("key", sorted(PROTOCOLS))
@pytest.mark.parametrize(("zone", "change"), CHANGES, ids=[f"{z}-{d}" for z, d in CHANGES])
def test_days_0_to_28_every_half_hour(key: str, zone: str, change: date) -> None:
    """Every 30-minute instant of days 0-28 for a treatment at 01:30 local on the change
    day (inside the skipped or repeated hour), Today and Plan side by side."""
    protocol, tz = PROTOCOLS[key], ZoneInfo(zone)
    treated = local_midnight(change, tz) + timedelta(hours=1, minutes=30)
    end = local_midnight(change + timedelta(days=29), tz)
    failures = []
    for now in half_hours(treated, end):
        for p in problems(protocol, treated, tz, now) + plan_disagrees(protocol, treated, tz, now):
            failures.append(f"now {now:%d %b %H:%M}Z: {p}")
    assert failures == [], failures[:10]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.sampled_from(sorted(PROTOCOLS)),
    change=st.sampled_from(CHANGES),
    slot=st.integers(0, 49),
    offset=st.integers(0, 29 * 48),
)
def test_any_treatment_time_any_half_hour_of_days_0_to_28(
    key: str, change: tuple[str, date], slot: int, offset: int
) -> None:
    """The whole grid (every treatment time x every instant of days 0-28) is too big to
    walk in a minute for five protocols; Hypothesis samples it and keeps failures."""
    zone, day = change
    times = treatment_times(zone, day)
    treated = times[slot % len(times)]
    tz = ZoneInfo(zone)
    now = treated + offset * STEP
    assert problems(PROTOCOLS[key], treated, tz, now) == []
    assert plan_disagrees(PROTOCOLS[key], treated, tz, now) == []


def test_checker_catches_a_protocol_that_overlaps_two_regimes() -> None:
    """The checks are not vacuous: 'day and night' running 6 hours into 'daytime' (a
    mistake in a protocol file) is reported."""
    text = (PROTOCOL_DIR / "compression-24h.toml").read_text(encoding="utf-8")
    broken = text.replace(
        'end = "24h"\nsource = "Clinic page 3: you must', 'end = "30h"\nsource = "x', 1
    )
    assert broken != text
    protocol = parse_protocol(broken, "broken.toml")
    tz = ZoneInfo("Europe/London")
    treated = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)  # 14:00 London
    found = problems(protocol, treated, tz, treated + timedelta(hours=25))
    assert any("two ways of doing one thing" in p for p in found), found


def test_checker_catches_the_old_first_night_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """With Today's old rule (a task is shown on every date its window touches), the
    first night of the 24 h protocol at 00:30 is reported, as the issue saw it."""
    from app.domain.recovery import today as today_module

    def old_rule(w, today, now, started):  # noqa: ANN001, ANN202
        return "now" if w.covers_date(today) and now < w.end else None

    monkeypatch.setattr(today_module, "_shown", old_rule)
    tz = ZoneInfo("Europe/London")
    treated = datetime(2026, 6, 1, 13, 0, tzinfo=UTC)  # 14:00 London
    now = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)  # 00:30 London, day 1
    found = problems(PROTOCOLS["compression-24h"], treated, tz, now)
    assert any("stockings-daytime shown in force" in p for p in found), found
    assert any("successor stockings-daytime" in p for p in found), found
