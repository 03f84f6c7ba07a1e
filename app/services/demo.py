"""Demo data for ``make run``: a clinic, a clinician and patients at different stages.

Re-running replaces the demo patients, so "appointment tomorrow" and "day 3" are true
on the day the app is started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from app.extensions import db
from app.models import Clinic
from app.models import Patient
from app.models import ProtocolVersion
from app.models import Role
from app.models import Treatment
from app.models import TreatmentStatus
from app.models import User
from app.security import hash_password
from app.services import protocol_admin
from app.services import protocols
from app.services.care import followup
from app.services.clinic import settings as clinic_settings
from app.services.notify import enqueue
from app.services.outcomes import tallies

DOMAIN = "demo.sclerocare.example"
CLINICIAN_EMAIL = f"clinician@{DOMAIN}"
CLINICIAN_PASSWORD = "demo clinician 2026"
PATIENT_PASSWORD = "demo patient 2026"
TZ = "Europe/London"
DEMO_HOURS = "Mon-Thu 08:30-18:00; Fri 08:30-17:00; Sat 09:00-13:00"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    what: str


# (email local part, name, stage description, day of treatment relative to today or None
#  for "appointment tomorrow", protocol key)
_PATIENTS = [
    ("tomorrow", "Ann Tomorrow", "appointment tomorrow at 10:00", None, "compression-72h"),
    ("day0", "Dev Dayzero", "treated today", 0, "compression-72h"),
    ("day3", "Tess Daythree", "day 3 after treatment", 3, "compression-72h"),
    ("day20", "Wyn Daytwenty", "day 20, second session booked", 20, "compression-24h"),
]


def seed(now: datetime, protocol_dir: str) -> list[DemoLogin]:
    """Create or refresh the demo clinic and return the logins to print."""
    clinic = db.session.scalar(sa.select(Clinic).where(Clinic.slug == "demo"))
    if clinic is None:
        clinic = Clinic(
            slug="demo",
            name="Demo Vein Clinic",
            phone="01632 960 000",
            emergency_number="999",
            timezone=TZ,
        )
        db.session.add(clinic)
        db.session.commit()
    # Realistic hours for a UK vein clinic, closed on Sunday; NHS 111 when closed.
    # Set on every run, so a demo database made before structured hours gets them too.
    clinic_settings.set_hours("demo", DEMO_HOURS, "NHS 111", "111")
    # The rest of the settings page's values, so the demo shows each in use. The advice
    # is for a closed clinic; the emergency number has its own place on every page.
    clinic.out_of_hours = "If you cannot get through, go to your nearest urgent treatment centre."
    clinic.default_protocol_key = "compression-72h"
    clinic.reply_to_email = f"reception@{DOMAIN}"
    staff = db.session.scalar(sa.select(User).where(User.email == CLINICIAN_EMAIL))
    if staff is None:
        staff = User(
            email=CLINICIAN_EMAIL, name="Dr Demo", role=Role.CLINIC_ADMIN, clinic_id=clinic.id
        )
        db.session.add(staff)
    staff.password_hash = hash_password(CLINICIAN_PASSWORD)
    db.session.commit()
    for path in protocols.shipped_files(protocol_dir):
        for loaded in protocols.load(path, "demo", now):
            # The demo admin signs off the shipped protocols, so the demo can add
            # patients at once; a real clinic signs off on the Protocols page.
            protocol_admin.sign_off_by_email(
                "demo", loaded.key, loaded.version, CLINICIAN_EMAIL, now
            )
    db.session.execute(
        sa.delete(User).where(User.email.like(f"%@{DOMAIN}"), User.role == Role.PATIENT)
    )
    versions = {v.key: v for v in protocols.latest_for_clinic(clinic.id)}
    logins = [DemoLogin(CLINICIAN_EMAIL, CLINICIAN_PASSWORD, "clinician (clinic admin)")]
    for local, name, what, day, key in _PATIENTS:
        email = f"{local}@{DOMAIN}"
        _demo_patient(clinic, email, name, day, versions[key], now)
        logins.append(DemoLogin(email, PATIENT_PASSWORD, f"patient, {what}"))
    db.session.flush()
    for treatment in db.session.scalars(
        sa.select(Treatment).join(Patient).where(Patient.clinic_id == clinic.id)
    ):
        followup.note_treatment(treatment)
        enqueue.enqueue_reminders(treatment, now)
    # The sessions above (and those of the patients deleted) bypass the services that
    # keep the clinic's outcome totals: recount them.
    tallies.rebuild(db.session.connection(), clinic.id)
    db.session.commit()
    return logins


def _demo_patient(
    clinic: Clinic, email: str, name: str, day: int | None, version: ProtocolVersion, now: datetime
) -> None:
    tz = ZoneInfo(TZ)
    today = now.astimezone(tz).date()
    user = User(email=email, name=name, role=Role.PATIENT, clinic_id=clinic.id)
    user.password_hash = hash_password(PATIENT_PASSWORD)
    patient = Patient(user=user, clinic_id=clinic.id, timezone=TZ)
    db.session.add_all([user, patient])
    if day is None:
        at = datetime.combine(today + timedelta(days=1), time(10, 0), tz)
        db.session.add(Treatment(patient=patient, protocol_version=version, appointment_at=at))
        return
    treated = datetime.combine(today - timedelta(days=day), time(9, 30), tz)
    if day == 0 and treated > now:
        treated = now - timedelta(minutes=30)
    db.session.add(
        Treatment(
            patient=patient,
            protocol_version=version,
            appointment_at=treated,
            treated_at=treated,
            status=TreatmentStatus.DONE,
            sclerosant="Polidocanol",
            form="liquid",
            concentration="0.5%",
            areas="Left and right outer thigh",
            compression="Class 2 thigh-length stockings",
        )
    )
    if day >= 14:
        nxt = datetime.combine(today + timedelta(days=28), time(11, 0), tz)
        db.session.add(Treatment(patient=patient, protocol_version=version, appointment_at=nxt))
