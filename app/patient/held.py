"""A check-in sent after the sign-in session ended is held, not dropped.

A patient who opens the check-in, then goes to look at their leg, lie down or take a
photo, may press Send after the 30-minute idle sign-out (security checklist A7). The
answers then reached no one: the form went to the sign-in page, and after signing in
it was empty. A "yes" to chest pain was lost without a word (adversarial review,
2026-12-07; issue 14 point 6: no check-in is lost).

Now the answers are kept in the signed session cookie, bound to the person whose
session ended, and the sign-in page says the check-in has not been sent, with the
emergency number first when a warning sign was answered yes. After signing in (by
password or the phone's PIN) the check-in form comes back filled in, saying it was not
sent yet, for the patient to check and send. Nothing is sent for them: the answers may
be an hour old, and someone else may be holding the phone. Another person signing in
on the same browser never sees them.

A photo sent after the sign-out cannot be kept that way (a cookie holds a few KB):
the sign-in page says it was not saved, and leads back to the photo form.

The phone's offline queue (app.js) keeps its own entries until the patient signs in,
so its replays are not held a second time.
"""

from __future__ import annotations

from typing import Any

from flask import flash
from flask import redirect
from flask import request
from flask import session
from flask import url_for
from werkzeug.wrappers import Response

from app.i18n import _
from app.services import accounts
from app.textinput import keep_for
from app.textinput import take_for

HELD = "held_checkin"


def is_sent_by_hand() -> bool:
    """Whether this request is the check-in form itself, sent by the browser as a page
    (not a replay from the phone's queue, which keeps its own copy until sign-in)."""
    if request.headers.get("X-Sclero-Replay") == "1":
        return False
    # A fetch says so where the browser sends Fetch Metadata; a form post navigates.
    return request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"


def hold(answers: dict[str, Any], day: int | None, photo: bool) -> Response:
    """Keep the answers of a check-in that arrived signed out; the sign-in page, which
    says so, leads back to the check-in."""
    owner = accounts.session_owner(session.get("_user_id"))
    kept = note_dropped = False
    if owner is not None:
        held = {"answers": answers, "day": day, "photo": photo}
        kept = keep_for(HELD, owner.user_id, held)
        if not kept and answers.get("note"):
            # A long note is what overflows the cookie: keep every answer without it.
            held["answers"] = {**answers, "note": ""}
            held["note_dropped"] = True
            kept = note_dropped = keep_for(HELD, owner.user_id, held)
    warning = any(v == "yes" for v in (answers.get("red_flags") or {}).values())
    if warning:
        # First, before anything about signing in: nothing reached the clinic.
        if owner is not None:
            message = _(
                "You answered yes to a warning sign. If it is an emergency, call %(number)s "
                "now: do not wait to sign in.",
                number=owner.emergency_number,
            )
        else:
            message = _(
                "You answered yes to a warning sign. If it is an emergency, call the "
                "emergency number now: do not wait to sign in."
            )
        flash(message, "error")
    if kept:
        flash(
            _(
                "You were signed out after a while without use, so your check-in has not "
                "reached your clinic yet. Sign in and your answers will be back on the "
                "form, ready to send."
            ),
            "error",
        )
        if note_dropped:
            flash(_("Your note was too long to keep: please write it again."), "error")
    else:
        flash(
            _(
                "You were signed out, so your check-in has not reached your clinic yet. "
                "Please sign in and fill it in again."
            ),
            "error",
        )
    return redirect(url_for("auth.login", next=url_for("patient.checkin")), 303)


def take(user_id: int) -> dict[str, Any] | None:
    """The check-in held for ``user_id``, once; anyone else's is dropped unseen."""
    return take_for(HELD, user_id)


def problems(held: dict[str, Any]) -> dict[str, str]:
    """What the check-in page says above a held check-in's answers (as its error
    summary, with the urgent advice first when a warning sign was answered yes)."""
    said = {
        "held": _(
            "You were signed out before this check-in was sent, so your clinic has not "
            "seen it yet. Check your answers and press “Send check-in”."
        )
    }
    if held.get("note_dropped"):
        said["note"] = _("Your note was too long to keep: please write it again.")
    if held.get("photo"):
        said["photo"] = _("The photo you chose was not kept: please choose it again.")
    return said


def photo_not_saved(form: Any) -> Response:  # noqa: ANN401 - the request's form
    """A photo sent after the idle sign-out cannot wait in a cookie: say it was not
    saved, and lead back to the photo form for the same part of the leg."""
    flash(
        _(
            "You were signed out after a while without use, so your photo was not saved. "
            "Please sign in and add it again."
        ),
        "error",
    )
    site = {
        k: v
        for k in ("side", "region", "view")
        if isinstance(v := form.get(k), str) and v.isascii() and len(v) <= 20
    }
    target = url_for("patient.new_photo", **site)
    return redirect(url_for("auth.login", next=target), 303)
