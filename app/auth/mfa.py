"""Routes of the staff second factor (issue 18 point 4): the code after the password
(/login/code), setting one up (/account/second-factor) and new recovery codes.

A session that still owes a second factor is not signed in (``Principal.
is_authenticated`` is False): every other page sends it to /login, which sends it here.
These pages read ``current_user.mfa_pending`` themselves. Registered on the auth
blueprint (imported by ``app.auth``).
"""

from __future__ import annotations

import segno
from flask import abort
from flask import current_app
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_login import logout_user
from markupsafe import Markup

from app.auth.forms import EnrolForm
from app.auth.forms import SecondFactorForm
from app.auth.routes import bp
from app.auth.routes import home_for
from app.auth.routes import safe_next
from app.clock import now
from app.extensions import login_manager
from app.freshness import stale_response
from app.services.accounts import mfa
from app.services.accounts.mfa import SecondFactorLocked
from app.services.errors import Invalid
from app.web import client_address

# Where the person was going before the second factor (set by the sign-in page).
NEXT_KEY = "mfa_next"


def trust_cookie_name() -> str:
    """``__Host-`` when cookies are Secure: the browser then refuses the cookie from a
    sub-domain or over http, and pins it to this host and path /."""
    return "__Host-sclero_trust" if current_app.config["SESSION_COOKIE_SECURE"] else "sclero_trust"


def _pending() -> str:
    return getattr(current_user, "mfa_pending", "") if not current_user.is_anonymous else ""


def _private(response):  # noqa: ANN001, ANN202 - a Flask response in and out
    """The secret and recovery codes must not stay in a cache or leak in a Referer."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _onwards():  # noqa: ANN202
    target = safe_next(session.pop(NEXT_KEY, None))
    return redirect(target or home_for(current_user), 303)


@bp.route("/login/code", methods=["GET", "POST"])
def mfa_code():
    pending = _pending()
    if not pending:
        return redirect(url_for("auth.index"))
    if pending == "enrol":
        return redirect(url_for("auth.mfa_enrol"))
    if request.method == "GET" and mfa.pass_with_trusted_device(
        current_user, request.cookies.get(trust_cookie_name(), ""), now()
    ):
        return _onwards()
    form = SecondFactorForm()
    status = 200
    if form.validate_on_submit():
        try:
            mfa.pass_second_factor(current_user, form.code.data, now(), client_address())
        except SecondFactorLocked as exc:
            logout_user()
            session.pop(NEXT_KEY, None)
            flash(
                f"{exc} If you cannot get in, ask a clinic admin to reset your sign-in code.",
                "error",
            )
            return redirect(url_for("auth.login"), 303)
        except Invalid as exc:
            form.code.errors.append(exc.message)
            status = 401
        else:
            response = _onwards()
            if form.trust.data:
                trust = current_app.config["SCLERO_MFA_TRUST"]
                response.set_cookie(
                    trust_cookie_name(),
                    mfa.trust_device(current_user, now()),
                    max_age=int(trust.total_seconds()),
                    path="/",
                    secure=current_app.config["SESSION_COOKIE_SECURE"],
                    httponly=True,
                    samesite="Lax",
                )
            return response
    elif request.method == "POST":
        status = 400
    return _private(render_template("auth/mfa_code.html", form=form)), status


@bp.post("/login/code/cancel")
def mfa_cancel():
    """Leave a half-finished sign-in: the pending session ends on the server too."""
    if _pending():
        mfa.cancel_pending(current_user, now())
    logout_user()
    session.pop(NEXT_KEY, None)
    return redirect(url_for("auth.login"), 303)


def _qr(uri: str) -> Markup:
    # Drawn here rather than with app.qr, whose cache would keep secrets in memory.
    svg = segno.make(uri, error="m", micro=False).svg_inline(
        scale=1, border=4, omitsize=True, svgclass="qr-code", dark="#000", light="#fff"
    )
    label = 'role="img" aria-label="QR code for your authenticator app" '
    # Trusted markup (bandit B704): segno's own SVG of the authenticator URI, with a fixed label.
    return Markup(svg.replace("<svg ", f'<svg {label}shape-rendering="crispEdges" ', 1))  # nosec B704


def _enrol_gate():  # noqa: ANN202 - a response, or None to go on
    """Who may see the set-up page: anything else answers here."""
    pending = _pending()
    if current_user.is_anonymous:
        return login_manager.unauthorized()
    if pending == "code":
        return redirect(url_for("auth.mfa_code"))
    # Fully signed-in staff, or a pending session that must enrol. Patients are not
    # offered a second factor (yet): as if the page did not exist.
    if pending != "enrol" and not current_user.is_clinician:
        abort(404)
    if mfa.is_enrolled(current_user.id):
        left = mfa.recovery_codes_left(current_user.id)
        return _private(render_template("auth/mfa_status.html", left=left))
    # Setting up an authenticator on an account already signed in is sensitive: a copied
    # session could tie the account to someone else's phone (a pending "enrol" session
    # has just passed the password, so it is not asked again).
    return stale_response()


@bp.route("/account/second-factor", methods=["GET", "POST"])
def mfa_enrol():
    """Set up the app (staff): a QR code and the secret as text, then a first code."""
    gate = _enrol_gate()
    if gate is not None:
        return gate
    pending = _pending()
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = mfa.confirm_enrolment(current_user, form.code.data, now(), client_address())
        except Invalid as exc:
            if mfa.is_enrolled(current_user.id):
                # A second submission that lost a race with the first (a double tap):
                # the factor is on; the status page offers new recovery codes.
                return redirect(url_for("auth.mfa_enrol"), 303)
            form.code.errors.append(exc.message)
            status = 400
        else:
            target = safe_next(session.pop(NEXT_KEY, None)) or home_for(current_user)
            page = render_template("auth/mfa_recovery.html", codes=codes, target=target, new=True)
            return _private(page)
    elif request.method == "POST":
        status = 400
    secret, uri = mfa.enrolment(current_user, now())
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    page = render_template(
        "auth/mfa_enrol.html", form=form, qr=_qr(uri), secret=grouped, pending=pending
    )
    return _private(page), status


@bp.post("/account/second-factor/recovery-codes")
def mfa_regenerate():
    """Ten new recovery codes (the old ones stop working), shown once."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_clinician:
        abort(404)
    # New recovery codes outlast the session that made them: confirm it's them first.
    stale = stale_response(back=url_for("auth.mfa_enrol"))
    if stale is not None:
        return stale
    try:
        codes = mfa.regenerate_recovery_codes(current_user, now(), client_address())
    except Invalid as exc:
        flash(str(exc), "error")
        return redirect(url_for("auth.mfa_enrol"), 303)
    page = render_template(
        "auth/mfa_recovery.html", codes=codes, target=home_for(current_user), new=False
    )
    return _private(page)
