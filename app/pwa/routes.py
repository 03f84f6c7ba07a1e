"""Routes: /manifest.webmanifest, /sw.js, /offline."""

from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import render_template
from flask import send_from_directory

bp = Blueprint("pwa", __name__)


@bp.get("/manifest.webmanifest")
def manifest():
    data = {
        "name": "ScleroCare: your vein treatment aftercare",
        "short_name": "ScleroCare",
        "id": "/",
        "start_url": "/patient/today",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1d4e89",
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
    return response


@bp.get("/sw.js")
def service_worker():
    response = send_from_directory(current_app.static_folder, "sw.js", mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/offline")
def offline():
    return render_template("pwa/offline.html")
