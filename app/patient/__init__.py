"""The patient's pages: Today, Checklist, Plan."""

from app.patient.routes import bp

__all__ = ["bp"]
