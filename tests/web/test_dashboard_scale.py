"""The clinician's triage dashboard and patient page: a statement count that does not grow
with the clinic (the N+1 guard of bench/clinician_dashboard.py, small enough for every
run), and what each dashboard section lists, in which order, with which counts.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.extensions import db
from app.models import Alert
from app.models import AuditEvent
from app.models import CheckIn
from app.models import Comment
from app.models import Patient
from app.models import Treatment
from app.models import TreatmentStatus
from app.services.care import followup
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import make_clinic
from tests.conftest import make_patient
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.conftest import version_id

SECTIONS = ("alerts", "checkins", "missed", "upcoming")


# ----------------------------------------------------------------- helpers


def _treatment(patient_id: int) -> Treatment:
    return db.session.scalar(
        sa.select(Treatment)
        .where(Treatment.patient_id == patient_id)
        .order_by(Treatment.appointment_at.desc())
    )


def _add_checkins(
    patient: Patient, treatment: Treatment, days: range, *, alert_on: set[int] = frozenset()
) -> None:
    """Unreviewed check-ins on the given days after ``treatment``; a same-day alert on
    each day in ``alert_on``. Times follow the treatment, as if sent on each day."""
    for day in days:
        at = treatment.treated_at + timedelta(days=day, hours=2)
        level = "same_day" if day in alert_on else "routine"
        checkin = CheckIn(
            patient_id=patient.id,
            clinic_id=patient.clinic_id,
            treatment_id=treatment.id,
            day=day,
            on_date=at.date(),
            answers={"itching": day % 2 == 0, "lumps": False, "walked": True},
            history=[],
            pain=3 + day % 5,
            bruising="mild",
            level=level,
            reasons=["Pain 8 out of 10"] if level == "same_day" else ["Itching"],
            created_at=at,
            updated_at=at,
        )
        db.session.add(checkin)
        if day in alert_on:
            db.session.flush()
            db.session.add(
                Alert(
                    patient_id=patient.id,
                    clinic_id=patient.clinic_id,
                    checkin_id=checkin.id,
                    level="same_day",
                    severity=1,
                    reasons=["Pain 8 out of 10"],
                    created_at=at,
                )
            )


def _build_clinic(slug: str, patients: int, busy_checkins: int) -> dict[str, int]:
    """A clinic whose every section has ``patients`` rows or more: each patient was treated
    6 days ago, checked in on days 0-2 only (so is "missed"), has an open alert and a
    session booked next week. The first patient is "busy": older sessions on two
    protocols, ``busy_checkins`` check-ins, several alerts and comments."""
    clinic = make_clinic(slug)
    staff = make_staff(clinic, f"doc@{slug}.example")
    ids = []
    for n in range(patients):
        p = make_patient(clinic, f"p{n}@{slug}.example", day=6, name=f"{slug.title()} Patient {n}")
        t = _treatment(p.id)
        _add_checkins(p, t, range(3), alert_on={2})
        db.session.add(
            Treatment(
                patient_id=p.id,
                protocol_version_id=version_id(clinic),
                appointment_at=NOW + timedelta(days=1 + n % 7, hours=n % 5),
            )
        )
        ids.append(p.id)
    busy = db.session.get(Patient, ids[0])
    # Earlier sessions of the busy patient, 8 weeks apart, on another protocol too.
    sessions = max(1, busy_checkins // 20)
    for k in range(1, sessions):
        when = NOW - timedelta(weeks=8 * k)
        key = "compression-24h" if k % 2 else "compression-72h"
        old = Treatment(
            patient_id=busy.id,
            protocol_version_id=version_id(clinic, key),
            appointment_at=when,
            treated_at=when,
            status=TreatmentStatus.DONE,
            sclerosant="Polidocanol",
            form="foam",
            areas="right thigh",
        )
        db.session.add(old)
        db.session.flush()
        _add_checkins(busy, old, range(20), alert_on={4, 9})
    for k in range(busy_checkins // 10):
        db.session.add(
            Comment(
                patient_id=busy.id,
                author_name="Doc",
                body=f"Comment {k}",
                created_at=NOW - timedelta(days=k),
            )
        )
    # Rows made here bypass the services, which keep the follow-up state themselves.
    followup.backfill(db.session.connection())
    db.session.commit()
    return {"clinic": clinic.id, "staff": staff.id, "busy": busy.id}


def _statements(app, client, path: str) -> list[str]:
    """SQL statements of one warm GET of ``path``."""
    assert client.get(path).status_code == 200  # warm: caches, session refresh
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        r = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert r.status_code == 200
    return seen


def _section(html: str, name: str) -> str:
    """The worklist's rows of one kind (``name``), in table order; or the upcoming
    sessions' section."""
    if name == "upcoming":
        m = re.search(r'<section aria-labelledby="upcoming-title".*?</section>', html, re.S)
        assert m, "no upcoming section"
        return m.group(0)
    assert '<table class="worklist">' in html or 'class="wl-empty"' in html, "no worklist"
    return "".join(re.findall(rf'<tr id="wl-[^"]*"[^>]*data-kind="{name}".*?</tr>', html, re.S))


def _count(html: str, name: str) -> int | str:
    """A kind's count by the worklist (or the upcoming heading): a number, or "more
    than N" where it stops."""
    if name == "upcoming":
        pattern = r'<h2 id="upcoming-title">[^<]*<span class="count">([^<]+)</span>'
    else:
        pattern = rf'<a id="{name}-title"[^>]*>[^<]*<span class="count">([^<]+)</span>'
    m = re.search(pattern, html)
    assert m, f"no count for {name}"
    return int(m.group(1)) if m.group(1).isdigit() else m.group(1)


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)).strip()


def _names(section_html: str) -> list[str]:
    """Patient names linked in a section, in page order."""
    return re.findall(r'<a href="/clinic/patients/\d+[^"]*">([^<]+)</a>', section_html)


def _submit_checkin(client, *, yes: tuple[str, ...] = (), pain: int = 2, bruising="mild"):
    """Answer today's check-in as the signed-in patient: every warning-sign question
    on the form, "yes" to the keys in ``yes``."""
    form = client.get("/patient/checkin").get_data(as_text=True)
    asked = sorted(set(re.findall(r'name="rf-([\w-]+)"', form)))
    assert set(yes) <= set(asked), (yes, asked)
    data = dict(re.findall(r'<input type="hidden" name="([\w-]+)" value="([^"]*)"', form))
    data.update({f"rf-{key}": "yes" if key in yes else "no" for key in asked})
    data.update(
        pain=str(pain), bruising=bruising, skin="none", walked="yes", elevated="yes", note=""
    )
    r = client.post("/patient/checkin", data=data)
    assert r.status_code == 200, text_of(r)
    return r


# ----------------------------------------------------------------- statement count


@pytest.fixture
def two_clinics(app, in_app) -> dict[str, dict]:
    """A small clinic (5 patients) and one 12 times larger, each with a clinician signed
    in and the section counts read off its dashboard."""
    built = {"small": in_app(_build_clinic, "small", 5, 40)}
    built["large"] = in_app(_build_clinic, "large", 60, 160)
    for name, clinic in built.items():
        clinic["client"] = app.test_client()
        login(clinic["client"], f"doc@{name}.example")
        html = clinic["client"].get("/clinic/").get_data(as_text=True)
        clinic["counts"] = {s: _count(html, s) for s in SECTIONS}
    # The large clinic really is larger in every section, with pages past the first.
    assert built["small"]["counts"] == {"alerts": 7, "checkins": 35, "missed": 5, "upcoming": 5}
    assert built["large"]["counts"] == {
        "alerts": 60 + 7 * 2,
        "checkins": "more than 100",  # 60 * 3 + 7 * 20
        "missed": 60,
        "upcoming": 60,
    }
    return built


def _same_count(small: list[str], large: list[str], what: str) -> None:
    """Equal statement counts and no statement once per row shown (an N+1); else the
    statements that differ or repeat."""
    extra = Counter(large)
    extra.subtract(Counter(small))
    more = {sql[:160]: n for sql, n in extra.items() if n}
    assert len(small) == len(large), (
        f"{what}: {len(small)} statements for the small clinic, {len(large)} for the large; "
        f"difference by statement: {more}"
    )
    repeated = {sql[:160]: n for sql, n in Counter(large).items() if n > 3}
    assert not repeated, f"{what}: statements sent once per row: {repeated}"


def test_dashboard_statements_do_not_grow_with_the_clinic(app, two_clinics):
    for path in ("/clinic/", "/clinic/?alerts_page=2&checkins_page=9&missed_page=3"):
        small = _statements(app, two_clinics["small"]["client"], path)
        large = _statements(app, two_clinics["large"]["client"], path)
        _same_count(small, large, f"GET {path}")
        # The session lookup, a count and a page for each of the five sections, and one
        # insert of the audit events with the chain head's two updates (docs/audit.md).
        assert len(large) <= 14, large


def test_patient_page_statements_do_not_grow_with_the_diary(app, two_clinics):
    for page in (1, 2):
        sql = {
            name: _statements(
                app,
                two_clinics[name]["client"],
                f"/clinic/patients/{two_clinics[name]['busy']}?page={page}",
            )
            for name in ("small", "large")
        }
        _same_count(sql["small"], sql["large"], f"patient page {page}")
        # +2: the audit chain head's lock-and-read and its update (docs/audit.md); +5:
        # the outcomes section (issue 19 point 6: sessions, ratings, scores, the stocking
        # answers and the photos it pairs), each one statement whatever the diary's size;
        # +1: the account-closure card (issue 20 point 4: what is kept, and until when).
        assert len(sql["large"]) <= 29, sql["large"]


# ----------------------------------------------------------------- what the dashboard lists


@pytest.fixture
def east(in_app):
    """Clinic "east": patients on day 5 (who check in), one treated 5 days ago who never
    checked in, one treated today, one booked tomorrow; a clinician."""

    def build():
        clinic = make_clinic("east")
        make_staff(clinic, "doc@east.example")
        people = {}
        for local, name, day in [
            ("amy", "Amy Sameday-Old", 5),
            ("ben", "Ben Emergency-New", 5),
            ("cy", "Cy Sameday-New", 5),
            ("di", "Di Emergency-Old", 5),
            ("ed", "Ed Routine", 5),
            ("eve", "Eve Silent", 5),
            ("fay", "Fay Treated-Today", 0),
            ("gus", "Gus Booked", None),
        ]:
            people[local] = make_patient(clinic, f"{local}@east.example", day=day, name=name).id
        return people

    return in_app(build)


def _patient_client(app, local: str):
    client = app.test_client()
    assert login(client, f"{local}@east.example").status_code in (302, 303)
    return client


def test_dashboard_orders_alerts_and_lists_each_section_with_counts(app, in_app, clock, east):
    # Alerts arrive ten minutes apart: same day, emergency, same day, emergency.
    for local, yes in [
        ("amy", ("calf-pain-swelling",)),
        ("di", ("chest-breathing",)),
        ("cy", ("calf-pain-swelling",)),
        ("ben", ("chest-breathing",)),
    ]:
        _submit_checkin(_patient_client(app, local), yes=yes)
        clock.advance(minutes=10)
    _submit_checkin(_patient_client(app, "ed"), pain=5)  # routine: no alert, to review

    doc = app.test_client()
    login(doc, "doc@east.example")
    html = doc.get("/clinic/").get_data(as_text=True)

    # Emergency before same day, then the oldest first.
    alerts = _section(html, "alerts")
    assert _names(alerts) == [
        "Di Emergency-Old",
        "Ben Emergency-New",
        "Amy Sameday-Old",
        "Cy Sameday-New",
    ]
    assert "Pain, swelling, warmth or tenderness in the calf" in alerts
    # Check-ins: the most urgent first, then the oldest (issue 19 point 1) ...
    assert _names(_section(html, "checkins")) == [
        "Di Emergency-Old",
        "Ben Emergency-New",
        "Amy Sameday-Old",
        "Cy Sameday-New",
        "Ed Routine",
    ]
    # ... or in the order they came, when the clinician sorts by time.
    by_time = doc.get("/clinic/?kind=checkins&sort=time").get_data(as_text=True)
    assert _names(_section(by_time, "checkins")) == [
        "Amy Sameday-Old",
        "Di Emergency-Old",
        "Cy Sameday-New",
        "Ben Emergency-New",
        "Ed Routine",
    ]
    # Treated 5 days ago and never checked in: missed. Treated today: not (yet).
    assert _names(_section(html, "missed")) == ["Eve Silent"]
    assert "last check-in never" in _text(_section(html, "missed")).lower()
    assert _names(_section(html, "upcoming")) == ["Gus Booked"]
    assert {s: _count(html, s) for s in SECTIONS} == {
        "alerts": 4,
        "checkins": 5,
        "missed": 1,
        "upcoming": 1,
    }

    # Acknowledging with a note takes the alert off the list.
    first = in_app(
        lambda: db.session.scalar(
            sa.select(Alert.id).where(
                Alert.patient_id == east["di"], Alert.acknowledged_at.is_(None)
            )
        )
    )
    r = doc.post(
        f"/clinic/alerts/{first}/acknowledge",
        data={"note": "Called, advised 999", "back": "dashboard"},
        follow_redirects=True,
    )
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "Alert acknowledged." in html
    assert _names(_section(html, "alerts")) == [
        "Ben Emergency-New",
        "Amy Sameday-Old",
        "Cy Sameday-New",
    ]
    assert _count(html, "alerts") == 3
    acked = in_app(lambda: db.session.get(Alert, first))
    assert acked.ack_note == "Called, advised 999" and acked.acknowledged_at == clock()

    # Marking a day reviewed takes it off "New check-ins to review".
    routine = in_app(
        lambda: db.session.scalar(sa.select(CheckIn.id).where(CheckIn.patient_id == east["ed"]))
    )
    assert doc.post(f"/clinic/checkins/{routine}/review").status_code == 303
    html = doc.get("/clinic/").get_data(as_text=True)
    assert "Ed Routine" not in _names(_section(html, "checkins"))
    assert _count(html, "checkins") == 4


def test_missed_section_follows_time_since_the_last_check_in(app, clock, east):
    for local in ("amy", "ben", "cy", "di", "ed"):
        _submit_checkin(_patient_client(app, local))
    doc = app.test_client()
    login(doc, "doc@east.example")
    html = doc.get("/clinic/").get_data(as_text=True)
    # Treated 5 days ago and never checked in; not Fay (treated today) nor Gus (booked).
    assert _names(_section(html, "missed")) == ["Eve Silent"]

    clock.advance(days=1)
    doc = app.test_client()  # the clinician's session timed out overnight
    login(doc, "doc@east.example")
    assert _names(_section(doc.get("/clinic/").get_data(as_text=True), "missed")) == ["Eve Silent"]

    clock.advance(days=1)  # two days without a check-in: everyone treated is listed
    doc = app.test_client()
    login(doc, "doc@east.example")
    html = doc.get("/clinic/").get_data(as_text=True)
    # Longest silence first: Eve (treated 7 days ago), Fay (treated 2 days ago at
    # 10:00), then those whose last check-in was 2 days ago at 12:00.
    assert _names(_section(html, "missed")) == [
        "Eve Silent",
        "Fay Treated-Today",
        "Amy Sameday-Old",
        "Ben Emergency-New",
        "Cy Sameday-New",
        "Di Emergency-Old",
        "Ed Routine",
    ]
    assert _count(html, "missed") == 7


def test_a_new_course_today_is_not_missed_because_of_old_check_ins(app, in_app, east):
    """Fay's check-ins are from a course eight weeks ago; she was treated again today."""

    def second_course():
        fay = db.session.get(Patient, east["fay"])
        today = _treatment(fay.id)
        first = today.treated_at - timedelta(weeks=8)
        old = Treatment(
            patient_id=fay.id,
            protocol_version_id=today.protocol_version_id,
            appointment_at=first,
            treated_at=first,
            status=TreatmentStatus.DONE,
        )
        db.session.add(old)
        db.session.flush()
        _add_checkins(fay, old, range(10))
        followup.backfill(db.session.connection())
        db.session.commit()

    in_app(second_course)
    doc = app.test_client()
    login(doc, "doc@east.example")
    missed = _names(_section(doc.get("/clinic/").get_data(as_text=True), "missed"))
    assert "Fay Treated-Today" not in missed


def test_sections_belong_to_the_clinicians_clinic_only(app, east, world):
    _submit_checkin(_patient_client(app, "amy"), yes=("calf-pain-swelling",))
    doc = app.test_client()
    login(doc, "doc1@north.example")
    html = doc.get("/clinic/").get_data(as_text=True)
    east_names = {"Amy Sameday-Old", "Eve Silent", "Gus Booked"}
    for name in SECTIONS:
        assert not east_names & set(_names(_section(html, name))), name
    assert _names(_section(html, "upcoming")) == ["Bob Marker-B"]


# ----------------------------------------------------------------- counts that stop


def test_long_sections_say_more_than_100_and_the_pager_still_reaches_every_row(app, in_app):
    # One patient: 3 check-ins of the latest session and 6 older sessions of 20 each.
    in_app(_build_clinic, "big", 1, 140)
    all_ids = set(
        in_app(
            lambda: db.session.scalars(sa.select(CheckIn.id).where(CheckIn.reviewed_at.is_(None)))
        )
    )
    assert len(all_ids) == 123
    doc = app.test_client()
    login(doc, "doc@big.example")

    def page(n: int) -> tuple[int | str, str, list[int]]:
        html = doc.get(f"/clinic/?kind=checkins&checkins_page={n}").get_data(as_text=True)
        section = _section(html, "checkins")
        label = "New check-ins to review pages"
        pager = re.search(rf'<nav class="pager" aria-label="{label}">.*?</nav>', html, re.S)
        rows = list(dict.fromkeys(re.findall(r"#day-(\d+)", section)))
        return _count(html, "checkins"), _text(pager.group(0)), rows

    count, text, _ = page(1)
    assert count == "more than 100" and "page 1 of more than 5 Next" in text
    assert "Previous" not in text
    # Past the counted rows the count goes as far as the page asked for, plus one.
    count, text, _ = page(6)
    assert count == "more than 120" and "Previous page 6 of more than 6 Next" in text
    count, text, rows = page(7)
    assert count == 123 and text.endswith("Previous page 7 of 7") and len(rows) == 3
    assert page(99)[1].endswith("page 7 of 7")  # past the end: the last page

    # Following "Next" from the first page lists every check-in once.
    seen, n = [], 1
    while True:
        _, text, rows = page(n)
        seen += [int(r) for r in rows]
        if not text.endswith("Next"):
            break
        n += 1
    assert n == 7 and len(seen) == 123 and set(seen) == all_ids


# ----------------------------------------------------------------- audit


def test_the_dashboard_audits_each_patient_it_shows_once_per_view(app, in_app, east, world):
    _submit_checkin(_patient_client(app, "amy"), yes=("calf-pain-swelling",))
    _submit_checkin(_patient_client(app, "ed"), pain=5)
    doc = app.test_client()
    login(doc, "doc@east.example")

    def dashboard_events() -> list[AuditEvent]:
        return in_app(
            lambda: db.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.detail == "dashboard")
                .order_by(AuditEvent.id)
            ).all()
        )

    html = doc.get("/clinic/").get_data(as_text=True)
    linked = [
        int(pid)
        for name in SECTIONS
        for pid in re.findall(r'<a href="/clinic/patients/(\d+)', _section(html, name))
    ]
    assert linked.count(east["amy"]) == 2  # an alert and a check-in to review
    assert {east["amy"], east["ed"], east["eve"], east["gus"]} <= set(linked)
    events = dashboard_events()
    # One event per patient on the page, however many times they are listed.
    assert sorted(e.patient_id for e in events) == sorted(set(linked))
    assert all(
        e.action == "view" and e.actor_name == "Doc" and e.address == "127.0.0.1" for e in events
    )
    # Every view is recorded, not only the first.
    doc.get("/clinic/?missed_page=1")
    assert len(dashboard_events()) == 2 * len(events)

    # Another clinic's clinician sees none of east's patients: no event about them.
    north = app.test_client()
    login(north, "doc1@north.example")
    north.get("/clinic/")
    north_events = dashboard_events()[2 * len(events) :]
    assert north_events and {e.actor_name for e in north_events} == {"Doc1"}
    assert not {e.patient_id for e in north_events} & set(east.values())
