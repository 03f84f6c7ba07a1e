"""Clinician forms (shape only: rules such as 'not in the past' live in services)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import available_timezones

from wtforms import BooleanField
from wtforms import DateField
from wtforms import EmailField
from wtforms import RadioField
from wtforms import SelectField
from wtforms import StringField
from wtforms import TimeField
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import Length
from wtforms.validators import Optional
from wtforms.validators import ValidationError

from app.textinput import Form
from app.textinput import calendar_date
from app.textinput import db_int

ZONES = sorted(
    z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
)
ZONES += ["Etc/GMT+12", "Etc/GMT-14", "UTC"]


def in_calendar(form: Form, field: DateField) -> None:
    """A date within the years the app handles (app.textinput: 0001 or 9999 in an extreme
    time zone is no UTC instant at all)."""
    if field.data is not None:
        try:
            calendar_date(field.data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class WhenForm(Form):
    """A local date and time, in the patient's time zone."""

    date = DateField("Date", validators=[DataRequired(message="Enter a date."), in_calendar])
    time = TimeField("Time", validators=[DataRequired(message="Enter a time.")])

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
    protocol = SelectField("Aftercare protocol", coerce=db_int, validate_choice=False)
    email_it = BooleanField("Also email the invitation link to the patient", default=True)


class BookSessionForm(WhenForm):
    protocol = SelectField("Aftercare protocol", coerce=db_int, validate_choice=False)


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
