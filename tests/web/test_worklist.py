"""The dashboard's worklist (issue 19 point 1): one table of every kind of work, filtered
and sorted by the query string, a thumbnail on each new photo, and the fragment the page
polls: 204 (nothing sent, nothing audited) while unchanged, the new rows when changed,
another clinic's work never, and polls that do not keep an idle session alive."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import AuthSession
from app.models import Photo
from tests.conftest import login
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web import test_dashboard_scale as scale
from tests.web.test_dashboard_scale import _patient_client
from tests.web.test_dashboard_scale import _same_count
from tests.web.test_dashboard_scale import _statements
from tests.web.test_dashboard_scale import _submit_checkin

POLL = {"X-Worklist-Poll": "1"}
# The dashboard tests' clinics, as fixtures here too.
east = scale.east
two_clinics = scale.two_clinics


def _rows(html: str) -> list[tuple[str, str]]:
    """(kind, patient name) of each worklist row, in table order."""
    rows = re.findall(r'<tr id="wl-[^"]*"[^>]*data-kind="(\w+)".*?</tr>', html, re.S)
    names = re.findall(
        r'<tr id="wl-[^"]*".*?<a href="/clinic/patients/\d+[^"]*">([^<]+)</a>', html, re.S
    )
    return list(zip(rows, names, strict=True))


def _doc(app):
    doc = app.test_client()
    login(doc, "doc@east.example")
    return doc


def _busy_east(app, clock) -> None:
    """Amy same day, then Ben emergency ten minutes later; Ed routine after."""
    _submit_checkin(_patient_client(app, "amy"), yes=("calf-pain-swelling",))
    clock.advance(minutes=10)
    _submit_checkin(_patient_client(app, "ben"), yes=("chest-breathing",))
    clock.advance(minutes=10)
    _submit_checkin(_patient_client(app, "ed"), pain=5)


def test_one_table_sorted_by_urgency_then_time_or_by_patient(app, clock, east):
    _busy_east(app, clock)
    doc = _doc(app)
    html = doc.get("/clinic/").get_data(as_text=True)
    assert html.count('<table class="worklist">') == 1
    rows = _rows(html)
    # Emergency, then same day (alert before check-in), then the rest, oldest first: the
    # patients silent since their treatment five days ago before Ed's check-in today.
    assert rows[:4] == [
        ("alerts", "Ben Emergency-New"),
        ("checkins", "Ben Emergency-New"),
        ("alerts", "Amy Sameday-Old"),
        ("checkins", "Amy Sameday-Old"),
    ]
    assert {k for k, _ in rows[4:-1]} == {"missed"} and ("missed", "Eve Silent") in rows
    assert rows[-1] == ("checkins", "Ed Routine")
    by_name = _rows(doc.get("/clinic/?sort=patient").get_data(as_text=True))
    assert [n for _, n in by_name] == sorted(n for _, n in by_name)
    by_time = _rows(doc.get("/clinic/?sort=time").get_data(as_text=True))
    # Oldest first whatever the urgency: the silent patients, then the check-ins in the
    # order they came, Ben's emergency after Amy's same-day.
    silent = sum(k == "missed" for k, _ in by_time)
    assert {k for k, _ in by_time[:silent]} == {"missed"}
    assert by_time[silent:] == [
        ("alerts", "Amy Sameday-Old"),
        ("checkins", "Amy Sameday-Old"),
        ("alerts", "Ben Emergency-New"),
        ("checkins", "Ben Emergency-New"),
        ("checkins", "Ed Routine"),
    ]


def test_filters_by_kind_and_urgency_without_javascript(app, clock, east):
    _busy_east(app, clock)
    doc = _doc(app)
    html = doc.get("/clinic/?kind=checkins").get_data(as_text=True)
    assert {k for k, _ in _rows(html)} == {"checkins"}
    assert 'id="checkins-title" href="/clinic/?kind=checkins" aria-current="true"' in html
    html = doc.get("/clinic/?urgency=emergency").get_data(as_text=True)
    assert _rows(html) == [("alerts", "Ben Emergency-New"), ("checkins", "Ben Emergency-New")]
    html = doc.get("/clinic/?urgency=urgent&sort=patient").get_data(as_text=True)
    assert [n for _, n in _rows(html)] == ["Amy Sameday-Old"] * 2 + ["Ben Emergency-New"] * 2
    # The form keeps what was chosen.
    assert '<option value="urgent" selected>' in html
    assert '<option value="patient" selected>' in html
    html = doc.get("/clinic/?kind=photos").get_data(as_text=True)
    assert "Nothing waiting that matches this filter." in html


def test_unknown_filter_values_show_the_whole_worklist(app, clock, east):
    _busy_east(app, clock)
    doc = _doc(app)
    plain = _rows(doc.get("/clinic/").get_data(as_text=True))
    for query in ("kind=nope", "urgency=%00", "sort=' OR 1=1", "kind=&alerts_page=x", "sort="):
        r = doc.get(f"/clinic/?{query}")
        assert r.status_code == 200, query
        assert _rows(r.get_data(as_text=True)) == plain, query
        assert doc.get(f"/clinic/worklist?{query}").status_code == 200, query


def test_a_new_photo_row_shows_the_photo_it_marks_reviewed(app, world, in_app):
    alice = app.test_client()
    login(alice, "alice@patients.example")
    assert upload(alice, phone_jpeg((400, 300))).status_code == 303
    photo_id = in_app(lambda: db.session.scalar(sa.select(Photo.id)))
    doc = app.test_client()
    login(doc, "doc1@north.example")
    html = doc.get("/clinic/?kind=photos").get_data(as_text=True)
    row = re.search(rf'<tr id="wl-photo-{photo_id}".*?</tr>', html, re.S).group(0)
    assert f'<img src="/clinic/photos/{photo_id}/thumb?s=' in row
    assert f'action="/clinic/photos/{photo_id}/review"' in row
    thumb = doc.get(f"/clinic/photos/{photo_id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    # Another clinic's clinician sees neither the row nor the image.
    other = app.test_client()
    login(other, "doc2@south.example")
    assert f"wl-photo-{photo_id}" not in other.get("/clinic/").get_data(as_text=True)
    assert f"wl-photo-{photo_id}" not in other.get("/clinic/worklist").get_data(as_text=True)
    assert other.get(f"/clinic/photos/{photo_id}/thumb").status_code == 404


def _version(html: str) -> str:
    return re.search(r'id="worklist"[^>]*data-version="(\w+)"', html).group(1)


def test_the_fragment_answers_204_until_something_changes(app, clock, in_app, east):
    _submit_checkin(_patient_client(app, "amy"), yes=("calf-pain-swelling",))
    doc = _doc(app)
    page = doc.get("/clinic/?kind=alerts").get_data(as_text=True)
    version = _version(page)

    def events() -> int:
        return in_app(
            lambda: db.session.scalar(
                sa.select(sa.func.count()).where(AuditEvent.detail == "dashboard")
            )
        )

    before = events()
    r = doc.get(f"/clinic/worklist?kind=alerts&since={version}", headers=POLL)
    assert r.status_code == 204 and r.get_data() == b""
    assert events() == before  # nothing shown, nothing audited

    clock.advance(minutes=5)
    _submit_checkin(_patient_client(app, "ben"), yes=("chest-breathing",))
    r = doc.get(f"/clinic/worklist?kind=alerts&since={version}", headers=POLL)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    fragment = r.get_data(as_text=True)
    assert "<html" not in fragment
    assert [n for _, n in _rows(fragment)] == ["Ben Emergency-New", "Amy Sameday-Old"]
    assert _version(fragment) != version
    assert 'data-open-alerts="2"' not in fragment  # filtered: the badge is left alone
    assert events() == before + 2  # both patients shown: audited
    whole = doc.get(f"/clinic/worklist?since={version}", headers=POLL).get_data(as_text=True)
    assert 'data-open-alerts="2"' in whole


def test_polls_do_not_keep_an_idle_session_alive(app, clock, in_app, east):
    doc = _doc(app)
    assert doc.get("/clinic/").status_code == 200
    seen = in_app(lambda: db.session.scalar(sa.select(sa.func.max(AuthSession.last_seen_at))))
    for _ in range(8):  # 16 minutes of polling, nobody at the desk
        clock.advance(minutes=2)
        r = doc.get("/clinic/worklist", headers=POLL)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert (
        in_app(lambda: db.session.scalar(sa.select(sa.func.max(AuthSession.last_seen_at)))) == seen
    )
    # A clinician who clicks keeps the session: a page view counts as activity.
    doc = _doc(app)
    for _ in range(8):
        clock.advance(minutes=2)
        assert doc.get("/clinic/").status_code == 200


def test_patients_get_404_for_the_fragment(app, east):
    amy = _patient_client(app, "amy")
    assert amy.get("/clinic/worklist").status_code == 404


def test_the_fragment_statement_count_does_not_grow(app, two_clinics):
    for path in ("/clinic/worklist", "/clinic/worklist?since=0&kind=checkins&sort=patient"):
        small = _statements(app, two_clinics["small"]["client"], path)
        large = _statements(app, two_clinics["large"]["client"], path)
        _same_count(small, large, f"GET {path}")


def test_the_patient_page_puts_the_diary_beside_the_rest(app, world, in_app):
    doc = app.test_client()
    login(doc, "doc1@north.example")
    html = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    main = html.index('<div class="patient-main">')
    side = html.index('<div class="patient-side">')
    assert main < html.index('id="diary"') < side
    assert side < html.index('id="photos"') and side < html.index('<h2 id="sessions">')


def test_the_whole_worklist_is_one_page_of_40_rows_and_audits_what_it_shows(
    app, in_app, two_clinics
):
    client = two_clinics["large"]["client"]
    since = in_app(lambda: db.session.scalar(sa.select(sa.func.max(AuditEvent.id))))
    html = client.get("/clinic/").get_data(as_text=True)
    rows = _rows(html)
    assert len(rows) == 40
    hidden = int(re.search(r"(\d+) more below these", html).group(1))
    assert hidden == 20 * 3 - 40  # a full page of alerts, check-ins and missed (no photos)
    shown = {
        int(pid) for pid in re.findall(r'<tr id="wl-.*?<a href="/clinic/patients/(\d+)', html, re.S)
    }
    upcoming = re.search(r'<section aria-labelledby="upcoming-title".*?</section>', html, re.S)
    shown |= {int(pid) for pid in re.findall(r'href="/clinic/patients/(\d+)"', upcoming.group(0))}
    audited = in_app(
        lambda: set(
            db.session.scalars(
                sa.select(AuditEvent.patient_id).where(
                    AuditEvent.id > since, AuditEvent.detail == "dashboard"
                )
            )
        )
    )
    assert audited == shown
    # One kind pages through all of its rows, 20 at a time.
    assert len(_rows(client.get("/clinic/?kind=missed").get_data(as_text=True))) == 20
