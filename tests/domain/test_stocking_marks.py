"""A clinic's own protocol says which tasks are stocking wear (issue 19, HAZ-05 C6).

Same-day advice for severe pain or a cold, pale or numb foot must say "loosen or take
off your stocking" while the patient wears one (clinical reference §2.6: "a stocking
that is too tight: loosen it"), and adherence is reported for compression protocols
(§4.7). Before the ``stockings`` marker, only the tasks a stockings question was asked
``during`` counted, so a clinic's file with stocking tasks and no such question got the
no-stockings advice. Here:

* a file whose stocking tasks are marked but which asks no stockings question is
  recognised exactly as the shipped file that asks (same stretch, same Today);
* a file whose task words speak of stockings, neither marked nor asked about, is
  refused naming the task and its line; ``stockings = false`` says "not stocking wear";
* a stockings question asked during a task that is not stocking wear is refused;
* malformed markers get a message, never an exception other than ProtocolError;
* every shipped compression protocol marks its stocking tasks.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain import outcomes as rules
from app.domain.protocol import ProtocolError
from app.domain.protocol import parse_protocol
from app.domain.protocol.diff import diff_protocols
from app.domain.protocol.model import DailyTask
from app.domain.protocol.stocking_marks import speaks_of_stockings
from app.domain.recovery import build_today
from app.domain.recovery import has_stockings
from app.domain.recovery import stockings_until
from app.domain.recovery.stockings import asks_stockings
from app.domain.recovery.stockings import stocking_tasks
from tests.domain.test_today_consistency import PROTOCOL_DIR

LONDON = ZoneInfo("Europe/London")
TREATED = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)  # London is on UTC in November
SHIPPED_72H = (PROTOCOL_DIR / "compression-72h.toml").read_text(encoding="utf-8")
MARK = "stockings = true\n"


def clinic_own_text(key: str = "clinic-own-72h", *, marked: bool = True) -> str:
    """compression-72h as a clinic might write its own: the same stocking tasks, but no
    stockings question (so no stocking-rubs tick either, which needs one). ``marked``:
    its stocking tasks say ``stockings = true``; without it, the file as it was before
    the marker existed."""
    blocks = re.split(r"(?m)^(?=\[\[)", SHIPPED_72H)
    kept = [
        b
        for b in blocks
        if not (b.startswith("[[question]]") and re.search(r'key = "stockings_(day|night)"', b))
        and not (b.startswith("[[answer_rule]]") and 'key = "stocking-rubs"' in b)
    ]
    text = "".join(kept).replace(', "stocking-rubs"]', "]")
    assert not re.search(r'(?m)^key = "stockings_(day|night)"$|^choices = .*stocking-rubs', text)
    text = text.replace('key = "compression-72h"', f'key = "{key}"')
    text = re.sub(r'(?m)^name = ".*"$', 'name = "Our own stockings protocol"', text, count=1)
    assert text.count(MARK) == 2  # the day-and-night and the daytime tasks
    return text if marked else text.replace(MARK, "")


def _problems(text: str) -> list:
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(text, "clinic.toml")
    return caught.value.problems


def _line_of(text: str, needle: str) -> int:
    """The line of the ``[[...]]`` header above the first line holding ``needle``."""
    lines = text.splitlines()
    at = next(i for i, t in enumerate(lines) if needle in t)
    return next(i + 1 for i in range(at, -1, -1) if lines[i].startswith("[["))


def test_marked_tasks_without_a_stockings_question_are_stocking_wear():
    own = parse_protocol(clinic_own_text(), "clinic.toml")
    shipped = parse_protocol(SHIPPED_72H, "compression-72h.toml")
    assert not asks_stockings(own) and asks_stockings(shipped)
    assert stocking_tasks(own) == stocking_tasks(shipped)
    assert {"stockings-day-night", "stockings-daytime"} <= stocking_tasks(own)
    assert has_stockings(own) and rules.is_compression(own)
    # The same stretch (day and night, then daytime, as one) as the file that asks,
    # and Today's same-day advice follows it, on every day 0 to 30.
    for hours in range(0, 31 * 24, 5):
        now = TREATED + timedelta(hours=hours)
        assert stockings_until(own, TREATED, LONDON, now) == stockings_until(
            shipped, TREATED, LONDON, now
        ), hours
        assert (
            build_today(own, TREATED, LONDON, now, set()).stockings
            == build_today(shipped, TREATED, LONDON, now, set()).stockings
        ), hours
    assert build_today(own, TREATED, LONDON, TREATED + timedelta(days=3), set()).stockings
    assert not build_today(own, TREATED, LONDON, TREATED + timedelta(days=12), set()).stockings


def test_adherence_of_a_marked_protocol_without_a_question_is_not_asked():
    """Nothing is asked, so no slots are required (never 0 of N, never "not worn"), and
    the protocol still counts as compression (issue 19 point 7)."""
    own = parse_protocol(clinic_own_text(), "clinic.toml")
    assert rules.required_wear(own, TREATED, LONDON) == {}
    assert rules.Wear(unasked=1) + rules.Wear(4, 2, 1) == rules.Wear(4, 2, 1, 1)
    assert rules.Wear(unasked=1).share is None
    shipped = parse_protocol(SHIPPED_72H, "compression-72h.toml")
    assert rules.required_wear(shipped, TREATED, LONDON)  # with a question: as today


def test_unmarked_stocking_tasks_without_a_question_are_refused_naming_each():
    text = clinic_own_text(marked=False)
    found = [(p.item, p.field, p.line) for p in _problems(text)]
    assert found == [
        ("task 'stockings-day-night'", "stockings", _line_of(text, '"stockings-day-night"')),
        ("task 'stockings-daytime'", "stockings", _line_of(text, '"stockings-daytime"')),
    ]
    message = str(_problems(text)[0])
    assert "speak of compression stockings" in message and "stockings = true" in message


def test_stockings_false_says_a_task_only_mentions_them():
    text = clinic_own_text(marked=False).replace(
        'detail = "Short walks of at least 5 minutes, a few times a day."',
        'detail = "Short walks of at least 5 minutes, with your compression stockings on."',
    )
    assert "with your compression stockings on" in text
    text = text.replace('end = "72h"\n', 'end = "72h"\nstockings = true\n', 1)
    text = text.replace('end = "day 10"\n', 'end = "day 10"\nstockings = true\n', 1)
    assert [p.item for p in _problems(text)] == ["task 'walks'"]
    walks = 'end = "day 14"\nsource = "Clinic page 1: walk at least five minutes several'
    assert walks in text
    fixed = text.replace(
        walks,
        'end = "day 14"\nstockings = false\nsource = "Clinic page 1: '
        + "walk at least five minutes several",
        1,
    )
    protocol = parse_protocol(fixed, "clinic.toml")
    assert "walks" not in stocking_tasks(protocol)
    assert next(t for t in protocol.tasks if t.key == "walks").stockings is False


def test_a_stockings_question_during_a_task_that_is_not_stocking_wear_is_refused():
    during = 'during = ["stockings-day-night", "stockings-daytime"]'
    assert during in SHIPPED_72H
    walks = _problems(SHIPPED_72H.replace(during, 'during = ["walks"]'))
    assert [(p.item, p.field) for p in walks] == [("question 'stockings_day'", "during")]
    assert "during task 'walks', which is not stocking wear" in walks[0].message
    # Marked "not stocking wear" and asked about as stocking wear: the file contradicts.
    text = SHIPPED_72H.replace(MARK, "stockings = false\n", 1)
    found = _problems(text)
    assert {(p.item, p.field) for p in found} == {
        ("question 'stockings_day'", "during"),
        ("question 'stockings_night'", "during"),
    }
    assert all("is marked 'stockings = false'" in p.message for p in found)
    # A name that is no task at all is refused as before.
    typo = _problems(SHIPPED_72H.replace(during, 'during = ["stockings-daytme"]'))
    assert [p.message for p in typo] == ["no [[task]] has the key 'stockings-daytme'"]


def test_the_unmarked_rule_of_today_still_holds():
    """A task named in a stockings question's ``during`` is stocking wear without the
    mark (stored versions and files written before it)."""
    protocol = parse_protocol(SHIPPED_72H.replace(MARK, ""), "old.toml")
    assert stocking_tasks(protocol) == {"stockings-day-night", "stockings-daytime"}


def test_a_stored_version_is_not_refused_for_the_new_check():
    """Its patients are pinned to it (parse_protocol ``stored``)."""
    protocol = parse_protocol(clinic_own_text(marked=False), "v1", stored=True)
    assert all(t.stockings is None for t in protocol.tasks)


@pytest.mark.parametrize("value", ['"yes"', "1", "[true]", "{ a = 1 }", '"clinic must set"'])
def test_a_malformed_marker_gets_a_message(value):
    text = SHIPPED_72H.replace(MARK, f"stockings = {value}\n", 1)
    found = _problems(text)
    assert any(
        p.item == "task 'stockings-day-night'"
        and p.field == "stockings"
        and p.message == "must be true or false"
        for p in found
    ), [str(p) for p in found]


def test_malformed_tasks_and_during_do_not_crash_the_check():
    for bad in ("task = 3\n", 'task = ["x"]\n'):
        text = bad + clinic_own_text()
        assert _problems(text)  # named, not a crash
    during = 'during = ["stockings-day-night", "stockings-daytime"]'
    assert [p.message for p in _problems(SHIPPED_72H.replace(during, "during = [1]"))] == [
        'must be a list of task keys, e.g. ["walks"]'
    ]


def test_the_words_that_speak_of_stockings():
    def task(title: str, detail: str = "") -> DailyTask:
        return DailyTask("t", title, detail, None, None, "test")  # type: ignore[arg-type]

    assert speaks_of_stockings(task("Wear your stockings day and night"))
    assert speaks_of_stockings(task("Keep it on", "The compression helps the veins close."))
    assert speaks_of_stockings(task("Support hosiery", ""))
    assert speaks_of_stockings(task("Put your STOCKING back on"))
    assert not speaks_of_stockings(task("Walk several times today", "Short walks."))
    assert not speaks_of_stockings(task("Rest with your legs raised", "Toes above eyes."))


SHIPPED_FILES = sorted(PROTOCOL_DIR.glob("*.toml")) + sorted(
    (PROTOCOL_DIR / "needs-clinic-values").glob("*.toml")
)


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: p.name)
def test_every_shipped_stocking_task_is_marked(path):
    """Read as TOML (the clinic-page files leave values open, so they do not parse):
    a task that speaks of stockings, or that a stockings question is asked during, says
    ``stockings = true``; no other task is marked."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    asked = {
        k
        for q in data.get("question", [])
        if q["key"] in ("stockings_day", "stockings_night")
        for k in q.get("during", [])
    }
    for t in data.get("task", []):
        words = DailyTask(t["key"], t["title"], t.get("detail", ""), None, None, "")  # type: ignore[arg-type]
        wear = t["key"] in asked or speaks_of_stockings(words)
        assert t.get("stockings", False) is wear, (path.name, t["key"])
    if "compression-none" in path.name:
        assert not any(t.get("stockings") for t in data.get("task", []))


def test_a_clinician_signing_off_sees_the_marker_in_the_diff():
    """Marking a task changes safety advice, so the version diff a clinic admin reads
    before sign-off names it (app/domain/protocol/diff.py)."""
    before = parse_protocol(SHIPPED_72H.replace(MARK, ""), "v1", stored=True)
    after = parse_protocol(SHIPPED_72H, "v2", stored=True)
    changed = [
        (i.key, f.field, f.old, f.new)
        for s in diff_protocols(before, after).sections
        for i in s.items
        for f in i.fields
    ]
    assert changed == [
        ("stockings-day-night", "stocking wear", "none", "yes"),
        ("stockings-daytime", "stocking wear", "none", "yes"),
    ]
