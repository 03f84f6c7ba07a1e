"""The check-in's request: a larger body and larger text fields for the daily
check-in of a signed-in patient, so an over-large photo or note is refused on its own
and the answers are still saved and triaged (installed by ``app.speedups.install``).
"""

from __future__ import annotations

from flask import Flask
from flask import Request
from flask import current_app

# The view that takes the daily check-in (``CheckInRequest``); its paths are read from
# the URL map at start-up, so renaming or moving the route cannot silently undo it.
CHECKIN_ENDPOINT = "patient.submit_checkin"


def _signed_in_patient() -> bool:
    from flask_login import current_user

    return bool(current_user.is_authenticated and current_user.is_patient)


# The largest text field of a check-in read into memory (see CheckInBody).
CHECKIN_FIELD_BYTES = 2 * 1024 * 1024


class CheckInBody(Request):
    """The app's request, with a larger body allowed for the daily check-in.

    The check-in form carries an optional photo. If its body went over
    ``MAX_CONTENT_LENGTH`` the whole form would be refused unread (413) and the patient's
    answers lost with it; read up to ``SCLERO_CHECKIN_MAX_BODY`` instead, so only the
    photo is refused (the view checks its size) and the check-in is saved and triaged.
    Only for a signed-in patient: nobody else may make the server take in that much.
    Put in front of the app's own request class by ``install_checkin_request``.
    """

    checkin_paths: frozenset[str] = frozenset()

    @property
    def sends_checkin(self) -> bool:
        """A daily check-in being sent (its 413 page says what to do: app/errors.py)."""
        return self.method == "POST" and self.path in self.checkin_paths

    @property
    def lifted(self) -> bool:
        """Whether the check-in's own limits apply: a signed-in patient sending it."""
        return bool(current_app) and self.sends_checkin and _signed_in_patient()

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is None and self.lifted:
            return current_app.config["SCLERO_CHECKIN_MAX_BODY"]
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value

    @property
    def max_form_memory_size(self) -> int | None:
        # A text field over Flask's 500 kB (a broken or tampered client: the note box
        # takes 2,000 characters) refused the whole check-in, warning signs and all,
        # while the same answers urlencoded were saved with the note refused on its own.
        # Read the check-in's text fields up to CHECKIN_FIELD_BYTES, so the service
        # refuses only the note; beyond that the 413 page says what to do.
        limit = super().max_form_memory_size
        if self._max_form_memory_size is None and limit is not None and self.lifted:
            return max(limit, CHECKIN_FIELD_BYTES)
        return limit

    @max_form_memory_size.setter
    def max_form_memory_size(self, value: int | None) -> None:
        self._max_form_memory_size = value


def checkin_paths(app: Flask) -> frozenset[str]:
    """The paths ``POST`` of ``CHECKIN_ENDPOINT`` answers on, from the URL map.

    Start-up fails if there are none, or if one takes arguments (the body limit is
    decided before routing, by comparing paths): a renamed or reshaped route must be
    noticed here rather than silently lose big check-ins.
    """
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint == CHECKIN_ENDPOINT and "POST" in (rule.methods or ())
    ]
    if not rules or any(rule.arguments for rule in rules):
        raise RuntimeError(
            f"CheckInRequest: no plain POST route for {CHECKIN_ENDPOINT!r} "
            f"(found {[rule.rule for rule in rules]}); update app/checkin_request.py"
        )
    return frozenset(rule.rule for rule in rules)


def install_checkin_request(app: Flask) -> None:
    """``app.request_class`` becomes ``CheckInRequest``: ``CheckInBody`` over it."""
    app.request_class = type(
        "CheckInRequest",
        (CheckInBody, app.request_class),
        {"checkin_paths": checkin_paths(app), "__module__": __name__},
    )
