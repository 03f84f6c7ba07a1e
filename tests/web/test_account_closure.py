"""Closing an account (issue 20 point 4): the patient asks (once), a clinic admin
completes it under the clinic's retention policy, and both see what was kept, why and
until when. Every refusal has its test: a non-admin completing, completing twice, a
patient asking twice, another clinic's admin, an open alert, bad policy input."""

from __future__ import annotations

import os
from datetime import UTC
from datetime import datetime
from types import SimpleNamespace

import sqlalchemy as sa

from app.extensions import db
from app.models import AccountClosure
from app.models import AuditEvent
from app.models import AuthSession
from app.models import Clinic
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import Photo
from app.models import PushSubscription
from app.models import Role
from app.models import User
from app.services.notify.email_notice import CLOSURE_NOTICE
from app.services.notify.email_notice import closure_email
from app.services.photos import storage
from tests.conftest import NOW
from tests.conftest import count
from tests.conftest import login
from tests.conftest import make_staff
from tests.conftest import text_of
from tests.web.test_access_matrix import _alices_objects

ALICE = "alice@patients.example"
DOC1 = "doc1@north.example"
ADMIN1 = "admin1@north.example"
ADMIN2 = "admin2@south.example"


def _admins(world) -> None:
    make_staff(db.session.get(Clinic, world.clinic1), ADMIN1, Role.CLINIC_ADMIN)
    make_staff(db.session.get(Clinic, world.clinic2), ADMIN2, Role.CLINIC_ADMIN)


def _ask(client):
    return client.post("/patient/account/close", data={"confirm": "yes"})


def _closure(patient_id: int) -> AccountClosure | None:
    return db.session.scalar(
        sa.select(AccountClosure).where(AccountClosure.patient_id == patient_id)
    )


def _closure_id(in_app, patient_id: int) -> int:
    return in_app(lambda: _closure(patient_id).id)


def notices_sent(app) -> None:
    """The dispatcher sent the "what is kept" emails: completing waits for them."""
    with app.app_context():
        db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.kind == CLOSURE_NOTICE)
            .values(state=OutboxState.SENT)
        )
        db.session.commit()


def _complete(client, closure_id: int):
    notices_sent(client.application)
    return client.post(f"/clinic/closures/{closure_id}/complete", data={"confirm": "yes"})


def _acknowledge_all(client, alert_id: int) -> None:
    client.post(f"/clinic/alerts/{alert_id}/acknowledge", data={"note": "Called: fine."})


def test_the_patient_page_explains_then_asks_to_confirm(client, world, in_app):
    login(client, ALICE)
    page = client.get("/patient/account/close")
    assert page.status_code == 200
    shown = text_of(page)
    assert "removed at once" in shown and "your email address" in shown
    assert "for 8 years after your account is closed" in shown
    assert "Your photos are part of the record and are kept with it." in shown
    # A copy is the patient's own to take, not the clinic's to give (the page said "ask
    # your clinic"; adversarial review, 2026-12-07).
    assert "use “Download my data” before you close your account" in shown
    assert 'href="/patient/reminders#data-title"' in page.get_data(as_text=True)
    # Without the tick nothing is asked, and the page says why.
    refused = client.post("/patient/account/close", data={})
    assert refused.status_code == 400
    assert "Tick the box to confirm" in text_of(refused)
    assert in_app(count, AccountClosure) == 0


def test_a_double_submit_gives_one_request_one_email_and_one_audit(client, world, in_app):
    login(client, ALICE)
    first, second = _ask(client), _ask(client)
    assert first.status_code == second.status_code == 303
    assert in_app(count, AccountClosure) == 1
    again = client.get("/patient/account/close")
    shown = text_of(again)
    assert "You asked to close your account on 20 November 2026" in shown
    assert "You have already asked to close your account." in shown  # the second submit
    assert "Ask to close my account" not in shown  # no second form
    emails = in_app(
        lambda: db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.kind == CLOSURE_NOTICE)
        ).all()
    )
    assert len(emails) == 1 and emails[0].detail.startswith("8|keep|")
    actions = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action == "close request")
        ).all()
    )
    assert actions == ["close request"]


def test_the_closing_email_says_what_is_kept_why_and_has_no_health_details():
    row = SimpleNamespace(detail="8|delete|01632 960000")
    mail = closure_email(row, "alice@patients.example", {}, "")
    assert "for 8 years after your account is closed" in mail.text
    assert "photos will be deleted" in mail.text and "01632 960000" in mail.text
    assert "calf" not in mail.text and "Polidocanol" not in mail.text


def test_a_discharged_patient_may_still_ask_while_they_can_read(client, world, in_app):
    login(client, DOC1)
    client.post(f"/clinic/patients/{world.patient_b}/discharge", data={"confirm": "yes"})
    client.post("/logout")
    login(client, "bob@patients.example")
    assert "Ask to close my account" in text_of(client.get("/patient/account/close"))
    assert _ask(client).status_code == 303
    assert in_app(lambda: _closure(world.patient_b) is not None)


def test_staff_get_404_on_the_patient_page(client, world):
    login(client, DOC1)
    assert client.get("/patient/account/close").status_code == 404
    assert _ask(client).status_code == 404


def test_completing_removes_sign_in_devices_and_email_and_keeps_the_record(client, world, in_app):
    in_app(_admins, world)
    ids = in_app(_alices_objects, world.patient_a)  # a device, an open alert, a photo
    login(client, ALICE)
    _ask(client)
    login(client, ADMIN1)
    _acknowledge_all(client, ids["alert"])
    waiting = text_of(client.get("/clinic/closures"))
    assert "Alice Marker-A , asked on 20 November 2026" in waiting
    done = _complete(client, _closure_id(in_app, world.patient_a))
    assert done.status_code == 303 and done.location.endswith(
        f"/clinic/patients/{world.patient_a}#closure"
    )

    def state():
        patient = db.session.get(Patient, world.patient_a)
        user = db.session.get(User, patient.user_id)
        return SimpleNamespace(
            email=user.email,
            password=user.password_hash,
            active=user.is_active,
            sessions=db.session.scalar(
                sa.select(sa.func.count()).where(AuthSession.user_id == user.id)
            ),
            subs=count(PushSubscription),
            photos=count(Photo),
            discharged=patient.discharged_at,
            closure=_closure(world.patient_a),
        )

    s = in_app(state)
    user_id = in_app(lambda: db.session.get(Patient, world.patient_a).user_id)
    assert s.email == f"closed-{user_id}@closed.invalid"
    assert s.password is None and s.active is False and s.sessions == 0 and s.subs == 0
    assert s.photos == 1  # the default policy keeps photos with the record
    assert s.discharged is not None
    assert s.closure.keep_until == datetime(2034, 11, 20, 12, 0, tzinfo=UTC)
    assert s.closure.retention_years == 8 and s.closure.photos_policy == "keep"
    # The clinic sees what was kept, why and until when, on the patient page.
    shown = text_of(client.get(f"/clinic/patients/{world.patient_a}"))
    assert "kept for 8 years, under the clinic's retention policy, until 20 November 2034" in shown
    assert "Photos: kept with the record" in shown
    # The patient can no longer sign in: the email is gone, so is the password.
    client.post("/logout")
    refused = login(client, ALICE)
    assert refused.status_code != 303
    after = client.get("/patient/today")
    assert after.status_code == 302 and "/login" in after.location


def test_completing_under_a_delete_photos_policy_deletes_rows_and_files(client, world, in_app, app):
    in_app(_admins, world)
    ids = in_app(_alices_objects, world.patient_a)
    keys = in_app(
        lambda: (lambda p: (p.full_key, p.thumb_key))(db.session.get(Photo, ids["photo"]))
    )
    # The clinic's policy when Alice asks is the one she is told, and the one applied.
    login(client, ADMIN1)
    saved = client.post("/clinic/closures/policy", data={"years": "10", "photos": "delete"})
    assert saved.status_code == 303
    login(client, ALICE)
    _ask(client)
    login(client, ADMIN1)
    _acknowledge_all(client, ids["alert"])
    assert _complete(client, _closure_id(in_app, world.patient_a)).status_code == 303
    assert in_app(count, Photo) == 0
    root = app.config["PHOTO_STORAGE_DIR"]
    with app.app_context():
        paths = [storage.store().path(k) for k in keys]
    assert root and not any(os.path.exists(p) for p in paths)
    closure = in_app(_closure, world.patient_a)
    assert closure.retention_years == 10 and closure.keep_until == NOW.replace(year=2036)


def test_completing_twice_is_refused_with_a_message(client, world, in_app):
    in_app(_admins, world)
    login(client, "bob@patients.example")
    _ask(client)
    login(client, ADMIN1)
    closure_id = _closure_id(in_app, world.patient_b)
    assert _complete(client, closure_id).status_code == 303
    again = _complete(client, closure_id)
    assert again.status_code == 303
    shown = text_of(client.get("/clinic/closures"))
    assert "This request was already completed on 20 November 2026." in shown
    audited = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "close account")
        )
    )
    assert audited == 1


def test_completing_is_refused_while_an_alert_is_open(client, world, in_app):
    in_app(_admins, world)
    in_app(_alices_objects, world.patient_a)
    login(client, ALICE)
    _ask(client)
    login(client, ADMIN1)
    _complete(client, _closure_id(in_app, world.patient_a))
    assert "has 1 open alert" in text_of(client.get("/clinic/closures"))
    assert in_app(lambda: _closure(world.patient_a).completed_at) is None


def test_completing_needs_the_confirm_tick(client, world, in_app):
    in_app(_admins, world)
    login(client, "bob@patients.example")
    _ask(client)
    login(client, ADMIN1)
    r = client.post(f"/clinic/closures/{_closure_id(in_app, world.patient_b)}/complete")
    assert r.status_code == 303
    assert "Tick the box to confirm" in text_of(client.get("/clinic/closures"))
    assert in_app(lambda: _closure(world.patient_b).completed_at) is None


def test_a_clinician_who_is_not_an_admin_gets_404(client, world, in_app):
    login(client, "bob@patients.example")
    _ask(client)
    login(client, DOC1)
    closure_id = _closure_id(in_app, world.patient_b)
    assert client.get("/clinic/closures").status_code == 404
    assert _complete(client, closure_id).status_code == 404
    assert (
        client.post("/clinic/closures/policy", data={"years": "3", "photos": "keep"}).status_code
        == 404
    )
    assert in_app(lambda: _closure(world.patient_b).completed_at) is None
    assert in_app(lambda: db.session.get(Clinic, world.clinic1).retention_years) is None
    # The clinician still sees the request on the patient page.
    assert "asked to close their account" in text_of(
        client.get(f"/clinic/patients/{world.patient_b}")
    )


def test_another_clinics_admin_gets_404_audited(client, world, in_app):
    in_app(_admins, world)
    login(client, "bob@patients.example")
    _ask(client)
    login(client, ADMIN2)
    closure_id = _closure_id(in_app, world.patient_b)
    assert _complete(client, closure_id).status_code == 404
    assert _complete(client, 999_999).status_code == 404
    assert "Bob" not in text_of(client.get("/clinic/closures"))
    assert in_app(lambda: _closure(world.patient_b).completed_at) is None
    refused = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.detail).where(AuditEvent.action == "refused")
        ).all()
    )
    assert f"complete closure #{closure_id}" in refused


def test_bad_policy_input_is_refused_with_a_message(client, world, in_app):
    in_app(_admins, world)
    login(client, ADMIN1)
    for years, photos, message in [
        ("", "keep", "Enter a whole number of years from 1 to 100."),
        ("0", "keep", "Enter a whole number of years from 1 to 100."),
        ("8.5", "keep", "Enter a whole number of years from 1 to 100."),
        ("9" * 5000, "keep", "Enter a whole number of years from 1 to 100."),
        ("101", "keep", "Enter a whole number of years from 1 to 100."),
        ("8", "shred", "Choose whether photos are kept with the record or deleted."),
        ("8", "", "Choose whether photos are kept with the record or deleted."),
    ]:
        r = client.post("/clinic/closures/policy", data={"years": years, "photos": photos})
        assert r.status_code == 400, years
        assert message in text_of(r)
    assert in_app(lambda: db.session.get(Clinic, world.clinic1).retention_years) is None
    ok = client.post("/clinic/closures/policy", data={"years": "12", "photos": "keep"})
    assert ok.status_code == 303
    assert "Saved: retention period." in text_of(client.get("/clinic/closures"))
    changes = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEvent.detail).where(AuditEvent.detail.like("retention years%"))
        ).all()
    )
    assert changes == ["retention years: 8 -> 12"]


def test_a_patient_whose_read_period_ended_cannot_ask(client, world, in_app, clock):
    """Closing a discharged patient's account after their read period is the clinic's
    job (they can no longer sign in): the page refuses, and no request is made."""
    login(client, DOC1)
    client.post(f"/clinic/patients/{world.patient_b}/discharge", data={"confirm": "yes"})
    client.post("/logout")
    clock.advance(days=91)
    login(client, "bob@patients.example")
    refused = client.get("/patient/account/close")
    assert refused.status_code == 403 and "Your course with" in text_of(refused)
    assert _ask(client).status_code in (302, 403)
    assert in_app(count, AccountClosure) == 0


def test_completing_for_a_discharged_patient_keeps_their_discharge(client, world, in_app):
    in_app(_admins, world)
    login(client, DOC1)
    client.post(f"/clinic/patients/{world.patient_b}/discharge", data={"confirm": "yes"})
    login(client, "bob@patients.example")
    _ask(client)
    login(client, ADMIN1)
    assert _complete(client, _closure_id(in_app, world.patient_b)).status_code == 303
    patient = in_app(lambda: db.session.get(Patient, world.patient_b))
    assert patient.discharged_at == NOW and patient.discharge_reason == ""
    assert in_app(lambda: _closure(world.patient_b).completed_at) == NOW


def test_completing_deletes_a_waiting_data_download_after_the_commit(client, world, in_app):
    """A ready "Download my data" zip is a copy of the whole record: it goes with the
    account, its job row in the closure's transaction and its file once committed."""
    from app.models import ExportJob
    from app.models import ExportState
    from app.services.export import export_dir

    in_app(_admins, world)
    ids = in_app(_alices_objects, world.patient_a)

    def ready_zip() -> str:
        # Alice's objects include a ready export; give its zip a file on disk.
        job = db.session.scalar(sa.select(ExportJob).where(ExportJob.patient_id == world.patient_a))
        job.state, job.file_name = ExportState.READY, "export-closing.zip"
        db.session.commit()
        path = os.path.join(export_dir(), "export-closing.zip")
        with open(path, "wb") as f:
            f.write(b"PK")
        return path

    path = in_app(ready_zip)
    login(client, ALICE)
    _ask(client)
    login(client, ADMIN1)
    _acknowledge_all(client, ids["alert"])
    assert _complete(client, _closure_id(in_app, world.patient_a)).status_code == 303
    assert in_app(count, ExportJob) == 0
    assert not os.path.exists(path)
