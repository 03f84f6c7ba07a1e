"""Today as a patient reads it: it says when (issue 14 point 2), a course ends (point 9),
and urgent advice stays until the clinic has seen it (point 4)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import time

import sqlalchemy as sa
from sqlalchemy import event

from app.extensions import db
from app.models import Alert
from app.models import AuditEvent
from app.models import Clinic
from tests.conftest import login
from tests.conftest import make_patient
from tests.conftest import text_of
from tests.web.test_checkin import form


def add_patient(in_app, email: str, **kwargs) -> int:
    def build() -> int:
        clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "north"))
        return make_patient(clinic, email, **kwargs).id

    return in_app(build)


# ------------------------------------------------------------------ point 2


def test_first_night_of_the_24h_protocol_today_and_plan_agree(client, world, clock, in_app):
    """00:30 on the first night after a 14:00 treatment: day and night until 14:00, the
    night-off milestone ahead with its time, on both pages; nothing "from now"."""
    clock.now = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)  # London is on UTC in November
    add_patient(
        in_app, "nina@patients.example", day=1, key="compression-24h", at=time(14, 0), now=clock()
    )
    login(client, "nina@patients.example")
    today = text_of(client.get("/patient/today"))
    assert "Day 1 after your treatment" in today
    assert "Wear your stockings day and night" in today and "Until 14:00 today" in today
    ahead = "From 14:00 today: you can take your stockings off to sleep"
    assert ahead in today
    assert "From 14:00 today until the end of Fri 4 Dec: wear your stockings all day" in today
    assert "from now" not in today
    plan = text_of(client.get("/patient/plan"))
    assert ahead in plan
    assert "from now" not in plan
    # At 14:00 the milestone has come: both pages say "from now", one regime in force.
    clock.now = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
    login(client, "nina@patients.example")  # sessions end after 30 idle minutes
    today = text_of(client.get("/patient/today"))
    now_text = "You can take your stockings off to sleep from now"
    assert now_text in today and now_text in text_of(client.get("/patient/plan"))
    assert "Wear your stockings day and night" not in today


def test_day_0_does_not_show_the_walk_that_ended_hours_ago(client, world, clock, in_app):
    clock.now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    add_patient(in_app, "walt@patients.example", day=0, at=time(3, 49), now=clock())
    login(client, "walt@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Treatment day" in page
    assert "Walk for 10 minutes straight after treatment" not in page
    assert "06:49" not in page


# ------------------------------------------------------------------ point 9


def test_day_273_course_complete_no_checkin_no_stockings(client, world, clock, in_app):
    add_patient(in_app, "olga@patients.example", day=273)
    login(client, "olga@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Day 273 after your treatment" in page
    assert "Your course is complete" in page
    assert "new veins" in page  # what to expect in the long term
    assert "To book, call North Clinic" in page and "01632 960 111" in page
    assert "Start today's check-in" not in page and "Daily check-in" not in page
    assert "stockings" not in page.lower()
    assert "Next session, if you need one" not in page  # the 4-12 week window has passed
    html = client.get("/patient/checkin").get_data(as_text=True)
    assert "Your course is complete" in text_of(client.get("/patient/checkin"))
    assert 'name="stockings_day"' not in html and "<form" not in html.split("<main")[-1]


def test_follow_up_boundary_day_28_then_29(client, world, clock, in_app):
    add_patient(in_app, "pat@patients.example", day=28)
    login(client, "pat@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Start today's check-in" in page and "Your course is complete" not in page
    assert "How are you today?" in text_of(client.get("/patient/checkin"))
    clock.advance(hours=12)  # Sat 21 Nov 00:00 London: day 29
    login(client, "pat@patients.example")  # sessions end after 30 idle minutes
    page = text_of(client.get("/patient/today"))
    assert "Day 29 after your treatment" in page
    assert "Your course is complete" in page and "Start today's check-in" not in page
    # Still inside the usual window for a next session (4-12 weeks): it is offered.
    assert "If you need another session, the usual time is between" in page


def test_after_follow_up_with_a_session_booked_it_is_not_complete(client, world, clock, in_app):
    from app.models import Treatment

    pid = add_patient(in_app, "quin@patients.example", day=40)

    def book() -> None:
        t = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == pid))
        later = Treatment(
            patient_id=pid,
            protocol_version_id=t.protocol_version_id,
            appointment_at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        )
        db.session.add(later)
        db.session.commit()

    in_app(book)
    login(client, "quin@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Your course is complete" not in page
    assert "Daily check-ins for this session have finished" in page
    assert "Open your checklist" in page


# ------------------------------------------------------------------ point 4


def doctor(app):
    doc = app.test_client()
    login(doc, "doc1@north.example")
    return doc


def only_alert_id(in_app) -> int:
    return in_app(lambda: db.session.scalar(sa.select(Alert.id)))


def test_emergency_advice_stays_across_reloads_and_days_until_acknowledged(
    app, client, world, clock, in_app
):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    assert "Call 999 now" in text_of(r)
    for _ in range(2):  # reloads
        page = text_of(client.get("/patient/today"))
        assert "Call 999 now if you have not already" in page
        assert "This stays here until someone at the clinic has seen your answers" in page
    html = client.get("/patient/today").get_data(as_text=True)
    assert 'href="tel:999"' in html.split('id="urgent-advice"')[1].split("</section>")[0]
    # The advice comes before everything else of the day.
    assert html.index('id="urgent-advice"') < html.index('id="tasks-title"')
    clock.advance(days=2)
    login(client, "alice@patients.example")  # sessions end after 30 idle minutes
    page = text_of(client.get("/patient/today"))
    assert "Day 5 after your treatment" in page
    assert "Call 999 now if you have not already" in page
    # Acknowledged without sharing: Today says when it was seen, never the note.
    doctor(app).post(
        f"/clinic/alerts/{only_alert_id(in_app)}/acknowledge",
        data={"note": "Internal: ambulance called by us"},
    )
    page = text_of(client.get("/patient/today"))
    assert "Call 999 now if you have not already" not in page
    assert "The clinic has seen your answers" in page
    assert "North Clinic saw it at 12:00 today" in page
    assert "ambulance" not in page


def test_same_day_advice_then_a_shared_note(app, client, world, clock, in_app):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    page = text_of(client.get("/patient/today"))
    assert "Please call the clinic today" in page
    assert "Call North Clinic: 01632 960 111" in page
    assert "If the clinic is closed when you call, or nobody answers, call NHS 111" in page
    assert "Done today at 12:00. Thank you." in page  # the check-in itself is done
    clock.advance(hours=1, minutes=5)
    login(client, "alice@patients.example")  # sessions end after 30 idle minutes
    doc = doctor(app)
    doc.post(
        f"/clinic/alerts/{only_alert_id(in_app)}/acknowledge",
        data={"note": "Please come in at 15:00 for a scan.", "share": "1"},
    )
    page = text_of(client.get("/patient/today"))
    assert "Please call the clinic today" not in page
    assert "North Clinic saw it at 13:05 today" in page
    assert "A note from the clinic for you: Please come in at 15:00 for a scan." in page
    detail = in_app(
        lambda: db.session.scalar(
            sa.select(AuditEvent.detail).where(AuditEvent.action == "acknowledge")
        )
    )
    assert detail.endswith("(note shared with the patient)")
    assert "(shared with the patient)" in text_of(doc.get(f"/clinic/patients/{world.patient_a}"))
    # A week later the acknowledgement has done its job and leaves Today.
    clock.advance(days=7, minutes=1)
    login(client, "alice@patients.example")
    assert "The clinic has seen your answers" not in text_of(client.get("/patient/today"))


def test_another_patients_alert_never_shows(app, client, world, clock, in_app):
    add_patient(in_app, "dora@patients.example", day=3)
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    other = app.test_client()
    login(other, "dora@patients.example")
    assert "Please call the clinic today" not in text_of(other.get("/patient/today"))
    doctor(app).post(
        f"/clinic/alerts/{only_alert_id(in_app)}/acknowledge",
        data={"note": "Alice: scan at 15:00", "share": "1"},
    )
    page = text_of(other.get("/patient/today"))
    assert "The clinic has seen your answers" not in page and "Alice" not in page
    cara = app.test_client()
    login(cara, "cara@patients.example")  # another clinic
    assert "scan at 15:00" not in text_of(cara.get("/patient/today"))


def test_today_with_alerts_still_needs_two_statements(app, client, world, clock, in_app):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    clock.advance(days=1)
    login(client, "alice@patients.example")  # sessions end after 30 idle minutes
    client.post("/patient/checkin", data=form(yes={"chest-breathing"}))
    doctor(app).post(
        f"/clinic/alerts/{only_alert_id(in_app)}/acknowledge", data={"note": "ok", "share": "1"}
    )
    client.get("/patient/today")  # warm
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    engine = in_app(lambda: db.engine)
    event.listen(engine, "before_cursor_execute", record)
    try:
        page = text_of(client.get("/patient/today"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "The clinic has seen your answers" in page
    assert len(statements) <= 2, statements


def test_a_milestone_ahead_does_not_show_text_written_for_its_moment(client, world, clock, in_app):
    """The evening of day 14 (24 h protocol): "From tomorrow: strenuous exercise ... are
    fine again", without its detail "keep wearing your stockings ... until tomorrow",
    which is only true from day 15."""
    clock.now = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    add_patient(in_app, "ella@patients.example", day=14, key="compression-24h", now=clock())
    login(client, "ella@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "From tomorrow: strenuous exercise, sun and long journeys are fine again" in page
    assert "Keep wearing your stockings in the daytime until tomorrow" not in page
    clock.advance(hours=4)  # day 15: the moment has come, the detail is true
    login(client, "ella@patients.example")  # sessions end after 30 idle minutes
    page = text_of(client.get("/patient/today"))
    assert "Strenuous exercise, sun and long journeys are fine again" in page
    assert "Keep wearing your stockings in the daytime until tomorrow" in page


def test_same_day_advice_on_today_knows_the_clinic_is_closed(app, client, world, clock, in_app):
    """The issue's Sunday 04:22: the advice kept on Today leads with the out-of-hours
    route, as the result page does (shared partial _contact_buttons.html)."""
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    clock.now = datetime(2026, 11, 22, 4, 22, tzinfo=UTC)  # Sunday, London
    login(client, "alice@patients.example")  # sessions end after 30 idle minutes
    html = client.get("/patient/today").get_data(as_text=True)
    block = html.split('id="urgent-advice"')[1].split("</section>")[0]
    assert "Please call NHS 111 for advice" in block
    assert "The clinic is closed now." in block
    assert block.index('href="tel:111"') < block.index('href="tel:01632960111"')
