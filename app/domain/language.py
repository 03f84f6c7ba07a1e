"""The domain's words in the reader's language, without Flask (issue 19 point 4).

Domain modules mark their text with ``N_`` (so ``pybabel extract`` finds it) and say it
with ``say``; short dates come from ``short_day``. The app installs the translator and
the date formatter at start (app/i18n.py); until then, and in pure unit tests, the text
is the English as written and dates read "Sat 6 Dec".

``key()`` names the reader's locale, so cached wording is cached per language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date


def N_(message: str) -> str:  # noqa: N802 - the conventional name for a deferred mark
    """Marks text for extraction; translated by ``say`` where it is used."""
    return message


# How a day is written, by style: "short" "Sat 6 Dec", "short_year" "Sat 6 Dec 2027",
# "weekday" "Saturday", "long" "Saturday 6 December". The app formats them with Babel in
# the reader's locale; these English forms are the fallback of pure code and tests.
STYLES = {
    "short": "{day:%a} {day.day} {day:%b}",
    "short_year": "{day:%a} {day.day} {day:%b} {day.year}",
    "weekday": "{day:%A}",
    "long": "{day:%A} {day.day} {day:%B}",
}


def _english_day(day: date, style: str) -> str:
    return STYLES[style].format(day=day)


def _english_key() -> str:
    return "en_GB"


_translate: Callable[[str], str] = N_
_format_day: Callable[[date, str], str] = _english_day
_key: Callable[[], str] = _english_key


def install(
    translate: Callable[[str], str],
    format_day_fn: Callable[[date, str], str],
    key_fn: Callable[[], str],
) -> None:
    """Called once by the app (app/i18n.py:init_app)."""
    global _translate, _format_day, _key
    _translate, _format_day, _key = translate, format_day_fn, key_fn


def say(message: str, **variables: object) -> str:
    """``message`` (marked with ``N_``) in the reader's language, variables filled in.

    A protocol's text the catalogue knows comes back translated, any other as written;
    an empty one stays empty (gettext's entry for "" is the catalogue's header)."""
    if not message:
        return message
    text = _translate(message)
    return text % variables if variables else text


def short_day(day: date, with_year: bool = False) -> str:
    """ "Sat 6 Dec" (with the year: "Sat 6 Dec 2027") in the reader's locale."""
    return _format_day(day, "short_year" if with_year else "short")


def format_day(day: date, style: str) -> str:
    """``day`` in one of :data:`STYLES`, in the reader's locale."""
    return _format_day(day, style)


def key() -> str:
    """The reader's locale, e.g. "en_GB" or "es": part of every cache key of wording."""
    return _key()
