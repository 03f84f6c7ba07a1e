"""Routes under /patient/calendar (issue 20 point 3): the .ics download, a new or stopped
subscription link, and the link's feed itself.

Registered on the patient blueprint. The download and the link buttons are behind its
before-request check (a signed-in patient; anyone else 404). The feed is the one route
here a calendar app opens with no cookie: ``require_patient`` lets it through
(``NO_SIGN_IN``), and the service answers 404 for any link that is not live.

Making a link is limited per patient account (``SCLERO_CALENDAR_NEW_LINK_LIMIT``, in the
limiter's shared store): over it, Reminders says how long to wait and no link is made.

Every answer carrying the calendar or a link is ``Cache-Control: no-store, private``:
no proxy or browser cache keeps appointment times or a link, and the service worker
caches only the pages it names (app/static/sw.js), never these.
"""

from __future__ import annotations

from flask import Response
from flask import abort
from flask import current_app
from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_limiter import RequestLimit
from flask_login import current_user

from app.clock import now
from app.i18n import _
from app.limits import calendar_feed as feed_limit
from app.limits import calendar_link as link_limit
from app.limits import client_key
from app.limits import from_this_machine
from app.limits import limiter
from app.limits import link_key
from app.limits import wait_words
from app.patient.routes import bp
from app.services import ical
from app.services.errors import NotFound
from app.web import client_address
from app.web import public_url

ICS_TYPE = "text/calendar; charset=utf-8"
_REVEAL = "calendar_link_reveal"  # the session key holding a new link until its GET


def _private(response: Response) -> Response:
    """Never stored by a cache, and the link never leaves in a Referer."""
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _ics(body: bytes, filename: str | None) -> Response:
    response = make_response(body)
    response.headers["Content-Type"] = ICS_TYPE
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return _private(response)


@bp.get("/calendar.ics")
def calendar_download():
    """The signed-in patient's calendar as a file to open in a calendar app."""
    return _ics(ical.calendar_for_patient(current_user, now()), "appointments.ics")


# New links per patient account (``SCLERO_CALENDAR_NEW_LINK_LIMIT``, this by default).
# Each tap writes a link row and retires the last one, kept for 30 days: a script or a
# stuck button must not fill those tables. Far above what a person needs.
NEW_LINK_LIMIT = "10 per hour"


def _new_link_limit() -> str:
    return str(current_app.config.get("SCLERO_CALENDAR_NEW_LINK_LIMIT") or NEW_LINK_LIMIT)


def _new_link_key() -> str:
    """Counted by the patient's account, wherever they tap from (a phone moves between
    networks). A route's limit is checked as its view is called, after the blueprint's
    sign-in check, so there is always a patient here; the address is only a fallback."""
    user_id = getattr(current_user, "id", None)
    if user_id is None:
        return "calendar-new-link:" + client_key()
    return f"calendar-new-link:user:{user_id}"


def _too_many_new_links(limit: RequestLimit) -> Response:
    """Over the limit: no link is made, and Reminders says so and for how long."""
    flash(
        _(
            "You have made several new calendar links in a short time. Please wait "
            "%(wait)s, then try again.",
            wait=wait_words(limit),
        ),
        "error",
    )
    return _private(redirect(url_for("patient.reminders_page", _anchor="calendar-title"), 303))


@bp.post("/calendar/link")
@limiter.limit(_new_link_limit, key_func=_new_link_key, on_breach=_too_many_new_links)
def calendar_new_link():
    """Make a new subscription link (the old one stops), then show it on a GET: a reload
    of the page that shows it must not make yet another link (POST/redirect/GET)."""
    token = ical.new_link(current_user, now(), client_address())
    # Only the link's hash is stored, so the page after the redirect can show it only if
    # it travels there: in the signed session cookie, for this one redirect (the GET
    # takes it out again).
    session[_REVEAL] = token
    return _private(redirect(url_for("patient.calendar_show_link"), 303))


@bp.get("/calendar/link")
def calendar_show_link():
    """The new link, shown once: a reload (or a link that has since been replaced or
    stopped) goes back to Reminders, which says a link is shown only once."""
    token = session.pop(_REVEAL, None)
    if not isinstance(token, str) or not ical.is_current_link(current_user, token):
        return _private(redirect(url_for("patient.reminders_page", _anchor="calendar-title"), 303))
    https_url = public_url("patient.calendar_feed", token=token)
    # The copyable link is https. webcal:// is the one address that makes a phone
    # subscribe in one tap, and clients map it to https or http as they see fit; where
    # one picks http the feed refuses it (below): no appointment ever goes over plain
    # http, and the patient copies the https link instead (docs/calendar.md).
    webcal_url = "webcal://" + https_url.split("://", 1)[1]
    page = render_template("patient/calendar_link.html", https_url=https_url, webcal_url=webcal_url)
    return _private(make_response(page))


@bp.post("/calendar/stop")
def calendar_stop_link():
    """Stop the subscription link: calendars that had it stop updating."""
    if ical.stop_link(current_user, client_address(), now()):
        flash(_("Your calendar link is stopped. Calendars using it no longer update."), "success")
    return redirect(url_for("patient.reminders_page", _anchor="calendar-title"), 303)


# HEAD too: Flask answers it by running this view (the file is built, revisions written),
# so a limit on GET alone would leave HEAD unlimited.
@bp.get("/calendar/feed/<token>.ics")
@limiter.limit(link_limit, key_func=link_key, methods=["GET", "HEAD"])
@limiter.limit(feed_limit, methods=["GET", "HEAD"], exempt_when=from_this_machine)
def calendar_feed(token: str):
    """The subscription feed: no sign-in; 404 for a link that is not live (an empty
    calendar for one stopped recently: app/services/ical/links.py)."""
    if current_app.config.get("SESSION_COOKIE_SECURE") and not request.is_secure:
        # The site is https (its cookies are Secure, as for HSTS in app/errors.py), and
        # appointment times never go over plain http. ``request.is_secure`` reads the
        # proxy's X-Forwarded-Proto through ProxyFix (app/web.py). Nothing is looked up:
        # the answer is the same for any token.
        abort(403)
    try:
        body = ical.calendar_for_link(token, now())
    except NotFound:
        abort(404)
    return _ics(body, None)
