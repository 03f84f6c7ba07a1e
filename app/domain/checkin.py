"""The daily check-in: which questions to ask on day N, and red-flag triage.

Triage has three tiers (clinical reference §2.6): *emergency* (call the emergency
number now), *same day* (call the clinic today) and *routine* (the clinic reviews it).
The protocol's red flags are asked as yes/no questions in the window when each risk
peaks (e.g. allergy and stroke signs on days 0-1, calf pain on days 3-28, skin
breakdown on days 1-14); the fixed questions (pain, bruising, skin changes, stockings)
are asked every day. Every rule below names its source.

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
    itching: bool
    lumps: bool
    skin: frozenset[str]
    stockings_day: bool | None
    stockings_night: bool | None
    walked: bool
    elevated: bool
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


def check_answers(
    *,
    pain: object,
    bruising: object,
    itching: bool,
    lumps: bool,
    skin: list[str],
    stockings_day: bool | None,
    stockings_night: bool | None,
    walked: bool,
    elevated: bool,
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
        itching=bool(itching),
        lumps=bool(lumps),
        skin=frozenset(skin),
        stockings_day=stockings_day,
        stockings_night=stockings_night,
        walked=bool(walked),
        elevated=bool(elevated),
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
    for flag_on, label in (
        (answers.lumps, "Tender lumps"),
        (answers.bruising in ("moderate", "severe"), f"{answers.bruising.title()} bruising"),
        (answers.itching, "Itching"),
    ):
        if flag_on:
            level = _worse(level, "routine")
            reasons.append(label)
    return Triage(level, tuple(reasons))
