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


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a protocol file, located as precisely as possible."""

    filename: str
    item: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.filename}:{self.line}" if self.line else self.filename
        return f"{where}: {self.item}: field '{self.field}': {self.message}"


class ProtocolError(ValueError):
    """A protocol file was refused; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# Section name in the file -> (dataclass, fields: name -> (required, kind)).
_Kind = Literal["text", "offset", "bool", "tier", "by"]
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
    "red_flag": (RedFlag, {**_COMMON, **_RANGE, "tier": (True, "tier")}),
}
_PROTOCOL_FIELDS = {"key", "name", "summary", "compression"}
_COURSE_FIELDS = {
    "interval_weeks_min",
    "interval_weeks_max",
    "sessions_min",
    "sessions_max",
    "source",
}
MAX_TEXT = 600
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

    def text(self, value: Any, item: str, fld: str, line: int | None) -> str | None:
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
        if kind == "by":
            if value not in DOERS:
                self.problem(item, fld, f"must be one of {', '.join(DOERS)}", line)
                return None
            return value
        if kind == "tier":
            if value not in TIERS:
                self.problem(item, fld, f"must be one of {', '.join(TIERS)}", line)
                return None
            return value
        try:
            return Offset.parse(value)
        except OffsetSyntaxError as exc:
            self.problem(item, fld, str(exc), line)
            return None


def parse_protocol(text: str, filename: str = "<protocol>") -> Protocol:
    """Read and validate a protocol file.

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
    unknown = set(data) - {"protocol", "course", *_SECTIONS}
    for name in sorted(unknown):
        expected = f"expected one of protocol, course, {', '.join(_SECTIONS)}"
        reader.problem(name, name, f"unknown section; {expected}", reader.header_line(name))
    head = _read_table(reader, data, "protocol", _PROTOCOL_FIELDS, {"summary", "compression"})
    course = _read_course(reader, data)
    sections = {name: _read_items(reader, data, name) for name in _SECTIONS}
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
