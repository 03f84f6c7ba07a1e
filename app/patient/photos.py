"""Routes under /patient/photos: the photo diary, adding, comparing and deleting photos.

Registered on the patient blueprint, so its before-request check (signed in, a patient)
covers every route here; each photo is looked up by id *and* owner.
"""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user

from app.clock import now
from app.i18n import N_
from app.i18n import _
from app.patient.routes import bp
from app.services import photos
from app.services.errors import Invalid
from app.services.photos import Site
from app.web import chosen_file
from app.web import client_address
from app.web import jpeg_response

# The diary and the photo pages put the viewer's key in thumbnail URLs (the service
# worker keeps thumbnails by URL: docs/decisions/photo-thumbnail-cache.md).
bp.add_app_template_global(photos.thumb_key, "thumb_key")


@bp.get("/photos")
def photos_page():
    diary = photos.diary(current_user, request.args.get("page", 1, type=int))
    return render_template("patient/photos/index.html", diary=diary)


def _upload_form(site: Site | None, error: Invalid | None = None, note: str = ""):
    return render_template(
        "patient/photos/new.html",
        page=photos.upload_page(current_user, site, now()),
        error=error,
        note=note,
        sides=photos.SIDES,
        regions=photos.REGIONS,
        views=photos.VIEWS,
    )


@bp.get("/photos/new")
def new_photo():
    return _upload_form(Site.from_values(request.args))


@bp.post("/photos")
def upload_photo():
    form = request.form
    upload = chosen_file(request.files)
    site = None
    try:
        site = Site.parse(form.get("side"), form.get("region"), form.get("view"))
        if upload is None:
            raise Invalid("photo", N_("Please take a photo or choose one first."))
        photo = photos.add_photo(
            current_user,
            upload.read(),
            site,
            form.get("note", "")[: photos.NOTE_MAX * 2],
            form.get("client_key") or None,
            now(),
        )
    except Invalid as exc:
        note = form.get("note", "")[: photos.NOTE_MAX]
        return _upload_form(site or Site.from_values(form), exc, note), 400
    flash(_("Photo saved: %(site)s.", site=site.label), "success")
    return redirect(url_for("patient.photos_page", _anchor=f"photo-{photo.id}"), 303)


@bp.get("/photos/<int:photo_id>")
def photo(photo_id: int):
    found = photos.photo(current_user, photo_id, address=client_address())
    return render_template("patient/photos/photo.html", p=found)


@bp.get("/photos/<int:photo_id>/image")
def photo_image(photo_id: int):
    return jpeg_response(photos.image(current_user, photo_id, address=client_address()))


@bp.get("/photos/<int:photo_id>/thumb")
def photo_thumb(photo_id: int):
    return jpeg_response(photos.image(current_user, photo_id, thumb=True, address=client_address()))


@bp.post("/photos/<int:photo_id>/delete")
def delete_photo(photo_id: int):
    # 404 for other people's photos, whatever is sent; nothing changes unless confirmed.
    confirmed = request.form.get("confirm") == "yes"
    if not photos.delete(current_user, photo_id, confirmed=confirmed, address=client_address()):
        flash(_("Tick the box to confirm, then press Delete."), "error")
        return redirect(url_for("patient.photo", photo_id=photo_id, _anchor="delete"), 303)
    flash(_("Photo deleted."), "success")
    return redirect(url_for("patient.photos_page"), 303)


@bp.get("/photos/compare")
def compare_photos():
    args = request.args
    result = photos.compare(
        current_user,
        Site.from_values(args),
        args.get("a", type=int),
        args.get("b", type=int),
        address=client_address(),
    )
    return render_template("patient/photos/compare.html", c=result)
