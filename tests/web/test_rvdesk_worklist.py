"""Review of the desk's worklist (issue 19 point 1): each action taken from a worklist
row returns to the worklist as the clinician filtered and sorted it."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import Patient
from app.services.care import followup
from tests.conftest import make_patient
from tests.services.test_photos import phone_jpeg
from tests.services.test_photos import upload
from tests.web import test_dashboard_scale as scale
from tests.web.test_dashboard_scale import _patient_client
from tests.web.test_dashboard_scale import _submit_checkin
from tests.web.test_worklist import _busy_east
from tests.web.test_worklist import _doc
from tests.web.test_worklist import east  # noqa: F401 - a fixture


def _row_form(html: str, kind: str) -> tuple[str, dict[str, str]]:
    """The action and fields of the first ``kind`` row's form, as a browser sends them."""
    row = re.search(rf'<tr id="wl-[^"]*"[^>]*data-kind="{kind}".*?</tr>', html, re.S).group(0)
    action = unescape(re.search(r'<form method="post" action="([^"]+)"', row).group(1))
    fields = {
        unescape(n): unescape(v)
        for n, v in re.findall(r'<input[^>]*type="hidden" name="([^"]+)" value="([^"]*)"', row)
    }
    return action, fields


def _query(location: str) -> dict[str, list[str]]:
    parts = urlsplit(location)
    assert parts.path == "/clinic/", location
    return parse_qs(parts.query)


def test_acknowledging_from_the_worklist_keeps_its_filter_and_sort(app, clock, east):  # noqa: F811
    _busy_east(app, clock)
    doc = _doc(app)
    html = doc.get("/clinic/?kind=alerts&urgency=urgent&sort=patient").get_data(as_text=True)
    action, fields = _row_form(html, "alerts")
    r = doc.post(action, data={**fields, "note": "Called, advised a scan today."})
    assert r.status_code == 303
    assert _query(r.headers["Location"]) == {
        "kind": ["alerts"],
        "urgency": ["urgent"],
        "sort": ["patient"],
    }
    assert "Alert acknowledged." in doc.get(r.headers["Location"]).get_data(as_text=True)


def test_marking_a_photo_reviewed_from_the_worklist_keeps_its_sort(app, clock, east):  # noqa: F811
    amy = _patient_client(app, "amy")
    app.config["WTF_CSRF_ENABLED"], csrf = False, app.config["WTF_CSRF_ENABLED"]
    try:
        assert upload(amy, phone_jpeg((400, 300))).status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = csrf
    doc = _doc(app)
    html = doc.get("/clinic/?sort=time").get_data(as_text=True)
    action, fields = _row_form(html, "photos")
    r = doc.post(action, data=fields)
    assert r.status_code == 303
    assert _query(r.headers["Location"]) == {"sort": ["time"]}


def test_a_forged_filter_cannot_steer_the_redirect(app, clock, east):  # noqa: F811
    _busy_east(app, clock)
    doc = _doc(app)
    action, fields = _row_form(doc.get("/clinic/").get_data(as_text=True), "alerts")
    forged = {"kind": "x\r\nSet-Cookie: a=b", "sort": "//evil.example", "urgency": "\x00"}
    r = doc.post(action, data={**fields, **forged, "note": "Called."})
    assert r.status_code == 303
    assert r.headers["Location"] == "/clinic/"


def test_a_note_sent_after_a_colleague_acknowledged_is_not_called_saved(
    app,
    clock,
    in_app,
    east,  # noqa: F811
):
    """The worklist keeps a row the clinician is typing in even after a colleague
    acknowledged its alert; sending it then must not say "Alert acknowledged." over a
    note that was dropped (the first acknowledgement stays, as it should)."""
    _busy_east(app, clock)
    first, second = _doc(app), _doc(app)
    action, fields = _row_form(first.get("/clinic/").get_data(as_text=True), "alerts")
    stale = _row_form(second.get("/clinic/").get_data(as_text=True), "alerts")
    assert stale[0] == action
    assert first.post(action, data={**fields, "note": "Called: A&E now."}).status_code == 303
    clock.advance(minutes=1)
    r = second.post(action, data={**stale[1], "note": "Booked a scan for 15:00."})
    assert r.status_code == 303
    assert "/clinic/patients/" in r.headers["Location"]
    page = second.get(r.headers["Location"]).get_data(as_text=True)
    assert "had already been acknowledged: your note was not saved." in page
    assert "Alert acknowledged." not in page
    assert "Called: A&amp;E now." in page
    # The same note sent twice (a double click) is just acknowledged.
    r = first.post(action, data={**fields, "note": "Called: A&E now."})
    assert "Alert acknowledged." in first.get(r.headers["Location"]).get_data(as_text=True)


def test_the_refresh_of_a_second_page_stays_on_that_page(app, clock, in_app, east):  # noqa: F811
    """The page polls its data-src: on page 2 of check-ins it must fetch page 2, not
    swap page 1's rows in over the ones the clinician paged to."""

    def many() -> None:
        patient = db.session.get(Patient, east["eve"])
        scale._add_checkins(patient, scale._treatment(patient.id), range(25))
        db.session.commit()

    in_app(many)
    doc = _doc(app)
    page = doc.get("/clinic/?kind=checkins&checkins_page=2&sort=time").get_data(as_text=True)
    src = unescape(re.search(r'id="worklist"[^>]*data-src="([^"]+)"', page, re.S).group(1))
    assert parse_qs(urlsplit(src).query) == {
        "kind": ["checkins"],
        "sort": ["time"],
        "checkins_page": ["2"],
    }
    keys = re.findall(r'<tr id="wl-[^"]*" data-key="([^"]+)"', page)
    assert len(keys) == 5
    fragment = doc.get(src, headers={"X-Worklist-Poll": "1"}).get_data(as_text=True)
    assert re.findall(r'<tr id="wl-[^"]*" data-key="([^"]+)"', fragment) == keys


def test_sorting_by_name_never_cuts_an_open_alert_from_the_page(app, clock, in_app, east):  # noqa: F811
    """The whole worklist shows 40 rows; sorted by patient name, a full page of
    check-ins, of missed check-ins and two photos from names before "Zoe" filled it: Zoe's
    emergency alert fell below the cut. Open alerts (at most a page) are never cut."""

    def busy() -> None:
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "east"))
        for n in range(21):
            make_patient(clinic, f"mia{n}@east.example", day=5, name=f"Mia Missed {n:02}")
        make_patient(clinic, "zoe@east.example", day=5, name="Zoe Late")
        eve = db.session.get(Patient, east["eve"])
        scale._add_checkins(eve, scale._treatment(eve.id), range(25))
        followup.backfill(db.session.connection())
        db.session.commit()

    in_app(busy)
    _submit_checkin(_patient_client(app, "zoe"), yes=("chest-breathing",))
    amy = _patient_client(app, "amy")
    app.config["WTF_CSRF_ENABLED"], csrf = False, app.config["WTF_CSRF_ENABLED"]
    try:
        for _ in range(2):  # with these, more than 40 rows sort before Zoe's
            assert upload(amy, phone_jpeg((400, 300))).status_code == 303
    finally:
        app.config["WTF_CSRF_ENABLED"] = csrf
    doc = _doc(app)
    html = doc.get("/clinic/?sort=patient").get_data(as_text=True)
    kinds = re.findall(r'<tr id="wl-[^"]*" data-key="[^"]+" data-kind="(\w+)"', html)
    assert kinds.count("alerts") == 1, kinds
    assert len(kinds) == 40
    assert "more below these" in html
