"""Forms for signing in, the second factor and setting or changing a password (shape
only; rules live in services)."""

from wtforms import BooleanField
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import Length

from app.i18n import _l
from app.textinput import Form


class LoginForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)])
    remember = BooleanField(_l("Remember this phone"))
    next = HiddenField()


class SetPasswordForm(Form):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(_l("Type it again"), validators=[DataRequired(), Length(max=256)])


class ForgotPasswordForm(Form):
    email = EmailField(_l("Your email"), validators=[DataRequired(), Email(), Length(max=254)])


class SecondFactorForm(Form):
    """The code after the password: 6 digits from the app, or a recovery code."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    trust = BooleanField(_l("Trust this device for 12 hours"))


class EnrolForm(Form):
    code = StringField(
        _l("The 6-digit code your app shows"), validators=[DataRequired(), Length(max=32)]
    )


class ChangePasswordForm(Form):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        _l("Type the new password again"), validators=[DataRequired(), Length(max=256)]
    )
