"""Routes: /login, /logout, /invite/<token>."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from app.auth import limited
from app.auth import remembered
from app.auth.forms import LoginForm
from app.auth.forms import SetPasswordForm
from app.clock import now
from app.i18n import _
from app.limits import from_this_machine
from app.limits import limiter
from app.limits import link_page
from app.limits import sign_in
from app.services import accounts
from app.services.errors import BadCredentials
from app.services.errors import Invalid
from app.services.errors import InvitationUnusable
from app.services.errors import LoginThrottled
from app.textinput import has_control

bp = Blueprint("auth", __name__)


def home_for(user) -> str:  # noqa: ANN001
    """Where a signed-in user starts: Today for patients, the clinic list for staff."""
    return url_for("clinician.dashboard") if user.is_clinician else url_for("patient.today")


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: no scheme, no host, no protocol-relative ``//evil``, and
    nothing a Location header cannot hold (a line break there was a 500 after sign-in;
    a real ``next`` is percent-encoded, so it has no spaces either)."""
    if not target or has_control(target) or " " in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    sign_in, methods=["POST"], on_breach=limited.sign_in_page, exempt_when=from_this_machine
)
def login():
    if getattr(current_user, "mfa_pending", ""):
        return redirect(url_for("auth.mfa_code"))  # password done; the code is next
    form = LoginForm(next=request.args.get("next", ""))
    if request.method == "GET" and (pin_page := remembered.pin_page_instead(form.next.data)):
        return pin_page
    if request.method == "GET" and request.args.get("signed_out"):
        # Said here, not flashed by /logout: its Clear-Site-Data "cookies" drops the
        # session cookie that would carry the message.
        flash(_("You have signed out."), "info")
    status = 200
    if form.validate_on_submit():
        # Where to go is settled before any sign-in session exists, so nothing after it
        # can fail (a line break in ``next`` was a 500 with the session already made).
        target = safe_next(form.next.data)
        try:
            user = accounts.authenticate(
                form.email.data, form.password.data, now(), address=request.remote_addr or ""
            )
        except LoginThrottled:
            limited.urgent_help()
            flash(
                _("Too many attempts. Please wait 15 minutes, or call your clinic for help."),
                "error",
            )
            status = 429
        except BadCredentials:
            flash(_("That email and password do not match. Please try again."), "error")
            status = 401
        else:
            _end_replaced_session(user)
            login_user(user)
            if user.mfa_pending:  # a second factor first (issue 18, app/auth/mfa.py)
                session["mfa_next"] = target or ""
                return redirect(url_for("auth.mfa_code"))
            return remembered.after_password(user, form.remember.data, target or home_for(user))
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


def _end_replaced_session(new) -> None:  # noqa: ANN001 - the Principal just signed in
    """Another sign-in on this browser (a shared phone): the session it replaces ends on
    the server too, so a copy of its cookie is of no use (review R1); the same person's
    push devices move to the new session."""
    if not current_user.is_anonymous:  # a sign-in still owing its code ends too
        accounts.replace_session(current_user.get_id(), new, now())


@bp.post("/logout")
def logout():
    # A sign-in waiting for its second factor is not "authenticated", but its server
    # session must end here too, not linger until it idles out.
    token = None if current_user.is_anonymous else current_user.get_id()
    accounts.end_session(token, now())
    logout_user()
    # A new calendar link waits in the (signed, not encrypted) cookie for the page that
    # shows it (app/patient/calendar.py); if that page never loaded, the next person at
    # this browser must not find a live link to the patient's appointments in it.
    session.pop("calendar_link_reveal", None)
    response = redirect(url_for("auth.login", signed_out=1))
    remembered.on_sign_out(response)
    # The browser's HTTP cache and this site's cookies go; its storage stays, because
    # that holds another person's unsent check-ins and the offline pages' service worker
    # (docs/decisions/session-lifetimes.md).
    response.headers["Clear-Site-Data"] = '"cache", "cookies"'
    return response


@bp.route("/invite/<token>", methods=["GET", "POST"])
@limiter.shared_limit(link_page, "link pages", methods=["POST"], exempt_when=from_this_machine)
def accept_invite(token: str):
    """A patient's or staff member's link: set a password, then go to their start page.

    The token is in this page's URL, so the page is sent with ``Referrer-Policy:
    no-referrer``: its scripts, and the form posting back here, never carry it in a
    Referer header to a log (the access logs redact the path itself: app/logredact.py).
    """
    response = make_response(_accept_invite(token))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _accept_invite(token: str):
    form = SetPasswordForm()
    try:
        if form.validate_on_submit():
            # Checks the link first, as the page does: an unusable one is 410 whatever
            # the passwords are.
            try:
                user = accounts.accept_invitation(
                    token,
                    form.password.data,
                    form.confirm.data,
                    now(),
                    address=request.remote_addr or "",
                )
            except Invalid as exc:
                getattr(form, exc.field).errors.append(_(exc.message))
            else:
                _end_replaced_session(user)
                login_user(user)
                flash(_("Your password is set. Welcome!"), "success")
                # A clinic's first admin is invited too (flask clinic create).
                return redirect(home_for(user))
        # The form page (again, after a password error): the link must still be usable.
        invitation = accounts.usable_invitation(token, now())
    except InvitationUnusable as exc:
        return render_template("auth/invite_unusable.html", reason=exc.reason), 410
    status = 400 if request.method == "POST" else 200
    return render_template("auth/invite.html", form=form, invitation=invitation), status
