"""The clinic's pages: patients, appointments, recording treatments."""

from app.clinician.routes import bp

__all__ = ["bp"]
