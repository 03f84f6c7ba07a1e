"""Clinician use-cases: patients, appointments, recording treatments, invitations.

Only a face: every name is defined in the module that says what it holds, and importing
it from here keeps working (``clinic.create_patient(...)``):

* ``patients``: adding a patient, their phone and invitation link, the patient list.
* ``sessions``: booking, moving and cancelling appointments.
* ``recording``: recording a treatment, and correcting it.
* ``booking``: what the booking and record forms start from; the interval warning.
* ``pages``: what the form pages show, each in one call (protocol choices, the patient
  page with its booking form, the record-treatment page).
* ``checks``: the time zone, wall-clock-to-UTC and date-window checks both share.
* ``settings``: the clinic's contact details and opening hours, and their field checks.
* ``setup``: ``flask clinic create`` and ``list`` (a clinic and its first admin).
* ``profile``: the clinic admin's settings page (read, check, store, audit).
* ``devices``: a clinician's own alert devices, turned on and off (audited).
* ``lifecycle``: editing a patient's details, discharging and re-opening them, and what
  a discharged patient may still do (imported as a module: ``lifecycle.discharge(...)``).
* ``closure``, ``closure_requests``, ``closure_steps``, ``retention``: closing an
  account and the clinic's retention policy, an admin recording or withdrawing a
  request, what goes at once, and ``flask retention run`` (issue 20 point 4; imported
  as modules).

Every query is scoped to the clinician's own clinic, so another clinic's patient is
simply "not found" (404), never "forbidden".
"""

from app.services.clinic.booking import TooSoon as TooSoon
from app.services.clinic.checks import APPOINTMENT_FUTURE as APPOINTMENT_FUTURE
from app.services.clinic.checks import APPOINTMENT_PAST as APPOINTMENT_PAST
from app.services.clinic.checks import TREATED_FUTURE as TREATED_FUTURE
from app.services.clinic.checks import TREATED_PAST as TREATED_PAST
from app.services.clinic.checks import check_timezone as check_timezone
from app.services.clinic.checks import to_utc as to_utc
from app.services.clinic.devices import device_changed as device_changed
from app.services.clinic.devices import remove_device as remove_device
from app.services.clinic.pages import PatientRecordPage as PatientRecordPage
from app.services.clinic.pages import RecordPage as RecordPage
from app.services.clinic.pages import patient_record_page as patient_record_page
from app.services.clinic.pages import protocol_choices as protocol_choices
from app.services.clinic.pages import record_page as record_page
from app.services.clinic.patients import PAGE_SIZE as PAGE_SIZE
from app.services.clinic.patients import STATUSES as STATUSES
from app.services.clinic.patients import NewPatient as NewPatient
from app.services.clinic.patients import PatientPage as PatientPage
from app.services.clinic.patients import PatientRow as PatientRow
from app.services.clinic.patients import create_patient as create_patient
from app.services.clinic.patients import list_patients as list_patients
from app.services.clinic.patients import new_invitation as new_invitation
from app.services.clinic.patients import patient_for as patient_for
from app.services.clinic.patients import set_phone as set_phone
from app.services.clinic.recording import RecordedMeanwhile as RecordedMeanwhile
from app.services.clinic.recording import TreatmentRecord as TreatmentRecord
from app.services.clinic.recording import clinic_tasks as clinic_tasks
from app.services.clinic.recording import record_treatment as record_treatment
from app.services.clinic.sessions import FORMS as FORMS
from app.services.clinic.sessions import BookingPage as BookingPage
from app.services.clinic.sessions import SessionUnchanged as SessionUnchanged
from app.services.clinic.sessions import book_session as book_session
from app.services.clinic.sessions import booking_page as booking_page
from app.services.clinic.sessions import cancel as cancel
from app.services.clinic.sessions import cancel_form as cancel_form
from app.services.clinic.sessions import move_form as move_form
from app.services.clinic.sessions import record_form as record_form
from app.services.clinic.sessions import reschedule as reschedule
from app.services.clinic.sessions import treatment_for as treatment_for
from app.services.clinic.sessions import treatments_of as treatments_of
