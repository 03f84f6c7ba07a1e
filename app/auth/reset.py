"""Routes: "Forgot your password?" (/forgot-password, /reset/<token>) and the one-click
unsubscribe from reminder emails (/email/unsubscribe/<token>), which needs no sign-in.

Registered on the auth blueprint (imported by ``app.auth``).
"""

from __future__ import annotations

from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from app.auth import limited
from app.auth.forms import ForgotPasswordForm
from app.auth.forms import SetPasswordForm
from app.auth.routes import bp
from app.clock import now
from app.extensions import csrf
from app.i18n import _
from app.limits import from_this_machine
from app.limits import limiter
from app.limits import link_page
from app.limits import reset_ask
from app.services import accounts
from app.services.errors import Invalid
from app.services.errors import InvitationUnusable
from app.services.errors import NotFound
from app.services.notify import email_prefs
from app.web import client_address
from app.web import public_url


def _reset_link(token: str) -> str:
    return public_url("auth.reset_password", token=token)


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(
    reset_ask, methods=["POST"], on_breach=limited.forgot_page, exempt_when=from_this_machine
)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        # The same page whether or not the email has an account (checklist A4).
        accounts.request_reset(form.email.data, now(), _reset_link, client_address())
        return render_template("auth/forgot_sent.html", email=form.email.data)
    status = 400 if request.method == "POST" else 200
    return render_template("auth/forgot.html", form=form), status


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.shared_limit(link_page, "link pages", methods=["POST"], exempt_when=from_this_machine)
def reset_password(token: str):
    """The token is in this page's URL: ``Referrer-Policy: no-referrer`` keeps it out of
    any Referer (the form posting back, the next page), and ``no-store`` out of the
    browser's cache, where someone at the same computer could open it from Back."""
    response = make_response(_reset_password(token))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _reset_password(token: str):
    form = SetPasswordForm()
    try:
        if form.validate_on_submit():
            try:
                accounts.reset_password(
                    token, form.password.data, form.confirm.data, now(), client_address()
                )
            except Invalid as exc:
                getattr(form, exc.field).errors.append(_(exc.message))
            else:
                flash(_("Your password is changed. Please sign in with it."), "success")
                return redirect(url_for("auth.login"), 303)
        accounts.usable_reset(token, now())
    except InvitationUnusable as exc:
        return render_template("auth/reset_unusable.html", reason=exc.reason), 410
    status = 400 if request.method == "POST" else 200
    return render_template("auth/reset.html", form=form), status


@bp.get("/email/unsubscribe/<token>")
def unsubscribe_page(token: str):
    """A confirm button, not an action: mail scanners open links (RFC 8058 section 1)."""
    try:
        email_prefs.check_unsubscribe(token)
    except NotFound:
        return render_template("auth/unsubscribe.html", valid=False), 404
    return render_template("auth/unsubscribe.html", valid=True, token=token)


@bp.post("/email/unsubscribe/<token>")
@csrf.exempt  # RFC 8058 one-click: the mail app posts with no page and no cookie
def unsubscribe(token: str):
    try:
        email_prefs.unsubscribe(token, now())
    except NotFound:
        return render_template("auth/unsubscribe.html", valid=False), 404
    return render_template("auth/unsubscribe.html", valid=True, done=True)
