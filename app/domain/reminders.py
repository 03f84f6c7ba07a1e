"""Reminder planning: which notifications a treatment should produce, and when.

Every reminder has a stable key (unique per treatment), so planning again after a
reschedule updates the same rows instead of adding new ones. Due instants are computed
in the patient's time zone and then moved out of quiet hours, unless the protocol marks
the item time-critical. Nothing is sent here: the outbox service stores the plan and the
dispatcher sends it.

Push is best effort (clinical reference §3.2): nothing safety-critical depends on these.

Lateness is a rule, not an accident: every reminder has a validity window (it expires
when its day, or the appointment it prepares for, is over), and ``decide_at_send``
checks that window and the quiet hours again when the dispatcher is about to send,
since a worker may have been down for days. After such a gap only the newest due
reminder of each kind goes out (``newest_per_kind``); the older ones are dropped, and
the clinic sees how many.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.domain.language import N_
from app.domain.language import say
from app.domain.localtime import local_instant
from app.domain.offsets import local_date
from app.domain.offsets import local_midnight
from app.domain.offsets import resolve
from app.domain.protocol.model import Protocol
from app.domain.recovery.resolved_plan import next_session_window
from app.domain.recovery.today import FOLLOW_UP_DAYS
from app.domain.recovery.windows import window

Kind = Literal["checklist", "milestone", "daily", "next-session", "comment", "alert", "export"]

# A "do by" checklist item is reminded this long before it is due.
CHECKLIST_LEAD = timedelta(hours=24)
# The daily reminder to open Today and check in, in the patient's local time.
DAILY_AT = time(9, 0)
# Daily check-ins are asked for, and missed ones followed up by the clinic, until this
# day after treatment: deep-vein thrombosis, the rare serious late complication, shows
# up 4-28 days after (clinical reference 2.6). Days with protocol tasks after this
# still get their reminder. One bound with Today's end of follow-up (issue 14 point 9).
CHECKIN_DAYS = FOLLOW_UP_DAYS
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
    # No longer worth sending after this instant (None: the kind's event window applies).
    expires: datetime | None = None


# Event messages (a clinic comment, an alert to a clinician's phone) are queued when
# something happens, not planned: they stay worth a push for this long. The comment
# stays on the patient's pages, and the alert on the clinic dashboard, after that.
EVENT_VALIDITY: dict[str, timedelta] = {
    "comment": timedelta(days=3),
    "alert": timedelta(hours=24),
}
DEFAULT_VALIDITY = timedelta(hours=24)


def end_of_local_day(instant: datetime, tz: ZoneInfo) -> datetime:
    """The first instant of the next local day: a "today" prompt is over by then."""
    return local_midnight(local_date(instant, tz) + timedelta(days=1), tz)


def expires_at(kind: str, due: datetime, stored: datetime | None) -> datetime:
    """When a reminder stops being worth sending: its planned expiry, else the kind's
    event window after it fell due."""
    if stored is not None:
        return stored
    return due + EVENT_VALIDITY.get(kind, DEFAULT_VALIDITY)


@dataclass(frozen=True)
class SendDecision:
    """What to do with a claimed reminder now: send it, send it later, or drop it."""

    action: Literal["send", "later", "drop"]
    at: datetime | None = None  # for "later": when quiet hours end
    reason: str = ""  # for "drop": what the clinic is told


def decide_at_send(
    *,
    kind: str,
    due: datetime,
    expires: datetime | None,
    now: datetime,
    tz: ZoneInfo | None,
    quiet: QuietHours | None,
    time_critical: bool,
) -> SendDecision:
    """Send now, re-schedule past quiet hours, or drop as too late (checked at send time).

    ``tz``/``quiet`` are None for a clinician's device (staff have no quiet hours). A
    reminder still valid when quiet hours end waits for that moment; one that would
    expire first is dropped, so yesterday's "today is ready" never arrives at 03:00.
    """
    end = expires_at(kind, due, expires)
    if now >= end:
        return SendDecision("drop", reason="too late: its time had passed")
    if time_critical or tz is None or quiet is None:
        return SendDecision("send")
    later = after_quiet_hours(now, tz, quiet)
    if later == now:
        return SendDecision("send")
    if later >= end:
        return SendDecision("drop", reason="too late: it would have arrived after its time")
    return SendDecision("later", at=later)


def newest_per_kind(
    rows: Iterable[tuple[int, tuple[str, int], str, datetime]],
) -> tuple[set[int], set[int], dict[int, int]]:
    """Of due reminders ``(id, recipient, kind, due)``, which to send, which a newer
    one of the same kind for the same recipient replaces (a catch-up after downtime sends
    one "today is ready", not three), and which are due at the very same instant as the
    one kept (two checklist items due together), each with the id of that one: when it
    is sent now, one notification says both (the dispatcher decides; a tie is never
    counted as replaced). Ties on ``due`` keep the higher id.

    :returns: (ids to keep, ids replaced by a newer one, {tied id: id kept}).
    """
    newest: dict[tuple[tuple[str, int], str], tuple[datetime, int]] = {}
    seen: list[tuple[int, tuple[tuple[str, int], str], datetime]] = []
    for row_id, recipient, kind, due in rows:
        key = (recipient, kind)
        seen.append((row_id, key, due))
        if key not in newest or (due, row_id) > newest[key]:
            newest[key] = (due, row_id)
    keep = {row_id for _, row_id in newest.values()}
    replaced: set[int] = set()
    together: dict[int, int] = {}
    for row_id, key, due in seen:
        if row_id in keep:
            continue
        if due == newest[key][0]:
            together[row_id] = newest[key][1]
        else:
            replaced.add(row_id)
    return keep, replaced, together


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
    end = local_instant(end_day, quiet.end, tz)
    if end <= due:
        # The end's wall time is repeated tonight (the clocks go back) and ``due`` is in
        # the repeat: the end is its second occurrence. Never an instant at or before
        # ``due``: a "later" in the past was claimed again at once, and the dispatcher
        # spun on it for the rest of the hour (adversarial review, 2026-12-08).
        again = datetime.combine(end_day, quiet.end).replace(tzinfo=tz, fold=1)
        end = max(again.astimezone(due.tzinfo), due)
    return end


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
        # A "before your appointment" prompt is useless once the item's time or the
        # appointment itself has passed.
        until = min(resolve(item.due, appointment, tz), appointment)
        raw.append(
            PlannedReminder(
                f"checklist:{item.key}",
                "checklist",
                at,
                "/patient/checklist",
                item.time_critical,
                until,
            )
        )
    if treated_at is not None:
        raw.extend(_aftercare(protocol, treated_at, tz))
    planned = [_ahead_of_time(_placed(r, tz, quiet), tz, quiet) for r in raw]
    if next_booked:
        planned = [r for r in planned if r.kind != "next-session"]
    if next_treated_at is not None:
        planned = [r for r in planned if r.kind == "checklist" or r.due < next_treated_at]
    return sorted(planned, key=lambda r: (r.due, r.key))


def _placed(r: PlannedReminder, tz: ZoneInfo, quiet: QuietHours) -> PlannedReminder:
    """Out of quiet hours (unless time-critical), with a "today" prompt's expiry."""
    return _expiring(r if r.time_critical else _moved(r, after_quiet_hours(r.due, tz, quiet)), tz)


def _ahead_of_time(r: PlannedReminder, tz: ZoneInfo, quiet: QuietHours) -> PlannedReminder:
    """A checklist reminder that would come only when it is over (an "on the day" item
    whose morning reminder is after an appointment at 01:30, or moved there by quiet
    hours) comes ``CHECKLIST_LEAD`` before its end instead, so it is sent at all
    (adversarial review, 2026-12-07: such a reminder could never be sent)."""
    if r.kind != "checklist" or r.expires is None or r.due < r.expires:
        return r
    earlier = _placed(_moved(r, r.expires - CHECKLIST_LEAD), tz, quiet)
    return earlier if earlier.due < r.expires else r


def _moved(r: PlannedReminder, due: datetime) -> PlannedReminder:
    return PlannedReminder(r.key, r.kind, due, r.link, r.time_critical, r.expires)


def _expiring(r: PlannedReminder, tz: ZoneInfo) -> PlannedReminder:
    """A "today" prompt (daily, milestone) is over when the local day it falls on ends,
    after any quiet-hours move; other kinds keep the expiry they were planned with."""
    if r.kind not in ("daily", "milestone"):
        return r
    return PlannedReminder(
        r.key, r.kind, r.due, r.link, r.time_critical, end_of_local_day(r.due, tz)
    )


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
    first, last = next_session_window(protocol, treated_at, tz)
    out.append(
        PlannedReminder(
            "next-session",
            "next-session",
            local_instant(first, NEXT_SESSION_AT, tz),
            "/patient/plan",
            # Worth sending while the window to book the next session is open.
            expires=local_midnight(last + timedelta(days=1), tz),
        )
    )
    return out


# Lock screens are public: every notification says the same few generic words
# (security checklist F11). The page it opens shows the details after sign-in.
# Said in the reader's language (the dispatcher writes each row in its reader's).
MESSAGES: dict[Kind, str] = {
    "checklist": N_("You have something to do before your appointment."),
    "milestone": N_("There is an update to your aftercare today."),
    "daily": N_("Your check-in and aftercare for today are ready."),
    "next-session": N_("A reminder from your clinic."),
    "comment": N_("You have a new message from your clinic."),
    "alert": N_("A patient needs attention. Open the clinic dashboard."),
    # The patient's "Download my data" zip is built (issue 20 point 1): no more than that.
    "export": N_("Your download is ready."),
}
TITLE = "ScleroCare"


def message_for(kind: str) -> str:
    """The generic, health-detail-free text of a notification of this kind, in the
    reader's language."""
    return say(MESSAGES.get(kind, MESSAGES["next-session"]))  # type: ignore[call-overload]
