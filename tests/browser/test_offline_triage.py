"""Red flags offline (issue 14 point 5), in Chromium.

1. One source of truth: the check-in page carries the rule table the server builds
   from the protocol (``offline_rules``), and the page's own script (triage.js) decides
   with it. For every shipped protocol, every red flag on every day 0-30 (and the far
   window edges), every answer rule, and 150 mixed answer sets, the page's decision
   equals the server's ``triage()``, reasons and their order included.
2. Offline, "yes" to the chest question and Send: the full-screen emergency page with
   the tel: call button shows at once, the check-in waits on the phone, and it is sent
   once (one check-in, one alert) when the phone is back online.
"""

from __future__ import annotations

import json
import random
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page
from playwright.sync_api import expect

from app.domain.checkin import BRUISING
from app.domain.checkin import SKIN_CHANGES
from app.domain.checkin import check_answers
from app.domain.checkin import questions_for_day
from app.domain.checkin import triage
from app.domain.offsets import local_date
from app.domain.protocol import parse_protocol
from app.extensions import db
from app.models import Alert
from app.models import CheckIn
from app.models import Clinic
from app.models import ProtocolVersion
from app.models import Treatment
from app.services import demo
from tests.browser.conftest import wait_for_js
from tests.browser.conftest import wait_for_sw_control
from tests.browser.test_offline_journey import _wait_for_kept_pages
from tests.browser.test_triage_browser import sign_in
from tests.conftest import PASSWORD
from tests.conftest import make_patient

pytestmark = pytest.mark.browser

SHIPPED = ("compression-24h", "compression-72h", "compression-none")
DAYS = [*range(31), 179, 180, 181]


def _patient(key: str, email: str, tz: str, at: time, clock):
    """A demo-clinic patient on day 0 of ``key``; returns (protocol, anchor, zone)."""
    clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
    patient = make_patient(clinic, email, day=0, key=key, tz=tz, at=at, now=clock())
    t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == patient.id))
    text = db.session.scalar(
        sa.select(ProtocolVersion.source_text).where(ProtocolVersion.id == t.protocol_version_id)
    )
    return parse_protocol(text, key, stored=True), t.anchor, ZoneInfo(tz)


def _server_decisions(protocol, anchor, zone) -> list[dict]:
    """Every case and the server's decision: each red flag answered "yes" on each day
    (a flag not asked that day cannot be answered, so the server sees no "yes"), and
    each answer rule's answers on day 5."""
    base = local_date(anchor, zone)

    def case(day: int, yes: set, **answers) -> dict:
        asked = questions_for_day(protocol, anchor, zone, base + timedelta(days=day))
        values = (
            dict(pain=0, bruising="none", itching=False, lumps=False, skin=[], walked=True)
            | answers
        )
        checked = check_answers(
            **values,
            stockings_day=None,
            stockings_night=None,
            elevated=None,
            note="",
            red_flags={f.key: ("yes" if f.key in yes else "no") for f in asked},
            asked=asked,
        )
        decision = triage(checked, asked, protocol.answer_rules)
        page_answers = {k: values[k] for k in ("pain", "bruising", "itching", "lumps", "skin")}
        return {
            "answers": {**page_answers, "day": day, "red_flags": sorted(yes)},
            "asked_yes": sorted(yes),
            "level": decision.level,
            "reasons": list(decision.reasons),
        }

    cases = []
    for day in DAYS:
        for flag in protocol.red_flags:
            asked_today = questions_for_day(protocol, anchor, zone, base + timedelta(days=day))
            yes = {flag.key} if flag in asked_today else set()
            c = case(day, yes)
            c["answers"]["red_flags"] = [flag.key]  # the page is told "yes" regardless
            cases.append(c)
    for pain in range(11):
        cases.append(case(5, set(), pain=pain))
    for choice in SKIN_CHANGES:
        cases.append(case(5, set(), skin=[choice]))
    cases.append(case(5, set(), skin=sorted(SKIN_CHANGES)))
    for bruising in BRUISING:
        cases.append(case(5, set(), bruising=bruising))
    cases.append(case(5, set(), lumps=True, itching=True, bruising="severe", pain=9))
    # Mixed answers: several warning signs, skin changes and the rest at once, so the
    # order of the reasons and the highest tier are compared too.
    rng = random.Random(14)
    for _ in range(150):
        day = rng.choice(DAYS)
        asked = questions_for_day(protocol, anchor, zone, base + timedelta(days=day))
        yes = {f.key for f in asked if rng.random() < 0.3}
        cases.append(
            case(
                day,
                yes,
                pain=rng.randint(0, 10),
                bruising=rng.choice(BRUISING),
                skin=rng.sample(sorted(SKIN_CHANGES), rng.randint(0, 3)),
                lumps=rng.random() < 0.3,
                itching=rng.random() < 0.3,
            )
        )
    return cases


@pytest.mark.parametrize(
    ("tz", "at"),
    [("Europe/London", time(10, 0)), ("America/New_York", time(23, 30))],
)
def test_page_and_server_triage_agree_on_every_rule_of_every_shipped_protocol(
    page: Page, app, clock, live_server, in_app, tz, at, js_errors
):
    base = live_server.url
    for n, key in enumerate(SHIPPED):
        email = f"agree{n}-{tz[:2].lower()}@{demo.DOMAIN}"
        protocol, anchor, zone = in_app(_patient, key, email, tz, at, clock)
        cases = _server_decisions(protocol, anchor, zone)
        sign_in(page, base, email, PASSWORD, clock())
        page.goto(f"{base}/patient/checkin")
        table = json.loads(page.locator("#triage-rules").text_content())
        # The table names every red flag of the protocol, with its tier.
        assert [(f["key"], f["tier"]) for f in table["red_flags"]] == [
            (f.key, f.tier) for f in protocol.red_flags
        ]
        got = page.evaluate(
            """(cases) => {
                const table = JSON.parse(document.getElementById('triage-rules').textContent);
                return cases.map((c) => window.scTriage.evaluate(table, c.answers));
            }""",
            cases,
        )
        assert len(got) == len(cases) > 400
        for c, g in zip(cases, got, strict=True):
            assert (g["level"], g["reasons"]) == (c["level"], c["reasons"]), (key, c)
        # Every emergency flag is an emergency on its own window's days, and only there.
        emergencies = [c for c in cases if c["level"] == "emergency" and len(c["asked_yes"]) == 1]
        assert {c["asked_yes"][0] for c in emergencies} == {
            f.key for f in protocol.red_flags if f.tier == "emergency"
        }
        page.context.clear_cookies()
    assert js_errors == []


def _demo_patient_day1(clock) -> int:
    clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
    return make_patient(
        clinic, f"offline-em@{demo.DOMAIN}", day=1, now=clock(), name="Olive Offline"
    ).id


def _stored(patient_id: int):
    checkins = db.session.scalars(sa.select(CheckIn).where(CheckIn.patient_id == patient_id))
    alerts = db.session.scalars(sa.select(Alert).where(Alert.patient_id == patient_id))
    return [(c.day, c.level) for c in checkins], [a.level for a in alerts]


def _check_in_offline(page: Page, base: str, clock, in_app, yes: str) -> int:
    """Sign the day-1 patient in, let the phone keep Today and the check-in, go offline
    and send the check-in with "yes" to the one warning sign whose question contains
    ``yes``. Returns the patient's id."""
    patient_id = in_app(_demo_patient_day1, clock)
    sign_in(page, base, f"offline-em@{demo.DOMAIN}", PASSWORD, clock())
    expect(page).to_have_url(f"{base}/patient/today")
    wait_for_sw_control(page)
    page.reload()  # through the service worker, which keeps the check-in page
    _wait_for_kept_pages(page, ["/patient/today", "/patient/checkin"])

    # Offline, as the patient would be: Today from the phone's copy, then the check-in.
    page.context.set_offline(True)
    page.reload()
    expect(page.locator("#sc-status")).to_contain_text("Offline copy, last updated")
    page.goto(f"{base}/patient/checkin")
    expect(page.get_by_role("heading", level=1)).to_have_text("How are you today?")
    for group in page.locator("section.warning-questions fieldset").all():
        answer = "Yes" if yes in group.locator("legend").inner_text() else "No"
        group.get_by_role("radio", name=answer, exact=True).check()
    page.locator('input[name="pain"][value="2"]').check(force=True)
    page.get_by_label("A little").check()
    page.get_by_label("No skin changes").check()
    page.get_by_role("button", name="Send check-in").click()
    return patient_id


def test_offline_yes_to_chest_pain_shows_the_emergency_screen_and_is_sent_once(
    page: Page, app, clock, live_server, in_app, artifacts, js_errors
):
    base = live_server.url
    patient_id = _check_in_offline(page, base, clock, in_app, yes="Chest pain")

    # At once, still offline: the emergency screen, call button first, nothing above it.
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Call 999 now")
    screen = page.get_by_role("alert").filter(has_text="Call 999 now")
    call = screen.get_by_role("link", name="Call 999")
    expect(call).to_have_attribute("href", "tel:999")
    expect(screen).to_contain_text("Chest pain, sudden breathlessness")
    expect(page.locator("header, nav, a.skip, form.checkin-form")).to_have_count(0)
    box = screen.bounding_box()
    assert box["x"] == 0 and box["y"] == 0 and box["height"] >= 844, box
    assert heading.bounding_box()["y"] < call.bounding_box()["y"] < 844
    page.keyboard.press("Tab")
    expect(call).to_be_focused()
    page.screenshot(path=str(artifacts / "offline-emergency.png"))
    queued = page.evaluate(
        "() => JSON.parse(localStorage.getItem('sc-queue-' + "
        "document.querySelector('meta[name=sc-user]').content) || '[]').length"
    )
    assert queued == 1
    assert in_app(_stored, patient_id) == ([], [])

    # Back online: sent once; the server's own emergency page replaces the phone's.
    page.context.set_offline(False)
    expect(page.get_by_role("link", name="Back to Today")).to_be_visible(timeout=15_000)
    wait_for_js(
        page,
        "() => (localStorage.getItem('sc-queue-' + "
        "document.querySelector('meta[name=sc-user]').content) || '[]') === '[]'",
        timeout=15_000,
    )
    expect(page.get_by_role("heading", level=1)).to_have_text("Call 999 now")
    assert in_app(_stored, patient_id) == ([(1, "emergency")], ["emergency"])
    page.reload()
    assert in_app(_stored, patient_id) == ([(1, "emergency")], ["emergency"])
    assert js_errors == []


def test_offline_a_same_day_answer_shows_whom_to_call_and_is_sent_once(
    page: Page, app, clock, live_server, in_app, js_errors
):
    """Offline, "yes" to signs of infection: the page offers the clinic and the
    out-of-hours line at once (it cannot know the clinic is open), keeps the header,
    and the check-in is sent once when back online."""
    base = live_server.url
    patient_id = _check_in_offline(page, base, clock, in_app, yes="Spreading redness")

    advice = page.get_by_role("alert").filter(has_text="Please get advice today")
    expect(advice).to_contain_text("Spreading redness")
    calls = advice.locator('a[href^="tel:"]')
    expect(calls).not_to_have_count(0)
    expect(page.locator("nav.tabs")).to_be_visible()
    assert advice.bounding_box()["y"] < 844
    assert in_app(_stored, patient_id) == ([], [])

    page.context.set_offline(False)
    wait_for_js(
        page,
        "() => (localStorage.getItem('sc-queue-' + "
        "document.querySelector('meta[name=sc-user]').content) || '[]') === '[]'",
        timeout=15_000,
    )
    assert in_app(_stored, patient_id) == ([(1, "same_day")], ["same_day"])
    assert js_errors == []
