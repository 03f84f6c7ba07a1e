"""Whether a protocol's red flags cover the warning signs every protocol must ask.

Each required sign (:data:`~app.domain.protocol.requirements.REQUIRED_FLAGS`) must be
present, at its tier, and asked on at least its days for any treatment time, hours
read at their worst across a clock change.
"""

from __future__ import annotations

from typing import Any

from app.domain.offsets import Offset
from app.domain.protocol.model import RedFlag
from app.domain.protocol.reader import Reader
from app.domain.protocol.requirements import REQUIRED_FLAGS


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


def check_required_flags(reader: Reader, flags: list[RedFlag], written: set[Any]) -> None:
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
