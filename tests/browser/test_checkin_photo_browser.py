"""The check-in's optional photo in Chromium at phone size, as a patient uses it.

A photo without its area, or over the size limit, is pointed out on the page before
anything is sent (nothing is lost: the answers are still on the screen), and "Remove the
photo" sends the answers without it. With the area chosen, the photo is stored with the
check-in. Offline, the answers are kept on the phone and the patient is told the photo
could not be; back online, the check-in arrives (once) without it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import CheckIn
from app.models import Photo
from app.services import demo
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD
from tests.services.test_photos import phone_jpeg

pytestmark = pytest.mark.browser


def rows(in_app) -> tuple[int, int]:
    def counted():
        return tuple(
            db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (CheckIn, Photo)
        )

    return in_app(counted)


def fill_answers(page: Page) -> None:
    for group in page.locator("section.warning-questions fieldset").all():
        group.get_by_label("No", exact=True).check()
    page.locator('input[name="pain"][value="3"]').check(force=True)
    page.get_by_label("A little").check()
    page.get_by_label("No skin changes").check()
    page.get_by_label("Anything else you want the clinic to know?").fill("Photo of the bruise.")


def open_checkin(page: Page, base: str, app, clock, email: str) -> None:
    demo_patient(app, clock, email, "Pia Photo", day=3)
    sign_in(page, base, email, PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    page.goto(f"{base}/patient/checkin")
    fill_answers(page)
    page.get_by_text("Add a photo (optional)").click()


def test_photo_needs_its_area_then_is_stored_with_the_check_in(
    page: Page, app, clock, live_server, in_app, tmp_path, artifacts, js_errors
):
    base = live_server.url
    open_checkin(page, base, app, clock, f"pia@{demo.DOMAIN}")
    # Tick boxes are boxes beside their words, not stretched across the line (large,
    # NHS.UK style: issue 19 point 3).
    for skin in ("A blister", "New fine red vessels"):
        box = page.get_by_label(skin).bounding_box()
        assert 16 <= box["width"] <= 44 and box["height"] <= 44, (skin, box)
    picture = tmp_path / "bruise.jpg"
    picture.write_bytes(phone_jpeg((900, 600)))
    page.locator("#photo-file").set_input_files(str(picture))
    expect(page.locator("#photo-chosen")).to_have_text("Photo chosen: bruise.jpg.")

    page.get_by_role("button", name="Send check-in").click()
    problem = page.locator("#photo-problem")
    expect(problem).to_contain_text("Please choose which area the photo shows")
    expect(problem).to_be_focused()
    expect(page).to_have_url(f"{base}/patient/checkin")  # nothing sent, nothing lost
    expect(page.get_by_label("Anything else you want the clinic to know?")).to_have_value(
        "Photo of the bruise."
    )
    assert rows(in_app) == (0, 0)
    page.screenshot(path=str(artifacts / "checkin-photo-area-missing.png"), full_page=True)

    page.get_by_label("Side").select_option("right")
    page.get_by_label("Part of the leg").select_option("calf")
    page.get_by_label("Seen from").select_option("back")
    page.get_by_role("button", name="Send check-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, your check-in is sent")
    expect(page.locator("#photo-saved")).to_contain_text("Your photo (Right calf, back) is saved")
    assert rows(in_app) == (1, 1)
    assert js_errors == []


def test_a_photo_too_large_is_caught_before_sending_and_can_be_removed(
    page: Page, app, clock, live_server, in_app, tmp_path, js_errors
):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    base = live_server.url
    open_checkin(page, base, app, clock, f"pia2@{demo.DOMAIN}")
    big = tmp_path / "huge.jpg"
    big.write_bytes(phone_jpeg((64, 64)) + b"\0" * (2 * 1024 * 1024))
    page.locator("#photo-camera").set_input_files(str(big))
    page.get_by_role("button", name="Send check-in").click()
    expect(page.locator("#photo-problem")).to_contain_text("That photo is larger than 1 MB")
    assert rows(in_app) == (0, 0)

    page.get_by_role("button", name="Remove the photo").click()
    expect(page.locator("#photo-chosen")).to_have_text("")
    page.get_by_role("button", name="Send check-in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, your check-in is sent")
    assert rows(in_app) == (1, 0)
    assert js_errors == []


def test_offline_the_answers_are_kept_and_the_patient_told_the_photo_is_not(
    page: Page, app, clock, live_server, in_app, tmp_path, js_errors
):
    base = live_server.url
    open_checkin(page, base, app, clock, f"pia3@{demo.DOMAIN}")
    picture = tmp_path / "leg.jpg"
    picture.write_bytes(phone_jpeg((600, 400)))
    page.locator("#photo-file").set_input_files(str(picture))
    page.context.set_offline(True)
    page.get_by_role("button", name="Send check-in").click()
    status = page.locator("#sc-status")
    expect(status).to_contain_text("Saved on this phone, will send when online.")
    expect(status).to_contain_text("The photo cannot be kept on the phone")
    assert rows(in_app) == (0, 0)

    page.context.set_offline(False)
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Thank you, your check-in is sent", timeout=15_000
    )
    assert rows(in_app) == (1, 0)
    note = in_app(lambda: db.session.scalar(sa.select(CheckIn.note)))
    assert note == "Photo of the bruise."
    assert js_errors == []
