"""A name typed as one 120-character token breaks inside its cell instead of pushing the
other columns off screen (an adversarial test found /clinic/patients and /clinic/audit
2,300 px wide in a 640 px box at 1366 px), while an ordinary name in a narrow table is
not squeezed into pieces (the "D ay" fault the old body rule caused)."""

from __future__ import annotations

import pytest

from tests.browser.test_review17_widths_browser import BROKEN_WORDS
from tests.browser.test_widths_every_page_browser import APP_CSS

TABLE = """<!doctype html><html lang="en"><head><title>t</title><style>%s</style></head>
<body><main style="max-width: 640px"><div class="table-wrap" id="wrap"><table>
<tr><th>Patient</th><th>Next appointment</th><th>Last treated</th></tr>
<tr><td class="who"><a href="#">%s</a></td><td>Sun 20 Dec 2026, 10:00</td>
<td>Mon 7 Dec 2026, 09:30</td></tr></table></div></main></body></html>"""


@pytest.mark.browser
def test_a_long_unbroken_name_stays_inside_the_table(page):
    page.set_viewport_size({"width": 1366, "height": 800})
    page.set_content(TABLE % (APP_CSS.read_text(), "A" * 120))
    spill = page.evaluate(
        "() => { const w = document.getElementById('wrap'); return w.scrollWidth - w.clientWidth; }"
    )
    assert spill <= 0, f"the table is {spill}px wider than its box"
    # The other columns keep their words whole.
    assert all("A" * 10 in word for word in page.evaluate(BROKEN_WORDS))


@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 390])
def test_an_ordinary_name_is_not_squeezed_apart(page, width):
    page.set_viewport_size({"width": width, "height": 800})
    page.set_content(TABLE % (APP_CSS.read_text(), "Dr Demo Clinician-Smith"))
    assert page.evaluate(BROKEN_WORDS) == []


BUTTON = """<!doctype html><html lang="en"><head><title>t</title><style>%s</style></head>
<body><main><form><button type="submit" class="danger">Yes, discharge %s</button>
<a class="button" href="#">No, keep them in care</a></form></main></body></html>"""


@pytest.mark.browser
@pytest.mark.parametrize("width", [320, 390, 1366])
def test_a_button_naming_a_long_name_stays_on_the_screen(page, width):
    """The discharge page's button with a 120-character name scrolled the page
    sideways by up to 1,797 px (an adversarial test)."""
    page.set_viewport_size({"width": width, "height": 800})
    page.set_content(BUTTON % (APP_CSS.read_text(), "B" * 120))
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px sideways scroll"
    page.set_content(BUTTON % (APP_CSS.read_text(), "Alice Marker-A"))
    assert page.evaluate(BROKEN_WORDS) == []
