"""Issue 17 point 3 in Chromium at phone size: the demo admin reads what changed in a
newly loaded protocol version, signs it off through the real form (CSRF on), and every
protocol page fits a 320 px screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.services import demo
from app.services import protocols
from tests.browser.test_triage_browser import sign_in

pytestmark = pytest.mark.browser


def _fits(page: Page, what: str, artifacts: Path) -> None:
    page.set_viewport_size({"width": 320, "height": 700})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(artifacts / f"protocol-{what}-320.png"), full_page=True)
    assert overflow <= 0, f"the {what} page is {overflow}px wider than a 320 px screen"


def test_admin_compares_and_signs_off_a_new_version(
    page: Page, app, clock, live_server, artifacts, js_errors, tmp_path
):
    base = live_server.url
    shipped = Path(app.config["SCLERO_PROTOCOL_DIR"]) / "compression-24h.toml"
    edited = tmp_path / "compression-24h.toml"
    text = shipped.read_text(encoding="utf-8")
    edited.write_text(text.replace("[protocol]", "# A long comment " + "x" * 300 + "\n[protocol]"))
    with app.app_context():
        (loaded,) = protocols.load(str(edited), "demo", clock())
    sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())
    page.goto(f"{base}/clinic/protocols")
    expect(page.get_by_text("Not signed off")).to_have_count(1)
    _fits(page, "list", artifacts)

    page.get_by_role("link", name=f"Version {loaded.version}").click()
    _fits(page, "version", artifacts)
    page.get_by_role("link", name=f"What changed since version {loaded.version - 1}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("compared with")
    expect(page.get_by_text("The two versions give patients the same rules")).to_be_visible()
    _fits(page, "compare", artifacts)

    page.go_back()
    page.get_by_role("button", name=f"Sign off version {loaded.version}").click()
    expect(page.locator("#confirm-error")).to_contain_text("Tick “I have read this version")
    page.get_by_label("I have read this version and approve it for patients").check()
    page.get_by_role("button", name=f"Sign off version {loaded.version}").click()
    expect(page.get_by_text("is signed off. New patients can have it.")).to_be_visible()
    expect(page.get_by_text("Signed off by Dr Demo")).to_be_visible()
    page.goto(f"{base}/clinic/protocols")
    expect(page.get_by_text("Not signed off")).to_have_count(0)
    assert js_errors == []
