"""The emergency check-in result on the smallest phone (320 x 640) in Chromium: a
full-screen page whose call button is on the first screen, at least 48 px tall and full
width, and is where the first Tab lands. "Back to Today" is below it, so the patient is
never trapped.

The patient gets there the way a patient does: signs in and answers the check-in form
(chest pain on day 1), with CSRF on.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.services import demo
from tests.browser.test_triage_browser import answer_checkin
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

SMALL_PHONE = {"width": 320, "height": 640}


def test_emergency_result_fills_the_small_phone_and_the_call_button_comes_first(
    page: Page, app, clock, live_server, artifacts, js_errors
):
    base = live_server.url
    page.set_viewport_size(SMALL_PHONE)
    demo_patient(app, clock, f"em320@{demo.DOMAIN}", "Emma Emergent", day=1)
    sign_in(page, base, f"em320@{demo.DOMAIN}", PASSWORD, clock())
    answer_checkin(page, base, yes="chest pain", pain="2", bruising="None")

    alert = page.get_by_role("alert").filter(has_text="Call 999 now")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Call 999 now")
    call = alert.get_by_role("link", name="Call 999")
    expect(call).to_have_attribute("href", "tel:999")

    # Nothing of the usual page above it: no header, tabs or skip link.
    expect(page.locator("header, nav, a.skip")).to_have_count(0)
    # The alert covers the whole screen, from the top-left corner, without scrolling.
    assert page.evaluate("window.scrollY") == 0
    box = alert.bounding_box()
    assert box["x"] == 0 and box["y"] == 0, box
    assert box["width"] >= SMALL_PHONE["width"] and box["height"] >= SMALL_PHONE["height"], box
    # No sideways scrolling at 320 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"]

    # The call button: on the first screen, at least 48 px tall, across the width.
    button = call.bounding_box()
    assert button["y"] >= 0 and button["y"] + button["height"] <= SMALL_PHONE["height"], button
    assert button["height"] >= 48, button
    assert button["width"] >= SMALL_PHONE["width"] - 2 * 16 - 1, button  # all but the margins
    # It sits under the heading (the web test checks nothing comes between them).
    assert heading.bounding_box()["y"] < button["y"]

    # Dark red behind white text and a white call button: high contrast.
    colours = alert.evaluate(
        "el => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]"
    )
    assert colours == ["rgb(164, 22, 26)", "rgb(255, 255, 255)"], colours

    # The first Tab goes to the call button (the heading is not focusable, nothing is
    # above it), the next to "Back to Today".
    page.keyboard.press("Tab")
    expect(call).to_be_focused()
    page.keyboard.press("Tab")
    back = alert.get_by_role("link", name="Back to Today")
    expect(back).to_be_focused()
    back_box = back.bounding_box()
    assert back_box["y"] > button["y"] + button["height"] and back_box["height"] >= 44
    page.screenshot(path=str(artifacts / "emergency-fullscreen-320.png"))

    # The connection drops: the "offline" line goes below the emergency screen, never
    # above the number and the call button (tel: links work without data).
    page.context.set_offline(True)
    offline = page.locator("#sc-status")
    expect(offline).to_contain_text("sent when you are online")
    assert offline.bounding_box()["y"] >= box["y"] + box["height"], offline.bounding_box()
    assert call.bounding_box() == button
    page.context.set_offline(False)

    back.click()
    expect(page).to_have_url(f"{base}/patient/today")
    expect(page.locator("nav.tabs")).to_be_visible()
    assert js_errors == []


def test_a_refused_check_in_with_chest_pain_keeps_the_call_button_on_screen(
    page: Page, app, clock, live_server, js_errors
):
    """Chest pain answered yes, the pain score forgotten: the form comes back to be
    finished, and on a 390 px phone the call button is on the first screen, above the
    error summary that has the focus."""
    base = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})
    demo_patient(app, clock, f"em390@{demo.DOMAIN}", "Ellis Forgetful", day=1)
    sign_in(page, base, f"em390@{demo.DOMAIN}", PASSWORD, clock())
    page.get_by_role("link", name="Start today's check-in").click()
    questions = page.locator("section.warning-questions fieldset")
    for question in questions.all():
        title = question.locator("legend").inner_text().lower()
        answer = "Yes" if "chest pain" in title else "No"
        question.get_by_role("radio", name=answer, exact=True).check()
    page.get_by_role("button", name="Send check-in").click()

    expect(page.locator("#error-summary")).to_be_focused()
    call = page.locator("#urgent-advice").get_by_role("link", name="Call 999")
    expect(call).to_have_attribute("href", "tel:999")
    box = call.bounding_box()
    assert page.evaluate("window.scrollY") == 0
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844, box
    assert js_errors == []
