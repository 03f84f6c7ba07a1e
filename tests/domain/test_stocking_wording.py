"""No stocking instruction reaches a patient who wears none (task D, clinical safety).

Every shipped protocol (the directory is read, so a protocol added later is walked
too), treated at 10:00 London time, and Today read three times a day on days 0 to 30.
Whether stockings are on is taken from the words of the tasks in force ("Wear your
stockings ..."), not from the code under test, and:

* a protocol without stocking tasks never mentions a stocking anywhere on Today;
* on a day with no stocking task in force, nothing tells the patient to wear stockings or
  to take off "the stocking" they do not have: "you no longer need to wear your
  stockings" is allowed then, and only then;
* ``TodayView.stockings``, which picks the same-day advice ("loosen or take off your
  stocking" or "loosen any bandage or tight clothing"), agrees with the tasks in force.
"""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.protocol import parse_protocol
from app.domain.protocol.model import Protocol
from app.domain.recovery import FOLLOW_UP_DAYS
from app.domain.recovery import TodayView
from app.domain.recovery import build_today
from app.domain.recovery import has_stockings
from app.domain.recovery import stockings_on
from app.domain.recovery import stockings_until
from tests.domain.test_today_consistency import PROTOCOL_DIR
from tests.domain.test_today_consistency import PROTOCOLS

LONDON = ZoneInfo("Europe/London")
TREATED = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # London is on UTC in November
# An order to wear stockings: "Wear your stockings all day", "keep wearing your
# stockings", "wear them" is only ever said inside a stocking task.
WEAR = re.compile(r"\b(?<!need to )wear(ing)? (your |the )?stockings\b", re.IGNORECASE)
# An order to take off a stocking the patient is assumed to have on.
TAKE_OFF = re.compile(r"\btake off (your |the )stocking", re.IGNORECASE)
RELEASED = re.compile(r"no longer need to wear your stockings", re.IGNORECASE)


def _texts(view: TodayView) -> list[str]:
    """Every sentence Today can show for this view (help box's warning signs included)."""
    out = []
    for t in view.tasks:
        out += [t.title, t.detail]
    for r in view.restrictions:
        out += [r.title, r.detail]
    for m in view.milestones:
        out += [m.heading or m.title, m.detail]
    for n in view.normal:
        out += [n.title, n.detail]
    for flags in view.red_flags.values():
        for f in flags:
            out += [f.title, f.detail]
    return out


def _moments():
    for day in range(31):
        for hour in (8, 13, 21):
            yield day, TREATED.replace(hour=hour) + timedelta(days=day)


@pytest.mark.parametrize("key", sorted(PROTOCOLS))
def test_no_stocking_instruction_without_stockings_on(key):
    protocol = PROTOCOLS[key]
    checked_off = 0
    for day, now in _moments():
        if now < TREATED:
            continue
        view = build_today(protocol, TREATED, LONDON, now, set())
        worn = any("stocking" in t.title.lower() for t in view.active_tasks)
        assert view.stockings == worn, (key, day, now)
        texts = _texts(view)
        if not has_stockings(protocol):
            said = [s for s in texts if "stocking" in s.lower()]
            assert not said, (key, day, said)
        if worn:
            released = [s for s in texts if RELEASED.search(s)]
            shown_now = [m for m in view.milestones if m.state == "now"]
            assert not [m for m in shown_now if RELEASED.search(m.heading or m.title)], (
                key,
                day,
                released,
            )
            continue
        checked_off += 1
        upcoming = any("stocking" in t.title.lower() for t in view.later_tasks)
        for s in texts:
            if upcoming and WEAR.search(s):
                continue  # "From 10:00 tomorrow: wear your stockings" is true
            assert not WEAR.search(s), (key, day, now, s)
            assert not TAKE_OFF.search(s), (key, day, now, s)
    assert checked_off  # every protocol has moments without stockings (after their end)


def test_the_walk_can_fail():
    """The patterns catch the wording this walk exists to stop."""
    assert WEAR.search("If you must travel, get up and walk about often and wear your stockings.")
    assert TAKE_OFF.search("Loosen or take off the stocking, then call the clinic today.")
    assert not WEAR.search("You no longer need to wear your stockings")
    assert not TAKE_OFF.search(
        "If you have a stocking or any tight clothing on the leg, loosen or take it off first."
    )


def _asked_every_day() -> Protocol:
    """compression-72h as a clinic might edit it: the day stockings question asked on
    every day of the follow-up (no ``during``), which means stockings all along."""
    text = (PROTOCOL_DIR / "compression-72h.toml").read_text(encoding="utf-8")
    line = 'key = "stockings_day"\nduring = ["stockings-day-night", "stockings-daytime"]\n'
    assert line in text
    return parse_protocol(text.replace(line, 'key = "stockings_day"\n'), "edited.toml")


def test_stockings_asked_every_day_end_with_the_follow_up():
    """Stockings "every day of the follow-up" end with it: an alert still open after day 28 (a late
    offline check-in) must not tell the patient to take off a stocking they no longer
    wear. Checked at 23:59 local on day 28 and 00:01 on day 29, for a follow-up that
    spans the clocks going back in London (25 October 2026)."""
    protocol = _asked_every_day()
    treated = datetime(2026, 10, 20, 9, 30, tzinfo=UTC)
    last = treated + timedelta(days=FOLLOW_UP_DAYS)
    last_minute = datetime(last.year, last.month, last.day, 23, 59, tzinfo=LONDON)
    assert stockings_on(protocol, treated, LONDON, last_minute)
    assert build_today(protocol, treated, LONDON, last_minute, set()).stockings
    after = last_minute + timedelta(minutes=2)
    assert not stockings_on(protocol, treated, LONDON, after)
    assert not build_today(protocol, treated, LONDON, after, set()).stockings
    assert not stockings_on(protocol, treated, LONDON, after + timedelta(days=40))


def test_stockings_come_off_at_the_end_of_the_whole_stretch():
    """The instant a page kept on the phone drops "your stocking": the end of the last
    stocking task that runs on from the one in force (72 h day and night, then daytime
    to the end of day 10), in local time across the clocks going back; None after."""
    protocol = PROTOCOLS["compression-72h"]
    treated = datetime(2026, 10, 20, 9, 30, tzinfo=UTC)  # day 10 is 30 October
    end = datetime(2026, 10, 31, 0, 0, tzinfo=LONDON)
    for hours in (0, 5, 71, 72, 100):
        now = treated + timedelta(hours=hours)
        assert stockings_until(protocol, treated, LONDON, now) == end, hours
    assert build_today(protocol, treated, LONDON, treated, set()).stockings_until == end
    assert stockings_until(protocol, treated, LONDON, end) is None
    every_day = stockings_until(_asked_every_day(), treated, LONDON, treated)
    assert every_day == datetime(2026, 11, 18, 0, 0, tzinfo=LONDON)  # after day 28
    assert stockings_until(PROTOCOLS["compression-none"], treated, LONDON, treated) is None
