"""Route: change one's own password (/account/password), for patients and staff (issue
18 point 5). Registered on the auth blueprint (imported by ``app.auth``).
"""

from __future__ import annotations

from flask import current_app
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask_login import current_user
from flask_login import login_required

from app.auth.forms import ChangePasswordForm
from app.auth.mfa import trust_cookie_name
from app.auth.routes import bp
from app.auth.routes import home_for
from app.clock import now
from app.i18n import _
from app.services.accounts import password_change
from app.services.errors import Invalid
from app.web import client_address


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            password_change.change_password(
                current_user,
                form.current.data,
                form.password.data,
                form.confirm.data,
                now(),
                client_address(),
            )
        except Invalid as exc:
            getattr(form, exc.field, form.current).errors.append(_(exc.message))
            status = 400
        else:
            flash(
                _(
                    "Your password is changed. You are still signed in here; every other "
                    "device has been signed out. We have sent you an email about it."
                ),
                "success",
            )
            response = redirect(home_for(current_user), 303)
            # This browser's "trust this device" ended with the change (the server forgot
            # it); the stale cookie goes too.
            secure = current_app.config["SESSION_COOKIE_SECURE"]
            response.delete_cookie(trust_cookie_name(), path="/", secure=secure, httponly=True)
            return response
    elif request.method == "POST":
        status = 400
    response = make_response(render_template("auth/change_password.html", form=form), status)
    response.headers["Cache-Control"] = "no-store"
    return response
