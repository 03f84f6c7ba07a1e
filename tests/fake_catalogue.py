"""A Spanish catalogue that also "knows" messages the real one has not caught up with.

New marked text reaches app/translations only when the lead runs the catch-up
(CONTRIBUTING.md, "Translations"), so a test of new text cannot look for real Spanish.
With ``fake_spanish`` installed, a Spanish reader's lookup of a message the shipped
catalogue lacks comes back as ``ES[message]`` (the fixture's value, ``said``, tells what
the page shows either way): a page showing ``ES[...]`` proves the
text was looked up in the reader's catalogue, by that exact msgid, and ``extracted``
(tests/test_translations.py) proves pybabel will find it.
"""

from __future__ import annotations

import functools

import flask_babel
import pytest


def spanish(message: str) -> str:
    """What the fake catalogue says for a message the real one does not have."""
    return f"ES[{message}]"


class _Catalogue:
    """The real translations, with every unknown msgid answered by :func:`spanish`."""

    def __init__(self, real):  # noqa: ANN001 - babel's Translations or NullTranslations
        self._real = real
        self._known = getattr(real, "_catalog", {})

    def ugettext(self, message: str) -> str:
        if not message or message in self._known:
            return self._real.ugettext(message)
        return spanish(message)

    gettext = ugettext

    def ungettext(self, singular: str, plural: str, num: int) -> str:
        if (singular, 0) in self._known:
            return self._real.ungettext(singular, plural, num)
        return spanish(singular if num == 1 else plural)

    ngettext = ungettext

    def __getattr__(self, name: str):  # noqa: ANN204 - the rest as the real one
        return getattr(self._real, name)


@pytest.fixture
def fake_spanish(monkeypatch):
    """Spanish readers look messages up in the fake catalogue above."""
    real = flask_babel.Domain.get_translations

    def get_translations(self):  # noqa: ANN001, ANN202
        found = real(self)
        locale = flask_babel.get_locale()
        return _Catalogue(found) if locale is not None and locale.language == "es" else found

    monkeypatch.setattr(flask_babel.Domain, "get_translations", get_translations)
    return said


def said(message: str) -> str:
    """What a Spanish reader sees for ``message`` with the fake catalogue installed: the
    shipped translation once the catch-up has added it, else ``ES[message]``. (Returning
    only ``ES[...]`` broke every test here at the first catch-up.)"""
    known = _shipped()
    return known.ugettext(message) if message in known._catalog else spanish(message)


@functools.cache
def _shipped():  # noqa: ANN202 - babel's Translations
    from pathlib import Path

    from babel.support import Translations

    folder = Path(__file__).resolve().parents[1] / "app" / "translations"
    return Translations.load(str(folder), ["es"])


@functools.cache
def extracted() -> frozenset[str]:
    """Every msgid pybabel extracts from app/ (once per test run)."""
    from tests.test_translations import extracted as extract

    return frozenset(extract())


def in_spanish(flask_app, message: str, **variables: object) -> str:  # noqa: ANN001
    """``message`` as a Spanish reader gets it (with ``fake_spanish`` installed: the real
    translation, else ``ES[message]``), with its variables filled in."""
    from app.i18n import force_locale
    from app.i18n import gettext

    with flask_app.app_context(), force_locale("es"):
        return gettext(message, **variables)
