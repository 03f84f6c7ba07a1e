"""Clinician forms (shape only: rules such as 'not in the past' live in services)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import available_timezones

from wtforms import BooleanField
from wtforms import EmailField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import Length
from wtforms.validators import Optional

from app.dateinput import DateInputField
from app.dateinput import TimeInputField
from app.i18n import N_
from app.textinput import Form
from app.textinput import db_int

if TYPE_CHECKING:
    from app.models import ProtocolVersion
    from app.services.clinic.booking import BookingDefaults

ZONES = sorted(
    z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
)
ZONES += ["Etc/GMT+12", "Etc/GMT-14", "UTC"]


class ProtocolField(SelectField):
    """The protocol list, whose values are ids: a value that is no number (a tampered
    form) is "choose one", not WTForms' "Invalid Choice: could not coerce." (found by an
    adversarial test). A number the clinic has no protocol for is the service's refusal."""

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(self.gettext("Choose one of the protocols in the list.")) from None


class WhenForm(Form):
    """A local date and time, in the patient's time zone: the date in Day, Month and
    Year boxes, the time as 24-hour HH:MM (app/dateinput.py says what each accepts)."""

    date = DateInputField(N_("Date"))
    time = TimeInputField(N_("Time"))

    def local(self) -> datetime:
        return datetime.combine(self.date.data, self.time.data)


PLAIN_EMAIL = (
    "Enter an email address like name@example.com, with no accents before the @ "
    "(email cannot reach such addresses yet)."
)


class NewPatientForm(WhenForm):
    name = StringField("Full name", validators=[DataRequired(), Length(max=120)])
    # No accented letters before the @: the app's email (SMTP without SMTPUTF8) cannot
    # reach such a mailbox, so it is refused here rather than failing at send time.
    email = EmailField(
        "Email",
        validators=[
            DataRequired(),
            Email(allow_smtputf8=False, message=PLAIN_EMAIL),
            Length(max=254),
        ],
    )
    # Checked loosely by the service (digits, spaces, + - and brackets).
    phone = StringField("Phone (optional)", validators=[Optional(), Length(max=40)])
    timezone = SelectField("Time zone", choices=ZONES, validate_choice=False)
    protocol = ProtocolField("Aftercare protocol", coerce=db_int, validate_choice=False)
    email_it = BooleanField("Also email the invitation link to the patient", default=True)


class BookSessionForm(WhenForm):
    protocol = ProtocolField(N_("Aftercare protocol"), coerce=db_int, validate_choice=False)
    # Ticked (or sent again from the warning) to book inside the protocol's minimum
    # interval: a warning the clinician confirms, not a refusal (issue 19 point 2).
    confirm_soon = BooleanField(N_("Book it anyway"))


class MoveForm(WhenForm):
    # As on the booking form: a move inside the minimum interval is confirmed.
    confirm_soon = BooleanField(N_("Move it anyway"))


class RecordTreatmentForm(WhenForm):
    sclerosant = StringField("Sclerosant", validators=[DataRequired(), Length(max=80)])
    form = RadioField(
        "Liquid or foam", choices={"liquid": "Liquid", "foam": "Foam"}, validators=[DataRequired()]
    )
    concentration = StringField("Concentration", validators=[Optional(), Length(max=40)])
    areas = StringField("Treated areas", validators=[DataRequired(), Length(max=300)])
    compression = StringField("Compression prescribed", validators=[Optional(), Length(max=200)])
    # Shown only when the protocol has clinic tasks (a duplex scan, the consultation);
    # required then, which the service checks (app/services/clinic.py:record_treatment).
    checks_done = BooleanField("Done before this treatment")


def protocol_choices(versions: Iterable[ProtocolVersion]) -> dict[int, str]:
    """A protocol select's options: each version by name and number."""
    return {v.id: f"{v.name} (v{v.version})" for v in versions}


def booking_form(defaults: BookingDefaults, versions: Iterable[ProtocolVersion]) -> BookSessionForm:
    """The booking form as it opens: the patient's last protocol and a date in its
    interval window (``defaults``, from the service), not what a request sent."""
    data = {"date": defaults.day, "time": defaults.at, "protocol": defaults.protocol_id}
    form = BookSessionForm(formdata=None, data=data)
    form.protocol.choices = protocol_choices(versions)
    form.window = defaults.window  # shown as the date's hint
    return form
