"""The Reminders page's one read (app/services/notify/settings_page.py) gives exactly what
the separate services give: devices, quiet hours, email choice and its bounce pause, the
calendar link and the newest export (issue 22 point 3: the page in three statements)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import now
from app.extensions import db
from app.models import CalendarLink
from app.models import Channel
from app.models import EmailPreference
from app.models import ExportJob
from app.models import ExportState
from app.models import OutboxMessage
from app.models import OutboxState
from app.models import Patient
from app.models import PushSubscription
from app.services import export
from app.services import ical
from app.services.notify import settings_page
from app.services.notify import subscriptions
from tests.services.test_export import principal_of


def _seed(patient_id: int) -> None:
    """Two devices, an email choice made before a digest bounced (so paused), a calendar
    link, and two exports: an older failed one and a newer ready one now expired."""
    t = now()
    patient = db.session.get(Patient, patient_id)
    for n in (2, 1):
        db.session.add(
            PushSubscription(
                patient_id=patient_id,
                endpoint=f"https://fcm.googleapis.com/dev-{n}",
                p256dh="p",
                auth="a",
                created_at=t - timedelta(days=n),
            )
        )
    db.session.add(
        EmailPreference(
            patient_id=patient_id, reminders_by_email=True, updated_at=t - timedelta(days=3)
        )
    )
    db.session.add(CalendarLink(patient_id=patient_id, token_hash="f" * 64, created_at=t))
    db.session.add(
        OutboxMessage(
            patient_id=patient_id,
            recipient_user_id=patient.user_id,
            key="digest:bounced",
            kind="digest",
            channel=Channel.EMAIL,
            link="/patient/today",
            due_at=t - timedelta(days=1),
            available_at=t - timedelta(days=1),
            state=OutboxState.FAILED,
            last_error="bounced: 5.1.1 550 mailbox unavailable",
        )
    )
    for state, expires in ((ExportState.FAILED, None), (ExportState.READY, t - timedelta(hours=1))):
        db.session.add(
            ExportJob(
                patient_id=patient_id,
                clinic_id=patient.clinic_id,
                state=state,
                requested_at=t - timedelta(days=2),
                available_at=t - timedelta(days=2),
                expires_at=expires,
                file_name=f"export-{state.value}.zip",
            )
        )
    db.session.commit()


@pytest.mark.parametrize("seeded", [False, True])
def test_the_one_read_matches_the_separate_services(in_app, world, seeded):
    def run():
        if seeded:
            _seed(world.patient_a)
        user = principal_of(world.patient_a)
        page = settings_page.reminders_page(user, now())
        return (
            page,
            subscriptions.settings(user),
            ical.calendar_status(user),
            export.latest(user, now()),
        )

    page, settings, calendar, latest = in_app(run)
    assert page.settings == settings
    assert page.calendar == calendar
    assert page.export == latest
    if seeded:  # the states this compares are the interesting ones
        assert len(page.settings.devices) == 2 and page.settings.email_choice == "email"
        assert page.settings.email_paused and page.calendar.has_link
        assert page.export is not None and page.export.state == "expired"
    else:
        assert page.export is None and not page.calendar.has_link
        assert not page.settings.devices and page.settings.email_choice == "auto"
