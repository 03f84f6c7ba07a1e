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


def _asked_rules(protocol, day, flag):
    """The answer rules that ask ``flag`` on ``day``: named by a cover of a question
    asked that day, and (for the skin list) with a choice the list offers that day."""
    rules = {r.key: r for r in protocol.answer_rules}
    found = []
    for q in protocol.questions:
        for cover in q.covers:
            if cover.flag != flag.key or q.key not in day.fixed:
                continue
            for name in cover.rules:
                rule = rules[name]
                if rule.answer != "skin" or set(rule.choices) & set(day.skin_choices):
                    found.append(rule)
    return found


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_every_flag_in_its_window_is_asked_on_its_own_or_at_its_tier(name):
    # The property of HAZ-01 (C1): on every day of every shipped protocol, each red flag
    # in its window is asked on its own, or through an answer rule asked that day whose
    # tier is at least the flag's, and every rule standing for it is at least that tier.
    protocol = PROTOCOLS[name]
    for day_number in range(0, 182):
        day = on_day(protocol, day_number)
        for flag in day.covered:
            assert flag.kind is None, (day_number, flag.key)
            by = [q for q in protocol.questions if flag.key in q.covered_flags]
            assert by, (day_number, flag.key)
            assert all(q.key in day.fixed for q in by), (day_number, flag.key)
            asked = _asked_rules(protocol, day, flag)
            assert asked, (day_number, flag.key)
            for rule in asked:
                assert TIERS.index(rule.tier) <= TIERS.index(flag.tier), (day_number, rule.key)
        assert not {f.key for f in day.red_flags} & {f.key for f in day.covered}


def _answers_reaching(rule, day):
    """A day's answers, every own warning sign "no", that set off ``rule`` alone."""
    raw = dict(pain=0, bruising="none", itching=None, lumps=None, skin=["none"])
    if rule.answer == "pain":
        raw["pain"] = rule.at_least
    elif rule.answer in ("lumps", "itching"):
        raw[rule.answer] = True
    elif rule.answer == "bruising":
        raw["bruising"] = rule.choices[-1]
    else:
        raw["skin"] = [c for c in rule.choices if c in day.skin_choices][:1]
    return check_answers(
        **raw,
        stockings_day=None,
        stockings_night=None,
        walked=None,
        elevated=None,
        note="",
        red_flags={f.key: "no" for f in day.red_flags},
        asked=day.red_flags,
        covered=day.covered,
        skin_covers=day.skin_covers,
    )


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_a_yes_through_a_cover_alerts_and_advises_as_the_flag_asked_on_its_own(name):
    # The same alert tier and the same advice (the result page's advice is the tier's):
    # each rule standing for a covered flag, set off on a day it is asked, triages at
    # least at the flag's tier, and alerts the clinic whenever the flag would.
    protocol = PROTOCOLS[name]
    seen = set()
    for day_number in (0, 1, 3, 10, 14, 15, 30):
        day = on_day(protocol, day_number)
        for flag in day.covered:
            alone = triage(_yes_to(flag, day), [*day.red_flags, flag], protocol.answer_rules)
            for rule in _asked_rules(protocol, day, flag):
                result = triage(_answers_reaching(rule, day), day.in_window, protocol.answer_rules)
                assert TIERS.index(result.level) <= TIERS.index(flag.tier), (rule.key, flag.key)
                assert result.alerts_clinic >= alone.alerts_clinic, (rule.key, flag.key)
                seen.add((flag.key, rule.key))
    assert ("skin-breakdown", "skin-breakdown") in seen
    if "stockings_day" in {q.key for q in protocol.questions}:
        assert ("routine-changes", "stocking-rubs") in seen


def _yes_to(flag, day):
    """The flag asked on its own and answered "yes", nothing else to report."""
    return check_answers(
        pain=0,
        bruising="none",
        itching=None,
        lumps=None,
        skin=["none"],
        stockings_day=None,
        stockings_night=None,
        walked=None,
        elevated=None,
        note="",
        red_flags={f.key: "no" for f in day.red_flags} | {flag.key: "yes"},
        asked=[*day.red_flags, flag],
    )


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


SKIN_COVERS = (
    'covers = { skin-breakdown = ["skin-breakdown"], routine-changes = ["skin-marks", '
    '"stocking-rubs"] }'
)


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (
            'covers = { no-such-flag = ["skin-marks"] }',
            "no [[red_flag]] has the key 'no-such-flag'",
        ),
        (
            'covers = { calf-pain-swelling = ["skin-breakdown"] }',
            "red flag 'calf-pain-swelling' is a required warning sign",
        ),
        ('covers = "skin-breakdown"', "must be a table of red flag keys"),
        ('covers = ["skin-breakdown"]', "a plain list of flags is no longer enough"),
        ('covers = { skin-breakdown = "skin-breakdown" }', "'skin-breakdown' must name the"),
        ("covers = { skin-breakdown = [] }", "'skin-breakdown' must name the answer rule"),
        ("covers = { skin-breakdown = [3] }", "'skin-breakdown' must name the answer rule"),
    ],
)
def test_bad_covers_are_refused_precisely(new, message):
    # The refused question also leaves its answer rules without a question: those
    # problems are reported too; the one about ``covers`` names the item, field and line.
    text = edit(P72, SKIN_COVERS, new)
    found = [p for p in problems(text) if p.field == "covers"]
    assert [(p.item, p.field) for p in found] == [("question 'skin'", "covers")]
    assert message in found[0].message
    assert found[0].line == text.splitlines().index(new) + 1


@pytest.mark.parametrize(
    ("new", "message"),
    [
        # A rule that does not exist.
        (
            'covers = { skin-breakdown = ["skin-necrosis"] }',
            "no [[answer_rule]] has the key 'skin-necrosis' (named for red flag 'skin-breakdown')",
        ),
        # A rule about another question cannot stand for a flag the skin list covers.
        (
            'covers = { skin-breakdown = ["pain-severe"] }',
            "answer rule 'pain-severe' is about 'pain', not 'skin'",
        ),
        # The loophole of a loose cover: the skin list has a same-day rule, but the one
        # named for the same-day infection sign is routine (brown marks).
        (
            'covers = { skin-breakdown = ["skin-breakdown"], infection = ["skin-marks"] }',
            "answer rule 'skin-marks' reaches tier 'routine', below tier 'same_day' of red "
            "flag 'infection'",
        ),
    ],
)
def test_each_rule_a_cover_names_must_exist_answer_the_question_and_reach_the_tier(new, message):
    text = edit(P72, SKIN_COVERS, new)
    (problem,) = problems(text)
    assert (problem.item, problem.field) == ("question 'skin'", "covers")
    assert message in problem.message
    assert problem.line == text.splitlines().index(new) + 1


def test_a_question_cannot_cover_a_flag_above_its_own_tier():
    # Lumps reach only "routine": covering the same-day infection sign would weaken it.
    text = edit(
        P72,
        'key = "lumps"\ncovers = { routine-changes = ["lumps"] }',
        'key = "lumps"\ncovers = { infection = ["lumps"] }',
    )
    # Lumps may also be left unanswered, which is a problem of its own for a same-day
    # flag (tests/domain/test_checkin_covers_review.py): both are named, on this line.
    found = problems(text)
    assert {(p.item, p.field) for p in found} == {("question 'lumps'", "covers")}
    (problem,) = [p for p in found if "below tier" in p.message]
    assert "below tier 'same_day' of red flag 'infection'" in problem.message
    assert problem.line == text.splitlines().index('covers = { infection = ["lumps"] }') + 1


def test_an_emergency_rule_about_something_else_cannot_swallow_a_flag():
    # Before, any rule of the question at the flag's tier let it cover the flag: a pain
    # question with an emergency rule could swallow an emergency sign. Now the rule
    # named for the flag must itself reach the flag's tier.
    text = edit(
        P72,
        'key = "pain-severe"\nanswer = "pain"\nat_least = 8\ntier = "same_day"',
        'key = "pain-severe"\nanswer = "pain"\nat_least = 8\ntier = "emergency"',
    )
    parse_protocol(text)  # a stronger pain rule on its own is fine
    text = edit(
        text,
        '[[question]]\nkey = "pain"\n',
        '[[question]]\nkey = "pain"\ncovers = { emergency-sign = ["pain-moderate"] }\n',
    )
    text = edit(
        text,
        "# ---------------------------------------------------------------- check-in questions",
        '[[red_flag]]\nkey = "emergency-sign"\ntier = "emergency"\ntitle = "Fainting"\n'
        'start = "0h"\nend = "day 2"\nsource = "ref 2.6 emergency tier"\n\n'
        "# ---------------------------------------------------------------- check-in questions",
    )
    (problem,) = problems(text)
    assert (problem.item, problem.field) == ("question 'pain'", "covers")
    assert "'pain-moderate' reaches tier 'routine', below tier 'emergency'" in problem.message


def test_a_stored_version_with_a_list_of_covered_flags_still_loads():
    # Versions loaded before covers named their rules are pinned to patients: each
    # listed flag is read as stood for by the question's rules at or above its tier.
    old = edit(
        edit(P72, SKIN_COVERS, 'covers = ["skin-breakdown", "routine-changes"]'),
        'key = "lumps"\ncovers = { routine-changes = ["lumps"] }',
        'key = "lumps"\ncovers = ["routine-changes"]',
    )
    problems(old)  # refused as a new file
    protocol = parse_protocol(old, stored=True)
    skin = next(q for q in protocol.questions if q.key == "skin")
    assert {c.flag: c.rules for c in skin.covers} == {
        "skin-breakdown": ("skin-breakdown",),
        "routine-changes": ("skin-breakdown", "skin-marks", "stocking-rubs"),
    }
    lumps = next(q for q in protocol.questions if q.key == "lumps")
    assert [(c.flag, c.rules) for c in lumps.covers] == [("routine-changes", ("lumps",))]


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_a_stocking_that_rubs_is_a_skin_tick_on_stocking_days_only(name):
    # Issue 19 point 3: the routine catch-all used to ask for it; now the skin list
    # offers it, at the routine tier (ref 2.6), while stockings are asked about.
    protocol = PROTOCOLS[name]
    for day_number in range(0, 30):
        day = on_day(protocol, day_number)
        stockings = bool(day.fixed & {"stockings_day", "stockings_night"})
        assert ("stocking-rubs" in day.skin_choices) == stockings, day_number
        if stockings:
            result = triage(
                _skin_answers(day, ["stocking-rubs"]), day.in_window, protocol.answer_rules
            )
            assert (result.level, result.reasons) == (
                "routine",
                ("A stocking that rubs or marks your skin",),
            )
    if name != "compression-none":
        assert "stocking-rubs" in on_day(protocol, 3).skin_choices


def test_a_protocol_asking_about_stockings_must_give_the_stocking_tick_a_tier():
    text = edit(
        P72, 'key = "stocking-rubs"\nanswer = "skin"', 'key = "stocking-rubs"\nanswer = "skin"'
    )
    text = edit(text, 'choices = ["stocking-rubs"]\n', 'choices = ["brown"]\n')
    found = [p for p in problems(text) if p.field == "choices"]
    assert [p.message for p in found] == [
        "no rule gives a tier to the skin change(s) stocking-rubs"
    ]


def test_a_stored_version_without_the_stocking_tick_never_offers_it():
    # Versions loaded before the tick existed still load; the list does not offer a
    # change their rules give no tier (it would reach nobody).
    old = edit(
        P72,
        'key = "stocking-rubs"\nanswer = "skin"\nchoices = ["stocking-rubs"]\n',
        'key = "stocking-rubs"\nanswer = "skin"\nchoices = ["brown"]\n',
    )
    old = edit(old, '"skin-marks", "stocking-rubs"]', '"skin-marks"]')
    protocol = parse_protocol(old, stored=True)
    assert "stocking-rubs" not in on_day(protocol, 3).skin_choices
    assert "brown" in on_day(protocol, 3).skin_choices
