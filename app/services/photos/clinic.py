"""A patient's photos as their clinic sees them: the diary, comparisons and single
photos. Every view is audited; other clinics' photos are "not found" (and the refusal
is audited too)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from app.extensions import db
from app.models import Patient
from app.models import Photo
from app.principal import Principal
from app.services.audit import audit
from app.services.audit import own_patient
from app.services.errors import NotFound
from app.services.photos import storage
from app.services.photos.listing import Comparison
from app.services.photos.listing import PhotoDiary
from app.services.photos.listing import comparison_of
from app.services.photos.listing import diary_of
from app.services.photos.sites import Site


def clinic_diary(
    actor: Principal, patient_id: int, address: str, page: int = 1, on: date | None = None
) -> tuple[Patient, PhotoDiary]:
    """A patient's photos for their clinic (audited): (patient, PhotoDiary); ``on``:
    those of one day only."""
    patient = own_patient(actor, patient_id, address, "view photos of")
    result = diary_of(patient.id, patient.timezone, page, on=on)
    of_day = f" of {on.isoformat()}" if on is not None else ""
    audit(actor, patient.id, "view", address, f"photos{of_day}, page {result.page}")
    db.session.commit()
    return patient, result


def clinic_compare(
    actor: Principal,
    patient_id: int,
    site: Site | None,
    left: int | None,
    right: int | None,
    address: str,
) -> tuple[Patient, Comparison]:
    """Compare two photos of a patient of the clinic (audited)."""
    patient = own_patient(actor, patient_id, address, "compare photos of")
    result = comparison_of(patient.id, patient.timezone, site, left, right)
    if result.left is not None and result.right is not None:
        detail = f"compare photos #{result.left.id} and #{result.right.id}"
        audit(actor, patient.id, "view", address, detail)
    db.session.commit()
    return patient, result


def clinic_image(
    actor: Principal, photo_id: int, thumb: bool, address: str, page_shown: bool = False
) -> bytes:
    """A photo of a patient of the clinic; viewing the full photo is audited, and so is
    a thumbnail not shown by an audited page (``page_shown``: its link's mark)."""
    found = db.session.scalar(
        sa.select(Photo)
        .join(Patient, Patient.id == Photo.patient_id)
        .where(Photo.id == photo_id, Patient.clinic_id == actor.clinic_id)
    )
    if found is None:
        audit(actor, None, "refused", address, f"view photo #{photo_id}")
        db.session.commit()
        raise NotFound("No such photo.")
    data = storage.read(found, thumb)
    if not thumb:
        audit(actor, found.patient_id, "view", address, f"photo #{found.id}")
        db.session.commit()
    elif not page_shown:
        audit(actor, found.patient_id, "view", address, f"thumbnail of photo #{found.id}")
        db.session.commit()
    return data
