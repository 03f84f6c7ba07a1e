"""Every page at 320, 390 and 1366 px in Chromium (issue 19 point 1): no sideways scroll,
and no word broken inside itself (a word whose glyphs sit on two lines, measured with the
DOM Range API). The list of pages is the app's own: every GET rule of ``app.url_map``
has a recipe here (who opens it, and with which ids), or says why it is no page; a new
GET route without one fails ``test_every_get_rule_has_a_recipe`` until it gets one.

The error states of forms are covered by the earlier width reviews
(test_review17*_widths_browser.py), which also run axe; this test is the sweep.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page

import app as app_package
from app import create_app
from app.extensions import db
from app.models import Clinic
from app.models import Patient
from app.models import Photo
from app.models import ProtocolVersion
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.services import demo
from app.services.care import followup
from config import TestingConfig
from tests.browser.test_review17_widths_browser import BROKEN_WORDS
from tests.browser.test_triage_browser import sign_in
from tests.conftest import login
from tests.conftest import make_patient
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web.test_dashboard_scale import _add_checkins
from tests.web.test_dashboard_scale import _treatment

WIDTHS = (320, 390, 1366)
DAY3 = f"day3@{demo.DOMAIN}"
LONG_NAME = "Maximiliane Oberhauser-Zwillingsberger"
LONG_EMAIL = "maximiliane.oberhauser-zwillingsberger@patients.example"

# rule -> (who opens it, the path with {ids}); or (None, why it is not a page).
# who: "anon" (signed out), "patient" (the demo's day-3 patient), "clinician" (the demo
# clinic's admin). Pages that need a state this sweep does not make (a pending second
# factor, a signed token) are opened as they answer without it: a redirect or the
# page's own refusal, which must fit too.
RECIPES: dict[str, tuple[str | None, str]] = {
    "/": ("anon", "/"),
    "/account/confirm": ("clinician", "/account/confirm"),
    "/account/password": ("clinician", "/account/password"),
    "/account/second-factor": ("clinician", "/account/second-factor"),
    "/clinic/": ("clinician", "/clinic/"),
    "/clinic/audit": ("clinician", "/clinic/audit"),
    "/clinic/closures": ("clinician", "/clinic/closures"),  # issue 20 point 4 (admin)
    "/clinic/patients": ("clinician", "/clinic/patients"),
    "/clinic/patients/<int:patient_id>": ("clinician", "/clinic/patients/{patient}"),
    "/clinic/patients/<int:patient_id>/discharge": (
        "clinician",
        "/clinic/patients/{patient}/discharge",
    ),
    "/clinic/patients/<int:patient_id>/edit": ("clinician", "/clinic/patients/{patient}/edit"),
    "/clinic/patients/<int:patient_id>/photos": (
        "clinician",
        "/clinic/patients/{patient}/photos",
    ),
    "/clinic/patients/<int:patient_id>/photos/compare": (
        "clinician",
        "/clinic/patients/{patient}/photos/compare",
    ),
    "/clinic/patients/new": ("clinician", "/clinic/patients/new"),
    "/clinic/outcomes": ("clinician", "/clinic/outcomes"),
    "/clinic/outcomes.csv": (None, "CSV, not a page"),
    "/clinic/patients/<int:patient_id>/fhir.json": (None, "a FHIR JSON download, not a page"),
    "/fhir/Patient/<int:patient_id>/$everything": (None, "FHIR JSON for other systems"),
    "/clinic/sessions/<int:treatment_id>/clearance": (
        "clinician",
        "/clinic/sessions/{done}/clearance",
    ),
    "/clinic/photos/<int:photo_id>/image": (None, "a JPEG, not a page"),
    "/clinic/photos/<int:photo_id>/thumb": (None, "a JPEG, not a page"),
    "/clinic/protocols": ("clinician", "/clinic/protocols"),
    "/clinic/protocols/<protocol_key>/compare": (
        "clinician",
        "/clinic/protocols/compression-72h/compare?old=1&new=1",
    ),
    "/clinic/protocols/versions/<int:version_id>": (
        "clinician",
        "/clinic/protocols/versions/{version}",
    ),
    "/clinic/reminders": ("clinician", "/clinic/reminders"),
    "/clinic/sessions/<int:treatment_id>/cancel": (
        "clinician",
        "/clinic/sessions/{session}/cancel",
    ),
    "/clinic/sessions/<int:treatment_id>/record": (
        "clinician",
        "/clinic/sessions/{session}/record",
    ),
    "/clinic/settings": ("clinician", "/clinic/settings"),
    "/clinic/settings/hours": ("clinician", "/clinic/settings/hours"),
    "/clinic/staff": ("clinician", "/clinic/staff"),
    "/clinic/worklist": (None, "a fragment of the dashboard, swapped in by worklist.js"),
    "/email/unsubscribe/<token>": ("anon", "/email/unsubscribe/not-a-real-token"),
    "/forgot-password": ("anon", "/forgot-password"),
    "/invite/<token>": ("anon", "/invite/not-a-real-token"),
    "/login": ("anon", "/login"),
    "/login/code": ("anon", "/login/code"),
    "/login/pin": ("anon", "/login/pin"),
    "/manifest.webmanifest": (None, "JSON, not a page"),
    "/offline": ("anon", "/offline"),
    "/patient/account/close": ("patient", "/patient/account/close"),  # issue 20 point 4
    "/patient/calendar.ics": (None, "an iCalendar file, not a page"),
    "/patient/calendar/feed/<token>.ics": (None, "a calendar app's feed, not a page"),
    "/patient/calendar/link": (
        None,
        "shown once after its POST (else a redirect): test_calendar_browser checks its width",
    ),
    "/patient/checkin": ("patient", "/patient/checkin"),
    "/patient/checklist": ("patient", "/patient/checklist"),
    "/patient/diary": ("patient", "/patient/diary"),
    "/patient/photos": ("patient", "/patient/photos"),
    "/patient/photos/<int:photo_id>": ("patient", "/patient/photos/{photo}"),
    "/patient/photos/<int:photo_id>/image": (None, "a JPEG, not a page"),
    "/patient/photos/<int:photo_id>/thumb": (None, "a JPEG, not a page"),
    "/patient/outcomes/<int:treatment_id>": ("patient", "/patient/outcomes/{done}"),
    "/patient/photos/compare": ("patient", "/patient/photos/compare"),
    "/patient/photos/new": ("patient", "/patient/photos/new"),
    "/patient/plan": ("patient", "/patient/plan"),
    "/patient/reminders": ("patient", "/patient/reminders"),
    "/patient/today": ("patient", "/patient/today"),
    "/remember-phone": ("patient", "/remember-phone"),
    "/reset/<token>": ("anon", "/reset/not-a-real-token"),
    "/static/<path:filename>": (None, "files, not pages"),
    "/sw.js": (None, "the service worker's script"),
}
# Error pages, for each kind of visitor.
ERRORS = [
    ("anon", "/no-such-page"),
    ("patient", "/patient/photos/987654321"),
    ("clinician", "/clinic/patients/987654321"),
]


def _get_rules(app) -> set[str]:
    return {r.rule for r in app.url_map.iter_rules() if "GET" in r.methods}


def test_every_get_rule_has_a_recipe():
    app = create_app(TestingConfig, SQLALCHEMY_DATABASE_URI="sqlite://")
    missing = sorted(_get_rules(app) - RECIPES.keys())
    assert not missing, f"GET rules without a recipe in {__name__}.RECIPES: {missing}"
    stale = sorted(RECIPES.keys() - _get_rules(app))
    assert not stale, f"recipes for rules that no longer exist: {stale}"


def _ids(app, clock) -> dict[str, int]:
    """The demo's day-3 patient, a photo of theirs (uploaded here), their session done,
    a protocol version and a booked session of the demo clinic."""
    csrf = app.config["WTF_CSRF_ENABLED"]
    app.config["WTF_CSRF_ENABLED"] = False  # the test client posts the upload directly
    try:
        client = app.test_client()
        login(client, DAY3, demo.PATIENT_PASSWORD)
        assert upload(client, phone_jpeg((800, 600))).status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = csrf
    with app.app_context():
        clinic = db.session.scalar(sa.select(Clinic.id).where(Clinic.slug == "demo"))
        patient = db.session.scalar(
            sa.select(Patient.id).join(User, User.id == Patient.user_id).where(User.email == DAY3)
        )
        # Days 0-2 answered, a same-day alert on day 2, and a long hyphenated name in
        # the clinic's lists: the tables and badges where words used to break.
        row = db.session.get(Patient, patient)
        _add_checkins(row, _treatment(patient), range(3), alert_on={2})
        long_name = db.session.get(Clinic, clinic)
        make_patient(long_name, LONG_EMAIL, day=4, now=clock(), name=LONG_NAME)
        followup.backfill(db.session.connection())
        db.session.commit()
        session = db.session.scalar(
            sa.select(Treatment.id)
            .join(Patient, Patient.id == Treatment.patient_id)
            .where(Patient.clinic_id == clinic, Treatment.status == TreatmentStatus.SCHEDULED)
            .order_by(Treatment.id)
        )
        return {
            "patient": patient,
            "photo": db.session.scalar(sa.select(Photo.id).where(Photo.patient_id == patient)),
            "version": db.session.scalar(
                sa.select(ProtocolVersion.id)
                .where(ProtocolVersion.clinic_id == clinic)
                .order_by(ProtocolVersion.id)
            ),
            "session": session,
            # The day-3 patient's own session, done: scored and rated on outcome pages.
            "done": db.session.scalar(
                sa.select(Treatment.id).where(
                    Treatment.patient_id == patient, Treatment.status == TreatmentStatus.DONE
                )
            ),
        }


def _measure(page: Page, what: str, problems: list[str]) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems.append(f"{what} @{width}: {overflow}px sideways scroll")
        broken = page.evaluate(BROKEN_WORDS)
        if broken:
            problems.append(f"{what} @{width}: words broken inside: {broken[:5]}")


@pytest.mark.browser
def test_every_page_fits_320_390_and_1366_with_whole_words(browser, app, clock, live_server):
    base = live_server.url
    ids = _ids(app, clock)
    assert all(ids.values()), ids
    logins = {
        "anon": None,
        "patient": (DAY3, demo.PATIENT_PASSWORD),
        "clinician": (demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD),
    }
    visits = [(who, path.format(**ids)) for who, path in RECIPES.values() if who is not None]
    visits += ERRORS
    problems: list[str] = []
    errors: list[str] = []
    for who, creds in logins.items():
        context = browser.new_context(viewport={"width": 390, "height": 800})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            if creds is not None:
                sign_in(page, base, *creds, clock())
                page.wait_for_load_state()
            for role, path in visits:
                if role != who:
                    continue
                page.goto(f"{base}{path}")
                _measure(page, f"{who} {path} ({page.url.removeprefix(base)})", problems)
        finally:
            context.close()
    assert problems == [], "\n".join(problems)
    assert errors == []


# A narrow table of short words, as the desk's tables are at 320 px: the case the old
# body rule (overflow-wrap: anywhere) broke into "D ay". The sweep's own pages cannot
# show whether the check sees it: app.css's ``th, td`` rule sets break-word on cells
# whatever the body says, so putting the old body rule back changed no cell.
NARROW_TABLE = """<!doctype html><html lang="en"><head><title>t</title>
<style>%s</style><style>%s</style></head><body><main><table>
<tr><th>Day</th><th>Pain</th><th>Urgency</th><th>Patient</th><th>When</th><th>Work</th></tr>
<tr><td>Mon</td><td>Tue</td><td>Amy</td><td>Ben</td><td>Day</td><td>Photo</td></tr>
</table></main></body></html>"""
APP_CSS = Path(app_package.__file__).parent / "static" / "css" / "app.css"
OLD_BODY = "body { overflow-wrap: anywhere; hyphens: auto; }"


@pytest.mark.browser
def test_the_word_check_sees_a_word_broken_inside_a_narrow_cell(page):
    """BROKEN_WORDS reports words squeezed apart ("D ay") in a narrow cell; app.css as
    it is keeps each cell's words whole at 320 px, even with the old body rule back."""
    page.set_viewport_size({"width": 320, "height": 800})
    css = APP_CSS.read_text()
    page.set_content(NARROW_TABLE % (css, OLD_BODY + " th, td { overflow-wrap: anywhere; }"))
    broken = page.evaluate(BROKEN_WORDS)
    assert broken, "a cell squeezed with overflow-wrap: anywhere went unseen"
    assert "Day" in broken, broken  # "D ay": the break the old rule made
    page.set_content(NARROW_TABLE % (css, OLD_BODY))
    assert page.evaluate(BROKEN_WORDS) == []
