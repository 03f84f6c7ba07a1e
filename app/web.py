"""Web helpers every blueprint shares: small readings of the request and the photo response.

- ``client_address``: who sent the request, for the audit trail.
- ``chosen_file``: the photo picked in a form with two pickers (camera, photos).
- ``device_label``: a short human name for a push device, from its User-Agent.
- ``jpeg_response`` (with ``PHOTO_HEADERS``): the one way photo bytes leave the server.
- ``public_url``: a link for someone else to open (a sign-in link), from the configured
  address, never from the request's Host header.
- ``PHOTO_FILES``: the photo-file endpoints, which answer 404 rather than a sign-in
  redirect to anyone not signed in.
- ``thumb_signature``: the mark a clinician page's thumbnail links carry, so a
  thumbnail fetched without the (audited) page that showed it is audited itself.
- ``install_hosts_and_proxies``: which Host headers the app answers (``TRUSTED_HOSTS``)
  and how many proxies' ``X-Forwarded-For`` entries it believes (``ProxyFix``).

Plain helpers, no routes: views of any blueprint import them from here, so no view needs
another blueprint's module.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import Flask
from flask import Response
from flask import current_app
from flask import request
from flask import url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from config import ConfigError

# Photo files answer 404 to anyone not signed in, not a redirect: a photo URL must not
# even reveal that something is there (issue: "nobody else can reach a photo").
PHOTO_FILES = frozenset(
    {
        "patient.photo_image",
        "patient.photo_thumb",
        "clinician.photo_image",
        "clinician.photo_thumb",
    }
)

# "Download my data" URLs (issue 20 point 5): 404, not a sign-in redirect, to anyone not
# signed in, and never stored by a browser, a proxy or the service worker.
EXPORT_FILES = frozenset({"patient.request_export", "patient.download_export"})


def public_url(endpoint: str, **values: object) -> str:
    """The full address of ``endpoint`` as the clinic's users reach the app.

    Built from ``SCLERO_BASE_URL`` (with any path prefix it has), not from the request:
    the Host header is whatever the sender of the request chose, and a sign-in link
    built from it could point a patient at someone else's site.
    """
    base = current_app.config.get("SCLERO_BASE_URL")
    if not base:  # only a hand-made config lacks it; production refuses to start then
        return url_for(endpoint, _external=True, **values)
    parts = urlsplit(str(base))
    urls = current_app.url_map.bind(
        parts.netloc, script_name=parts.path.rstrip("/") or "/", url_scheme=parts.scheme
    )
    return urls.build(endpoint, values, force_external=True)


def trusted_hosts(config: dict) -> list[str] | None:
    """The host names the app answers to, or None for any.

    ``SCLERO_TRUSTED_HOSTS`` (a list, or names separated by commas) when set; otherwise,
    in production, the host of ``SCLERO_BASE_URL``: the one name users are sent to.
    """
    names = config.get("SCLERO_TRUSTED_HOSTS") or ""
    if isinstance(names, str):
        names = names.split(",")
    hosts = [str(name).strip().lower() for name in names if str(name).strip()]
    if not hosts and config.get("SCLERO_HOSTS_FROM_BASE_URL"):
        host = urlsplit(str(config.get("SCLERO_BASE_URL") or "")).hostname
        hosts = [host] if host else []
    return hosts or None


def proxy_count(config: dict) -> int:
    """``SCLERO_PROXY_COUNT`` as a number of proxies; a bad value stops the start-up."""
    value = config.get("SCLERO_PROXY_COUNT") or 0
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if not 0 <= count <= 5 or isinstance(value, bool):
        raise ConfigError(
            f"SCLERO_PROXY_COUNT must be the number of proxies in front (0 to 5), not {value!r}."
        )
    return count


def install_hosts_and_proxies(app: Flask) -> None:
    """Answer only the configured host names, and read the client's address through the
    configured number of proxies.

    A request for another host gets 400 (Flask's ``TRUSTED_HOSTS``), so nothing the app
    makes from the Host header (redirects) can point elsewhere. Behind N proxies the
    rightmost N ``X-Forwarded-For`` entries were written by them; ``ProxyFix`` takes the
    client's address (and the scheme) from there, and never the host, which comes from
    ``SCLERO_BASE_URL``. With no proxy the header is ignored: anyone could send it.
    """
    if app.config.get("TRUSTED_HOSTS") is None:
        app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config)
    count = proxy_count(app.config)
    if count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=0, x_port=0, x_prefix=0
        )


# ``no-store`` keeps photos out of the browser cache, shared caches and the back-forward
# cache (the service worker never caches them either); ``nosniff`` and the sandboxing CSP
# make sure the bytes are only ever treated as an image, even if opened on their own; the
# fixed file name leaks nothing when saved.
PHOTO_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Disposition": 'inline; filename="photo.jpg"',
    "Cross-Origin-Resource-Policy": "same-origin",
}


def client_address() -> str:
    """The address the request came from, as the audit trail records it ("" if unknown)."""
    return request.remote_addr or ""


def chosen_file(files):  # noqa: ANN001, ANN201
    """The photo the patient chose: the pages offer two pickers (camera, photos), and
    send one."""
    return next((f for f in files.getlist("photo") if f and f.filename), None)


# The first key found in the lower-cased User-Agent names it; order matters (an Edge or
# Chrome User-Agent also says "safari", an Android one "linux").
_SYSTEMS = (
    ("iphone", "iPhone"),
    ("ipad", "iPad"),
    ("android", "Android"),
    ("windows", "Windows"),
    ("mac os", "Mac"),
    ("linux", "Linux"),
)
_BROWSERS = (("edg/", "Edge"), ("firefox", "Firefox"), ("chrome", "Chrome"), ("safari", "Safari"))


def _first_named(ua: str, names: tuple[tuple[str, str], ...], default: str) -> str:
    return next((name for key, name in names if key in ua), default)


def device_label(user_agent: str) -> str:
    """A short, human name for a device from its User-Agent ("iPhone, Safari")."""
    ua = user_agent.lower()
    return f"{_first_named(ua, _SYSTEMS, 'Device')}, {_first_named(ua, _BROWSERS, 'browser')}"


def jpeg_response(data: bytes) -> Response:
    """Stored, integrity-checked JPEG bytes as an HTTP response."""
    response = Response(data, mimetype="image/jpeg")
    response.headers.update(PHOTO_HEADERS)
    return response


def thumb_signature(user_id: int, photo_id: int) -> str:
    """The ``s`` of a clinician's thumbnail link: an HMAC of who and which photo.

    The pages that show thumbnails (a patient's diary and photos, the worklist, the
    outcome scoring) are audited as views; their thumbnails are not audited one by one
    (a page of 200 would write 200 rows). A thumbnail fetched by id without this mark,
    by someone walking ids rather than reading a page, is audited itself
    (adversarial review, 2026-12-07). The key is the app's secret key.
    """
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    message = f"thumb:{user_id}:{photo_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:20]


def thumb_signed(user_id: int, photo_id: int, sent: str | None) -> bool:
    """Whether ``sent`` is the thumbnail mark for this clinician and photo."""
    return bool(sent) and hmac.compare_digest(str(sent), thumb_signature(user_id, photo_id))
