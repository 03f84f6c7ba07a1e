"""A tick made offline survives a reload offline, and is sent once (issue 19 point 5).

The kept copy of Today predates the tick, so the page draws the ticks still waiting in
the phone's queue. Back online, exactly one request reaches the server and the tick is
stored. The offline banner's date is the clinic's day-month format, whatever the
phone's own locale (issue 19 point 4).
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import ChecklistTick
from app.models import Clinic
from app.models import TaskTick
from app.services import demo
from tests.browser.conftest import PHONE
from tests.browser.conftest import wait_for_js
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_offline_journey import _wait_for_kept_pages
from tests.browser.test_offline_triage import _demo_patient_day1
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD
from tests.conftest import make_patient

pytestmark = pytest.mark.browser

QUEUE = (
    "() => JSON.parse(localStorage.getItem('sc-queue-' + "
    "document.querySelector('meta[name=sc-user]').content) || '[]').length"
)


def _ticks(patient_id: int) -> list[tuple[str, int]]:
    return [(t.task_key, t.day) for t in db.session.scalars(sa.select(TaskTick))]


@pytest.fixture
def us_page(browser):
    """A phone set to US English in New York: its own dates would be 12/7/2026."""
    context = browser.new_context(viewport=PHONE, locale="en-US", timezone_id="America/New_York")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def test_offline_tick_survives_reload_and_is_sent_once(us_page: Page, live_server, in_app, clock):
    page = us_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    base = live_server.url
    patient_id = in_app(_demo_patient_day1, clock)
    sign_in(page, base, f"offline-em@{demo.DOMAIN}", PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    wait_for_sw_control(page)
    page.reload()
    _wait_for_kept_pages(page, ["/patient/today"])

    page.context.set_offline(True)
    page.reload()
    tick = page.locator("#task-walks button.tick")
    expect(tick).to_have_attribute("aria-pressed", "false")
    tick.click()
    expect(tick).to_have_attribute("aria-pressed", "true")
    assert wait_for_js(page, QUEUE) == 1

    # Reloaded offline: the kept copy says "not done", the phone's queue says "done".
    page.reload()
    status = page.locator("#sc-status")
    expect(status).to_contain_text("Offline copy, last updated")
    banner = status.inner_text()
    # The clinic's format: weekday, day, short month, 24-hour time; never 12/7 or AM/PM.
    assert re.search(r"last updated \w{3},? \d{1,2} \w{3},? \d{2}:\d{2}\.", banner), banner
    assert not re.search(r"\d{1,2}/\d{1,2}", banner) and "PM" not in banner, banner
    expect(tick).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#task-walks")).to_contain_text(
        "Saved on this phone, will send when online."
    )
    assert in_app(_ticks, patient_id) == []

    # Online again: one POST, the tick stored, the note gone.
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.context.set_offline(False)
    wait_for_js(page, QUEUE + " === 0 || null", timeout=15_000)
    expect(page.locator("#task-walks .pending-note")).to_have_count(0)
    assert in_app(_ticks, patient_id) == [("walks", 1)]
    page.wait_for_timeout(500)
    assert [p for p in posts if "/patient/tasks/" in p] == [f"{base}/patient/tasks/walks"]

    page.goto(f"{base}/patient/today")
    expect(tick).to_have_attribute("aria-pressed", "true")
    assert in_app(_ticks, patient_id) == [("walks", 1)]
    assert errors == []


def _booked_patient(clock) -> int:
    clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
    return make_patient(
        clinic, f"offline-booked@{demo.DOMAIN}", day=None, now=clock(), name="Bea Booked"
    ).id


def _checklist_ticks() -> list[str]:
    return list(db.session.scalars(sa.select(ChecklistTick.item_key)))


def test_offline_checklist_tick_survives_reload(page: Page, live_server, in_app, clock, js_errors):
    base = live_server.url
    in_app(_booked_patient, clock)
    sign_in(page, base, f"offline-booked@{demo.DOMAIN}", PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    wait_for_sw_control(page)
    page.reload()  # Today through the worker, which then keeps the checklist too
    _wait_for_kept_pages(page, ["/patient/today", "/patient/checklist"])

    page.context.set_offline(True)
    page.goto(f"{base}/patient/checklist")
    tick = page.locator("#item-no-lotions button.tick")
    expect(tick).to_have_attribute("aria-pressed", "false")
    tick.click()
    expect(tick).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(tick).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#item-no-lotions")).to_contain_text("Saved on this phone")
    # Tapped again offline after the reload: the queue now wants "not done".
    tick.click()
    expect(tick).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(tick).to_have_attribute("aria-pressed", "false")
    tick.click()
    page.reload()
    expect(tick).to_have_attribute("aria-pressed", "true")

    page.context.set_offline(False)
    wait_for_js(page, QUEUE + " === 0 || null", timeout=15_000)
    assert in_app(_checklist_ticks) == ["no-lotions"]
    assert js_errors == []


def test_an_offline_tick_of_another_day_does_not_replace_the_first(
    page: Page, live_server, in_app, clock, js_errors
):
    """Offline past midnight: the same task ticked on two days is two entries. A later
    tick replaced any earlier one of the same task, so yesterday's tick was lost."""
    base = live_server.url
    in_app(_demo_patient_day1, clock)
    sign_in(page, base, f"offline-em@{demo.DOMAIN}", PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    wait_for_sw_control(page)
    page.reload()
    _wait_for_kept_pages(page, ["/patient/today"])

    page.context.set_offline(True)
    page.reload()
    tick = page.locator("#task-walks button.tick")
    tick.click()
    expect(tick).to_have_attribute("aria-pressed", "true")
    assert wait_for_js(page, QUEUE) == 1
    # The next day's Today, still offline (its form says day 2): ticked again.
    page.evaluate(
        """() => { const f = document.querySelector('#task-walks form');
        f.querySelector('input[name=day]').value = '2';
        f.querySelector('input[name=done]').value = '1'; }"""
    )
    tick.click()
    days = """() => JSON.parse(localStorage.getItem('sc-queue-' +
        document.querySelector('meta[name=sc-user]').content) || '[]')
        .map(i => new URLSearchParams(i.body))
        .map(b => b.get('day') + '=' + b.get('done'))"""
    assert page.evaluate(days) == ["1=1", "2=1"]
    # Untick day 2: only day 2's entry changes.
    tick.click()
    assert page.evaluate(days) == ["1=1", "2=0"]
