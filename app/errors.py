"""App-wide error pages and security headers: friendly text, never internals.

An unexpected error's page shows a short reference, logged with the traceback, so the
clinic's IT can find what happened from what a patient reads out on the phone. Every
response gets the security headers (checklist D5, D6); ``register`` also installs the
trusted hosts and the proxy setting (``app.web.install_hosts_and_proxies``).

A photo whose stored file is missing or altered (``StorageError``, not an outage) is a
handled 404, logged at ERROR with the photo's id for the clinic's staff (``flask photos
verify`` lists it too); its bytes are never served. An ``<img>`` asking for it gets a
small grey placeholder picture, anything else a plain page saying what happened.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask
from flask import current_app
from flask import g
from flask import jsonify
from flask import make_response
from flask import render_template
from flask import request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from app import fhir_errors
from app import web
from app.adapters.photo_store import StorageError
from app.adapters.photo_store import StorageUnavailable
from app.extensions import db
from app.extensions import drop_reads
from app.i18n import LANGUAGES
from app.i18n import N_
from app.i18n import _
from app.i18n import said_in
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.textinput import UnreadableForm

log = logging.getLogger(__name__)

MESSAGES = {
    400: (
        N_("Something in that request was not right"),
        N_("Please go back, check the form and try again."),
    ),
    404: (N_("Page not found"), N_("This page does not exist, or it is not yours to see.")),
    405: (N_("That did not work"), N_("Please go back and use the buttons on the page.")),
    410: (N_("This link no longer works"), N_("Please ask your clinic for a new one.")),
    413: (N_("That file is too large"), N_("Please choose a smaller file.")),
    429: (N_("Too many attempts"), N_("Please wait a few minutes and try again.")),
    500: (
        N_("Sorry, something went wrong on our side"),
        N_("Nothing you did caused this. Please try again in a minute."),
    ),
}

# A photo's file that is missing or altered. 404, not 410: a restore from a backup
# (``flask backup restore``) can bring the file back under the same address, and a 404
# that is never stored is asked again next time; 410 would say it is gone for good.
DAMAGED_PHOTO = (
    N_("This photo cannot be shown"),
    N_(
        "This photo's file is damaged or missing. The problem has been recorded for your "
        "clinic's technical staff; please tell your clinic as well."
    ),
)
DAMAGED_PHOTO_ALT = N_("Photo file damaged or missing")
# The placeholder an <img> shows: a grey frame with a cross, no text but its title (a
# screen reader's). Served like a photo: private, never stored, nothing it could run.
PLACEHOLDER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 90" role="img">'
    "<title>{title}</title>"
    '<rect width="120" height="90" fill="#e5e5e5"/>'
    '<path d="M45 30l30 30M75 30L45 60" stroke="#888" stroke-width="4"/></svg>'
)
PLACEHOLDER_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
}

# No script or style from other hosts; no framing; no inline script (templates use none).
# The one inline style allowed is the app's own stylesheet, by its hash (app/assets.py).
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'{style_hash}; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)

# The photo diary takes pictures through a file input, which may open the camera; no page
# needs any other device or sensor, so none can be asked for, even by injected script.
PERMISSIONS_POLICY = (
    "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "bluetooth=(), midi=(), magnetometer=(), gyroscope=(), accelerometer=(), "
    "display-capture=()"
)
# Responses that may carry someone's data unless a view says otherwise (photos do, with
# their own headers). Versioned static files keep their year-long cache (app/assets.py).
NOT_PERSONAL = frozenset({"static", "pwa.manifest", "pwa.service_worker"})


def new_reference() -> str:
    """A short id for one unexpected error: easy to read out, unique enough to grep."""
    return secrets.token_hex(4).upper()


def _wants_json() -> bool:
    """A request from the app's scripts (push subscriptions) gets its error as JSON."""
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _bind_urls_for_refused_host() -> None:
    """Let the error page build its links when Flask could not bind URLs to the request.

    A Host header outside ``TRUSTED_HOSTS`` makes Flask leave the request without a URL
    adapter (and keep the 400 for later), so ``url_for`` in the page's template failed
    and a worker's first such request became a 500 instead of the 400. The page only
    needs paths, so an adapter bound to a fixed name is enough: the refused Host is never
    read or echoed.
    """
    if request_ctx.url_adapter is None:
        request_ctx.url_adapter = current_app.url_map.bind(
            "localhost", script_name=request.script_root or "/", url_scheme=request.scheme
        )


def _page(code: int, title: str | None = None, body: str | None = None, reference: str = ""):
    _bind_urls_for_refused_host()
    default_title, default_body = MESSAGES.get(code, MESSAGES[400])
    # Said in the reader's language; a message the catalogue does not know (a service's
    # own sentence) is shown as written.
    title, body = _(title or default_title), _(body or default_body)
    if reference:
        body = _(
            "%(body)s If you contact the clinic about it, quote reference %(reference)s.",
            body=body,
            reference=reference,
        )
    if _wants_json():
        extra = {"reference": reference} if reference else {}
        return jsonify(ok=False, error=f"{title}. {body}", **extra), code
    return render_template("errors/error.html", code=code, title=title, body=body), code


def _bare_page(reference: str):
    """The 500 page when even the error page fails (the database is down, so nobody's
    sign-in or language can be read): its words in every language offered, and the
    reference, from nothing but the catalogues; never the server's bare error."""
    said = []
    for code in LANGUAGES:
        words = " ".join(said_in(code, text) for text in MESSAGES[500])
        said.append(
            said_in(
                code, "%(body)s If you contact the clinic about it, quote reference %(reference)s."
            )
            % {"body": words, "reference": reference}
        )
    body = "".join(f"<p>{escape(text)}</p>" for text in dict.fromkeys(said))
    page = f'<!doctype html><meta charset="utf-8"><title>ScleroCare</title>{body}'
    return current_app.response_class(page, status=500, mimetype="text/html")


def _damaged_photo_answer():
    """A photo whose file is missing or altered: the placeholder picture for an <img>
    (or a script), the plain page when someone opened the address itself."""
    if request.endpoint in web.PHOTO_FILES and not _wants_json():
        # An <img> accepts images (or anything); a page opened in a tab prefers HTML.
        best = request.accept_mimetypes.best_match(["image/svg+xml", "text/html"])
        if best != "text/html":
            svg = PLACEHOLDER_SVG.format(title=escape(_(DAMAGED_PHOTO_ALT)))
            response = current_app.response_class(svg, status=404, mimetype="image/svg+xml")
            response.headers.update(PLACEHOLDER_HEADERS)
            return response
    return _page(404, *DAMAGED_PHOTO)


def _http_page(code: int):
    if code == 413 and request.sends_checkin:  # type: ignore[attr-defined]
        # Even the larger check-in limit was passed, so the answers could not be read:
        # say what to do, and never let a refused upload hide where to get help.
        title = N_("Your check-in was not sent")
        body = N_(
            "It was far too large to read, usually because of the photo with it. Please go "
            "back, remove the photo (and shorten the note if it is very long), and send "
            "your check-in again. If you feel unwell or have any warning sign, call your "
            "clinic or the emergency number now."
        )
        return _page(413, title, body)
    return _page(code)


def _register_form_refusals(app: Flask) -> None:
    """The two refusals of a whole form before its view runs: an expired CSRF token, and
    a body whose text cannot be read. Only the first sets X-Sclero-Form-Expired."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        title = N_("This page was open too long")
        body = N_(
            "For your safety the form expired. Please reload the page and try again; "
            "nothing was saved."
        )
        page, code = _page(400, title, body)
        response = make_response(page, code)
        # The phone's offline queue (app.js) keeps an entry this refused: the entry is
        # not wrong, the page's token is, and a reload brings a new one.
        response.headers["X-Sclero-Form-Expired"] = "1"
        return response

    @app.errorhandler(UnreadableForm)
    def unreadable_form(exc: UnreadableForm):
        # Before the CSRF check could read the token: not an expired form, so no
        # X-Sclero-Form-Expired (a reload would not help; the same text fails again).
        return _page(
            400,
            N_("We could not read what you sent"),
            N_(
                "Some of the text was sent in a way this site cannot read, so nothing was "
                "saved. Please go back, type it again and send it."
            ),
        )


def register(app: Flask) -> None:
    """Install error handlers, the security headers hook, trusted hosts and proxies."""
    web.install_hosts_and_proxies(app)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        response = make_response(_http_page(exc.code or 500))
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            # A 405 must say what is allowed (RFC 9110 15.5.6); an API client reads it.
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    _register_form_refusals(app)

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):
        return _page(404)

    @app.errorhandler(Invalid)
    def invalid(exc: Invalid):
        return _page(400, N_("Please check that"), exc.message)

    @app.errorhandler(StorageUnavailable)
    def storage_unavailable(exc: StorageUnavailable):
        # The photo bucket did not answer within its timeouts: a clear, retryable 503,
        # not a traceback; the reference finds the log line.
        db.session.rollback()
        drop_reads()
        reference = new_reference()
        log.warning("photo storage unavailable %s on %s: %s", reference, request.path, exc)
        return _page(503, *MESSAGES[500], reference=reference)

    @app.errorhandler(StorageError)
    def damaged_photo(exc: StorageError):
        # A stored file missing or not matching its sha256 (an outage is the 503 above,
        # its own class): an answer, not a traceback. Logged at ERROR for the clinic's
        # staff with the photo's id only (no name, no health details).
        db.session.rollback()
        drop_reads()
        photo_id = (request.view_args or {}).get("photo_id", "?")
        log.error(
            "photo #%s: stored file missing or damaged on %s: %s", photo_id, request.path, exc
        )
        return _damaged_photo_answer()

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        db.session.rollback()
        drop_reads()  # may be the connection that failed; the page needs to read again
        reference = new_reference()
        g.error_reference = reference  # for the FHIR API's OperationOutcome (fhir_errors)
        log.exception("unhandled error %s on %s %s", reference, request.method, request.path)
        try:
            return _page(500, reference=reference)
        except Exception:  # noqa: BLE001 - the page asks who is signed in: the database
            log.exception("error page failed %s", reference)
            return _bare_page(reference)

    app.after_request(security_headers)
    # Registered last, so run first: security_headers then sees the FHIR answer's own
    # Cache-Control and content type.
    fhir_errors.install(app)


def security_headers(response):
    """The security headers on every response; a header a view set itself is kept."""
    # One pass over the headers, then appends: a view may have set its own value.
    present = {name.lower() for name in response.headers.keys()}
    wanted = [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Content-Security-Policy", current_app.extensions["sclero_assets"]["csp"]),
        ("Permissions-Policy", PERMISSIONS_POLICY),
    ]
    hsts = current_app.config.get("SCLERO_HSTS")
    if hsts and current_app.config.get("SESSION_COOKIE_SECURE"):
        # Only where the site is https (its cookies are Secure): production.
        wanted.append(("Strict-Transport-Security", hsts))
    if request.endpoint not in NOT_PERSONAL or response.status_code >= 400:
        # An error page is never kept either (a missing static file included): the
        # next try must reach the server, and a cached 404 or 429 would outlive its cause.
        # Pages and JSON hold health data: never stored by shared caches, the browser
        # cache or the back button cache (the service worker keeps its own copies).
        wanted.append(("Cache-Control", "no-store"))
    for name, value in wanted:
        if name.lower() not in present:
            response.headers.add(name, value)
    return response
