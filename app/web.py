"""Web helpers every blueprint shares: small readings of the request and the photo response.

- ``client_address``: who sent the request, for the audit trail.
- ``chosen_file``: the photo picked in a form with two pickers (camera, photos).
- ``device_label``: a short human name for a push device, from its User-Agent.
- ``jpeg_response`` (with ``PHOTO_HEADERS``): the one way photo bytes leave the server.
- ``public_url``: a link for someone else to open (a sign-in link), from the configured
  address, never from the request's Host header.
- ``PHOTO_FILES``: the photo-file endpoints, which answer 404 rather than a sign-in
  redirect to anyone not signed in.

Plain helpers, no routes: views of any blueprint import them from here, so no view needs
another blueprint's module.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response
from flask import current_app
from flask import request
from flask import url_for

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
