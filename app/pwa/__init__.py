"""Web app manifest, service worker and offline page, served from the site root."""

from app.pwa.routes import bp

__all__ = ["bp"]
