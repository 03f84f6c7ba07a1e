"""Marking text for translation (issue 19 point 4).

Every patient-facing string goes through these names, in Python as ``_("...")`` and in
templates as ``{{ _("...") }}``, so the message catalogue can be extracted with
``pybabel``. Until a catalogue is loaded they return the English text unchanged.
"""

from __future__ import annotations

from flask import Flask


def gettext(message: str, **variables: object) -> str:
    """The message in the reader's language, with ``%(name)s`` variables filled in."""
    return message % variables if variables else message


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    """The singular or plural message for ``num``; ``%(num)d`` is always available."""
    variables.setdefault("num", num)
    return (singular if num == 1 else plural) % variables


def N_(message: str) -> str:  # noqa: N802 - the conventional name for a deferred mark
    """Marks a string for extraction where it is defined; translated where it is shown."""
    return message


_ = gettext


def init_app(app: Flask) -> None:
    """Give templates ``_``, ``gettext`` and ``ngettext`` and ``{% trans %}`` blocks."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(gettext, ngettext, newstyle=True)
