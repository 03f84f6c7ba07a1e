"""A protocol's patient-facing words in the reader's language (issue 19 point 6).

The shipped protocols' titles and details are in the message catalogue
(app/i18n_extract.py). A text the catalogue knows is shown translated; any other (a
clinic's own wording) is shown as the clinic wrote it. Only pages use this: alerts and
stored records keep the protocol's own words, so the clinic reads what was written.
"""

from __future__ import annotations

import weakref
from dataclasses import replace

import flask_babel

from app.domain.protocol.model import Protocol
from app.i18n import current_locale

_TEXT_SECTIONS = ("checklist", "tasks", "restrictions", "milestones", "normal", "red_flags")
# (id of the parsed protocol, locale) -> (a weak reference to it, its translation). The
# parsed protocols live in app/services/protocols.py's cache; a translation is made once
# per version and language.
_TRANSLATED: dict[tuple[int, str], tuple[weakref.ref, Protocol]] = {}


def for_reader(protocol: Protocol) -> Protocol:
    """``protocol`` with its titles and details in the reader's language."""
    locale = str(current_locale())
    if locale.startswith("en"):
        return protocol  # the protocols are written in English
    key = (id(protocol), locale)
    found = _TRANSLATED.get(key)
    if found is not None and found[0]() is protocol:
        return found[1]
    translations = flask_babel.get_translations()

    def say(text: str) -> str:
        return translations.ugettext(text) if text else text

    changed = {
        section: tuple(
            replace(item, title=say(item.title), detail=say(item.detail))
            for item in getattr(protocol, section)
        )
        for section in _TEXT_SECTIONS
    }
    translated = replace(protocol, summary=say(protocol.summary), **changed)
    if len(_TRANSLATED) > 256:
        _TRANSLATED.clear()
    _TRANSLATED[key] = (weakref.ref(protocol), translated)
    return translated


def rules_for_reader(rules: dict[str, object]) -> dict[str, object]:
    """The check-in page's offline triage table (``domain.checkin.offline_rules``) with
    each warning sign's title in the reader's language: the phone shows them offline as
    "You told us about: ...". Keys, tiers and days are untouched, so it decides the same.
    """
    translations = flask_babel.get_translations()
    flags = [
        {**flag, "title": translations.ugettext(flag["title"]) if flag.get("title") else ""}
        for flag in rules.get("red_flags", ())  # type: ignore[union-attr]
    ]
    return {**rules, "red_flags": flags}
