"""Check-in questions by day and red-flag triage, rule by rule and at window edges."""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.domain.checkin import AnswerError
from app.domain.checkin import check_answers
from app.domain.checkin import questions_for_day
from app.domain.checkin import triage
from app.domain.checkin import warning_answers
from app.domain.protocol import parse_protocol

PROTOCOLS = Path(__file__).resolve().parents[2] / "app" / "protocols"
P72 = parse_protocol((PROTOCOLS / "compression-72h.toml").read_text(), "72h")
LONDON = ZoneInfo("Europe/London")
TREATED = datetime(2026, 11, 20, 10, 0, tzinfo=LONDON)


def asked_on(day: int):
    return questions_for_day(P72, TREATED, LONDON, (TREATED + timedelta(days=day)).date())


def answered(asked, *, yes=(), **overrides):
    """Benign answers (pain 2, mild bruising: no reason of their own) to ``asked``, "yes"
    to the warning signs in ``yes``; checked as the service checks them."""
    base = dict(
        pain=2,
        bruising="mild",
        itching=False,
        lumps=False,
        skin=[],
        stockings_day=True,
        stockings_night=False,
        walked=True,
        elevated=True,
        note="",
        red_flags={f.key: ("yes" if f.key in yes else "no") for f in asked},
    )
    base.update(overrides)
    return check_answers(**base, asked=asked), asked


def answers(day: int = 5, *, yes=(), **overrides):
    return answered(asked_on(day), yes=yes, **overrides)


@pytest.mark.parametrize(
    ("day", "included", "excluded"),
    [
        (
            0,
            {"allergy", "stroke-signs", "chest-breathing", "cold-foot-severe-pain"},
            {"calf-pain-swelling", "skin-breakdown"},
        ),
        (1, {"allergy", "stroke-signs", "skin-breakdown", "infection"}, {"calf-pain-swelling"}),
        (2, {"allergy", "skin-breakdown"}, {"calf-pain-swelling"}),
        (3, {"calf-pain-swelling", "skin-breakdown"}, {"allergy", "stroke-signs"}),
        (14, {"calf-pain-swelling", "skin-breakdown"}, set()),
        (15, {"calf-pain-swelling"}, {"skin-breakdown", "infection"}),
        (28, {"calf-pain-swelling", "chest-breathing"}, set()),
        (29, set(), {"calf-pain-swelling", "chest-breathing"}),
    ],
)
def test_red_flag_questions_follow_the_risk_windows(day, included, excluded):
    keys = {f.key for f in asked_on(day)}
    assert included <= keys, keys
    assert not (excluded & keys), keys


@pytest.mark.parametrize(
    ("yes", "level"),
    [
        ({"chest-breathing"}, "emergency"),
        ({"calf-pain-swelling"}, "same_day"),
        ({"calf-pain-swelling", "chest-breathing"}, "emergency"),
        ({"routine-changes"}, "routine"),
        ((), "none"),
    ],
)
def test_red_flag_answers_take_their_tier(yes, level):
    a, asked = answers(5, yes=yes)
    result = triage(a, asked, P72.answer_rules)
    assert result.level == level
    assert result.alerts_clinic == (level in ("emergency", "same_day"))


def test_allergy_on_day_zero_is_an_emergency():
    a, asked = answers(0, yes={"allergy"})
    assert triage(a, asked, P72.answer_rules).level == "emergency"


@pytest.mark.parametrize(
    ("overrides", "level", "reason"),
    [
        ({"skin": ["blister"]}, "same_day", "A blister"),
        ({"skin": ["black"]}, "same_day", "Skin turning black"),
        ({"skin": ["pale"]}, "same_day", "Skin turning white or grey"),
        ({"skin": ["brown"]}, "routine", "Brown marks or lines"),
        ({"skin": ["red-vessels"]}, "routine", "New fine red vessels"),
        ({"pain": 8}, "same_day", "Pain 8 out of 10"),
        ({"pain": 7}, "routine", "Pain 7 out of 10"),
        ({"pain": 4}, "none", None),
        ({"lumps": True}, "routine", "Tender lumps"),
        ({"bruising": "severe"}, "routine", "Severe bruising"),
        ({"bruising": "mild"}, "none", None),
        ({"itching": True}, "routine", "Itching"),
    ],
)
def test_fixed_question_rules(overrides, level, reason):
    a, asked = answers(20, **overrides)
    result = triage(a, asked, P72.answer_rules)
    assert result.level == level
    if reason:
        assert reason in result.reasons
    else:
        assert result.reasons == ()


def test_the_most_severe_answer_wins_and_all_reasons_are_kept():
    a, asked = answers(5, yes={"calf-pain-swelling"}, skin=["brown"], pain=9, itching=True)
    result = triage(a, asked, P72.answer_rules)
    assert result.level == "same_day"
    assert {"Brown marks or lines", "Pain 9 out of 10", "Itching"} <= set(result.reasons)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"pain": 11}, "pain"),
        ({"pain": -1}, "pain"),
        ({"pain": "lots"}, "pain"),
        ({"bruising": "purple"}, "bruising"),
        ({"skin": ["scales"]}, "skin"),
        ({"note": "x" * 2001}, "note"),
    ],
)
def test_out_of_range_answers_name_the_field(overrides, field):
    with pytest.raises(AnswerError) as exc:
        answers(5, **overrides)
    assert exc.value.field == field


def test_every_warning_sign_question_must_be_answered():
    asked = asked_on(5)
    partial = {f.key: "no" for f in asked[1:]}
    with pytest.raises(AnswerError) as exc:
        check_answers(
            pain=1,
            bruising="none",
            itching=False,
            lumps=False,
            skin=[],
            stockings_day=None,
            stockings_night=None,
            walked=True,
            elevated=True,
            note="",
            red_flags=partial,
            asked=asked,
        )
    assert exc.value.field == f"rf-{asked[0].key}"


def test_a_yes_to_a_question_not_asked_today_is_refused():
    asked = asked_on(20)
    flags = {f.key: "no" for f in asked} | {"allergy": "yes"}
    with pytest.raises(AnswerError):
        check_answers(
            pain=1,
            bruising="none",
            itching=False,
            lumps=False,
            skin=[],
            stockings_day=None,
            stockings_night=None,
            walked=True,
            elevated=True,
            note="",
            red_flags=flags,
            asked=asked,
        )


def test_every_problem_is_reported_at_once_in_form_order():
    asked = asked_on(5)
    with pytest.raises(AnswerError) as exc:
        check_answers(
            pain="",
            bruising="",
            itching=None,
            lumps=None,
            skin=["scales"],
            stockings_day=None,
            stockings_night=None,
            walked=None,
            elevated=None,
            note="x" * 2001,
            red_flags={},
            asked=asked,
        )
    fields = [f"rf-{f.key}" for f in asked] + ["pain", "bruising", "skin", "note"]
    assert list(exc.value.errors) == fields
    assert exc.value.field == fields[0]  # the first, for callers that want one


@pytest.mark.parametrize("skipped", [None, "", "maybe", "No"])
def test_an_optional_question_left_out_is_not_answered_never_no(skipped):
    a, asked = answers(
        5, itching=skipped, lumps=skipped, walked=skipped, elevated=skipped, stockings_day=None
    )
    assert (a.itching, a.lumps, a.walked, a.elevated, a.stockings_day) == (None,) * 5
    stored = a.as_dict()
    assert all(stored[k] is None for k in ("itching", "lumps", "walked", "elevated"))
    # Not reported: no reason of its own, and no reassurance either (the tier stays
    # what the answered questions give).
    assert triage(a, asked, P72.answer_rules).reasons == ()


def test_yes_and_no_answers_are_kept_apart_from_not_answered():
    a, asked = answers(5, yes={"calf-pain-swelling"}, itching="yes", lumps="no")
    assert (a.itching, a.lumps) == (True, False)
    assert a.red_flags == {"calf-pain-swelling"}
    assert a.red_flags_no == {f.key for f in asked} - {"calf-pain-swelling"}
    assert "Itching" in triage(a, asked, P72.answer_rules).reasons


def test_stored_warning_sign_answers_read_back_as_given():
    asked = asked_on(5)
    keys = [f.key for f in asked]
    assert warning_answers({}, asked) == dict.fromkeys(keys)  # nothing stored yet
    new = {"red_flags": [keys[0]], "red_flags_no": keys[1:]}
    assert warning_answers(new, asked) == {k: "yes" if k == keys[0] else "no" for k in keys}
    # Stored before "no" answers were kept: every question shown had to be answered.
    old = {"red_flags": [keys[1]]}
    assert warning_answers(old, asked) == {k: "yes" if k == keys[1] else "no" for k in keys}
