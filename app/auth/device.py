"""Routes of the remembered phone: choosing a PIN after signing in (/remember-phone),
"Welcome back, enter your PIN" (/login/pin) and "Forget this phone" (/login/forget-phone).

Also marks every signed-out page (the sign-in and PIN pages) with ``X-Sclero-Signed-Out``,
so the service worker and the offline queue know the server has ended the session
(app/static/sw.js drops the pages it kept; app.js keeps unsent entries for later).

Registered on the auth blueprint (imported by ``app.auth``). Why the phone is
remembered, and for how long: docs/decisions/session-lifetimes.md.
"""

from __future__ import annotations

from flask import Response
from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from wtforms import HiddenField
from wtforms import PasswordField
from wtforms.validators import Length

from app.auth import remembered
from app.auth.routes import bp
from app.auth.routes import home_for
from app.auth.routes import safe_next
from app.clock import now
from app.extensions import login_manager
from app.i18n import _
from app.i18n import _l
from app.i18n import ngettext
from app.services.accounts import devices
from app.services.errors import Invalid
from app.textinput import Form
from app.web import client_address
from app.web import device_label

SIGNED_OUT_HEADER = "X-Sclero-Signed-Out"
_SIGNED_OUT_PAGES = {"auth.login", "auth.pin_sign_in"}


class PinForm(Form):
    # No DataRequired: an empty PIN is a wrong PIN, said in the same words.
    pin = PasswordField(_l("Your PIN"), validators=[Length(max=12)])
    next = HiddenField()


class ChoosePinForm(Form):
    pin = PasswordField(_l("Choose a PIN"), validators=[Length(max=12)])
    confirm = PasswordField(_l("Type it again"), validators=[Length(max=12)])
    next = HiddenField()


@bp.after_request
def mark_signed_out(response: Response) -> Response:
    """The sign-in and PIN pages, seen without a session, say so in a header."""
    if request.endpoint in _SIGNED_OUT_PAGES and not current_user.is_authenticated:
        response.headers[SIGNED_OUT_HEADER] = "1"
    return response


@bp.route("/remember-phone", methods=["GET", "POST"])
def choose_pin():
    """A signed-in patient chooses the PIN that brings them back in on this phone."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_patient:
        abort(404)  # staff are never remembered: they have a second factor
    form = ChoosePinForm(next=request.args.get("next", ""))
    target = safe_next(form.next.data) or home_for(current_user)
    if form.validate_on_submit():
        try:
            token = devices.remember_device(
                current_user._get_current_object(),
                form.pin.data or "",
                form.confirm.data or "",
                device_label(request.headers.get("User-Agent", "")),
                now(),
                client_address(),
            )
        except Invalid as exc:
            getattr(form, exc.field).errors.append(_(exc.message))
        except devices.DeviceUnknown:
            abort(404)
        else:
            flash(_("This phone is remembered. Next time, just enter your PIN."), "success")
            response = redirect(target)
            remembered.set_cookie(response, token)
            return response
    status = 400 if request.method == "POST" else 200
    return render_template("auth/choose_pin.html", form=form, skip=target), status


@bp.route("/login/pin", methods=["GET", "POST"])
def pin_sign_in():
    """ "Welcome back": the remembered phone's PIN opens a new sign-in session."""
    form = PinForm(next=request.args.get("next", ""))
    target = safe_next(form.next.data)
    if current_user.is_authenticated:
        return redirect(target or home_for(current_user))
    token = remembered.device_token()
    if devices.device_for_token(token, now()) is None:
        response = redirect(url_for("auth.login", password=1, next=target))
        if token:
            remembered.drop_cookie(response)  # expired or forgotten: no use any more
        return response
    status = 200
    if form.validate_on_submit():
        try:
            user = devices.sign_in_with_pin(token, form.pin.data or "", now(), client_address())
        except devices.WrongPin as exc:
            if exc.tries_left == 0:
                return _forgotten(
                    _(
                        "That PIN was wrong too many times, so this phone has been forgotten. "
                        "Please sign in with your email and password."
                    ),
                    target,
                )
            form.pin.errors.append(
                ngettext(
                    "That PIN is not right. You have %(num)d more try.",
                    "That PIN is not right. You have %(num)d more tries.",
                    exc.tries_left,
                )
            )
            status = 401
        except devices.DeviceUnknown:
            return _forgotten(_("Please sign in with your email and password."), target)
        else:
            login_user(user)
            return redirect(target or home_for(user))
    elif request.method == "POST":
        status = 400
    return render_template("auth/pin.html", form=form, target=target), status


@bp.post("/login/forget-phone")
def forget_phone():
    """ "Forget this phone": the PIN no longer works here; the password is needed."""
    return _forgotten(
        _("This phone is forgotten. Sign in with your email and password."),
        safe_next(request.form.get("next")),
        forget=True,
    )


def _forgotten(message: str, target: str | None, *, forget: bool = False) -> Response:
    if forget:
        devices.forget_device(remembered.device_token(), now())
    flash(message, "info")
    response = redirect(url_for("auth.login", password=1, next=target))
    remembered.drop_cookie(response)
    return response
