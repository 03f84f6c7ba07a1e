"""The patient's record as FHIR R4 (issue 20 point 2), for the clinic.

- ``GET /clinic/patients/<id>/fhir.json`` on the clinician blueprint: the "Download FHIR
  (JSON)" button of the patient page, a ``collection`` Bundle saved as a file.
- ``GET /fhir/Patient/<id>/$everything`` on the ``fhir`` blueprint: the integration
  point for the clinic's EHR (docs/fhir.md), the same record as the operation's
  ``searchset``. Signed-in staff of the patient's clinic only; anyone else, signed in or
  not, gets 404, so the address reveals nothing.

Both are audited by the service (``app/services/export/fhir.py``) and never stored by
a cache (``no-store``; the service worker caches no such response either).
"""

from __future__ import annotations

import json

from flask import Blueprint
from flask import Response
from flask import abort
from flask_login import current_user

from app.clinician.routes import bp
from app.clock import now
from app.services.export import fhir
from app.web import client_address

fhir_bp = Blueprint("fhir", __name__)
FHIR_JSON = "application/fhir+json"


@fhir_bp.before_request
def require_staff():
    """404 rather than a sign-in page: an API client has no use for a redirect, and the
    address must not say whether there is anything behind it."""
    if not current_user.is_authenticated or not current_user.is_clinician:
        abort(404)


@fhir_bp.get("/Patient/<int:patient_id>/$everything")
def everything(patient_id: int):
    bundle = fhir.clinic_bundle(current_user, patient_id, client_address(), now(), everything=True)
    return _json(bundle)


@bp.get("/patients/<int:patient_id>/fhir.json")
def patient_fhir(patient_id: int):
    bundle = fhir.clinic_bundle(current_user, patient_id, client_address(), now(), everything=False)
    response = _json(bundle)
    # The file name holds the record's id only: a name in Downloads is seen by anyone
    # who looks at the computer.
    name = f"patient-{patient_id}-fhir.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _json(bundle: dict[str, object]) -> Response:
    body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
    response = Response(body, content_type=f"{FHIR_JSON}; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response
