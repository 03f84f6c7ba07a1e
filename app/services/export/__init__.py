"""A patient's "Download my data" (issue 20 point 1): which module holds what.

* ``jobs``: the patient's side: ask for an export, its status, the one download.
* ``worker``: the worker's side: claim, build, mark ready (leases, crash safety), sweep.
* ``files``: the export folder, expiry of old links, the worker's audit events.
* ``archive``: writing one zip, streamed: summary page, JSON, photos, FHIR bundle.
* ``records``: every record about the patient as JSON-ready rows.
* ``fhir``: the FHIR R4 bundle (``patient_bundle``).
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
