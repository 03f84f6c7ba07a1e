"""Static assets: versioned URLs, long cache lifetimes, the service worker.

Every static URL carries a short hash of the file (``/static/css/app.css?v=1a2b3c4d``),
so browsers may keep it for a year and a changed file is fetched at once. The service
worker's cache name and precache list are filled in from the same hashes when it is
served, so a new release activates cleanly and old caches are removed. (Compression, and
the kept URLs ``asset`` builds on, are speed-ups: app/speedups.py.)
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from flask import Flask
from flask import Response
from flask import request
from flask import url_for
from markupsafe import Markup

from app.i18n import LANGUAGES
from app.i18n import N_
from app.i18n import said_in

# The service worker's words for a push it cannot read (sw.js FALLBACK_BODY). One worker
# serves whoever uses the phone, in any language, so it says it in each language
# offered, as the offline page does (pwa/offline.html): never English alone.
FALLBACK_BODY = N_("You have a new reminder. Open ScleroCare to see it.")

# Precached when the service worker installs, which happens on the first page seen,
# often the sign-in page: only what someone not signed in needs (issue 22 point 4).
PRECACHE = [
    "js/start.js",
    "icons/icon-192.png",
]
# What a patient's pages kept for offline use need (the check-in page works offline:
# app.js queues it). The service worker caches these once someone is signed in (app.js
# asks it to, and it does so itself when it keeps a patient's page), never for the
# sign-in page alone.
PATIENT_ASSETS = [
    "js/app.js",
    "js/push.js",
    "js/checkin.js",
    "js/triage.js",
    "js/photoshrink.js",
    "css/photos.css",
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
        # Trusted markup (bandit B704): the app's own stylesheet file, not user input.
        "inline_css": Markup(inline_css),  # nosec B704
        "csp": CSP.format(style_hash=f" 'sha256-{digest}'"),
    }
    app.jinja_env.globals["inline_css"] = app.extensions["sclero_assets"]["inline_css"]

    # Built once per mount point and kept (app/speedups.py: the URL cache).
    kept_url = app.extensions["sclero_kept_url"]

    def asset(filename: str) -> str:
        return kept_url(
            "static:" + filename,
            lambda: url_for("static", filename=filename, v=hashes.get(filename, "0")),
        )

    app.jinja_env.globals["asset"] = asset
    app.after_request(_cache_headers)


def service_worker_source(app: Flask) -> str:
    """sw.js with this release's cache version and versioned precache URLs."""
    ext = app.extensions["sclero_assets"]
    cached = ext.get("sw")
    if cached is None:
        with open(os.path.join(app.static_folder or "", "sw.js"), encoding="utf-8") as fh:
            source = fh.read()

        def versioned(names: list[str]) -> list[str]:
            return [f"/static/{name}?v={ext['hashes'].get(name, '0')}" for name in names]

        source = source.replace('"__ASSET_VERSION__"', json.dumps(ext["version"]))
        source = source.replace('["__PRECACHE__"]', json.dumps(["/offline", *versioned(PRECACHE)]))
        source = source.replace('["__PATIENT_ASSETS__"]', json.dumps(versioned(PATIENT_ASSETS)))
        source = source.replace(json.dumps(FALLBACK_BODY), json.dumps(fallback_body()))
        ext["sw"] = cached = source
    return cached


def fallback_body() -> str:
    """FALLBACK_BODY in every offered language, English first, without repeats."""
    said = [said_in(code, FALLBACK_BODY) for code in LANGUAGES]
    return " / ".join(dict.fromkeys(said))


def _cache_headers(response: Response) -> Response:
    if (
        request.path.startswith("/static/")
        and request.args.get("v")
        and response.status_code == 200
    ):
        response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    return response
