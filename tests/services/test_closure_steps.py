"""What completing a closure removes at once (issue 20 point 4): every step of
``closure_steps.AT_CLOSURE`` leaves nothing of its kind behind for the account, and
touches no other account. A new step adds its table here."""

from __future__ import annotations

import os
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import AuthSession
from app.models import CalendarEventRevision
from app.models import CalendarLink
from app.models import Channel
from app.models import EmailPreference
from app.models import ExportJob
from app.models import ExportState
from app.models import Invitation
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import PasswordReset
from app.models import Patient
from app.models import PushSubscription
from app.models import RememberedDevice
from app.models import User
from app.services.clinic import closure_steps
from app.services.export import export_dir
from app.services.notify.delivery import fenced
from app.services.notify.outbox import renew
from tests.conftest import NOW

STEPS = [
    "password",
    "sign-in sessions",
    "sign-in links",
    "remembered devices",
    "push subscriptions",
    "email address",
    "calendar links",
    "data downloads",
]


def _everything(patient_id: int, tag: str) -> None:
    """One of each sign-in and contact row for the patient."""
    patient = db.session.get(Patient, patient_id)
    uid = patient.user_id
    later = NOW + timedelta(days=1)
    db.session.add_all(
        [
            AuthSession(token_hash=f"s-{tag}", user_id=uid),
            Invitation(token_hash=f"i-{tag}", user_id=uid, expires_at=later),
            PasswordReset(token_hash=f"r-{tag}", user_id=uid, expires_at=later),
            RememberedDevice(token_hash=f"d-{tag}", user_id=uid, pin_hash="x", expires_at=later),
            PushSubscription(
                patient_id=patient_id,
                endpoint=f"https://fcm.googleapis.com/{tag}",
                p256dh="p",
                auth="a",
            ),
            EmailPreference(patient_id=patient_id, reminders_by_email=True),
            CalendarLink(patient_id=patient_id, token_hash=f"{tag:0>64}"),
            ExportJob(
                patient_id=patient_id,
                clinic_id=patient.clinic_id,
                state=ExportState.READY,
                file_name=f"export-{tag}.zip",
            ),
            CalendarEventRevision(
                patient_id=patient_id, uid=f"u-{tag}", fingerprint="f", modified_at=NOW
            ),
            OutboxMessage(
                patient_id=patient_id,
                recipient_user_id=uid,
                key=f"signin:{tag}",
                kind="signin",
                channel=Channel.EMAIL,
                link="/login",
                due_at=NOW,
                available_at=NOW,
                secret="https://example.test/login/token",
                state=OutboxState.PENDING,
            ),
        ]
    )
    db.session.commit()


def _left(patient_id: int) -> dict[str, object]:
    uid = db.session.get(Patient, patient_id).user_id
    user = db.session.get(User, uid)

    def n(model, *where) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

    return {
        "password": user.password_hash,
        "active": user.is_active,
        "email": user.email,
        "sessions": n(AuthSession, AuthSession.user_id == uid),
        "invitations": n(Invitation, Invitation.user_id == uid),
        "resets": n(PasswordReset, PasswordReset.user_id == uid),
        "devices": n(RememberedDevice, RememberedDevice.user_id == uid),
        "push": n(PushSubscription, PushSubscription.patient_id == patient_id),
        "email choice": n(EmailPreference, EmailPreference.patient_id == patient_id),
        "calendar links": n(CalendarLink, CalendarLink.patient_id == patient_id),
        "data downloads": n(ExportJob, ExportJob.patient_id == patient_id),
        "calendar events": n(CalendarEventRevision, CalendarEventRevision.patient_id == patient_id),
        "link emails": n(
            OutboxMessage,
            OutboxMessage.recipient_user_id == uid,
            OutboxMessage.state == OutboxState.PENDING,
        ),
        "secrets": n(
            OutboxMessage, OutboxMessage.recipient_user_id == uid, OutboxMessage.secret.is_not(None)
        ),
    }


def test_the_steps_are_named_in_order():
    assert [name for name, _ in closure_steps.AT_CLOSURE] == STEPS


def test_every_step_leaves_nothing_behind_and_no_other_account_is_touched(world, in_app):
    def check():
        _everything(world.patient_a, "a")
        _everything(world.patient_b, "b")
        folder = export_dir()
        for tag in "ab":  # the zips the export rows name
            with open(os.path.join(folder, f"export-{tag}.zip"), "wb") as f:
                f.write(b"PK")
        bob_before = _left(world.patient_b)
        patient = db.session.get(Patient, world.patient_a)
        account = closure_steps.Account(user_id=patient.user_id, patient_id=patient.id)
        zips = closure_steps.export_zips(patient.id)
        assert closure_steps.remove_at_closure(account) == STEPS
        assert os.path.exists(os.path.join(folder, "export-a.zip"))  # until the commit
        db.session.commit()
        closure_steps.remove_zips(zips)
        db.session.expire_all()
        assert _left(world.patient_a) == {
            "password": None,
            "active": False,
            "email": closure_steps.closed_email(patient.user_id),
            "sessions": 0,
            "invitations": 0,
            "resets": 0,
            "devices": 0,
            "push": 0,
            "email choice": 0,
            "calendar links": 0,
            "data downloads": 0,
            "calendar events": 0,
            "link emails": 0,
            "secrets": 0,
        }
        assert _left(world.patient_b) == bob_before
        assert bob_before["sessions"] == 1 and bob_before["push"] == 1
        assert bob_before["calendar links"] == 1 and bob_before["calendar events"] == 1
        assert bob_before["data downloads"] == 1
        assert not os.path.exists(os.path.join(folder, "export-a.zip"))
        assert os.path.exists(os.path.join(folder, "export-b.zip"))

    in_app(check)


def test_a_row_a_dispatcher_holds_mid_send_stays_cancelled(world, in_app):
    """A dispatcher had claimed Alice's reminder (state sending, its token) when the
    closure completed. Its later fenced outcome (a retry, a drop) must not bring the
    row back, so nothing is sent again to an account that has gone."""

    def check():
        patient = db.session.get(Patient, world.patient_a)
        row = OutboxMessage(
            patient_id=patient.id,
            key="reminder:mid-send",
            kind="reminder",
            link="/patient/today",
            due_at=NOW,
            available_at=NOW + timedelta(seconds=60),
            state=OutboxState.SENDING,
            claim_token="tok-1",
            attempts=1,
        )
        db.session.add(row)
        db.session.commit()
        account = closure_steps.Account(user_id=patient.user_id, patient_id=patient.id)
        closure_steps.remove_at_closure(account)
        db.session.commit()
        retried = fenced(
            [row.id], "tok-1", state=OutboxState.PENDING, available_at=NOW, last_error="HTTP 503"
        )
        renewed = renew([row.id], "tok-1", NOW + timedelta(seconds=60))
        db.session.commit()
        db.session.expire_all()
        assert (retried, renewed) == (0, set())
        assert db.session.get(OutboxMessage, row.id).state == OutboxState.CANCELLED

    in_app(check)
