"""The daily check-in as a patient uses it, and what the clinic then sees and does."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Alert
from app.models import AuditEvent
from app.models import CheckIn
from app.models import Clinic
from app.models import Comment
from app.models import OutboxMessage
from app.models import Photo
from app.models import Role
from tests.conftest import count
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of

# Alice is on day 3 of the 72 h protocol: these warning-sign questions are asked today.
# Skin breakdown and the routine changes are in their windows too, but the skin list,
# lumps, itching and bruising ask them (``covers``), so they are not asked twice.
DAY3_FLAGS = [
    "chest-breathing",
    "calf-pain-swelling",
    "cold-foot-severe-pain",
    "infection",
]


def form(yes=(), **overrides):
    data = {
        "pain": "2",
        "bruising": "mild",
        "skin": "none",
        "itching": "no",
        "lumps": "no",
        "stockings_day": "yes",
        "stockings_night": "yes",
        "walked": "yes",
        "elevated": "yes",
        "note": "",
        "client_key": "",
    }
    data.update({f"rf-{k}": ("yes" if k in yes else "no") for k in DAY3_FLAGS})
    data.update(overrides)
    return data


def test_checkin_page_asks_the_warning_signs_of_the_day(client, world):
    login(client, "alice@patients.example")
    page = text_of(client.get("/patient/checkin"))
    assert "Pain, swelling, warmth or tenderness in the calf" in page
    assert "Swelling of the face, lips or throat" not in page  # allergy: days 0-1 only
    assert "Start today's check-in" in text_of(client.get("/patient/today"))


def test_expected_answers_get_thanks_and_no_alert(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form())
    assert r.status_code == 200 and "Everything you told us sounds as expected" in text_of(r)
    assert in_app(count, CheckIn) == 1 and in_app(count, Alert) == 0
    assert "Done today at" in text_of(client.get("/patient/today"))


def test_routine_answers_get_reassurance_from_the_protocol(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(lumps="yes", skin="brown"))
    page = text_of(r)
    assert "Tender lumps" in page and "The clinic will look at it" in page
    assert "Small tender dark lumps along a treated vein" in page  # the protocol's normal text
    assert in_app(count, Alert) == 0


def test_same_day_answer_shows_clinic_phone_and_alerts_the_clinic(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    page = text_of(r)
    assert "Please call the clinic today" in page and "01632 960 111" in page
    assert 'href="tel:01632960111"' in r.get_data(as_text=True)
    assert "If the clinic is closed" in page
    alert = in_app(lambda: db.session.scalar(sa.select(Alert)))
    assert alert.level == "same_day" and "calf" in alert.reasons[0].lower()


def test_emergency_answer_shows_the_emergency_number_first(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"chest-breathing", "calf-pain-swelling"}))
    html = r.get_data(as_text=True)
    assert text_of(r).startswith("Call 999 now")  # the title, before anything else
    assert 'href="tel:999"' in html and 'role="alert"' in html
    assert in_app(lambda: db.session.scalar(sa.select(Alert.level))) == "emergency"


def test_double_submit_and_replay_are_stored_once(client, world, in_app):
    login(client, "alice@patients.example")
    data = form(yes={"calf-pain-swelling"}, client_key="k-123")
    for _ in range(3):
        assert client.post("/patient/checkin", data=data).status_code == 200
    assert in_app(count, CheckIn) == 1 and in_app(count, Alert) == 1
    assert in_app(lambda: db.session.scalar(sa.select(CheckIn.history))) == []


def test_replaying_a_first_submit_after_an_edit_keeps_the_edit(client, world, in_app):
    """The phone queued the first version; the patient then edited it online."""
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(pain="3", client_key="first"))
    client.post("/patient/checkin", data=form(pain="7", note="worse", client_key="second"))
    r = client.post("/patient/checkin", data=form(pain="3", client_key="first"))
    assert r.status_code == 200
    checkin = in_app(lambda: db.session.scalar(sa.select(CheckIn)))
    assert (checkin.pain, checkin.note) == (7, "worse")
    assert [h["answers"]["pain"] for h in checkin.history] == [3]
    # Both versions' keys stay known; the edit's replay changes nothing either.
    client.post("/patient/checkin", data=form(pain="7", note="worse", client_key="second"))
    assert len(in_app(lambda: db.session.scalar(sa.select(CheckIn.history)))) == 1


def test_two_first_submits_racing_end_as_one_check_in(app, client, world, in_app, monkeypatch):
    """Another request stores the day's check-in between this one's read and its insert:
    the insert hits the one-per-day constraint, and the request is stored again."""
    from app.services.checkins import submit

    login(client, "alice@patients.example")
    real = submit.check_answers
    raced = []

    def racing_check(**kwargs):
        if not raced:
            raced.append(1)
            # The other request, complete with its own commit, from inside this one.
            with app.test_client() as other:
                login(other, "alice@patients.example")
                assert other.post("/patient/checkin", data=form(pain="4")).status_code == 200
        return real(**kwargs)

    monkeypatch.setattr(submit, "check_answers", racing_check)
    r = client.post("/patient/checkin", data=form(pain="5", client_key="racer"))
    assert r.status_code == 200, text_of(r)
    checkin = in_app(lambda: db.session.scalar(sa.select(CheckIn)))
    assert in_app(count, CheckIn) == 1 and raced == [1]
    assert checkin.pain == 5 and [h["answers"]["pain"] for h in checkin.history] == [4]


def test_editing_the_same_day_keeps_earlier_answers(client, world, in_app):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(pain="3"))
    client.post("/patient/checkin", data=form(pain="6", note="worse tonight"))
    checkin = in_app(lambda: db.session.scalar(sa.select(CheckIn)))
    assert checkin.pain == 6 and checkin.note == "worse tonight"
    assert [h["answers"]["pain"] for h in checkin.history] == [3]


def test_bad_answers_are_named_and_nothing_is_lost(client, world, in_app):
    login(client, "alice@patients.example")
    cases = [
        ({"pain": "12"}, "Choose a pain score from 0 to 10."),
        ({"bruising": "purple"}, "Choose how much bruising you have."),
        (
            {"rf-calf-pain-swelling": ""},
            "Please answer yes or no: Pain, swelling, warmth or tenderness in the calf",
        ),
        ({"rf-allergy": "yes"}, "Answer only the questions shown."),
    ]
    for overrides, message in cases:
        r = client.post("/patient/checkin", data=form(note="my words stay", **overrides))
        assert r.status_code == 400 and message in text_of(r), overrides
        assert "my words stay" in r.get_data(as_text=True)  # the note is kept in the form
    assert in_app(count, CheckIn) == 0


def test_free_text_is_escaped_for_the_clinician(app, client, world, in_app):
    login(client, "alice@patients.example")
    client.post(
        "/patient/checkin", data=form(note='<script>alert("x")</script><img src=x onerror=1>')
    )
    doc = app.test_client()
    login(doc, "doc1@north.example")
    html = doc.get(f"/clinic/patients/{world.patient_a}").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_clinician_reviews_acknowledges_and_comments_all_audited(app, client, world, in_app):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    doc = app.test_client()
    login(doc, "doc1@north.example")
    board = text_of(doc.get("/clinic/"))
    assert "Alerts to acknowledge 1" in board and "Alice Marker-A" in board
    alert_id = in_app(lambda: db.session.scalar(sa.select(Alert.id)))
    checkin_id = in_app(lambda: db.session.scalar(sa.select(CheckIn.id)))
    doc.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": "Called her; scan booked"})
    doc.post(f"/clinic/checkins/{checkin_id}/review")
    doc.post(
        f"/clinic/patients/{world.patient_a}/comments", data={"body": "Please keep walking daily."}
    )
    board = text_of(doc.get("/clinic/"))
    assert "Alerts to acknowledge 0" in board and "New check-ins to review 0" in board
    alert = in_app(lambda: db.session.get(Alert, alert_id))
    assert alert.ack_note == "Called her; scan booked" and alert.acknowledged_at is not None
    actions = in_app(
        lambda: [
            e.action for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
        ]
    )
    assert {"acknowledge", "review", "comment"} <= set(actions)
    # The comment is in the patient's diary, and a generic notification is queued.
    diary = text_of(client.get("/patient/diary"))
    assert "Please keep walking daily." in diary and "Doc1" in diary
    assert (
        in_app(
            lambda: db.session.scalar(
                sa.select(OutboxMessage.kind).where(OutboxMessage.key.like("comment:%"))
            )
        )
        == "comment"
    )
    # Opening the diary is audited with who and from where, and the patient sees who looked.
    doc.get(f"/clinic/patients/{world.patient_a}")
    view = in_app(
        lambda: db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.action == "view", AuditEvent.detail == "diary")
        )
    )
    assert view.actor_name == "Doc1" and view.patient_id == world.patient_a and view.address
    assert "Who looked at your diary" in diary
    assert "Doc1" in text_of(client.get("/patient/diary"))


def test_other_clinics_clinician_gets_404_and_the_attempt_is_audited(app, world, in_app):
    doc2 = app.test_client()
    login(doc2, "doc2@south.example")
    assert doc2.get(f"/clinic/patients/{world.patient_a}").status_code == 404
    r = doc2.post(f"/clinic/patients/{world.patient_a}/comments", data={"body": "hello"})
    assert r.status_code == 404
    assert in_app(count, Comment) == 0
    refused = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == "refused")
        ).all()
    )
    assert len(refused) == 2 and all(e.actor_name == "Doc2" for e in refused)


def test_only_clinic_admins_read_the_audit_log(app, client, world, in_app):
    in_app(
        lambda: make_staff(
            db.session.get(Clinic, world.clinic1), "admin@north.example", Role.CLINIC_ADMIN
        )
    )
    doc = app.test_client()
    login(doc, "doc1@north.example")
    doc.get(f"/clinic/patients/{world.patient_a}")
    assert doc.get("/clinic/audit").status_code == 404
    admin = app.test_client()
    login(admin, "admin@north.example")
    page = text_of(admin.get("/clinic/audit"))
    assert "view: diary" in page and "Doc1" in page and "Alice Marker-A" in page


def test_empty_comment_is_refused_with_a_message(app, world):
    doc = app.test_client()
    login(doc, "doc1@north.example")
    r = doc.post(
        f"/clinic/patients/{world.patient_a}/comments", data={"body": "  "}, follow_redirects=True
    )
    assert "Write a comment first." in text_of(r)


def test_patient_sees_each_person_once_per_kind_of_look(app, client, world):
    """Dashboard listings are audited per patient; the patient's list must not drown in
    them: one line per person for the review list, one for opening the diary."""
    login(client, "alice@patients.example")
    doc = app.test_client()
    login(doc, "doc1@north.example")
    for _ in range(3):
        assert doc.get("/clinic/").status_code == 200
    assert doc.get(f"/clinic/patients/{world.patient_a}").status_code == 200
    page = text_of(client.get("/patient/diary"))
    assert page.count("Doc1 saw you in the clinic's review list") == 1
    assert page.count("Doc1 opened your diary, last on ") == 1
    # Newest first: the diary opening came after the last dashboard view.
    assert page.index("opened your diary") < page.index("review list")


def test_an_acknowledgement_note_is_shown_afterwards_and_a_long_one_refused(
    app, client, world, in_app
):
    login(client, "alice@patients.example")
    client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}))
    doc = app.test_client()
    login(doc, "doc1@north.example")
    alert_id = in_app(lambda: db.session.scalar(sa.select(Alert.id)))
    url, page = f"/clinic/alerts/{alert_id}/acknowledge", f"/clinic/patients/{world.patient_a}"
    long_note = "Called. " + "x" * 2000
    r = doc.post(url, data={"note": long_note, "patient": world.patient_a})
    assert r.status_code == 303 and r.headers["Location"].endswith(f"{page}#open-alerts")
    html = doc.get(page).get_data(as_text=True)
    assert "Please keep the note under 2,000 characters." in html
    assert long_note in html  # what was typed is back in this alert's note box
    assert in_app(lambda: db.session.get(Alert, alert_id).acknowledged_at) is None
    assert long_note not in doc.get(page).get_data(as_text=True)  # only once
    doc.post(url, data={"note": "Called her; scan booked", "patient": world.patient_a})
    shown = text_of(doc.get(page))
    assert "Acknowledged alerts" in shown and "by Doc1" in shown
    assert "Called her; scan booked" in shown


def test_the_clinicians_diary_day_shows_tasks_ticked_and_that_days_photos(
    app, client, world, in_app
):
    from tests.services.test_photos import phone_jpeg
    from tests.services.test_photos import upload

    login(client, "alice@patients.example")
    assert client.post("/patient/tasks/walks", data={"done": "1", "day": "3"}).status_code < 400
    assert upload(client, phone_jpeg((400, 300))).status_code == 303
    client.post("/patient/checkin", data=form())
    doc = app.test_client()
    login(doc, "doc1@north.example")
    r = doc.get(f"/clinic/patients/{world.patient_a}")
    page, html = text_of(r), r.get_data(as_text=True)
    assert "Tasks ticked: Walk several times today" in page
    photo_id = in_app(lambda: db.session.scalar(sa.select(Photo.id)))
    assert f'src="/clinic/photos/{photo_id}/thumb?s=' in html
    assert 'alt="Left calf, inner side, taken' in html
    # A day without ticks says so, rather than leaving the clinician to guess.
    client.post("/patient/tasks/walks", data={"done": "0", "day": "3"})
    assert "Tasks ticked: none" in text_of(doc.get(f"/clinic/patients/{world.patient_a}"))


def test_an_emergency_check_in_with_an_over_long_note_is_stored_alerted_and_shown(
    client, world, in_app
):
    """Only the note is refused: the warning signs are stored and triaged, the clinic is
    alerted, the emergency number comes first, and the note is shown back, not lost."""
    login(client, "alice@patients.example")
    long_note = "Chest feels tight. " + "x" * 2000
    r = client.post("/patient/checkin", data=form(yes={"chest-breathing"}, note=long_note))
    assert r.status_code == 200 and text_of(r).startswith("Call 999 now")
    assert "your note is not" in text_of(r) and long_note in r.get_data(as_text=True)
    stored = in_app(lambda: db.session.scalar(sa.select(CheckIn)))
    assert stored.level == "emergency" and stored.note == "" and stored.answers["note"] == ""
    assert in_app(lambda: db.session.scalar(sa.select(Alert.level))) == "emergency"


def test_an_over_long_note_with_a_missing_answer_comes_back_with_both_errors(client, world, in_app):
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(pain="", note="y" * 2001))
    page = text_of(r)
    assert r.status_code == 400 and in_app(count, CheckIn) == 0
    assert "Please keep the note under 2,000 characters." in page
    assert "y" * 2001 in r.get_data(as_text=True)  # what was typed is back in the box


def test_a_refused_check_in_with_a_warning_sign_still_shows_the_call_buttons_first(
    client, world, in_app
):
    """Chest pain answered yes, pain score forgotten: the form comes back to be finished,
    but the emergency call button comes before the error summary, not after it."""
    login(client, "alice@patients.example")
    r = client.post("/patient/checkin", data=form(yes={"chest-breathing"}, pain=""))
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and in_app(count, CheckIn) == 0
    assert 'href="tel:999"' in html
    assert html.index('href="tel:999"') < html.index('id="error-summary"')
    same_day = client.post("/patient/checkin", data=form(yes={"calf-pain-swelling"}, pain=""))
    assert "Please get advice today" in text_of(same_day)
    assert 'href="tel:999"' not in same_day.get_data(as_text=True).split('id="error-summary"')[0]
    calm = client.post("/patient/checkin", data=form(pain=""))
    assert 'id="urgent-advice"' not in calm.get_data(as_text=True)


def test_an_emergency_check_in_sent_three_days_late_still_alerts_the_clinic(
    client, world, in_app, clock
):
    """Filled in offline on day 3, the phone back online on day 6: the first check-in of
    day 3 is stored for day 3 and the clinic is alerted, not refused as too old."""
    login(client, "alice@patients.example")
    data = {**form(yes={"chest-breathing"}), "day": "3", "client_key": "late-1"}
    clock.advance(days=3)
    login(client, "alice@patients.example")  # the session ended meanwhile (30 idle min)
    r = client.post("/patient/checkin", data=data)
    assert r.status_code == 200 and text_of(r).startswith("Call 999 now")
    stored = in_app(lambda: db.session.scalar(sa.select(CheckIn)))
    assert (stored.day, stored.level) == (3, "emergency")
    assert in_app(lambda: db.session.scalar(sa.select(Alert.level))) == "emergency"


def test_answers_older_than_two_days_cannot_be_changed(client, world, in_app, clock):
    login(client, "alice@patients.example")
    assert client.post("/patient/checkin", data={**form(), "day": "3"}).status_code == 200
    clock.advance(days=3)
    login(client, "alice@patients.example")  # sessions end after 30 idle minutes
    r = client.post("/patient/checkin", data={**form(pain="6"), "day": "3"})
    assert r.status_code == 400 and "can no longer be changed" in text_of(r)
    assert in_app(lambda: db.session.scalar(sa.select(CheckIn.pain))) == 2
    future = client.post("/patient/checkin", data={**form(), "day": "9"})
    assert future.status_code == 400
