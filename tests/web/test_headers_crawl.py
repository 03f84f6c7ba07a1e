"""The header crawler (issue 18 point 7; checklist D5, D6, D9, D10), in place of ZAP's
passive scan: every GET route of ``app.url_map``, as someone not signed in, a patient
and a clinician, with path parts filled from the test world, and each response's
security headers checked. A route added later is crawled without being listed here.

Also: methods a route does not use answer 405 (D9), no endpoint grants cross-origin
reads (D9), /console does not exist and an unexpected error shows a reference that is
logged with its traceback (D10).
"""

from __future__ import annotations

import logging
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import ProtocolVersion
from app.models import Treatment
from tests.conftest import login
from tests.conftest import text_of
from tests.services.test_production_config import BASE
from tests.services.test_production_config import _no_flask_env  # noqa: F401 - autouse
from tests.services.test_production_config import dispose
from tests.services.test_production_config import production_app

# Responses that hold nothing personal and may be cached (app/errors.py: NOT_PERSONAL).
CACHEABLE = {"static", "pwa.manifest", "pwa.service_worker"}
# JSON is UTF-8 by definition (RFC 8259), and a charset on it means nothing.
TEXT_TYPES = ("text/", "application/javascript")


def _path_values(world, in_app) -> dict[str, object]:
    """A value for every path part name in the URL map, from clinic 1 of the world."""

    def ids():
        version = db.session.scalar(
            sa.select(ProtocolVersion.id).where(ProtocolVersion.clinic_id == world.clinic1)
        )
        treatment = db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_a)
        )
        return version, treatment

    version, treatment = in_app(ids)
    return {
        "patient_id": world.patient_a,
        "user_id": world.clinician1,
        "version_id": version,
        "treatment_id": treatment,
        "protocol_key": "compression-72h",
        "photo_id": 1,  # none exists: the 404 page must carry the headers too
        "alert_id": 1,
        "checkin_id": 1,
        "sub_id": 1,
        "key": "walks",
        "token": "not-a-real-token",
        "filename": "js/app.js",
    }


def get_routes(app, values: dict[str, object]) -> list[tuple[str, str]]:
    """(endpoint, path) for every rule that answers GET, its parts filled in."""
    routes = []
    urls = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        missing = set(rule.arguments) - set(values)
        assert not missing, f"no test value for {missing} in {rule.rule}: add one"
        path = urls.build(rule.endpoint, {name: values[name] for name in rule.arguments})
        routes.append((rule.endpoint, path))
    assert len(routes) > 30, routes  # the crawl really covers the app
    return routes


def check_headers(endpoint: str, path: str, response, *, production: bool = False) -> None:
    """The ZAP passive rules of the checklist's tools table, by their ids."""
    where = f"{endpoint} {path} ({response.status_code})"
    headers = response.headers
    assert response.status_code < 500, where  # 90022: no error disclosure
    csp = headers.get("Content-Security-Policy", "")
    if "default-src 'none'" not in csp:  # photos: nothing at all may load (stricter)
        for part in ("script-src 'self'", "object-src 'none'", "base-uri 'none'"):
            assert part in csp, f"10038 {where}: {csp}"
        assert "frame-ancestors 'none'" in csp, where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, where
    assert headers.get("X-Content-Type-Options") == "nosniff", f"10021 {where}"
    assert headers.get("X-Frame-Options") == "DENY" or "frame-ancestors 'none'" in csp, where
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), where
    policy = headers.get("Permissions-Policy", "")
    assert "camera=(self)" in policy and "geolocation=()" in policy, where
    assert "microphone=()" in policy, where
    content_type = headers.get("Content-Type", "")
    if content_type.startswith(TEXT_TYPES):
        assert "charset=utf-8" in content_type.lower(), where
    if endpoint not in CACHEABLE:
        assert "no-store" in headers.get("Cache-Control", ""), f"10015/10049 {where}"
    # 10036/10037: no server version, no framework banner.
    assert not re.search(r"\d", headers.get("Server", "")), where
    assert "X-Powered-By" not in headers, where
    assert "Access-Control-Allow-Origin" not in headers, where
    if production:
        hsts = headers.get("Strict-Transport-Security", "")
        assert "includeSubDomains" in hsts, f"10035 {where}"
        assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31536000, where
    else:
        assert "Strict-Transport-Security" not in headers, where  # plain http: ignored


@pytest.mark.parametrize("who", ["anonymous", "alice@patients.example", "doc1@north.example"])
def test_every_get_route_has_the_security_headers(app, client, world, in_app, who):
    if who != "anonymous":
        assert login(client, who).status_code == 302
    routes = get_routes(app, _path_values(world, in_app))
    for endpoint, path in routes:
        with client.get(path) as response:  # static files are streamed: close them
            check_headers(endpoint, path, response)


def test_json_answers_are_not_stored(client, world):
    login(client, "alice@patients.example")
    r = client.post("/patient/reminders/subscribe", json={"endpoint": "nonsense"})
    assert r.is_json and r.headers["Cache-Control"] == "no-store"
    r = client.post("/push/resubscribe", json={})
    assert r.is_json and r.headers["Cache-Control"] == "no-store"


def _csrf(response) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.text).group(1)


@pytest.mark.parametrize("who", ["anonymous", "alice@patients.example"])
def test_production_crawl_adds_hsts_and_host_only_cookies(
    monkeypatch, database_url, world, in_app, who
):
    prod = production_app(monkeypatch, database_url)
    try:
        browser = prod.test_client()
        if who != "anonymous":
            page = browser.get(f"{BASE}/login")
            r = browser.post(
                f"{BASE}/login",
                data={"csrf_token": _csrf(page), "email": who, "password": "correct horse battery"},
                headers={"Referer": f"{BASE}/login"},
            )
            assert r.status_code == 302, text_of(r)
            cookie = r.headers["Set-Cookie"]
            assert cookie.startswith("__Host-session="), cookie
            assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
            assert "Domain" not in cookie and "SameSite=Lax" in cookie
        for endpoint, path in get_routes(prod, _path_values(world, in_app)):
            with browser.get(f"{BASE}{path}") as response:
                check_headers(endpoint, path, response, production=True)
    finally:
        dispose(prod)


# ----------------------------------------------------------------- D9 methods and CORS


def test_methods_a_route_does_not_use_answer_405(app, client, world, in_app):
    login(client, "doc1@north.example")
    for endpoint, path in get_routes(app, _path_values(world, in_app)):
        for method in ("TRACE", "PUT", "DELETE", "PATCH"):
            with client.open(path, method=method) as r:
                assert r.status_code == 405, f"{method} {endpoint}"
                assert "TRACE" not in r.headers.get("Allow", "")
        # OPTIONS passes the blueprint's access check like any request (another role's
        # page is "not found"); where it answers, it lists the route's own methods.
        with client.open(path, method="OPTIONS") as options:
            assert options.status_code in (200, 302, 404), endpoint
            if options.status_code == 200:
                assert "GET" in options.headers["Allow"], endpoint
                assert "TRACE" not in options.headers["Allow"], endpoint


@pytest.mark.parametrize("origin", ["null", "https://evil.example"])
def test_no_endpoint_grants_another_origin(client, world, origin):
    login(client, "alice@patients.example")
    asks = [
        ("POST", "/patient/reminders/subscribe", {"endpoint": "x"}),
        ("POST", "/patient/reminders/unsubscribe", {"endpoint": "x"}),
        ("POST", "/push/resubscribe", {"old_endpoint": "x"}),
        ("GET", "/manifest.webmanifest", None),
    ]
    for method, path, body in asks:
        r = client.open(path, method=method, json=body, headers={"Origin": origin})
        preflight = client.open(
            path,
            method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": method},
        )
        for response in (r, preflight):
            assert "Access-Control-Allow-Origin" not in response.headers, path
            assert "Access-Control-Allow-Credentials" not in response.headers, path


# ----------------------------------------------------------------- D10 errors


def test_there_is_no_debug_console(client):
    assert client.get("/console").status_code == 404
    # Werkzeug's debugger serves its files at any path with this query when it is on.
    with client.get("/login?__debugger__=yes&cmd=resource&f=debugger.js") as r:
        assert "Werkzeug" not in r.text and "debugger" not in r.text.lower()


def test_an_unexpected_error_shows_a_reference_that_is_logged_with_the_traceback(
    app, client, caplog
):
    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internal detail")

    with caplog.at_level(logging.ERROR, logger="app.errors"):
        r = client.get("/boom-for-test")
        again = client.get("/boom-for-test", headers={"Accept": "application/json"})
    assert r.status_code == 500 and again.status_code == 500
    body = text_of(r)
    reference = re.search(r"quote reference ([0-9A-F]{8})\b", body).group(1)
    assert "secret internal detail" not in body and "Traceback" not in body
    assert "RuntimeError" not in r.text
    records = [rec for rec in caplog.records if reference in rec.getMessage()]
    assert records and records[0].exc_info is not None
    assert "secret internal detail" in caplog.text  # the traceback is in the log
    # Each error has its own reference, also given to the app's scripts.
    assert again.get_json()["reference"] not in (None, reference)
