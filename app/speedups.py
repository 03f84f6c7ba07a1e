"""Every place ScleroCare replaces Flask's (or an extension's) own behaviour, in one module.

Each must behave exactly like what it replaces: tests/web/test_speedups.py compares each
with the original. ``install(app)`` puts them all in place (``create_app``).

==  ===============  =====================  =========================  =====================
#   replacement      replaces               why                        bench figure
==  ===============  =====================  =========================  =====================
1   CookieSessions   Flask's session        Flask builds a serializer  6.8 -> 0.4 us a call,
                     interface's            and derives its keys on    one call a request:
                     get_signing_           every request; they only   about 0.7 % of Today
                     serializer             change with the config
2   sync cache       Flask.ensure_sync      Flask asks ``inspect``     0.35 -> 0.10 us a
                                            about every view and hook  call, 14 calls a
                                            on every request           Today: about 0.4 %
3   CheckInRequest   Request.max_content_   not a speed-up: an over-   none (correctness,
                     length, for POST of    large photo must not lose  not speed)
                     the check-in           the answers with a 413
4   URL cache        url_for in templates;  Werkzeug's URL building    Today 1.06x as long
                     url_with: url_for per  costs more than the rest   without; 3.6 -> 1.2
                     dashboard row          of a small page            us a URL, 4.5 -> 1.3
                                                                       us a dashboard link
5   csrf_token       Flask-WTF's            it signs the token afresh  Today 1.05x to 1.06x
                     csrf_token() in        (JSON, zlib, HMAC) on      as long without
                     templates              every page
6   FragmentCache    rendering the red-     the same two fragments on  Today 1.11x as long
                     flag box and the tab   every patient page, per    without
                     bar on each request    clinic / per tab
7   gzip             (none: Flask sends     bytes on a phone network   Today 21.4 -> 6.3 KB,
                     bodies as they are)    (bench/pages.py: critical  check-in 27.5 -> 7.2,
                                            path at most 14 KB);       app.js 14.9 -> 5.1;
                                            static files compressed    costs 0.2 ms of CPU
                                            once per process, kept     a page, ~0 a static
                                                                       file once kept
==  ===============  =====================  =========================  =====================

How measured (2026-12-06, 2-core shared VM, SQLite, development settings, demo data):
"Today" is ``GET /patient/today`` for the day-3 demo patient through the test client,
in-process (about 0.9 ms a request). Each figure is the median over 15 to 25 rounds of
100 requests, alternating between an app with the replacement and one where Flask's own
behaviour stands in, in the same run (two runs each); per-call figures are ``timeit`` of
the two functions. 1 and 2 are too small to see on the page, hence per call. Without 1,
2, 4, 5 and 6 together Today takes 1.30x to 1.32x as long (0.91 -> 1.19 ms); under
gunicorn and wrk, as bench/today_page.py serves it, the app as shipped answers 1.24x the
requests per second (5 pairs on a busy machine). gzip's figures are the bytes sent, and
``gzip.compress`` of Today at level 6 (207 us; the whole in-process request took 1.5x
as long with ``Accept-Encoding: gzip``).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request
from flask import session
from flask import url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import generate_csrf
from itsdangerous import URLSafeTimedSerializer
from markupsafe import Markup

from app.checkin_request import CHECKIN_ENDPOINT as CHECKIN_ENDPOINT
from app.checkin_request import checkin_paths as checkin_paths
from app.checkin_request import install_checkin_request

# Kept values per key (fragments, signed tokens): when full, start again, which costs
# one rendering or signing per key.
LIMIT = 4096


def install(app: Flask) -> None:
    """Put every replacement in place: after the blueprints (the check-in path comes from
    the URL map) and after Flask-WTF (its ``csrf_token`` is replaced), before any request."""
    install_cookie_sessions(app)
    install_sync_cache(app)
    install_checkin_request(app)
    install_url_cache(app)
    install_csrf_token(app)
    install_fragment_cache(app)
    install_gzip(app)


# ----------------------------------------------------------------- 1 session serializer


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key set.

    Flask builds a new serializer (and derives its keys) on every request; the keys only
    change with the configuration, so the serializer is kept until they do.
    """

    def __init__(self) -> None:
        self._serializer: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._serializer is None or self._serializer[0] != keys:
            self._serializer = (keys, super().get_signing_serializer(app))
        return self._serializer[1]


def install_cookie_sessions(app: Flask) -> None:
    """Sessions through ``CookieSessions``."""
    app.session_interface = CookieSessions()


# ----------------------------------------------------------------- 2 ensure_sync


def install_sync_cache(app: Flask) -> None:
    """``app.ensure_sync`` answers once per function.

    Flask asks ``inspect`` whether each view and hook is a coroutine function on every
    request; the answer for a given function never changes. Flask only ever calls it as
    ``app.ensure_sync``, so an instance attribute stands in for the method.
    """
    flask_ensure_sync = app.ensure_sync
    done: dict[Callable, Callable] = {}

    def ensure_sync(func: Callable) -> Callable:
        sync = done.get(func)
        if sync is None:
            sync = done[func] = flask_ensure_sync(func)
        return sync

    app.ensure_sync = ensure_sync  # type: ignore[method-assign]


# ----------------------------------------------------------------- 3 check-in body limit
# app/checkin_request.py


# ----------------------------------------------------------------- 4 url_for in templates


def install_url_cache(app: Flask) -> None:
    """Templates' ``url_for`` and ``url_with`` build a URL once per mount point and keep it.

    Templates build the same few URLs on every page (navigation, assets). A URL without
    values is built once per mount point (SCRIPT_NAME) and endpoint; anything with values
    (``_external``, ``_anchor``, query arguments, ids) goes to Flask's ``url_for``.
    ``kept_url`` (in ``app.extensions``) keeps any other URL the same way (assets).
    """
    built: dict[tuple[str, str], str] = {}

    def cached_url_for(endpoint: str, **values: object) -> str:
        if values or endpoint.startswith("."):
            return url_for(endpoint, **values)
        key = (request.script_root, endpoint)
        url = built.get(key)
        if url is None:
            url = built[key] = url_for(endpoint)
        return url

    def kept_url(name: str, build: Callable[[], str]) -> str:
        key = (request.script_root, name)
        url = built.get(key)
        if url is None:
            url = built[key] = build()
        return url

    patterns: dict[tuple[str, str, str], tuple[str, str] | None] = {}
    sentinel = 9876543210

    def url_with(endpoint: str, name: str, value: int) -> str:
        # ``url_for(endpoint, name=value)`` for an integer id, from a pattern built once:
        # the dashboard links up to 80 patients per page.
        key = (request.script_root, endpoint, name)
        if key not in patterns:
            parts = url_for(endpoint, **{name: sentinel}).split(str(sentinel))
            patterns[key] = (parts[0], parts[1]) if len(parts) == 2 else None
        pattern = patterns[key]
        if pattern is None:
            return url_for(endpoint, **{name: value})
        return f"{pattern[0]}{int(value)}{pattern[1]}"

    app.extensions["sclero_kept_url"] = kept_url
    app.jinja_env.globals["url_for"] = cached_url_for
    app.jinja_env.globals["url_with"] = url_with


# ----------------------------------------------------------------- 5 csrf_token


def install_csrf_token(app: Flask) -> None:
    """Templates' ``csrf_token()`` keeps the signed token per session secret.

    Flask-WTF signs the session's raw CSRF secret afresh on every page (JSON, zlib,
    HMAC). With no time limit on tokens an earlier signed form stays valid for as long
    as the raw secret does, so it is kept per secret instead of re-made. With a time
    limit, Flask-WTF's own ``generate_csrf`` answers.
    """
    signed_tokens: dict[str, str] = {}

    def csrf_token() -> str:
        done = g.get("csrf_token")
        if done is not None:
            return done
        if app.config.get("WTF_CSRF_TIME_LIMIT") is not None:
            return generate_csrf()
        raw = session.get("csrf_token")
        signed = signed_tokens.get(raw) if isinstance(raw, str) else None
        if signed is None:
            signed = generate_csrf()
            if len(signed_tokens) >= LIMIT:
                signed_tokens.clear()
            signed_tokens[session["csrf_token"]] = signed
        g.csrf_token = signed  # what Flask-WTF's own forms and generate_csrf() return
        return signed

    # Flask-WTF offers its csrf_token() through a context processor; a later one wins.
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.context_processor(lambda: {"csrf_token": csrf_token})


# ----------------------------------------------------------------- 6 fragment cache


class FragmentCache:
    """Rendered fragments by a key that names everything they depend on.

    Per process, and safe with several app servers for that reason: what another
    instance changed (a clinic's settings) arrives in the key, read from the database
    on each request, so it can only miss, never be stale (stateless-app-servers.md).
    Bounded: when full it starts again, which costs one rendering per key.
    """

    LIMIT = LIMIT

    def __init__(self) -> None:
        self._done: dict[object, Markup] = {}

    def get(self, key: object, template: str, **context: object) -> Markup:
        html = self._done.get(key)
        if html is None:
            rendered = current_app.jinja_env.get_template(template).render(**context)
            # Trusted markup (bandit B704): Jinja rendered it with autoescape on.
            html = Markup(rendered)  # nosec B704
            if len(self._done) >= self.LIMIT:
                self._done.clear()
            self._done[key] = html
        return html


def install_fragment_cache(app: Flask) -> None:
    """One ``FragmentCache`` per app (``fragment_cache``)."""
    app.extensions["sclero_fragments"] = FragmentCache()


def fragment_cache(app: Flask) -> FragmentCache:
    """The app's ``FragmentCache``: a key must name everything its rendering depends on
    (app/templating.py: ``help_box``, ``patient_nav``)."""
    return app.extensions["sclero_fragments"]


# ----------------------------------------------------------------- 7 gzip

COMPRESSIBLE = {
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "image/svg+xml",
    "text/plain",
}
# Below this many bytes gzip saves too little to be worth the client's work.
GZIP_MIN_BYTES = 500
# Static files change only with a release: each is compressed once per process, at the
# smallest size, and kept (by path and checksum, so a changed file is compressed again).
STATIC_LEVEL = 9
_static_gz: dict[tuple[str, int, int], bytes] = {}


def _gzipped(data: bytes) -> bytes:
    """Pages at level 6 (their bytes differ every time); static files from the kept copy.

    Where compression belongs is in docs/decisions/compression-and-connections.md."""
    if not request.path.startswith("/static/"):
        return gzip.compress(data, compresslevel=6)
    key = (request.path, len(data), zlib.crc32(data))
    packed = _static_gz.get(key)
    if packed is None:
        packed = gzip.compress(data, compresslevel=STATIC_LEVEL)
        if len(_static_gz) >= LIMIT:
            _static_gz.clear()
        _static_gz[key] = packed
    return packed


def compress(response: Response) -> Response:
    """Gzip a 200 text response of 500 bytes or more for a client that accepts it."""
    if (
        response.status_code != 200
        or "gzip" not in request.headers.get("Accept-Encoding", "")
        or response.mimetype not in COMPRESSIBLE
        or "Content-Encoding" in response.headers
    ):
        return response
    response.direct_passthrough = False
    data = response.get_data()
    if len(data) < GZIP_MIN_BYTES:
        return response
    response.set_data(_gzipped(data))
    response.headers["Content-Encoding"] = "gzip"
    response.headers.add("Vary", "Accept-Encoding")
    return response


def install_gzip(app: Flask) -> None:
    """``compress`` after every request (hooks run last-registered first: app/assets.py's
    cache headers, registered later, run before it)."""
    app.after_request(compress)
