"""What changed between two versions of one protocol, in words a clinician can check
before signing a version off (issue 17 point 3).

Two views of the same change: ``diff_protocols`` compares the parsed protocols item by
item (added, removed, changed, by section, with each changed field's old and new
value), and ``line_diff`` compares the TOML text line by line. The structured view is
what a reviewer reads; the line view shows everything, comments and order included,
which the parsed data does not keep.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from dataclasses import fields
from dataclasses import is_dataclass
from typing import Literal

from app.domain.protocol.model import Protocol

Change = Literal["added", "removed", "changed"]

# (Protocol attribute, heading shown to the reader), in the order of a protocol file.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("checklist", "Before the appointment"),
    ("tasks", "Daily tasks"),
    ("restrictions", "Things to avoid"),
    ("milestones", "Milestones"),
    ("normal", "What is normal"),
    ("red_flags", "Warning signs"),
    ("questions", "Check-in questions"),
    ("answer_rules", "Answers that alert the clinic"),
)

# Field names as a clinician would say them; any other name is shown as written.
FIELD_WORDS = {
    "title": "title",
    "detail": "text",
    "source": "source",
    "due": "due",
    "starts": "applies from",
    "start": "from",
    "end": "until",
    "at": "at",
    "tier": "urgency",
    "kind": "required sign",
    "by": "done by",
    "photo": "asks for a photo",
    "time_critical": "time-critical",
    "during": "asked while",
    "stockings": "stocking wear",
    "answer": "question",
    "at_least": "at least",
    "choices": "answers",
    "summary": "summary",
    "compression": "compression",
    "name": "name",
    "interval_weeks_min": "weeks between sessions (fewest)",
    "interval_weeks_max": "weeks between sessions (most)",
    "sessions_min": "sessions (fewest)",
    "sessions_max": "sessions (most)",
}


@dataclass(frozen=True)
class FieldChange:
    """One field of an item, before and after, as text."""

    field: str
    old: str
    new: str


@dataclass(frozen=True)
class ItemChange:
    """An item added, removed or changed; ``fields`` lists what changed."""

    key: str
    title: str
    change: Change
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class SectionDiff:
    """The changes within one section of the protocol."""

    heading: str
    items: tuple[ItemChange, ...]


@dataclass(frozen=True)
class ProtocolDiff:
    """Every change from one version to another, by section; empty when none."""

    sections: tuple[SectionDiff, ...]

    @property
    def unchanged(self) -> bool:
        return not self.sections

    def count(self, change: Change) -> int:
        return sum(1 for s in self.sections for i in s.items if i.change == change)


def as_text(value: object) -> str:
    """A field's value as a reader sees it: yes/no, a list joined, "none" for nothing."""
    if value is None or value == ():
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(as_text(v) for v in value)
    return str(value)


def _field_changes(old: object, new: object, skip: tuple[str, ...] = ("key",)) -> tuple:
    changes = []
    for f in fields(old):  # type: ignore[arg-type] - both are the same dataclass
        if f.name in skip:
            continue
        before, after = getattr(old, f.name), getattr(new, f.name)
        if before != after:
            word = FIELD_WORDS.get(f.name, f.name.replace("_", " "))
            changes.append(FieldChange(word, as_text(before), as_text(after)))
    return tuple(changes)


def _title(item: object) -> str:
    title = getattr(item, "title", None)
    return title if isinstance(title, str) else getattr(item, "key", "")


def _section(old: tuple, new: tuple) -> tuple[ItemChange, ...]:
    before = {item.key: item for item in old}
    after = {item.key: item for item in new}
    changes: list[ItemChange] = []
    # The new version's order first (what the patient will see), then what went away.
    for key, item in after.items():
        if key not in before:
            changes.append(ItemChange(key, _title(item), "added"))
        elif before[key] != item:
            changes.append(
                ItemChange(key, _title(item), "changed", _field_changes(before[key], item))
            )
    for key, item in before.items():
        if key not in after:
            changes.append(ItemChange(key, _title(item), "removed"))
    return tuple(changes)


def _about(old: Protocol, new: Protocol) -> tuple[ItemChange, ...]:
    """The protocol's own fields and its course, shown as two pseudo-items."""
    items = []
    top = tuple(
        FieldChange(FIELD_WORDS[name], as_text(getattr(old, name)), as_text(getattr(new, name)))
        for name in ("name", "summary", "compression")
        if getattr(old, name) != getattr(new, name)
    )
    if top:
        items.append(ItemChange("protocol", "The protocol", "changed", top))
    if is_dataclass(old.course) and old.course != new.course:
        course = _field_changes(old.course, new.course, skip=())
        items.append(ItemChange("course", "Course of sessions", "changed", course))
    return tuple(items)


def diff_protocols(old: Protocol, new: Protocol) -> ProtocolDiff:
    """What changed from ``old`` to ``new``: items matched by their key in each section."""
    sections = []
    about = _about(old, new)
    if about:
        sections.append(SectionDiff("About the protocol", about))
    for attr, heading in SECTIONS:
        items = _section(getattr(old, attr), getattr(new, attr))
        if items:
            sections.append(SectionDiff(heading, items))
    return ProtocolDiff(tuple(sections))


@dataclass(frozen=True)
class DiffLine:
    """One line of the text diff: ``kind`` is "same", "added", "removed" or "gap" (lines
    left out between changes); ``old``/``new`` are line numbers (None where absent)."""

    kind: Literal["same", "added", "removed", "gap"]
    text: str
    old: int | None = None
    new: int | None = None


def line_diff(old_text: str, new_text: str, context: int = 3) -> tuple[DiffLine, ...]:
    """The TOML texts compared line by line, with ``context`` unchanged lines around each
    change; empty when the texts are the same."""
    a, b = old_text.splitlines(), new_text.splitlines()
    if a == b:
        return ()
    out: list[DiffLine] = []
    last = ("equal", 0, len(a), 0, len(b))
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for n, group in enumerate(matcher.get_grouped_opcodes(context)):
        if n or group[0][1] > 0:
            out.append(DiffLine("gap", ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(DiffLine("same", a[i], i + 1, j1 + i - i1 + 1) for i in range(i1, i2))
                continue
            out.extend(DiffLine("removed", a[i], i + 1, None) for i in range(i1, i2))
            out.extend(DiffLine("added", b[j], None, j + 1) for j in range(j1, j2))
        last = group[-1]
    if last[2] < len(a) or last[4] < len(b):
        out.append(DiffLine("gap", ""))
    return tuple(out)
