"""Installable and readable: Chromium's own installability check, and no sideways
scrolling on any patient page at 320 px wide with text at 200%."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CHROME_ARGS
from tests.browser.conftest import CHROMIUM
from tests.browser.conftest import wait_for_js

pytestmark = pytest.mark.browser

PATIENT_PAGES = [
    "/patient/today",
    "/patient/checklist",
    "/patient/plan",
    "/patient/checkin",
    "/patient/diary",
    "/patient/photos",
    "/patient/photos/new",
    "/patient/reminders",
]


def test_chromium_reports_no_installability_errors(browser, live_server, tmp_path):
    # Installability is only checked in a normal (persistent) profile, never incognito.
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=CHROME_ARGS
    )
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login")
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == [] and manifest["url"].endswith("/manifest.webmanifest")
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert errors == [], errors
    finally:
        context.close()


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill("day3@demo.sclerocare.example")
    page.get_by_label("Password").fill("demo patient 2026")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/patient/today")


OVERFLOW = """() => {
  document.documentElement.style.fontSize = '200%';
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > width + 1)
    .filter((el) => getComputedStyle(el).position !== 'absolute')
    .filter((el) => !el.closest('.table-wrap'))  // tables scroll inside their own region
    .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + el.className);
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
}"""


def test_every_patient_page_fits_320px_at_200_percent_text(browser, live_server, artifacts):
    context = browser.new_context(viewport={"width": 320, "height": 640})
    try:
        page = context.new_page()
        _sign_in(page, live_server.url)
        for path in PATIENT_PAGES:
            page.goto(live_server.url + path)
            result = page.evaluate(OVERFLOW)
            if result["scroll"] > result["width"] or result["wide"]:
                page.screenshot(
                    path=str(artifacts / f"overflow{path.replace('/', '-')}.png"), full_page=True
                )
            assert result["scroll"] <= result["width"], (path, result)
            assert result["wide"] == [], (path, result)
    finally:
        context.close()


IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def test_iphone_in_safari_sees_the_home_screen_guide_until_dismissed(
    browser, live_server, artifacts
):
    context = browser.new_context(viewport={"width": 390, "height": 844}, user_agent=IPHONE_SAFARI)
    try:
        page = context.new_page()
        _sign_in(page, live_server.url)
        guide = page.get_by_role("complementary", name="Put ScleroCare on your Home Screen")
        expect(guide).to_be_visible()
        expect(guide).to_contain_text("Add to Home Screen")
        page.screenshot(path=str(artifacts / "ios-home-screen-guide.png"))
        guide.get_by_role("button", name="Not now").click()
        expect(guide).to_be_hidden()
        page.reload()
        expect(guide).to_be_hidden()
    finally:
        context.close()


def test_other_browsers_do_not_see_the_iphone_guide(page, live_server):
    _sign_in(page, live_server.url)
    expect(page.locator("#ios-guide")).to_be_hidden()


# Headless Chromium never fires beforeinstallprompt by itself (it needs engagement), so
# the test fires one shaped like Chromium's: preventDefault(), prompt(), userChoice.
FIRE_INSTALL_PROMPT = """() => {
  window.__prompted = 0;
  let choose;
  const event = new Event('beforeinstallprompt', {cancelable: true});
  event.prompt = () => { window.__prompted += 1; return Promise.resolve(); };
  event.userChoice = new Promise((resolve) => { choose = resolve; });
  window.__choose = (outcome) => choose({outcome, platform: 'web'});
  window.dispatchEvent(event);
  return event.defaultPrevented;
}"""


def test_install_button_appears_with_the_prompt_and_goes_after_the_choice(
    page, live_server, js_errors
):
    _sign_in(page, live_server.url)
    # app.js (deferred) listens for the prompt: fired before it ran, nobody would catch it.
    page.wait_for_load_state("load")
    button = page.get_by_role("button", name="Install app")
    expect(button).to_be_hidden()  # no prompt offered: no button that cannot work
    # The app keeps the prompt for its own button instead of the browser's mini-bar.
    assert page.evaluate(FIRE_INSTALL_PROMPT) is True
    expect(button).to_be_visible()
    button.click()
    # Polled from Python: Playwright's in-page polling needs eval, which the CSP refuses
    # whenever the first check is not already true (a busy machine).
    wait_for_js(page, "window.__prompted === 1")
    expect(button).to_be_visible()  # until the patient answers the browser's dialog
    page.evaluate("window.__choose('dismissed')")
    expect(button).to_be_hidden()
    # A prompt can be used once: even if the button were shown again, a click does nothing.
    page.evaluate("document.getElementById('install-app').hidden = false")
    button.click()
    page.wait_for_timeout(200)
    assert page.evaluate("window.__prompted") == 1
    assert js_errors == []
