"""The pre-treatment checklist as the patient sees it at one instant.

Each item is resolved against the appointment in the patient's time zone and is done,
overdue, to do now or upcoming; the clinic's own items are kept apart, never the
patient's to tick.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.offsets import resolve
from app.domain.protocol.model import ChecklistItem
from app.domain.protocol.model import Protocol

# "clinic": the clinic's own task (by = "clinic"); never done, overdue or due for the patient.
ItemState = Literal["done", "overdue", "now", "upcoming", "clinic"]


@dataclass(frozen=True)
class ChecklistEntry:
    """One checklist item as the patient sees it at ``now``."""

    item: ChecklistItem
    due: datetime
    starts: datetime | None
    state: ItemState
    done: bool


@dataclass(frozen=True)
class ChecklistView:
    """The whole pre-treatment checklist with progress."""

    entries: tuple[ChecklistEntry, ...]
    done_count: int
    overdue_count: int
    # What the clinic does before the appointment ("your clinic will ..."); not the
    # patient's to tick and not counted in the patient's progress.
    clinic_entries: tuple[ChecklistEntry, ...] = ()

    @property
    def total(self) -> int:
        """Number of the patient's items."""
        return len(self.entries)


def build_checklist(
    protocol: Protocol, appointment: datetime, tz: ZoneInfo, now: datetime, ticked: Set[str]
) -> ChecklistView:
    """The checklist for an appointment, ordered by when each item is due.

    An item is *overdue* when its due time has passed and it is not ticked; an item with
    a ``starts`` time is *now* from then until it is due; earlier, *upcoming*. The
    clinic's own items (``by = "clinic"``) go to ``clinic_entries`` in state "clinic":
    a scan the clinic books is never the patient's overdue task (issue 14 point 10).
    """
    entries = []
    clinic_entries = []
    for item in protocol.checklist:
        due = resolve(item.due, appointment, tz)
        starts = resolve(item.starts, appointment, tz) if item.starts else None
        if item.by == "clinic":
            clinic_entries.append(ChecklistEntry(item, due, starts, "clinic", False))
            continue
        done = item.key in ticked
        if done:
            state: ItemState = "done"
        elif now >= due:
            state = "overdue"
        elif starts is None or now >= starts:
            state = "now"
        else:
            state = "upcoming"
        entries.append(ChecklistEntry(item, due, starts, state, done))
    entries.sort(key=lambda e: (e.starts or e.due, e.due, e.item.key))
    return ChecklistView(
        entries=tuple(entries),
        done_count=sum(e.done for e in entries),
        overdue_count=sum(e.state == "overdue" for e in entries),
        clinic_entries=tuple(sorted(clinic_entries, key=lambda e: (e.due, e.item.key))),
    )
