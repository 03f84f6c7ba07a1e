"""The emergency check-in result is a full-screen page: the emergency number and the
call button come first in the document, before any header or tabs (here: none at all),
with a way back to Today below the call button. Same-day results keep the usual page."""

from __future__ import annotations

import re

from app.extensions import db
from app.models import Clinic
from tests.conftest import login
from tests.web.test_checkin import form

NAV = ('<nav class="tabs"', '<header class="top"', 'class="skip"', 'class="signout"')


def body_of(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index("<body") :]


def test_emergency_result_puts_the_number_and_call_button_first(client, world):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    assert r.status_code == 200
    body = body_of(r)
    # The section is the first thing in <main>, and <main> the first thing in <body>.
    first = re.match(r'<body class="full-screen">\s*<main id="main"[^>]*>\s*<section', body)
    assert first, body[:300]
    section = body[body.index("<section") : body.index("</section>")]
    assert 'class="emergency emergency-screen"' in section and 'role="alert"' in section
    heading = re.search(r'<h1 id="em-title">(.*?)</h1>', section)
    assert heading and heading.group(1) == "Call 999 now"
    # Heading, then straight away the call button, before any other text or link.
    call = re.match(
        r'\s*<a class="[^"]*\bcall\b[^"]*" href="tel:999">Call 999</a>', section[heading.end() :]
    )
    assert call, section[heading.end() : heading.end() + 200]
    assert section.index('href="tel:999"') < section.index("Back to Today")
    assert 'href="/patient/today"' in section
    # No header, tabs, skip link or sign-out form anywhere on this page.
    for marker in NAV:
        assert marker not in body, marker
    assert body.count("Back to Today") == 1


def test_emergency_number_is_the_clinics_own(client, world, in_app):
    def set_112():
        clinic = db.session.get(Clinic, world.clinic1)
        clinic.emergency_number = "112"
        db.session.commit()

    in_app(set_112)
    login(client, "alice@patients.example")
    body = body_of(client.post("/patient/checkin", data=form(yes={"chest-breathing"})))
    section = body[body.index("<section") : body.index("</section>")]
    assert '<h1 id="em-title">Call 112 now</h1>' in section and 'href="tel:112"' in section
    assert "999" not in section


def test_same_day_and_expected_results_keep_the_header_and_tabs(client, world):
    login(client, "alice@patients.example")
    for answers in (form(yes={"calf-pain-swelling"}), form()):
        body = body_of(client.post("/patient/checkin", data=answers))
        assert body.startswith("<body>"), body[:80]
        for marker in NAV:
            assert marker in body, marker
        assert body.index('<nav class="tabs"') < body.index("<h1")
        assert body.count("Back to Today") == 1
        assert "emergency-screen" not in body


def test_the_browser_bar_turns_emergency_red_only_on_the_emergency_page(client, world):
    # The phone's status bar takes the page's theme colour: brand blue would frame the
    # red emergency screen in calm blue.
    login(client, "alice@patients.example")
    emergency = client.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    assert '<meta name="theme-color" content="#a4161a">' in emergency.get_data(as_text=True)
    same_day = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    assert '<meta name="theme-color" content="#1d4e89">' in same_day.get_data(as_text=True)
