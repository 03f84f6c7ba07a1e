"""Today with an earlier session's aftercare still running, in Chromium at 320 px.

A patient treated yesterday on the 72-hour protocol and again an hour ago on the
no-stockings one: Today follows the latest session, and lists under "Still to follow
from your session on ..." what the first still asks (day-and-night stockings, limits).
The card fits a 320 px screen, and on a page left open each item goes at its end
(data-until, app.js), as the main lists' items do.
"""

from __future__ import annotations

from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import Clinic
from app.models import Treatment
from app.models import TreatmentStatus
from app.services import demo
from app.services.care import followup
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD
from tests.conftest import make_patient
from tests.conftest import version_id

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 640}
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def _treated_twice(app, clock, email: str) -> None:
    with app.app_context():
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
        patient = make_patient(clinic, email, day=1, now=clock(), name="Toby Twice")
        when = clock() - timedelta(hours=1)
        second = Treatment(
            patient_id=patient.id,
            protocol_version_id=version_id(clinic, "compression-none"),
            appointment_at=when,
            treated_at=when,
            status=TreatmentStatus.DONE,
            sclerosant="Polidocanol",
            form="liquid",
            areas="right calf",
        )
        db.session.add(second)
        db.session.flush()
        followup.note_treatment(second)
        db.session.commit()


def test_the_earlier_sessions_card_fits_and_its_items_go_at_their_end(
    page: Page, app, clock, live_server, artifacts, js_errors
):
    base = live_server.url
    email = f"toby@{demo.DOMAIN}"
    _treated_twice(app, clock, email)
    page.set_viewport_size(NARROW)
    page.clock.install(time=clock())
    sign_in(page, base, email, PASSWORD, clock())
    card = page.locator("section.earlier-aftercare")
    expect(card).to_be_visible()
    expect(card.get_by_role("heading", level=2)).to_contain_text("Still to follow from your")
    stockings = card.locator("li", has_text="Wear your stockings day and night")
    expect(stockings).to_be_visible()
    expect(card.get_by_role("heading", name="Avoid for now")).to_be_visible()
    assert page.evaluate(FITS)
    page.screenshot(path=str(artifacts / "today-earlier-320.png"), full_page=True)
    page.wait_for_load_state("load")
    end = datetime.fromisoformat(stockings.get_attribute("data-until"))
    page.clock.run_for(int((end - clock()).total_seconds() * 1000) - 120_000)
    expect(stockings).to_be_visible()
    page.clock.run_for(3 * 60 * 1000)
    expect(stockings).to_be_hidden()
    expect(card).to_be_visible()  # the limits still run
    assert js_errors == []
