"""A clinic's aftercare protocol as data: the validated items a patient's plan is built from.

Clinics disagree on aftercare (no compression, 24 h, 72 h; sessions 2 to 12 weeks
apart), so every rule the app shows a patient comes from a protocol file, never from
code. These frozen dataclasses are what a protocol file becomes once
:func:`app.domain.protocol.parse.parse_protocol` has accepted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Literal

from app.domain.offsets import Offset

Tier = Literal["emergency", "same_day", "routine"]
TIERS: tuple[Tier, ...] = ("emergency", "same_day", "routine")
Doer = Literal["patient", "clinic"]
DOERS: tuple[Doer, ...] = ("patient", "clinic")


@dataclass(frozen=True)
class ChecklistItem:
    """Something to do before the appointment, due at an offset before it.

    ``starts`` marks an item that applies *from* a time (no lotions from 24 h
    before) rather than one to finish *by* a time (have a duplex scan).
    ``by = "clinic"`` marks the clinic's own task (a duplex scan, the consultation):
    the patient is told "your clinic will ...", cannot tick it, is never told it is
    overdue or reminded about it, and the clinician confirms it when recording the
    treatment (issue 14 point 10).
    """

    key: str
    title: str
    detail: str
    due: Offset
    source: str
    starts: Offset | None = None
    photo: bool = False
    time_critical: bool = False
    by: Doer = "patient"


@dataclass(frozen=True)
class DailyTask:
    """A task to tick on each day it applies (stockings, walks, leg elevation).

    ``stockings``: the clinic says whether the task is compression stocking wear
    (``true``) or not (``false``); None when the file does not say. A task marked
    ``true`` is stocking wear whether or not a stockings question is asked during it
    (app/domain/recovery/stockings.py; issue 19, HAZ-05 C6).
    """

    key: str
    title: str
    detail: str
    start: Offset
    end: Offset
    source: str
    stockings: bool | None = None


@dataclass(frozen=True)
class Restriction:
    """Something to avoid from ``start`` until ``end`` (heat, sun, waxing, exercise)."""

    key: str
    title: str
    detail: str
    start: Offset
    end: Offset
    source: str


@dataclass(frozen=True)
class Milestone:
    """A moment worth telling the patient about ("stockings off at night from now")."""

    key: str
    title: str
    detail: str
    at: Offset
    source: str
    time_critical: bool = False


@dataclass(frozen=True)
class NormalNote:
    """What is normal to see or feel during a range of days ("looks worse first")."""

    key: str
    title: str
    detail: str
    start: Offset
    end: Offset
    source: str


@dataclass(frozen=True)
class RedFlag:
    """A warning sign, its urgency tier and when it matters most."""

    key: str
    tier: Tier
    title: str
    detail: str
    start: Offset
    end: Offset
    source: str
    kind: str | None = None  # one of requirements.KINDS: a sign every protocol must ask


@dataclass(frozen=True)
class Cover:
    """A red flag a question asks in detail, and the question's answer rules that stand
    for a "yes" to it: each reaches at least the flag's tier (checked by the loader)."""

    flag: str
    rules: tuple[str, ...]

    def __str__(self) -> str:
        # How the protocol diff shows it to a clinician signing a version off.
        return f"{self.flag} (by {' or '.join(self.rules)})"


@dataclass(frozen=True)
class Question:
    """A fixed check-in question the protocol asks: every day, or only on the days one
    of the ``during`` tasks applies (stockings questions while stockings are worn).
    ``covers``: red flags this question asks in detail, each with the answer rules that
    stand for it, so the check-in does not ask them a second time on the days it is
    asked (issue 19 point 3)."""

    key: str
    source: str
    during: tuple[str, ...] = ()
    covers: tuple[Cover, ...] = ()

    @property
    def covered_flags(self) -> tuple[str, ...]:
        """The keys of the red flags this question covers."""
        return tuple(c.flag for c in self.covers)


@dataclass(frozen=True)
class AnswerRule:
    """An answer to a fixed question that reaches a tier: pain ``at_least`` N, one of
    ``choices`` (skin changes, bruising), or a "yes" (lumps, itching)."""

    key: str
    answer: str
    tier: Tier
    source: str
    at_least: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Course:
    """How sessions of a course are spaced and how many are usual."""

    interval_weeks_min: int
    interval_weeks_max: int
    sessions_min: int
    sessions_max: int
    source: str


@dataclass(frozen=True)
class Protocol:
    """One version of a clinic protocol, fully validated."""

    key: str
    name: str
    summary: str
    compression: str
    course: Course
    checklist: tuple[ChecklistItem, ...] = ()
    tasks: tuple[DailyTask, ...] = ()
    restrictions: tuple[Restriction, ...] = ()
    milestones: tuple[Milestone, ...] = ()
    normal: tuple[NormalNote, ...] = ()
    red_flags: tuple[RedFlag, ...] = field(default_factory=tuple)
    questions: tuple[Question, ...] = ()
    answer_rules: tuple[AnswerRule, ...] = ()
