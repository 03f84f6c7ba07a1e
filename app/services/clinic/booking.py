"""What the booking and record-treatment forms start from, and the interval warning.

* ``booking_defaults``: the next session's protocol (the patient's last one: the
  latest session done or booked, not cancelled) and a date in that protocol's interval
  window, counted from the last treatment (app/domain/booking.py).
* ``check_interval``: a date inside the protocol's minimum interval of another session
  is ``TooSoon``, which the booking form shows as a warning to confirm.
* ``record_defaults``: the record-treatment form pre-filled with the booked date and
  time (the patient's wall clock, DST included) and what the last session recorded;
  a recorded session, with its own values, to correct it.

Nothing is written here: the use-cases in ``sessions`` call these before they persist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from datetime import datetime
from datetime import time
from zoneinfo import ZoneInfo

from app.domain import booking
from app.i18n import _
from app.i18n import format_day
from app.i18n import ngettext
from app.models import Patient
from app.models import ProtocolVersion
from app.models import Treatment
from app.models import TreatmentStatus
from app.principal import Principal
from app.services import protocols
from app.services.errors import Invalid
from app.services.protocols import protocol_by_version

# A new booking's default time of day, when the last session gives none.
DEFAULT_TIME = time(10, 0)


class TooSoon(Invalid):
    """A booking inside the protocol's minimum interval of another session: shown as a
    warning with a tick to book it anyway (never a refusal: the clinician may have a
    reason, such as another leg)."""

    def __init__(self, message: str, opens: date):
        super().__init__("confirm_soon", message)
        self.opens = opens


def session_day(treatment: Treatment, tz: ZoneInfo) -> date:
    """A session's local date: when it was treated, else when it is booked."""
    at = treatment.treated_at if treatment.status == TreatmentStatus.DONE else None
    return (at or treatment.appointment_at).astimezone(tz).date()


def _when(treatment: Treatment) -> datetime:
    if treatment.status == TreatmentStatus.DONE and treatment.treated_at is not None:
        return treatment.treated_at
    return treatment.appointment_at


def latest_session(sessions: list[Treatment]) -> Treatment | None:
    """The patient's last session done or booked (a cancelled one does not count)."""
    live = [t for t in sessions if t.status != TreatmentStatus.CANCELLED]
    return max(live, key=_when, default=None)


@dataclass(frozen=True)
class BookingDefaults:
    """What the booking form starts with, and the window it suggests."""

    protocol_id: int | None
    day: date
    at: time
    window: booking.Window | None  # None: no session yet to count from


def booking_defaults(
    clinician: Principal,
    patient: Patient,
    sessions: list[Treatment],
    choices: list[ProtocolVersion],
    now: datetime,
) -> BookingDefaults:
    """The patient's last protocol (when it is offered), else the clinic's default,
    and the first date of its interval window after the last session."""
    tz = ZoneInfo(patient.timezone)
    last = latest_session(sessions)
    offered = {v.id: v for v in choices}
    version = last.protocol_version if last is not None else None
    if version is None or version.id not in offered:
        key = clinician.clinic.default_protocol_key
        version = next((v for v in choices if key and v.key == key), None)
    at = _when(last).astimezone(tz).time().replace(second=0, microsecond=0) if last else None
    today = now.astimezone(tz).date()
    if version is None:
        return BookingDefaults(None, booking.suggest(None, 0, 0, today), at or DEFAULT_TIME, None)
    course = protocol_by_version(version.id, version.sha256).course
    last_day = session_day(last, tz) if last is not None else None
    day = booking.suggest(last_day, course.interval_weeks_min, course.interval_weeks_max, today)
    window = (
        booking.window(last_day, course.interval_weeks_min, course.interval_weeks_max)
        if last_day
        else None
    )
    return BookingDefaults(version.id, day, at or DEFAULT_TIME, window)


def check_interval(
    patient: Patient,
    version: ProtocolVersion,
    appointment: datetime,
    sessions: list[Treatment],
    moving: int | None = None,
) -> None:
    """Warn about a session inside the protocol's minimum interval of another one.

    :param moving: the session being moved, which does not count against itself.
    :raises TooSoon: with the other session's date and the date the window opens.
    """
    tz = ZoneInfo(patient.timezone)
    day = appointment.astimezone(tz).date()
    found, named = None, version
    for t in sessions:
        if t.status == TreatmentStatus.CANCELLED or t.id == moving:
            continue
        # Each session's protocol sets the earliest next session after it, so a
        # session on another protocol keeps its own minimum (24 h stockings: 6 weeks)
        # when the next is booked on a protocol with a shorter one (none: 2 weeks).
        # The larger minimum of the two counts, and the message names its protocol.
        weeks, name_of = _minimum(version), version
        if (theirs := _minimum(t.protocol_version)) > weeks:
            weeks, name_of = theirs, t.protocol_version
        clash = booking.too_soon(day, [session_day(t, tz)], weeks)
        if clash is not None and (
            found is None or (clash.days_apart, clash.other) < (found.days_apart, found.other)
        ):
            found, named = clash, name_of
    if found is None:
        return
    weeks = _("%(n)s weeks", n=found.weeks_min) if found.weeks_min != 1 else _("1 week")
    if found.later:
        message = ngettext(
            "This is only %(num)s day before the session on %(other)s. The protocol "
            "“%(name)s” asks for at least %(weeks)s between sessions.",
            "This is only %(num)s days before the session on %(other)s. The protocol "
            "“%(name)s” asks for at least %(weeks)s between sessions.",
            found.days_apart,
            other=_day(found.other),
            name=named.name,
            weeks=weeks,
        )
    else:
        message = ngettext(
            "This is only %(num)s day after the session on %(other)s. The protocol "
            "“%(name)s” asks for at least %(weeks)s between sessions: the window opens "
            "on %(opens)s.",
            "This is only %(num)s days after the session on %(other)s. The protocol "
            "“%(name)s” asks for at least %(weeks)s between sessions: the window opens "
            "on %(opens)s.",
            found.days_apart,
            other=_day(found.other),
            name=named.name,
            weeks=weeks,
            opens=_day(found.opens),
        )
    raise TooSoon(message, found.opens)


def _minimum(version: ProtocolVersion) -> int:
    """A protocol version's minimum interval between sessions, in weeks."""
    return protocol_by_version(version.id, version.sha256).course.interval_weeks_min


def _day(d: date) -> str:
    """ "Mon 7 Dec 2026" in the reader's locale (the one day formatter, app/i18n.py)."""
    return format_day(d, "short_year")


@dataclass(frozen=True)
class RecordDefaults:
    """The record-treatment form's starting values, by field name."""

    values: dict[str, object]


def record_defaults(treatment: Treatment, sessions: list[Treatment]) -> RecordDefaults:
    """A recorded session's own values (to correct it); else the booked date and time
    in the patient's zone, with the sclerosant, form, concentration and compression of
    the patient's last recorded session (the areas differ each time: left empty), and
    with no session recorded yet, the compression the session's protocol prescribes."""
    tz = ZoneInfo(treatment.patient.timezone)
    if treatment.status == TreatmentStatus.DONE and treatment.treated_at is not None:
        local = treatment.treated_at.astimezone(tz)
        source: Treatment | None = treatment
    else:
        local = treatment.appointment_at.astimezone(tz)
        done = [
            t
            for t in sessions
            if t.status == TreatmentStatus.DONE and t.treated_at and t.id != treatment.id
        ]
        source = max(done, key=lambda t: t.treated_at, default=None)
    at = local.time().replace(second=0, microsecond=0)
    values: dict[str, object] = {"date": local.date(), "time": at}
    # Compression as the session's protocol prescribes it, unless a session says more.
    version = treatment.protocol_version
    values["compression"] = protocol_by_version(version.id, version.sha256).compression
    if source is not None:
        values.update(
            sclerosant=source.sclerosant,
            form=source.form or None,
            concentration=source.concentration,
            # Another protocol prescribes other stockings: its own text, then.
            compression=(
                source.compression
                if source.compression and source.protocol_version.key == version.key
                else values["compression"]
            ),
        )
        if source is treatment:  # a correction starts from exactly what was saved
            values.update(areas=treatment.areas, compression=treatment.compression)
    return RecordDefaults(values)


def booking_choices(clinician: Principal, sessions: list[Treatment]) -> list[ProtocolVersion]:
    """The booking form's protocols: the version of the patient's last session first
    (the one a browser selects), even when a newer version has been signed off since,
    because patients keep their version; then the clinic's current ones (signed off)."""
    choices = protocols.latest_for_clinic(clinician.clinic_id, signed_off=True)
    last = latest_session(sessions)
    if last is None or last.protocol_version.signed_off_at is None:
        return choices
    own = last.protocol_version
    return [own, *(v for v in choices if v.id != own.id)]
