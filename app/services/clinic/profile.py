"""The clinic settings page: what a clinic admin reads and changes (issue 17 point 2).

Name; main, out-of-hours and emergency numbers; out-of-hours advice; opening hours per
weekday (app/domain/weekly_hours.py turns the rows into the text app/domain/hours.py
reads); time zone; default protocol and quiet hours for new patients; reply-to email.

Every field is checked and every problem reported at once, on its own field; nothing
is stored unless all are right. Each changed field is audited with its value before and
after; a save that changes nothing writes nothing, so a double submit is harmless.

The time zone is the zone the opening hours are written in and the one a new patient's
form starts with. Existing patients keep their own zone: their reminders and day counts
follow where they live, not the clinic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from datetime import time

from app.domain import direction
from app.domain import hours as hours_domain
from app.domain.weekly_hours import DAY_MINUTES
from app.domain.weekly_hours import DayError
from app.domain.weekly_hours import DayRow
from app.domain.weekly_hours import rows_from_hours
from app.domain.weekly_hours import spec_from_rows
from app.extensions import db
from app.models import Clinic
from app.principal import Principal
from app.services import protocols
from app.services.accounts.staff import refuse_non_admin
from app.services.audit import audit
from app.services.clinic.checks import check_timezone
from app.services.clinic.settings import check_clinic_name
from app.services.clinic.settings import check_email
from app.services.clinic.settings import check_emergency_number
from app.services.clinic.settings import check_locale
from app.services.clinic.settings import check_out_of_hours
from app.services.clinic.settings import check_phone
from app.services.clinic.settings import summarise
from app.services.errors import Invalid
from app.services.errors import NotFound

ADVICE_MAX = 300
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# What the audit trail calls each setting, in the page's order.
LABELS = {
    "name": "name",
    "phone": "main number",
    "emergency_number": "emergency number",
    "out_of_hours_name": "out-of-hours line",
    "out_of_hours_phone": "out-of-hours number",
    "out_of_hours": "out-of-hours advice",
    "hours": "opening hours",
    "timezone": "time zone",
    "default_protocol_key": "default protocol",
    "quiet_hours": "default quiet hours",
    "reply_to_email": "reply-to email",
    "locale": "language and date style",
}


@dataclass(frozen=True)
class Settings:
    """The settings as the page's fields hold them: text, and a row per weekday."""

    name: str
    phone: str
    emergency_number: str
    out_of_hours_name: str
    out_of_hours_phone: str
    out_of_hours: str
    days: tuple[DayRow, ...]
    timezone: str
    default_protocol_key: str
    quiet_start: str
    quiet_end: str
    reply_to_email: str
    # Dates and the default language of patients' pages (issue 19 point 4); "" from a
    # page without the field leaves it as it is.
    locale: str = ""


class SettingsInvalid(Invalid):
    """Some settings break a rule: ``errors`` maps each field (``day-0`` .. ``day-6`` for
    the weekday rows) to its message. ``field`` and ``message`` are the first. ``page``
    is the page to show again, with what was typed."""

    def __init__(self, errors: dict[str, str]):
        first = next(iter(errors))
        super().__init__(first, errors[first])
        self.errors = errors
        self.page: SettingsPage | None = None


@dataclass(frozen=True)
class SettingsPage:
    """What the page shows: the clinic's name, the values, and the protocol choices."""

    clinic_name: str
    values: Settings
    protocols: list[tuple[str, str]] = field(default_factory=list)


def _admin_clinic(admin: Principal, lock: bool = False, address: str | None = None) -> Clinic:
    """The admin's own clinic; anyone else is told there is no such page, and a write
    (``address`` given) by a non-admin is audited: a forged POST, the page shows no form."""
    if not admin.is_admin:
        if address is not None:
            refuse_non_admin(admin, address, "change the clinic settings")
        raise NotFound("No such page.")
    return db.session.get(Clinic, admin.clinic_id, with_for_update=lock)


def _protocols(clinic_id: int) -> list[tuple[str, str]]:
    return [(v.key, f"{v.name} ({v.key})") for v in protocols.latest_for_clinic(clinic_id)]


def _hhmm(value: time) -> str:
    return f"{value:%H:%M}"


def current(clinic: Clinic) -> Settings:
    """The stored settings as the page's fields show them."""
    try:
        parsed = hours_domain.parse_hours(clinic.hours or "")
    except hours_domain.HoursError:  # never stored so; shown as closed rather than a 500
        parsed = hours_domain.OpeningHours()
    return Settings(
        name=clinic.name,
        phone=clinic.phone,
        emergency_number=clinic.emergency_number,
        out_of_hours_name=clinic.out_of_hours_name,
        out_of_hours_phone=clinic.out_of_hours_phone,
        out_of_hours=clinic.out_of_hours,
        days=tuple(rows_from_hours(parsed)),
        timezone=clinic.timezone,
        default_protocol_key=clinic.default_protocol_key,
        quiet_start=_hhmm(clinic.default_quiet_start),
        quiet_end=_hhmm(clinic.default_quiet_end),
        reply_to_email=clinic.reply_to_email,
        locale=clinic.locale,
    )


def settings_page(admin: Principal) -> SettingsPage:
    """The settings of the admin's clinic (404 for anyone but a clinic admin)."""
    clinic = _admin_clinic(admin)
    return SettingsPage(clinic.name, current(clinic), _protocols(clinic.id))


def _quiet(start: str, end: str) -> tuple[time, time]:
    found = [_TIME.match((t or "").strip()) for t in (start, end)]
    if not all(found):
        raise Invalid("quiet_hours", "Give quiet hours as two times like 21:00 and 08:00.")
    begin, finish = (time(int(m.group(1)), int(m.group(2))) for m in found if m)
    if begin == finish:
        raise Invalid("quiet_hours", "Quiet hours must start and end at different times.")
    return begin, finish


def _advice(text: str) -> str:
    text = " ".join((text or "").split())
    if len(text) > ADVICE_MAX:
        raise Invalid("out_of_hours", f"Keep the advice to {ADVICE_MAX} characters or fewer.")
    if direction.has_direction_controls(text):
        raise Invalid("out_of_hours", direction.MESSAGE)
    return text


# A night opening longer than this is read as the two times swapped: 17:00 to 09:00
# would have patients told at 3 am that the clinic is open and to ring it first.
NIGHT_MAX_MINUTES = 12 * 60


def _hours(days: tuple[DayRow, ...]) -> str:
    try:
        parsed = hours_domain.parse_hours(spec_from_rows(days))
    except DayError as exc:
        raise Invalid(f"day-{exc.weekday}", str(exc)) from None
    except hours_domain.HoursError as exc:
        raise Invalid("hours", str(exc)) from None
    for i in parsed.intervals:
        if i.end > DAY_MINUTES and i.length > NIGHT_MAX_MINUTES:
            day, opens, closes = hours_domain.DAY_NAMES[i.weekday], *i.label().split("-")
            next_day = hours_domain.DAY_NAMES[(i.weekday + 1) % 7]
            raise Invalid(
                f"day-{i.weekday}",
                f"{day}: {opens} to {closes} would keep the clinic open overnight until "
                f"{closes} on {next_day}. If it opens at {closes} and closes at {opens}, "
                "swap the two times.",
            )
    return summarise(parsed)


def _check(typed: Settings, protocol_keys: set[str]) -> dict[str, object]:
    """Each setting checked on its own; every problem collected, none stored."""
    checks = {
        "name": lambda: check_clinic_name(typed.name),
        "phone": lambda: check_phone(typed.phone, "phone", required=True),
        "emergency_number": lambda: check_emergency_number(typed.emergency_number),
        "out_of_hours_line": lambda: check_out_of_hours(
            typed.out_of_hours_name, typed.out_of_hours_phone
        ),
        "out_of_hours": lambda: _advice(typed.out_of_hours),
        "hours": lambda: _hours(typed.days),
        "timezone": lambda: check_timezone(typed.timezone).key,
        "default_protocol_key": lambda: _protocol_key(typed.default_protocol_key, protocol_keys),
        "quiet_hours": lambda: _quiet(typed.quiet_start, typed.quiet_end),
        "reply_to_email": lambda: _reply_to(typed.reply_to_email),
    }
    if typed.locale:
        checks["locale"] = lambda: check_locale(typed.locale)
    clean: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name, check in checks.items():
        try:
            clean[name] = check()
        except Invalid as exc:
            errors.setdefault(exc.field, exc.message)
    if errors:
        raise SettingsInvalid(errors)
    clean["out_of_hours_name"], clean["out_of_hours_phone"] = clean.pop("out_of_hours_line")
    return clean


def _reply_to(text: str) -> str:
    """The clinic's reply-to address: one plain address, ASCII only. It goes into the
    Reply-To header of every email; a non-ASCII one goes out as an encoded word
    (=?utf-8?q?...?=@host) that no reply reaches, and display names or lists would
    add other recipients."""
    email = check_email(text, "reply_to_email", False)
    if not email.isascii():
        raise Invalid(
            "reply_to_email",
            "Use an address with plain letters a to z, digits, dots and hyphens only: "
            "replies to other addresses may not arrive.",
        )
    return email


def _protocol_key(key: str, keys: set[str]) -> str:
    key = (key or "").strip()
    if key and key not in keys:
        raise Invalid("default_protocol_key", "Choose one of your clinic's protocols, or none.")
    return key


def _shown(value: object) -> str:
    text = str(value) if value != "" else "(blank)"
    return text if len(text) <= 120 else text[:117] + "..."


def update_settings(admin: Principal, typed: Settings, address: str) -> list[str]:
    """Check and store the admin's clinic settings; returns the labels of what changed.

    Patients see the change from their next page: the signed-in principal is read from
    the database on every request (app/services/accounts/sessions.py).

    :raises NotFound: for anyone but a clinic admin.
    :raises SettingsInvalid: with every field's problem and the page to show again;
        nothing is stored then.
    """
    # Two admins saving at once: one after the other.
    clinic = _admin_clinic(admin, lock=True, address=address)
    choices = _protocols(clinic.id)
    try:
        clean = _check(typed, {key for key, _ in choices})
    except SettingsInvalid as exc:
        exc.page = SettingsPage(clinic.name, typed, choices)
        db.session.rollback()  # nothing to store; let the other admin's save go on
        raise
    quiet_start, quiet_end = clean.pop("quiet_hours")
    before = {name: getattr(clinic, name) for name in clean}
    before["quiet_hours"] = f"{_hhmm(clinic.default_quiet_start)}-{_hhmm(clinic.default_quiet_end)}"
    after = {**clean, "quiet_hours": f"{_hhmm(quiet_start)}-{_hhmm(quiet_end)}"}
    changed = [name for name in LABELS if name in after and before[name] != after[name]]
    for name in changed:
        detail = f"clinic settings, {LABELS[name]}: {_shown(before[name])} -> {_shown(after[name])}"
        audit(admin, None, "change", address, detail)
    for name, value in clean.items():
        setattr(clinic, name, value)
    clinic.opening_hours = clinic.hours  # the summary patients read, kept in step
    clinic.default_quiet_start, clinic.default_quiet_end = quiet_start, quiet_end
    db.session.commit()
    return [LABELS[name] for name in changed]
