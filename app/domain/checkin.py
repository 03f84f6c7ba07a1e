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

Only what the patient said is recorded: the warning-sign questions of the day, pain and
bruising must be answered; the other yes/no questions may be left unanswered and are
then stored as not answered (None), never as "no" (issue 14 point 1). Pure functions:
answers and the protocol in, a decision out; messages in the reader's language (``say``).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.checkin_day import NO_SKIN_CHANGE
from app.domain.checkin_day import SKIN_BOTH_MESSAGE as SKIN_BOTH_MESSAGE
from app.domain.checkin_day import SKIN_MESSAGE as SKIN_MESSAGE
from app.domain.checkin_day import fixed_questions_for_day as fixed_questions_for_day
from app.domain.checkin_day import questions_for_day as questions_for_day
from app.domain.checkin_day import skin_list_error
from app.domain.language import N_
from app.domain.language import say
from app.domain.offsets import local_date
from app.domain.protocol.model import AnswerRule
from app.domain.protocol.model import Protocol
from app.domain.protocol.model import RedFlag
from app.domain.protocol.requirements import BRUISING_CHOICES
from app.domain.protocol.requirements import SKIN_CHOICES
from app.domain.reasons import rule_reason
from app.domain.recovery.windows import window

Level = Literal["emergency", "same_day", "routine", "none"]
LEVELS: tuple[Level, ...] = ("emergency", "same_day", "routine", "none")
BRUISING = BRUISING_CHOICES
# The skin changes a patient can tick (key -> the patient's words); their tiers come
# from the protocol's answer rules.
SKIN_CHANGES = SKIN_CHOICES
MAX_NOTE = 2000
NOTE_MESSAGE = N_("Please keep the note under 2,000 characters.")


# The optional yes/no questions, in the order the form asks them, with the words the
# clinician's diary and the patient's own answers use. Each is stored as True, False or
# None (not answered): a skipped question is never turned into "no" (issue 14 point 1).
OPTIONAL_YES_NO = {
    "lumps": N_("Tender lumps"),
    "itching": N_("Itching"),
    "stockings_day": N_("Stockings in the day"),
    "stockings_night": N_("Stockings at night"),
    "walked": N_("Walked"),
    "elevated": N_("Legs raised"),
}
PAIN_MESSAGE = N_("Choose a pain score from 0 to 10.")
BRUISING_MESSAGE = N_("Choose how much bruising you have.")
ANSWER_MESSAGE = N_("Please answer yes or no: %(title)s")  # a warning sign's title


class AnswerError(ValueError):
    """Answers that cannot be stored. ``errors`` maps each form field to its message,
    in the order the form asks them; ``field`` and ``message`` are the first."""

    def __init__(self, field_name: str, message: str, errors: dict[str, str] | None = None):
        super().__init__(message)
        self.field = field_name
        self.message = message
        self.errors = errors or {field_name: message}


@dataclass(frozen=True)
class Answers:
    """One day's check-in, validated.

    Pain, bruising and every warning-sign question asked that day are required. The
    other yes/no questions may be left unanswered (None), and stay so: "not reported",
    never "no".
    """

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
    red_flags_no: frozenset[str] = field(default_factory=frozenset)  # keys answered "no"
    # "No skin changes" ticked: an empty ``skin`` said so, not left blank.
    skin_none: bool = False

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly form for storage (None stays null: not answered)."""
        return {
            "pain": self.pain,
            "bruising": self.bruising,
            "itching": self.itching,
            "lumps": self.lumps,
            "skin": sorted(self.skin),
            "skin_none": self.skin_none,
            "stockings_day": self.stockings_day,
            "stockings_night": self.stockings_night,
            "walked": self.walked,
            "elevated": self.elevated,
            "note": self.note,
            "red_flags": sorted(self.red_flags),
            "red_flags_no": sorted(self.red_flags_no),
        }


def not_answered(stored: dict[str, object]) -> list[str]:
    """The optional questions a stored check-in left unanswered, by their short names.

    A key missing from the stored answers counts as not answered too; a question the
    page did not ask that day (``not_asked``: no stockings on this protocol, or not any
    more) is not "not answered": the patient could not answer it.
    """
    skip = set(_strings(stored.get("not_asked")))
    return [
        label
        for key, label in OPTIONAL_YES_NO.items()
        if key not in skip and stored.get(key) is None
    ]


def answer_words(stored: dict[str, object], key: str) -> str:
    """One optional yes/no answer as the clinician's diary says it: "yes", "no", "not
    answered", or "not asked" when the page did not ask it that day."""
    # Marked: the diary says them in the reader's language (``translated``).
    if key in _strings(stored.get("not_asked")):
        return N_("not asked")
    value = stored.get(key)
    return (N_("yes") if value else N_("no")) if isinstance(value, bool) else N_("not answered")


def warning_answers(stored: dict[str, object], asked: list[RedFlag]) -> dict[str, str | None]:
    """Each asked warning-sign question's stored answer: "yes", "no" or None.

    Check-ins stored before "no" answers were kept separately (no ``red_flags_no``) had
    to answer every question shown, so any asked key not answered "yes" was a "no".
    """
    yes = set(_strings(stored.get("red_flags")))
    if "red_flags_no" in stored:
        no = set(_strings(stored.get("red_flags_no")))
    elif "red_flags" in stored:
        no = {f.key for f in asked} - yes
    else:  # nothing stored yet: nothing answered
        no = set()
    return {f.key: "yes" if f.key in yes else ("no" if f.key in no else None) for f in asked}


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def unasked_as_none(raw: dict[str, object], asked: frozenset[str]) -> dict[str, object]:
    """Raw answers with every fixed yes/no question not asked today set to None, so a
    question the page never showed is stored as not asked, never as "no"."""
    yes_no = ("lumps", "itching", "stockings_day", "stockings_night", "walked", "elevated")
    return {k: (None if k in yes_no and k not in asked else v) for k, v in raw.items()}


def _yes_no(value: object) -> bool | None:
    """A yes/no answer as given: True, False, or None when not answered.

    Anything other than a boolean or "yes"/"no" is "not answered": never "no".
    """
    if isinstance(value, bool):
        return value
    return {"yes": True, "no": False}.get(value) if isinstance(value, str) else None


def check_answers(
    *,
    pain: object,
    bruising: object,
    itching: object,
    lumps: object,
    skin: list[str],
    stockings_day: object,
    stockings_night: object,
    walked: object,
    elevated: object,
    note: str,
    red_flags: dict[str, str] | list[str],
    asked: list[RedFlag],
    covered: list[RedFlag] | tuple[RedFlag, ...] = (),
    skin_covers: tuple[RedFlag, ...] | None = None,
    skin_choices: tuple[str, ...] | None = None,
) -> Answers:
    """Validate raw answers; every problem is reported at once, each with its field.

    ``red_flags`` maps every asked question's key to "yes" or "no": each must be
    answered, because a skipped warning-sign question must not pass as "no". A list
    (as stored) means the keys answered "yes". The optional yes/no questions take
    True/False, "yes"/"no", or anything else for "not answered" (kept as None).
    ``covered``: the day's warning signs a fixed question asks instead
    (``checkin_day.day_questions``); not required, but an answer to one (from a page
    kept on a phone before the question set changed) is taken as given.
    ``skin_covers``: when the skin list is asked, the warning signs it asks that day
    (``DayQuestions.skin_covers``); the list then needs a tick or "none", since nothing
    ticked must not pass as "no skin breakdown". A page kept from before the list asked
    them answered each on its own: an explicit yes or no to each is an answer too.
    ``skin_choices``: the changes the page offered that day (None: any); others refused.

    :raises AnswerError: with ``errors`` naming every field that needs an answer or a
        change, in the order the form asks them.
    """
    errors, yes, no = _warning_signs(red_flags, asked, covered)
    pain_value = _pain(pain)
    if pain_value is None:
        errors["pain"] = say(PAIN_MESSAGE)
    if bruising not in BRUISING:
        errors["bruising"] = say(BRUISING_MESSAGE)
    skin_error = skin_list_error(skin, red_flags, skin_covers, skin_choices)
    if skin_error:
        errors["skin"] = skin_error
    skin_none = NO_SKIN_CHANGE in skin
    skin = [s for s in skin if s != NO_SKIN_CHANGE]
    if len(note.strip()) > MAX_NOTE:
        errors["note"] = say(NOTE_MESSAGE)
    if errors:
        first = next(iter(errors))
        raise AnswerError(first, errors[first], errors)
    assert pain_value is not None
    return Answers(
        pain=pain_value,
        bruising=str(bruising),
        itching=_yes_no(itching),
        lumps=_yes_no(lumps),
        skin=frozenset(skin),
        stockings_day=_yes_no(stockings_day),
        stockings_night=_yes_no(stockings_night),
        walked=_yes_no(walked),
        elevated=_yes_no(elevated),
        note=note.strip(),
        red_flags=frozenset(yes),
        red_flags_no=frozenset(no),
        skin_none=skin_none,
    )


def _warning_signs(
    red_flags: dict[str, str] | list[str],
    asked: list[RedFlag],
    covered: list[RedFlag] | tuple[RedFlag, ...] = (),
) -> tuple[dict[str, str], set[str], set[str]]:
    """Errors, "yes" keys and "no" keys of the warning-sign answers.

    Every asked question needs a "yes" or a "no": one left out is an error, never a "no".
    A covered one may be answered, never must be.
    """
    errors: dict[str, str] = {}
    asked_keys = {f.key for f in asked}
    allowed = asked_keys | {f.key for f in covered}
    if isinstance(red_flags, dict):
        for flag in asked:
            if red_flags.get(flag.key) not in ("yes", "no"):
                errors[f"rf-{flag.key}"] = say(ANSWER_MESSAGE, title=say(flag.title))
        yes = {k for k, v in red_flags.items() if v == "yes"}
        no = {k for k, v in red_flags.items() if v == "no"} & allowed
    else:
        yes = set(red_flags)
        no = asked_keys - yes
    if yes - allowed:
        errors["red_flags"] = say(N_("Answer only the questions shown."))
    return errors, yes, no


def _pain(pain: object) -> int | None:
    """A pain score from 0 to 10, or None for anything else (missing, out of range)."""
    try:
        value = int(str(pain))
    except ValueError:
        return None
    return value if 0 <= value <= 10 else None


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
    hits = [(r.tier, reason) for r in matching if (reason := rule_reason(r, answers))]
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
