"""A comment to a patient sent after the clinician's idle sign-out is held, not lost.

Staff are signed out after 15 idle minutes (security checklist A7). Aftercare advice
typed between phone calls often takes longer: "Add comment" then went to the sign-in
page, and after signing in the comment box was empty and nothing was stored, without a
word (adversarial review, 2026-12-07). Now the text waits in the signed session cookie,
bound to the clinician whose session ended and to the patient, the sign-in page says it
was not saved, and after signing in the patient's page has it back in the comment box.
It is not posted for them: they read it again first. Anyone else signing in on that
browser never sees it. (The alert note is kept the same way when it is refused:
``ack_draft`` in routes.py.)
"""

from __future__ import annotations

from flask import flash
from flask import redirect
from flask import session
from flask import url_for
from werkzeug.wrappers import Response

from app.i18n import _
from app.services import accounts
from app.textinput import keep_for
from app.textinput import take_for

DRAFT = "comment_draft"


def hold_comment(patient_id: int, body: str) -> Response:
    """Keep a comment that arrived signed out; the sign-in page leads back to the
    patient's page, where it is put back in the box."""
    owner = accounts.session_owner(session.get("_user_id"))
    kept = bool(body.strip()) and owner is not None
    if kept:
        kept = keep_for(DRAFT, owner.user_id, {"patient": patient_id, "body": body})
    if kept:
        flash(
            _(
                "You were signed out after a while without use, so your comment was not "
                "added. Sign in and it will be back in the comment box, ready to add."
            ),
            "error",
        )
    else:
        flash(_("You were signed out, so your comment was not added. Please sign in."), "error")
    target = url_for("clinician.patient", patient_id=patient_id, _anchor="comments")
    return redirect(url_for("auth.login", next=target), 303)


def take_comment(user_id: int, patient_id: int) -> str | None:
    """The comment held for ``user_id`` on this patient's page, once; a draft of
    someone else's is dropped unseen, one for another patient waits for their page."""
    draft = take_for(DRAFT, user_id, lambda d: d.get("patient") == patient_id)
    body = draft.get("body") if draft else None
    return body if isinstance(body, str) else None
