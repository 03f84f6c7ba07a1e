"""The day's check-in question set (issue 19 point 3): each warning sign asked once.

* On day 3 each shipped protocol asks exactly the set written down here: the warning
  signs of the day that no fixed question covers, and the fixed questions in their
  windows; skin breakdown and the routine catch-all are not asked a second time.
* Safety (HAZ-01): on every day of every shipped protocol, every red flag in its window
  is asked, on its own or through fixed questions all asked that day whose answer rules
  reach its tier; the required warning signs are always asked on their own.
* A covered warning sign answered from a page kept before the change still counts at
  its tier, and is never required.
* ``covers`` is checked like every other field: unknown key, required sign, a tier the
  question cannot reach.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.domain.checkin import SKIN_BOTH_MESSAGE
from app.domain.checkin import SKIN_MESSAGE
from app.domain.checkin import AnswerError
from app.domain.checkin import check_answers
from app.domain.checkin import triage
from app.domain.checkin_day import day_questions
from app.domain.protocol import parse_protocol
from app.domain.protocol.model import TIERS
from app.domain.protocol.requirements import REQUIRED_FLAGS
from tests.domain.test_protocol_triage_data import LONDON
from tests.domain.test_protocol_triage_data import P72
from tests.domain.test_protocol_triage_data import SHIPPED
from tests.domain.test_protocol_triage_data import TREATED
from tests.domain.test_protocol_triage_data import edit
from tests.domain.test_protocol_triage_data import problems

PROTOCOLS = {name: parse_protocol(text, name) for name, text in SHIPPED.items()}
DAY3_FLAGS = ["chest-breathing", "calf-pain-swelling", "cold-foot-severe-pain", "infection"]
DAY3_FIXED = {
    "compression-72h": {"stockings_day", "stockings_night"},
    "compression-24h": {"stockings_day"},
    "compression-none": set(),
}
BASE = {"pain", "bruising", "skin", "lumps", "itching"}


def on_day(protocol, day: int):
    on = TREATED.astimezone(LONDON).date() + timedelta(days=day)
    return day_questions(protocol, TREATED, LONDON, on)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_day_three_asks_each_warning_sign_once(name):
    day = on_day(PROTOCOLS[name], 3)
    assert [f.key for f in day.red_flags] == DAY3_FLAGS
    assert {f.key for f in day.covered} == {"skin-breakdown", "routine-changes"}
    assert day.fixed == BASE | DAY3_FIXED[name]
    assert not {"walked", "elevated"} & day.fixed  # Today's tasks, not asked again
    # Both stockings questions are asked as one, so they count once.
    assert day.count == len(DAY3_FLAGS) + len(BASE) + (1 if DAY3_FIXED[name] else 0)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_every_flag_in_its_window_is_asked_on_its_own_or_at_its_tier(name):
    protocol = PROTOCOLS[name]
    for day_number in range(0, 182):
        day = on_day(protocol, day_number)
        for flag in day.covered:
            assert flag.kind is None, (day_number, flag.key)
            by = [q for q in protocol.questions if flag.key in q.covers]
            assert by, (day_number, flag.key)
            for q in by:
                assert q.key in day.fixed, (day_number, flag.key, q.key)
                tiers = [TIERS.index(r.tier) for r in protocol.answer_rules if r.answer == q.key]
                assert min(tiers) <= TIERS.index(flag.tier), (day_number, flag.key, q.key)
        asked = {f.key for f in day.red_flags}
        assert not asked & {f.key for f in day.covered}


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@pytest.mark.parametrize("need", REQUIRED_FLAGS, ids=lambda r: r.kind)
def test_required_warning_signs_are_always_asked_on_their_own(name, need):
    protocol = PROTOCOLS[name]
    for day_number in range(need.first_day, need.last_day + 1):
        kinds = {f.kind for f in on_day(protocol, day_number).red_flags}
        assert need.kind in kinds, day_number


def test_a_flag_is_asked_on_its_own_on_days_a_covering_question_is_not_asked():
    # Lumps asked only while the walking task runs (to day 14): from day 15 the routine
    # changes it helped cover are asked as their own question again.
    text = edit(
        P72, '[[question]]\nkey = "lumps"\n', '[[question]]\nkey = "lumps"\nduring = ["walks"]\n'
    )
    protocol = parse_protocol(text, "edited")
    assert "routine-changes" in {f.key for f in on_day(protocol, 14).covered}
    assert "routine-changes" in {f.key for f in on_day(protocol, 15).red_flags}


def test_the_skin_list_gives_skin_breakdown_its_same_day_tier():
    day = on_day(PROTOCOLS["compression-72h"], 3)
    answers = check_answers(
        pain=1,
        bruising="none",
        itching=None,
        lumps=None,
        skin=["blister"],
        stockings_day=None,
        stockings_night=None,
        walked=None,
        elevated=None,
        note="",
        red_flags={f.key: "no" for f in day.red_flags},
        asked=day.red_flags,
        covered=day.covered,
    )
    result = triage(answers, day.in_window, PROTOCOLS["compression-72h"].answer_rules)
    assert (result.level, result.reasons) == ("same_day", ("A blister",))


def test_a_covered_sign_answered_from_a_kept_page_counts_and_is_never_required():
    day = on_day(PROTOCOLS["compression-72h"], 3)
    rules = PROTOCOLS["compression-72h"].answer_rules
    base = dict(
        pain=1,
        bruising="none",
        itching=None,
        lumps=None,
        skin=[],
        stockings_day=None,
        stockings_night=None,
        walked=None,
        elevated=None,
        note="",
    )
    shown = {f.key: "no" for f in day.red_flags}
    # Not required: no error for the covered ones.
    plain = check_answers(**base, red_flags=shown, asked=day.red_flags, covered=day.covered)
    assert plain.red_flags == frozenset() and plain.red_flags_no == frozenset(DAY3_FLAGS)
    # Answered yes on an older page: stored and triaged at the flag's tier.
    kept = check_answers(
        **base,
        red_flags=shown | {"skin-breakdown": "yes"},
        asked=day.red_flags,
        covered=day.covered,
    )
    assert kept.red_flags == {"skin-breakdown"}
    assert triage(kept, day.in_window, rules).level == "same_day"


def _skin_answers(day, skin, red_flags=None):
    """Day answers with every own warning sign "no" and the given skin list."""
    return check_answers(
        pain=1,
        bruising="none",
        itching=None,
        lumps=None,
        skin=skin,
        stockings_day=None,
        stockings_night=None,
        walked=None,
        elevated=None,
        note="",
        red_flags={f.key: "no" for f in day.red_flags} | (red_flags or {}),
        asked=day.red_flags,
        covered=day.covered,
        skin_covers=day.skin_covers,
    )


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_nothing_ticked_in_the_skin_list_is_no_answer_to_skin_breakdown(name):
    # The skin list asks the same-day skin-breakdown sign (covers): nothing ticked must
    # not pass as "no" (control C2), so the list needs a tick or "No skin changes".
    day = on_day(PROTOCOLS[name], 3)
    assert {f.key for f in day.skin_covers} == {"skin-breakdown", "routine-changes"}
    with pytest.raises(AnswerError) as refused:
        _skin_answers(day, [])
    assert refused.value.errors == {"skin": SKIN_MESSAGE}
    said_none = _skin_answers(day, ["none"])
    assert said_none.skin == frozenset()  # "none" itself is not a skin change
    assert said_none.as_dict()["skin"] == [] and said_none.as_dict()["skin_none"] is True
    with pytest.raises(AnswerError) as both:
        _skin_answers(day, ["none", "blister"])
    assert both.value.errors == {"skin": SKIN_BOTH_MESSAGE}


def test_a_kept_page_answering_each_skin_sign_on_its_own_needs_no_skin_tick():
    # A page kept on a phone from before the skin list covered them asked each sign as
    # its own yes/no: those explicit answers are the answer, so nothing is refused.
    day = on_day(PROTOCOLS["compression-72h"], 3)
    both = {"skin-breakdown": "no", "routine-changes": "no"}
    assert _skin_answers(day, [], both).red_flags_no >= {"skin-breakdown", "routine-changes"}
    with pytest.raises(AnswerError):
        _skin_answers(day, [], {"skin-breakdown": "no"})  # routine changes still unasked


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'covers = ["skin-breakdown", "routine-changes"]',
            'covers = ["no-such-flag"]',
            "no [[red_flag]] has the key 'no-such-flag'",
        ),
        (
            'covers = ["skin-breakdown", "routine-changes"]',
            'covers = ["calf-pain-swelling"]',
            "red flag 'calf-pain-swelling' is a required warning sign",
        ),
        (
            'covers = ["skin-breakdown", "routine-changes"]',
            'covers = "skin-breakdown"',
            "must be a list of red flag keys",
        ),
    ],
)
def test_bad_covers_are_refused_precisely(old, new, message):
    # The refused question also leaves its answer rules without a question: those
    # problems are reported too; the one about ``covers`` names the item and field.
    found = [p for p in problems(edit(P72, old, new)) if p.field == "covers"]
    assert [(p.item, p.field) for p in found] == [("question 'skin'", "covers")]
    assert message in found[0].message


def test_a_question_cannot_cover_a_flag_above_its_own_tier():
    # Lumps reach only "routine": covering the same-day infection sign would weaken it.
    text = edit(
        P72,
        'key = "lumps"\ncovers = ["routine-changes"]',
        'key = "lumps"\ncovers = ["infection"]',
    )
    (problem,) = problems(text)
    assert (problem.item, problem.field) == ("question 'lumps'", "covers")
    assert "reaches tier 'same_day' of red flag 'infection'" in problem.message
    assert problem.line == text.splitlines().index('key = "lumps"')
