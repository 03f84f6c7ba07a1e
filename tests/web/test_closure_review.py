"""Review of account closure (issue 20 point 4): what the world does to a closed
account. A closed account stays closed whatever a clinician does on the record page
(re-open, a new email address, a new sign-in link, so no booking either), each refusal
a clear message and an audit event; odd input on the policy form is a message, never a
500."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AccountClosure
from app.models import AuditEvent
from app.models import Invitation
from app.models import OutboxMessage
from app.models import PasswordReset
from app.models import Patient
from app.models import Photo
from app.models import Treatment
from app.models import User
from app.services.audit import audit
from app.services.notify.email_notice import closure_email
from tests.conftest import count
from tests.conftest import is_postgres
from tests.conftest import login
from tests.conftest import text_of
from tests.web.test_access_matrix import _alices_objects
from tests.web.test_account_closure import ADMIN1
from tests.web.test_account_closure import ALICE
from tests.web.test_account_closure import _acknowledge_all
from tests.web.test_account_closure import _admins
from tests.web.test_account_closure import _ask
from tests.web.test_account_closure import _closure_id
from tests.web.test_account_closure import _complete
from tests.web.test_account_closure import notices_sent
from tests.web.test_remembered_device import PIN
from tests.web.test_remembered_device import remember

CLOSED = "account was closed at their request"


def _closed(client, world, in_app) -> None:
    """Alice asked; admin 1 completed it; admin 1 is signed in."""
    in_app(_admins, world)
    ids = in_app(_alices_objects, world.patient_a)
    login(client, ALICE)
    _ask(client)
    login(client, ADMIN1)
    _acknowledge_all(client, ids["alert"])
    assert _complete(client, _closure_id(in_app, world.patient_a)).status_code == 303


def _refusals(patient_id: int) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent.detail).where(
                AuditEvent.patient_id == patient_id, AuditEvent.action == "refused"
            )
        )
    )


def _alice(world):
    def read():
        p = db.session.get(Patient, world.patient_a)
        return p.discharged_at, p.user.email, p.user.is_active

    return read


def test_a_closed_account_cannot_be_reopened(client, world, in_app):
    _closed(client, world, in_app)
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "so it cannot be re-opened" in page and "Re-open this patient" not in page
    outbox = in_app(count, OutboxMessage)
    refused = client.post(f"/clinic/patients/{world.patient_a}/reopen", follow_redirects=True)
    assert refused.status_code == 200 and CLOSED in text_of(refused)
    discharged, _email, active = in_app(_alice(world))
    assert discharged is not None and active is False
    assert in_app(count, OutboxMessage) == outbox  # no reminders planned again
    assert in_app(_refusals, world.patient_a) == ["re-open a closed account"]


def test_a_closed_account_gets_no_new_email_address(client, world, in_app):
    _closed(client, world, in_app)
    before = in_app(_alice(world))
    refused = client.post(
        f"/clinic/patients/{world.patient_a}/edit",
        data={
            "name": "Alice Marker-A",
            "email": "alice2@patients.example",
            "phone": "",
            "timezone": "Europe/London",
        },
    )
    assert refused.status_code == 400 and CLOSED in text_of(refused)
    assert in_app(_alice(world)) == before
    assert in_app(_refusals, world.patient_a) == ["new email address for a closed account"]
    # The record itself stays correctable: a new name is saved.
    saved = client.post(
        f"/clinic/patients/{world.patient_a}/edit",
        data={
            "name": "Alice Marker-B",
            "email": before[1],
            "phone": "",
            "timezone": "Europe/London",
        },
    )
    assert saved.status_code == 303, text_of(saved)[-600:]


def test_a_closed_account_gets_no_sign_in_link(client, world, in_app):
    _closed(client, world, in_app)
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "Make a new invitation link" not in page and "Send a new sign-in link" not in page
    outbox = in_app(count, OutboxMessage)
    refused = client.post(
        f"/clinic/patients/{world.patient_a}/invitation",
        data={"email_it": "y"},
        follow_redirects=True,
    )
    assert refused.status_code == 200 and CLOSED in text_of(refused)
    assert "Invitation link" not in text_of(refused)
    assert in_app(count, Invitation) == 0 and in_app(count, OutboxMessage) == outbox
    assert in_app(_refusals, world.patient_a) == ["sign-in link for a closed account"]


def test_nor_a_booking_for_a_closed_account(client, world, in_app):
    _closed(client, world, in_app)
    sessions = in_app(count, Treatment)
    client.post(f"/clinic/patients/{world.patient_a}/reopen")
    booked = client.post(
        f"/clinic/patients/{world.patient_a}/sessions",
        data={"date": "2026-12-01", "time": "10:00", "protocol": "1"},
    )
    assert booked.status_code == 400
    assert in_app(count, Treatment) == sessions


def test_unicode_digits_in_the_retention_years_are_a_message(client, world, in_app):
    in_app(_admins, world)
    login(client, ADMIN1)
    for years in ("\u00b2", "\u2460", "\u00bd", "\U0001f600", "\u0663" * 3):
        refused = client.post("/clinic/closures/policy", data={"years": years, "photos": "keep"})
        assert refused.status_code == 400, repr(years)
        assert "Enter a whole number of years from 1 to 100." in text_of(refused)


def test_the_patient_page_says_whom_to_call_once_reminders_stop(client, world, in_app):
    """Closing ends check-ins and their triage: the page says so, with the numbers
    (docs/decisions/account-closure.md)."""
    login(client, ALICE)
    page = client.get("/patient/account/close")
    shown = text_of(page)
    assert "you get no reminders and no check-ins" in shown
    assert "in an emergency call 999" in shown
    assert 'href="tel:' in page.get_data(as_text=True)


def test_completing_waits_for_the_email_saying_what_is_kept(client, world, in_app):
    """Completing removes the address and cancelled the still-queued "what is kept"
    email: a patient whose clinic completed quickly never got their only copy of what
    the clinic keeps. Now the admin is told to wait until it has gone."""
    in_app(_admins, world)
    login(client, ALICE)
    _ask(client)
    login(client, ADMIN1)
    closure_id = _closure_id(in_app, world.patient_a)
    refused = client.post(
        f"/clinic/closures/{closure_id}/complete", data={"confirm": "yes"}, follow_redirects=True
    )
    assert "has not been sent yet" in text_of(refused)

    def notice():
        row = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.kind == "closure"))
        return row.state.value, db.session.get(Patient, world.patient_a).user.is_active

    assert in_app(notice) == ("pending", True)
    # Once it is sent, completing goes ahead.
    assert _complete(client, closure_id).status_code == 303
    assert in_app(notice) == ("sent", False)


def test_every_device_is_out_at_completion_pin_and_open_session_alike(app, world, in_app):
    """Alice is signed in on her phone (remembered, with a PIN) and on a laptop when
    the clinic completes her request: the next page on each is the sign-in page, the
    PIN does not bring her back, and nor does her old password or a reset request."""
    in_app(_admins, world)
    phone, laptop, admin = app.test_client(), app.test_client(), app.test_client()
    remember(phone)
    login(laptop, ALICE)
    assert phone.get("/patient/today").status_code == 200
    assert laptop.get("/patient/today").status_code == 200
    _ask(laptop)
    login(admin, ADMIN1)
    assert _complete(admin, _closure_id(in_app, world.patient_a)).status_code == 303
    for device in (phone, laptop):
        after = device.get("/patient/today")
        assert after.status_code == 302 and "/login" in after.location
    pin = phone.post("/login/pin?next=/patient/today", data={"pin": PIN, "next": "/patient/today"})
    assert pin.status_code == 302 and pin.location.startswith("/login")
    assert phone.get("/patient/today").status_code == 302
    assert login(laptop, ALICE).status_code != 302
    assert laptop.post("/forgot-password", data={"email": ALICE}).status_code in (200, 302, 303)
    assert in_app(count, PasswordReset) == 0
    # The same form for another patient does make a link: the check above is not empty.
    laptop.post("/forgot-password", data={"email": "bob@patients.example"})
    assert in_app(count, PasswordReset) == 1


def test_an_admin_records_a_request_made_by_phone(client, world, in_app, clock):
    """A patient whose read period has ended cannot sign in to ask; they phone. The
    admin records it (tick needed), the patient is emailed what is kept, and it is then
    completed as any other request. A second record finds the first."""
    in_app(_admins, world)
    login(client, ADMIN1)
    url = f"/clinic/patients/{world.patient_a}/closure-request"
    page = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "Record their request" in page
    unticked = client.post(url, data={}, follow_redirects=True)
    assert "Tick the box to confirm that the patient asked for this." in text_of(unticked)
    assert in_app(count, AccountClosure) == 0
    done = client.post(url, data={"confirm": "yes"}, follow_redirects=True)
    assert "Request recorded. Complete it on the Closures page." in text_of(done)
    again = client.post(url, data={"confirm": "yes"}, follow_redirects=True)
    assert "already asked" in text_of(again)
    assert in_app(count, AccountClosure) == 1
    kinds = in_app(lambda: list(db.session.scalars(sa.select(OutboxMessage.kind))))
    assert kinds.count("closure") == 1
    assert _complete(client, _closure_id(in_app, world.patient_a)).status_code == 303
    assert in_app(_alice(world))[2] is False


def test_only_an_admin_of_the_clinic_may_record_a_request(client, world, in_app):
    in_app(_admins, world)
    url = f"/clinic/patients/{world.patient_a}/closure-request"
    for who in ("doc1@north.example", "admin2@south.example", ALICE):
        login(client, who)
        assert client.post(url, data={"confirm": "yes"}).status_code == 404, who
        client.post("/logout")
    assert in_app(count, AccountClosure) == 0
    login(client, "doc1@north.example")
    assert "Record their request" not in text_of(client.get(f"/clinic/patients/{world.patient_a}"))


def test_the_patient_is_not_told_uk_rules_apply_to_every_clinic(client, world):
    """Clinics are not all in the UK (the app speaks Spanish too): the page and the
    email name the law on health records, not one country's."""
    login(client, ALICE)
    shown = text_of(client.get("/patient/account/close"))
    assert "UK" not in shown and "the law on keeping health records" in shown
    mail = closure_email(SimpleNamespace(detail="8|keep|01632 960000"), ALICE, {}, "")
    assert "UK" not in mail.text and "the law on keeping health records" in mail.text


def test_completion_keeps_the_promise_the_patient_was_emailed(client, world, in_app):
    """Alice asked under "8 years, photos kept" (and was emailed so); the admin then
    changed the clinic's policy to 3 years and photos deleted. Her request is completed
    under what she was told; the next patient's under the new policy."""
    in_app(_admins, world)
    ids = in_app(_alices_objects, world.patient_a)
    login(client, ALICE)
    _ask(client)
    login(client, ADMIN1)
    client.post("/clinic/closures/policy", data={"years": "3", "photos": "delete"})
    waiting = text_of(client.get("/clinic/closures"))
    assert "8 years" in waiting
    _acknowledge_all(client, ids["alert"])
    assert _complete(client, _closure_id(in_app, world.patient_a)).status_code == 303

    def applied():
        row = db.session.scalar(
            sa.select(AccountClosure).where(AccountClosure.patient_id == world.patient_a)
        )
        return row.retention_years, row.photos_policy, count(Photo)

    assert in_app(applied) == (8, "keep", 1)
    login(client, "bob@patients.example")
    shown = text_of(client.get("/patient/account/close"))
    assert "for 3 years after your account is closed" in shown


def test_a_request_the_patient_takes_back_is_withdrawn_not_completed(client, world, in_app):
    """Alice asked, then phoned to say she changed her mind (her page says to). The
    admin withdraws it: no request, audited, her account as it was, and she may ask
    again. A completed closure cannot be withdrawn."""
    in_app(_admins, world)
    login(client, ALICE)
    _ask(client)
    assert "Changed your mind? Call your clinic" in text_of(client.get("/patient/account/close"))
    login(client, ADMIN1)
    closure_id = _closure_id(in_app, world.patient_a)
    assert "Withdraw: the patient changed their mind" in text_of(client.get("/clinic/closures"))
    done = client.post(f"/clinic/closures/{closure_id}/withdraw", follow_redirects=True)
    assert "Request withdrawn." in text_of(done)
    assert in_app(count, AccountClosure) == 0
    assert in_app(_alice(world))[1:] == (ALICE, True)
    events = in_app(
        lambda: list(
            db.session.scalars(
                sa.select(AuditEvent.detail).where(AuditEvent.action == "close request")
            )
        )
    )
    assert events == ["asked to close their account", "withdrawn: the patient changed their mind"]
    login(client, ALICE)
    _ask(client)
    assert in_app(count, AccountClosure) == 1


def test_a_completed_closure_cannot_be_withdrawn(client, world, in_app):
    _closed(client, world, in_app)
    closure_id = _closure_id(in_app, world.patient_a)
    refused = client.post(f"/clinic/closures/{closure_id}/withdraw", follow_redirects=True)
    assert CLOSED in text_of(refused)
    assert in_app(count, AccountClosure) == 1
    assert in_app(_alice(world))[2] is False


def _while_held(client, world, in_app, act, other) -> list[tuple[int, str]]:
    """Run ``act`` (a request) while another transaction holds Alice's patient lock and
    does ``other`` (on its connection), then commits: the request read the closure
    before the lock, and finds it changed after."""
    answers: list[tuple[int, str]] = []

    def run() -> None:
        r = act()
        answers.append((r.status_code, text_of(r)))

    with client.application.app_context():
        conn = db.engine.connect()
    tx = conn.begin()
    conn.execute(sa.select(Patient.id).where(Patient.id == world.patient_a).with_for_update())
    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)  # the request now waits on the patient's row
    other(conn)
    tx.commit()
    conn.close()
    worker.join(10)
    return answers


@pytest.mark.skipif(not is_postgres(), reason="row locks need PostgreSQL (TEST_DATABASE_URL)")
def test_two_admins_withdrawing_at_once_is_no_500(client, world, in_app):
    in_app(_admins, world)
    login(client, ALICE)
    _ask(client)
    login(client, ADMIN1)
    closure_id = _closure_id(in_app, world.patient_a)
    gone = sa.delete(AccountClosure).where(AccountClosure.id == closure_id)
    answers = _while_held(
        client,
        world,
        in_app,
        lambda: client.post(f"/clinic/closures/{closure_id}/withdraw", follow_redirects=True),
        lambda conn: conn.execute(gone),
    )
    ((status, text),) = answers
    assert status == 200 and "Request withdrawn." in text


@pytest.mark.skipif(not is_postgres(), reason="row locks need PostgreSQL (TEST_DATABASE_URL)")
def test_completing_a_request_withdrawn_meanwhile_is_a_message(client, world, in_app):
    in_app(_admins, world)
    login(client, ALICE)
    _ask(client)
    login(client, ADMIN1)
    closure_id = _closure_id(in_app, world.patient_a)
    notices_sent(client.application)
    gone = sa.delete(AccountClosure).where(AccountClosure.id == closure_id)
    answers = _while_held(
        client,
        world,
        in_app,
        lambda: client.post(
            f"/clinic/closures/{closure_id}/complete",
            data={"confirm": "yes"},
            follow_redirects=True,
        ),
        lambda conn: conn.execute(gone),
    )
    ((status, text),) = answers
    assert status == 200 and "This request was withdrawn" in text
    assert in_app(_alice(world))[2] is True


def test_an_erased_records_audit_is_not_shown_as_a_newer_patients(client, world, in_app, clock):
    """The audit trail outlives an erased record and names it by id; on SQLite a new
    patient can get that id (the erased row was the last). Events from before the
    account existed are not theirs: not in their "who looked at your diary", and not
    under their name in the clinic's audit log. (Made here by an event dated before
    Alice's account, so it runs the same on PostgreSQL.)"""
    in_app(_admins, world)

    def earlier_view():
        admin = db.session.scalar(sa.select(User).where(User.email == ADMIN1))
        admin.name = "Dr Previous"
        db.session.commit()
        principal = SimpleNamespace(id=admin.id, name="Dr Previous", clinic_id=world.clinic1)
        audit(principal, world.patient_a, "view", "127.0.0.1", "diary")
        db.session.commit()

    clock.advance(days=-400)
    in_app(earlier_view)
    clock.advance(days=400)
    login(client, ALICE)
    diary = text_of(client.get("/patient/diary"))
    assert "Who looked at your diary" in diary and "Dr Previous" not in diary
    login(client, ADMIN1)
    log = client.get("/clinic/audit").get_data(as_text=True)
    row = log[log.index("Dr Previous") :].split("</tr>")[0]
    assert "Marker-A" not in row
