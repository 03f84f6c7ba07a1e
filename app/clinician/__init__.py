"""The clinic's pages: patients, appointments, recording treatments, photos."""

from app.clinician import photos as _photos  # noqa: F401 - registers the photo routes on bp
from app.clinician import settings as _settings  # noqa: F401 - registers the settings page
from app.clinician.routes import bp

__all__ = ["bp"]
