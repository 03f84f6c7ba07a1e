"""The two stockings questions asked as one (issue 19 point 3, domain.checkin_day).

* Each of the four choices stands for exactly one pair of daytime and night answers,
  stored as before; no choice is no answer to either, never "no".
* Without a choice the two answers sent on their own (a page kept on a phone, the
  offline queue) are taken as sent.
* The stored pair shows as its choice again; a half-answered pair shows no choice.
* The page counts the pair as one question only on days both are asked.
"""

from __future__ import annotations

import pytest

from app.domain.checkin import check_answers
from app.domain.checkin_day import fixed_count
from app.domain.checkin_day import stockings_answers
from app.domain.checkin_day import stockings_choice
from app.domain.checkin_day import stockings_together

PAIRS = {
    "both": (True, True),
    "day": (True, False),
    "night": (False, True),
    "none": (False, False),
}


def stored(day: object, night: object):
    return check_answers(
        pain="1",
        bruising="none",
        itching=None,
        lumps=None,
        skin=["none"],
        stockings_day=day,
        stockings_night=night,
        walked=None,
        elevated=None,
        note="",
        red_flags={},
        asked=[],
    )


@pytest.mark.parametrize(("choice", "pair"), PAIRS.items())
def test_each_choice_is_stored_as_its_two_answers(choice, pair):
    day, night = stockings_answers(choice, None, None)
    answers = stored(day, night)
    assert (answers.stockings_day, answers.stockings_night) == pair
    assert stockings_choice(answers.stockings_day, answers.stockings_night) == choice
    assert stockings_choice(day, night) == choice  # as sent back after an error


@pytest.mark.parametrize("choice", [None, "", "maybe", "yes", ["both"]])
def test_no_choice_is_no_answer_never_no(choice):
    day, night = stockings_answers(choice, None, None)
    answers = stored(day, night)
    assert answers.stockings_day is None and answers.stockings_night is None


def test_answers_sent_on_their_own_from_a_kept_page_are_taken_as_sent():
    assert stockings_answers(None, "yes", "no") == ("yes", "no")
    assert stockings_answers(None, "no", None) == ("no", None)
    # The one question, when answered, is what the page asked.
    assert stockings_answers("night", None, None) == ("no", "yes")


@pytest.mark.parametrize(("day", "night"), [(True, None), (None, False), (None, None)])
def test_a_half_answered_pair_shows_no_choice(day, night):
    assert stockings_choice(day, night) is None


def test_the_pair_counts_as_one_question_only_when_both_are_asked():
    both = frozenset({"pain", "stockings_day", "stockings_night"})
    assert stockings_together(both) and fixed_count(both) == 2
    day_only = frozenset({"pain", "stockings_day"})
    assert not stockings_together(day_only) and fixed_count(day_only) == 2
