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

from app.domain.recovery import TodayView
from app.domain.recovery import build_today
from app.domain.recovery import has_stockings
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
