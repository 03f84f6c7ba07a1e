"""The patient's calendar (issue 20 points 3 and 5): the download, the subscription link
as a calendar app uses it (no cookie), a moved session updating in place, and every
way the link stops: a new link, "Stop the link", discharge, a closed account."""

from __future__ import annotations

import re
import threading
from datetime import datetime

import pytest
import sqlalchemy as sa
from icalendar import Calendar

from app.extensions import db
from app.models import AuditEvent
from app.models import CalendarEventRevision
from app.models import CalendarLink
from app.models import Patient
from app.models import Treatment
from app.models import User
from app.services.ical import feed
from app.services.ical import links
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import scalar
from tests.conftest import text_of

ALICE = "alice@patients.example"  # clinic 1, day 3 after treatment
BOB = "bob@patients.example"  # clinic 1, booked tomorrow
FEED = re.compile(r"http://localhost(/patient/calendar/feed/[A-Za-z0-9_-]+\.ics)")
HEALTH_WORDS = ("vein", "scler", "stocking", "leg", "inject", "foam", "bruis", "polidocanol")


def _new_link(client) -> tuple[str, str]:
    """Ask for a new link; the feed's path and the page's text."""
    r = client.post("/patient/calendar/link")
    assert r.status_code == 303 and r.headers["Location"] == "/patient/calendar/link"
    r = client.get(r.headers["Location"])
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store, private"
    html = r.get_data(as_text=True)
    return FEED.search(html).group(1), html


def _anon(client):
    return client.application.test_client()


def _events(body: bytes) -> list:
    return Calendar.from_ical(body).walk("VEVENT")


def test_the_download_is_the_patients_calendar_and_never_cached(client, world):
    login(client, ALICE)
    r = client.get("/patient/calendar.ics")
    assert r.status_code == 200
    assert r.mimetype == "text/calendar"
    assert r.headers["Cache-Control"] == "no-store, private"
    assert "attachment" in r.headers["Content-Disposition"]
    events = _events(r.data)
    kinds = sorted({str(e["SUMMARY"]) for e in events})
    assert kinds == ["Aftercare", "Clinic appointment"]
    # Timed events in the patient's zone; "day N" milestones are whole days (dates).
    timed = [e for e in events if isinstance(e.decoded("DTSTART"), datetime)]
    assert timed and all(e["DTSTART"].params["TZID"] == "Europe/London" for e in timed)
    assert len(timed) < len(events)


def test_nothing_in_the_file_names_the_treatment(client, world):
    login(client, ALICE)
    body = client.get("/patient/calendar.ics").data
    for event in _events(body):
        for field in ("SUMMARY", "DESCRIPTION", "UID", "URL"):
            # The app's own name and address may appear (where to open it); nothing else.
            text = str(event[field]).lower().replace("scleroCare".lower(), "")
            assert not [w for w in HEALTH_WORDS if w in text], text
    unfolded = body.decode().replace("\r\n ", "").lower()
    assert "left calf" not in unfolded and "polidocanol" not in unfolded


def test_the_reminders_page_offers_download_and_subscribe(client, world):
    login(client, ALICE)
    text = text_of(client.get("/patient/reminders"))
    assert "Your calendar" in text and "Download (.ics)" in text and "Subscribe" in text
    assert "Stop the link" not in text


def test_a_link_works_without_signing_in_and_is_stored_hashed(client, world, in_app):
    login(client, ALICE)
    path, html = _new_link(client)
    assert "webcal://localhost/patient/calendar/feed/" in html
    token = path.rsplit("/", 1)[1].removesuffix(".ics")
    stored = in_app(lambda: scalar(sa.select(CalendarLink.token_hash)))
    assert stored != token and token not in stored and len(stored) == 64
    r = _anon(client).get(path)
    assert r.status_code == 200 and r.mimetype == "text/calendar"
    assert r.headers["Cache-Control"] == "no-store, private"
    assert "Content-Disposition" not in r.headers
    assert len(_events(r.data)) >= 2
    text = text_of(client.get("/patient/reminders"))
    assert "Make a new link" in text and "Stop the link" in text


def test_a_new_link_stops_the_old_one_and_both_are_audited(client, world, in_app):
    login(client, ALICE)
    old, _ = _new_link(client)
    new, _ = _new_link(client)
    assert old != new
    anon = _anon(client)
    assert _events(anon.get(old).data) == []  # an empty calendar: see test_a_stopped_...
    assert len(_events(anon.get(new).data)) >= 2
    details = in_app(
        lambda: list(
            db.session.scalars(
                sa.select(AuditEvent.detail)
                .where(AuditEvent.action == "calendar link")
                .order_by(AuditEvent.id)
            )
        )
    )
    assert details == ["new link", "new link, the old one stopped"]


def test_stopping_the_link_empties_it_and_is_audited(client, world, in_app):
    login(client, ALICE)
    path, _ = _new_link(client)
    r = client.post("/patient/calendar/stop")
    assert r.status_code == 303
    assert "Your calendar link is stopped" in text_of(client.get(r.headers["Location"]))
    assert _events(_anon(client).get(path).data) == []
    assert in_app(lambda: scalar(sa.select(sa.func.count()).select_from(CalendarLink))) == 0
    stopped = in_app(
        lambda: scalar(sa.select(AuditEvent.detail).where(AuditEvent.detail == "link stopped"))
    )
    assert stopped == "link stopped"
    # Stopping again changes nothing and records nothing.
    assert client.post("/patient/calendar/stop").status_code == 303


def test_a_moved_session_keeps_its_uid_and_bumps_its_sequence(client, world, in_app, clock):
    login(client, BOB)
    path, _ = _new_link(client)
    anon = _anon(client)
    (before,) = _events(anon.get(path).data)
    assert int(before["SEQUENCE"]) == 0
    # The same file again while nothing changes: same bytes, same revision.
    assert anon.get(path).data == anon.get(path).data
    tid = in_app(
        lambda: scalar(sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b))
    )
    clock.advance(hours=1)
    login(client, "doc1@north.example")
    when = {"date-day": "23", "date-month": "11", "date-year": "2026", "time": "14:30"}
    assert client.post(f"/clinic/sessions/{tid}/reschedule", data=when).status_code == 303
    (after,) = _events(anon.get(path).data)
    assert str(after["UID"]) == str(before["UID"])
    assert int(after["SEQUENCE"]) == 1
    assert after.decoded("LAST-MODIFIED") > before.decoded("LAST-MODIFIED")
    assert after.decoded("DTSTAMP") == after.decoded("LAST-MODIFIED")
    start = after.decoded("DTSTART")
    assert (start.day, start.hour, start.minute) == (23, 14, 30)


def test_a_cancelled_session_is_cancelled_in_the_feed(client, world, in_app):
    login(client, BOB)
    path, _ = _new_link(client)
    (booked,) = _events(_anon(client).get(path).data)
    assert str(booked["STATUS"]) == "CONFIRMED"
    tid = in_app(
        lambda: scalar(sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b))
    )
    login(client, "doc1@north.example")
    assert client.post(f"/clinic/sessions/{tid}/cancel", data={"confirm": "yes"}).status_code == 303
    (event,) = _events(_anon(client).get(path).data)
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1


def test_a_session_cancelled_before_any_calendar_saw_it_is_left_out(client, world, in_app):
    tid = in_app(
        lambda: scalar(sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b))
    )
    login(client, "doc1@north.example")
    assert client.post(f"/clinic/sessions/{tid}/cancel", data={"confirm": "yes"}).status_code == 303
    login(client, BOB)
    assert _events(client.get("/patient/calendar.ics").data) == []


def test_discharge_stops_the_feed_and_stopping_stays_allowed(client, world, in_app, clock):
    login(client, ALICE)
    path, _ = _new_link(client)

    def discharge():
        db.session.get(Patient, world.patient_a).discharged_at = clock()
        db.session.commit()

    in_app(discharge)
    # No events any more (the calendar clears itself: test_calendar_link_lifecycle.py).
    feed = _anon(client).get(path)
    assert feed.status_code == 200 and _events(feed.data) == []
    # Read-only now: no new link, but the old one can still be stopped.
    assert client.post("/patient/calendar/link").status_code == 403
    text = text_of(client.get("/patient/reminders"))
    assert "Stop the link" in text and "Download (.ics)" not in text
    assert client.post("/patient/calendar/stop").status_code == 303


def test_a_closed_account_stops_the_feed(client, world, in_app):
    login(client, ALICE)
    path, _ = _new_link(client)

    def close():
        db.session.scalar(sa.select(User).where(User.email == ALICE)).is_active = False
        db.session.commit()

    in_app(close)
    assert _anon(client).get(path).status_code == 404


def test_a_link_of_another_patient_is_just_theirs(client, world):
    login(client, ALICE)
    alice_path, _ = _new_link(client)
    login(client, "cara@patients.example")
    cara_path, _ = _new_link(client)
    anon = _anon(client)
    alice = {str(e["UID"]) for e in _events(anon.get(alice_path).data)}
    cara = {str(e["UID"]) for e in _events(anon.get(cara_path).data)}
    assert alice and cara and not alice & cara


def test_staff_and_nobody_get_404(client, world):
    anon = _anon(client)
    assert anon.get("/patient/calendar.ics").status_code == 404
    for who in ("doc1@north.example", "doc2@south.example"):
        login(client, who)
        assert client.get("/patient/calendar.ics").status_code == 404
        assert client.post("/patient/calendar/link").status_code == 404
        assert client.post("/patient/calendar/stop").status_code == 404


BAD_TOKENS = ["x", "a" * 43, "a" * 500, "%00" * 30, "ü" * 43, "..%2F..%2Fetc%2Fpasswd" * 3]


def test_a_bad_or_unknown_token_is_404_never_500(client, world):
    anon = _anon(client)
    for token in BAD_TOKENS:
        r = anon.get(f"/patient/calendar/feed/{token}.ics")
        assert r.status_code == 404, token
        assert r.headers.get("Content-Type", "").startswith("text/html")


def test_the_feed_is_rate_limited_per_link(client, world, app):
    app.config["SCLERO_CALENDAR_LINK_LIMIT"] = "3 per hour"
    login(client, ALICE)
    alice, _ = _new_link(client)
    login(client, "cara@patients.example")
    cara, _ = _new_link(client)
    anon = _anon(client)
    assert [anon.get(alice).status_code for _ in range(4)] == [200, 200, 200, 429]
    # Another patient's link from the same address (Google's fetcher) still works.
    assert anon.get(cara).status_code == 200


def test_head_requests_count_against_the_feed_limits(client, world, app):
    # Review rvical: the limits named GET only, and Flask answers HEAD by running the
    # same view (the whole file built, revisions written), so HEAD was never limited.
    app.config["SCLERO_CALENDAR_LINK_LIMIT"] = "3 per hour"
    login(client, ALICE)
    alice, _ = _new_link(client)
    anon = _anon(client)
    assert [anon.head(alice).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert anon.get(alice).status_code == 429
    app.config["SCLERO_CALENDAR_FEED_LIMIT"] = "2 per hour"
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    unknown = "/patient/calendar/feed/" + "c" * 43 + ".ics"
    assert [other.head(unknown).status_code for _ in range(3)] == [404, 404, 429]


def test_the_feed_is_rate_limited_per_address(client, world, app):
    app.config["SCLERO_CALENDAR_FEED_LIMIT"] = "3 per hour"
    login(client, ALICE)
    alice, _ = _new_link(client)
    anon = _anon(client)
    assert [anon.get(alice).status_code for _ in range(3)] == [200, 200, 200]
    assert anon.get("/patient/calendar/feed/" + "b" * 43 + ".ics").status_code == 429


@pytest.mark.parametrize("action", ["link", "stop"])
def test_two_taps_at_once_on_the_link_buttons_are_never_a_500(
    app, world, in_app, monkeypatch, action
):
    # Review rvical: "Make a new link" (or "Stop the link") from two tabs at once both
    # found the same row (or none) and both wrote it: one request ended in a 500. The
    # audit call sits between the read and the commit, so meeting there forces the race;
    # with the patient's lock the second waits, the meeting times out and both finish.
    tabs = [app.test_client() for _ in range(2)]
    for tab in tabs:
        login(tab, ALICE)
    if action == "stop":
        _new_link(tabs[0])
    meet = threading.Barrier(2, timeout=2)
    real_audit = links.audit

    def audit_after_meeting(*args, **kwargs):
        try:
            meet.wait()
        except threading.BrokenBarrierError:
            pass  # the other tab waits for the lock: nothing to meet
        return real_audit(*args, **kwargs)

    monkeypatch.setattr(links, "audit", audit_after_meeting)
    codes: list[int] = []
    threads = [
        threading.Thread(
            target=lambda t=tab: codes.append(t.post(f"/patient/calendar/{action}").status_code)
        )
        for tab in tabs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(codes) == [303, 303]
    links_left = in_app(lambda: scalar(sa.select(sa.func.count()).select_from(CalendarLink)))
    assert links_left == (1 if action == "link" else 0)


def test_a_long_host_name_still_gives_a_calendar_and_its_revisions(client, world, in_app, app):
    # Review rvical: UIDs end in "@<the app's host>", and revisions were kept under the
    # whole UID in an 80-character column: a host over 47 characters failed every
    # download and fetch on PostgreSQL (a 500). Rows now hold the UID's opaque part.
    host = "aftercare." + "a-rather-long-clinic-group-name." * 5 + "example.co.uk"
    app.config["SCLERO_BASE_URL"] = f"https://{host}"
    login(client, ALICE)
    first = _events(client.get("/patient/calendar.ics").data)
    assert first and all(str(e["UID"]).endswith("@" + host) for e in first)
    kept = in_app(lambda: list(db.session.scalars(sa.select(CalendarEventRevision.uid))))
    width = CalendarEventRevision.__table__.c.uid.type.length
    assert len(kept) == len(first) and all(len(uid) <= width and "@" not in uid for uid in kept)
    # Read back under the same UIDs: nothing new, every SEQUENCE still 0.
    again = _events(client.get("/patient/calendar.ics").data)
    assert [(str(e["UID"]), int(e["SEQUENCE"])) for e in again] == [
        (str(e["UID"]), 0) for e in first
    ]


def test_the_feeds_uids_are_keyed_by_the_installations_secret(client, world, app):
    # Review rvical: UIDs were plain hashes of a session id and a milestone key, which
    # anyone could reverse by trying them all; now they depend on SECRET_KEY.
    login(client, ALICE)
    first = {str(e["UID"]) for e in _events(client.get("/patient/calendar.ics").data)}
    assert first == {str(e["UID"]) for e in _events(client.get("/patient/calendar.ics").data)}
    app.config["SECRET_KEY"] = "another installation's secret, for this test only"
    login(client, ALICE)
    other = {str(e["UID"]) for e in _events(client.get("/patient/calendar.ics").data)}
    assert first and other and not first & other


def _closed_while_waiting(app, monkeypatch, module, what):
    """``module.lock_patient`` as if ``what`` (another request, its own connection)
    committed just before this request got the patient's lock."""
    real = module.lock_patient

    def lock_after(patient_id):
        with app.app_context():
            what(patient_id)
            db.session.commit()
            db.session.remove()
        real(patient_id)

    monkeypatch.setattr(module, "lock_patient", lock_after)


def _close_account(patient_id):
    db.session.get(Patient, patient_id).user.is_active = False


def _discharge(patient_id):
    db.session.get(Patient, patient_id).discharged_at = NOW


@pytest.mark.parametrize("what", [_close_account, _discharge])
def test_no_new_link_survives_a_discharge_or_closure_it_waited_for(
    client, world, in_app, app, monkeypatch, what
):
    # Review rvical: "Make a new link" waiting for the patient's lock while the clinic
    # discharged the patient or completed the closure inserted a link after it: a
    # calendar link outliving "calendar links go at once". Now a clear refusal.
    login(client, ALICE)
    _closed_while_waiting(app, monkeypatch, links, what)
    r = client.post("/patient/calendar/link")
    assert r.status_code == 400
    assert "Your course has ended" in text_of(r)
    assert in_app(lambda: scalar(sa.select(sa.func.count()).select_from(CalendarLink))) == 0


def test_a_fetch_that_waited_for_a_closure_stores_no_revisions(
    client, world, in_app, app, monkeypatch
):
    # Review rvical: a first fetch waiting for the lock while the closure removed the
    # link and the revisions put the revisions back, for a closed account.
    login(client, ALICE)
    path, _ = _new_link(client)
    _closed_while_waiting(app, monkeypatch, feed, _close_account)
    assert _anon(client).get(path).status_code == 404
    rows = sa.select(sa.func.count()).select_from(CalendarEventRevision)
    assert in_app(lambda: scalar(rows)) == 0


def test_a_fetch_that_read_the_course_before_a_move_never_undoes_it(
    client, world, in_app, app, monkeypatch
):
    # Review rvical: a fetch read the course, then waited for the patient's lock while
    # the session moved again and another fetch stored that; under the lock it compared
    # its old reading with the new revision and stored the old time as the newest, with
    # a higher SEQUENCE: calendars that fetched then moved the appointment back.
    login(client, BOB)
    path, _ = _new_link(client)
    anon = _anon(client)
    assert int(_events(anon.get(path).data)[0]["SEQUENCE"]) == 0

    def move_to(day: int):
        def move():
            row = db.session.scalar(
                sa.select(Treatment).where(Treatment.patient_id == world.patient_b)
            )
            row.appointment_at = datetime(2026, 11, day, 14, 30, tzinfo=NOW.tzinfo)
            db.session.commit()

        in_app(move)

    move_to(23)  # the fetch below reads this, then waits for the lock
    real_lock = feed.lock_patient
    raced = []

    def lock_after_another_fetch(patient_id):
        if not raced:
            raced.append(True)
            move_to(24)
            assert anon.get(path).status_code == 200  # stores the 24th at SEQUENCE 1
        real_lock(patient_id)

    monkeypatch.setattr(feed, "lock_patient", lock_after_another_fetch)
    (served,) = _events(anon.get(path).data)
    assert raced
    assert (served.decoded("DTSTART").day, int(served["SEQUENCE"])) == (24, 1)
    (later,) = _events(anon.get(path).data)
    assert (later.decoded("DTSTART").day, int(later["SEQUENCE"])) == (24, 1)
