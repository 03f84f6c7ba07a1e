"""Reading one protocol file's values: typed, located, and every problem collected.

The reader turns a parsed TOML value into text, a tier, a flag or an
:class:`~app.domain.offsets.Offset`, and when it cannot, notes a :class:`Problem` with
the line of the field in the file rather than stopping, so one run names everything.
"""

from __future__ import annotations

import re
from typing import Any
from typing import Literal

from app.domain.offsets import Offset
from app.domain.offsets import OffsetSyntaxError
from app.domain.protocol.model import DOERS
from app.domain.protocol.model import TIERS
from app.domain.protocol.problems import Problem
from app.domain.protocol.requirements import KINDS

# A value a clinic page leaves open (page 2 gives no stocking duration). Written in the
# file in place of an offset, a number or a text, it names what the clinic must decide:
# ``validate`` lists it as "needs the clinic's value", ``load`` refuses the file until
# it is replaced. A number is never made up for the clinic.
OPEN_VALUE = "clinic must set"
MAX_TEXT = 600
# What a field's value must be; see Reader.convert.
FieldKind = Literal["text", "offset", "bool", "tier", "kind", "by"]


class Reader:
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

    def convert(self, kind: FieldKind, value: Any, item: str, fld: str, line: int | None) -> Any:
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


def written(data: dict[str, Any], section: str, fld: str) -> set[str]:
    """The text values of one field across a section's items, as written. Anything
    else (``key = ["x"]``, a table) is left out: its own field check names it, and it
    must not crash the reader with an unhashable value."""
    items = data.get(section) if isinstance(data.get(section), list) else []
    return {v for i in items if isinstance(i, dict) and isinstance(v := i.get(fld), str)}
