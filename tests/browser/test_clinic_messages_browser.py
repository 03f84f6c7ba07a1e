"""A clinic comment on Today, as a patient's phone shows it (issue 19 point 3): the card
is at the top, opens the diary, and is gone once read; "Got it" pressed offline is kept
on the phone and sent once back online."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import Comment
from app.models import Patient
from app.services import demo
from tests.browser.conftest import PHONE
from tests.browser.conftest import wait_for_js
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_offline_journey import _wait_for_kept_pages
from tests.browser.test_offline_triage import _demo_patient_day1
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CARD = "A message from your clinic"


def _comment(patient_id: int, body: str, at) -> None:  # noqa: ANN001
    """A comment as the clinic's page writes it (the page itself: tests/web)."""
    db.session.add(Comment(patient_id=patient_id, author_name="Dr Demo", body=body, created_at=at))
    db.session.commit()


def _seen_at(patient_id: int):
    return db.session.scalar(sa.select(Patient.messages_seen_at).where(Patient.id == patient_id))


def test_a_comment_on_today_opens_the_diary(
    page: Page, app, clock, live_server, in_app, artifacts, js_errors
):
    base = live_server.url
    patient_id = in_app(_demo_patient_day1, clock)
    in_app(_comment, patient_id, "Your scan is on Monday at 10:00. See you then.", clock())
    sign_in(page, base, f"offline-em@{demo.DOMAIN}", PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    card = page.get_by_role("region", name=CARD)
    expect(card).to_be_visible()
    expect(card).to_contain_text("Dr Demo")
    expect(card.locator("blockquote")).to_have_text(
        "Your scan is on Monday at 10:00. See you then."
    )
    # Near the top: above the check-in and the day's tasks, within the first screen.
    assert card.bounding_box()["y"] < page.locator("#tasks-title").bounding_box()["y"]
    assert card.bounding_box()["y"] < PHONE["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(artifacts / "today-clinic-message-390.png"), full_page=True)

    card.get_by_role("button", name="Read it in your diary").click()
    expect(page).to_have_url(f"{base}/patient/diary#comments-title")
    expect(page.locator("main")).to_contain_text("Your scan is on Monday at 10:00.")
    page.goto(f"{base}/patient/today")
    expect(page.get_by_role("region", name=CARD)).to_have_count(0)
    assert js_errors == []


def test_got_it_offline_is_sent_once_online(page: Page, app, clock, live_server, in_app, js_errors):
    base = live_server.url
    patient_id = in_app(_demo_patient_day1, clock)
    in_app(_comment, patient_id, "Remember your stockings tonight.", clock())
    sign_in(page, base, f"offline-em@{demo.DOMAIN}", PASSWORD, clock())
    wait_for_sw_control(page)
    page.reload()
    _wait_for_kept_pages(page, ["/patient/today"])

    page.context.set_offline(True)
    page.reload()
    card = page.locator("#clinic-messages")
    expect(card).to_be_visible()
    card.get_by_role("button", name="Got it").click()
    expect(card).to_be_hidden()
    expect(page.locator("#sc-status")).to_contain_text("Saved on this phone")
    assert in_app(_seen_at, patient_id) is None

    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.context.set_offline(False)
    wait_for_js(page, "() => document.getElementById('sc-status').textContent.includes('Sent')")
    assert in_app(_seen_at, patient_id) is not None
    assert posts == [f"{base}/patient/messages/seen"]
    page.goto(f"{base}/patient/today")
    expect(page.locator("#clinic-messages")).to_have_count(0)
    assert js_errors == []


def test_opening_the_diary_tab_clears_the_card(
    page: Page, app, clock, live_server, in_app, js_errors
):
    """Task D point 2: the Diary tab itself (not the card's button) reads the messages."""
    base = live_server.url
    patient_id = in_app(_demo_patient_day1, clock)
    in_app(_comment, patient_id, "Your scan is on Monday at 10:00.", clock())
    sign_in(page, base, f"offline-em@{demo.DOMAIN}", PASSWORD, clock())
    expect(page.get_by_role("region", name=CARD)).to_be_visible()
    with page.expect_response(f"{base}/patient/messages/seen") as seen:
        page.locator("nav").get_by_role("link", name="Diary").click()
    assert seen.value.status == 204
    expect(page.locator("main")).to_contain_text("Your scan is on Monday at 10:00.")
    assert in_app(_seen_at, patient_id) is not None
    page.goto(f"{base}/patient/today")
    expect(page.get_by_role("region", name=CARD)).to_have_count(0)
    assert js_errors == []
