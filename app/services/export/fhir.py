"""The patient's FHIR R4 bundle: placeholder, replaced at merge by the fhir branch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session


def patient_bundle(db_session: Session, patient_id: int, *, now: datetime) -> dict:
    """An empty collection bundle until the fhir branch's version lands."""
    return {"resourceType": "Bundle", "type": "collection", "entry": []}
