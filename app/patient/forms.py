"""The patient's forms: ticks (the desired state is sent, so a double tap cannot flip it
back), quiet hours, how reminders reach them and their language. Labels are translated
lazily, in the language of the request that shows them."""

from wtforms import HiddenField
from wtforms import IntegerField
from wtforms import RadioField
from wtforms import SelectChoice
from wtforms import TimeField
from wtforms.validators import AnyOf
from wtforms.validators import DataRequired
from wtforms.validators import NumberRange
from wtforms.validators import Optional

from app.i18n import LANGUAGES
from app.i18n import _l
from app.textinput import Form


class TickForm(Form):
    done = HiddenField(validators=[AnyOf(["0", "1"])])
    day = IntegerField(validators=[Optional(), NumberRange(min=-400, max=4000)])


class QuietHoursForm(Form):
    start = TimeField(_l("No reminders from"), validators=[DataRequired()])
    end = TimeField(_l("until"), validators=[DataRequired()])


class EmailChoiceForm(Form):
    channel = RadioField(
        _l("How should reminders reach you?"),
        choices=[
            SelectChoice("auto", _l("On my phone, or by email when no device has reminders on")),
            SelectChoice("email", _l("By email, at most one a day")),
            SelectChoice("off", _l("No reminder emails")),
        ],
        validators=[DataRequired(message=_l("Choose how you would like your reminders."))],
    )


class LanguageForm(Form):
    # Each language named in its own words, so a reader finds theirs (issue 19 point 4).
    language = RadioField(
        _l("Language"),
        choices=[SelectChoice(code, name) for code, name in LANGUAGES.items()],
        validators=[DataRequired(message=_l("Choose a language."))],
    )
