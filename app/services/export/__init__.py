"""Exports of a patient's record (issue 20): which module holds what.

* ``fhir``: the FHIR R4 Bundle (``patient_bundle`` for the patient's zip, and
  ``clinic_bundle`` for the clinic's download and the ``$everything`` endpoint);
  ``fhir_resources`` and ``fhir_events`` map rows to resources.
* ``jobs``: "Download my data", the patient's side: ask for an export, its status, the
  one download.
* ``worker``: the worker's side: claim, build, mark ready (leases, crash safety), sweep.
* ``files``: the export folder, expiry of old links, the worker's audit events.
* ``archive``: writing one zip, streamed: summary page, JSON, photos, FHIR bundle.
* ``records``: every record about the patient as JSON-ready rows.
"""

from app.services.export.files import export_dir as export_dir
from app.services.export.jobs import ExportGone as ExportGone
from app.services.export.jobs import ExportStatus as ExportStatus
from app.services.export.jobs import latest as latest
from app.services.export.jobs import request_export as request_export
from app.services.export.jobs import take_download as take_download
from app.services.export.worker import Claimed as Claimed
from app.services.export.worker import RunReport as RunReport
from app.services.export.worker import build as build
from app.services.export.worker import claim as claim
from app.services.export.worker import run_due as run_due
from app.services.export.worker import sweep as sweep
