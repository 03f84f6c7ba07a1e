"""Which questions a day's check-in asks: the warning signs in their windows and the
protocol's fixed questions, each asked once (issue 19 point 3).

A warning sign is in the check-in on every day its window covers (clinical reference
§2.6, "when to ask"). A protocol may say that a fixed question asks a red flag in more
detail (``covers``: the skin list covers "a blister, open sore or skin turning white,
grey or black"); on a day that question is asked, the flag is not asked again as its own
yes/no question. Such a flag is never a required warning sign and the question reaches
at least the flag's tier (``app/domain/protocol/checkin_rules.py`` refuses anything
else), so the warning sign is still asked, at its tier, on every day of its window.

Pure functions: the protocol, the treatment instant, the time zone and a local date in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

from app.domain.language import N_
from app.domain.language import say
from app.domain.protocol.model import Protocol
from app.domain.protocol.model import RedFlag
from app.domain.protocol.requirements import SKIN_CHOICES
from app.domain.protocol.requirements import STOCKING_SKIN
from app.domain.protocol.requirements import STOCKINGS_QUESTIONS
from app.domain.recovery.windows import window

# The skin list's explicit "none" (NHS.UK's exclusive "None" checkbox): on the days the
# list asks a warning sign, nothing ticked is not an answer (control C2).
NO_SKIN_CHANGE = "none"
SKIN_MESSAGE = N_("Tick the skin changes you have, or tick 'No skin changes'.")
SKIN_BOTH_MESSAGE = N_("Tick 'No skin changes' or the changes you have, not both.")
SKIN_LIST_MESSAGE = N_("Choose skin changes from the list.")


def questions_for_day(
    protocol: Protocol, treated_at: datetime, tz: ZoneInfo, on: date
) -> list[RedFlag]:
    """The protocol's red flags whose window covers a local date (the warning signs that
    matter that day, whether asked on their own or through a fixed question)."""
    return [f for f in protocol.red_flags if window(f.start, f.end, treated_at, tz).covers_date(on)]


def fixed_questions_for_day(
    protocol: Protocol, treated_at: datetime, tz: ZoneInfo, on: date
) -> frozenset[str]:
    """The fixed questions asked on a local date: those the protocol lists, each on every
    day or (with ``during``) on the days one of its tasks applies, so a protocol without
    stockings never asks about them and nobody is asked after the stockings are off."""
    tasks = {t.key: t for t in protocol.tasks}
    asked = set()
    for q in protocol.questions:
        if not q.during or any(
            window(tasks[k].start, tasks[k].end, treated_at, tz).covers_date(on) for k in q.during
        ):
            asked.add(q.key)
    return frozenset(asked)


@dataclass(frozen=True)
class DayQuestions:
    """One day's check-in: what the page asks, and what it asks through another question.

    ``red_flags``: the warning signs asked as their own yes/no question (each needs an
    answer). ``covered``: warning signs in their window that a fixed question asked today
    covers; they are not asked again, but a "yes" to one (from a page kept on a phone
    before this change) is still taken at its tier. ``fixed``: the fixed questions.
    """

    red_flags: list[RedFlag]
    covered: list[RedFlag]
    fixed: frozenset[str]
    # The covered warning signs the skin list asks today, or None when the list is not
    # asked. A list left all unticked cannot say "no" (a skip would pass as "no skin
    # breakdown", control C2), so the list needs a tick or "No skin changes".
    skin_covers: tuple[RedFlag, ...] | None = None
    # The skin changes the list offers today: the stocking one only on the days a
    # stockings question is asked and the protocol gives it a tier.
    skin_choices: tuple[str, ...] = ()

    @property
    def in_window(self) -> list[RedFlag]:
        """Every warning sign of the day, asked on its own or covered: what triage reads."""
        return self.red_flags + self.covered

    @property
    def count(self) -> int:
        """How many questions the page shows (the note and the photo are extras)."""
        return len(self.red_flags) + fixed_count(self.fixed)


def day_questions(protocol: Protocol, treated_at: datetime, tz: ZoneInfo, on: date) -> DayQuestions:
    """The day's check-in questions, each warning sign asked once.

    A red flag is covered on a day when at least one fixed question covers it and every
    question that covers it is asked that day; otherwise it is asked on its own.
    """
    fixed = fixed_questions_for_day(protocol, treated_at, tz, on)
    own: list[RedFlag] = []
    covered: list[RedFlag] = []
    for flag in questions_for_day(protocol, treated_at, tz, on):
        by = [q.key for q in protocol.questions if flag.key in q.covered_flags]
        (covered if by and all(k in fixed for k in by) else own).append(flag)
    skin = next((q for q in protocol.questions if q.key == "skin"), None)
    by_skin = None
    if skin is not None and "skin" in fixed:
        by_skin = tuple(f for f in covered if f.key in skin.covered_flags)
    return DayQuestions(own, covered, fixed, by_skin, skin_choices(protocol, fixed))


def skin_choices(protocol: Protocol, fixed: frozenset[str]) -> tuple[str, ...]:
    """The skin changes the list offers on a day asking ``fixed``: the stocking one
    (ref 2.6 routine tier) only while stockings are asked about and a rule gives it a
    tier, so no tick can go without one."""
    if "skin" not in fixed:
        return ()
    ruled = {c for r in protocol.answer_rules if r.answer == "skin" for c in r.choices}
    stockings = bool(fixed & set(STOCKINGS_QUESTIONS)) and STOCKING_SKIN in ruled
    return tuple(c for c in SKIN_CHOICES if c != STOCKING_SKIN or stockings)


def skin_list_error(
    skin: list[str],
    red_flags: dict[str, str] | list[str],
    skin_covers: tuple[RedFlag, ...] | None,
    offered: tuple[str, ...] | None = None,
) -> str | None:
    """Why the skin list cannot be stored (in the reader's language), or None. ``skin``
    as sent, "none" included.

    ``offered``: the changes the list showed that day (``DayQuestions.skin_choices``),
    or None for any of the app's. A change the page did not offer is refused, not
    stored: a stocking that rubs on a protocol without stockings has no rule, so it
    would sit in the diary as an answer nobody was asked and no tier was given to.
    """
    changes = [s for s in skin if s != NO_SKIN_CHANGE]
    allowed = set(SKIN_CHOICES) if offered is None else set(offered)
    if set(changes) - allowed:
        return say(SKIN_LIST_MESSAGE)
    if changes and NO_SKIN_CHANGE in skin:
        return say(SKIN_BOTH_MESSAGE)
    if skin_covers is None or skin:
        return None
    # Nothing ticked: only a kept page's own yes/no to each sign the list asks counts.
    if skin_covers and isinstance(red_flags, dict):
        if all(red_flags.get(f.key) in ("yes", "no") for f in skin_covers):
            return None
    return say(SKIN_MESSAGE)


# The two stockings questions as one (issue 19 point 3): on the days both are asked the
# page asks "Did you wear your stockings?" once, a single tap, and each choice is stored
# as the two yes/no answers it stands for, so the diary and the adherence figures
# (domain.outcomes) read exactly what they read before.
STOCKINGS_BOTH = frozenset({"stockings_day", "stockings_night"})
STOCKINGS_CHOICES: dict[str, tuple[str, str]] = {
    "both": ("yes", "yes"),
    "day": ("yes", "no"),
    "night": ("no", "yes"),
    "none": ("no", "no"),
}


def stockings_together(fixed: frozenset[str]) -> bool:
    """Whether the day asks both stockings questions, so the page asks them as one."""
    return STOCKINGS_BOTH <= fixed


def fixed_count(fixed: frozenset[str]) -> int:
    """How many questions the fixed ones make on the page: both stockings are one."""
    return len(fixed) - (1 if stockings_together(fixed) else 0)


def stockings_answers(choice: object, day: object, night: object) -> tuple[object, object]:
    """The daytime and night answers from the one question's ``choice``; without a known
    choice, ``day`` and ``night`` as sent on their own (a page kept on a phone, or the
    offline queue, from before the questions were one). Nothing chosen stays nothing:
    never "no"."""
    if isinstance(choice, str) and choice in STOCKINGS_CHOICES:
        return STOCKINGS_CHOICES[choice]
    return day, night


def stockings_choice(day: object, night: object) -> str | None:
    """The one question's choice for two answers (True/False or "yes"/"no"), or None
    unless both are answered."""
    as_word = {True: "yes", False: "no", "yes": "yes", "no": "no"}
    pair = (as_word.get(day), as_word.get(night))  # type: ignore[call-overload]
    return next((k for k, v in STOCKINGS_CHOICES.items() if v == pair), None)
