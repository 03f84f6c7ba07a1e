"""The calendar link's life (issue 20 point 3): made once per tap however often the page
that shows it is reloaded (POST/redirect/GET), never served over plain http on an https
site, and, once stopped, replaced or closed, an empty calendar for a while (so a
subscribed calendar drops the old appointments), then 404. Feeds are parsed back with
``icalendar``.
"""

from __future__ import annotations

import sqlalchemy as sa
from icalendar import Calendar
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import db
from app.models import AuditEvent
from app.models import CalendarLink
from app.models import User
from app.services.clinic.closure_steps import Account
from app.services.clinic.closure_steps import remove_at_closure
from tests.conftest import login
from tests.conftest import scalar
from tests.web.test_calendar import ALICE
from tests.web.test_calendar import FEED
from tests.web.test_calendar import HEALTH_WORDS
from tests.web.test_calendar import _anon
from tests.web.test_calendar import _events
from tests.web.test_calendar import _new_link


def _link_rows(in_app) -> int:
    return in_app(lambda: scalar(sa.select(sa.func.count()).select_from(CalendarLink)))


def _made(in_app) -> int:
    return in_app(
        lambda: scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "calendar link", AuditEvent.detail.like("new link%"))
        )
    )


def test_reloading_the_link_page_makes_no_other_link(client, world, in_app):
    login(client, ALICE)
    r = client.post("/patient/calendar/link", follow_redirects=True)
    assert r.status_code == 200 and FEED.search(r.get_data(as_text=True))
    first = client.get("/patient/calendar/link")  # a reload
    second = client.get("/patient/calendar/link")
    for again in (first, second):
        assert again.status_code == 303
        assert again.headers["Location"].endswith("/patient/reminders#calendar-title")
        assert not FEED.search(again.get_data(as_text=True))
    assert _link_rows(in_app) == 1 and _made(in_app) == 1


def test_a_link_stopped_before_its_page_opened_is_not_shown(client, world, in_app):
    login(client, ALICE)
    r = client.post("/patient/calendar/link")
    assert r.status_code == 303
    assert client.post("/patient/calendar/stop").status_code == 303
    shown = client.get(r.headers["Location"])
    assert shown.status_code == 303 and not FEED.search(shown.get_data(as_text=True))


def test_an_https_site_offers_https_and_refuses_the_feed_over_http(client, world, app):
    app.config["SCLERO_BASE_URL"] = "https://localhost"
    login(client, ALICE)
    r = client.post("/patient/calendar/link", follow_redirects=True)
    html = r.get_data(as_text=True)
    copy = html.split('id="calendar-link"', 1)[1].split(">", 1)[1].split("<", 1)[0]
    assert copy.startswith("https://localhost/patient/calendar/feed/")
    path = "/" + copy.split("://", 1)[1].split("/", 1)[1]
    app.config["SESSION_COOKIE_SECURE"] = True  # production: the site is https
    anon = _anon(client)
    plain = anon.get(path)
    assert plain.status_code == 403 and b"BEGIN:VCALENDAR" not in plain.data
    secure = anon.get(path, base_url="https://localhost")
    assert secure.status_code == 200 and len(_events(secure.data)) >= 2


def _is_empty_calendar(body: bytes) -> None:
    cal = Calendar.from_ical(body)
    assert cal.walk("VEVENT") == []
    assert "X-WR-CALNAME" not in cal and "X-WR-TIMEZONE" not in cal
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["UTC"]
    assert str(cal["METHOD"]) == "PUBLISH" and "REFRESH-INTERVAL" in cal
    # PRODID names the app ("ScleroCare"), as in every file; nothing else may.
    text = "\n".join(
        line for line in body.decode().lower().splitlines() if not line.startswith("prodid")
    )
    assert not any(word in text for word in HEALTH_WORDS)
    assert "europe/" not in text and "alice" not in text


def test_a_stopped_link_empties_the_calendar_for_30_days_then_404(client, world, clock):
    login(client, ALICE)
    path, _ = _new_link(client)
    assert len(_events(_anon(client).get(path).data)) >= 2
    client.post("/patient/calendar/stop")
    clock.advance(days=29, hours=23)
    r = _anon(client).get(path)
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    assert r.headers["Cache-Control"] == "no-store, private"
    _is_empty_calendar(r.data)
    clock.advance(hours=2)
    assert _anon(client).get(path).status_code == 404


def test_a_replaced_link_empties_and_the_new_one_has_the_events(client, world, clock):
    login(client, ALICE)
    old, _ = _new_link(client)
    new, _ = _new_link(client)
    _is_empty_calendar(_anon(client).get(old).data)
    assert len(_events(_anon(client).get(new).data)) >= 2
    clock.advance(days=31)
    assert _anon(client).get(old).status_code == 404
    assert _anon(client).get(new).status_code == 200


def test_closure_empties_the_calendar_too(client, world, in_app):
    login(client, ALICE)
    path, _ = _new_link(client)

    def close():
        user = db.session.scalar(sa.select(User).where(User.email == ALICE))
        remove_at_closure(Account(user.id, world.patient_a))
        user.is_active = False
        db.session.commit()

    in_app(close)
    _is_empty_calendar(_anon(client).get(path).data)


def test_a_token_never_issued_is_still_404(client, world):
    assert _anon(client).get("/patient/calendar/feed/" + "x" * 43 + ".ics").status_code == 404


def test_behind_the_proxy_its_forwarded_scheme_decides(client, world, app):
    login(client, ALICE)
    path, _ = _new_link(client)
    app.config["SESSION_COOKIE_SECURE"] = True
    # As app.web.install_hosts_and_proxies sets up for SCLERO_PROXY_COUNT=1.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)
    anon = _anon(client)
    assert anon.get(path, headers={"X-Forwarded-Proto": "http"}).status_code == 403
    fine = anon.get(path, headers={"X-Forwarded-Proto": "https"})
    assert fine.status_code == 200 and len(_events(fine.data)) >= 2


def test_discharge_empties_the_calendar_for_30_days_then_404(client, world, in_app, clock):
    # Discharge keeps the link row (the patient may still stop it) but the feed stopped:
    # on a 404 the phone kept the course's appointments, those no longer coming too.
    from app.models import Patient

    login(client, ALICE)
    path, _ = _new_link(client)
    assert len(_events(_anon(client).get(path).data)) >= 2

    def discharge():
        db.session.get(Patient, world.patient_a).discharged_at = clock()
        db.session.commit()

    in_app(discharge)
    clock.advance(days=29, hours=23)
    r = _anon(client).get(path)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store, private"
    _is_empty_calendar(r.data)
    clock.advance(hours=2)
    assert _anon(client).get(path).status_code == 404


def test_a_link_never_shown_does_not_outlive_sign_out_in_the_cookie(client, world):
    # The redirect's GET never came (the app was closed, the network dropped): the token
    # sat in the signed but readable session cookie past sign-out.
    login(client, ALICE)
    made = client.post("/patient/calendar/link")
    assert made.status_code == 303
    with client.session_transaction() as sess:
        assert "calendar_link_reveal" in sess
    client.post("/logout")
    with client.session_transaction() as sess:
        assert "calendar_link_reveal" not in sess
