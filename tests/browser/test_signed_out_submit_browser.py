"""Signed-out pages get only start.js (issue 22 point 4), which must still keep app.js's
double-submit guard: a second tap on "Sign in" while the first is sending is not posted.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_triage_browser import demo_patient
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_a_second_tap_on_sign_in_is_not_posted(app, clock, live_server, page):
    demo_patient(app, clock, "tap.twice@example.org", "Tap Twice", day=3)
    page.context.clock.set_system_time(clock())
    page.goto(f"{live_server.url}/login")
    assert page.evaluate("() => [...document.scripts].some(s => s.src.includes('start'))")
    page.get_by_label("Email", exact=True).fill("tap.twice@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    # Two submits in one go, as a double tap gives; a listener added after start.js's
    # sees whether each one was stopped.
    stopped = page.evaluate(
        """() => {
          const seen = [];
          document.addEventListener("submit", (e) => seen.push(e.defaultPrevented));
          const form = document.querySelector("form[method=post]");
          form.requestSubmit();
          form.requestSubmit();
          return seen;
        }"""
    )
    assert stopped == [False, True]
    expect(page).to_have_url(f"{live_server.url}/patient/today")
