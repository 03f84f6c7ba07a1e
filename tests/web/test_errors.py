"""Unknown URLs, wrong methods and crashes give friendly pages, never internals."""

from __future__ import annotations

import re

from app import create_app
from app.extensions import db
from app.models import Comment
from config import TestingConfig
from tests.conftest import count
from tests.conftest import login
from tests.conftest import text_of

UNREADABLE = "We could not read what you sent"


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


class CsrfConfig(TestingConfig):
    WTF_CSRF_ENABLED = True


def test_a_form_that_is_not_utf8_is_unreadable_not_expired(database_url, _schema, world):
    # A raw Latin-1 byte made Werkzeug read the whole body as an empty form, so the valid
    # CSRF token went missing and the page said "the form expired": a reload did not help.
    app = create_app(CsrfConfig, SQLALCHEMY_DATABASE_URI=database_url)
    try:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        body = f"csrf_token={token}&email=caf\xe9@patients.example&password=x".encode("latin-1")
        form = "application/x-www-form-urlencoded"
        r = client.post("/login", data=body, content_type=form)
        assert r.status_code == 400, r.status_code
        assert UNREADABLE in text_of(r) and "expired" not in text_of(r)
        assert "X-Sclero-Form-Expired" not in r.headers
        # A token that really is wrong is still the expired page the offline queue reads.
        r = client.post("/login", data=b"csrf_token=stale&email=a%40b.example", content_type=form)
        assert r.status_code == 400 and "This page was open too long" in text_of(r)
        assert r.headers["X-Sclero-Form-Expired"] == "1"
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_byte_escaped_in_a_form_that_is_not_utf8_is_never_stored_as_text(
    app, client, in_app, world
):
    # "caf%E9" (Latin-1 é, escaped) was stored as the literal text "caf%E9".
    login(client, "doc1@north.example")
    form = "application/x-www-form-urlencoded"
    path = f"/clinic/patients/{world.patient_a}/comments"
    r = client.post(path, data=b"body=caf%E9", content_type=form)
    assert r.status_code == 400 and UNREADABLE in text_of(r)
    assert in_app(count, Comment) == 0
    # The same word in UTF-8 is stored as written.
    assert client.post(path, data=b"body=caf%C3%A9", content_type=form).status_code == 303
    assert in_app(lambda: db.session.scalars(db.select(Comment.body)).all()) == ["café"]
