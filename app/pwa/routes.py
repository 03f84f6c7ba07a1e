"""Routes: /manifest.webmanifest, /sw.js, /offline."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request

from app import assets
from app.clock import now
from app.extensions import csrf
from app.i18n import _
from app.i18n import html_lang
from app.services.errors import Invalid
from app.services.notify import subscriptions

bp = Blueprint("pwa", __name__)


@bp.get("/manifest.webmanifest")
def manifest():
    # The install prompt shows the name, description and screenshot labels: in the
    # reader's language (the browser's, when the manifest is fetched without cookies).
    data = {
        "name": _("ScleroCare: your vein treatment aftercare"),
        "short_name": "ScleroCare",
        "id": "/",
        "start_url": "/patient/today",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d4e89",
        "description": _("Your checklist before vein treatment and your recovery, day by day."),
        "lang": html_lang(),
        "orientation": "any",
        "categories": ["health", "medical"],
        "screenshots": [
            {
                "src": "/static/screenshots/today-narrow.png",
                "sizes": "390x844",
                "type": "image/png",
                "form_factor": "narrow",
                "label": _("Today: what to do, what to avoid and what is normal"),
            },
            {
                "src": "/static/screenshots/today-wide.png",
                "sizes": "1280x800",
                "type": "image/png",
                "form_factor": "wide",
                "label": _("Today on a larger screen"),
            },
        ],
        "icons": [
            {
                "src": "/static/icons/icon-192.png",
                "sizes": "192x192",
                "type": "image/png",
                "purpose": "any",
            },
            {
                "src": "/static/icons/icon-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "any",
            },
            {
                "src": "/static/icons/maskable-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    response = jsonify(data)
    response.mimetype = "application/manifest+json"
    # A cache must keep one copy per language: who asks decides the words.
    response.vary.update(("Accept-Language", "Cookie"))
    return response


@bp.get("/sw.js")
def service_worker():
    response = current_app.response_class(
        assets.service_worker_source(current_app), mimetype="text/javascript"
    )
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/offline")
def offline():
    return render_template("pwa/offline.html")


@bp.post("/push/resubscribe")
@csrf.exempt  # called by the service worker, which has no page and no CSRF token;
# safe because it only acts for whoever holds the old endpoint, a secret URL.
def resubscribe():
    body = request.get_json(silent=True) or {}
    old = body.get("old_endpoint")
    if not isinstance(old, str):
        return jsonify(ok=False, error="old_endpoint missing"), 400
    try:
        changed = subscriptions.replace_endpoint(
            old, body.get("subscription"), now(), request.remote_addr or ""
        )
    except Invalid as exc:
        return jsonify(ok=False, error=exc.message), 400
    return jsonify(ok=changed), (200 if changed else 404)
