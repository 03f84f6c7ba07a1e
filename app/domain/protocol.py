"""A clinic's aftercare protocol: the data model and its validating TOML reader.

Clinics disagree on aftercare (no compression, 24 h, 72 h; sessions 2 to 12 weeks
apart), so every rule the app shows a patient comes from a protocol file, never from
code. A file is refused as a whole when anything in it is wrong, with every problem
named by file, item, line and field, so a clinic editing its file can fix it at once.

The file format is documented in ``app/protocols/README.md``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Literal

from app.domain.offsets import Offset
from app.domain.offsets import OffsetSyntaxError

Tier = Literal["emergency", "same_day", "routine"]
TIERS: tuple[Tier, ...] = ("emergency", "same_day", "routine")
Doer = Literal["patient", "clinic"]
DOERS: tuple[Doer, ...] = ("patient", "clinic")

# A value a clinic page leaves open (page 2 gives no stocking duration). Written in the
# file in place of an offset, a number or a text, it names what the clinic must decide:
# ``validate`` lists it as "needs the clinic's value", ``load`` refuses the file until
# it is replaced. A number is never made up for the clinic.
OPEN_VALUE = "clinic must set"

# The daily check-in's fixed questions (besides the warning signs). The answers' shape
# is the app's; which of them a protocol asks, and how they are triaged, is protocol data.
QUESTIONS = (
    "pain",
    "bruising",
    "skin",
    "lumps",
    "itching",
    "stockings_day",
    "stockings_night",
    "walked",
    "elevated",
)
# Questions that every protocol must ask, and why.
REQUIRED_QUESTIONS = {
    "pain": "it carries the same-day rule for severe pain (ref 2.6)",
    "skin": "it carries the same-day rule for skin breakdown (ref 2.6)",
    "bruising": "the clinic's chart of each diary plots it next to pain",
}
BRUISING_CHOICES = ("none", "mild", "moderate", "severe")
# The skin changes a patient can tick, in the patient's words. Their tiers are protocol
# data (``[[answer_rule]]`` with ``answer = "skin"``).
SKIN_CHOICES = {
    "blister": "A blister",
    "sore": "An open sore",
    "pale": "Skin turning white or grey",
    "black": "Skin turning black",
    "brown": "Brown marks or lines",
    "red-vessels": "New fine red vessels",
}


@dataclass(frozen=True)
class RequiredFlag:
    """A warning sign every protocol must ask about: its tier and the days it must cover."""

    kind: str
    what: str
    tiers: tuple[Tier, ...]
    first_day: int
    last_day: int
    source: str


# Every protocol must carry these red flags, marked by ``kind`` (never found by title):
# the emergency signs and the same-day rule for a possible deep vein thrombosis, each
# asked over at least these days (whole local days, for any treatment time).
REQUIRED_FLAGS = (
    RequiredFlag(
        "allergy",
        "an allergic reaction (anaphylaxis)",
        ("emergency",),
        0,
        1,
        "ref 2.6: emergency tier, asked in the first hour or day",
    ),
    RequiredFlag(
        "stroke",
        "stroke or TIA signs",
        ("emergency",),
        0,
        1,
        "ref 2.6: emergency tier, asked in the first hour or day",
    ),
    RequiredFlag(
        "chest",
        "chest pain or sudden breathlessness (possible pulmonary embolism)",
        ("emergency",),
        0,
        28,
        "ref 2.6: emergency tier; ref 2.5: DVT or PE usually 4-28 days after",
    ),
    RequiredFlag(
        "calf",
        "calf or leg pain or swelling (possible deep vein thrombosis)",
        ("emergency", "same_day"),
        3,
        28,
        "ref 2.6: urgent tier, DVT questions through days 3-28",
    ),
)
KINDS = tuple(r.kind for r in REQUIRED_FLAGS)


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
    """A task to tick on each day it applies (stockings, walks, leg elevation)."""

    key: str
    title: str
    detail: str
    start: Offset
    end: Offset
    source: str


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
    kind: str | None = None  # one of KINDS for the warning signs every protocol must ask


@dataclass(frozen=True)
class Question:
    """A fixed check-in question the protocol asks: every day, or only on the days one
    of the ``during`` tasks applies (stockings questions while stockings are worn)."""

    key: str
    source: str
    during: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a protocol file, located as precisely as possible."""

    filename: str
    item: str
    field: str
    message: str
    line: int | None = None
    # True for a value written as OPEN_VALUE: the file is sound, the clinic must decide.
    needs_value: bool = False

    def __str__(self) -> str:
        where = f"{self.filename}:{self.line}" if self.line else self.filename
        return f"{where}: {self.item}: field '{self.field}': {self.message}"


class ProtocolError(ValueError):
    """A protocol file was refused; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @property
    def only_open_values(self) -> bool:
        """True when the file is sound but has values the clinic must still set."""
        return all(p.needs_value for p in self.problems)


# Section name in the file -> (dataclass, fields: name -> (required, kind)).
_Kind = Literal["text", "offset", "bool", "tier", "kind", "by"]
_COMMON: dict[str, tuple[bool, _Kind]] = {
    "key": (True, "text"),
    "title": (True, "text"),
    "detail": (False, "text"),
    "source": (True, "text"),
}
_RANGE = {"start": (True, "offset"), "end": (True, "offset")}
_SECTIONS: dict[str, tuple[type, dict[str, tuple[bool, _Kind]]]] = {
    "checklist": (
        ChecklistItem,
        {
            **_COMMON,
            "due": (True, "offset"),
            "starts": (False, "offset"),
            "photo": (False, "bool"),
            "time_critical": (False, "bool"),
            "by": (False, "by"),
        },
    ),
    "task": (DailyTask, {**_COMMON, **_RANGE}),
    "restriction": (Restriction, {**_COMMON, **_RANGE}),
    "milestone": (
        Milestone,
        {**_COMMON, "at": (True, "offset"), "time_critical": (False, "bool")},
    ),
    "normal": (NormalNote, {**_COMMON, **_RANGE}),
    "red_flag": (
        RedFlag,
        {**_COMMON, **_RANGE, "tier": (True, "tier"), "kind": (False, "kind")},
    ),
}
_CHECKIN_SECTIONS = ("question", "answer_rule")
_PROTOCOL_FIELDS = {"key", "name", "summary", "compression"}
_COURSE_FIELDS = {
    "interval_weeks_min",
    "interval_weeks_max",
    "sessions_min",
    "sessions_max",
    "source",
}
MAX_TEXT = 600

# The check-in rules the app applied in code before they became protocol data, for
# versions stored before then (``parse_protocol(..., stored=True)``): every question
# asked every day, and the tiers of the old code, with the sources it named.
LEGACY_CHECKIN = """
[[question]]
key = "pain"
source = "built-in check-in before protocol rules"
[[question]]
key = "bruising"
source = "built-in check-in before protocol rules"
[[question]]
key = "skin"
source = "built-in check-in before protocol rules"
[[question]]
key = "lumps"
source = "built-in check-in before protocol rules"
[[question]]
key = "itching"
source = "built-in check-in before protocol rules"
[[question]]
key = "stockings_day"
source = "built-in check-in before protocol rules"
[[question]]
key = "stockings_night"
source = "built-in check-in before protocol rules"
[[question]]
key = "walked"
source = "built-in check-in before protocol rules"
[[question]]
key = "elevated"
source = "built-in check-in before protocol rules"

[[answer_rule]]
key = "skin-breakdown"
answer = "skin"
choices = ["blister", "sore", "pale", "black"]
tier = "same_day"
source = "ref 2.6 urgent tier: skin necrosis or ulcer (Asclera warnings)"
[[answer_rule]]
key = "skin-marks"
answer = "skin"
choices = ["brown", "red-vessels"]
tier = "routine"
source = "ref 2.5: pigmentation and matting"
[[answer_rule]]
key = "pain-severe"
answer = "pain"
at_least = 8
tier = "same_day"
source = "ref 2.6 urgent tier: severe or worsening pain (Asclera)"
[[answer_rule]]
key = "pain-moderate"
answer = "pain"
at_least = 5
tier = "routine"
source = "ref 2.5-2.6 routine tier"
[[answer_rule]]
key = "lumps"
answer = "lumps"
tier = "routine"
source = "ref 2.5-2.6 routine tier: trapped blood"
[[answer_rule]]
key = "bruising"
answer = "bruising"
choices = ["moderate", "severe"]
tier = "routine"
source = "ref 2.5-2.6 routine tier"
[[answer_rule]]
key = "itching"
answer = "itching"
tier = "routine"
source = "ref 2.5-2.6 routine tier"
"""
_AT_LINE = re.compile(r"at line (\d+)")


class _Reader:
    """Collects problems while turning parsed TOML into dataclasses."""

    def __init__(self, filename: str, text: str):
        self.filename = filename
        self.lines = text.splitlines()
        self.problems: list[Problem] = []

    def problem(self, item: str, fld: str, message: str, line: int | None = None) -> None:
        self.problems.append(Problem(self.filename, item, fld, message, line))

    def header_line(self, header: str, index: int = 0) -> int | None:
        """Line number (1-based) of the index-th ``[header]`` or ``[[header]]``.

        TOML allows spaces inside the brackets and a comment after the header.
        """
        pattern = re.compile(rf"^\s*\[\[?\s*{re.escape(header)}\s*\]\]?\s*(#.*)?$")
        seen = 0
        for number, raw in enumerate(self.lines, start=1):
            if pattern.match(raw):
                if seen == index:
                    return number
                seen += 1
        return None

    def field_line(self, header: int | None, fld: str) -> int | None:
        """The line of ``fld = ...`` in the table that starts at line ``header``."""
        if header is None:
            return None
        pattern = re.compile(rf"^\s*{re.escape(fld)}\s*=")
        for number in range(header + 1, len(self.lines) + 1):
            raw = self.lines[number - 1]
            if raw.lstrip().startswith("["):
                break
            if pattern.match(raw):
                return number
        return header

    def open_value(
        self,
        value: Any,
        item: str,
        fld: str,
        line: int | None,
        example: str = "a few words of text",
    ) -> bool:
        """True (and noted) when the file leaves this value to the clinic."""
        if value != OPEN_VALUE:
            return False
        self.problems.append(
            Problem(
                self.filename,
                item,
                fld,
                f"needs the clinic's value: replace '{OPEN_VALUE}' with your own ({example})",
                self.field_line(line, fld),
                needs_value=True,
            )
        )
        return True

    def text(self, value: Any, item: str, fld: str, line: int | None) -> str | None:
        if self.open_value(value, item, fld, line):
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(item, fld, "must be non-empty text", line)
            return None
        if len(value) > MAX_TEXT:
            self.problem(item, fld, f"is longer than {MAX_TEXT} characters", line)
            return None
        return " ".join(value.split())

    def convert(self, kind: _Kind, value: Any, item: str, fld: str, line: int | None) -> Any:
        if kind == "text":
            return self.text(value, item, fld, line)
        if kind == "bool":
            if not isinstance(value, bool):
                self.problem(item, fld, "must be true or false", line)
            return value
        choices = {"by": DOERS, "tier": TIERS, "kind": KINDS}.get(kind)
        if choices is not None:
            if value not in choices:
                self.problem(item, fld, f"must be one of {', '.join(choices)}", line)
                return None
            return value
        if self.open_value(value, item, fld, line, "an offset such as 'day 14' or '72h'"):
            return None
        try:
            return Offset.parse(value)
        except OffsetSyntaxError as exc:
            self.problem(item, fld, str(exc), line)
            return None


def parse_protocol(text: str, filename: str = "<protocol>", *, stored: bool = False) -> Protocol:
    """Read and validate a protocol file.

    :param stored: the text of a version already in the database. It passed the checks
        of its day when it was loaded, and a patient's plan is pinned to it, so it is not
        refused for a rule added since: a version from before check-in questions and
        answer rules were protocol data gets the rules the app applied then
        (:data:`LEGACY_CHECKIN`), and the required warning signs are not checked again.
    :returns: the protocol, immutable.
    :raises ProtocolError: naming every problem (file, item, line, field).
    """
    reader = _Reader(filename, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _AT_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        problem = Problem(filename, "file", "syntax", f"not valid TOML: {exc}", line)
        raise ProtocolError([problem]) from None
    known = ("protocol", "course", *_SECTIONS, *_CHECKIN_SECTIONS)
    unknown = set(data) - set(known)
    for name in sorted(unknown):
        expected = f"expected one of {', '.join(known)}"
        reader.problem(name, name, f"unknown section; {expected}", reader.header_line(name))
    if stored and not any(name in data for name in _CHECKIN_SECTIONS):
        data = {**data, **tomllib.loads(LEGACY_CHECKIN)}
    head = _read_table(reader, data, "protocol", _PROTOCOL_FIELDS, {"summary", "compression"})
    course = _read_course(reader, data)
    sections = {name: _read_items(reader, data, name) for name in _SECTIONS}
    # Keys as written (a task refused for another reason must not cascade).
    task_keys = _written(data, "task", "key")
    questions = _read_questions(reader, data, task_keys)
    rules = _read_answer_rules(reader, data, questions)
    if not stored:
        _check_required_flags(reader, sections["red_flag"], _written(data, "red_flag", "kind"))
    if reader.problems:
        raise ProtocolError(reader.problems)
    return Protocol(
        key=head["key"],
        name=head["name"],
        summary=head.get("summary") or "",
        compression=head.get("compression") or "",
        course=course,  # type: ignore[arg-type]
        checklist=tuple(sections["checklist"]),
        tasks=tuple(sections["task"]),
        restrictions=tuple(sections["restriction"]),
        milestones=tuple(sections["milestone"]),
        normal=tuple(sections["normal"]),
        red_flags=tuple(sections["red_flag"]),
        questions=tuple(questions),
        answer_rules=tuple(rules),
    )


def _entries(reader: _Reader, data: dict[str, Any], section: str) -> list[tuple[str, int, Any]]:
    """A list section's entries as (label, line, table); a missing section is refused."""
    entries = data.get(section)
    if entries is None:
        reader.problem(
            f"[[{section}]]",
            section,
            "section is missing; see 'Check-in questions and triage' in the protocol README",
        )
        return []
    if not isinstance(entries, list):
        reader.problem(section, section, f"must be written as [[{section}]] entries")
        return []
    out: list[tuple[str, int, Any]] = []
    for index, entry in enumerate(entries):
        line = reader.header_line(section, index)
        label = f"{section} #{index + 1}"
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            label = f"{section} '{entry['key']}'"
        if not isinstance(entry, dict):
            reader.problem(label, section, "must be a table", line)
            continue
        out.append((label, line, entry))  # type: ignore[arg-type]
    return out


def _unknown_fields(
    reader: _Reader, entry: dict[str, Any], allowed: tuple[str, ...], label: str, line: int | None
) -> None:
    for fld in sorted(set(entry) - set(allowed)):
        reader.problem(label, fld, f"unknown field; allowed: {', '.join(allowed)}", line)


def _read_questions(reader: _Reader, data: dict[str, Any], task_keys: set[Any]) -> list[Question]:
    """``[[question]]``: which fixed questions are asked, and on which days."""
    questions: list[Question] = []
    seen: set[str] = set()
    for label, line, entry in _entries(reader, data, "question"):
        before = len(reader.problems)
        _unknown_fields(reader, entry, ("key", "during", "source"), label, line)
        key = entry.get("key")
        if key not in QUESTIONS:
            reader.problem(label, "key", f"must be one of {', '.join(QUESTIONS)}", line)
        elif key in seen:
            reader.problem(label, "key", f"'{key}' is used twice in [[question]]", line)
        source = reader.text(entry.get("source"), label, "source", line)
        during = _during(reader, entry.get("during", []), task_keys, label, line)
        if len(reader.problems) == before and source is not None:
            seen.add(key)  # type: ignore[arg-type]
            questions.append(Question(key, source, during))  # type: ignore[arg-type]
    asked = {q.key for q in questions}
    for key, why in REQUIRED_QUESTIONS.items() if "question" in data else ():
        if key not in asked:
            reader.problem(
                "[[question]]",
                "key",
                f"every protocol must ask '{key}': {why}",
                reader.header_line("question"),
            )
    return questions


def _during(
    reader: _Reader, during: Any, task_keys: set[Any], label: str, line: int | None
) -> tuple[str, ...]:
    if not isinstance(during, list) or not all(isinstance(d, str) for d in during):
        reader.problem(label, "during", 'must be a list of task keys, e.g. ["walks"]', line)
        return ()
    for name in during:
        if name not in task_keys:
            reader.problem(label, "during", f"no [[task]] has the key '{name}'", line)
    return tuple(during)


def _read_answer_rules(
    reader: _Reader, data: dict[str, Any], questions: list[Question]
) -> list[AnswerRule]:
    """``[[answer_rule]]``: the answers to fixed questions that reach a tier."""
    asked = {q.key for q in questions}
    allowed = ("key", "answer", "tier", "at_least", "choices", "source")
    rules: list[AnswerRule] = []
    keys: set[str] = set()
    for label, line, entry in _entries(reader, data, "answer_rule"):
        before = len(reader.problems)
        _unknown_fields(reader, entry, allowed, label, line)
        key = reader.text(entry.get("key"), label, "key", line)
        source = reader.text(entry.get("source"), label, "source", line)
        tier = reader.convert("tier", entry.get("tier"), label, "tier", line)
        answer, at_least, choices = _answer_condition(reader, entry, label, line)
        if answer is not None and answer not in asked and "question" in data:
            reader.problem(label, "answer", f"'{answer}' is not in [[question]]", line)
        if key is not None and key in keys:
            reader.problem(label, "key", f"'{key}' is used twice in [[answer_rule]]", line)
        if len(reader.problems) > before:
            continue
        keys.add(key)  # type: ignore[arg-type]
        rules.append(AnswerRule(key, answer, tier, source, at_least, choices))  # type: ignore[arg-type]
    if "skin" in asked:
        # Every skin change a patient can tick must reach the clinic at some tier.
        covered = {c for r in rules if r.answer == "skin" for c in r.choices}
        missing = [c for c in SKIN_CHOICES if c not in covered]
        if missing and not reader.problems:
            reader.problem(
                "[[answer_rule]]",
                "choices",
                f"no rule gives a tier to the skin change(s) {', '.join(missing)}",
                reader.header_line("answer_rule"),
            )
    return rules


def _answer_condition(
    reader: _Reader, entry: dict[str, Any], label: str, line: int | None
) -> tuple[str | None, int | None, tuple[str, ...]]:
    """An answer rule's (answer, at_least, choices), each checked against the answer."""
    answer, at_least, choices = entry.get("answer"), entry.get("at_least"), entry.get("choices")
    choices_for = {"skin": tuple(SKIN_CHOICES), "bruising": BRUISING_CHOICES}
    if answer not in ("pain", "bruising", "skin", "lumps", "itching"):
        reader.problem(label, "answer", "must be one of pain, bruising, skin, lumps, itching", line)
        return None, None, ()
    if answer == "pain":
        if not isinstance(at_least, int) or isinstance(at_least, bool) or not 1 <= at_least <= 10:
            reader.problem(label, "at_least", "must be a whole number from 1 to 10", line)
    elif at_least is not None:
        reader.problem(label, "at_least", 'is only for answer = "pain"', line)
    if answer in choices_for:
        valid = choices_for[answer]
        if not isinstance(choices, list) or not choices or not set(choices) <= set(valid):
            reader.problem(label, "choices", f"must be a list of: {', '.join(valid)}", line)
            choices = []
    elif choices is not None:
        reader.problem(label, "choices", 'is only for answer = "skin" or "bruising"', line)
    return answer, at_least, tuple(choices or ())


def _covers(start: Offset, end: Offset, first_day: int, last_day: int) -> tuple[bool, bool]:
    """(start early enough, end late enough) to cover whole days first..last.

    This must hold for any treatment time.
    Hours count from the treatment instant, which may fall anywhere in day 0, and a
    clock change can shorten a day by an hour, so hours are read at their worst.
    """
    if start.hours is not None:
        starts_ok = start.hours <= (0 if first_day == 0 else (first_day - 1) * 24 - 1)
    else:
        starts_ok = (start.day or 0) < first_day or (
            start.day == first_day and (start.at is None or start.at.hour == start.at.minute == 0)
        )
    if end.hours is not None:
        ends_ok = end.hours >= (last_day + 1) * 24 + 1
    else:
        ends_ok = (end.day or 0) > last_day or (end.day == last_day and end.at is None)
    return starts_ok, ends_ok


def _written(data: dict[str, Any], section: str, fld: str) -> set[str]:
    """The text values of one field across a section's items, as written. Anything
    else (``key = ["x"]``, a table) is left out: its own field check names it, and it
    must not crash the reader with an unhashable value."""
    items = data.get(section) if isinstance(data.get(section), list) else []
    return {v for i in items if isinstance(i, dict) and isinstance(v := i.get(fld), str)}


def _check_required_flags(reader: _Reader, flags: list[RedFlag], written: set[Any]) -> None:
    """Refuse a protocol without the emergency signs and the same-day calf rule.

    ``written``: the kinds as written, so a flag refused for another reason (a typo in
    its tier) is not also reported as missing.
    """
    for need in REQUIRED_FLAGS:
        found = [f for f in flags if f.kind == need.kind]
        days = f"days {need.first_day}-{need.last_day}"
        tiers = " or ".join(need.tiers)
        if not found and need.kind not in written:
            reader.problem(
                "[[red_flag]]",
                "kind",
                f'no red flag has kind = "{need.kind}": every protocol must ask about '
                f"{need.what} as {tiers}, on at least {days} ({need.source})",
                reader.header_line("red_flag"),
            )
            continue
        for flag in found:
            index = flags.index(flag)
            line = reader.header_line("red_flag", index)
            label = f"red_flag '{flag.key}'"
            if flag.tier not in need.tiers:
                reader.problem(
                    label, "tier", f"kind '{need.kind}' must be {tiers} ({need.source})", line
                )
            starts_ok, ends_ok = _covers(flag.start, flag.end, need.first_day, need.last_day)
            if not (starts_ok and ends_ok):
                reader.problem(
                    label,
                    "end" if starts_ok else "start",
                    f"kind '{need.kind}' must be asked on at least {days}, whatever the "
                    f"treatment time ({need.source})",
                    line,
                )


def _read_table(
    reader: _Reader, data: dict[str, Any], name: str, allowed: set[str], optional: set[str]
) -> dict[str, Any]:
    line = reader.header_line(name)
    table = data.get(name)
    if not isinstance(table, dict):
        reader.problem(f"[{name}]", name, "section is missing", line)
        return {}
    out: dict[str, Any] = {}
    for fld in sorted(set(table) - allowed):
        reader.problem(f"[{name}]", fld, "unknown field", line)
    for fld in sorted(allowed):
        if fld not in table:
            if fld not in optional:
                reader.problem(f"[{name}]", fld, "is required", line)
            continue
        out[fld] = reader.text(table[fld], f"[{name}]", fld, line)
    return out


def _read_course(reader: _Reader, data: dict[str, Any]) -> Course | None:
    line = reader.header_line("course")
    table = data.get("course")
    if not isinstance(table, dict):
        reader.problem("[course]", "course", "section is missing", line)
        return None
    for fld in sorted(set(table) - _COURSE_FIELDS):
        reader.problem("[course]", fld, "unknown field", line)
    numbers: dict[str, int] = {}
    for fld in sorted(_COURSE_FIELDS - {"source"}):
        value = table.get(fld)
        if reader.open_value(value, "[course]", fld, line, "a whole number from 1 to 52"):
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 52:
            reader.problem("[course]", fld, "must be a whole number from 1 to 52", line)
        else:
            numbers[fld] = value
    source = reader.text(table.get("source"), "[course]", "source", line)
    if len(numbers) < 4 or source is None:
        return None
    for low, high in (
        ("interval_weeks_min", "interval_weeks_max"),
        ("sessions_min", "sessions_max"),
    ):
        if numbers[low] > numbers[high]:
            reader.problem("[course]", low, f"must not be more than {high}", line)
    return Course(source=source, **numbers)


def _read_items(reader: _Reader, data: dict[str, Any], section: str) -> list[Any]:
    cls, spec = _SECTIONS[section]
    entries = data.get(section, [])
    if not isinstance(entries, list):
        reader.problem(section, section, f"must be written as [[{section}]] entries")
        return []
    items: list[Any] = []
    keys: set[str] = set()
    for index, entry in enumerate(entries):
        line = reader.header_line(section, index)
        label = f"{section} #{index + 1}"
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            label = f"{section} '{entry['key']}'"
        if not isinstance(entry, dict):
            reader.problem(label, section, "must be a table", line)
            continue
        item = _read_item(reader, cls, spec, entry, label, line)
        if item is None:
            continue
        _check_range(reader, section, item, label, line)
        if item.key in keys:
            reader.problem(label, "key", f"'{item.key}' is used twice in [[{section}]]", line)
        keys.add(item.key)
        items.append(item)
    return items


def _read_item(
    reader: _Reader,
    cls: Callable[..., Any],
    spec: dict[str, tuple[bool, _Kind]],
    entry: dict[str, Any],
    label: str,
    line: int | None,
) -> Any:
    before = len(reader.problems)
    for fld in sorted(set(entry) - set(spec)):
        reader.problem(label, fld, f"unknown field; allowed: {', '.join(spec)}", line)
    values: dict[str, Any] = {}
    for fld, (required, kind) in spec.items():
        if fld not in entry:
            if required:
                reader.problem(label, fld, "is required", line)
            continue
        values[fld] = reader.convert(kind, entry[fld], label, fld, line)
    if len(reader.problems) > before:
        return None
    values.setdefault("detail", "")
    return cls(**values)


def _check_range(reader: _Reader, section: str, item: Any, label: str, line: int | None) -> None:
    """A range must end after it starts; checklist items fall before the appointment."""
    if hasattr(item, "end") and item.end.rough_end_hours() <= item.start.rough_hours():
        reader.problem(label, "end", f"'{item.end}' is not after start '{item.start}'", line)
    if section == "checklist":
        if item.due.rough_hours() > 0:
            reader.problem(label, "due", "must be at or before the appointment", line)
        if item.starts is not None and item.starts.rough_hours() > item.due.rough_hours():
            reader.problem(label, "starts", "must not be after 'due'", line)
        if item.by == "clinic" and item.photo:
            reader.problem(
                label, "photo", "a clinic's own task cannot ask the patient for photos", line
            )
