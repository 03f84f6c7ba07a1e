"""The clinic settings page, for clinic admins only (issue 17 point 2).

Registered on the clinic blueprint, so ``require_staff`` has already turned patients
and visitors away; the service answers 404 for a clinician who is not an admin, as for
the audit log. The old opening-hours page, /clinic/settings/hours, now leads here.
"""

from __future__ import annotations

from flask import abort
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app.clinician.forms import ZONES
from app.clinician.routes import bp
from app.domain.hours import DAY_NAMES
from app.domain.weekly_hours import DayRow
from app.freshness import stale_response
from app.i18n import CLINIC_LOCALES
from app.services.clinic import profile
from app.web import client_address

# Opening and closing times a weekday row may carry (the page shows two, more only for
# hours stored with more); a longer value than any real field is cut, never a 500.
MAX_SLOTS = 4
FIELD_MAX = 1000
TEXT_FIELDS = (
    "name",
    "phone",
    "emergency_number",
    "out_of_hours_name",
    "out_of_hours_phone",
    "out_of_hours",
    "timezone",
    "default_protocol_key",
    "quiet_start",
    "quiet_end",
    "reply_to_email",
    "locale",
)


def _typed(form: MultiDict) -> profile.Settings:
    """The settings as posted, kept as typed (cut to FIELD_MAX) to show them again."""

    def text(name: str) -> str:
        return form.get(name, "")[:FIELD_MAX]

    days = []
    for day in range(7):
        times = tuple(
            (text(f"day-{day}-start-{n}"), text(f"day-{day}-end-{n}"))
            for n in range(MAX_SLOTS)
            if f"day-{day}-start-{n}" in form or f"day-{day}-end-{n}" in form
        )
        days.append(DayRow(form.get(f"day-{day}-open") == "1", times))
    return profile.Settings(days=tuple(days), **{name: text(name) for name in TEXT_FIELDS})


@bp.route("/settings", methods=["GET", "POST"])
def clinic_settings():
    # Admins only need a fresh sign-in (A9); for anyone else the service answers 404
    # (and audits a forged POST), as before.
    if current_user.is_admin and (stale := stale_response(url_for("clinician.clinic_settings"))):
        return stale
    errors: dict[str, str] = {}
    if request.method == "POST":
        typed = _typed(request.form)
        try:
            changed = profile.update_settings(current_user, typed, client_address())
        except profile.SettingsInvalid as exc:
            errors, page = exc.errors, exc.page
        else:
            if changed:
                flash(
                    f"Saved: {', '.join(changed)}. Patients see the change on their next page.",
                    "success",
                )
            else:
                flash("Nothing has changed.", "info")
            return redirect(url_for("clinician.clinic_settings"), 303)
    else:
        page = profile.settings_page(current_user)
    zones = ZONES if page.values.timezone in ZONES else [page.values.timezone, *ZONES]
    return render_template(
        "clinician/settings.html",
        page=page,
        v=page.values,
        errors=errors,
        zones=zones,
        day_names=DAY_NAMES,
        locales=CLINIC_LOCALES,
    ), (400 if errors else 200)


@bp.route("/settings/hours", methods=["GET", "POST"])
def clinic_hours():
    """The old opening-hours page: the hours are now rows on the settings page."""
    if not current_user.is_admin:
        abort(404)
    return redirect(url_for("clinician.clinic_settings", _anchor="hours"), 303)
