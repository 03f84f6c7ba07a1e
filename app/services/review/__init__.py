"""Clinician use-cases for reviewing patients: the triage dashboard, the record of one
patient's recovery, acknowledging alerts, marking days reviewed, comments, and the audit
trail.

Only a face: each name lives in the module that says what it holds, and importing it
from here keeps working (``review.dashboard(...)``):

- ``triage``: the triage dashboard and the open-alert count for the badge;
- ``worklist``: the dashboard's one table of work, filtered and sorted (``WorkView``);
- ``patient_record``: the clinician's view of one patient (the days of their diary, the
  chart, the patient page); ``sql_dates`` holds the date arithmetic its queries need;
- ``actions``: acknowledge an alert, mark a day or photos reviewed (``ChangedSinceSeen``);
- ``comments``: the clinic's comments in a patient's diary;
- ``audit_trail``: the clinic's audit trail;
- ``paging``: ``Section``, one page of a list and its (maybe capped) count.

Every query is scoped to the clinician's clinic and paged, so a page costs the same
few statements for a clinic of 100 patients or of 10,000 (bench/clinician_dashboard.py).
Every view of a patient's data, and every refused attempt, writes an audit event.
"""

from app.services.review.actions import NOTE_MAX as NOTE_MAX
from app.services.review.actions import ChangedSinceSeen as ChangedSinceSeen
from app.services.review.actions import acknowledge as acknowledge
from app.services.review.actions import mark_day_photos_reviewed as mark_day_photos_reviewed
from app.services.review.actions import mark_photo_reviewed as mark_photo_reviewed
from app.services.review.actions import mark_reviewed as mark_reviewed
from app.services.review.audit_trail import audit_log as audit_log
from app.services.review.comments import add_comment as add_comment
from app.services.review.paging import COUNT_CAP as COUNT_CAP
from app.services.review.paging import PAGE as PAGE
from app.services.review.paging import Section as Section
from app.services.review.patient_record import BRUISING_SCORE as BRUISING_SCORE
from app.services.review.patient_record import CHART_CHECKINS as CHART_CHECKINS
from app.services.review.patient_record import DIARY_DAYS as DIARY_DAYS
from app.services.review.patient_record import MAX_DIARY_PAGE as MAX_DIARY_PAGE
from app.services.review.patient_record import DiaryDay as DiaryDay
from app.services.review.patient_record import PatientDiary as PatientDiary
from app.services.review.patient_record import PatientPage as PatientPage
from app.services.review.patient_record import patient_diary as patient_diary
from app.services.review.patient_record import patient_page as patient_page
from app.services.review.triage import MISSED_DAYS as MISSED_DAYS
from app.services.review.triage import UPCOMING_DAYS as UPCOMING_DAYS
from app.services.review.triage import Dashboard as Dashboard
from app.services.review.triage import dashboard as dashboard
from app.services.review.triage import open_alert_count as open_alert_count
from app.services.review.worklist import WORK_KINDS as WORK_KINDS
from app.services.review.worklist import WORK_SORTS as WORK_SORTS
from app.services.review.worklist import WORK_URGENCIES as WORK_URGENCIES
from app.services.review.worklist import Worklist as Worklist
from app.services.review.worklist import WorkView as WorkView
from app.services.review.worklist import worklist as worklist
from app.services.review.worklist import worklist_update as worklist_update
