"""A front desk hands over a sign-in link at 320 px (issue 17 point 6): the whole link
wraps inside its box, Copy puts it on the clipboard and says "Copied" in a live region,
without the clipboard API the link is selected instead, and the QR code is on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.services import demo

pytestmark = pytest.mark.browser

NARROW = {"width": 320, "height": 640}


def _invite(page, base: str, email: str) -> str:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(demo.CLINICIAN_EMAIL)
    page.get_by_label("Password").fill(demo.CLINICIAN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{base}/clinic/staff")
    page.get_by_label("Name", exact=True).fill("Nia Nurse")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Role", exact=True).select_option("clinician")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("heading", name="Invitation link for Nia Nurse")).to_be_visible()
    return page.locator("#staff-link").input_value()


def _narrow_context(browser, **kwargs):
    context = browser.new_context(viewport=NARROW, **kwargs)
    context.set_default_timeout(10_000)
    return context


def test_copy_and_qr_at_320px(live_server, browser):
    base = live_server.url
    context = _narrow_context(browser)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        link = _invite(page, base, "nia@demo.sclerocare.example")
        assert link.startswith(f"{base}/invite/")
        # Nothing sideways at 320 px; the link wraps inside its box, all of it visible.
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
        box = page.locator("#staff-link")
        assert box.evaluate("el => el.scrollWidth <= el.clientWidth")
        assert box.evaluate("el => el.scrollHeight <= el.clientHeight + 2")
        # The QR code is drawn on the page and fits.
        qr = page.locator("svg.qr-code")
        expect(qr).to_be_visible()
        size = qr.bounding_box()
        assert size and 100 <= size["width"] <= NARROW["width"]
        assert page.get_by_role("img", name="QR code of the invitation link").count() == 1
        # Copy: on the clipboard, and said where a screen reader hears it.
        page.get_by_role("button", name="Copy link").click()
        expect(page.locator("#staff-link-status")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == link
        assert errors == []
    finally:
        context.close()


def test_without_the_clipboard_api_the_link_is_selected(live_server, browser):
    base = live_server.url
    context = _narrow_context(browser)
    # As on a browser with no clipboard API for this page.
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        link = _invite(page, base, "ola@demo.sclerocare.example")
        page.get_by_role("button", name="Copy link").click()
        status = page.locator("#staff-link-status")
        expect(status).not_to_have_text("")
        assert status.inner_text() in ("Copied", "Link selected: press Ctrl+C (or Copy) to copy it")
        selected = page.evaluate(
            "() => { const b = document.getElementById('staff-link');"
            " return b.value.substring(b.selectionStart, b.selectionEnd); }"
        )
        assert selected == link
        assert errors == []
    finally:
        context.close()
