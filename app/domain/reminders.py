"""Reminder planning: which notifications a treatment should produce, and when.

Every reminder has a stable key (unique per treatment), so planning again after a
reschedule updates the same rows instead of adding new ones. Due instants are computed
in the patient's time zone and then moved out of quiet hours, unless the protocol marks
the item time-critical. Nothing is sent here: the outbox service stores the plan and the
dispatcher sends it.

Push is best effort (clinical reference §3.2): nothing safety-critical depends on these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.offsets import local_date
from app.domain.offsets import local_instant
from app.domain.offsets import resolve
from app.domain.protocol import Protocol
from app.domain.recovery import next_session_window
from app.domain.recovery import window

Kind = Literal["checklist", "milestone", "daily", "next-session", "comment", "alert"]

# A "do by" checklist item is reminded this long before it is due.
CHECKLIST_LEAD = timedelta(hours=24)
# The daily reminder to open Today and check in, in the patient's local time.
DAILY_AT = time(9, 0)
# Daily check-ins are asked for, and missed ones followed up by the clinic, until this
# day after treatment: deep-vein thrombosis, the rare serious late complication, shows
# up 4-28 days after (clinical reference 2.6). Days with protocol tasks after this
# still get their reminder.
CHECKIN_DAYS = 28
NEXT_SESSION_AT = time(10, 0)


@dataclass(frozen=True)
class QuietHours:
    """A nightly window with no reminders, e.g. 21:00 to 08:00 (may wrap midnight)."""

    start: time = time(21, 0)
    end: time = time(8, 0)

    def contains(self, local: time) -> bool:
        """True when a local wall-clock time falls inside the quiet window."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class PlannedReminder:
    """One notification to send: a stable key, when, and where tapping it leads."""

    key: str
    kind: Kind
    due: datetime
    link: str
    time_critical: bool = False


def after_quiet_hours(due: datetime, tz: ZoneInfo, quiet: QuietHours) -> datetime:
    """Move an instant that falls in quiet hours to the moment they end (local time).

    The end is computed as a local wall-clock time on the right date, so a DST change
    during the night does not shift it by an hour.
    """
    local = due.astimezone(tz)
    if not quiet.contains(local.time().replace(tzinfo=None)):
        return due
    end_day: date = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        end_day += timedelta(days=1)  # evening part of a window that wraps midnight
    return local_instant(end_day, quiet.end, tz)


def plan_treatment(
    protocol: Protocol,
    *,
    appointment: datetime,
    treated_at: datetime | None,
    tz: ZoneInfo,
    quiet: QuietHours,
    next_booked: bool = False,
    next_treated_at: datetime | None = None,
) -> list[PlannedReminder]:
    """Every reminder for one session, before and after treatment, in due order.

    Before treatment (``treated_at`` is None) only checklist reminders are planned, since
    aftercare starts from the recorded treatment time. A later session of the course
    changes this one's plan: once it is booked (``next_booked``) there is no "time to
    book" reminder, and once it is treated (``next_treated_at``) its own aftercare
    replaces this one's from then on, as on Today, so no reminder of this session is
    due after that.
    """
    raw: list[PlannedReminder] = []
    for item in protocol.checklist:
        if item.by == "clinic":
            continue  # the clinic's own task: nothing for the patient to do or be nagged about
        if item.starts is not None:
            at = resolve(item.starts, appointment, tz)
        else:
            at = resolve(item.due, appointment, tz) - CHECKLIST_LEAD
        raw.append(
            PlannedReminder(
                f"checklist:{item.key}", "checklist", at, "/patient/checklist", item.time_critical
            )
        )
    if treated_at is not None:
        raw.extend(_aftercare(protocol, treated_at, tz))
    planned = [
        r if r.time_critical else _moved(r, after_quiet_hours(r.due, tz, quiet)) for r in raw
    ]
    if next_booked:
        planned = [r for r in planned if r.kind != "next-session"]
    if next_treated_at is not None:
        planned = [r for r in planned if r.kind == "checklist" or r.due < next_treated_at]
    return sorted(planned, key=lambda r: (r.due, r.key))


def _moved(r: PlannedReminder, due: datetime) -> PlannedReminder:
    return PlannedReminder(r.key, r.kind, due, r.link, r.time_critical)


def _aftercare(protocol: Protocol, treated_at: datetime, tz: ZoneInfo) -> list[PlannedReminder]:
    out = [
        PlannedReminder(
            f"milestone:{m.key}",
            "milestone",
            resolve(m.at, treated_at, tz),
            "/patient/today",
            m.time_critical,
        )
        for m in protocol.milestones
    ]
    # One "open Today" reminder for each day after treatment that has tasks to tick or
    # a check-in to send.
    days: set[int] = set(range(1, CHECKIN_DAYS + 1))
    start_date = local_date(treated_at, tz)
    for task in protocol.tasks:
        w = window(task.start, task.end, treated_at, tz)
        first = max((w.first_date - start_date).days, 1)
        days.update(range(first, (w.last_date - start_date).days + 1))
    for n in sorted(days):
        at = local_instant(start_date + timedelta(days=n), DAILY_AT, tz)
        out.append(PlannedReminder(f"daily:{n}", "daily", at, "/patient/today"))
    first, _last = next_session_window(protocol, treated_at, tz)
    out.append(
        PlannedReminder(
            "next-session",
            "next-session",
            local_instant(first, NEXT_SESSION_AT, tz),
            "/patient/plan",
        )
    )
    return out


# Lock screens are public: every notification says the same few generic words
# (security checklist F11). The page it opens shows the details after sign-in.
MESSAGES: dict[Kind, str] = {
    "checklist": "You have something to do before your appointment.",
    "milestone": "There is an update to your aftercare today.",
    "daily": "Your check-in and aftercare for today are ready.",
    "next-session": "A reminder from your clinic.",
    "comment": "You have a new message from your clinic.",
    "alert": "A patient needs attention. Open the clinic dashboard.",
}
TITLE = "ScleroCare"


def message_for(kind: str) -> str:
    """The generic, health-detail-free text of a notification of this kind."""
    return MESSAGES.get(kind, "A reminder from your clinic.")  # type: ignore[call-overload]
