"""Which tasks are stocking wear: the file says so, and a loader check that it does.

Same-day advice for severe pain or a cold, pale or numb foot says "loosen or take off
your stocking" only while a stocking task is in force (clinical reference §2.6: "a
stocking that is too tight: loosen it"; HAZ-05 C5), and stocking adherence is reported
only for protocols with stocking tasks (§4.7). Both read which tasks are stocking wear
(app/domain/recovery/stockings.py). Once that was only the tasks a stockings question
is asked ``during``, so a clinic's own file with a stocking task but no such question
gave its patients the no-stockings advice (issue 19, HAZ-05 cause 6).

A ``[[task]]`` now says it: ``stockings = true`` (stocking wear) or ``stockings = false``
(not, although its words speak of stockings: "keep your stockings on while you walk").
A new file is refused, naming the task, when:

* a task whose title or detail plainly speaks of compression or stockings neither says
  ``stockings = ...`` nor is named in a stockings question's ``during``;
* a stockings question is asked ``during`` a task marked ``stockings = false``, or
  during a task that neither is marked nor speaks of stockings (``during = ["walks"]``
  would make the walks a stocking task).

And a new file is refused when a milestone says the stockings are done ("You no longer
need to wear your stockings") while a stocking task still runs: Today would show both
on the same day (adversarial review, 2026-12-07: such a milestone at 24 h loaded beside
"wear your stockings day and night" until 72 h). A milestone that ends only part of the
wear ("stop wearing them at night") is not read as done.

A stored version is not checked again: its patients are pinned to it, and a task named
in a stockings question's ``during`` still counts as stocking wear (today's rule).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.domain.offsets import resolve
from app.domain.protocol.model import DailyTask
from app.domain.protocol.model import Milestone
from app.domain.protocol.model import Question
from app.domain.protocol.reader import Reader
from app.domain.protocol.requirements import STOCKINGS_QUESTIONS

# Words that plainly speak of compression on a leg. "Bandage" is left out: a dressing
# over an injection site is one too, and a stocking task that says "bandage" says
# "compression" or "stockings" as well in every clinic page we have (§2.4).
_STOCKING_WORDS = re.compile(r"\b(stockings?|compression|hosiery)\b", re.IGNORECASE)
# Words that say the stockings are over ("no longer need", "stop wearing"), and words
# that make it only part of the wear ("at night"), which is not over.
_DONE_WORDS = re.compile(
    r"\b(no longer|stop|do not need|don't need|no need|not needed)\b", re.IGNORECASE
)
_PART_WORDS = re.compile(
    r"\b(at night|overnight|in bed|daytime|in the day|during the day|by day)\b", re.IGNORECASE
)
# Treatment instants to compare offsets at: an hour offset ("60h") against a day
# offset ("day 3") depends on the hour of treatment and on a clock change in between,
# so every hour of a day is tried, in a zone whose clocks go forward that week.
_ZONE = ZoneInfo("Europe/London")
_ANCHORS = tuple(datetime(2026, 3, 27, hour, 0, tzinfo=_ZONE).astimezone(UTC) for hour in range(24))
_MARK_IT = "add 'stockings = true' if the patient wears stockings then, or 'stockings = false'"


def speaks_of_stockings(task: DailyTask) -> bool:
    """Whether the task's words (title or detail, what the patient reads) speak of
    compression stockings."""
    return bool(_STOCKING_WORDS.search(f"{task.title} {task.detail}"))


def unrecognised_stocking_tasks(
    tasks: Sequence[DailyTask], questions: Sequence[Question]
) -> tuple[DailyTask, ...]:
    """Tasks whose words speak of stockings that the app takes neither as stocking wear
    nor as not: unmarked, and no stockings question is asked during them. A new file
    with one is refused; a stored version with one is named on its version page
    (app/services/protocol_admin.py)."""
    during = {k for q in questions if q.key in STOCKINGS_QUESTIONS for k in q.during}
    return tuple(
        t for t in tasks if t.stockings is None and t.key not in during and speaks_of_stockings(t)
    )


def check_stocking_marks(
    reader: Reader, data: dict[str, Any], tasks: list[DailyTask], questions: list[Question]
) -> None:
    """Refuse a new file whose stocking tasks the app could not recognise (see above)."""
    by_key = {t.key: t for t in tasks}
    for task in unrecognised_stocking_tasks(tasks, questions):
        reader.problem(
            f"task '{task.key}'",
            "stockings",
            "its words speak of compression stockings but it is not marked and no "
            f"stockings question is asked during it; {_MARK_IT}",
            _line(reader, data, "task", task.key),
        )
    for question in questions:
        if question.key not in STOCKINGS_QUESTIONS:
            continue
        line = _line(reader, data, "question", question.key)
        for key in question.during:
            task = by_key.get(key)
            if task is None:
                continue  # named by read_questions ("no [[task]] has the key")
            if task.stockings is False:
                why = "is marked 'stockings = false'"
            elif task.stockings is None and not speaks_of_stockings(task):
                why = "is not stocking wear: mark it 'stockings = true' if it is"
            else:
                continue
            reader.problem(
                f"question '{question.key}'",
                "during",
                f"asks about stockings during task '{key}', which {why}",
                line,
            )


def says_stockings_done(milestone: Milestone) -> bool:
    """Whether a milestone's words tell the patient the stockings are over."""
    text = f"{milestone.title} {milestone.detail}"
    return bool(
        _STOCKING_WORDS.search(text) and _DONE_WORDS.search(text) and not _PART_WORDS.search(text)
    )


def stocking_wear_after_done(
    tasks: Sequence[DailyTask], milestones: Sequence[Milestone], questions: Sequence[Question]
) -> tuple[tuple[Milestone, DailyTask], ...]:
    """Each milestone that says the stockings are done while a stocking task runs."""
    during = {k for q in questions if q.key in STOCKINGS_QUESTIONS for k in q.during}
    wear = [
        t
        for t in tasks
        # Marked, or recognised unmarked; a task refused above is not reported twice.
        if t.stockings or (t.stockings is None and t.key in during and speaks_of_stockings(t))
    ]
    found = []
    for m in milestones:
        if not says_stockings_done(m):
            continue
        found.extend((m, t) for t in wear if any(_inside(m, t, a) for a in _ANCHORS))
    return tuple(found)


def _inside(milestone: Milestone, task: DailyTask, anchor: datetime) -> bool:
    """Whether the milestone falls while the task runs, for a treatment at ``anchor``."""
    at = resolve(milestone.at, anchor, _ZONE)
    return resolve(task.start, anchor, _ZONE) <= at < resolve(task.end, anchor, _ZONE, end=True)


def check_stockings_done(
    reader: Reader,
    data: dict[str, Any],
    tasks: list[DailyTask],
    milestones: list[Milestone],
    questions: list[Question],
) -> None:
    """Refuse a new file whose "stockings done" milestone comes while a stocking task
    still runs (see above)."""
    for milestone, task in stocking_wear_after_done(tasks, milestones, questions):
        reader.problem(
            f"milestone '{milestone.key}'",
            "at",
            f"says the stockings are done while stocking task '{task.key}' still runs "
            f"(until '{task.end}'); move it to the task's end or later, or end the task earlier",
            _line(reader, data, "milestone", milestone.key),
        )


def _line(reader: Reader, data: dict[str, Any], section: str, key: str) -> int | None:
    """The header line of the section's item with this key (keys are unique by now)."""
    entries = data.get(section)
    if not isinstance(entries, list):
        return None
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("key") == key:
            return reader.header_line(section, index)
    return None
