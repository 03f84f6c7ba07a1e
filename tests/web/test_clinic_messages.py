"""The clinic's messages on Today (issue 19 point 3): a comment or an acknowledged alert
shows in a card at the top until the patient reads it in the diary or dismisses it.
The seen-state is kept on the server, so another phone agrees."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Comment
from app.models import OutboxMessage
from app.models import Patient
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_checkin import form
from tests.web.test_today_course import add_patient
from tests.web.test_today_course import doctor
from tests.web.test_today_course import only_alert_id

CARD = "A message from your clinic"


def _comment(app, patient_id: int, body: str) -> None:
    r = doctor(app).post(f"/clinic/patients/{patient_id}/comments", data={"body": body})
    assert r.status_code == 303


def _upto(html: str) -> str:
    card = html.split('id="clinic-messages"')[1]
    return card.split('name="upto" value="')[1].split('"')[0]


def _seen_at(in_app, patient_id: int):
    return in_app(lambda: db.session.get(Patient, patient_id).messages_seen_at)


def test_a_comment_shows_on_today_until_read_in_the_diary(app, client, world, clock, in_app):
    login(client, "alice@patients.example")
    assert CARD not in text_of(client.get("/patient/today"))
    clock.advance(minutes=5)
    _comment(app, world.patient_a, "Your scan is booked for Monday at 10:00.")
    html = client.get("/patient/today").get_data(as_text=True)
    page = text_of(client.get("/patient/today"))
    assert CARD in page
    assert "Doc1 , 12:05 today: Your scan is booked for Monday at 10:00." in page
    # At the top: before the day's tasks and the check-in card.
    assert html.index('id="clinic-messages"') < html.index('id="checkin-title"')
    r = client.post("/patient/messages/seen", data={"upto": _upto(html), "then": "diary"})
    assert r.status_code == 303
    assert r.headers["Location"].endswith("/patient/diary#comments-title")
    assert "Your scan is booked" in text_of(client.get("/patient/diary"))
    assert CARD not in text_of(client.get("/patient/today"))
    # Seen on the server: another phone of the same patient agrees.
    other = app.test_client()
    login(other, "alice@patients.example")
    assert CARD not in text_of(other.get("/patient/today"))
    # A later comment is new again.
    clock.advance(minutes=20)
    _comment(app, world.patient_a, "Please bring your stockings.")
    page = text_of(client.get("/patient/today"))
    assert "Please bring your stockings." in page
    assert "Your scan is booked" not in page


def test_got_it_keeps_a_message_written_after_the_page_was_drawn(app, client, world, clock, in_app):
    login(client, "alice@patients.example")
    _comment(app, world.patient_a, "First note.")
    html = client.get("/patient/today").get_data(as_text=True)
    clock.advance(minutes=2)
    _comment(app, world.patient_a, "Second note, written after the page was drawn.")
    r = client.post("/patient/messages/seen", data={"upto": _upto(html), "then": "today"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/patient/today")
    page = text_of(client.get("/patient/today"))
    assert CARD in page and "Second note" in page and "First note." not in page
    # An older page's button never moves the mark backwards.
    before = _seen_at(in_app, world.patient_a)
    old = (before - timedelta(days=1)).isoformat()
    client.post("/patient/messages/seen", data={"upto": old, "then": "today"})
    assert _seen_at(in_app, world.patient_a) == before
    # Nor past now.
    future = (clock() + timedelta(days=3)).isoformat()
    client.post("/patient/messages/seen", data={"upto": future})
    assert _seen_at(in_app, world.patient_a) == clock()


def test_an_acknowledgement_shows_who_and_when_with_the_shared_note(
    app, client, world, clock, in_app
):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    assert CARD not in text_of(client.get("/patient/today"))  # not acknowledged yet
    clock.advance(minutes=30)
    doctor(app).post(
        f"/clinic/alerts/{only_alert_id(in_app)}/acknowledge",
        data={"note": "We will call you at 14:00.", "share": "1"},
    )
    html = client.get("/patient/today").get_data(as_text=True)
    page = text_of(client.get("/patient/today"))
    assert CARD in page
    assert "Doc1 saw your answers at 12:30 today (you sent them at 12:00 today)." in page
    assert "There is a note for you below." in page
    assert page.count("We will call you at 14:00.") == 1  # in the seen-alert section
    client.post("/patient/messages/seen", data={"upto": _upto(html), "then": "today"})
    page = text_of(client.get("/patient/today"))
    assert CARD not in page
    assert "The clinic has seen your answers" in page  # the advice stays for its week


def test_an_unshared_note_is_not_mentioned(app, client, world, clock, in_app):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    doctor(app).post(
        f"/clinic/alerts/{only_alert_id(in_app)}/acknowledge", data={"note": "Internal only"}
    )
    page = text_of(client.get("/patient/today"))
    assert "Doc1 saw your answers at 12:00 today" in page
    assert "note for you" not in page and "Internal only" not in page


def test_before_treatment_and_only_the_patients_own(app, client, world, clock, in_app):
    _comment(app, world.patient_b, "See you tomorrow, Bob.")
    login(client, "bob@patients.example")  # booked tomorrow: no day yet
    assert "See you tomorrow, Bob." in text_of(client.get("/patient/today"))
    other = app.test_client()
    login(other, "alice@patients.example")
    assert CARD not in text_of(other.get("/patient/today"))
    dora = add_patient(in_app, "dora@patients.example", day=2)
    login(other, "dora@patients.example")
    assert CARD not in text_of(other.get("/patient/today"))
    assert dora
    cara = app.test_client()
    login(cara, "cara@patients.example")  # another clinic
    assert "See you tomorrow" not in text_of(cara.get("/patient/today"))


def test_only_the_newest_three_comments_show_the_rest_are_counted(app, client, world, clock):
    for n in range(5):
        clock.advance(minutes=1)
        _comment(app, world.patient_a, f"Comment number {n}.")
    login(client, "alice@patients.example")
    page = text_of(client.get("/patient/today"))
    assert "Comment number 4." in page and "Comment number 2." in page
    assert "Comment number 1." not in page
    assert "There are 2 more messages in your diary." in page


def test_bad_input_gets_a_message_and_staff_get_404(app, client, world, clock, in_app):
    login(client, "alice@patients.example")
    for upto in ("", "yesterday", "2026-11-20T12:00:00", "9" * 5000):
        r = client.post("/patient/messages/seen", data={"upto": upto}, follow_redirects=True)
        assert r.status_code == 200
        assert "That message could not be marked as read. Please try again." in text_of(r)
    assert _seen_at(in_app, world.patient_a) is None
    r = doctor(app).post("/patient/messages/seen", data={"upto": clock().isoformat()})
    assert r.status_code == 404


def test_no_health_details_in_the_push_for_a_comment(app, world, clock, in_app):
    _comment(app, world.patient_a, "Your scan showed a clot; call us.")

    def rows():
        return [
            (m.kind, m.link, repr(m.__dict__))
            for m in db.session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.patient_id == world.patient_a)
            )
        ]

    sent = in_app(rows)
    assert [(k, link) for k, link, _ in sent] == [("comment", "/patient/diary")]
    assert all("clot" not in text for _, _, text in sent)


def test_a_discharged_patient_can_still_mark_messages_read(app, client, world, clock, in_app):
    doc = doctor(app)
    doc.post(
        f"/clinic/patients/{world.patient_a}/discharge",
        data={"confirm": "yes", "reason": "Course complete"},
    )
    assert in_app(lambda: db.session.get(Patient, world.patient_a).discharged_at) is not None
    _comment(app, world.patient_a, "Glad it went well. Call us any time.")
    login(client, "alice@patients.example")
    html = client.get("/patient/today").get_data(as_text=True)
    assert "Glad it went well." in text_of(client.get("/patient/today"))
    r = client.post("/patient/messages/seen", data={"upto": _upto(html), "then": "today"})
    assert r.status_code == 303
    assert CARD not in text_of(client.get("/patient/today"))


def test_an_instant_at_the_edge_of_the_calendar_is_refused_not_a_500(
    app, client, world, clock, in_app
):
    # Year 1 with a positive offset is before year 1 in UTC: converting it for storage
    # overflowed (a 500).
    login(client, "alice@patients.example")
    for upto in ("0001-01-01T00:00:00+14:00", "0001-01-01T05:00:00+05:01"):
        r = client.post("/patient/messages/seen", data={"upto": upto}, follow_redirects=True)
        assert r.status_code == 200, upto
        assert "That message could not be marked as read. Please try again." in text_of(r)
    assert _seen_at(in_app, world.patient_a) is None


def _diary_seen_form(html: str) -> dict[str, str]:
    """The hidden form the diary posts once drawn (app.js), as the browser sends it."""
    form = html.split('id="messages-seen"')[1].split("</form>")[0]
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
    assert fields["then"] == "none" and fields["upto"]
    return fields


def test_opening_the_diary_clears_the_card_on_today(app, client, world, clock, in_app):
    """Task D point 2: the card says "until you open the diary"; opening the Diary tab
    (not the card's button) clears it too, and only up to when the diary was drawn."""
    login(client, "alice@patients.example")
    _comment(app, world.patient_a, "Your scan is booked for Monday at 10:00.")
    assert CARD in text_of(client.get("/patient/today"))
    html = client.get("/patient/diary").get_data(as_text=True)
    assert "Your scan is booked" in html
    fields = _diary_seen_form(html)
    clock.advance(minutes=1)
    _comment(app, world.patient_a, "Written after the diary was drawn.")
    r = client.post("/patient/messages/seen", data=fields)
    assert r.status_code == 204
    page = text_of(client.get("/patient/today"))
    assert CARD in page and "Written after the diary was drawn." in page
    assert "Your scan is booked" not in page
    # The next visit to the diary clears the rest; Today's card is gone.
    html = client.get("/patient/diary").get_data(as_text=True)
    assert client.post("/patient/messages/seen", data=_diary_seen_form(html)).status_code == 204
    assert CARD not in text_of(client.get("/patient/today"))


def test_a_diary_visit_with_nothing_new_writes_nothing(app, client, world, clock, in_app):
    login(client, "alice@patients.example")
    _comment(app, world.patient_a, "Hello.")
    html = client.get("/patient/diary").get_data(as_text=True)
    client.post("/patient/messages/seen", data=_diary_seen_form(html))
    before = _seen_at(in_app, world.patient_a)
    assert before is not None
    clock.advance(minutes=10)
    html = client.get("/patient/diary").get_data(as_text=True)
    assert client.post("/patient/messages/seen", data=_diary_seen_form(html)).status_code == 204
    assert _seen_at(in_app, world.patient_a) == before  # no message since: not moved


def test_the_diary_post_refuses_a_bad_instant_with_a_message(client, world):
    login(client, "alice@patients.example")
    r = client.post("/patient/messages/seen", data={"upto": "yesterday", "then": "none"})
    assert r.status_code == 400 and "could not be marked as read" in r.get_data(as_text=True)


def test_the_diary_marks_seen_only_what_it_read(app, client, world, clock, in_app):
    """A comment stamped before the diary was drawn but committed after its read (the
    clinician's request still writing its push) was never shown: the diary's POST must
    not mark it seen, or Today never flags it. The diary sends the newest message it
    read, not its draw time."""
    login(client, "alice@patients.example")
    _comment(app, world.patient_a, "Shown in the diary.")
    clock.advance(minutes=1)
    html = client.get("/patient/diary").get_data(as_text=True)
    fields = _diary_seen_form(html)

    def late_commit():
        stamped = clock.now - timedelta(seconds=20)  # its created_at, before the draw
        db.session.add(
            Comment(
                patient_id=world.patient_a,
                author_name="Doc1",
                body="Committed after the read.",
                created_at=stamped,
            )
        )
        db.session.commit()

    in_app(late_commit)
    assert client.post("/patient/messages/seen", data=fields).status_code == 204
    page = text_of(client.get("/patient/today"))
    assert CARD in page and "Committed after the read." in page
    assert "Shown in the diary." not in page


def test_the_diary_clears_an_acknowledgement_and_has_no_form_when_nothing_came(
    app, client, world, clock, in_app
):
    login(client, "alice@patients.example")
    assert 'id="messages-seen"' not in client.get("/patient/diary").get_data(as_text=True)
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    clock.advance(minutes=30)
    doctor(app).post(f"/clinic/alerts/{only_alert_id(in_app)}/acknowledge", data={"note": ""})
    assert CARD in text_of(client.get("/patient/today"))
    html = client.get("/patient/diary").get_data(as_text=True)
    assert client.post("/patient/messages/seen", data=_diary_seen_form(html)).status_code == 204
    assert CARD not in text_of(client.get("/patient/today"))
