"""The message catalogues are complete and shipped compiled (issue 19 point 4).

The text marked for translation is extracted from app/ exactly as pybabel does with
babel.cfg (CONTRIBUTING.md, "Translations"). Each message must have a Spanish
translation with the same ``%(name)s`` variables; the committed .mo must say what the
.po says (it is what the app reads; nothing is compiled at start-up).
"""

from __future__ import annotations

import re
from configparser import RawConfigParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
CATALOGUES = APP / "translations"
LANGUAGES = ("es",)
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "_l": None,
    "lazy_gettext": None,
}
VARIABLE = re.compile(r"%\((\w+)\)[sd]")


def _method_map() -> tuple[list[tuple[str, str]], dict[str, dict[str, str]]]:
    parser = RawConfigParser()
    parser.read(ROOT / "babel.cfg")
    methods, options = [], {}
    # Custom extractors are named in [extractors] and used by that name, as pybabel does.
    named = dict(parser.items("extractors")) if parser.has_section("extractors") else {}
    for section in parser.sections():
        if section == "extractors":
            continue
        method, pattern = (part.strip() for part in section.split(":", 1))
        methods.append((pattern, named.get(method, method)))
        options[pattern] = dict(parser.items(section))
    return methods, options


def extracted() -> dict[str, tuple[str, ...]]:
    """Every marked message in app/ (and app/templates/_macros, which pybabel's walk
    skips for its leading underscore), by msgid: the ids (singular, plural)."""
    methods, options = _method_map()
    found: dict[str, tuple[str, ...]] = {}
    for folder in (APP, APP / "templates" / "_macros"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(folder), methods, options, KEYWORDS
        ):
            ids = (message,) if isinstance(message, str) else tuple(message)
            if ids[0]:
                found[ids[0]] = ids
    return found


def _po(lang: str):
    with open(CATALOGUES / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def test_extraction_finds_marked_text_in_python_templates_and_macros():
    found = extracted()
    # One from each kind of source, so a broken babel.cfg cannot pass as "nothing to do".
    assert "Your recovery plan" in found  # a template
    assert "Photo deleted." in found  # a flash message in a view
    assert "until midnight tonight" in found  # app/domain, marked with N_
    assert "Take a photo" in found  # app/templates/_macros
    assert "Remember this phone" in found  # a lazy form label
    assert "Wear your stockings day and night" in found  # a shipped protocol (point 6)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_has_a_translation(lang):
    catalogue = _po(lang)
    missing = []
    for msgid, ids in sorted(extracted().items()):
        entry = catalogue.get(ids if len(ids) > 1 else msgid)
        strings = entry.string if entry is not None else ""
        strings = strings if isinstance(strings, tuple) else (strings,)
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(msgid)
    assert not missing, (
        f"{len(missing)} message(s) lack a {lang} translation; run the steps in "
        f"CONTRIBUTING.md 'Translations':\n" + "\n".join(missing[:40])
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_variables(lang):
    wrong = []
    for entry in _po(lang):
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(VARIABLE.findall(ids[-1]))
        for text in strings:
            if set(VARIABLE.findall(text)) != wanted and not (len(ids) > 1 and text == strings[0]):
                wrong.append(f"{ids[0]!r} -> {text!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_compiled_catalogue_matches_the_po(lang):
    def plain(catalogue) -> dict:  # noqa: ANN001 - a Babel catalogue
        return {
            tuple(m.id) if isinstance(m.id, list | tuple) else m.id: (
                tuple(m.string) if isinstance(m.string, list | tuple) else m.string
            )
            for m in catalogue
            if m.id and m.string and not m.fuzzy
        }

    with open(CATALOGUES / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
        compiled = plain(read_mo(f))
    written = plain(_po(lang))
    assert compiled == written, "recompile: pybabel compile -d app/translations"


def test_the_template_lists_every_message():
    with open(CATALOGUES / "messages.pot", "rb") as f:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    assert set(extracted()) == template, "re-extract: see CONTRIBUTING.md 'Translations'"


def test_reviewed_spanish_wording_holds():
    """Entries checked in context (review rvi18n): a badge that fits any patient, the
    reasons a check-in was flagged (not who flagged it), the real button's words, a
    count column, and a protocol count that reads right for 1 as for 10."""
    catalogue = _po("es")
    wanted = {
        "Discharged": "De alta",  # "Dado de alta" is masculine; the badge is on anyone
        "Flagged: %(reasons)s": "Motivos del aviso: %(reasons)s",  # not "flagged by"
        "Edit %(name)s": "Editar los datos de %(name)s",  # as the button says
        "Changed": "Cambios",  # the column holds a number of changes
        "Walked": "Paseos",  # a label beside "Piernas en alto", "Picor"
        "%(treated)s treated, %(booked)s booked": "Tratados: %(treated)s; con cita: %(booked)s",
    }
    assert {k: catalogue.get(k).string for k in wanted} == wanted
    assert catalogue.get("Edit %(name)s's details").string == catalogue.get("Edit %(name)s").string
