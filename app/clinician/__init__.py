"""The clinic's pages: patients, appointments, recording treatments, photos, staff."""

from app.clinician import photos as _photos  # noqa: F401 - registers the photo routes on bp
from app.clinician import staff as _staff  # noqa: F401 - registers the staff routes on bp
from app.clinician.routes import bp

__all__ = ["bp"]
