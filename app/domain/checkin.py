"""The daily check-in: which questions to ask on day N, and red-flag triage.

Triage has three tiers (clinical reference §2.6): *emergency* (call the emergency
number now), *same day* (call the clinic today) and *routine* (the clinic reviews it).
Every rule is protocol data with its source (``app/protocols/README.md``): the red
flags are asked as yes/no questions in the window when each risk peaks (e.g. allergy
and stroke signs on days 0-1, calf pain on days 3-28), the fixed questions (pain,
bruising, skin changes, stockings) on the days the protocol asks them, and the answer
rules give tiers to those answers (pain 8 or more, skin breakdown: same day).

The same rules run on the phone while offline: :func:`offline_rules` is the table the
check-in page carries, and ``app/static/js/triage.js`` reads it (one source of truth).

Pure functions: answers and the protocol in, a decision out.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.offsets import local_date
from app.domain.protocol import BRUISING_CHOICES
from app.domain.protocol import SKIN_CHOICES
from app.domain.protocol import AnswerRule
from app.domain.protocol import Protocol
from app.domain.protocol import RedFlag
from app.domain.recovery import window

Level = Literal["emergency", "same_day", "routine", "none"]
LEVELS: tuple[Level, ...] = ("emergency", "same_day", "routine", "none")
BRUISING = BRUISING_CHOICES
# The skin changes a patient can tick (key -> the patient's words); their tiers come
# from the protocol's answer rules.
SKIN_CHANGES = SKIN_CHOICES
MAX_NOTE = 2000


class AnswerError(ValueError):
    """An answer out of range; ``field`` names the form field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Answers:
    """One day's check-in, validated."""

    pain: int
    bruising: str
    itching: bool | None
    lumps: bool | None
    skin: frozenset[str]
    stockings_day: bool | None
    stockings_night: bool | None
    walked: bool | None
    elevated: bool | None
    note: str = ""
    red_flags: frozenset[str] = field(default_factory=frozenset)  # keys answered "yes"

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly form for storage."""
        return {
            "pain": self.pain,
            "bruising": self.bruising,
            "itching": self.itching,
            "lumps": self.lumps,
            "skin": sorted(self.skin),
            "stockings_day": self.stockings_day,
            "stockings_night": self.stockings_night,
            "walked": self.walked,
            "elevated": self.elevated,
            "note": self.note,
            "red_flags": sorted(self.red_flags),
        }


def questions_for_day(
    protocol: Protocol, treated_at: datetime, tz: ZoneInfo, on: date
) -> list[RedFlag]:
    """The protocol's red flags to ask about on a local date: those whose window covers it."""
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


def unasked_as_none(raw: dict[str, object], asked: frozenset[str]) -> dict[str, object]:
    """Raw answers with every fixed yes/no question not asked today set to None, so a
    question the page never showed is stored as not asked, never as "no"."""
    yes_no = ("lumps", "itching", "stockings_day", "stockings_night", "walked", "elevated")
    return {k: (None if k in yes_no and k not in asked else v) for k, v in raw.items()}


def check_answers(
    *,
    pain: object,
    bruising: object,
    itching: bool | None,
    lumps: bool | None,
    skin: list[str],
    stockings_day: bool | None,
    stockings_night: bool | None,
    walked: bool | None,
    elevated: bool | None,
    note: str,
    red_flags: dict[str, str] | list[str],
    asked: list[RedFlag],
) -> Answers:
    """Validate raw answers; out-of-range values are refused with the field named.

    ``red_flags`` maps every asked question's key to "yes" or "no": each must be
    answered, because a skipped warning-sign question must not pass as "no". A list
    (as stored) means the keys answered "yes".
    """
    try:
        pain_value = int(str(pain))
    except ValueError:
        raise AnswerError("pain", "Choose a pain score from 0 to 10.") from None
    if not 0 <= pain_value <= 10:
        raise AnswerError("pain", "Choose a pain score from 0 to 10.")
    if bruising not in BRUISING:
        raise AnswerError("bruising", "Choose how much bruising you have.")
    unknown = set(skin) - set(SKIN_CHANGES)
    if unknown:
        raise AnswerError("skin", "Choose skin changes from the list.")
    asked_keys = {f.key for f in asked}
    if isinstance(red_flags, dict):
        for flag in asked:
            if red_flags.get(flag.key) not in ("yes", "no"):
                raise AnswerError(f"rf-{flag.key}", "Please answer yes or no to this question.")
        yes = {k for k, v in red_flags.items() if v == "yes"}
    else:
        yes = set(red_flags)
    if yes - asked_keys:
        raise AnswerError("red_flags", "Answer only the questions shown.")
    if len(note) > MAX_NOTE:
        raise AnswerError("note", f"Please keep the note under {MAX_NOTE} characters.")
    return Answers(
        pain=pain_value,
        bruising=str(bruising),
        itching=None if itching is None else bool(itching),
        lumps=None if lumps is None else bool(lumps),
        skin=frozenset(skin),
        stockings_day=stockings_day,
        stockings_night=stockings_night,
        walked=None if walked is None else bool(walked),
        elevated=None if elevated is None else bool(elevated),
        note=note.strip(),
        red_flags=frozenset(yes),
    )


@dataclass(frozen=True)
class Triage:
    """The decision for one check-in: the highest tier reached, and why."""

    level: Level
    reasons: tuple[str, ...]

    @property
    def alerts_clinic(self) -> bool:
        """Emergency and same-day answers raise an alert for the clinic at once."""
        return self.level in ("emergency", "same_day")


def _worse(a: Level, b: Level) -> Level:
    return a if LEVELS.index(a) <= LEVELS.index(b) else b


def _rule_reason(rule: AnswerRule, answers: Answers) -> str | None:
    """The reason an answer rule (other than skin) gives, or None if it does not apply."""
    if rule.answer == "pain" and answers.pain >= (rule.at_least or 0):
        return f"Pain {answers.pain} out of 10"
    if rule.answer == "bruising" and answers.bruising in rule.choices:
        return f"{answers.bruising.title()} bruising"
    if rule.answer == "lumps" and answers.lumps:
        return "Tender lumps"
    if rule.answer == "itching" and answers.itching:
        return "Itching"
    return None


def _most_severe(tiers: list[Level]) -> Level:
    return min(tiers, key=LEVELS.index)


def _answer_findings(answer: str, rules: tuple[AnswerRule, ...], answers: Answers) -> list:
    """(tier, reason) pairs one fixed question's answer reaches under the rules."""
    matching = [r for r in rules if r.answer == answer]
    if answer == "skin":
        # One reason per ticked change, at the worst tier any rule gives it.
        found = []
        for key in sorted(answers.skin):
            tiers = [r.tier for r in matching if key in r.choices]
            if tiers:
                found.append((_most_severe(tiers), SKIN_CHANGES[key]))  # type: ignore[arg-type]
        return found
    if answer == "pain":
        # Of several pain rules, only the highest threshold reached counts.
        reached = [r for r in matching if answers.pain >= (r.at_least or 0)]
        matching = sorted(reached, key=lambda r: -(r.at_least or 0))[:1]
    hits = [(r.tier, reason) for r in matching if (reason := _rule_reason(r, answers))]
    if not hits:
        return []
    return [(_most_severe([t for t, _ in hits]), hits[0][1])]


# The order reasons are listed in: warning signs first, then skin, pain and the rest.
_ANSWER_ORDER = ("skin", "pain", "lumps", "bruising", "itching")


def triage(answers: Answers, asked: list[RedFlag], rules: tuple[AnswerRule, ...]) -> Triage:
    """Decide the tier of a check-in from the protocol's rules.

    * A "yes" to a red flag asked today takes that flag's tier (ref 2.6).
    * Each answer rule that applies gives its tier; with the shipped protocols: skin
      breakdown and pain 8/10 or more are same day, tender lumps, brown marks, new red
      vessels, moderate or severe bruising, itching and pain 5-7 routine (ref 2.5-2.6).
    * The highest tier wins; every reason is kept, warning signs first.
    """
    level: Level = "none"
    reasons: list[str] = []
    for flag in asked:
        if flag.key in answers.red_flags:
            level = _worse(level, flag.tier)
            reasons.append(flag.title)
    for answer in _ANSWER_ORDER:
        for tier, reason in _answer_findings(answer, rules, answers):
            level = _worse(level, tier)
            reasons.append(reason)
    return Triage(level, tuple(reasons))


def offline_rules(protocol: Protocol, treated_at: datetime, tz: ZoneInfo) -> dict[str, object]:
    """The triage rules as a table the check-in page carries for the phone to use offline.

    Each red flag has the first and last day number its window covers for this
    treatment (the days :func:`questions_for_day` asks it); answer rules are as written.
    The JSON is read by ``app/static/js/triage.js``, which decides exactly as
    :func:`triage` (a test runs both over every day and rule of the shipped protocols).
    """
    base = local_date(treated_at, tz)
    flags = []
    for f in protocol.red_flags:
        w = window(f.start, f.end, treated_at, tz)
        flags.append(
            {
                "key": f.key,
                "tier": f.tier,
                "title": f.title,
                "first_day": (w.first_date - base).days,
                "last_day": (w.last_date - base).days,
            }
        )
    return {
        "levels": list(LEVELS),
        "red_flags": flags,
        "answer_rules": [
            {"answer": r.answer, "tier": r.tier, "at_least": r.at_least, "choices": list(r.choices)}
            for r in protocol.answer_rules
        ],
        "skin_labels": dict(SKIN_CHANGES),
        "answer_order": list(_ANSWER_ORDER),
    }
