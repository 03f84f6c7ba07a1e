"""Forms for signing in and setting a password (shape only; rules live in services)."""

from wtforms import BooleanField
from wtforms import EmailField
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms.validators import DataRequired
from wtforms.validators import Email
from wtforms.validators import Length

from app.textinput import Form


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])
    remember = BooleanField("Remember this phone")
    next = HiddenField()


class SetPasswordForm(Form):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField("Type it again", validators=[DataRequired(), Length(max=256)])


class ForgotPasswordForm(Form):
    email = EmailField("Your email", validators=[DataRequired(), Email(), Length(max=254)])
