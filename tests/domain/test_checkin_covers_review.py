"""Covers that cannot hide a warning sign, and protocol files that cannot crash the
reader (review "rvclin" of issue 19 point 3; HAZ-01, control C2).

* A question the patient may leave unanswered (lumps, itching, stockings, walks, legs
  raised) cannot stand for an emergency or same-day red flag: the flag would no longer
  be asked on its own, and a skipped answer would pass as "no".
* A red flag whose key is not text, or a stored version's answer rule without a key,
  is a problem named with its line, never a TypeError or KeyError (a traceback in
  ``flask protocols validate``, a 500 for a patient pinned to a stored version).
* The skin list takes only the changes it offered that day.
"""

from __future__ import annotations

import pytest

from app.domain.checkin import AnswerError
from app.domain.checkin import check_answers
from app.domain.protocol import ProtocolError
from app.domain.protocol import parse_protocol
from tests.domain.test_checkin_day import PROTOCOLS
from tests.domain.test_checkin_day import on_day
from tests.domain.test_protocol_triage_data import P72
from tests.domain.test_protocol_triage_data import edit
from tests.domain.test_protocol_triage_data import problems

LUMPS = 'key = "lumps"\ncovers = { routine-changes = ["lumps"] }'
LUMPS_RULE = '[[answer_rule]]\nkey = "lumps"\nanswer = "lumps"\ntier = "routine"'


def _lumps_covering_infection() -> str:
    """The 72 h protocol with lumps standing for the same-day infection sign, through a
    rule of its own that reaches the flag's tier (so only the new check refuses it)."""
    text = edit(P72, LUMPS, 'key = "lumps"\ncovers = { infection = ["lumps-urgent"] }')
    urgent = '[[answer_rule]]\nkey = "lumps-urgent"\nanswer = "lumps"\ntier = "same_day"'
    return edit(text, LUMPS_RULE, f'{urgent}\nsource = "test"\n\n{LUMPS_RULE}')


def test_a_skippable_question_cannot_stand_for_a_same_day_flag():
    text = _lumps_covering_infection()
    (problem,) = problems(text)
    assert (problem.item, problem.field) == ("question 'lumps'", "covers")
    assert "'lumps' may be left unanswered" in problem.message
    assert "red flag 'infection'" in problem.message
    line = 'covers = { infection = ["lumps-urgent"] }'
    assert problem.line == text.splitlines().index(line) + 1


def test_a_skippable_question_may_still_tell_a_routine_change():
    # The shipped protocols tell the routine changes through lumps and itching.
    assert parse_protocol(P72).questions


def test_a_stored_version_with_such_a_cover_still_loads():
    # A patient is pinned to a stored version: a check added since must not refuse it.
    assert parse_protocol(_lumps_covering_infection(), stored=True).questions


FLAG = '[[red_flag]]\nkey = "infection"'


@pytest.mark.parametrize("stored", [False, True])
def test_a_red_flag_key_that_is_not_text_is_a_problem_with_its_line(stored):
    text = edit(P72, FLAG, '[[red_flag]]\nkey = ["infection"]')
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, "clinic.toml", stored=stored)
    found = [p for p in info.value.problems if p.field == "key" and "red_flag" in p.item]
    assert found and found[0].line == text.splitlines().index('key = ["infection"]')


def test_a_stored_version_with_a_rule_missing_its_key_is_refused_not_crashed():
    skin = P72.split('[[question]]\nkey = "skin"\n')[1].split("\n")[0]
    assert skin.startswith("covers = {")
    text = edit(P72, skin, 'covers = ["skin-breakdown", "routine-changes"]')
    text = edit(text, '[[answer_rule]]\nkey = "skin-marks"', "[[answer_rule]]\nname = 1")
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, "version 7", stored=True)
    assert all(p.line for p in info.value.problems)


def _skin(day, ticked):
    return check_answers(
        pain=0,
        bruising="none",
        itching=None,
        lumps=None,
        skin=ticked,
        stockings_day=None,
        stockings_night=None,
        walked=None,
        elevated=None,
        note="",
        red_flags={f.key: "no" for f in day.red_flags},
        asked=day.red_flags,
        covered=day.covered,
        skin_covers=day.skin_covers,
        skin_choices=day.skin_choices,
    )


@pytest.mark.parametrize(("name", "day_number"), [("compression-none", 3), ("compression-72h", 30)])
def test_a_skin_change_the_page_did_not_offer_that_day_is_refused(name, day_number):
    day = on_day(PROTOCOLS[name], day_number)
    assert "stocking-rubs" not in day.skin_choices
    with pytest.raises(AnswerError) as info:
        _skin(day, ["stocking-rubs"])
    assert info.value.errors == {"skin": "Choose skin changes from the list."}


def test_a_skin_change_offered_that_day_is_taken():
    day = on_day(PROTOCOLS["compression-72h"], 3)
    assert _skin(day, ["stocking-rubs"]).skin == {"stocking-rubs"}


@pytest.mark.parametrize("key", ["pain", "bruising", "skin"])
def test_a_required_question_cannot_be_limited_to_some_days(key):
    # The page always shows pain, bruising and the skin list, and the check-in always
    # needs them: with a window, the day's question count and the skin list's choices
    # (none at all outside it) would disagree with the page.
    start = P72.index(f'[[question]]\nkey = "{key}"\n')
    head = f'[[question]]\nkey = "{key}"\n'
    text = P72[:start] + head + 'during = ["walks"]\n' + P72[start + len(head) :]
    (problem,) = problems(text)
    assert (problem.item, problem.field) == (f"question '{key}'", "during")
    assert problem.message == f"'{key}' is asked every day; remove it"
    assert problem.line == text.count("\n", 0, start) + 1


def test_a_stored_version_with_a_window_on_a_required_question_still_loads():
    head = '[[question]]\nkey = "pain"\n'
    text = P72.replace(head, head + 'during = ["walks"]\n')
    assert parse_protocol(text, stored=True).questions


@pytest.mark.parametrize("stored", [False, True])
@pytest.mark.parametrize("value", ["1.5", "7", "true"])
def test_choices_that_are_not_a_list_on_a_rule_without_choices_is_a_problem(value, stored):
    # Found by fuzzing the rules: ``choices = 1.5`` on the itching rule was a TypeError.
    old = '[[answer_rule]]\nkey = "itching"\nanswer = "itching"\n'
    text = edit(P72, old, f"{old}choices = {value}\n")
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, "clinic.toml", stored=stored)
    (problem,) = info.value.problems
    assert (problem.item, problem.field) == ("answer_rule 'itching'", "choices")
    assert problem.line == text.count("\n", 0, text.index(old)) + 1
