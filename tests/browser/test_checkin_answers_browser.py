"""The check-in in Chromium at phone size: only what the patient chose is ever checked
(issue 14 point 1).

Send with nothing answered: the error summary has the focus and links to each
question, and no radio is checked. Then answer one question at a time, sending after
each: every page shows exactly the answers chosen so far. Once accepted, "Change today's
answers" shows exactly what was last sent, and the stored answers hold None for every
optional question left out. CSRF is on, as in production.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.extensions import db
from app.models import CheckIn
from app.services import demo
from tests.browser.test_triage_browser import demo_patient
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CHECKED = """() => Array.from(document.querySelectorAll('form.checkin-form input:checked'))
    .map(i => i.name + '=' + i.value).sort()"""


def checked(page: Page) -> list[str]:
    return page.evaluate(CHECKED)


def send(page: Page) -> None:
    page.get_by_role("button", name="Send check-in").click()


def test_answers_are_never_invented_from_nothing_to_accepted_and_in_the_edit_form(
    page: Page, app, clock, live_server, artifacts, js_errors
):
    base = live_server.url
    demo_patient(app, clock, f"nina@{demo.DOMAIN}", "Nina Nothing", day=3)
    sign_in(page, base, f"nina@{demo.DOMAIN}", PASSWORD, clock())
    page.goto(f"{base}/patient/checkin")
    questions = page.locator("section.warning-questions fieldset")
    names = [q.locator("input").first.get_attribute("name") for q in questions.all()]
    assert len(names) >= 3, names

    assert checked(page) == []  # a new check-in: nothing chosen for the patient
    send(page)
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("There is a problem")
    links = summary.get_by_role("link")
    expect(links).to_have_count(len(names) + 3)  # each warning sign, pain, bruising, skin
    assert checked(page) == []
    # A link in the summary takes the patient to its question.
    links.first.click()
    expect(page.locator(f"input[id='{names[0]}']")).to_be_focused()
    page.screenshot(path=str(artifacts / "checkin-nothing-answered.png"), full_page=True)
    # Readable at 320 px: the error page does not scroll sideways.
    page.set_viewport_size({"width": 320, "height": 700})
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.set_viewport_size({"width": 390, "height": 844})

    chosen: list[str] = []
    # Day and night stockings are one question here (issue 19 point 3).
    steps = [(name, "No") for name in names] + [("stockings", "In the day only"), ("pain", "2")]
    for name, label in steps:
        group = page.locator(f"fieldset:has(input[name='{name}'])")
        group.get_by_role("radio", name=label, exact=True).check()
        chosen.append(f"{name}={'day' if name == 'stockings' else label.lower()}")
        send(page)
        expect(page.locator("#error-summary")).to_be_focused()
        assert checked(page) == sorted(chosen), name
    page.get_by_role("group", name="Bruising").get_by_role("radio", name="None").check()
    chosen.append("bruising=none")
    send(page)
    expect(page.locator("#error-summary")).to_be_focused()  # the skin list: no answer yet
    assert checked(page) == sorted(chosen)
    page.get_by_label("No skin changes").check()
    chosen.append("skin=none")
    send(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, your check-in is sent")
    expect(page.locator("#not-answered")).to_contain_text("Not answered: Tender lumps, Itching")

    page.goto(f"{base}/patient/checkin")
    assert checked(page) == sorted(chosen)
    with app.app_context():
        answers = db.session.scalar(sa.select(CheckIn.answers))
    assert (answers["stockings_day"], answers["stockings_night"]) == (True, False)
    assert [answers[k] for k in ("lumps", "itching", "walked")] == [None, None, None]
    assert answers["red_flags"] == [] and len(answers["red_flags_no"]) == len(names)
    assert not js_errors, js_errors


def test_a_refused_check_in_sent_from_the_offline_queue_comes_back_as_the_form(
    page: Page, app, clock, live_server, js_errors
):
    """Offline, a check-in with a "yes" to a warning sign is kept on the phone at once,
    even with other answers missing (urgent advice must not wait); back online the
    server refuses it (400), and the form with the answers and the problems is shown
    rather than the queued check-in silently dropped."""
    base = live_server.url
    demo_patient(app, clock, f"olga@{demo.DOMAIN}", "Olga Offline", day=3)
    sign_in(page, base, f"olga@{demo.DOMAIN}", PASSWORD, clock())
    page.goto(f"{base}/patient/checkin")
    page.locator("fieldset:has(input[name='rf-infection'])").get_by_role(
        "radio", name="Yes", exact=True
    ).check()
    page.get_by_role("group", name=re.compile(r"^Pain where")).get_by_role(
        "radio", name="4", exact=True
    ).check()
    page.locator("#note").fill("written offline")
    page.context.set_offline(True)
    send(page)
    expect(page.locator("#sc-status")).to_contain_text("Saved on this phone")
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#note")).to_have_value("written offline")
    assert checked(page) == ["pain=4", "rf-infection=yes"]
    assert not js_errors, js_errors


def test_offline_a_missing_answer_is_pointed_out_before_the_check_in_is_kept(
    page: Page, app, clock, live_server, js_errors
):
    """Offline there is no server to answer, so the page itself lists what is missing,
    keeps nothing yet, and then keeps the check-in once it is complete."""
    base = live_server.url
    demo_patient(app, clock, f"pia@{demo.DOMAIN}", "Pia Phone", day=3)
    sign_in(page, base, f"pia@{demo.DOMAIN}", PASSWORD, clock())
    page.goto(f"{base}/patient/checkin")
    names = [
        q.locator("input").first.get_attribute("name")
        for q in page.locator("section.warning-questions fieldset").all()
    ]
    page.context.set_offline(True)
    page.get_by_role("group", name="Bruising").get_by_role("radio", name="None").check()
    send(page)
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(len(names) + 2)  # + pain, skin
    queued = """() => JSON.parse(localStorage.getItem(
        'sc-queue-' + document.querySelector('meta[name=sc-user]').content) || '[]').length"""
    assert page.evaluate(queued) == 0
    assert checked(page) == ["bruising=none"]
    for name in names:
        page.locator(f"fieldset:has(input[name='{name}'])").get_by_role(
            "radio", name="No", exact=True
        ).check()
    page.get_by_role("group", name=re.compile(r"^Pain where")).get_by_role(
        "radio", name="1", exact=True
    ).check()
    page.get_by_label("No skin changes").check()
    send(page)
    expect(page.locator("#sc-status")).to_contain_text("Saved on this phone")
    assert page.evaluate(queued) == 1
    assert not js_errors, js_errors
