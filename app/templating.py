"""Jinja filters that turn instants into the patient's local, plain-English wording, and
the few page fragments that are the same for many requests (rendered once, then kept by
the fragment cache of app/speedups.py).
"""

from __future__ import annotations

import functools
import hashlib
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask import g
from flask import request
from markupsafe import Markup

from app import js_messages
from app.domain import reasons
from app.domain import wording
from app.domain.checkin import answer_words
from app.domain.checkin import not_answered
from app.domain.photos import fit_box
from app.i18n import current_locale
from app.i18n import date_as
from app.i18n import local
from app.speedups import fragment_cache


def _at_time(instant: datetime, tz: str, now: datetime) -> str:
    """ "12:00 today", "09:30 on Sat 6 Dec": for "saw it at ..." sentences."""
    return wording.clock_on(instant, ZoneInfo(tz), now)


def _site_parts(photo: object) -> tuple[str, str, str]:
    """(side, region, view) of a photo model or of the export's row (a dict)."""
    if isinstance(photo, dict):
        return photo["side"], photo["region"], photo["view"]
    return photo.side, photo.region, photo.view  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=512)
def _site_label(locale: str, side: str, region: str, view: str) -> str:
    """A site's label in ``locale`` (the current one), worked out once: a clinic's photo
    pages and a patient's export name the same few sites hundreds of times, and each
    label is three catalogue lookups (a fifth of the export's summary page,
    bench/export.py). ``locale`` is only the key: the lookups use the request's."""
    from app.services.photos import Site

    return Site(side, region, view).label


def _thumb_box(photo: object, edge: int) -> tuple[int, int]:
    """A stored photo's thumbnail size in a square slot of ``edge`` CSS pixels."""
    return fit_box(photo.width, photo.height, edge)  # type: ignore[attr-defined]


def register(app: Flask) -> None:
    """Install filters: ``when``, ``at_time``, ``on``, ``local``, ``date_as``, ``day_phrase``,
    ``lower_first``, ``site_label``, ``thumb_box``, ``yes_no``, ``not_answered`` and
    ``answer_words`` (a stored check-in's answers)."""

    @app.template_filter("when")
    def when(instant: datetime, tz: str, now: datetime) -> str:
        return wording.when(instant, ZoneInfo(tz), now)

    app.add_template_filter(_at_time, "at_time")

    @app.template_filter("on")
    def on(day: date, today: date) -> str:
        return wording.on(day, today)

    app.add_template_filter(local, "local")
    app.add_template_filter(date_as, "date_as")

    app.add_template_filter(wording.day_phrase, "day_phrase")
    app.add_template_filter(wording.lower_first, "lower_first")

    @app.template_filter("yes_no")
    def yes_no(value: object) -> str:
        # A stored yes/no answer; anything but True or False was not answered, and
        # says so (never "no": issue 14 point 1).
        return ("yes" if value else "no") if isinstance(value, bool) else "not answered"

    app.add_template_filter(_thumb_box, "thumb_box")
    app.add_template_filter(not_answered, "not_answered")
    app.add_template_filter(answer_words, "answer_words")

    @app.template_filter("site_label")
    def site_label(photo: object) -> str:
        # "Left calf, inner side" for a stored photo (anything with side, region, view,
        # or a mapping with those keys: the export's records are rows as dicts).
        return _site_label(str(current_locale()), *_site_parts(photo))

    @app.template_global("sc_generated")
    def sc_generated() -> str:
        # When this page was made, so a copy read offline can say how old it is.
        from app.clock import now

        return now().isoformat()

    @app.template_global("sc_generated_words")
    def sc_generated_words() -> str:
        # The same instant as the reader reads dates: "Mon 7 Dec, 14:30" in their zone,
        # for the offline banner (app.js), which must not use the phone's locale.
        from flask_login import current_user

        from app.clock import now

        user = current_user
        zone = user.patient.timezone if user.patient else user.clinic.timezone
        return local(now(), zone, "%a %-d %b, %H:%M")

    @app.template_global("open_alerts")
    def open_alerts() -> int:
        # The badge on the clinician's Dashboard tab: unacknowledged alerts of the clinic.
        from flask_login import current_user

        from app.services.review import open_alert_count

        if not current_user.is_clinician:
            return 0
        known = g.get("open_alerts")  # the dashboard has just counted them
        return known if known is not None else open_alert_count(current_user)

    @app.template_filter("sha256")
    def sha256(text: str) -> str:
        # Lets the page recognise "this device" without printing its push endpoint,
        # which is the only secret /push/resubscribe checks.
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    register_fragments(app)
    register_contact(app)
    register_protocol_words(app)


def register_protocol_words(app: Flask) -> None:
    """``rules_for_reader``: the check-in's offline triage table with its warning signs in
    the reader's language; ``reason``: a stored triage reason in the reader's language
    ("Pain 8 out of 10" with its number, app/domain/reasons.py); ``js_messages``: the
    page scripts' words in the reader's language (base.html's sc-i18n JSON)."""

    app.add_template_filter(reasons.for_reader, "reason")
    app.add_template_filter(lambda a: reasons.alert_as_shown(a.level, a.reasons), "as_shown")
    app.add_template_global(js_messages.for_reader, "js_messages")

    @app.template_filter("rules_for_reader")
    def rules_for_reader(rules: dict) -> dict:
        from app.services.care.protocol_text import rules_for_reader as translate

        return translate(rules)


def register_contact(app: Flask) -> None:
    """``contact_route``, ``dialable`` and ``opens``: the same-day call buttons."""

    @app.template_global("contact_route")
    def contact_route(clinic: object) -> object:
        # Whom to call first for same-day advice, from the clinic's hours at this instant
        # (app/templates/patient/_contact_buttons.html).
        from app.clock import now
        from app.services.clinic.settings import contact_route as route

        return route(clinic, now())  # type: ignore[arg-type]

    @app.template_global("clinic_thumb")
    def clinic_thumb(photo_id: int) -> str:
        # A clinician page's thumbnail link, marked as shown by a page (app/web.py).
        from flask_login import current_user

        from app.web import thumb_signature

        url = app.jinja_env.globals["url_with"]("clinician.photo_thumb", "photo_id", photo_id)
        return f"{url}?s={thumb_signature(current_user.id, photo_id)}"

    @app.template_filter("dialable")
    def dialable(number: str) -> str:
        # A number for a tel: link: a leading + and digits only.
        from app.domain.hours import dialable as digits

        return digits(number)

    @app.template_filter("opens")
    def opens(instant: datetime, tz: str) -> str:
        # "at 08:30 on Monday", in the reader's zone.
        from app.clock import now
        from app.domain.hours import opening_phrase

        return opening_phrase(instant, ZoneInfo(tz), now())


def _away_from(clinic: object) -> bool:
    """Whether the signed-in patient lives in another time zone than ``clinic``."""
    from flask_login import current_user

    patient = getattr(current_user, "patient", None)
    return patient is not None and patient.timezone != clinic.timezone  # type: ignore[attr-defined]


def register_fragments(app: Flask) -> None:
    """``help_box`` and ``patient_nav``: fragments shared by many pages, kept under a key
    that names everything they depend on (the fragment cache of app/speedups.py)."""
    fragments = fragment_cache(app)
    app.add_template_global(_away_from, "away_from")  # patient/_away_note.html

    @app.template_global("help_box")
    def help_box(clinic: object, flags: dict | None) -> Markup:
        # The red-flag box is on every patient page; it depends only on the clinic and the
        # protocol version's red flags, so all of a clinic's patients share one rendering.
        # ``clinic`` is this request's ClinicInfo (by value): settings changed on another
        # app server make a new key, never a stale box.
        red_flags = tuple((tier, tuple(notes)) for tier, notes in (flags or {}).items())
        # A patient whose zone is not the clinic's may be abroad: the box then names the
        # local emergency numbers too (patient/_away_note.html), so that is in the key.
        away = _away_from(clinic)
        key = ("help", str(current_locale()), clinic, red_flags, away)
        return fragments.get(key, "patient/_help.html", clinic=clinic, flags=flags, away=away)

    @app.template_global("patient_nav")
    def patient_nav() -> Markup:
        # The patient's tab bar differs only by the current page (and the mount point).
        endpoint = request.endpoint or ""
        key = ("nav", str(current_locale()), request.script_root, endpoint)
        return fragments.get(key, "_nav_patient.html", endpoint=endpoint)
