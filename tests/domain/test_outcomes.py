"""Pure outcome rules (issue 19 points 6 and 7): when a rating is due, checking ratings and
scores, medians from counts, stocking wear (not answered is never "not worn"), which
answers count as complications, and CSV cells a spreadsheet will not run."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain import outcomes as rules
from app.domain.protocol.parse import parse_protocol

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)  # 10:00 in London
PROTOCOLS = Path(__file__).resolve().parents[2] / "app" / "protocols"


def _protocol(key: str):
    return parse_protocol((PROTOCOLS / f"{key}.toml").read_text(), key)


def test_the_rating_is_due_six_weeks_on_or_the_day_before_the_next_session_if_sooner():
    assert rules.rating_due_at(T0, None, LONDON) == T0 + timedelta(weeks=6)
    soon = T0 + timedelta(weeks=4)  # 29 October, 09:00 UTC
    # From the start of the London day before it (28 October, GMT again since the 25th).
    assert rules.rating_due_at(T0, soon, LONDON) == datetime(2026, 10, 28, 0, 0, tzinfo=UTC)
    assert rules.rating_due_at(T0, T0 + timedelta(weeks=10), LONDON) == T0 + timedelta(weeks=6)
    # A "next" session at or before this one is not the next one.
    assert rules.rating_due_at(T0, T0 - timedelta(days=1), LONDON) == T0 + timedelta(weeks=6)


def test_the_patient_can_rate_before_being_re_treated_across_dst_and_zones():
    # Once due at the next appointment itself, the patient was asked only when in the
    # chair, and never before re-treatment when treated a little early.
    nxt = datetime(2026, 10, 26, 9, 0, tzinfo=UTC)  # Monday 09:00 GMT, the day after
    due = rules.rating_due_at(T0, nxt, LONDON)  # the clocks go back (25 October)
    # London's midnight of the 25th is still summer time (clocks go back at 02:00).
    assert due == datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    assert due.astimezone(LONDON).hour == 0 and due < nxt - timedelta(hours=24)
    # The local day is the patient's own: 03:00 UTC on the 26th is still the 25th in
    # Los Angeles, so the day before is the 24th there.
    la = ZoneInfo("America/Los_Angeles")
    due = rules.rating_due_at(T0, datetime(2026, 10, 26, 3, 0, tzinfo=UTC), la)
    assert due == datetime(2026, 10, 24, 7, 0, tzinfo=UTC)
    # A next session booked the day after: due no earlier than the session itself.
    assert rules.rating_due_at(T0, T0 + timedelta(hours=20), LONDON) == T0


def test_the_rating_is_open_for_six_months_and_changeable_for_four_weeks():
    due = T0 + timedelta(weeks=6)
    assert not rules.rating_open(due, due - timedelta(seconds=1))
    assert rules.rating_open(due, due)
    assert not rules.rating_open(due, due + timedelta(days=183))
    assert rules.rating_editable(due, due + timedelta(days=27))
    assert not rules.rating_editable(due, due + timedelta(days=28))


def test_check_rating_accepts_plain_form_values():
    r = rules.check_rating("70", "4", ["pigmentation", "matting"])
    assert r == rules.Rating(70, 4, ("matting", "pigmentation"))
    assert rules.check_rating(0, 1, ["none"]).side_effects == ()


@pytest.mark.parametrize(
    ("improvement", "satisfaction", "effects", "field"),
    [
        ("-1", "3", ["none"], "improvement"),
        ("101", "3", ["none"], "improvement"),
        (True, "3", ["none"], "improvement"),
        ("9" * 20, "3", ["none"], "improvement"),
        ("50", "0", ["none"], "satisfaction"),
        ("50", "x", ["none"], "satisfaction"),
        ("50", "3", [], "side_effects"),
        ("50", "3", ["none", "matting"], "side_effects"),
        ("50", "3", ["bruising"], "side_effects"),
    ],
)
def test_check_rating_refuses_bad_values(improvement, satisfaction, effects, field):
    with pytest.raises(rules.OutcomeError) as caught:
        rules.check_rating(improvement, satisfaction, effects)
    assert caught.value.field == field


def test_check_clearance_takes_0_to_4_only():
    assert [rules.check_clearance(str(n)) for n in range(5)] == [0, 1, 2, 3, 4]
    for bad in ("5", "-1", "", None, "2.5"):
        with pytest.raises(rules.OutcomeError):
            rules.check_clearance(bad)


def test_median_from_counts():
    assert rules.median_from_counts({}) is None
    assert rules.median_from_counts({50: 1}) == 50
    assert rules.median_from_counts({10: 1, 90: 1}) == 50
    assert rules.median_from_counts({0: 3, 100: 1}) == 0
    assert rules.median_from_counts({20: 2, 60: 2, 80: 1}) == 60


def test_wear_counts_only_yes_and_no_and_leaves_the_rest_not_reported():
    protocol = _protocol("compression-72h")
    required = rules.required_wear(protocol, T0, LONDON)
    day0 = T0.date()
    # 72 h day and night from 10:00 (days 0-3 at night), daytime until day 10.
    assert required[day0] == {"stockings_day", "stockings_night"}
    assert required[day0 + timedelta(days=3)] == {"stockings_day", "stockings_night"}
    assert required[day0 + timedelta(days=4)] == {"stockings_day"}
    assert max(required) == day0 + timedelta(days=10)
    # Day 0 worn by day, not at night; day 1 both left unanswered (counted in neither).
    wear = rules.wear_of(required, 1, 1)
    assert (wear.required, wear.worn, wear.not_worn, wear.unknown) == (15, 1, 1, 13)
    assert wear.share == 0.5
    assert rules.wear_of(required, 0, 0).share is None


def test_a_protocol_without_stockings_has_no_wear_to_report():
    protocol = _protocol("compression-none")
    assert not rules.is_compression(protocol)
    assert rules.required_wear(protocol, T0, LONDON) == {}
    assert rules.is_compression(_protocol("compression-24h"))


def test_complications_from_stored_answers():
    clot = rules.clot_flag_keys(_protocol("compression-72h"))
    assert clot == {"calf-pain-swelling", "chest-breathing"}
    assert rules.complications({"bruising": "severe"}, 2, clot) == {"bruising"}
    assert rules.complications({"bruising": "moderate"}, 10, clot) == set()
    assert rules.complications({"bruising": "moderate"}, 28, clot) == {"bruising"}
    assert rules.complications({"skin": ["brown"]}, 20, clot) == {"pigmentation"}
    assert rules.complications({"skin": ["red-vessels"]}, 20, clot) == {"matting"}
    assert rules.complications({"skin": ["black"]}, 5, clot) == {"skin_breakdown"}
    assert rules.complications({"red_flags": ["chest-breathing"]}, 9, clot) == {"dvt"}
    assert rules.complications({"red_flags": ["allergy"]}, 0, clot) == set()
    assert rules.complications({"skin": "brown", "red_flags": None}, 5, clot) == set()


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("Polidocanol", "Polidocanol"),
        (None, ""),
        (3, "3"),
    ],
)
def test_csv_cells_are_never_formulas(cell, safe):
    assert rules.csv_safe(cell) == safe


@pytest.mark.parametrize("raw", ["²", "--5", "٣", "-", "1_0", "+3", "0x3"])
def test_odd_digits_in_a_score_get_a_message_not_a_crash(raw):
    # "²".isdigit() and "--5" once reached int() and raised a bare ValueError (a 500).
    with pytest.raises(rules.OutcomeError):
        rules.check_clearance(raw)
    with pytest.raises(rules.OutcomeError):
        rules.check_rating(raw, "3", ["none"])


@given(st.text(max_size=12), st.text(max_size=12), st.lists(st.text(max_size=12), max_size=4))
def test_any_text_in_a_rating_is_accepted_or_gets_a_message(improvement, satisfaction, effects):
    try:
        rules.check_rating(improvement, satisfaction, effects)
    except rules.OutcomeError:
        pass
    try:
        rules.check_clearance(improvement)
    except rules.OutcomeError:
        pass


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    ),
    st.integers(-5, 400),
)
def test_complications_of_any_stored_answers_never_raise(value, day):
    # The check-in service recomputes the session's row in its own transaction: an odd
    # stored answer (a nested list in "skin" once raised TypeError) must not fail it.
    for key in ("skin", "bruising", "red_flags"):
        found = rules.complications({key: value}, day, {"calf-pain-swelling"})
        assert found <= set(rules.COMPLICATIONS)
    assert rules.complications({"skin": [["brown"], "red-vessels"]}, 3, set()) == {"matting"}


def test_an_alert_counts_for_a_clot_sign_or_skin_breakdown_by_its_reasons():
    protocol = _protocol("compression-72h")
    titles = rules.clot_flag_titles(protocol)
    calf = next(f.title for f in protocol.red_flags if f.kind == "calf")
    assert rules.alert_complications([calf], titles) == {"dvt"}
    assert rules.alert_complications(["An open sore", "Pain 9 out of 10"], titles) == {
        "skin_breakdown"
    }
    assert rules.alert_complications(["Pain 9 out of 10", "Brown marks or lines"], titles) == set()
    # Stored JSON of any age: never a crash.
    for odd in (None, "calf", {"a": 1}, [None, 3, ["x"]]):
        assert rules.alert_complications(odd, titles) == set()
