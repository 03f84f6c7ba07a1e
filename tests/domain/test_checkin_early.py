"""The triage of a refused check-in's readable answers (issue 19 point 3).

Warning-sign "yes" answers of the day and each valid fixed answer are triaged by the
protocol's rules; a missing or invalid answer's rules are left out, never guessed.
"""

from __future__ import annotations

from app.domain.checkin_early import early_triage
from tests.domain.test_checkin_day import PROTOCOLS
from tests.domain.test_checkin_day import on_day

P72 = PROTOCOLS["compression-72h"]
DAY3 = on_day(P72, 3)


def _early(**raw):
    return early_triage(raw, DAY3.in_window, P72.answer_rules)


def test_a_warning_sign_yes_is_triaged_whatever_else_is_missing():
    result = _early(red_flags={"calf-pain-swelling": "yes"}, pain="", bruising=None)
    assert result.level == "same_day" and result.alerts_clinic
    assert result.reasons[0].startswith("Pain, swelling, warmth")
    assert _early(red_flags={"chest-breathing": "yes"}).level == "emergency"


def test_a_covered_sign_through_its_rule_and_a_valid_pain_score_count():
    assert _early(skin=["sore"], pain="").reasons == ("An open sore",)
    assert _early(pain="9", bruising="").level == "same_day"


def test_missing_invalid_and_unshown_answers_reach_nothing():
    assert _early(pain="", bruising="").level == "none"
    assert _early(pain="11").level == "none"  # no score, not a severe one
    assert _early(pain="ten").level == "none"
    assert _early(skin=["no-such-change"]).level == "none"
    # Allergy is not asked on day 3: its "yes" is not the day's, so not triaged here.
    assert _early(red_flags={"allergy": "yes"}).level == "none"
    assert _early(red_flags="chest-breathing").level == "none"
    # A list of "yes" keys (as stored) reads like the mapping.
    assert _early(red_flags=["chest-breathing"]).level == "emergency"


def test_routine_answers_do_not_alert():
    result = _early(lumps="yes", itching=True, bruising="severe", pain="")
    assert result.level == "routine" and not result.alerts_clinic
