"""The language a patient reads the app in (issue 19 point 4).

Chosen by the patient on Reminders ("Your account") or by a clinician on the patient's
Edit details page (app/services/clinic/lifecycle.py, audited there). "" follows the
clinic's locale; otherwise a language with a catalogue in app/translations
(app/i18n.py:LANGUAGES).
"""

from __future__ import annotations

from app.extensions import db
from app.i18n import LANGUAGES
from app.i18n import N_
from app.models import Patient
from app.principal import Principal
from app.services.errors import Invalid


def check_language(code: str, field: str = "language", allow_clinic: bool = True) -> str:
    """A language code the app can show ("" = the clinic's, when allowed).

    :raises Invalid: naming ``field``, for any other value.
    """
    code = (code or "").strip()
    if code in LANGUAGES or (allow_clinic and code == ""):
        return code
    raise Invalid(field, N_("Choose one of the languages listed."))


def set_language(user: Principal, code: str) -> str:
    """The signed-in patient chooses their language; returns the code stored.

    :raises Invalid: for a language the app does not offer.
    """
    assert user.patient is not None
    code = check_language(code, allow_clinic=False)
    patient = db.session.get(Patient, user.patient.id)
    assert patient is not None
    patient.language = code
    db.session.commit()
    return code


def shown_language(user: Principal) -> str:
    """The language a patient's form starts on: their choice, else the clinic's."""
    chosen = user.patient.language if user.patient else ""
    return chosen or user.clinic.locale.split("_")[0]
