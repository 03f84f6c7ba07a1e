"""Review of the admin pages and the link box at 320, 390 and 1366 px (issue 17 points
2 and 6): nothing scrolls sideways, no word is broken inside itself, and axe-core (as
`make audit` runs it) finds nothing, on the staff list, a new staff link, the clinic
settings (and its errors) and a patient's new sign-in link."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.services import demo
from tools.audit import AXE_TAGS
from tools.audit import TOOLS

pytestmark = pytest.mark.browser

WIDTHS = (320, 390, 1366)
AXE = TOOLS / "node_modules" / "axe-core" / "axe.min.js"

# Words (runs of letters and digits) split over two lines; addresses and links may
# wrap anywhere and are left out, as are words inside form controls.
BROKEN_WORDS = """() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const parent = node.parentElement;
    if (!parent || parent.closest('script,style,textarea,svg,option')) continue;
    if (!parent.getClientRects().length) continue;
    const re = /[^\\s\\-\\u2010\\u2013\\u2014]+/g;
    let m;
    while ((m = re.exec(node.data))) {
      const word = m[0];
      if (/[@\\/]/.test(word) || word.length < 2) continue;
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + word.length);
      const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
        .map(r => Math.round(r.top)));
      if (tops.size > 1) broken.push(word);
    }
  }
  return broken;
}"""


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(demo.CLINICIAN_EMAIL)
    page.get_by_label("Password").fill(demo.CLINICIAN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base}/clinic/")


def _check(page, width: int, label: str, problems: list[str]) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{label} at {width}px: scrolls sideways ({scroll}px)")
    broken = page.evaluate(BROKEN_WORDS)
    if broken:
        problems.append(f"{label} at {width}px: words broken inside: {broken[:5]}")
    if AXE.exists():
        page.add_script_tag(content=AXE.read_text())
        result = page.evaluate(
            "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
            AXE_TAGS,
        )
        for v in result["violations"]:
            nodes = ", ".join(n["target"][0] for n in v["nodes"][:3] if n["target"])
            problems.append(f"{label} at {width}px: axe {v['id']}: {v['help']} [{nodes}]")


@pytest.mark.parametrize("width", WIDTHS)
def test_admin_pages_and_link_boxes_fit_and_pass_axe(live_server, browser, width):
    base = live_server.url
    context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    problems: list[str] = []
    try:
        _sign_in(page, base)
        page.goto(f"{base}/clinic/staff")
        _check(page, width, "staff list", problems)
        page.get_by_label("Name", exact=True).fill("Nia Nurse-Practitioner")
        page.get_by_label("Email", exact=True).fill("nia.nurse@demo.sclerocare.example")
        page.get_by_role("button", name="Invite").click()
        expect(page.locator("#staff-link")).to_be_visible()
        _check(page, width, "staff link", problems)
        page.goto(f"{base}/clinic/settings")
        _check(page, width, "settings", problems)
        page.get_by_label("Main phone number").fill("call us")
        page.get_by_role("button", name="Save settings").click()
        _check(page, width, "settings (errors)", problems)
        page.goto(f"{base}/clinic/patients")
        page.locator("table a").first.click()
        page.get_by_role("button", name="Send a new sign-in link").click()
        expect(page.locator("#invite-link")).to_be_visible()
        _check(page, width, "patient link", problems)
        assert errors == []
        assert problems == [], "\n".join(problems)
    finally:
        context.close()
