"""Review of issue 17 points 3 and 4 in Chromium: every new page (protocols, version,
compare, edit details, discharge, the discharged filter, the discharged patient's own
pages) at 320, 390 and 1366 px: no sideways scroll, no word broken inside itself, and
no axe-core violation (labels tied to inputs, contrast, names), through the real forms
with CSRF on, in their error states too."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.services import demo
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD
from tools.audit import AXE_TAGS

pytestmark = pytest.mark.browser

WIDTHS = (320, 390, 1366)
AXE = Path(__file__).resolve().parents[2] / "tools" / "node_modules" / "axe-core" / "axe.min.js"
# A long, hyphenated, accented name: the kind that breaks layouts.
NAME = "Maximiliane Oberhauser-Zwillingsberger"
EMAIL = "maximiliane.oberhauser@patients.example"

# A data table may scroll inside its own region (WCAG 1.4.10's exception), on the
# narrowest screen only.
TABLE_OVERFLOW = """() => [...document.querySelectorAll(".table-wrap")]
  .map((w) => w.scrollWidth - w.clientWidth).filter((d) => d > 0)"""

# Every run of letters and digits whose glyphs sit on more than one line: a word the
# layout broke inside itself (CSS `overflow-wrap: anywhere` or `hyphens: auto`). A
# break after a hyphen or a slash is between words, so those split the runs.
BROKEN_WORDS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("script, style, .sr, [hidden], pre, code, .toml")) { continue; }
    if (n.data.includes("@")) { continue; }  // an email: one token, may break anywhere
    const re = /[^\\s\\-\\/\\u2010-\\u2015@.,;:()]+/g;
    for (let m = re.exec(n.data); m; m = re.exec(n.data)) {
      const r = document.createRange();
      r.setStart(n, m.index);
      r.setEnd(n, m.index + m[0].length);
      const tops = new Set([...r.getClientRects()].filter((x) => x.width > 0)
        .map((x) => Math.round(x.bottom)));
      if (tops.size > 1) { out.push(m[0]); }
    }
  }
  return out;
}"""


def _check(page: Page, what: str, artifacts: Path, problems: list[str]) -> None:
    """The page as it is now, at each width: fits, words whole, axe clean."""
    # A check right after a click could run while the next page was still loading (no
    # document yet: a CI failure on a busy machine): measure the page once it is there.
    page.wait_for_load_state("load")
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems.append(f"{what} @{width}: {overflow}px sideways scroll")
        if width > 320 and page.evaluate(TABLE_OVERFLOW):
            problems.append(f"{what} @{width}: a table scrolls sideways")
        broken = page.evaluate(BROKEN_WORDS)
        if broken:
            problems.append(f"{what} @{width}: words broken inside: {broken[:5]}")
        slug = what.replace(" ", "-").replace("/", "_")
        page.screenshot(path=str(artifacts / f"review17-{slug}-{width}.png"), full_page=True)
    if not AXE.exists():
        # CI installs the node tools before the tests (.ci/run) and requires browsers:
        # there a missing axe is a failure, not a quiet pass of half the check.
        if os.environ.get("REQUIRE_BROWSER") == "1":
            problems.append(f"{what}: axe-core missing (npm install in tools/)")
        else:
            warnings.warn("axe-core not installed: accessibility not checked", stacklevel=1)
    else:
        page.add_script_tag(content=AXE.read_text())
        result = page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
            AXE_TAGS,
        )
        for v in result["violations"]:
            nodes = ", ".join(n["target"][0] for n in v["nodes"][:3] if n["target"])
            problems.append(f"{what}: axe {v['id']}: {v['help']} [{nodes}]")
    page.set_viewport_size({"width": 390, "height": 800})


def _new_page(browser, errors: list[str]) -> Page:
    # bypass_csp lets axe's script in; the app's own pages use no inline script.
    context = browser.new_context(viewport={"width": 390, "height": 800}, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def test_new_pages_fit_every_width_and_pass_axe(browser, app, clock, live_server, artifacts):
    base = live_server.url
    problems: list[str] = []
    js_errors: list[str] = []
    demo_patient(app, clock, EMAIL, NAME, 3)
    page = _new_page(browser, js_errors)
    sign_in(page, base, demo.CLINICIAN_EMAIL, demo.CLINICIAN_PASSWORD, clock())

    page.goto(f"{base}/clinic/protocols")
    _check(page, "protocols", artifacts, problems)
    page.get_by_role("link", name="Version 1").first.click()
    _check(page, "protocol version", artifacts, problems)
    page.goto(f"{base}/clinic/protocols/compression-72h/compare?old=1&new=1")
    _check(page, "protocol compare", artifacts, problems)

    page.goto(f"{base}/clinic/patients?q=oberhauser")
    page.get_by_role("link", name=NAME).click()
    patient_url = page.url
    page.get_by_role("link", name="Edit details").click()
    _check(page, "edit details", artifacts, problems)
    page.get_by_label("Email", exact=True).fill("not an email")
    page.get_by_role("button", name="Save details").click()
    expect(page.locator("#email-error")).to_contain_text("Enter an email address like")
    _check(page, "edit details (error)", artifacts, problems)

    page.goto(patient_url)
    page.get_by_role("link", name="Discharge…").click()
    _check(page, "discharge", artifacts, problems)
    page.get_by_label("Reason (optional, for the clinic's record)").fill("Course complete")
    page.get_by_role("button", name=f"Yes, discharge {NAME}").click()
    expect(page.get_by_text("Patient discharged.")).to_be_visible()
    _check(page, "discharged patient (clinician)", artifacts, problems)
    page.goto(f"{base}/clinic/patients?status=discharged")
    expect(page.get_by_role("link", name=NAME)).to_be_visible()
    _check(page, "patients discharged", artifacts, problems)

    patient = _new_page(browser, js_errors)
    try:
        sign_in(patient, base, EMAIL, PASSWORD, clock())
        expect(patient.get_by_text("has ended. You can read your diary")).to_be_visible()
        _check(patient, "patient today (discharged)", artifacts, problems)
        patient.goto(f"{base}/patient/checkin")
        expect(patient.get_by_role("heading", level=1)).to_contain_text("has ended")
        _check(patient, "patient checkin refused", artifacts, problems)
    finally:
        patient.context.close()
        page.context.close()
    assert problems == [], "\n".join(problems)
    assert js_errors == []
