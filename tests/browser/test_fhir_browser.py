"""The FHIR download in Chromium (issue 20 point 2): the demo clinician opens a patient
who has checked in, taps "Download FHIR (JSON)" and gets a file named by the patient's
id, holding a valid FHIR R4 bundle whose references all resolve; the export section of
the patient page fits 320, 390 and 1366 px and is axe clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from app.services import demo
from tests.browser.test_review17_widths_browser import _check as fits_and_axe
from tests.browser.test_review17_widths_browser import _new_page
from tests.browser.test_triage_browser import CALF
from tests.browser.test_triage_browser import answer_checkin
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD
from tests.services.test_fhir_export import check_bundle
from tests.services.test_fhir_export import of_type

pytestmark = pytest.mark.browser

NAME = "Ingrid Åsa Fhir-Øvergaard"
EMAIL = "ingrid.fhir@patients.example"


def test_the_clinician_downloads_a_valid_bundle(app, browser, live_server, clock, artifacts):
    base = live_server.url
    demo_patient(app, clock, EMAIL, NAME, 3)
    errors: list[str] = []
    page = _new_page(browser, errors)
    sign_in(page, base, EMAIL, PASSWORD, clock())
    answer_checkin(page, base, yes=CALF, pain="2", bruising="A little")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("How are you today?")
    page.context.clear_cookies()

    sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
    page.goto(f"{base}/clinic/patients?q=fhir")
    page.get_by_role("link", name=NAME).click()
    problems: list[str] = []
    fits_and_axe(page, "patient page with export", artifacts, problems)
    assert not problems, problems
    with page.expect_download() as info:
        page.get_by_role("link", name="Download FHIR (JSON)").click()
    download = info.value
    assert download.suggested_filename.startswith("patient-")
    assert "ngrid" not in download.suggested_filename
    bundle = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    by_url = check_bundle(bundle)
    assert of_type(by_url, "Patient")[0]["name"] == [{"text": NAME}]
    pains = [o for o in of_type(by_url, "Observation") if "valueQuantity" in o]
    assert [o["valueQuantity"]["value"] for o in pains] == [2]
    # The calf answer raised a same-day alert: open, pointing at the check-in.
    issues = of_type(by_url, "DetectedIssue")
    assert [(i["severity"], i["status"]) for i in issues] == [("moderate", "preliminary")]
    assert not errors, errors
