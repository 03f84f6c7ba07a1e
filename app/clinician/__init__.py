"""The clinic's pages: patients, appointments, recording treatments, photos, protocols,
staff."""

from app.clinician import closures as _closures  # noqa: F401 - account closures (issue 20)
from app.clinician import devices as _devices  # noqa: F401 - alert devices, link notice
from app.clinician import fhir as _fhir  # noqa: F401 - FHIR download (issue 20)
from app.clinician import lifecycle as _lifecycle  # noqa: F401 - registers edit/discharge routes
from app.clinician import outcomes as _outcomes  # noqa: F401 - outcomes page and clearance scores
from app.clinician import photos as _photos  # noqa: F401 - registers the photo routes on bp
from app.clinician import protocols as _protocols  # noqa: F401 - registers the protocol routes
from app.clinician import sessions as _sessions  # noqa: F401 - book, move, cancel, record
from app.clinician import settings as _settings  # noqa: F401 - registers the settings page
from app.clinician import staff as _staff  # noqa: F401 - registers the staff routes on bp
from app.clinician import staff_mfa as _staff_mfa  # noqa: F401 - second-factor reset (issue 18)
from app.clinician import worklist as _worklist  # noqa: F401 - the dashboard (issue 19)
from app.clinician.fhir import fhir_bp
from app.clinician.routes import bp

__all__ = ["bp", "fhir_bp"]
