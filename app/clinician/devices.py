"""A clinician's own alert devices, audited (issue 18 point 1), and the one-time notice
after a clinic link changed someone's password (issue 18 point 2).

The JSON handlers are the patients' (``app.push_devices``: the service keys devices by
who is signed in); here each is followed by an audit event when it succeeded, so a
member of staff turning alerts on or off is on the audit trail (no patient).
"""

from __future__ import annotations

from flask import flash
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_login import current_user

from app import push_devices
from app.clinician.routes import bp
from app.services import clinic
from app.services.accounts import link_notice
from app.services.notify import subscriptions as reminder_settings
from app.web import client_address
from app.web import device_label


def _link_notice() -> link_notice.LinkNotice | None:
    """The signed-in person's one-time notice that a clinic link changed their password
    (patients' Today page and the staff dashboard show it; read once, then forgotten).

    Looked up once per sign-in session, not on every page view: the Today page is read
    in two statements (tests/web/test_today_course.py). That is enough, because the
    notice is set only by using a link, which opens a new session and ends the others.
    """
    if not current_user.is_authenticated:
        return None
    if session.get(_NOTICE_CHECKED) == current_user.session_id:
        return None
    session[_NOTICE_CHECKED] = current_user.session_id
    return link_notice.take_notice(current_user)


# The sign-in session (its id) whose notice was already looked up.
_NOTICE_CHECKED = "link_notice_checked"


# An app-wide template global: the patients' Today page uses it too.
bp.add_app_template_global(_link_notice, "link_notice")


@bp.get("/reminders")
def reminders_page():
    return render_template("clinician/reminders.html", s=reminder_settings.settings(current_user))


@bp.post("/reminders/subscribe")
def subscribe():
    response = make_response(push_devices.subscribe_json())
    if response.status_code == 200:
        body = request.get_json(silent=True)
        again = isinstance(body, dict) and body.get("reconfirm") is True
        label = device_label(request.headers.get("User-Agent", ""))
        what = "re-confirmed alerts on" if again else "alerts on for"
        clinic.device_changed(current_user, "push subscribe", f"{what} {label}", client_address())
    return response


@bp.post("/reminders/unsubscribe")
def unsubscribe():
    response = make_response(push_devices.unsubscribe_json())
    if response.status_code == 200:
        removed = bool((response.get_json(silent=True) or {}).get("removed"))
        label = device_label(request.headers.get("User-Agent", ""))
        what = "alerts off for" if removed else "alerts already off for"
        clinic.device_changed(current_user, "push unsubscribe", f"{what} {label}", client_address())
    return response


@bp.post("/reminders/devices/<int:sub_id>/delete")
def delete_device(sub_id: int):
    if clinic.remove_device(current_user, sub_id, client_address()):
        flash("Alerts are off for that device.", "success")
    return redirect(url_for("clinician.reminders_page"), 303)
