"""What the request-path shortcuts keep (bench/today_page.py): the kept fragments, URLs
and signed CSRF token must never show a stale or wrong value.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Clinic
from tests.conftest import PASSWORD
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_auth import CsrfConfig

META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def _current(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" aria-current="page">', html)


def test_patient_tabs_mark_the_page_shown(client, world):
    login(client, "alice@patients.example")
    for path in ("/patient/today", "/patient/plan", "/patient/checklist", "/patient/today"):
        html = client.get(path).get_data(as_text=True)
        assert _current(html) == [path], path
        assert html.count('href="/patient/diary"') >= 1


def test_urls_follow_the_mount_point(app, world):
    """A kept URL is per mount point: the same app behind /care and at / links right."""
    client = app.test_client()
    login(client, "alice@patients.example")
    plain = client.get("/patient/today").get_data(as_text=True)
    mounted = client.get("/patient/today", environ_overrides={"SCRIPT_NAME": "/care"}).get_data(
        as_text=True
    )
    assert 'href="/patient/plan"' in plain and "/care/" not in plain
    assert 'href="/care/patient/plan"' in mounted
    assert re.search(r'src="/care/static/js/app\.js\?v=\w+"', mounted)
    again = client.get("/patient/today").get_data(as_text=True)
    assert "/care/" not in again


def test_help_box_follows_a_change_of_clinic_details(client, world, in_app):
    """The red-flag box is kept per clinic and protocol: new details show at once."""
    login(client, "alice@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Call 999 now if you have" in page and "Call 01632 960 111" in page

    def change_phone():
        clinic = db.session.get(Clinic, world.clinic1)
        clinic.phone = "020 7946 0999"
        clinic.emergency_number = "112"
        db.session.commit()

    in_app(change_phone)
    page = text_of(client.get("/patient/today"))
    assert "Call 020 7946 0999" in page and "01632 960 111" not in page
    assert "Call 112 now if you have" in page and "Call 999" not in page


def test_patients_of_two_clinics_each_see_their_own_clinic(app, world, in_app):
    a, c = app.test_client(), app.test_client()
    login(a, "alice@patients.example")
    login(c, "cara@patients.example")

    names = in_app(lambda: dict(db.session.execute(sa.select(Clinic.id, Clinic.name)).all()))
    page_a, page_c = text_of(a.get("/patient/today")), text_of(c.get("/patient/today"))
    assert names[world.clinic1] in page_a and names[world.clinic2] not in page_a
    assert names[world.clinic2] in page_c and names[world.clinic1] not in page_c


def _sign_in_with_csrf(app, email: str):
    """A client signed in through the real form, CSRF token included."""
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 302
    return client


def test_signed_csrf_token_is_reused_within_a_session_and_still_accepted(
    database_url, _schema, world
):
    app = create_app(CsrfConfig, SQLALCHEMY_DATABASE_URI=database_url)
    try:
        client = _sign_in_with_csrf(app, "alice@patients.example")
        other = _sign_in_with_csrf(app, "bob@patients.example")
        first = META.search(client.get("/patient/today").get_data(as_text=True)).group(1)
        second = META.search(client.get("/patient/plan").get_data(as_text=True)).group(1)
        theirs = META.search(other.get("/patient/checklist").get_data(as_text=True)).group(1)
        assert first == second  # kept, not re-signed
        assert theirs != first  # another session has its own secret
        # The kept token works for a form post, and another session's does not.
        r = client.post("/patient/tasks/walks", data={"done": "1", "csrf_token": second})
        assert r.status_code == 303
        r = client.post("/patient/tasks/walks", data={"done": "1", "csrf_token": theirs})
        assert r.status_code == 400
    finally:
        with app.app_context():
            db.engine.dispose()


def test_signed_csrf_token_is_not_kept_when_tokens_expire(database_url, _schema, world):
    class Expiring(CsrfConfig):
        WTF_CSRF_TIME_LIMIT = 3600

    app = create_app(Expiring, SQLALCHEMY_DATABASE_URI=database_url)
    try:
        client = _sign_in_with_csrf(app, "alice@patients.example")
        # Nothing is kept: Flask-WTF signs afresh, and the page's token is valid.
        token = META.search(client.get("/patient/today").get_data(as_text=True)).group(1)
        r = client.post("/patient/tasks/walks", data={"done": "1", "csrf_token": token})
        assert r.status_code == 303
    finally:
        with app.app_context():
            db.engine.dispose()


def test_dashboard_links_built_from_a_pattern_match_url_for(app, world, in_app):
    """Patient links on the dashboard come from a kept pattern; they must equal what
    url_for builds, at / and behind a mount point."""
    from flask import url_for

    doc = app.test_client()
    login(doc, "doc1@north.example")
    for root in ("", "/care"):
        html = doc.get("/clinic/", environ_overrides={"SCRIPT_NAME": root}).get_data(as_text=True)
        with app.test_request_context("/clinic/", environ_overrides={"SCRIPT_NAME": root}):
            alice = url_for("clinician.patient", patient_id=world.patient_a)
        assert alice.startswith(f"{root}/clinic/")
        assert f'href="{alice}"' in html or f'href="{alice}#day-' in html
        hrefs = re.findall(r'href="([^"]*/clinic/patients/[^"]*)"', html)
        assert hrefs and all(h.startswith(f"{root}/clinic/patients/") for h in hrefs)
