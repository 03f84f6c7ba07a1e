"""What is wrong with a protocol file: one problem, and the error that lists them all.

A file is refused as a whole when anything in it is wrong, with every problem named by
file, item, line and field, so a clinic editing its file can fix it at once.
"""

from __future__ import annotations

from dataclasses import dataclass


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
