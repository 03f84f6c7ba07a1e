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

from app.textinput import Form


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    next = HiddenField()


class SetPasswordForm(Form):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField("Type it again", validators=[DataRequired(), Length(max=256)])


class ForgotPasswordForm(Form):
    email = EmailField("Your email", validators=[DataRequired(), Email(), Length(max=254)])


class SecondFactorForm(Form):
    """The code after the password: 6 digits from the app, or a recovery code."""

    code = StringField("Code", validators=[DataRequired(), Length(max=32)])
    trust = BooleanField("Trust this device for 12 hours")


class EnrolForm(Form):
    code = StringField(
        "The 6-digit code your app shows", validators=[DataRequired(), Length(max=32)]
    )


class ChangePasswordForm(Form):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=256)])
    password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField(
        "Type the new password again", validators=[DataRequired(), Length(max=256)]
    )
