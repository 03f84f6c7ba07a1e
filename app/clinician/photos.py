"""Routes under /clinic for a patient's photos: the photo diary, compare, the images.

Registered on the clinician blueprint (staff only); every photo is looked up through
the patient's clinic, and every view is audited by the service.
"""

from __future__ import annotations

from datetime import date

from flask import render_template
from flask import request
from flask_login import current_user

from app.clinician.routes import bp
from app.services import photos
from app.services.photos import Site
from app.web import client_address
from app.web import jpeg_response
from app.web import thumb_signed


def _day_arg() -> date | None:
    """The ``on`` day of a photo page's address (the diary's "See all" link); one that
    is not a date shows all the photos, as the page without it does."""
    try:
        return date.fromisoformat(request.args.get("on", ""))
    except ValueError:
        return None


@bp.get("/patients/<int:patient_id>/photos")
def patient_photos(patient_id: int):
    patient, diary = photos.clinic_diary(
        current_user,
        patient_id,
        client_address(),
        request.args.get("page", 1, type=int),
        _day_arg(),
    )
    return render_template("clinician/photos/index.html", p=patient, diary=diary)


@bp.get("/patients/<int:patient_id>/photos/compare")
def compare_photos(patient_id: int):
    args = request.args
    patient, result = photos.clinic_compare(
        current_user,
        patient_id,
        Site.from_values(args),
        args.get("a", type=int),
        args.get("b", type=int),
        client_address(),
    )
    return render_template("clinician/photos/compare.html", p=patient, c=result)


@bp.get("/photos/<int:photo_id>/image")
def photo_image(photo_id: int):
    return jpeg_response(photos.clinic_image(current_user, photo_id, False, client_address()))


@bp.get("/photos/<int:photo_id>/thumb")
def photo_thumb(photo_id: int):
    # Marked by the audited page that showed it, or audited as a view of its own.
    shown = thumb_signed(current_user.id, photo_id, request.args.get("s"))
    return jpeg_response(
        photos.clinic_image(current_user, photo_id, True, client_address(), page_shown=shown)
    )
