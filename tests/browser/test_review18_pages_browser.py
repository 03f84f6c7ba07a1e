"""Review of issue 18's new pages in Chromium, as an anxious patient on a small phone
and a busy clinician: the staff second factor (setting it up, the recovery codes, the
code after the password, its status page, an admin's reset button), the change-password
page, "Remember this phone" and the PIN pages, the signed-out message, the link notice
on Today, the sign-in page over its per-address limit, and the error page's reference.

Each page, in its error state too, at 320, 390 and 1366 px: no sideways scroll, tap
targets of at least 24 px, and no axe-core violation (labels, names, contrast, ARIA).
Then what axe cannot judge: the autocomplete and keyboard hints of the code and PIN
fields, the words for a lost phone, no name or health detail on the PIN page (a shared
phone shows it to whoever picks it up), printable recovery codes, and signing in with
JavaScript off.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import Clinic
from app.models import User
from app.services import demo
from tests.browser.test_review17_widths_browser import _check as fits_and_axe
from tests.browser.test_review17_widths_browser import _new_page
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD
from tests.conftest import make_staff

pytestmark = pytest.mark.browser

WIDTHS = (320, 390, 1366)
PATIENT = "Maximiliane Oberhauser-Zwillingsberger"
PATIENT_EMAIL = "maximiliane.oberhauser@patients.example"
NURSE_EMAIL = "nurse.practitioner@demo.sclerocare.example"
CODE = "6-digit code from your app"

# Controls smaller than 24 x 24 CSS px (WCAG 2.2 target size), leaving out links inside
# a sentence (the criterion's own exception) and hidden ones.
SMALL_TARGETS = """() => [...document.querySelectorAll(
    "button, input:not([type=hidden]), select, textarea, a.button, label.check, label.radio,"
    + " p > a:only-child, li > a:only-child")]
  .filter((el) => el.offsetParent !== null)
  .filter((el) => el.tagName !== "A" || el.parentElement.textContent.trim()
      === el.textContent.trim())
  .map((el) => [el, el.getBoundingClientRect()])
  .filter(([, r]) => r.width < 24 || r.height < 24)
  .map(([el, r]) => `${el.tagName.toLowerCase()}#${el.id || ""}`
      + ` "${(el.textContent || el.name || "").trim().slice(0, 30)}" `
      + `${Math.round(r.width)}x${Math.round(r.height)}`)"""

# Checkbox labels whose words wrap back under the box (read as apart from it).
WRAPPED_UNDER_BOX = """() => [...document.querySelectorAll("label.check, label.radio")]
  .filter((label) => label.offsetParent !== null)
  .filter((label) => {
    const box = label.querySelector("input").getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(label);
    range.setStartAfter(label.querySelector("input"));
    return [...range.getClientRects()].some((r) => r.width > 0 && r.left < box.right);
  })
  .map((label) => label.textContent.trim())"""


def _check(page: Page, what: str, artifacts: Path, problems: list[str]) -> None:
    """Fits, words whole and axe-clean at 3 widths (as review 17), and tap targets."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        small = page.evaluate(SMALL_TARGETS)
        if small:
            problems.append(f"{what} @{width}: tap targets under 24 px: {small[:4]}")
        wrapped = page.evaluate(WRAPPED_UNDER_BOX)
        if wrapped:
            problems.append(f"{what} @{width}: words wrap under their checkbox: {wrapped}")
    fits_and_axe(page, f"r18 {what}", artifacts, problems)


def _field(page: Page, label: str) -> dict:
    """The attributes of the input labelled ``label`` that a phone keyboard and a
    password manager read, and the text of what describes it."""
    return page.get_by_label(label, exact=True).evaluate(
        """(el) => ({
          autocomplete: el.getAttribute("autocomplete"),
          inputmode: el.getAttribute("inputmode"),
          autocapitalize: el.getAttribute("autocapitalize"),
          spellcheck: el.getAttribute("spellcheck"),
          described: (el.getAttribute("aria-describedby") || "").split(" ").filter(Boolean)
            .map((id) => document.getElementById(id)?.textContent.trim() || `#${id} missing`)
        })"""
    )


def _text(page: Page) -> str:
    return page.locator("main").inner_text()


@pytest.fixture
def boom(app):
    """A route that fails, for the error page's reference (added before any request)."""

    def fail():  # noqa: ANN202
        raise RuntimeError("review 18: an unexpected failure")

    app.add_url_rule("/review18-boom", "review18_boom", fail)
    # The test config lets exceptions through to the test client; a browser gets the page.
    app.config["PROPAGATE_EXCEPTIONS"] = False


def test_staff_second_factor_pages(browser, app, clock, live_server, artifacts):
    app.config["SCLERO_STAFF_MFA_REQUIRED"] = True
    base = live_server.url
    problems: list[str] = []
    js_errors: list[str] = []
    with app.app_context():
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
        make_staff(clinic, NURSE_EMAIL)
        # A sign-in link from another admin replaced this admin's password (issue 18.2).
        admin = db.session.scalar(sa.select(User).where(User.email == demo.CLINICIAN_EMAIL))
        admin.link_notice_at = clock()
        db.session.commit()
    page = _new_page(browser, js_errors)
    try:
        sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        expect(page).to_have_url(re.compile(r"/account/second-factor"))
        words = _text(page)
        # A staff member who never used one is told what an authenticator app is.
        assert "authenticator app" in words and "TOTP" not in words
        assert re.search(r"app .*(makes|shows) a new 6-digit code", words), words
        enrol = _field(page, "The 6-digit code your app shows")
        assert enrol["autocomplete"] == "one-time-code" and enrol["inputmode"] == "numeric"
        _check(page, "enrol", artifacts, problems)
        page.get_by_label("The 6-digit code your app shows").fill("000000")
        page.get_by_role("button", name="Turn on").click()
        expect(page.locator("#code-error")).to_be_visible()
        assert _field(page, "The 6-digit code your app shows")["described"][-1]
        _check(page, "enrol (error)", artifacts, problems)

        secret = page.locator("#mfa-secret").inner_text().replace(" ", "")
        page.get_by_label("The 6-digit code your app shows").fill(pyotp.TOTP(secret).at(clock()))
        page.get_by_role("button", name="Turn on").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
        codes = page.locator(".recovery-codes li").all_inner_texts()
        assert len(codes) == 10
        _check(page, "recovery codes", artifacts, problems)
        # Printed, the sheet holds the codes and the words, not the menus and buttons.
        page.emulate_media(media="print")
        assert page.locator("header.top").is_hidden()
        assert page.get_by_role("link", name=re.compile("I have saved them")).is_hidden()
        expect(page.locator(".recovery-codes")).to_be_visible()
        page.emulate_media(media="screen")
        page.get_by_role("link", name=re.compile("I have saved them")).click()
        expect(page).to_have_url(f"{base}/clinic/")
        expect(page.get_by_role("heading", name="Your password was changed")).to_be_visible()
        _check(page, "dashboard with link notice", artifacts, problems)

        page.goto(f"{base}/account/second-factor")
        expect(page.get_by_text("Your sign-in code is on.")).to_be_visible()
        assert "second factor" not in _text(page)
        _check(page, "mfa status", artifacts, problems)

        page.goto(f"{base}/clinic/staff")
        # Resetting signs a colleague out at once: not one stray tap away, and it says so.
        reset = page.get_by_role("button", name=re.compile("Reset sign-in code of Nurse"))
        expect(reset).to_be_hidden()
        _check(page, "staff", artifacts, problems)
        row = page.locator("li.card", has_text=NURSE_EMAIL)
        row.get_by_text("Reset sign-in code…").click()
        expect(reset).to_be_visible()
        assert "signed out now" in reset.evaluate(
            """(el) => el.getAttribute("aria-describedby").split(" ")
                .map((id) => document.getElementById(id).textContent).join(" ")"""
        )
        _check(page, "staff with reset open", artifacts, problems)
        reset.click()
        expect(page.locator(".flash-success")).to_contain_text("signed out")

        page.goto(f"{base}/account/password")
        assert _field(page, "Current password")["autocomplete"] == "current-password"
        assert _field(page, "New password")["autocomplete"] == "new-password"
        assert _field(page, "Type the new password again")["autocomplete"] == "new-password"
        _check(page, "change password", artifacts, problems)
        page.get_by_label("Current password").fill("not my password at all")
        page.get_by_label("New password", exact=True).fill("short")
        page.get_by_label("Type the new password again").fill("short")
        page.get_by_role("button", name="Save new password").click()
        expect(page.locator(".field.has-error").first).to_be_visible()
        for label in ("Current password", "New password"):
            described = _field(page, label)["described"]
            if page.get_by_label(label, exact=True).get_attribute("aria-invalid"):
                assert described, f"{label}: its error is not tied to it"
        _check(page, "change password (error)", artifacts, problems)

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_text("You have signed out.")).to_be_visible()
        _check(page, "signed out", artifacts, problems)

        # The next sign-in asks for the code; this phone is "lost": a recovery code.
        sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
        expect(page).to_have_url(f"{base}/login/code")
        words = _text(page)
        assert "recovery code" in words and "clinic admin" in words
        assert "second factor" not in words, "jargon on the code page"
        code = _field(page, CODE)
        assert code["autocomplete"] == "one-time-code"
        # Recovery codes have letters: no digits-only keyboard, no capital first letter.
        assert code["inputmode"] != "numeric" and code["autocapitalize"] == "off"
        assert code["spellcheck"] == "false"
        assert any("recovery code" in d for d in code["described"])
        _check(page, "code", artifacts, problems)
        page.get_by_label(CODE, exact=True).fill("12345")
        page.get_by_role("button", name="Continue").click()
        expect(page.locator("#code-error")).to_be_visible()
        assert len(_field(page, CODE)["described"]) == 2
        _check(page, "code (error)", artifacts, problems)
        page.get_by_label(CODE, exact=True).fill(codes[0].upper())
        page.get_by_role("button", name="Continue").click()
        expect(page).to_have_url(f"{base}/clinic/")
    finally:
        page.context.close()
    assert problems == [], "\n".join(problems)
    assert js_errors == []


def test_patient_pin_notice_and_limits(browser, app, clock, boom, live_server, artifacts):
    base = live_server.url
    problems: list[str] = []
    js_errors: list[str] = []
    demo_patient(app, clock, PATIENT_EMAIL, PATIENT, 3)
    with app.app_context():
        # A sign-in link from the clinic replaced this patient's password (issue 18.2).
        user = db.session.scalar(sa.select(User).where(User.email == PATIENT_EMAIL))
        user.link_notice_at = clock()
        db.session.commit()
    page = _new_page(browser, js_errors)
    try:
        page.context.clock.set_system_time(clock())
        page.goto(f"{base}/login")
        remember = page.get_by_label("Remember this phone")
        assert _field(page, "Remember this phone")["described"]
        _check(page, "sign in", artifacts, problems)
        page.get_by_label("Email", exact=True).fill(PATIENT_EMAIL)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        remember.check()
        page.get_by_role("button", name="Sign in", exact=True).click()

        expect(page).to_have_url(re.compile(r"/remember-phone"))
        for label in ("Choose a PIN", "Type it again"):
            pin = _field(page, label)
            # Not "new-password": a password manager would offer a long made-up password.
            assert pin["autocomplete"] == "one-time-code", (label, pin)
            assert pin["inputmode"] == "numeric", (label, pin)
        _check(page, "choose pin", artifacts, problems)
        page.get_by_label("Choose a PIN").fill("1234")
        page.get_by_label("Type it again").fill("1234")
        page.get_by_role("button", name="Save PIN").click()
        expect(page.locator(".field.has-error").first).to_be_visible()
        assert page.locator(".has-error .error").first.inner_text() in " ".join(
            _field(page, "Choose a PIN")["described"] + _field(page, "Type it again")["described"]
        )
        _check(page, "choose pin (error)", artifacts, problems)
        page.get_by_label("Choose a PIN").fill("4826")
        page.get_by_label("Type it again").fill("4826")
        page.get_by_role("button", name="Save PIN").click()

        expect(page).to_have_url(f"{base}/patient/today")
        expect(page.get_by_role("heading", name="Your password was changed")).to_be_visible()
        _check(page, "today with link notice", artifacts, problems)

        # The session ends (30 minutes idle); the phone, remembered, asks for the PIN.
        device = [c for c in page.context.cookies() if c["name"] == "sclero_device"]
        assert device, "no remembered-phone cookie"
        page.context.clear_cookies()
        page.context.add_cookies(device)
        page.goto(f"{base}/patient/today")
        expect(page).to_have_url(re.compile(r"/login/pin"))
        words = page.locator("body").inner_text()
        # Shown before anyone proves who they are: nothing of the patient's on it.
        for private in ("Maximiliane", "Oberhauser", "maximiliane.oberhauser", "compression"):
            assert private.lower() not in words.lower(), private
        pin = _field(page, "Your PIN")
        assert pin["autocomplete"] == "one-time-code" and pin["inputmode"] == "numeric"
        _check(page, "pin", artifacts, problems)
        page.get_by_label("Your PIN").fill("0000")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#pin-error")).to_be_visible()
        assert _field(page, "Your PIN")["described"]
        _check(page, "pin (error)", artifacts, problems)

        # Over the per-address limit: the form again, the typed email kept, plain words.
        page.context.clear_cookies()
        app.config["SCLERO_SIGNIN_LIMIT"] = "1 per 15 minutes"
        page.goto(f"{base}/login")
        for _ in range(2):
            page.get_by_label("Email", exact=True).fill(PATIENT_EMAIL)
            page.get_by_label("Password", exact=True).fill("not the password")
            page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_text("Too many sign-in attempts")).to_be_visible()
        expect(page.get_by_label("Email", exact=True)).to_have_value(PATIENT_EMAIL)
        _check(page, "sign in (429)", artifacts, problems)

        app.config["SCLERO_RESET_ASK_LIMIT"] = "1 per hour"
        for _ in range(2):
            page.goto(f"{base}/forgot-password")
            page.get_by_label("Your email", exact=True).fill(PATIENT_EMAIL)
            page.get_by_role("button", name="Email me a link").click()
        expect(page.get_by_text("Too many links were asked for")).to_be_visible()
        expect(page.get_by_label("Your email", exact=True)).to_have_value(PATIENT_EMAIL)
        _check(page, "forgot (429)", artifacts, problems)

        response = page.goto(f"{base}/review18-boom")
        assert response is not None and response.status == 500
        expect(page.get_by_text(re.compile(r"quote reference \S+"))).to_be_visible()
        _check(page, "error with reference", artifacts, problems)
    finally:
        page.context.close()
    assert problems == [], "\n".join(problems)
    assert js_errors == []


def test_sign_in_works_with_javascript_off(browser, app, clock, live_server):
    demo_patient(app, clock, PATIENT_EMAIL, PATIENT, 3)
    context = browser.new_context(viewport={"width": 320, "height": 700}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Email", exact=True).fill(PATIENT_EMAIL)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Remember this phone").check()
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page).to_have_url(re.compile(r"/remember-phone"))
        page.get_by_role("link", name="Not now").click()
        expect(page).to_have_url(f"{live_server.url}/patient/today")
    finally:
        context.close()


def test_sign_in_page_tab_order(browser, live_server):
    """Keyboard users meet the fields in reading order, the hint tied to the box."""
    context = browser.new_context(viewport={"width": 320, "height": 700})
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Email", exact=True).focus()
        order = []
        for _ in range(4):
            page.keyboard.press("Tab")
            order.append(
                page.evaluate(
                    "document.activeElement.textContent.trim() || document.activeElement.name"
                )
            )
        assert order == ["password", "remember", "Sign in", "Forgot your password?"], order
    finally:
        context.close()
