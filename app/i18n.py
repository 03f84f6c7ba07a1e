"""Translation and the reader's locale, with Flask-Babel (issue 19 point 4).

Every patient-facing string goes through these names, in Python as ``_("...")`` and in
templates as ``{{ _("...") }}``, so the message catalogue can be extracted with
``pybabel`` (babel.cfg; the workflow is in CONTRIBUTING.md). The catalogues live in
app/translations/<lang>/LC_MESSAGES.

Whose locale: a signed-in patient's chosen language, else their clinic's locale (a
clinic setting, "en_GB" unless changed), else en_GB. Never the browser's
Accept-Language for someone signed in: a UK clinic's patient on a US phone still reads
7/12, not 12/7. Before sign-in (the sign-in, PIN, set-password and link-expired pages),
the page follows the patient a link or remembered phone names (``read_as``), else
the browser's languages among LANGUAGES (only the language: dates keep en_GB's order),
else en_GB.
The time zone is the signed-in patient's, else the clinic's; pages about a patient
pass that patient's zone to the ``local`` filter explicitly (app/templating.py).

Domain code (app/domain) cannot import Flask: it marks text with
``app.domain.language.N_`` and says it through the translator installed here.
"""

from __future__ import annotations

import re
from datetime import date
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import flask_babel
from babel import Locale
from babel import localedata
from babel.dates import format_date
from babel.dates import format_datetime
from flask import Flask
from flask import g
from flask import has_app_context
from flask import has_request_context
from flask import request

from app.domain import language as domain_language

DEFAULT_LOCALE = "en_GB"
# The languages a patient may choose, with their names as their readers write them.
# "" follows the clinic's locale. Adding one: a catalogue in app/translations and a line.
LANGUAGES = {"en": "English", "es": "Español"}
# The locales a clinic may choose for its dates and default language (clinic settings).
CLINIC_LOCALES = {
    "en_GB": "English, United Kingdom (Mon 7 Dec 2026)",
    "en_IE": "English, Ireland (Mon 7 Dec 2026)",
    "en_AU": "English, Australia (Mon 7 Dec 2026)",
    "en_US": "English, United States (Mon Dec 7, 2026)",
    "es_ES": "Español, España (lun 7 dic 2026)",
}

babel = flask_babel.Babel()


def gettext(message: str, **variables: object) -> str:
    """The message in the reader's language, with ``%(name)s`` variables filled in."""
    return flask_babel.gettext(message, **variables)


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    """The singular or plural message for ``num``; ``%(num)d`` is always available."""
    return flask_babel.ngettext(singular, plural, num, **variables)


def N_(message: str) -> str:  # noqa: N802 - the conventional name for a deferred mark
    """Marks a string for extraction where it is defined; translated where it is shown."""
    return message


def lazy_gettext(message: str, **variables: object) -> flask_babel.LazyString:
    """``gettext`` deferred until the text is shown: form labels and messages defined at
    import time, read in each request's language."""
    return flask_babel.lazy_gettext(message, **variables)


_ = gettext
_l = lazy_gettext
# ``with force_locale("es"):`` says something in another language than the request's
# (a confirmation in the language just chosen).
force_locale = flask_babel.force_locale


def locale_for(language: str, clinic_locale: str) -> str:
    """The locale of pages for a patient's ``language`` ("" = the clinic's) in a clinic.

    A patient reading the clinic's own language keeps the clinic's regional formats
    (en + en_GB -> en_GB); another language takes the clinic's country where the CLDR
    knows that pairing (en + es_ES -> en_ES: "7 Dec 2026", never the bare "en"'s US
    "Dec 7, 2026"), else its own (es + en_GB -> es).
    """
    clinic_locale = clinic_locale or DEFAULT_LOCALE
    if not language or language not in LANGUAGES:
        return clinic_locale
    clinic = Locale.parse(clinic_locale)
    if clinic.language == language:
        return clinic_locale
    regional = f"{language}_{clinic.territory}"
    return regional if clinic.territory and localedata.exists(regional) else language


def _select_locale() -> str:
    if not has_request_context():
        return DEFAULT_LOCALE
    from flask_login import current_user

    user = current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return _signed_out_locale()
    patient = getattr(user, "patient", None)
    clinic = getattr(user, "clinic", None)
    clinic_locale = getattr(clinic, "locale", "") or DEFAULT_LOCALE
    return locale_for(patient.language if patient else "", clinic_locale)


def _signed_out_locale() -> str:
    language, clinic_locale = g.get("signed_out_reader") or ("", DEFAULT_LOCALE)
    if not language:
        language = request.accept_languages.best_match(tuple(LANGUAGES)) or ""
    return locale_for(language, clinic_locale or DEFAULT_LOCALE)


def read_as(reader: tuple[str, str] | None) -> None:
    """Before sign-in: this request's pages are for the patient ``reader`` names, as
    (their chosen language, "" for none; their clinic's locale), or None if unknown
    (app/services/accounts/reader_language.py). A signed-in reader keeps their own."""
    g.signed_out_reader = reader
    flask_babel.refresh()  # a locale looked up earlier in the request is forgotten


def _select_timezone() -> str | None:
    if not has_request_context():
        return None
    from flask_login import current_user

    user = current_user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    patient = getattr(user, "patient", None)
    return patient.timezone if patient else user.clinic.timezone


def current_locale() -> Locale:
    """The reader's locale (en_GB outside a request)."""
    return flask_babel.get_locale() or Locale.parse(DEFAULT_LOCALE)


def html_lang() -> str:
    """The page's ``<html lang>``: "en-GB", "es"."""
    return str(current_locale()).replace("_", "-")


# The CLDR patterns of the named day styles (app/domain/language.py:STYLES, and "date":
# the locale's own long date, "20 November 2026", "20 de noviembre de 2026").
_DAY_PATTERNS = {
    "short": "EEE d MMM",  # "Sat 6 Dec", "sáb 6 dic"
    "short_year": "EEE d MMM y",
    "weekday": "EEEE",  # "Saturday", "sábado"
    "long": "EEEE d MMMM",  # "Saturday 6 December", "sábado 6 diciembre"
    "date": "long",
}


# Where a locale writes them otherwise: the month first in the US, "de" in Spanish.
_DAY_PATTERNS_BY_LOCALE = {
    "en_US": {"short": "EEE MMM d", "short_year": "EEE MMM d, y", "long": "EEEE, MMMM d"},
    "es": {"long": "EEEE d 'de' MMMM"},
}


def format_day(day: date, style: str, locale: Locale | str | None = None) -> str:
    """``day`` in a named style ("short": "Sat 6 Dec", "short_year", "weekday", "long",
    "date"), in ``locale`` (the reader's if None). The one way the app names a day in
    words; templates use the ``date_as`` and ``local`` filters below, which share it."""
    locale = Locale.parse(locale) if locale else current_locale()
    special = _DAY_PATTERNS_BY_LOCALE.get(str(locale)) or _DAY_PATTERNS_BY_LOCALE.get(
        locale.language, {}
    )
    return format_date(day, special.get(style, _DAY_PATTERNS[style]), locale=locale)


# The strftime directives templates pass to ``local``, as CLDR pattern fields: Babel then
# names days and months in the reader's locale ("Mon 7 Dec 2026", "lun 7 dic 2026").
_CLDR = {
    "a": "EEE",
    "A": "EEEE",
    "d": "dd",
    "-d": "d",
    "b": "MMM",
    "B": "MMMM",
    "m": "MM",
    "Y": "y",
    "H": "HH",
    "M": "mm",
}
LOCAL_FORMAT = "%a %-d %b %Y, %H:%M"  # "Mon 7 Dec 2026, 14:30" in en_GB


# Per process (both caches here): pure functions of a format and a locale.
@lru_cache(maxsize=64)
def cldr_pattern(fmt: str) -> str:
    """A strftime format ("%a %-d %b %Y, %H:%M") as a Babel pattern ("EEE d MMM y, HH:mm");
    literal letters are quoted. An unknown directive raises ValueError (a template bug)."""
    out, i = [], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            code = fmt[i + 1 : i + 3] if fmt[i + 1 : i + 2] == "-" else fmt[i + 1 : i + 2]
            if code not in _CLDR:
                raise ValueError(f"No Babel field for %{code} in {fmt!r}")
            out.append(_CLDR[code])
            i += 1 + len(code)
        elif ch.isascii() and ch.isalpha() or ch == "'":
            out.append("''" if ch == "'" else f"'{ch}'")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


# A day then its month name ("7 Dec", "7 December"), and that month then a year, outside
# quoted literals: what a month-first locale turns round.
_DAY_MONTH = re.compile(r"(?<!')\b(d{1,2}) (M{3,4})\b")
_MONTH_DAY_YEAR = re.compile(r"\b(M{3,4} d{1,2}) (y)\b")
# A long date's words around a full month name: " 'de' " twice in Spanish, " " in English.
_LONG_JOINS = re.compile(r"d( (?:'[^']*' )?)MMMM( (?:'[^']*' )?)y")
_DAY_FULL_MONTH_YEAR = re.compile(r"(?<!')\b(d{1,2}) MMMM y\b")
_DAY_FULL_MONTH = re.compile(r"(?<!')\b(d{1,2}) MMMM\b")


@lru_cache(maxsize=256)
def in_locale_order(pattern: str, locale: str) -> str:
    """``pattern`` with the day and month in the order ``locale`` writes them.

    Templates name the fields day first ("EEE d MMM y"), as en_GB and es do; a locale
    whose own medium date puts the month first (en_US: "MMM d, y") reads "Mon Dec 7,
    2026", as the clinic chose on its settings page (app/i18n.py:CLINIC_LOCALES).
    Numeric patterns ("y-MM-dd") are left alone.
    """
    formats = Locale.parse(locale).date_formats
    medium = formats["medium"].pattern
    if medium.find("M") > medium.find("d") >= 0:
        # Day first; a full month name takes the locale's own joining words, as its
        # long date writes them: "18 de febrero de 2027" in Spanish.
        joins = _LONG_JOINS.search(formats["long"].pattern)
        if joins is None:
            return pattern
        before, after = joins.group(1), joins.group(2)
        pattern = _DAY_FULL_MONTH_YEAR.sub(rf"\1{before}MMMM{after}y", pattern)
        return _DAY_FULL_MONTH.sub(rf"\1{before}MMMM", pattern)
    pattern = _DAY_MONTH.sub(r"\2 \1", pattern)
    return _MONTH_DAY_YEAR.sub(r"\1, \2", pattern)


def local(instant: datetime, tz: str, fmt: str = LOCAL_FORMAT) -> str:
    """An instant in zone ``tz``, formatted by Babel in the reader's locale."""
    locale = current_locale()
    pattern = in_locale_order(cldr_pattern(fmt), str(locale))
    return format_datetime(instant, pattern, tzinfo=ZoneInfo(tz), locale=locale)


def date_as(day: date, fmt: str = "%a %-d %b %Y") -> str:
    """A calendar date (no time, no zone) in the reader's locale: "Mon 7 Dec 2026"."""
    return _date_in(day, fmt, str(current_locale()))


@lru_cache(maxsize=4096)
def _date_in(day: date, fmt: str, locale: str) -> str:
    # Formatted once per day and locale: a patient's data export writes a date beside
    # each of hundreds of photos and check-ins, most of them sharing a day, and Babel
    # formats each afresh (bench/export.py).
    return format_date(day, in_locale_order(cldr_pattern(fmt), locale), locale=locale)


def other_languages() -> list[str]:
    """The offered languages other than the reader's, for a page that must be read by
    whoever opens it later (the offline page, kept by the service worker as it was)."""
    return [code for code in LANGUAGES if code != current_locale().language]


def said_in(code: str, message: str) -> str:
    """``message`` in the language ``code``, whatever the reader's language."""
    with force_locale(code):
        return flask_babel.gettext(message)


def translated(message: object) -> str:
    """``message`` looked up in the reader's catalogue, as written if it is not there.

    An empty text stays empty: gettext's entry for "" is the catalogue's header
    ("Project-Id-Version: ..."), which must never reach a page (a protocol item with no
    detail, say).
    """
    text = str(message) if message is not None else ""
    return flask_babel.get_translations().ugettext(text) if text else text


def _key() -> str:
    return str(current_locale())


def _domain_say(message: str) -> str:
    # In an app context too: the dispatcher writes pushes and emails outside any request,
    # in each reader's language (``force_locale``, app/services/notify/languages.py).
    return flask_babel.gettext(message) if has_app_context() else message


def init_app(app: Flask) -> None:
    """Start Flask-Babel; give templates ``_``, ``gettext``, ``ngettext``, ``{% trans %}``
    and ``html_lang``; let app/domain say its words in the reader's language."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=_select_timezone)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # Jinja's newstyle callables fill in the variables themselves (escaping them), so
    # they get the bare translated text.
    app.jinja_env.install_gettext_callables(
        lambda message: flask_babel.get_translations().ugettext(message),
        lambda singular, plural, num: flask_babel.get_translations().ungettext(
            singular, plural, num
        ),
        newstyle=True,
    )
    app.jinja_env.globals["html_lang"] = html_lang
    app.jinja_env.globals["other_languages"] = other_languages
    app.jinja_env.globals["said_in"] = said_in
    # A message marked with N_ where it was written (a service's error), shown as text:
    # looked up only, never %-formatted, so a stray "%" in it cannot break the page.
    app.jinja_env.filters["translated"] = translated
    domain_language.install(_domain_say, format_day, _key)
