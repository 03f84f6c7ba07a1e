"""Review of the desk's worklist in Chromium (issue 19 point 1): an unattended dashboard
that the idle sign-out ends leaves the screen for the sign-in page, instead of showing
patients' names (and polling nothing) until someone touches it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Clinic
from app.models import Patient
from app.models import User
from app.services import demo
from app.services.care import followup
from tests.browser.conftest import wait_for_js
from tests.browser.test_review17_widths_browser import _check
from tests.browser.test_review17_widths_browser import _new_page
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.browser.test_worklist_refresh_browser import DESK
from tests.conftest import login
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web.test_dashboard_scale import _add_checkins
from tests.web.test_dashboard_scale import _treatment

pytestmark = pytest.mark.browser


def test_an_idle_dashboard_goes_to_the_sign_in_page(browser, app, clock, live_server):
    app.config["SCLERO_WORKLIST_POLL_SECONDS"] = 1
    base = live_server.url
    context = browser.new_context(viewport=DESK)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        expect(page).to_have_url(f"{base}/clinic/")
        expect(page.locator("#worklist")).to_be_visible()
        clock.advance(minutes=16)  # nobody at the desk: the polls must not keep it open
        expect(page).to_have_url(f"{base}/login?next=%2Fclinic%2F", timeout=15_000)
        assert page.locator("#worklist").count() == 0
    finally:
        context.close()
    assert errors == []


def _busy_desk(app, clock) -> None:
    """Twelve patients with check-ins and a same-day alert (long names among them),
    five not heard from since their session, and a new photo."""
    for n in range(12):
        email = f"busy{n}@patients.example"
        demo_patient(app, clock, email, f"Maximiliane Oberhauser-Zwillingsberger {n}", 3)
        with app.app_context():
            patient = db.session.scalar(
                sa.select(Patient).join(User, User.id == Patient.user_id).where(User.email == email)
            )
            _add_checkins(patient, _treatment(patient.id), range(3), alert_on={2})
            db.session.commit()
    for n in range(5):
        demo_patient(app, clock, f"quiet{n}@patients.example", f"Quentin Quiet {n}", 5)
    app.config["WTF_CSRF_ENABLED"], csrf = False, app.config["WTF_CSRF_ENABLED"]
    try:
        client = app.test_client()
        login(client, "busy0@patients.example")
        assert upload(client, phone_jpeg((400, 300))).status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = csrf
    with app.app_context():
        followup.backfill(db.session.connection())
        db.session.commit()


@pytest.mark.parametrize("locale", ["en", "es"])
def test_a_busy_worklist_fits_and_passes_axe(browser, app, clock, live_server, artifacts, locale):
    """Every kind of row at once, filtered and not, at 320, 390 and 1366 px, in English
    and in Spanish: no sideways scroll, whole words, no axe violation."""
    _busy_desk(app, clock)
    with app.app_context():
        db.session.execute(sa.update(Clinic).where(Clinic.slug == "demo").values(locale=locale))
        db.session.commit()
    base = live_server.url
    problems: list[str] = []
    errors: list[str] = []
    page = _new_page(browser, errors)
    try:
        sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        for query in ("", "?kind=alerts&sort=patient", "?kind=photos", "?urgency=urgent"):
            page.goto(f"{base}/clinic/{query}")
            expect(page.locator("#worklist")).to_be_visible()
            _check(page, f"{locale} dashboard{query}", artifacts, problems)
        page.goto(f"{base}/clinic/")
        kinds = page.evaluate(
            "[...new Set([...document.querySelectorAll('tr[data-kind]')].map(r => r.dataset.kind))]"
        )
    finally:
        page.context.close()
    assert problems == [], "\n".join(problems)
    assert errors == []
    assert sorted(kinds) == ["alerts", "checkins", "missed", "photos"]


def test_a_poll_that_never_answers_does_not_stop_the_refresh(browser, app, clock, live_server):
    """One request lost in the network (never answered) must not leave the desk
    without new alerts until someone reloads it."""
    app.config["SCLERO_WORKLIST_POLL_SECONDS"] = 1
    base = live_server.url
    demo_patient(app, clock, "ann@patients.example", "Ann Alert", 3)
    context = browser.new_context(viewport=DESK)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    hung: list[object] = []
    try:
        sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        expect(page).to_have_url(f"{base}/clinic/")
        # The first poll is never answered; any later one goes through.
        page.route(
            "**/clinic/worklist*",
            lambda route: route.continue_() if hung else hung.append(route),
        )
        wait_for_js(page, "() => true")
        while not hung:
            page.wait_for_timeout(200)
        with app.app_context():
            patient = db.session.scalar(
                sa.select(Patient)
                .join(User, User.id == Patient.user_id)
                .where(User.email == "ann@patients.example")
            )
            _add_checkins(patient, _treatment(patient.id), range(2, 3), alert_on={2})
            followup.backfill(db.session.connection())
            db.session.commit()
        expect(page.locator("tr[data-kind='alerts']")).to_have_count(1, timeout=20_000)
    finally:
        context.close()
    assert errors == []


def test_a_refresh_keeps_the_focus_on_a_pager_link(browser, app, clock, live_server):
    """A keyboard user on "Next" when new work arrives stays on "Next" (the links
    around the table are replaced by each refresh)."""
    app.config["SCLERO_WORKLIST_POLL_SECONDS"] = 1
    base = live_server.url
    demo_patient(app, clock, "ann@patients.example", "Ann Alert", 3)
    demo_patient(app, clock, "bo@patients.example", "Bo Later", 3)
    with app.app_context():
        for email, days in (("ann@patients.example", range(25)),):
            patient = db.session.scalar(
                sa.select(Patient).join(User, User.id == Patient.user_id).where(User.email == email)
            )
            _add_checkins(patient, _treatment(patient.id), days)
        db.session.commit()
    context = browser.new_context(viewport=DESK)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        page.goto(f"{base}/clinic/?kind=checkins")
        page.locator("#worklist nav.pager a", has_text="Next").focus()
        before = page.locator("#checkins-title .count").inner_text()
        with app.app_context():
            patient = db.session.scalar(
                sa.select(Patient)
                .join(User, User.id == Patient.user_id)
                .where(User.email == "bo@patients.example")
            )
            _add_checkins(patient, _treatment(patient.id), range(1))
            db.session.commit()
        expect(page.locator("#checkins-title .count")).not_to_have_text(before, timeout=15_000)
        focused = (
            "[document.activeElement.closest('#worklist nav.pager') !== null, "
            "document.activeElement.textContent]"
        )
        assert page.evaluate(focused) == [True, "Next"]
    finally:
        context.close()
    assert errors == []
