"""Tick forms: the desired state is sent, so a double tap cannot flip it back."""

from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import SelectChoice
from wtforms import TimeField
from wtforms.validators import AnyOf
from wtforms.validators import DataRequired
from wtforms.validators import NumberRange
from wtforms.validators import Optional

from app.textinput import Form


class TickForm(Form):
    done = HiddenField(validators=[AnyOf(["0", "1"])])
    day = IntegerField(validators=[Optional(), NumberRange(min=-400, max=4000)])


class QuietHoursForm(Form):
    start = TimeField("No reminders from", validators=[DataRequired()])
    end = TimeField("until", validators=[DataRequired()])


class EmailChoiceForm(Form):
    channel = RadioField(
        "How should reminders reach you?",
        choices=[
            SelectChoice("auto", "On my phone, or by email when no device has reminders on"),
            SelectChoice("email", "By email, at most one a day"),
            SelectChoice("off", "No reminder emails"),
        ],
        validators=[DataRequired(message="Choose how you would like your reminders.")],
    )
