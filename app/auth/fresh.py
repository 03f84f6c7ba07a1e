"""Route: "Confirm it's you" (/account/confirm), the fresh sign-in that sensitive staff
actions ask for (issue 18, checklist A9; the check is in app/freshness.py), and
patients before "Download my data" (checklist E6): so its words are translated.

The person types their password again, and a code from their app when the account has
a second factor; then they go back to the page they were on (``next``, same-site paths
only). Wrong tries are counted on the session; the fifth ends it, as at sign-in.
Registered on the auth blueprint (imported by ``app.auth``).
"""

from __future__ import annotations

from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import logout_user
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms import StringField
from wtforms.validators import DataRequired
from wtforms.validators import Length

from app.auth.routes import bp
from app.auth.routes import home_for
from app.auth.routes import safe_next
from app.clock import now
from app.extensions import login_manager
from app.i18n import _
from app.i18n import _l
from app.services.accounts import reauth
from app.services.errors import Invalid
from app.textinput import Form
from app.web import client_address


class ConfirmForm(Form):
    """Shape only. An empty password is asked for again (400), not counted as a guess."""

    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(message=_l("Please type your password.")), Length(max=256)],
    )
    code = StringField(_l("Code from your authenticator app"), validators=[Length(max=32)])
    next = HiddenField()


@bp.route("/account/confirm", methods=["GET", "POST"])
def confirm_identity():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    asks_code = reauth.needs_code(current_user)
    form = ConfirmForm(next=request.args.get("next", ""))
    status = 200
    if form.validate_on_submit():
        target = safe_next(form.next.data) or home_for(current_user)
        try:
            reauth.confirm(
                current_user,
                form.password.data or "",
                form.code.data or "",
                now(),
                client_address(),
            )
        except reauth.ReauthLocked:
            logout_user()
            flash(_("Too many wrong tries. Please sign in again."), "error")
            return redirect(url_for("auth.login"), 303)
        except Invalid as exc:
            field = form.code if exc.field == "code" else form.password
            field.errors = [*field.errors, _(exc.message)]
            status = 401
        else:
            flash(_("Thank you. You can carry on now."), "success")
            return redirect(target, 303)
    elif request.method == "POST":
        status = 400
    # The password field is never filled in again; the page is not cached.
    form.password.data = ""
    form.code.data = ""
    page = render_template("auth/confirm.html", form=form, asks_code=asks_code)
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"
    return response
