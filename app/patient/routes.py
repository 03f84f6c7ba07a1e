"""Routes under /patient: today, checklist, plan and the tick actions; reminders (push
devices, quiet hours); the daily check-in; the diary. Photo routes: app/patient/photos.py."""

from __future__ import annotations

import os

from flask import Blueprint
from flask import abort
from flask import current_app
from flask import flash
from flask import g
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from flask_login import logout_user

from app.clock import now
from app.domain.discharge import Access
from app.extensions import login_manager
from app.i18n import N_
from app.i18n import _
from app.i18n import force_locale
from app.patient import held as held_checkin
from app.patient.checkin_form import form_values
from app.patient.checkin_form import parse_checkin
from app.patient.forms import EmailChoiceForm
from app.patient.forms import LanguageForm
from app.patient.forms import QuietHoursForm
from app.patient.forms import TickForm
from app.push_devices import add_device_routes
from app.services import checkins
from app.services import photos
from app.services.accounts import language
from app.services.care import messages as clinic_messages
from app.services.care import recovery
from app.services.clinic import lifecycle
from app.services.errors import Invalid
from app.services.errors import NotFound
from app.services.notify import email_prefs
from app.services.notify import settings_page
from app.services.notify import subscriptions
from app.services.photos import Site
from app.services.refusals import refuse_read
from app.web import EXPORT_FILES
from app.web import PHOTO_FILES
from app.web import chosen_file
from app.web import client_address

bp = Blueprint("patient", __name__)
# A calendar app fetches its subscription link with no cookie (issue 20 point 3).
NO_SIGN_IN = frozenset({"patient.calendar_feed"})
# Exports answer 404 to nobody, as to anyone else (issue 20 point 5), not a sign-in page.
NOT_FOUND_SIGNED_OUT = frozenset({"patient.calendar_download"})


@bp.before_request
def require_patient():
    """Every route here is for patients only; staff get 404 (no patient record)."""
    if request.endpoint in NO_SIGN_IN:
        return None  # the link is the key; the service checks it (app/patient/calendar.py)
    if not current_user.is_authenticated:
        # Photo files, calendar files and export URLs answer 404, not a sign-in
        # redirect (issue 20 point 5).
        if (
            request.endpoint in PHOTO_FILES
            or request.endpoint in NOT_FOUND_SIGNED_OUT
            or request.endpoint in EXPORT_FILES
        ):
            abort(404)
        if request.endpoint == "patient.submit_checkin" and held_checkin.is_sent_by_hand():
            # Sent after the idle sign-out: held for after signing in, never dropped.
            photo = chosen_file(request.files) is not None
            day = request.form.get("day", type=int)
            return held_checkin.hold(parse_checkin(request.form), day, photo)
        if request.endpoint == "patient.upload_photo" and held_checkin.is_sent_by_hand():
            return held_checkin.photo_not_saved(request.form)
        return login_manager.unauthorized()
    if current_user.patient is None:
        abort(404)
    return _discharged_check()


# What a discharged patient may still post while they can read: turning reminders off on
# a device (a shared phone must be able to stop them), marking the clinic's messages as
# read (a comment can still arrive), choosing the language the pages are read in and
# stopping a calendar link (its feed already answers 404 after discharge). The
# check-in and photo forms are refused as pages too, so nobody fills one in for nothing.
_STILL_ALLOWED = {
    "patient.delete_device",
    "patient.unsubscribe",
    "patient.messages_seen",
    "patient.choose_language",
    # Closing the account is a data right, not a care action (issue 20 point 4).
    "patient.close_account",
    "patient.calendar_stop_link",
    # A copy of their own data stays theirs to take while they can read (issue 20).
    "patient.request_export",
}
_WRITE_PAGES = {"patient.checkin", "patient.new_photo"}


def _discharged_check():  # noqa: ANN202 - a response or None, as before_request takes
    """Read-only after discharge, closed after the read period (issue 17 point 4)."""
    clinic = current_user.clinic
    state = lifecycle.patient_access(current_user, now())
    # Read before a sign-out: the page's emergency line names local numbers too for a
    # patient in another zone (patient/_away_note.html).
    away = current_user.patient.timezone != clinic.timezone
    if state.access == Access.ENDED:
        logout_user()  # the service ended the sign-in session
        return render_template("patient/discharged.html", clinic=clinic, ended=True, away=away), 403
    if state.access == Access.ACTIVE:
        return None
    g.read_until = state.read_until  # the banner on every page (base.html)
    writing = request.method not in ("GET", "HEAD") or request.endpoint in _WRITE_PAGES
    if not writing or request.endpoint in _STILL_ALLOWED:
        return None
    if request.is_json or request.accept_mimetypes.best == "application/json":
        message = _(
            "Your course with %(clinic)s has ended, so this cannot be changed.", clinic=clinic.name
        )
        return jsonify(ok=False, error=message), 403
    return render_template("patient/discharged.html", clinic=clinic, ended=False, away=away), 403


@bp.get("/today")
def today():
    page = recovery.today_page(current_user, now())
    return render_template("patient/today.html", page=page, now=now())


@bp.post("/messages/seen")
def messages_seen():
    """The patient opened the clinic's messages in the diary (its button on Today, or
    the diary page itself once drawn: ``then=none``), or dismissed the card on Today
    (issue 19 point 3): they are no longer new."""
    then = request.form.get("then")
    try:
        upto = clinic_messages.parse_instant(request.form.get("upto"))
        clinic_messages.mark_seen(current_user, upto, now())
    except Invalid as exc:
        if then == "none":
            return exc.message, 400

        flash(exc.message, "error")
        return redirect(url_for("patient.today"), 303)
    if then == "none":  # the diary's own POST once drawn (app.js): nothing to show
        return "", 204
    if then == "diary":
        return redirect(url_for("patient.diary_page", _anchor="comments-title"), 303)
    return redirect(url_for("patient.today"), 303)


@bp.get("/checklist")
def checklist():
    course, view = recovery.checklist_page(current_user, now())
    return render_template("patient/checklist.html", course=course, view=view, now=now())


@bp.get("/plan")
def plan():
    course, view = recovery.plan_page(current_user, now())
    return render_template("patient/plan.html", course=course, view=view, now=now())


@bp.post("/checklist/<key>")
def tick_checklist(key: str):
    form = TickForm()
    if not form.validate_on_submit():
        abort(400)
    recovery.set_checklist_item(current_user, key, form.done.data == "1", now())
    return redirect(url_for("patient.checklist", _anchor=f"item-{key}"), 303)


@bp.post("/tasks/<key>")
def tick_task(key: str):
    form = TickForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        recovery.set_task(current_user, key, form.day.data, form.done.data == "1", now())
    except Invalid as exc:
        flash(exc.message, "error")
    return redirect(url_for("patient.today", _anchor=f"task-{key}"), 303)


@bp.get("/reminders")
def reminders_page():
    # Two statements after the sign-in check (issue 22 point 3): settings_page.
    page = settings_page.reminders_page(current_user, now())
    data = page.settings
    form = QuietHoursForm(start=data.quiet_start, end=data.quiet_end)
    email_form = EmailChoiceForm(channel=data.email_choice)
    language_form = LanguageForm(language=language.shown_language(current_user))
    return render_template(
        "patient/reminders.html",
        s=data,
        calendar=page.calendar,
        export_job=page.export,
        form=form,
        email_form=email_form,
        language_form=language_form,
    )


@bp.post("/reminders/language")
def choose_language():
    form = LanguageForm()
    if not form.validate_on_submit():
        flash(_("Choose a language."), "error")
    else:
        try:
            language.set_language(current_user, form.language.data)
        except Invalid as exc:
            flash(_(exc.message), "error")
        else:
            # Said in the new language: this request still has the old one.
            with force_locale(form.language.data):
                flash(_("Language saved."), "success")
    return redirect(url_for("patient.reminders_page", _anchor="account-title"), 303)


@bp.post("/reminders/email")
def email_choice():
    form = EmailChoiceForm()
    if form.validate_on_submit():
        email_prefs.set_email_choice(current_user, form.channel.data, now())
        flash(_("Saved.") + " " + _(_EMAIL_SAVED[form.channel.data]), "success")
    else:
        flash(_("Choose how you would like your reminders."), "error")
    return redirect(url_for("patient.reminders_page", _anchor="email-title"), 303)


_EMAIL_SAVED = {
    "auto": N_("Reminders come to your devices, or by email when none has reminders on."),
    "email": N_("Reminders come by email, at most one a day."),
    "off": N_("No reminder emails."),
}


add_device_routes(bp)


@bp.post("/reminders/devices/<int:sub_id>/delete")
def delete_device(sub_id: int):
    try:
        removed = subscriptions.remove_subscription(current_user, sub_id=sub_id)
    except NotFound as exc:
        # Someone else's device (or none): still 404, now audited (checklist E2).
        what = f"reminder device #{sub_id}"
        raise refuse_read(current_user, what, client_address(), str(exc), now()) from exc
    if removed:
        flash(_("Reminders are off for that device."), "success")
    return redirect(url_for("patient.reminders_page"), 303)


@bp.post("/reminders/quiet-hours")
def quiet_hours():
    form = QuietHoursForm()
    if form.validate_on_submit():
        try:
            subscriptions.set_quiet_hours(current_user, form.start.data, form.end.data, now())
            flash(_("Quiet hours saved."), "success")
        except Invalid as exc:
            flash(_(exc.message), "error")
    else:
        flash(_("Choose a start and an end time."), "error")
    return redirect(url_for("patient.reminders_page"), 303)


def _checkin_page(
    data: checkins.CheckInForm,
    values: dict,
    errors: dict,
    refused: checkins.AnswersRefused | None = None,
    lost: bool = False,
) -> str:
    # After a refusal, the photo sent with the answers may have been kept anyway: the
    # page shows it (or why it was not saved) so the patient need not choose it again.
    return render_template(
        "patient/checkin.html",
        f=data,
        values=values,
        errors=errors,
        sides=photos.SIDES,
        regions=photos.REGIONS,
        views=photos.VIEWS,
        photo=refused.photo if refused else None,
        photo_error=refused.photo_error if refused else None,
        early=refused.urgent if refused else None,
        lost=lost,
    )


@bp.get("/checkin")
def checkin():
    held = held_checkin.take(current_user.id)
    if held is not None:
        return _held_checkin_page(held)
    data = checkins.checkin_form(current_user, now())
    if data.follow_up_over:
        return render_template("patient/checkin_closed.html", f=data)
    stored = data.existing.answers if data.existing else {}
    return _checkin_page(data, form_values(stored, data.questions), {})


def _held_checkin_page(held: dict) -> str:
    """A check-in sent after the idle sign-out, back on its form to be sent
    (app/patient/held.py): for the day it was filled in, else today."""
    try:
        data = checkins.checkin_form(current_user, now(), held.get("day"))
    except (Invalid, TypeError):
        data = checkins.checkin_form(current_user, now())
    if data.follow_up_over:
        return render_template("patient/checkin_closed.html", f=data)
    values = form_values(held["answers"], data.in_window)
    lost = bool(held.get("note_dropped") or held.get("photo"))
    return _checkin_page(data, values, held_checkin.problems(held), lost=lost)


def attached_photo(form, files) -> checkins.AttachedPhoto | None:  # noqa: ANN001
    """The optional photo of the check-in form, if one was chosen.

    One over the photo limit is not read at all (it waits in a temporary file until the
    request ends); the service then refuses it on its own, keeping the answers.
    """
    upload = chosen_file(files)
    if upload is None:
        return None
    upload.stream.seek(0, os.SEEK_END)
    size = upload.stream.tell()
    upload.stream.seek(0)
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    data = upload.read() if not limit or size <= limit else None
    return checkins.AttachedPhoto(data, form.get("side"), form.get("region"), form.get("view"))


@bp.post("/checkin")
def submit_checkin():
    raw = parse_checkin(request.form)
    day = request.form.get("day", type=int)
    try:
        key = request.form.get("client_key") or None
        photo = attached_photo(request.form, request.files)
        result = checkins.submit_checkin(current_user, raw, key, now(), day, photo)
    except checkins.AnswersRefused as exc:
        data = checkins.checkin_form(current_user, now(), day if exc.field != "day" else None)
        values = {**form_values(raw, data.in_window), "site": Site.from_values(request.form)}
        return _checkin_page(data, values, exc.errors, exc), 400
    return render_template("patient/checkin_result.html", r=result)


@bp.get("/diary")
def diary_page():
    page = checkins.diary_page(current_user)
    # The page marks the clinic's messages seen with a POST once drawn (app.js,
    # "messages-seen"), up to the newest one it read: the GET stays a read.
    return render_template("patient/diary.html", d=page.diary, photo_diary=page.photos)
