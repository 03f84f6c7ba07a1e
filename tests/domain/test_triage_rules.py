"""Red-flag triage case by case, and each warning sign's question at its window edges.

The windows come from the shipped protocol files (``[[red_flag]]`` start and end): a
bare ``day N`` end keeps the whole of day N, so a question is asked on its last day and
not on the day after. The first test pins the windows these edge tests assume, so a
protocol edit that moves a window fails there, naming the flag, before any edge test.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.domain.checkin import AnswerError
from app.domain.checkin import questions_for_day
from app.domain.checkin import triage
from app.domain.protocol import parse_protocol
from tests.domain.test_checkin import answered

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "app" / "protocols"
PROTOCOLS = {
    path.stem: parse_protocol(path.read_text(), path.name)
    for path in sorted(PROTOCOL_DIR.glob("*.toml"))
}
RULES = PROTOCOLS["compression-72h"].answer_rules
LONDON = ZoneInfo("Europe/London")
TREATED = datetime(2026, 11, 20, 10, 0, tzinfo=LONDON)

# key -> (tier, start, end) as every shipped protocol writes them.
WINDOWS = {
    "chest-breathing": ("emergency", "0h", "day 28"),
    "allergy": ("emergency", "0h", "day 2"),
    "stroke-signs": ("emergency", "0h", "day 2"),
    "calf-pain-swelling": ("same_day", "day 3", "day 28"),
    "skin-breakdown": ("same_day", "day 1", "day 14"),
    "cold-foot-severe-pain": ("same_day", "0h", "day 14"),
    "infection": ("same_day", "day 1", "day 14"),
    "routine-changes": ("routine", "0h", "day 180"),
}
# key -> (first day asked, last day asked), read from WINDOWS above.
DAYS = {
    "chest-breathing": (0, 28),
    "allergy": (0, 2),
    "stroke-signs": (0, 2),
    "calf-pain-swelling": (3, 28),
    "skin-breakdown": (1, 14),
    "cold-foot-severe-pain": (0, 14),
    "infection": (1, 14),
    "routine-changes": (0, 180),
}


def title(key: str, protocol: str = "compression-72h") -> str:
    return next(f.title for f in PROTOCOLS[protocol].red_flags if f.key == key)


def asked_on(day: int, protocol: str = "compression-72h", treated=TREATED, tz=LONDON):
    on = treated.astimezone(tz).date() + timedelta(days=day)
    return questions_for_day(PROTOCOLS[protocol], treated, tz, on)


def keys_on(day: int, protocol: str = "compression-72h", treated=TREATED, tz=LONDON) -> set:
    return {f.key for f in asked_on(day, protocol, treated, tz)}


def answers(day: int, *, yes=(), protocol: str = "compression-72h", **overrides):
    """Benign answers (pain 2, mild bruising: no reason of their own) plus ``yes``."""
    return answered(asked_on(day, protocol), yes=yes, **overrides)


def test_three_protocols_ship():
    assert sorted(PROTOCOLS) == ["compression-24h", "compression-72h", "compression-none"]


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_protocol_red_flag_windows_are_the_ones_tested_here(protocol):
    found = {f.key: (f.tier, str(f.start), str(f.end)) for f in PROTOCOLS[protocol].red_flags}
    assert found == WINDOWS


# ------------------------------------------------------------------ window edges


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@pytest.mark.parametrize("key", sorted(DAYS))
def test_each_question_is_asked_from_its_first_to_its_last_day_only(protocol, key):
    first, last = DAYS[key]
    assert key in keys_on(first, protocol)
    assert key in keys_on(last, protocol)
    assert key not in keys_on(last + 1, protocol)
    if first > 0:
        assert key not in keys_on(first - 1, protocol)


@pytest.mark.parametrize(
    ("key", "day", "asked"),
    [
        ("stroke-signs", 0, True),
        ("stroke-signs", 2, True),  # "day 2" as an end keeps the whole of day 2
        ("stroke-signs", 3, False),
        ("cold-foot-severe-pain", 0, True),
        ("cold-foot-severe-pain", 14, True),
        ("cold-foot-severe-pain", 15, False),
        ("skin-breakdown", 0, False),
        ("skin-breakdown", 1, True),
        ("skin-breakdown", 14, True),
        ("skin-breakdown", 15, False),
        ("infection", 0, False),
        ("infection", 1, True),
        ("infection", 14, True),
        ("infection", 15, False),
        ("routine-changes", 180, True),
        ("routine-changes", 181, False),
    ],
)
def test_named_window_edges(key, day, asked):
    assert (key in keys_on(day)) is asked


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (
            0,
            {
                "chest-breathing",
                "allergy",
                "stroke-signs",
                "cold-foot-severe-pain",
                "routine-changes",
            },
        ),
        (
            2,
            {
                "chest-breathing",
                "allergy",
                "stroke-signs",
                "skin-breakdown",
                "cold-foot-severe-pain",
                "infection",
                "routine-changes",
            },
        ),
        (
            15,
            {"chest-breathing", "calf-pain-swelling", "routine-changes"},
        ),
        (29, {"routine-changes"}),
        (180, {"routine-changes"}),
        (181, set()),
    ],
)
def test_whole_question_set_on_a_day(day, expected):
    assert keys_on(day) == expected


@pytest.mark.parametrize(
    ("tz", "treated_local"),
    [
        ("Europe/London", datetime(2026, 11, 20, 23, 30)),  # late evening: day 0 short
        ("Europe/London", datetime(2026, 10, 20, 10, 0)),  # day 14 after the clocks go back
        ("America/Los_Angeles", datetime(2026, 2, 28, 23, 59)),  # day 14 after spring forward
        ("Pacific/Kiritimati", datetime(2026, 11, 20, 0, 30)),  # UTC+14: the previous UTC date
    ],
)
def test_edges_count_the_patients_own_calendar_days(tz, treated_local):
    zone = ZoneInfo(tz)
    treated = treated_local.replace(tzinfo=zone)
    assert "stroke-signs" in keys_on(0, treated=treated, tz=zone)  # the "0h" start on day 0
    assert "stroke-signs" in keys_on(2, treated=treated, tz=zone)
    assert "stroke-signs" not in keys_on(3, treated=treated, tz=zone)
    assert "infection" not in keys_on(0, treated=treated, tz=zone)
    assert "cold-foot-severe-pain" in keys_on(14, treated=treated, tz=zone)
    assert "cold-foot-severe-pain" not in keys_on(15, treated=treated, tz=zone)
    assert "routine-changes" in keys_on(180, treated=treated, tz=zone)
    assert "routine-changes" not in keys_on(181, treated=treated, tz=zone)


# ------------------------------------------------------------------ triage, case by case


@pytest.mark.parametrize("day", [0, 1, 2])
def test_stroke_signs_are_an_emergency(day):
    a, asked = answers(day, yes={"stroke-signs"})
    result = triage(a, asked, RULES)
    assert result.level == "emergency"
    assert result.reasons == (title("stroke-signs"),)
    assert "loss of sight" in result.reasons[0] and "slurred speech" in result.reasons[0]
    assert result.alerts_clinic is True


@pytest.mark.parametrize("day", [1, 7, 14])
def test_skin_breakdown_warning_sign_is_same_day(day):
    a, asked = answers(day, yes={"skin-breakdown"})
    result = triage(a, asked, RULES)
    assert result.level == "same_day"
    assert result.reasons == (title("skin-breakdown"),)
    assert result.alerts_clinic is True


@pytest.mark.parametrize(
    ("skin", "reason"),
    [
        ("blister", "A blister"),
        ("sore", "An open sore"),
        ("pale", "Skin turning white or grey"),
        ("black", "Skin turning black"),
    ],
)
def test_skin_breakdown_picked_as_a_skin_change_is_same_day_on_any_day(skin, reason):
    """The skin list is asked every day: breakdown after day 14 still reaches the clinic."""
    for day in (0, 20):
        a, asked = answers(day, skin=[skin])
        result = triage(a, asked, RULES)
        assert (result.level, result.reasons) == ("same_day", (reason,)), day


@pytest.mark.parametrize("day", [0, 14])
def test_cold_or_numb_foot_is_same_day(day):
    a, asked = answers(day, yes={"cold-foot-severe-pain"})
    result = triage(a, asked, RULES)
    assert result.level == "same_day"
    assert result.reasons == (title("cold-foot-severe-pain"),)
    assert "cold, pale or numb foot" in result.reasons[0]
    assert result.alerts_clinic is True


@pytest.mark.parametrize("day", [1, 14])
def test_infection_spreading_redness_or_fever_is_same_day(day):
    a, asked = answers(day, yes={"infection"})
    result = triage(a, asked, RULES)
    assert result.level == "same_day"
    assert result.reasons == ("Spreading redness, heat, pus or a fever",)
    assert result.alerts_clinic is True


def test_routine_changes_on_their_last_day_are_routine_without_an_alert():
    a, asked = answers(180, yes={"routine-changes"})
    result = triage(a, asked, RULES)
    assert (result.level, result.reasons) == ("routine", (title("routine-changes"),))
    assert result.alerts_clinic is False


@pytest.mark.parametrize(
    ("key", "day"),
    [
        ("stroke-signs", 3),
        ("infection", 0),
        ("skin-breakdown", 0),
        ("cold-foot-severe-pain", 15),
        ("routine-changes", 181),
    ],
)
def test_a_yes_outside_the_window_is_refused(key, day):
    flags = {f.key: "no" for f in asked_on(day)} | {key: "yes"}
    with pytest.raises(AnswerError) as exc:
        answers(day, red_flags=flags)
    assert exc.value.field == "red_flags"


@pytest.mark.parametrize(("key", "day"), [("stroke-signs", 2), ("cold-foot-severe-pain", 14)])
def test_an_unanswered_question_on_its_last_day_is_refused(key, day):
    asked = asked_on(day)
    flags = {f.key: "no" for f in asked if f.key != key}
    with pytest.raises(AnswerError) as exc:
        answers(day, red_flags=flags)
    assert exc.value.field == f"rf-{key}"


def test_emergency_outranks_same_day_and_every_reason_is_kept_in_order():
    a, asked = answers(1, yes={"stroke-signs", "infection"}, skin=["sore", "pale"], pain=8)
    result = triage(a, asked, RULES)
    assert result.level == "emergency"
    assert result.reasons == (
        title("stroke-signs"),
        title("infection"),
        "Skin turning white or grey",
        "An open sore",
        "Pain 8 out of 10",
    )


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@pytest.mark.parametrize(
    ("key", "day", "level"),
    [
        ("stroke-signs", 2, "emergency"),
        ("skin-breakdown", 14, "same_day"),
        ("cold-foot-severe-pain", 14, "same_day"),
        ("infection", 1, "same_day"),
        ("routine-changes", 180, "routine"),
    ],
)
def test_every_protocol_triages_the_same_at_the_edges(protocol, key, day, level):
    a, asked = answers(day, yes={key}, protocol=protocol)
    assert triage(a, asked, PROTOCOLS[protocol].answer_rules).level == level
