"""The one way photo bytes leave the server: a JPEG response no cache may keep.

``no-store`` keeps photos out of the browser cache, shared caches and the back-forward
cache (the service worker never caches them either); ``nosniff`` and the sandboxing CSP
make sure the bytes are only ever treated as an image, even if opened on their own; the
fixed file name leaks nothing when saved.
"""

from __future__ import annotations

from flask import Response

PHOTO_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Content-Disposition": 'inline; filename="photo.jpg"',
    "Cross-Origin-Resource-Policy": "same-origin",
}


def jpeg_response(data: bytes) -> Response:
    """Stored, integrity-checked JPEG bytes as an HTTP response."""
    response = Response(data, mimetype="image/jpeg")
    response.headers.update(PHOTO_HEADERS)
    return response
