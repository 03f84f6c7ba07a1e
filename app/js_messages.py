"""The words the page scripts show, translated on the server (issue 19 point 4).

The scripts in app/static/js write their words in English, each through ``t("...")``;
base.html renders the reader's translations of these messages as JSON
(``<script type="application/json" id="sc-i18n">``), keyed by that English text, and
app.js's ``scT`` looks each one up (English when there is none). Only the messages the
reader's language says otherwise are sent, so an English page carries none.
``tests/web/test_js_words.py`` checks that every ``t("...")`` in the scripts is here.
"""

from __future__ import annotations

import flask_babel

from app.i18n import N_

MESSAGES: tuple[str, ...] = (
    # app.js: the offline banner, ticks and the offline queue, signing out
    N_("You are offline."),
    N_("Offline copy, last updated %(when)s."),
    N_("Ticks and check-ins are saved on this phone and sent when you are online."),
    N_("Done"),
    N_("Mark as done"),
    N_("Saved on this phone, will send when online."),
    N_("Please sign in to send what you saved on this phone. Nothing is lost."),
    N_("Please reload this page to send what you saved on this phone. Nothing is lost."),
    N_("Sent. Everything saved on this phone has reached the clinic."),
    N_("The photo cannot be kept on the phone: please add it from Photos once you are online."),
    N_(
        "If you feel unwell or have any warning sign, call the clinic or the emergency "
        "number now: do not wait."
    ),
    N_("%(n)s entry is saved on this phone but not sent yet. Sign out and delete it?"),
    N_("%(n)s entries are saved on this phone but not sent yet. Sign out and delete them?"),
    # checkin.js: the offline error summary and the photo checks
    N_("There is a problem"),
    N_("Please answer yes or no: %(title)s"),
    N_("Choose a pain score from 0 to 10."),
    N_("Choose how much bruising you have."),
    N_("Tick the skin changes you have, or tick 'No skin changes'."),
    N_("Photo chosen: %(name)s."),
    N_(
        "That photo is larger than %(mb)s MB. Choose a smaller one, or press Remove the"
        " photo to send your answers without it."
    ),
    N_(
        "Please choose which area the photo shows (side, part of the leg and view), or "
        "press Remove the photo."
    ),
    # photos.js: the camera and the ghost of the last photo
    N_("Your new photo, with the last one faintly over it. If they do not line up, take it again."),
    N_("Your new photo."),
    N_("Line your leg up with the last photo, then press Take it now."),
    N_(
        "Your last photo of this area is shown faintly. Stand the same way and at the "
        "same distance, so the two line up."
    ),
    N_("Photo chosen. Check it in the frame above, then press Save photo."),
    N_("The camera could not be opened here. Use Take a photo instead."),
    # copylink.js
    N_("Copied"),
    N_("Link selected: press Ctrl+C (or Copy) to copy it"),
    # push.js: turning reminders on and off
    N_(
        "This browser cannot show reminders. Your Today page still has everything you "
        "need: please open it every day."
    ),
    N_(
        "This iPhone or iPad cannot show reminders yet. Update to iOS 16.4 or later, "
        "then open ScleroCare from your Home Screen."
    ),
    N_(
        "On iPhone and iPad, reminders only work once ScleroCare is on your Home "
        "Screen. Here is how."
    ),
    N_(
        "Reminders are blocked for ScleroCare in this browser's settings. To allow "
        "them, open the browser's settings for this site, set Notifications to Allow, "
        "then reload this page."
    ),
    N_("Reminders were not allowed. Tap Turn on reminders to try again."),
    N_("Reminders are off on this device."),
    N_("Reminders are on for this device."),
    N_("Turning on reminders…"),
    N_("Turning off reminders…"),
    N_("Reminders are off on this device. You can turn them on again at any time."),
    N_("Could not reach ScleroCare. Check your internet connection and try again."),
    N_("Your sign-in has ended. Please reload the page, sign in and try again."),
    N_("This page was open too long. Please reload it and try again."),
    N_("this browser's notification service did not answer. Please try again later."),
    N_("Something went wrong. Please reload the page and try again."),
    N_("Reminders could not be turned on: %(why)s"),
    N_("Reminders could not be turned off: %(why)s"),
    N_("Reminders could not be checked: %(why)s"),
    # triage.js: the reasons, worded as app/domain/reasons.py words them
    N_("Pain %(score)s out of 10"),
    N_("Tender lumps"),
    N_("Itching"),
    N_("No bruising"),
    N_("Mild bruising"),
    N_("Moderate bruising"),
    N_("Severe bruising"),
)


def for_reader() -> dict[str, str]:
    """Each script message the reader's catalogue says otherwise, by its English text."""
    translations = flask_babel.get_translations()
    said = {message: translations.ugettext(message) for message in MESSAGES}
    return {message: text for message, text in said.items() if text != message}
