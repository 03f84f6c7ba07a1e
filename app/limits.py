"""Limits per client address on the pages that take a password or send an email.

Flask-Limiter counts POSTs by ``request.remote_addr`` (the client's address once the
proxy setting is right; an IPv6 client by its /64 network, ``client_key``) in the store
named by ``RATELIMIT_STORAGE_URI``: Redis in production, so every worker shares one
count; ``memory://`` (one count per process) in development and tests. The limits are
settings, read at each request:

* ``SCLERO_SIGNIN_LIMIT`` on the sign-in page: someone trying many emails from one
  place is stopped, whatever the per-account counter says (checklist A3);
* ``SCLERO_RESET_ASK_LIMIT`` on "Forgot your password?": someone with a list of the
  clinic's emails cannot have the clinic mail every one of them;
* ``SCLERO_LINK_PAGE_LIMIT`` on the invitation and reset pages together;
* ``SCLERO_CALENDAR_LINK_LIMIT`` on fetches of one calendar subscription link, counted
  by the link (``link_key``), and ``SCLERO_CALENDAR_FEED_LIMIT`` on all of them per
  address (GET: a calendar app polls them with no cookie).

Requests from this machine itself (127.0.0.1, ::1) are not limited while
``SCLERO_RATELIMIT_EXEMPT_LOOPBACK`` is on: behind a local reverse proxy whose hops are
not configured, every client seems to come from there, and a limit on that one address
would be one limit for everybody (30 wrong passwords by anyone would stop every
sign-in). The per-account counter (``accounts.signin``) still applies to them, and so do
the limits counted by something else than the address (a calendar link, a patient's
new calendar links): only the address limits take ``exempt_when=from_this_machine``.

If Redis cannot be reached, each worker counts in its own memory until it can again,
and nothing becomes a 500 (``swallow_errors``). A request over a limit gets the app's
friendly 429 page, or the page's own form again (with the typed email) when the page
gives an ``on_breach`` page (``app.auth.limited``).
"""

from __future__ import annotations

import hashlib
import ipaddress

from flask import Flask
from flask import current_app
from flask import render_template
from flask import request
from flask_limiter import Limiter
from flask_limiter import RateLimitExceeded
from flask_limiter import RequestLimit

from app.errors import MESSAGES
from app.i18n import _
from app.i18n import ngettext

LOOPBACK = frozenset({"127.0.0.1", "::1"})


def client_key() -> str:
    """The address a request is counted against.

    An IPv6 client is counted by its /64 network, not its exact address: a home or
    mobile connection is given a whole /64 and may use any of its 2**64 addresses, so
    a limit on single addresses would stop nobody who changes address each try. An IPv4
    address written in IPv6 form counts as the IPv4 address.
    """
    address = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network((ip, 64), strict=False))
    return str(ip)


def sign_in() -> str:
    """The sign-in page's limit per address, e.g. "30 per 15 minutes"."""
    return current_app.config["SCLERO_SIGNIN_LIMIT"]


def reset_ask() -> str:
    """The "Forgot your password?" page's limit per address."""
    return current_app.config["SCLERO_RESET_ASK_LIMIT"]


def link_page() -> str:
    """The invitation and reset pages' shared limit per address."""
    return current_app.config["SCLERO_LINK_PAGE_LIMIT"]


def calendar_feed() -> str:
    """Calendar subscription links' fetches per address (``SCLERO_CALENDAR_FEED_LIMIT``)."""
    return current_app.config["SCLERO_CALENDAR_FEED_LIMIT"]


def calendar_link() -> str:
    """One calendar subscription link's fetches (``SCLERO_CALENDAR_LINK_LIMIT``)."""
    return current_app.config["SCLERO_CALENDAR_LINK_LIMIT"]


def link_key() -> str:
    """The count of one link (the token in the URL), whoever fetches it: a hash, so the
    limiter's store (Redis) never holds the token itself."""
    token = str((request.view_args or {}).get("token", ""))
    return "link:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


limiter = Limiter(
    key_func=client_key,
    key_prefix="sclero",
    # A moving window: a burst at the end of one window and the start of the next
    # cannot double the limit, as it can with fixed windows.
    strategy="moving-window",
    # Retry-After on a 429 tells a script (and a browser) when to come back.
    headers_enabled=True,
    swallow_errors=True,
    in_memory_fallback_enabled=True,
)


def from_this_machine() -> bool:
    """Whether an *address* limit lets this request through: it comes from loopback and
    the setting says so. Given to each limit counted by address (``exempt_when``), not
    to the limiter as a whole: a limit counted per account or per link still applies to
    loopback (an adversarial test made 28 calendar links through 127.0.0.1)."""
    return bool(current_app.config.get("SCLERO_RATELIMIT_EXEMPT_LOOPBACK")) and (
        request.remote_addr in LOOPBACK
    )


def wait_words(limit: RequestLimit) -> str:
    """How long someone over ``limit`` waits at most, in words: "15 minutes"."""
    seconds = limit.limit.get_expiry()
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return _("an hour") if hours == 1 else ngettext("%(num)d hour", "%(num)d hours", hours)
    minutes = max(1, -(-seconds // 60))
    if minutes == 1:
        return _("a minute")
    return ngettext("%(num)d minute", "%(num)d minutes", minutes)


def _too_many(exc: RateLimitExceeded):  # noqa: ANN202 - a Flask error handler
    if exc.response is not None:
        return exc.response
    # The app's friendly page, with its words for any 429.
    title, body = (_(text) for text in MESSAGES[429])
    return render_template("errors/error.html", code=429, title=title, body=body), 429


def init_app(app: Flask) -> None:
    """Bind the limiter to ``app`` with its store (``RATELIMIT_STORAGE_URI``).

    There is one limiter per process (the pages' decorators need it at import), and
    each call gives it a new store: where one process holds two apps (tests), the last
    one's store counts for both. A worker holds one app, so this never matters there.
    """
    limiter.init_app(app)
    # The new store starts out reachable: Flask-Limiter keeps "the store is dead" from
    # the previous app otherwise, and a test after one with an unreachable Redis would
    # count in the fallback memory instead of its own store.
    limiter._storage_dead = False  # noqa: SLF001 - no public way to reset it
    app.register_error_handler(RateLimitExceeded, _too_many)
