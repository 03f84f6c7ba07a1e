"""Review of the patient lifecycle (issue 17 point 4), tried the way the world will:
two tabs at once, a clinician working on a discharged patient, the dispatcher racing a
discharge, and a time-zone change across a clock change with the dispatcher down."""

from __future__ import annotations

import html as html_lib
import re
import threading
import time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent
from app.models import OutboxMessage
from app.models import Patient
from app.models import Treatment
from app.models import User
from app.models.notification import OPEN_STATES
from app.services.clinic import lifecycle
from tests.conftest import is_postgres
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_patient_edit import DOC1
from tests.web.test_patient_edit import details

BOB = "bob@patients.example"


def _email_taken_meanwhile(monkeypatch, world) -> None:
    """The other tab: between this form's uniqueness check and its write, another
    clinician saves Bob's record with the same new email (committed on its own
    connection, as another worker would)."""
    real = lifecycle._check_email

    def check_then_lose_the_race(text: str, user_id: int) -> str:
        email = real(text, user_id)  # passes: nobody has the address yet
        bob = db.session.get(Patient, world.patient_b).user_id
        with db.engine.begin() as other_tab:
            other_tab.execute(sa.update(User).where(User.id == bob).values(email=email))
        return email

    monkeypatch.setattr(lifecycle, "_check_email", check_then_lose_the_race)


def _alice(world) -> tuple[str, str, str]:
    p = db.session.get(Patient, world.patient_a)
    return p.user.name, p.user.email, p.timezone


def _changes() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "change")
    )


def test_two_tabs_saving_the_same_new_email_with_a_new_time_zone_get_a_message(
    client, world, in_app, monkeypatch
):
    """The time-zone change re-plans reminders, which reads the database and so flushed
    the new email before the write was guarded: the unique constraint was a 500."""
    _email_taken_meanwhile(monkeypatch, world)
    login(client, DOC1)
    typed = details(email="shared@patients.example", timezone="America/New_York")
    r = client.post(f"/clinic/patients/{world.patient_a}/edit", data=typed)
    assert r.status_code == 400
    assert "There is already an account with this email." in text_of(r)
    html = r.get_data(as_text=True)
    assert 'id="email-error"' in html
    assert 'value="shared@patients.example"' in html and 'value="Alice Newname"' in html
    # Nothing of this form was saved, and nothing was audited as changed.
    assert in_app(_alice, world) == ("Alice Marker-A", "alice@patients.example", "Europe/London")
    assert in_app(_changes) == 0


def test_two_tabs_saving_the_same_new_email_alone_get_a_message(client, world, in_app, monkeypatch):
    _email_taken_meanwhile(monkeypatch, world)
    login(client, DOC1)
    typed = details(email="shared@patients.example", timezone="Europe/London")
    r = client.post(f"/clinic/patients/{world.patient_a}/edit", data=typed)
    assert r.status_code == 400
    assert "There is already an account with this email." in text_of(r)
    assert in_app(_alice, world)[1] == "alice@patients.example"
    assert in_app(_changes) == 0


def _open_patient_rows(patient_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.patient_id == patient_id,
            OutboxMessage.recipient_user_id.is_(None),
            OutboxMessage.state.in_(OPEN_STATES),
        )
    )


def test_a_discharged_patient_booked_recorded_or_commented_on_gets_no_reminder(
    client, world, in_app
):
    """Bob (booked tomorrow) is discharged, which cancels the session he still had
    booked (an adversarial test found him told both "course ended" and "your treatment
    is tomorrow"). The clinician leaves a comment, which is kept, and tries to record
    the session or book another, which are refused until he is re-opened (it would get
    no reminders). Nothing is queued to his phone until he is re-opened and booked."""
    login(client, DOC1)
    r = client.post(f"/clinic/patients/{world.patient_b}/discharge", data={"confirm": "yes"})
    assert r.status_code == 303
    assert in_app(_open_patient_rows, world.patient_b) == 0
    (tid,) = in_app(
        lambda: db.session.scalars(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        ).all()
    )
    recorded = {
        "date": "2026-11-20",
        "time": "11:15",
        "sclerosant": "Polidocanol",
        "form": "foam",
        "areas": "right calf",
        "checks_done": "y",
    }
    # Recording is refused too (issue 19 review): its aftercare would go unasked. The
    # discharge cancelled the session, so the page says that.
    r = client.post(f"/clinic/sessions/{tid}/record", data=recorded)
    assert r.status_code == 400 and "This appointment was cancelled." in text_of(r)
    version = in_app(lambda: db.session.get(Treatment, tid).protocol_version_id)
    booked = {"date": "2026-12-18", "time": "10:00", "protocol": str(version)}
    r = client.post(
        f"/clinic/patients/{world.patient_b}/sessions", data=booked, follow_redirects=True
    )
    assert "Re-open their record before booking a session" in text_of(r)
    r = client.post(f"/clinic/patients/{world.patient_b}/comments", data={"body": "All well."})
    assert r.status_code == 303
    statuses = in_app(
        lambda: sorted(
            t.status.value
            for t in db.session.scalars(
                sa.select(Treatment).where(Treatment.patient_id == world.patient_b)
            )
        )
    )
    assert statuses == ["cancelled"]
    assert in_app(_open_patient_rows, world.patient_b) == 0
    # Re-opened and booked again, the course is planned again.
    assert client.post(f"/clinic/patients/{world.patient_b}/reopen").status_code == 303
    r = client.post(f"/clinic/patients/{world.patient_b}/sessions", data=booked)
    assert r.status_code == 303, text_of(r)
    assert in_app(_open_patient_rows, world.patient_b) > 0


def test_a_discharged_patients_today_page_does_not_invite_a_check_in(client, world, in_app):
    """Today still said "Tell the clinic how you are today" with a check-in button, which
    led to a refusal: a patient with a warning sign must not be asked to tell the clinic
    through a form it no longer reads. The page says whom to call instead."""
    login(client, "alice@patients.example")
    assert "Start today's check-in" in text_of(client.get("/patient/today"))
    doc = client.application.test_client()
    login(doc, DOC1)
    r = doc.post(f"/clinic/patients/{world.patient_a}/discharge", data={"confirm": "yes"})
    assert r.status_code == 303
    page = client.get("/patient/today")
    text = text_of(page)
    assert page.status_code == 200
    assert "/patient/checkin" not in page.get_data(as_text=True)
    assert "Tell the clinic how you are today" not in text
    assert "Check-ins have closed because your clinic has discharged you." in text
    assert "01632 960 111" in text and "call 999" in text


def _edit_form(client, patient_id: int) -> dict[str, str]:
    """The edit form as a browser tab holds it once opened: every field, hidden ones too."""
    html = client.get(f"/clinic/patients/{patient_id}/edit").get_data(as_text=True)
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    zone = re.search(r'<option selected value="([^"]+)"', html)
    fields["timezone"] = zone.group(1)
    fields.pop("csrf_token", None)
    return {k: html_lib.unescape(v) for k, v in fields.items()}


def test_two_tabs_editing_different_fields_do_not_undo_each_other(client, world, in_app):
    """Tab 1 and tab 2 open the edit form; tab 1 saves a new phone number, then tab 2
    saves a new name. Tab 2's form still held the old (empty) phone, and saving it put
    that back: tab 1's change was silently undone."""
    login(client, DOC1)
    tab1 = _edit_form(client, world.patient_a)
    tab2 = _edit_form(client, world.patient_a)
    tab1["phone"] = "07700 900123"
    assert client.post(f"/clinic/patients/{world.patient_a}/edit", data=tab1).status_code == 303
    tab2["name"] = "Alice Renamed"
    assert client.post(f"/clinic/patients/{world.patient_a}/edit", data=tab2).status_code == 303
    p = in_app(lambda: db.session.get(Patient, world.patient_a))
    assert (p.phone, in_app(_alice, world)[0]) == ("07700 900123", "Alice Renamed")


def test_two_tabs_changing_the_same_field_ask_before_replacing(client, world, in_app):
    """Both tabs change the phone: the second is told what the first saved, keeps what
    it typed, and replaces it only when saved again."""
    login(client, DOC1)
    url = f"/clinic/patients/{world.patient_a}/edit"
    tab1 = _edit_form(client, world.patient_a)
    tab2 = _edit_form(client, world.patient_a)
    tab1["phone"] = "07700 900123"
    assert client.post(url, data=tab1).status_code == 303
    tab2["phone"] = "07700 900999"
    r = client.post(url, data=tab2)
    assert r.status_code == 400
    assert "Someone changed this to “07700 900123” while you were editing" in text_of(r)
    assert 'value="07700 900999"' in r.get_data(as_text=True)
    assert in_app(lambda: db.session.get(Patient, world.patient_a).phone) == "07700 900123"
    again = dict(
        re.findall(r'<input[^>]*name="(was_[a-z]+)"[^>]*value="([^"]*)"', r.get_data(as_text=True))
    )
    assert client.post(url, data={**tab2, **again}).status_code == 303
    assert in_app(lambda: db.session.get(Patient, world.patient_a).phone) == "07700 900999"


def test_a_discharged_patients_pages_offer_nothing_that_is_refused(client, world, in_app):
    """Every page a discharged patient may read offered actions that are refused after
    discharge: "Turn on reminders", quiet hours, "Add a photo", "Do today's check-in".
    Only turning a device off stays (it is allowed, a shared phone must stop them)."""
    doc = client.application.test_client()
    login(doc, DOC1)
    assert (
        doc.post(
            f"/clinic/patients/{world.patient_a}/discharge", data={"confirm": "yes"}
        ).status_code
        == 303
    )
    login(client, "alice@patients.example")
    refused = ("/patient/checkin", "/patient/photos/new", "/patient/reminders/quiet-hours")
    for path in (
        "/patient/today",
        "/patient/diary",
        "/patient/photos",
        "/patient/reminders",
        "/patient/plan",
        "/patient/checklist",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        html = r.get_data(as_text=True)
        assert [u for u in refused if f'"{u}"' in html] == [], path
        assert 'id="push-panel"' not in html, path
    text = text_of(client.get("/patient/reminders"))
    assert "Reminders have stopped because your clinic has discharged you." in text


def _audited(action: str, patient_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.patient_id == patient_id)
    )


def test_double_submits_of_discharge_and_re_open_change_things_once(client, world, in_app):
    login(client, DOC1)
    a = world.patient_a
    url = f"/clinic/patients/{a}"
    for _ in range(2):
        assert client.post(f"{url}/discharge", data={"confirm": "yes"}).status_code == 303
    assert in_app(_audited, "discharge", a) == 1
    for _ in range(2):
        assert client.post(f"{url}/reopen").status_code == 303
    assert in_app(_audited, "re-open", a) == 1
    planned = in_app(_open_patient_rows, a)
    assert planned > 0
    assert client.post(f"{url}/reopen").status_code == 303  # a third, from an old tab
    assert in_app(_open_patient_rows, a) == planned  # nothing queued twice
    # A discharge page left open in another tab since before the re-open still works.
    assert client.post(f"{url}/discharge", data={"confirm": "yes"}).status_code == 303
    assert in_app(_open_patient_rows, a) == 0 and in_app(_audited, "discharge", a) == 2


def test_two_tabs_giving_one_patient_the_same_new_email_save_once(client, world, in_app):
    login(client, DOC1)
    url = f"/clinic/patients/{world.patient_a}/edit"
    tab1 = _edit_form(client, world.patient_a)
    tab2 = _edit_form(client, world.patient_a)
    tab1["email"] = tab2["email"] = "alice.new@patients.example"
    assert client.post(url, data=tab1).status_code == 303
    r = client.post(url, data=tab2)
    assert r.status_code == 303
    assert "Nothing changed." in text_of(client.get(r.location))
    assert in_app(_alice, world)[1] == "alice.new@patients.example"
    assert in_app(_changes) == 1


@pytest.mark.skipif(not is_postgres(), reason="row locks need PostgreSQL (TEST_DATABASE_URL)")
def test_a_save_landing_during_another_save_waits_and_asks(client, world, in_app):
    """Another worker is saving Alice's phone (row locked, not yet committed) when this
    tab saves a different phone. It read the old value before that commit and wrote
    after it: the other save was overwritten unseen. Now it waits for the patient's
    lock, sees the new value, and asks (as two tabs one after the other do)."""
    login(client, DOC1)
    url = f"/clinic/patients/{world.patient_a}/edit"
    tab = _edit_form(client, world.patient_a)
    tab["phone"] = "07700 900999"
    answers: list[tuple[int, str]] = []

    def save() -> None:
        r = client.post(url, data=tab)
        answers.append((r.status_code, text_of(r)))

    with client.application.app_context():
        other = db.engine.connect()
    other_tx = other.begin()
    other.execute(
        sa.update(Patient).where(Patient.id == world.patient_a).values(phone="07700 900123")
    )
    worker = threading.Thread(target=save)
    worker.start()
    time.sleep(0.5)  # the tab's save is now waiting on the row
    other_tx.commit()
    other.close()
    worker.join(10)
    ((status, text),) = answers
    assert status == 400
    assert "Someone changed this to “07700 900123” while you were editing" in text
    assert in_app(lambda: db.session.get(Patient, world.patient_a).phone) == "07700 900123"
