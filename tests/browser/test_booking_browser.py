"""Booking and recording in Chromium (issue 19 points 2 and 4), as a clinician at a
desk would: the patient page's booking form opens on the patient's own protocol and its
interval window; a date typed into the Day, Month and Year boxes inside the minimum
interval is a warning with a tick; the record form opens with the booked date; a date
that does not exist is named on the move form. Every page at 320, 390 and 1366 px: no
sideways scroll, no word broken inside itself, no axe-core violation."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.services import demo
from tests.browser.test_review17_widths_browser import _check
from tests.browser.test_review17_widths_browser import _new_page
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in

pytestmark = pytest.mark.browser

NAME = "Ros Booking-Browser"
EMAIL = "ros.booking@patients.example"


def test_booking_and_recording_as_a_clinician(browser, app, clock, live_server, artifacts):
    base = live_server.url
    problems: list[str] = []
    js_errors: list[str] = []
    demo_patient(app, clock, EMAIL, NAME, 3)
    page = _new_page(browser, js_errors)
    sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())

    page.goto(f"{base}/clinic/patients/new")
    _check(page, "new patient", artifacts, problems)

    page.goto(f"{base}/clinic/patients?q=booking-browser")
    page.get_by_role("link", name=NAME).click()
    patient_url = page.url
    book = page.locator("form", has=page.get_by_role("button", name="Book session"))
    # Treated 3 days ago on the 72-hour protocol: the window opens 4 weeks after.
    treated = (clock() - timedelta(days=3)).astimezone(ZoneInfo("Europe/London")).date()
    opens = treated + timedelta(weeks=4)
    expect(book.get_by_label("Day")).to_have_value(str(opens.day))
    expect(book.get_by_label("Month")).to_have_value(str(opens.month))
    expect(book.get_by_label("Year")).to_have_value(str(opens.year))
    _check(page, "patient booking form", artifacts, problems)

    soon = treated + timedelta(days=10)
    book.get_by_label("Day").fill(str(soon.day))
    book.get_by_label("Month").fill(str(soon.month))
    book.get_by_label("Year").fill(str(soon.year))
    book.get_by_role("button", name="Book session").click()
    expect(page.get_by_role("alert").first).to_contain_text("only 10 days after the session")
    _check(page, "booking warning", artifacts, problems)
    page.get_by_label("Book it anyway, inside the minimum interval").check()
    page.get_by_role("button", name="Book session").click()
    expect(page.get_by_text("Session booked.")).to_be_visible()

    page.get_by_role("link", name="Record treatment").click()
    expect(page.get_by_label("Day")).to_have_value(str(soon.day))
    expect(page.get_by_label("Time")).to_have_value("10:00")
    expect(page.get_by_label("Sclerosant")).to_have_value("Polidocanol")
    _check(page, "record treatment", artifacts, problems)

    page.goto(patient_url)
    move = page.locator("form", has=page.get_by_role("button", name="Move appointment"))
    move.get_by_label("Day").fill("31")
    move.get_by_label("Month").fill("2")
    move.get_by_label("Year").fill(str(soon.year + 1))
    move.get_by_label("Time").fill("09:30")
    move.get_by_role("button", name="Move appointment").click()
    expect(page.locator("#date-error")).to_contain_text("Enter a real date: February")
    _check(page, "move appointment (error)", artifacts, problems)

    assert not js_errors, js_errors
    assert not problems, "\n".join(problems)
