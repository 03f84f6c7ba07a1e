"""Date and time inputs a person types into clinic forms (issue 19 point 4).

A date is three labelled boxes, Day, Month and Year, as in the NHS.UK design system's
date input ("For example, 17 3 2027"): no browser date picker, whose order follows
the browser's locale (mm/dd/yyyy on a US machine) rather than the clinic's. The field
reads ``<name>-day``, ``<name>-month`` and ``<name>-year``; a form that sends one
ISO value (``<name>=2027-03-17``, as the browser's date input did) is still read, so
older pages and scripts keep working.

Every message says what is wrong and where: an empty or impossible box is named on
that box (``box_errors``), a date that does not exist ("31 2 2027") on the whole date.
Any byte is read without error: only ASCII digits count as numbers, and a box longer
than its digits is simply wrong. The range of years is ``app.textinput``'s
(``DATE_MIN``..``DATE_MAX``), so no local time in any zone overflows as UTC; how far
back or ahead a date may be is the use-case's rule, said by the services.

A time is 24-hour ``HH:MM`` (also ``H:MM`` and ``HH.MM``), as typed at a clinic desk.
"""

from __future__ import annotations

import calendar
import re
from datetime import date
from datetime import time
from typing import Any

from babel.dates import format_skeleton
from wtforms import Field
from wtforms.validators import StopValidation
from wtforms.widgets import TextInput

from app.i18n import _
from app.i18n import current_locale
from app.textinput import DATE_MAX
from app.textinput import DATE_MIN

BOXES = ("day", "month", "year")
_NUMBER = re.compile(r"[0-9]{1,4}")
_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_TIME = re.compile(r"([0-9]{1,2})[:.]([0-9]{2})")
# What a box may hold to be shown back (a pasted novel is not echoed into the page).
_ECHO_MAX = 8


def example() -> str:
    """The hint under every date input."""
    return _("For example, 17 3 2027")


def read_date(day: str, month: str, year: str) -> tuple[date | None, dict[str, str], str]:
    """A date from the three boxes as typed.

    :returns: the date (None if it is wrong), the message per box that is wrong, and a
        message for the date as a whole (empty if none).
    """
    values = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    missing = [box for box in BOXES if not values[box]]
    if len(missing) == 3:
        return None, {}, _("Enter a date, for example 17 3 2027.")
    if missing:
        return None, {box: "" for box in missing}, _missing_message(missing)
    numbers = {box: int(v) for box, v in values.items() if _NUMBER.fullmatch(v)}
    boxes = _wrong_boxes(values, numbers)
    if boxes:
        return None, boxes, ""
    d, m, y = numbers["day"], numbers["month"], numbers["year"]
    days = calendar.monthrange(y, m)[1]
    if d > days:
        month = date(y, m, 1)
        return (
            None,
            {"day": ""},
            _(
                "Enter a real date: %(month)s has %(days)s days.",
                # "February 2027", "febrero de 2027": the reader's way, not strftime's.
                month=format_skeleton("yMMMM", month, locale=current_locale()),
                days=days,
            ),
        )
    return date(y, m, d), {}, ""


def _missing_message(missing: list[str]) -> str:
    """What the date lacks, one whole sentence per case: joining "a day" and "a month"
    with " and " cannot be translated well (word order, "y" before "e" in Spanish)."""
    key = tuple(missing)
    if key == ("day",):
        return _("The date must include a day.")
    if key == ("month",):
        return _("The date must include a month.")
    if key == ("year",):
        return _("The date must include a year.")
    if key == ("day", "month"):
        return _("The date must include a day and a month.")
    if key == ("day", "year"):
        return _("The date must include a day and a year.")
    return _("The date must include a month and a year.")


def _wrong_boxes(values: dict[str, str], numbers: dict[str, int]) -> dict[str, str]:
    """The message of each box that holds no possible day, month or year."""
    boxes = {}
    if not 1 <= numbers.get("day", 0) <= 31:
        boxes["day"] = _("Day must be a number from 1 to 31.")
    if not 1 <= numbers.get("month", 0) <= 12:
        boxes["month"] = _("Month must be a number from 1 to 12.")
    if "year" not in numbers or len(values["year"]) != 4:
        boxes["year"] = _("Year must have 4 numbers, for example 2027.")
    elif not DATE_MIN.year <= numbers["year"] <= DATE_MAX.year:
        boxes["year"] = _(
            "Year must be between %(first)s and %(last)s.", first=DATE_MIN.year, last=DATE_MAX.year
        )
    return boxes


def read_time(text: str) -> time | None:
    """A 24-hour time as typed (``14:30``, ``9:05``, ``09.05``); None if it is none."""
    found = _TIME.fullmatch(text.strip())
    if not found:
        return None
    hour, minute = int(found.group(1)), int(found.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


class DateInputField(Field):
    """A required date typed into Day, Month and Year boxes (see the module).

    ``boxes``: what each box held, to show it back; ``box_errors``: the boxes that are
    wrong, each with its own message (empty when the date's message says it).
    """

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any):
        super().__init__(label, validators, **kwargs)
        self.boxes = dict.fromkeys(BOXES, "")
        self.box_errors: dict[str, str] = {}
        self._message = ""

    def process(self, formdata: Any, data: Any = None, extra_filters: Any = None) -> None:
        self.process_errors = []
        self.data = data if isinstance(data, date) else None
        if self.data is not None:
            self.boxes = {
                "day": str(self.data.day),
                "month": str(self.data.month),
                "year": str(self.data.year),
            }
        self.raw_data = []
        if formdata is None:
            return
        keys = [f"{self.name}-{box}" for box in BOXES]
        if any(key in formdata for key in keys):
            typed = [formdata.get(key, "") for key in keys]
        else:
            typed = _from_iso(formdata.get(self.name, ""))
        self.raw_data = typed
        self.boxes = {
            box: value if len(value) <= _ECHO_MAX else ""
            for box, value in zip(BOXES, typed, strict=True)
        }
        if typed is _NOT_ISO:
            self.data, self.box_errors = None, {}
            self._message = _("Enter a real date, for example 17 3 2027.")
        else:
            self.data, self.box_errors, self._message = read_date(*typed)

    def pre_validate(self, form: Any) -> None:
        if self.data is None:
            # One message above the boxes (NHS.UK style); the boxes it is about are
            # marked wrong by ``box_errors``.
            message = self._message or " ".join(m for m in self.box_errors.values() if m)
            raise StopValidation(message or _("Enter a date, for example 17 3 2027."))

    def _value(self) -> str:
        return self.data.isoformat() if self.data else ""


_NOT_ISO = ["", "", ""]


def _from_iso(text: str) -> list[str]:
    """An ISO date (``2027-03-17``) as the three boxes; ``_NOT_ISO`` for anything else."""
    text = text.strip()
    found = _ISO.fullmatch(text)
    if found:
        year, month, day = found.groups()
        return [day, month, year]
    if not text:
        return ["", "", ""]
    return _NOT_ISO


class TimeInputField(Field):
    """A required 24-hour time, ``HH:MM``."""

    widget = TextInput()

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = valuelist[0] if valuelist and isinstance(valuelist[0], str) else ""
        self.data = read_time(text)
        self.raw = text if len(text) <= _ECHO_MAX else ""

    def pre_validate(self, form: Any) -> None:
        if self.data is None:
            if getattr(self, "raw", ""):
                raise StopValidation(_("Enter a time in 24-hour format, for example 14:30."))
            raise StopValidation(_("Enter a time, for example 14:30."))

    def _value(self) -> str:
        if self.data is not None:
            return f"{self.data:%H:%M}"
        return getattr(self, "raw", "")
