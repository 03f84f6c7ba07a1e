"""The patient's own photo diary: pages by day, one photo, its bytes, comparisons, the
"add a photo" page, and deleting. Other patients' photos are "not found", and the
refusal is audited (``refusals.refuse_read``, checklist E2)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.clock import now
from app.extensions import db
from app.models import Photo
from app.principal import Principal
from app.services.care.course import load_course
from app.services.errors import NotFound
from app.services.photos import storage
from app.services.photos.listing import PAGE
from app.services.photos.listing import Comparison
from app.services.photos.listing import PhotoDiary
from app.services.photos.listing import PhotoItem
from app.services.photos.listing import comparison_of
from app.services.photos.listing import diary_of
from app.services.photos.listing import items
from app.services.photos.listing import numbered
from app.services.photos.listing import session_numbers
from app.services.photos.sites import Site
from app.services.photos.upload import place
from app.services.refusals import refuse_read

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadPage:
    site: Site | None
    previous: dict[str, int]  # site token -> id of its latest photo (the alignment ghost)
    phase: str


def diary(user: Principal, page: int = 1, size: int = PAGE) -> PhotoDiary:
    """The patient's own photos by day, newest first."""
    patient = _patient(user)
    known = patient.sessions  # read with the sign-in check: no statement of its own
    numbers = numbered(known) if known is not None else None
    return diary_of(patient.id, patient.timezone, page, size, numbers)


def thumb_key(user: Principal) -> str:
    """The key in this person's thumbnail URLs (``?k=``), the same on every visit.

    The service worker keeps thumbnails on the phone by URL (sw.js, THUMBS;
    docs/decisions/photo-thumbnail-cache.md). With the viewer's key in it, a URL is
    one person's: a page drawn for someone else asks for other URLs, so a copy left by
    the last person (a purge that failed) can never answer it, and the key, derived
    from SECRET_KEY, cannot be worked out from a user id."""
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    message = f"photo-thumb-cache:{user.id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:24]


def _patient(user: Principal):  # noqa: ANN202 - PatientInfo
    if user.patient is None:
        raise NotFound("Not a patient account.")
    return user.patient


def _own(user: Principal, photo_id: int, address: str) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None or photo.patient_id != _patient(user).id:
        # Unknown and someone else's alike: the answer must not tell them apart.
        raise refuse_read(user, f"photo #{photo_id}", address, "No such photo.", now())
    return photo


def photo(user: Principal, photo_id: int, address: str = "") -> PhotoItem:
    """One of the patient's own photos."""
    found = _own(user, photo_id, address)
    return items([found], session_numbers(found.patient_id))[0]


def image(user: Principal, photo_id: int, thumb: bool = False, address: str = "") -> bytes:
    """The JPEG bytes of one of the patient's own photos, integrity-checked."""
    return storage.read(_own(user, photo_id, address), thumb)


def upload_page(user: Principal, site: Site | None, now: datetime) -> UploadPage:
    """What the "add a photo" page needs: the latest photo of every site, and the phase."""
    course = load_course(user)
    rows = db.session.execute(
        sa.select(Photo.id, Photo.side, Photo.region, Photo.view)
        .where(Photo.patient_id == course.patient.id)
        .order_by(Photo.taken_at, Photo.id)
    )
    previous = {f"{side}-{region}-{view}": pid for pid, side, region, view in rows}
    return UploadPage(site, previous, place(course, now)[1])


def delete(user: Principal, photo_id: int, *, confirmed: bool, address: str = "") -> bool:
    """Delete one of the patient's own photos, the row then its files, if the patient
    confirmed it.

    Another patient's photo is "not found" whether or not they confirmed, so the answer
    never depends on what was sent.

    :returns: whether the photo was deleted (False: not confirmed, nothing changed).
    """
    found = _own(user, photo_id, address)
    if not confirmed:
        return False
    keys = (found.full_key, found.thumb_key)
    db.session.delete(found)
    db.session.commit()
    files = storage.store()
    for key in keys:
        try:
            files.delete(key)
        except OSError:
            log.warning("photo file of deleted photo #%s left for the sweeper", photo_id)
    return True


def compare(
    user: Principal, site: Site | None, left: int | None, right: int | None, address: str = ""
) -> Comparison:
    """Two photos of one site (by default its first and its latest) side by side.

    An id that is not one of the patient's photos of that site falls back to the
    default, as before; one that is not theirs at all is audited as refused (E2)."""
    patient = _patient(user)
    for asked in {left, right} - {None, 0}:
        # Beyond a database integer (a typed URL) is no photo: not a query that fails.
        found = db.session.get(Photo, asked) if 0 < asked < 2**31 else None
        if found is None or found.patient_id != patient.id:
            refuse_read(user, f"photo #{asked} to compare", address, "", now())
    return comparison_of(patient.id, patient.timezone, site, left, right)
