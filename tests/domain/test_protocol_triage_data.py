"""Triage rules as protocol data (issue 14 points 7 and 8).

* The required warning signs are found by ``kind`` and refused when missing, of the
  wrong tier or asked over too few days, with file, line, item and field.
* ``[[question]]`` and ``[[answer_rule]]`` are checked like every other section.
* A version stored before these sections existed still parses, and triages exactly
  as the shipped files do now.
* Which fixed questions are asked, by protocol and day.
* The clinic page 1 and 2 files: valid, with every open value named, refused by a
  strict parse until set; page 1's small sores stay same day.
* The offline table's windows are exactly the days the domain asks each flag.
"""

from __future__ import annotations

import re
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.domain.checkin import SKIN_CHANGES
from app.domain.checkin import check_answers
from app.domain.checkin import fixed_questions_for_day
from app.domain.checkin import offline_rules
from app.domain.checkin import questions_for_day
from app.domain.checkin import triage
from app.domain.checkin import unasked_as_none
from app.domain.protocol import OPEN_VALUE
from app.domain.protocol import QUESTIONS
from app.domain.protocol import ProtocolError
from app.domain.protocol import parse_protocol
from app.domain.protocol.requirements import STOCKING_SKIN

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "app" / "protocols"
SHIPPED = {p.stem: p.read_text(encoding="utf-8") for p in sorted(PROTOCOL_DIR.glob("*.toml"))}
PAGES = {
    p.stem: p.read_text(encoding="utf-8")
    for p in sorted((PROTOCOL_DIR / "needs-clinic-values").glob("*.toml"))
}
P72 = SHIPPED["compression-72h"]
LONDON = ZoneInfo("Europe/London")
TREATED = datetime(2026, 11, 20, 10, 0, tzinfo=LONDON)


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def problems(text: str, filename: str = "clinic.toml") -> list:
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, filename)
    return info.value.problems


def line_of(text: str, marker: str) -> int:
    """1-based line of the header above the unique line holding ``marker``."""
    lines = text.splitlines()
    index = next(i for i, line in enumerate(lines) if marker in line)
    while not lines[index].startswith("["):
        index -= 1
    return index + 1


def header_at(text: str, pos: int) -> int:
    """1-based line of the section header above character ``pos``."""
    lines = text.splitlines()
    index = text.count("\n", 0, pos)
    while not lines[index].startswith("["):
        index -= 1
    return index + 1


def on(day: int, treated: datetime = TREATED) -> date:
    return treated.astimezone(LONDON).date() + timedelta(days=day)


# ------------------------------------------------------------------ required red flags


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("allergy", "allergy"),
        ("stroke-signs", "stroke"),
        ("chest-breathing", "chest"),
        ("calf-pain-swelling", "calf"),
    ],
)
def test_a_protocol_without_a_required_warning_sign_is_refused(key, kind):
    text = edit(P72, f'key = "{key}"\nkind = "{kind}"\n', f'key = "{key}"\n')
    (problem,) = problems(text)
    assert (problem.item, problem.field) == ("[[red_flag]]", "kind")
    assert f'no red flag has kind = "{kind}"' in problem.message
    assert "ref 2.6" in problem.message
    assert problem.line == line_of(P72, 'key = "chest-breathing"')  # the first [[red_flag]]


def test_required_flags_are_found_by_kind_not_by_title():
    """A chest-pain title without the kind does not count; any title with it does."""
    text = edit(P72, 'kind = "chest"\n', "")
    assert "Chest pain" in text
    assert [p.message[:30] for p in problems(text)] == ['no red flag has kind = "chest"'[:30]]
    renamed = edit(
        P72,
        'title = "Chest pain, sudden breathlessness, coughing up blood, a racing heart',
        'title = "Tightness in the chest, trouble breathing',
    )
    assert parse_protocol(renamed, "clinic.toml").red_flags[0].kind == "chest"


@pytest.mark.parametrize(
    ("key", "old", "new", "field", "message"),
    [
        ("chest-breathing", 'tier = "emergency"', 'tier = "same_day"', "tier", "emergency"),
        ("calf-pain-swelling", 'tier = "same_day"', 'tier = "routine"', "tier", "same_day"),
        ("allergy", 'end = "day 2"', 'end = "day 0"', "end", "days 0-1"),
        ("allergy", 'end = "day 2"', 'end = "24h"', "end", "days 0-1"),
        ("stroke-signs", 'start = "0h"', 'start = "1h"', "start", "days 0-1"),
        ("chest-breathing", 'end = "day 28"', 'end = "day 27"', "end", "days 0-28"),
        ("chest-breathing", 'end = "day 28"', 'end = "day 28 18:00"', "end", "days 0-28"),
        ("chest-breathing", 'end = "day 28"', 'end = "696h"', "end", "days 0-28"),
        ("calf-pain-swelling", 'start = "day 3"', 'start = "day 4"', "start", "days 3-28"),
        ("calf-pain-swelling", 'start = "day 3"', 'start = "48h"', "start", "days 3-28"),
        ("calf-pain-swelling", 'end = "day 28"', 'end = "day 21"', "end", "days 3-28"),
    ],
)
def test_a_required_warning_sign_of_the_wrong_tier_or_window_is_refused(
    key, old, new, field, message
):
    start = P72.index(f'key = "{key}"')
    end = P72.index("[[", start)
    block = P72[start:end]
    text = P72[:start] + edit(block, old, new) + P72[end:]
    (problem,) = problems(text)
    assert (problem.item, problem.field) == (f"red_flag '{key}'", field)
    assert message in problem.message and "ref 2." in problem.message
    assert problem.line == line_of(P72, f'key = "{key}"')


@pytest.mark.parametrize(
    ("key", "old", "new"),
    [
        ("calf-pain-swelling", 'start = "day 3"', 'start = "0h"'),  # earlier is fine
        ("calf-pain-swelling", 'tier = "same_day"', 'tier = "emergency"'),  # higher is fine
        ("calf-pain-swelling", 'start = "day 3"', 'start = "47h"'),
        ("chest-breathing", 'end = "day 28"', 'end = "697h"'),
        ("allergy", 'end = "day 2"', 'end = "day 1"'),
    ],
)
def test_required_warning_signs_may_be_asked_longer_or_at_a_higher_tier(key, old, new):
    start = P72.index(f'key = "{key}"')
    end = P72.index("[[", start)
    text = P72[:start] + edit(P72[start:end], old, new) + P72[end:]
    assert parse_protocol(text, "clinic.toml")


def test_an_unknown_kind_is_refused():
    typo, missing = problems(edit(P72, 'kind = "chest"', 'kind = "lungs"'))
    assert (typo.item, typo.field) == ("red_flag 'chest-breathing'", "kind")
    assert "allergy, stroke, chest, calf" in typo.message
    assert typo.line == line_of(P72, 'key = "chest-breathing"')
    assert 'no red flag has kind = "chest"' in missing.message


# ------------------------------------------------------------------ questions and rules


def test_new_files_need_the_question_and_answer_rule_sections():
    start = P72.index("# ---------------------------------------------------------------- check-in")
    found = {(p.item, p.field) for p in problems(P72[:start])}
    assert found == {("[[question]]", "question"), ("[[answer_rule]]", "answer_rule")}


@pytest.mark.parametrize(
    ("old", "new", "item", "field", "message"),
    [
        ('key = "stockings_day"', 'key = "walks"', "question 'walks'", "key", "must be one of"),
        ('key = "stockings_day"', 'key = "pain"', "question 'pain'", "key", "used twice"),
        (
            'during = ["stockings-day-night"]',
            'during = ["stockings-nights"]',
            "question 'stockings_night'",
            "during",
            "no [[task]] has the key 'stockings-nights'",
        ),
        (
            'during = ["stockings-day-night"]',
            'during = "stockings-day-night"',
            "question 'stockings_night'",
            "during",
            "must be a list",
        ),
        ("at_least = 8", "at_least = 11", "answer_rule 'pain-severe'", "at_least", "1 to 10"),
        ("at_least = 8", 'at_least = "8"', "answer_rule 'pain-severe'", "at_least", "1 to 10"),
        (
            'choices = ["moderate", "severe"]',
            'choices = ["purple"]',
            "answer_rule 'bruising'",
            "choices",
            "none, mild, moderate, severe",
        ),
        (
            'answer = "itching"',
            'answer = "walked"',
            "answer_rule 'itching'",
            "answer",
            "must be one of pain, bruising, skin, lumps, itching",
        ),
        (
            'key = "lumps"\nanswer = "lumps"\n',
            'key = "lumps"\nanswer = "lumps"\nat_least = 2\n',
            "answer_rule 'lumps'",
            "at_least",
            'only for answer = "pain"',
        ),
    ],
)
def test_bad_questions_and_answer_rules_are_refused_precisely(old, new, item, field, message):
    text = edit(P72, old, new)
    (problem,) = problems(text)
    assert (problem.item, problem.field) == (item, field)
    assert message in problem.message
    assert problem.line == header_at(P72, P72.index(old))


def test_every_skin_change_a_patient_can_tick_needs_a_tier():
    text = edit(P72, 'choices = ["brown", "red-vessels"]', 'choices = ["brown"]')
    (problem,) = problems(text)
    assert (problem.item, problem.field) == ("[[answer_rule]]", "choices")
    assert "red-vessels" in problem.message


@pytest.mark.parametrize("key", ["skin", "bruising"])
def test_skin_and_bruising_must_be_asked(key):
    start = P72.index(f'[[question]]\nkey = "{key}"\n')
    end = P72.index("[[", start + 2)
    found = problems(P72[:start] + P72[end:])
    assert any(p.field == "key" and f"must ask '{key}'" in p.message for p in found)


def test_pain_and_skin_must_be_asked():
    text = edit(P72, '[[question]]\nkey = "pain"\n', '[[question]]\nkey = "itching"\n')
    found = [(p.field, p.message) for p in problems(text)]
    assert ("key", "'itching' is used twice in [[question]]") in found
    assert any("must ask 'pain'" in m for _, m in found)
    assert any("'pain' is not in [[question]]" in m for _, m in found)


# ------------------------------------------------------------------ stored versions


def _as_stored_before(text: str) -> str:
    """A shipped file as a version loaded before this change: no kinds, no check-in."""
    text = re.sub(r'^kind = "[a-z]+"\n', "", text, flags=re.M)
    return text[
        : text.index("# ---------------------------------------------------------------- check-in")
    ]


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_version_stored_before_the_rules_were_data_still_parses_and_triages_the_same(name):
    old = _as_stored_before(SHIPPED[name])
    with pytest.raises(ProtocolError):
        parse_protocol(old, "new upload")  # a new file must carry the sections
    stored = parse_protocol(old, "protocol version 7", stored=True)
    current = parse_protocol(SHIPPED[name], name)
    # The old behaviour: every fixed question every day, the old tiers.
    assert {q.key for q in stored.questions} == set(QUESTIONS)
    assert all(q.during == () for q in stored.questions)
    asked = questions_for_day(current, TREATED, LONDON, on(5))
    for pain in range(11):
        # The stocking tick came later: a legacy version never offers it (it has no tier
        # there; tests/domain/test_checkin_day.py checks it is not offered).
        ticks = [k for k in SKIN_CHANGES if k != STOCKING_SKIN]
        for skin in [[], *([k] for k in ticks), ticks]:
            for bruising in ("none", "mild", "moderate", "severe"):
                a = check_answers(
                    pain=pain,
                    bruising=bruising,
                    itching=pain % 2 == 0,
                    lumps=pain % 3 == 0,
                    skin=skin,
                    stockings_day=None,
                    stockings_night=None,
                    walked=True,
                    elevated=True,
                    note="",
                    red_flags={f.key: "no" for f in asked},
                    asked=asked,
                )
                assert triage(a, asked, stored.answer_rules) == triage(
                    a, asked, current.answer_rules
                )


# ------------------------------------------------------------------ fixed questions by day


def test_a_no_compression_protocol_never_asks_about_stockings():
    p = parse_protocol(SHIPPED["compression-none"], "none")
    for day in range(0, 200):
        asked = fixed_questions_for_day(p, TREATED, LONDON, on(day))
        assert not {"stockings_day", "stockings_night"} & asked, day
        assert {"pain", "skin", "bruising", "lumps", "itching"} <= asked


@pytest.mark.parametrize(
    ("name", "last_day", "last_night"),
    [("compression-72h", 10, 3), ("compression-24h", 15, 1)],
)
def test_stockings_are_asked_about_only_while_they_are_worn(name, last_day, last_night):
    """72 h: day and night until day 3 (10:00), daytime to the end of day 10.
    24 h: day and night until day 1 (10:00), daytime until day 15 (10:00)."""
    p = parse_protocol(SHIPPED[name], name)

    def asked(day):
        return fixed_questions_for_day(p, TREATED, LONDON, on(day))

    assert "stockings_day" in asked(0) and "stockings_day" in asked(last_day)
    assert "stockings_day" not in asked(last_day + 1)
    assert "stockings_night" in asked(last_night)
    assert "stockings_night" not in asked(last_night + 1)
    # Walks and legs raised are ticked on Today, not asked again (issue 19 point 3).
    assert "walked" not in asked(0) and "elevated" not in asked(0) and "pain" in asked(100)


def test_questions_not_asked_are_stored_as_not_asked_never_as_no():
    raw = {"pain": "2", "stockings_day": True, "walked": False, "elevated": False, "note": ""}
    out = unasked_as_none(raw, frozenset({"pain", "walked"}))
    assert out == {
        "pain": "2",
        "stockings_day": None,
        "walked": False,
        "elevated": None,
        "note": "",
    }


# ------------------------------------------------------------------ clinic pages 1 and 2


def fill(text: str) -> str:
    """The page file with each open value set as a clinic would."""
    text = re.sub(
        rf'^(interval_weeks_min|sessions_min) = "{OPEN_VALUE}"', r"\1 = 2", text, flags=re.M
    )
    text = re.sub(
        rf'^(interval_weeks_max|sessions_max) = "{OPEN_VALUE}"', r"\1 = 6", text, flags=re.M
    )
    text = re.sub(
        rf'^compression = "{OPEN_VALUE}"', 'compression = "Daytime for 2 weeks"', text, flags=re.M
    )
    text = re.sub(rf'^end = "{OPEN_VALUE}"', 'end = "day 14"', text, flags=re.M)
    text = re.sub(rf'^at = "{OPEN_VALUE}"', 'at = "day 15"', text, flags=re.M)
    assert OPEN_VALUE not in text.replace(f'"{OPEN_VALUE}":', "")
    return text


def test_both_clinic_pages_ship_as_protocol_files():
    assert sorted(PAGES) == ["clinic-page-1", "clinic-page-2"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "clinic-page-1",
            {
                ("[protocol]", "compression"),
                ("task 'stockings'", "end"),
                ("task 'walks'", "end"),
                ("milestone 'stockings-done'", "at"),
            },
        ),
        (
            "clinic-page-2",
            {
                ("[protocol]", "compression"),
                ("[course]", "interval_weeks_min"),
                ("[course]", "interval_weeks_max"),
                ("[course]", "sessions_min"),
                ("[course]", "sessions_max"),
                ("task 'stockings'", "end"),
                ("milestone 'stockings-done'", "at"),
            },
        ),
    ],
)
def test_clinic_page_files_name_every_value_the_page_leaves_open(name, expected):
    text = PAGES[name]
    found = problems(text, f"{name}.toml")
    assert all(p.needs_value for p in found), [str(p) for p in found]
    assert {(p.item, p.field) for p in found} == expected
    lines = text.splitlines()
    for p in found:  # each names the line where the value is written
        assert f'= "{OPEN_VALUE}"' in lines[p.line - 1] and p.field in lines[p.line - 1]
        assert "needs the clinic's value" in str(p)
    filled = parse_protocol(fill(text), f"{name}.toml")
    assert filled.key == name
    for item in (*filled.tasks, *filled.milestones, *filled.normal, *filled.red_flags):
        assert re.match(r"(Clinic page \d|ref \d\.\d)", item.source), item


def test_an_open_value_next_to_a_real_error_is_not_only_open_values():
    text = edit(
        PAGES["clinic-page-1"],
        'end = "day 14"\nsource = "Clinic page 1: legs up',
        'end = "two weeks"\nsource = "Clinic page 1: legs up',
    )
    with pytest.raises(ProtocolError) as info:
        parse_protocol(text, "p1.toml")
    assert not info.value.only_open_values
    assert any(not p.needs_value and p.field == "end" for p in info.value.problems)


def test_clinic_page_1_small_sores_are_normal_to_hear_about_but_still_same_day():
    p = parse_protocol(fill(PAGES["clinic-page-1"]), "p1.toml")
    sores = next(n for n in p.normal if n.key == "small-sores")
    assert "same day" in sores.detail and "clinical-decisions" in sores.source
    asked = questions_for_day(p, TREATED, LONDON, on(5))
    for skin in ("sore", "blister"):
        a = check_answers(
            pain=1,
            bruising="none",
            itching=False,
            lumps=False,
            skin=[skin],
            stockings_day=None,
            stockings_night=None,
            walked=True,
            elevated=True,
            note="",
            red_flags={f.key: "no" for f in asked},
            asked=asked,
        )
        assert triage(a, asked, p.answer_rules).level == "same_day"


def test_clinic_page_2_asks_no_walking_or_legs_up_question():
    p = parse_protocol(fill(PAGES["clinic-page-2"]), "p2.toml")
    asked = fixed_questions_for_day(p, TREATED, LONDON, on(2))
    assert asked == {"pain", "bruising", "skin", "lumps", "itching", "stockings_day"}
    assert "stockings_day" not in fixed_questions_for_day(p, TREATED, LONDON, on(15))


# ------------------------------------------------------------------ the offline table


@pytest.mark.parametrize("name", sorted(SHIPPED))
@pytest.mark.parametrize(
    "treated",
    [
        TREATED,
        datetime(2026, 10, 24, 23, 30, tzinfo=LONDON),
        datetime(2026, 3, 28, 0, 30, tzinfo=LONDON),
    ],
)
def test_offline_table_asks_each_flag_on_exactly_the_days_the_server_does(name, treated):
    p = parse_protocol(SHIPPED[name], name)
    table = offline_rules(p, treated, LONDON)
    for day in range(0, 200):
        server = {f.key for f in questions_for_day(p, treated, LONDON, on(day, treated))}
        page = {f["key"] for f in table["red_flags"] if f["first_day"] <= day <= f["last_day"]}
        assert page == server, day
    assert len(table["answer_rules"]) == len(p.answer_rules)
