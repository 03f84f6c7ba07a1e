"""Tick forms: the desired state is sent, so a double tap cannot flip it back."""

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import TimeField
from wtforms.validators import AnyOf
from wtforms.validators import DataRequired
from wtforms.validators import NumberRange
from wtforms.validators import Optional


class TickForm(FlaskForm):
    done = HiddenField(validators=[AnyOf(["0", "1"])])
    day = IntegerField(validators=[Optional(), NumberRange(min=-400, max=4000)])


class QuietHoursForm(FlaskForm):
    start = TimeField("No reminders from", validators=[DataRequired()])
    end = TimeField("until", validators=[DataRequired()])
