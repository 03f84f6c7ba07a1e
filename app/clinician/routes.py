"""Routes under /clinic. The role is checked before every request of this blueprint."""

from __future__ import annotations

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user

from app.clinician import held
from app.clinician.forms import NewPatientForm
from app.clinician.forms import booking_form
from app.clock import now
from app.extensions import login_manager
from app.freshness import stale_response
from app.i18n import _
from app.services import clinic
from app.services import review
from app.services.accounts import reauth
from app.services.errors import Invalid
from app.textinput import DB_INT_MAX
from app.textinput import keep_in_session
from app.web import PHOTO_FILES
from app.web import client_address
from app.web import public_url

bp = Blueprint("clinician", __name__)


@bp.before_request
def require_staff():
    """Patients get 404 here, as if the clinic pages did not exist."""
    if not current_user.is_authenticated:
        if request.endpoint in PHOTO_FILES:
            abort(404)
        if request.endpoint == "clinician.comment" and request.view_args:
            # Sent after the idle sign-out: held for after signing in (held.py).
            patient_id = request.view_args["patient_id"]
            return held.hold_comment(patient_id, request.form.get("body", ""))
        return login_manager.unauthorized()
    if not current_user.is_clinician:
        abort(404)


def _protocol_choices(versions) -> dict[int, str]:  # noqa: ANN001 - ProtocolVersion rows
    return {v.id: f"{v.name} (v{v.version})" for v in versions}


def _default_protocol(versions) -> int | None:  # noqa: ANN001 - ProtocolVersion rows
    """The version of the clinic's default protocol (its settings page), to preselect."""
    key = current_user.clinic.default_protocol_key
    return next((v.id for v in versions if key and v.key == key), None)


def _field_error(form, exc: Invalid) -> None:  # noqa: ANN001
    field = {"treated_at": "date", "appointment": "date"}.get(exc.field, exc.field)
    target = getattr(form, field, None)
    if target is not None:
        target.errors = [*target.errors, exc.message]
    else:
        flash(exc.message, "error")


@bp.get("/patients")
def patients():
    status = request.args.get("status", "active")
    status = status if status in clinic.STATUSES else "active"
    q, number = request.args.get("q", "")[:100], request.args.get("page", 1, type=int)
    page = clinic.list_patients(current_user, q, number, client_address(), status)
    return render_template("clinician/patients.html", page=page, q=q, status=status)


@bp.route("/patients/new", methods=["GET", "POST"])
def new_patient():
    form = NewPatientForm(timezone=current_user.clinic.timezone)
    # The protocol is checked by the service (validate_choice=False), so the choices are
    # read only when the form is shown.
    if form.validate_on_submit():
        try:
            created = clinic.create_patient(
                current_user,
                name=form.name.data,
                email=form.email.data,
                timezone=form.timezone.data,
                appointment_local=form.local(),
                protocol_version_id=form.protocol.data,
                now=now(),
                phone=form.phone.data or "",
                email_url=invite_url if form.email_it.data else None,
                address=client_address(),
            )
        except Invalid as exc:
            _field_error(form, exc)
        else:
            # The link is shown by this response, never carried to the next page in the
            # session cookie (signed, not encrypted: the token would be readable in it).
            return _patient_page(
                created.patient.id,
                token=created.invitation_token,
                emailed=bool(form.email_it.data),
            )
    versions = clinic.protocol_choices(current_user)
    form.protocol.choices = _protocol_choices(versions)
    if request.method == "GET":
        form.protocol.data = _default_protocol(versions)
    status = 400 if request.method == "POST" else 200
    return render_template("clinician/new_patient.html", form=form), status


@bp.get("/patients/<int:patient_id>")
def patient(patient_id: int):
    return _patient_page(patient_id)


def invite_url(token: str) -> str:
    """The full sign-in link of an invitation token (patients' and staff's alike)."""
    return public_url("auth.accept_invite", token=token)


def _patient_page(patient_id: int, token: str | None = None, emailed: bool = False):  # noqa: ANN202
    """The patient page; with ``token``, the sign-in link just made, shown this once
    (``emailed``: it is also on its way to the patient's email)."""
    number = request.args.get("page", 1, type=int)
    page = clinic.patient_record_page(current_user, patient_id, client_address(), now(), number)
    draft = session.pop("ack_draft", None)
    phone_draft = session.pop("phone_draft", None)
    comment_draft = held.take_comment(current_user.id, patient_id)
    link = invite_url(token) if token else None
    book = booking_form(page.booking, page.protocols)  # app/clinician/sessions.py posts it
    return render_template(
        "clinician/patient.html",
        pg=page.record,
        outcome_rows=page.outcomes,
        p=page.record.diary.patient,
        link=link,
        emailed=emailed,
        ttl_days=current_app.config["SCLERO_INVITE_TTL"].days,
        book=book,
        ack_draft=dict([draft]) if draft else {},
        phone_draft=phone_draft[1] if phone_draft and phone_draft[0] == patient_id else None,
        closure=page.closure,
        comment_draft=comment_draft,
    )


def _worklist_url(anchor: str | None = None) -> str:
    # Back to the worklist as filtered and sorted (known values only: WorkView.parse).
    return url_for(
        "clinician.dashboard", _anchor=anchor, **review.WorkView.parse(request.form).args()
    )


@bp.post("/alerts/<int:alert_id>/acknowledge")
def acknowledge(alert_id: int):
    note = request.form.get("note", "")
    try:
        share = request.form.get("share") == "1"
        # What the page showed of the alert (absent on pages from before the field).
        seen = request.form.get("seen")
        alert = review.acknowledge(
            current_user, alert_id, note, client_address(), now(), share, seen
        )
    except Invalid as exc:
        # Keep what was typed: the patient page puts it back into this alert's note box,
        # if it fits the session cookie (a larger cookie is dropped or refused: 431).
        if keep_in_session("ack_draft", (alert_id, note)):
            flash(exc.message, "error")
        else:
            flash(f"{exc.message} Your note was too long to keep here.", "error")
        back = request.form.get("patient", type=int)
        if back is None:
            return redirect(url_for("clinician.dashboard"), 303)
        return redirect(url_for("clinician.patient", patient_id=back, _anchor="open-alerts"), 303)
    if note.strip() and (alert.acknowledged_by_id, alert.ack_note) != (
        current_user.id,
        note.strip(),
    ):
        # Someone acknowledged it first (a worklist row kept while being typed in): this
        # note was not saved; the patient's page shows the one that was.
        flash(_("This alert had already been acknowledged: your note was not saved."), "error")
        return redirect(
            url_for("clinician.patient", patient_id=alert.patient_id, _anchor="past-alerts"), 303
        )
    flash("Alert acknowledged.", "success")
    if request.form.get("back") == "dashboard":
        return redirect(_worklist_url(), 303)
    return redirect(url_for("clinician.patient", patient_id=alert.patient_id), 303)


def _shown_photos() -> list[int] | None:
    """The ids of the photos a page showed with a review button ("photos", comma-
    separated; empty: none), or None from a page from before the field (it showed all
    the day's photos, and says so with "photos_upto")."""
    raw = request.form.get("photos")
    if raw is None:
        return None
    # A page shows at most a page of photos (40); anything else in the list is ignored,
    # and so is what cannot be a photo's id: a number past the database's INTEGER
    # range (an error there) or of thousands of digits (``int()`` refuses them).
    tokens = (t.strip() for t in raw.split(",")[:100])
    ids = (int(t) for t in tokens if t.isascii() and t.isdigit() and len(t) <= 10)
    return [i for i in ids if 0 < i <= DB_INT_MAX]


@bp.post("/checkins/<int:checkin_id>/review")
def mark_reviewed(checkin_id: int):
    # What the page showed (absent on pages from before these fields: as before).
    seen = request.form.get("seen")
    upto = request.form.get("photos_upto", type=int)
    try:
        checkin = review.mark_reviewed(
            current_user, checkin_id, client_address(), now(), seen, upto, _shown_photos()
        )
    except review.ChangedSinceSeen as exc:
        flash(exc.message, "error")
        checkin = exc.checkin
    return redirect(
        url_for("clinician.patient", patient_id=checkin.patient_id, _anchor=f"day-{checkin.id}"),
        303,
    )


@bp.post("/photos/<int:photo_id>/review")
def review_photo(photo_id: int):
    photo = review.mark_photo_reviewed(current_user, photo_id, client_address(), now())
    if request.form.get("back") == "dashboard":
        return redirect(_worklist_url("photos-title"), 303)
    return redirect(url_for("clinician.patient", patient_id=photo.patient_id), 303)


@bp.post("/patients/<int:patient_id>/photos/review")
def review_day_photos(patient_id: int):
    day = review.mark_day_photos_reviewed(
        current_user,
        patient_id,
        request.form.get("on", ""),
        client_address(),
        now(),
        request.form.get("photos_upto", type=int),
        _shown_photos(),
    )
    page = request.form.get("page", 1, type=int)  # the diary page clamps it
    if request.form.get("back") == "photos":  # the photo page of that day
        return redirect(
            url_for(
                "clinician.patient_photos",
                patient_id=patient_id,
                on=day.isoformat() if day else None,
                page=page if page and page > 1 else None,
            ),
            303,
        )
    return redirect(
        url_for(
            "clinician.patient",
            patient_id=patient_id,
            page=page if page and page > 1 else None,
            _anchor=f"date-{day.isoformat()}" if day else "photos",
        ),
        303,
    )


@bp.post("/patients/<int:patient_id>/comments")
def comment(patient_id: int):
    try:
        body, key = request.form.get("body", ""), request.form.get("client_key")
        review.add_comment(current_user, patient_id, body, client_address(), now(), key)
        flash("Comment added. The patient sees it in their diary.", "success")
    except Invalid as exc:
        flash(exc.message, "error")
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="comments"), 303)


@bp.get("/audit")
def audit_log():
    if not current_user.is_admin:
        abort(404)
    return render_template(
        "clinician/audit.html",
        log=review.audit_log(current_user, request.args.get("page", 1, type=int)),
    )


@bp.post("/patients/<int:patient_id>/invitation")
def new_invitation(patient_id: int):
    # A link that replaces a patient's own password (admins only) needs a fresh sign-in (A9).
    if current_user.is_admin and reauth.link_replaces_password(current_user, patient_id):
        if (stale := stale_response()) is not None:
            return stale
    email_it = request.form.get("email_it") == "y"
    try:
        token = clinic.new_invitation(
            current_user,
            patient_id,
            now(),
            client_address(),
            email_url=invite_url if email_it else None,
        )
    except Invalid as exc:  # a closed account gets no link
        flash(exc.message, "error")
        return redirect(url_for("clinician.patient", patient_id=patient_id), 303)
    # Shown by this response (as the staff pages do), not kept in the session cookie;
    # reloading asks before posting again, which would only retire this link.
    return _patient_page(patient_id, token=token, emailed=email_it)


@bp.post("/patients/<int:patient_id>/phone")
def set_phone(patient_id: int):
    try:
        clinic.set_phone(current_user, patient_id, request.form.get("phone", ""), client_address())
        flash("Phone number saved.", "success")
    except Invalid as exc:
        session["phone_draft"] = (patient_id, request.form.get("phone", "")[:200])
        flash(exc.message, "error")
    return redirect(url_for("clinician.patient", patient_id=patient_id, _anchor="phone"), 303)
