"""The daily check-in: which questions to ask on day N, and red-flag triage.

Triage has three tiers (clinical reference §2.6): *emergency* (call the emergency
number now), *same day* (call the clinic today) and *routine* (the clinic reviews it).
The protocol's red flags are asked as yes/no questions in the window when each risk
peaks (e.g. allergy and stroke signs on days 0-1, calf pain on days 3-28, skin
breakdown on days 1-14); the fixed questions (pain, bruising, skin changes, stockings)
are asked every day. Every rule below names its source.

Only what the patient said is recorded: the warning-sign questions of the day, pain and
bruising must be answered; the other yes/no questions may be left unanswered and are
then stored as not answered (None), never as "no" (issue 14 point 1).

Pure functions: answers and the protocol in, a decision out.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.protocol import Protocol
from app.domain.protocol import RedFlag
from app.domain.recovery import window

Level = Literal["emergency", "same_day", "routine", "none"]
LEVELS: tuple[Level, ...] = ("emergency", "same_day", "routine", "none")
BRUISING = ("none", "mild", "moderate", "severe")
# Skin changes a patient can pick. White, grey or black skin, a blister or an open sore
# at an injection site may be skin breakdown (necrosis or ulcer): same day (ref 2.6
# urgent tier; Asclera warnings). Brown marks are pigmentation: routine (ref 2.5).
SKIN_CHANGES = {
    "blister": ("A blister", "same_day"),
    "sore": ("An open sore", "same_day"),
    "pale": ("Skin turning white or grey", "same_day"),
    "black": ("Skin turning black", "same_day"),
    "brown": ("Brown marks or lines", "routine"),
    "red-vessels": ("New fine red vessels", "routine"),
}
MAX_NOTE = 2000


# The optional yes/no questions, in the order the form asks them, with the words the
# clinician's diary and the patient's own answers use. Each is stored as True, False or
# None (not answered): a skipped question is never turned into "no" (issue 14 point 1).
OPTIONAL_YES_NO = {
    "lumps": "Tender lumps",
    "itching": "Itching",
    "stockings_day": "Stockings in the day",
    "stockings_night": "Stockings at night",
    "walked": "Walked",
    "elevated": "Legs raised",
}
PAIN_MESSAGE = "Choose a pain score from 0 to 10."
BRUISING_MESSAGE = "Choose how much bruising you have."


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

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly form for storage (None stays null: not answered)."""
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
            "red_flags_no": sorted(self.red_flags_no),
        }


def not_answered(stored: dict[str, object]) -> list[str]:
    """The optional questions a stored check-in left unanswered, by their short names.

    A key missing from the stored answers counts as not answered too.
    """
    return [label for key, label in OPTIONAL_YES_NO.items() if stored.get(key) is None]


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


def questions_for_day(
    protocol: Protocol, treated_at: datetime, tz: ZoneInfo, on: date
) -> list[RedFlag]:
    """The protocol's red flags to ask about on a local date: those whose window covers it."""
    return [f for f in protocol.red_flags if window(f.start, f.end, treated_at, tz).covers_date(on)]


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
) -> Answers:
    """Validate raw answers; every problem is reported at once, each with its field.

    ``red_flags`` maps every asked question's key to "yes" or "no": each must be
    answered, because a skipped warning-sign question must not pass as "no". A list
    (as stored) means the keys answered "yes". The optional yes/no questions take
    True/False, "yes"/"no", or anything else for "not answered" (kept as None).

    :raises AnswerError: with ``errors`` naming every field that needs an answer or a
        change, in the order the form asks them.
    """
    errors, yes, no = _warning_signs(red_flags, asked)
    pain_value = _pain(pain)
    if pain_value is None:
        errors["pain"] = PAIN_MESSAGE
    if bruising not in BRUISING:
        errors["bruising"] = BRUISING_MESSAGE
    if set(skin) - set(SKIN_CHANGES):
        errors["skin"] = "Choose skin changes from the list."
    if len(note) > MAX_NOTE:
        errors["note"] = f"Please keep the note under {MAX_NOTE} characters."
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
    )


def _warning_signs(
    red_flags: dict[str, str] | list[str], asked: list[RedFlag]
) -> tuple[dict[str, str], set[str], set[str]]:
    """Errors, "yes" keys and "no" keys of the warning-sign answers.

    Every asked question needs a "yes" or a "no": one left out is an error, never a "no".
    """
    errors: dict[str, str] = {}
    asked_keys = {f.key for f in asked}
    if isinstance(red_flags, dict):
        for flag in asked:
            if red_flags.get(flag.key) not in ("yes", "no"):
                errors[f"rf-{flag.key}"] = f"Please answer yes or no: {flag.title}"
        yes = {k for k, v in red_flags.items() if v == "yes"}
        no = {k for k, v in red_flags.items() if v == "no"} & asked_keys
    else:
        yes = set(red_flags)
        no = asked_keys - yes
    if yes - asked_keys:
        errors["red_flags"] = "Answer only the questions shown."
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


def triage(answers: Answers, asked: list[RedFlag]) -> Triage:
    """Decide the tier of a check-in.

    * A "yes" to a protocol red flag takes that flag's tier (ref 2.6).
    * Skin breakdown (blister, sore, white/grey/black skin): same day (ref 2.6).
    * Pain 8/10 or more: same day, "severe or worsening pain" (ref 2.6; Asclera).
    * Tender lumps, brown marks, new red vessels, bruising, itching, pain 5-7:
      routine, reviewed by the clinic (ref 2.5-2.6 routine tier).
    """
    level: Level = "none"
    reasons: list[str] = []
    for flag in asked:
        if flag.key in answers.red_flags:
            level = _worse(level, flag.tier)
            reasons.append(flag.title)
    for key in sorted(answers.skin):
        label, tier = SKIN_CHANGES[key]
        level = _worse(level, tier)  # type: ignore[arg-type]
        reasons.append(label)
    if answers.pain >= 8:
        level = _worse(level, "same_day")
        reasons.append(f"Pain {answers.pain} out of 10")
    elif answers.pain >= 5:
        level = _worse(level, "routine")
        reasons.append(f"Pain {answers.pain} out of 10")
    # Only a "yes" counts: a question left unanswered (None) is "not reported", which
    # neither raises nor lowers the tier (and is shown to the clinic as not answered).
    for flag_on, label in (
        (answers.lumps is True, "Tender lumps"),
        (answers.bruising in ("moderate", "severe"), f"{answers.bruising.title()} bruising"),
        (answers.itching is True, "Itching"),
    ):
        if flag_on:
            level = _worse(level, "routine")
            reasons.append(label)
    return Triage(level, tuple(reasons))
