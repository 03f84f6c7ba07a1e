"""Every route x every kind of visitor: deny by default, 404 for other people's data.

Actors: anonymous, patient A (clinic 1), patient C (clinic 2), the clinician and the
clinic admin of clinic 2 and, last (they may change data), the clinician and the clinic
admin of clinic 1. A clinic admin may do everything a clinician of the same clinic may,
and read that clinic's audit log. Objects in the URLs belong to clinic 1. A route that
is not in ``EXPECTED`` fails the test, so a new route cannot ship without a decision
about who may use it (security checklist B1). Nobody outside clinic 1 ever gets a page
naming a clinic-1 patient.
"""

from __future__ import annotations

import io
import os
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app
from PIL import Image

from app import create_app
from app.extensions import db
from app.models import AccountClosure
from app.models import Alert
from app.models import CheckIn
from app.models import Clinic
from app.models import ExportJob
from app.models import ExportState
from app.models import Patient
from app.models import Photo
from app.models import PushSubscription
from app.models import Role
from app.models import Treatment
from app.services import photos
from app.web import EXPORT_FILES
from app.web import PHOTO_FILES
from config import TestingConfig
from tests.conftest import NOW
from tests.conftest import login
from tests.conftest import make_staff

EXPECTED = {
    "static": "public",
    "auth.index": "public",
    "auth.login": "public",
    "auth.logout": "public",
    "auth.accept_invite": "public",
    "auth.forgot_password": "public",
    "auth.reset_password": "public",  # the single-use token is the access check
    "auth.unsubscribe_page": "public",  # the signed token is the access check
    "auth.unsubscribe": "public",
    "auth.pin_sign_in": "public",  # the remembered phone's cookie and PIN are the check
    "auth.forget_phone": "public",  # forgets only the phone whose cookie it carries
    "auth.choose_pin": "patient",  # remembering a phone: patients only
    "pwa.manifest": "public",
    "pwa.service_worker": "public",
    "pwa.offline": "public",
    "patient.today": "patient",
    "patient.checklist": "patient",
    "patient.plan": "patient",
    "patient.tick_checklist": "patient",
    "patient.tick_task": "patient",
    "patient.messages_seen": "patient",
    "patient.reminders_page": "patient",
    "patient.subscribe": "patient",
    "patient.unsubscribe": "patient",
    "patient.quiet_hours": "patient",
    "patient.email_choice": "patient",
    "patient.choose_language": "patient",  # issue 19 point 4
    "patient.close_account": "patient",  # issue 20 point 4: one's own account
    "patient.delete_device": "patient-object",
    "pwa.resubscribe": "public",
    "patient.checkin": "patient",
    "patient.submit_checkin": "patient",
    "patient.diary_page": "patient",
    "patient.photos_page": "patient",
    "patient.new_photo": "patient",
    "patient.upload_photo": "patient",
    "patient.photo": "patient-object",
    "patient.photo_image": "patient-object",
    "patient.photo_thumb": "patient-object",
    "patient.delete_photo": "patient-object",
    "patient.compare_photos": "patient",
    "patient.rate_session": "patient",  # issue 19: one's own session, once due
    "patient.save_rating": "patient",
    # Issue 20 point 3: the patient's own calendar; the feed's token is the access check.
    "patient.calendar_download": "patient",
    "patient.calendar_new_link": "patient",
    "patient.calendar_show_link": "patient",
    "patient.calendar_stop_link": "patient",
    "patient.calendar_feed": "public",
    # "Download my data" (issue 20): ask for one's own; download one's own ready zip only.
    "patient.request_export": "patient",
    "patient.download_export": "patient-object",
    "clinician.dashboard": "clinic",
    "clinician.worklist_fragment": "clinic",  # the dashboard's refresh (issue 19)
    "clinician.acknowledge": "clinic-object",
    "clinician.mark_reviewed": "clinic-object",
    "clinician.review_photo": "clinic-object",
    "clinician.review_day_photos": "clinic-object",
    "clinician.comment": "clinic-object",
    "clinician.audit_log": "admin",  # clinic admins only, each their own clinic's
    # Account closures (issue 20 point 4): clinic admins only; the request in the URL is
    # Alice's (clinic 1); the policy form refuses an empty POST (400).
    "clinician.closures": "admin",
    "clinician.complete_closure": "admin-object",
    "clinician.closure_policy": "admin-form",
    # An admin records a request Alice made by phone or letter (her id in the URL).
    "clinician.record_closure_request": "admin-object",
    "clinician.withdraw_closure": "admin-object",  # Alice's request, in the URL
    # Clinic admins only, their own clinic's settings (an empty POST is refused: 400);
    # the old hours page redirects admins to them (303).
    "clinician.clinic_settings": "admin-form",
    "clinician.clinic_hours": "admin-form",
    "clinician.reminders_page": "clinic",
    "clinician.subscribe": "clinic",
    "clinician.unsubscribe": "clinic",
    # The device in the URL is Alice's (a patient's): no clinician or admin may remove it.
    "clinician.delete_device": "nobody",
    "clinician.patients": "clinic",
    "clinician.new_patient": "clinic",
    "clinician.patient": "clinic-object",
    # Alice has a password: a link replacing it is a clinic admin's act (issue 18).
    "clinician.new_invitation": "admin-object",
    "clinician.set_phone": "clinic-object",
    "clinician.book_session": "clinic-object",
    "clinician.reschedule": "clinic-object",
    "clinician.cancel": "clinic-object",
    "clinician.record": "clinic-object",
    "clinician.edit_patient": "clinic-object",
    "clinician.discharge": "clinic-object",
    "clinician.reopen": "clinic-object",
    "clinician.patient_photos": "clinic-object",
    "clinician.compare_photos": "clinic-object",
    "clinician.photo_image": "clinic-object",
    "clinician.photo_thumb": "clinic-object",
    "clinician.outcomes_page": "clinic",  # issue 19: the clinic's own outcomes
    "clinician.outcomes_csv": "clinic",
    "clinician.score_session": "clinic-object",
    # Issue 20 point 2: the record as FHIR, downloaded from the patient page, and the
    # $everything endpoint for the clinic's EHR (anonymous: 404, see API_FILES).
    "clinician.patient_fhir": "clinic-object",
    "fhir.everything": "clinic-object",
    "clinician.save_clearance": "clinic-object",
    # Protocols (issue 17 point 3): staff read their own clinic's; only the clinic's
    # admins sign off (a clinician, or another clinic's admin, gets 404).
    "clinician.protocols": "clinic",
    "clinician.protocol_version": "clinic-object",
    # A key names a protocol within the reader's own clinic (each has compression-72h).
    "clinician.compare_protocol": "clinic",
    "clinician.sign_off_protocol": "admin-object",
    # Clinic admins only (issue 17): the staff list, inviting (an empty POST: 400), and
    # acting on a member of staff, who in the URL is clinic 1's clinician.
    "clinician.staff_list": "admin",
    "clinician.invite_staff": "admin-form",
    "clinician.staff_role": "admin-object",
    "clinician.staff_deactivate": "admin-object",
    "clinician.staff_reactivate": "admin-object",
    "clinician.staff_link": "admin-object",
    # Issue 18: the second factor. The code page and its cancel answer by the session's
    # pending state (no state: back to /); setting one up is for staff; an admin resets
    # clinic 1's clinician's. Changing one's password: anyone signed in.
    "auth.mfa_code": "public",
    "auth.mfa_cancel": "public",
    "auth.mfa_enrol": "clinic",
    "auth.mfa_regenerate": "clinic",
    "clinician.staff_mfa_reset": "admin-object",
    "auth.change_password": "signed-in",
    "auth.confirm_identity": "signed-in",  # "Confirm it's you" (A9, app/auth/fresh.py)
}
# Actor -> (role, clinic 1 or 2); None for the anonymous visitor.
ACTORS = {
    "anonymous": None,
    "alice@patients.example": (Role.PATIENT, 1),
    "cara@patients.example": (Role.PATIENT, 2),
    "doc2@south.example": (Role.CLINICIAN, 2),
    "admin2@south.example": (Role.CLINIC_ADMIN, 2),
    "doc1@north.example": (Role.CLINICIAN, 1),
    "admin1@north.example": (Role.CLINIC_ADMIN, 1),
}
# Endpoints for other systems: 404 to anyone not signed in, never a sign-in redirect.
API_FILES = frozenset({"fhir.everything"})
# Files answer 404 to a signed-out visitor (issue 20 point 5 for the calendar).
NOT_FOUND_SIGNED_OUT = PHOTO_FILES | {"patient.calendar_download"}
MARKERS = ("Alice Marker-A", "Bob Marker-B", "alice@patients.example", "bob@patients.example")


def _routes():
    app = create_app(TestingConfig)
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, rule.rule, method


ROUTES = sorted(set(_routes()))


def _alices_objects(patient_id: int) -> dict[str, int]:
    """A device, a check-in, an alert and a photo of Alice's (clinic 1) for the object
    routes."""
    patient = db.session.get(Patient, patient_id)
    treatment = db.session.scalar(sa.select(Treatment).where(Treatment.patient_id == patient_id))
    sub = PushSubscription(
        patient_id=patient_id,
        endpoint="https://fcm.googleapis.com/fcm/send/alice",
        p256dh="x",
        auth="y",
    )
    checkin = CheckIn(
        patient_id=patient_id,
        clinic_id=patient.clinic_id,
        treatment_id=treatment.id,
        day=3,
        on_date=date(2026, 11, 20),
        answers={},
        pain=9,
        bruising="mild",
        level="same_day",
        reasons=["Pain 9 out of 10"],
    )
    db.session.add_all([sub, checkin])
    db.session.flush()
    alert = Alert(
        patient_id=patient_id,
        clinic_id=patient.clinic_id,
        checkin_id=checkin.id,
        level="same_day",
        severity=1,
    )
    db.session.add(alert)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "gray").save(buffer, "JPEG")
    stored = photos.store().put(buffer.getvalue())
    thumb = photos.store().put(buffer.getvalue())
    photo = Photo(
        patient_id=patient_id,
        clinic_id=patient.clinic_id,
        treatment_id=treatment.id,
        phase="after",
        day=3,
        taken_at=datetime(2026, 11, 20, 12, tzinfo=UTC),
        taken_on=date(2026, 11, 20),
        side="left",
        region="calf",
        view="inner",
        full_key=stored.key,
        full_sha256=stored.sha256,
        full_size=stored.size,
        thumb_key=thumb.key,
        thumb_sha256=thumb.sha256,
        width=8,
        height=8,
        source_format="JPEG",
    )
    db.session.add(photo)
    job = ready_export(patient)
    db.session.commit()
    version = treatment.protocol_version_id
    return {"sub": sub.id, "checkin": checkin.id, "alert": alert.id, "photo": photo.id} | {
        "version": version,
        "export": job.id,
    }


def ready_export(patient: Patient) -> ExportJob:
    """A ready "Download my data" zip of Alice's (a stand-in file; issue 20); no commit."""
    name = "export-matrix.zip"
    with open(os.path.join(current_app.config["SCLERO_EXPORT_DIR"], name), "wb") as f:
        f.write(b"PK\x05\x06" + bytes(18))  # an empty zip
    job = ExportJob(
        patient_id=patient.id,
        clinic_id=patient.clinic_id,
        state=ExportState.READY,
        file_name=name,
        ready_at=NOW,
        expires_at=NOW + timedelta(hours=24),
    )
    db.session.add(job)
    db.session.flush()
    return job


def test_every_route_has_an_expected_access_class():
    missing = sorted({endpoint for endpoint, _, _ in ROUTES} - set(EXPECTED))
    assert not missing, f"add these routes to EXPECTED: {missing}"


def _url(rule: str, world, treatment_id: int, ids: dict[str, int]) -> str:
    return (
        rule.replace("<int:patient_id>", str(world.patient_a))
        .replace("<int:sub_id>", str(ids["sub"]))
        .replace("<int:alert_id>", str(ids["alert"]))
        .replace("<int:checkin_id>", str(ids["checkin"]))
        .replace("<int:photo_id>", str(ids["photo"]))
        .replace("<int:treatment_id>", str(treatment_id))
        .replace("<int:version_id>", str(ids["version"]))
        .replace("<int:job_id>", str(ids["export"]))
        .replace("<protocol_key>", "compression-72h")
        .replace("<int:user_id>", str(world.clinician1))
        .replace("<int:closure_id>", str(ids.get("closure")))
        .replace("<key>", "walks")
        .replace("<token>", "not-a-token")
        .replace("<path:filename>", "css/app.css")
    )


def _alices_closure(patient_id: int) -> int:
    """Alice asked to close her account (issue 20 point 4): the request in the URL."""
    clinic_id = db.session.get(Patient, patient_id).clinic_id
    row = AccountClosure(patient_id=patient_id, clinic_id=clinic_id, requested_at=NOW)
    db.session.add(row)
    db.session.commit()
    return row.id


def _add_clinic_admins(world) -> None:
    for clinic_id, email in (
        (world.clinic1, "admin1@north.example"),
        (world.clinic2, "admin2@south.example"),
    ):
        make_staff(db.session.get(Clinic, clinic_id), email, Role.CLINIC_ADMIN)


def _verdict(kind: str, actor: str, status: int, location: str, endpoint: str = "") -> bool:
    if status >= 500:
        return False
    if kind == "public":
        return True
    if actor == "anonymous":
        if endpoint in NOT_FOUND_SIGNED_OUT | API_FILES | EXPORT_FILES:  # 404, no redirect
            return status == 404
        # 303 for a check-in sent signed out: held for after sign-in (app/patient/held.py).
        return status in (302, 303) and location.startswith("/login")
    return _signed_in_verdict(kind, actor, status)


def _signed_in_verdict(kind: str, actor: str, status: int) -> bool:
    role, clinic = ACTORS[actor]
    is_staff = role in (Role.CLINICIAN, Role.CLINIC_ADMIN)
    if kind == "signed-in":  # anyone signed in, for their own account
        return status in (200, 303, 400)
    if kind == "nobody":  # nobody signed in here may use it: everyone gets 404
        return status == 404
    if kind == "admin":  # a clinic admin reads their own clinic's log; others get 404
        return status == 200 if role == Role.CLINIC_ADMIN else status == 404
    if kind == "admin-object":  # an admin action on clinic 1's object; others get 404
        ok = role == Role.CLINIC_ADMIN and clinic == 1
        return status in (200, 303, 400) if ok else status == 404
    if kind == "admin-form":  # a clinic admin's own settings form; others get 404
        return status in (200, 303, 400) if role == Role.CLINIC_ADMIN else status == 404
    if kind == "patient-object":  # the object belongs to Alice: only she may see or act
        return status in (200, 303) if actor == "alice@patients.example" else status == 404
    if kind == "patient":
        return status == 404 if is_staff else status in (200, 303, 400, 404)
    if not is_staff:
        return status == 404
    if kind == "clinic-object" and clinic != 1:
        return status == 404
    return status in (200, 303, 400)


@pytest.mark.parametrize(
    ("endpoint", "rule", "method"), ROUTES, ids=[f"{m} {r}" for _, r, m in ROUTES]
)
def test_access(app, world, in_app, endpoint, rule, method):
    kind = EXPECTED[endpoint]
    treatment_id = in_app(
        lambda: db.session.scalar(
            sa.select(Treatment.id).where(Treatment.patient_id == world.patient_b)
        )
    )
    ids = in_app(_alices_objects, world.patient_a)
    if "<int:closure_id>" in rule:
        ids["closure"] = in_app(_alices_closure, world.patient_a)
    url = _url(rule, world, treatment_id, ids)
    in_app(_add_clinic_admins, world)
    statuses = {}
    for actor, who in ACTORS.items():
        client = app.test_client()
        if actor != "anonymous":
            assert login(client, actor).status_code == 302
        response = client.open(url, method=method, data={})
        body = response.get_data()  # read before closing: a file response streams
        response.close()
        location = response.headers.get("Location", "")
        statuses[actor] = response.status_code
        assert _verdict(kind, actor, response.status_code, location, endpoint), (
            actor,
            method,
            url,
            response.status_code,
        )
        if response.status_code == 404 or (who is not None and who[1] != 1):
            assert not any(marker.encode() in body for marker in MARKERS), (actor, url)
    # The clinic admin gets exactly what the clinician of the same clinic gets, except
    # the audit log, the clinic's settings and its staff, which only admins use.
    for admin, clinician in (
        ("admin1@north.example", "doc1@north.example"),
        ("admin2@south.example", "doc2@south.example"),
    ):
        if EXPECTED[endpoint] == "admin":
            assert (statuses[admin], statuses[clinician]) == (200, 404), (method, url)
        elif EXPECTED[endpoint] == "admin-form" or (
            EXPECTED[endpoint] == "admin-object" and admin == "admin1@north.example"
        ):
            assert statuses[clinician] == 404 and statuses[admin] != 404, (method, url)
        else:
            assert statuses[admin] == statuses[clinician], (admin, method, url, statuses)
