"""The pages someone over a per-address limit sees (``app.limits``): the same form again,
with the email they typed, a plain message and status 429, so a patient who is stopped
knows how long to wait and loses nothing they typed.
"""

from __future__ import annotations

from flask import flash
from flask import make_response
from flask import render_template
from flask import request
from flask.wrappers import Response
from flask_limiter import RequestLimit

from app.auth.forms import ForgotPasswordForm
from app.auth.forms import LoginForm
from app.i18n import _
from app.limits import wait_words


def urgent_help() -> None:
    """Flash, first, where to turn now: someone locked out of signing in may have been
    signing in to report a warning sign (adversarial review 2026-12-07, A1)."""
    flash(
        _(
            "If you feel unwell or have any warning sign, call the clinic or the emergency "
            "number now: do not wait."
        ),
        "error",
    )


def sign_in_page(limit: RequestLimit) -> Response:
    """The sign-in page again, for too many sign-ins from one address."""
    form = LoginForm(next=request.args.get("next", ""))
    urgent_help()
    flash(
        _(
            "Too many sign-in attempts from this connection. Please wait %(wait)s "
            "and try again, or call your clinic for help.",
            wait=wait_words(limit),
        ),
        "error",
    )
    return make_response(render_template("auth/login.html", form=form), 429)


def forgot_page(limit: RequestLimit) -> Response:
    """ "Forgot your password?" again, for too many asks from one address."""
    form = ForgotPasswordForm()
    flash(
        _(
            "Too many links were asked for from this connection. Please wait "
            "%(wait)s and try again, or call your clinic for help.",
            wait=wait_words(limit),
        ),
        "error",
    )
    return make_response(render_template("auth/forgot.html", form=form), 429)
