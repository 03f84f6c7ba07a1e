"""Reading a protocol's tables and its lists of items (checklist, tasks, rules, notes).

``[protocol]`` and ``[course]`` are single tables; the item sections (``[[checklist]]``,
``[[task]]``, ``[[restriction]]``, ``[[milestone]]``, ``[[normal]]``, ``[[red_flag]]``)
share one reader driven by :data:`SECTIONS`, which names each field's kind and whether
it is required, and each item's range is checked for order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain.protocol.model import ChecklistItem
from app.domain.protocol.model import Course
from app.domain.protocol.model import DailyTask
from app.domain.protocol.model import Milestone
from app.domain.protocol.model import NormalNote
from app.domain.protocol.model import RedFlag
from app.domain.protocol.model import Restriction
from app.domain.protocol.reader import FieldKind
from app.domain.protocol.reader import Reader

_COMMON: dict[str, tuple[bool, FieldKind]] = {
    "key": (True, "text"),
    "title": (True, "text"),
    "detail": (False, "text"),
    "source": (True, "text"),
}
_RANGE = {"start": (True, "offset"), "end": (True, "offset")}
# Section name in the file -> (dataclass, fields: name -> (required, kind)).
SECTIONS: dict[str, tuple[type, dict[str, tuple[bool, FieldKind]]]] = {
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
    # ``stockings``: whether the task is compression stocking wear (stocking_marks.py).
    "task": (DailyTask, {**_COMMON, **_RANGE, "stockings": (False, "bool")}),
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
_COURSE_FIELDS = {
    "interval_weeks_min",
    "interval_weeks_max",
    "sessions_min",
    "sessions_max",
    "source",
}


def read_table(
    reader: Reader, data: dict[str, Any], name: str, allowed: set[str], optional: set[str]
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


def read_course(reader: Reader, data: dict[str, Any]) -> Course | None:
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


def read_items(reader: Reader, data: dict[str, Any], section: str) -> list[Any]:
    cls, spec = SECTIONS[section]
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
    reader: Reader,
    cls: Callable[..., Any],
    spec: dict[str, tuple[bool, FieldKind]],
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


def _check_range(reader: Reader, section: str, item: Any, label: str, line: int | None) -> None:
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
