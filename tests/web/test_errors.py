"""Unknown URLs, wrong methods and crashes give friendly pages, never internals."""

from __future__ import annotations

from tests.conftest import login
from tests.conftest import text_of


def test_unknown_url_is_a_friendly_404(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404
    assert "Page not found" in text_of(r)
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_wrong_method_is_a_friendly_405(client):
    r = client.get("/logout")
    assert r.status_code == 405 and "That did not work" in text_of(r)


def test_unexpected_error_is_a_friendly_500_without_internals(app, client, world):
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internal detail")

    r = client.get("/boom-for-test")
    assert r.status_code == 500
    body = text_of(r)
    assert "Sorry, something went wrong on our side" in body
    assert "secret internal detail" not in body and "Traceback" not in body


def test_pages_with_health_data_are_not_cached(client, world):
    login(client, "alice@patients.example")
    r = client.get("/patient/today")
    assert r.headers["Cache-Control"] == "no-store"


def test_manifest_and_service_worker_are_served_with_their_types(client):
    r = client.get("/manifest.webmanifest")
    assert r.mimetype == "application/manifest+json"
    assert r.get_json()["display"] == "standalone"
    sw = client.get("/sw.js")
    assert sw.mimetype == "text/javascript" and sw.headers["Cache-Control"] == "no-cache"
    sw.close()
