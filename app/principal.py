"""The signed-in person for one request: plain data, loaded with one Core query.

For a patient the same query brings the course's sessions, which every patient page shows.

Flask-Login's ``current_user`` is a ``Principal``, not an ORM row: building ORM objects
for the user, clinic and patient on every page view cost more than the rest of the
Today page (bench/today_page.py). Services that change accounts load ORM rows by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import time

from app.models.user import Role


@dataclass(frozen=True)
class ClinicInfo:
    id: int
    name: str
    phone: str
    emergency_number: str
    opening_hours: str
    out_of_hours: str
    timezone: str
    # Structured hours (app/domain/hours.py) and the out-of-hours route's name and number.
    hours: str = ""
    out_of_hours_name: str = ""
    out_of_hours_phone: str = ""
    # The protocol key the new-patient and booking forms preselect ("" for none).
    default_protocol_key: str = ""
    # Dates and the default language of the clinic's pages (app/i18n.py).
    locale: str = "en_GB"


@dataclass(frozen=True)
class PatientInfo:
    id: int
    timezone: str
    quiet_start: time
    quiet_end: time
    # The patient's sessions as read with the sign-in check (id, status, appointment,
    # treated at, protocol version id, its sha256), in appointment order, or None when
    # not read with it: every patient page needs them, and reading them in the same
    # statement saves a round trip per page (bench/today_page.py).
    sessions: tuple[tuple, ...] | None = None
    # Set once a clinician discharges the patient: the patient pages turn read-only, then
    # closed (app/services/clinic/lifecycle.py:patient_access).
    discharged_at: datetime | None = None
    # The patient's chosen language ("" follows the clinic's locale; app/i18n.py).
    language: str = ""


@dataclass(frozen=True)
class Principal:
    """A user with a live sign-in session (what ``current_user`` is)."""

    id: int
    email: str
    name: str
    role: Role
    clinic: ClinicInfo
    patient: PatientInfo | None
    session_id: int
    session_token: str
    # The second factor this session still owes ("" none, "code", "enrol"; issue 18
    # point 4). Until it passes the session is half-open: not signed in for any page
    # but the code or enrolment page and sign-out (checklist A12, B7).
    mfa_pending: str = ""

    is_active = True
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        """Signed in for every page: Flask-Login's ``login_required`` and each
        blueprint's access check read this, so a pending session is turned away."""
        return not self.mfa_pending

    def get_id(self) -> str:
        """The sign-in session token, so logging out can revoke exactly this session."""
        return self.session_token

    @property
    def clinic_id(self) -> int:
        return self.clinic.id

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT

    @property
    def is_clinician(self) -> bool:
        return self.role in (Role.CLINICIAN, Role.CLINIC_ADMIN)

    @property
    def is_admin(self) -> bool:
        """A clinic admin: may read the audit log and set the clinic's opening hours."""
        return self.role == Role.CLINIC_ADMIN
