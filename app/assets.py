"""Static assets: versioned URLs, long cache lifetimes, compression, the service worker.

Every static URL carries a short hash of the file (``/static/css/app.css?v=1a2b3c4d``),
so browsers may keep it for a year and a changed file is fetched at once. The service
worker's cache name and precache list are filled in from the same hashes when it is
served, so a new release activates cleanly and old caches are removed.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os

from flask import Flask
from flask import Response
from flask import request
from flask import url_for
from markupsafe import Markup

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
# What a page kept for offline use needs (the check-in page works offline: app.js queues it).
PRECACHE = [
    "js/app.js",
    "js/push.js",
    "js/checkin.js",
    "js/triage.js",
    "css/photos.css",
    "icons/icon-192.png",
]
YEAR = 365 * 24 * 3600


def _hashes(static_folder: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for root, _dirs, files in os.walk(static_folder):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, static_folder).replace(os.sep, "/")
            with open(path, "rb") as fh:
                found[rel] = hashlib.sha256(fh.read()).hexdigest()[:10]
    return found


def init_app(app: Flask) -> None:
    """Hash the static files once at start-up and install the helpers."""
    hashes = _hashes(app.static_folder or "")
    version = hashlib.sha256(
        "".join(f"{k}:{v}" for k, v in sorted(hashes.items())).encode()
    ).hexdigest()[:10]
    # The main stylesheet is inlined into every page: under mobile network conditions a
    # render-blocking CSS request costs a round trip before anything shows (bench/pages.py).
    with open(os.path.join(app.static_folder or "", "css", "app.css"), encoding="utf-8") as fh:
        inline_css = fh.read()
    digest = base64.b64encode(hashlib.sha256(inline_css.encode("utf-8")).digest()).decode()
    from app.errors import CSP

    app.extensions["sclero_assets"] = {
        "hashes": hashes,
        "version": version,
        "inline_css": Markup(inline_css),
        "csp": CSP.format(style_hash=f" 'sha256-{digest}'"),
    }
    app.jinja_env.globals["inline_css"] = app.extensions["sclero_assets"]["inline_css"]

    # Templates build the same few URLs on every page (navigation, assets). Werkzeug's
    # URL building costs more than the rest of a small page, so a URL without values is
    # built once per mount point (SCRIPT_NAME) and endpoint, and kept (bench/today_page.py).
    built: dict[tuple[str, str], str] = {}

    def cached_url_for(endpoint: str, **values: object) -> str:
        if values or endpoint.startswith("."):
            return url_for(endpoint, **values)
        key = (request.script_root, endpoint)
        url = built.get(key)
        if url is None:
            url = built[key] = url_for(endpoint)
        return url

    def asset(filename: str) -> str:
        key = (request.script_root, "static:" + filename)
        url = built.get(key)
        if url is None:
            url = built[key] = url_for("static", filename=filename, v=hashes.get(filename, "0"))
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

    app.jinja_env.globals["asset"] = asset
    app.jinja_env.globals["url_for"] = cached_url_for
    app.jinja_env.globals["url_with"] = url_with
    app.after_request(_cache_and_compress)


def service_worker_source(app: Flask) -> str:
    """sw.js with this release's cache version and versioned precache URLs."""
    ext = app.extensions["sclero_assets"]
    cached = ext.get("sw")
    if cached is None:
        with open(os.path.join(app.static_folder or "", "sw.js"), encoding="utf-8") as fh:
            source = fh.read()
        urls = ["/offline"] + [
            f"/static/{name}?v={ext['hashes'].get(name, '0')}" for name in PRECACHE
        ]
        source = source.replace('"__ASSET_VERSION__"', json.dumps(ext["version"]))
        source = source.replace('["__PRECACHE__"]', json.dumps(urls))
        ext["sw"] = cached = source
    return cached


def _cache_and_compress(response: Response) -> Response:
    if (
        request.path.startswith("/static/")
        and request.args.get("v")
        and response.status_code == 200
    ):
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    if (
        response.status_code != 200
        or "gzip" not in request.headers.get("Accept-Encoding", "")
        or response.mimetype not in COMPRESSIBLE
        or "Content-Encoding" in response.headers
    ):
        return response
    response.direct_passthrough = False
    data = response.get_data()
    if len(data) < 500:
        return response
    response.set_data(gzip.compress(data, compresslevel=6))
    response.headers["Content-Encoding"] = "gzip"
    response.headers.add("Vary", "Accept-Encoding")
    return response
