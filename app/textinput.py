"""What the app accepts from a request: one place for the rules on text, numbers, dates
and JSON, applied by the request class (``app.InputRequest``) before any view runs, so
a new field cannot forget them (issue 14 point 6, issue 15 point 4).

Text (every form field and query argument, every string in a JSON body):

==================  ====================================================================
field               rule
==================  ====================================================================
multi-line          ``note``, ``body`` and any name ending in ``_note`` (check-in, photo
                    and acknowledgement notes, comments; a new text box should use one
                    of these names, or be added to ``MULTILINE_FIELDS``): line breaks
                    become ``\\n`` (browsers send ``\\r\\n``, which would also count
                    twice against a length limit); tab and line break are kept; every
                    other control character (C0, DEL, C1) is removed.
verbatim            ``password``, ``confirm``: passed on as sent. They are only ever
                    hashed, never stored or shown, and must compare exactly.
single-line         every other field, query argument, JSON string and JSON key: tab and
                    line break become a space; every other control character is removed.
free text           the multi-line fields and ``reason`` (a discharge reason): the
                    bidirectional embedding, override and isolate controls (U+202A-
                    U+202E, U+2066-U+2069) are removed as well. An unclosed right-to-
                    left override in a discharge reason reversed the app's own words
                    after it ("oN .tnes era sredinimer"; adversarial review,
                    2026-12-07). Right-to-left text itself is kept. Elsewhere (the
                    clinic's advice and names, staff names) they reach the field's
                    own check, which refuses them with a message (issue 17 review).
all                 a lone surrogate (only JSON can carry one) becomes U+FFFD.
==================  ====================================================================

Why remove and not refuse: no keyboard types these characters, and browsers drop them
from one-line inputs, so they arrive from a paste, a broken client or an attacker. A
refusal would be read by nobody, and on the check-in form it could lose the answers
around the note, red flags included. PostgreSQL cannot store NUL at all (a 500 before
this rule). What is removed was invisible anyway.

Refused instead, where the text is a name rather than words: a URL path part with a
control character is 404 (``TextConverter``); a protocol file with one is refused with
the place named (``find_control``, used by ``flask protocols validate|load``).

Numbers: a URL id past the database's INTEGER range (``DB_INT_MAX``) is 404, and a
form or query number read with ``get(..., type=int)`` is clamped to it, so a page number
past the last page is still an empty page and never an overflow. Dates typed into
forms lie between ``DATE_MIN`` and ``DATE_MAX``, so no local time in any zone
overflows when it becomes UTC (``calendar_date``).

Drafts: a form's text kept for the next page goes into the session cookie only if the
cookie stays within ``SESSION_COOKIE_BUDGET`` (``keep_in_session``); a cookie past the
browsers' 4 KB limit is dropped, and a large one makes the server answer 431.

Form bodies: an urlencoded body whose text is not UTF-8 (a raw byte such as ``\xe9``,
or one escaped as ``%E9``) is refused whole with a 400 that says the text could not be
read (``UnreadableForm``, read by ``FormParser``). Werkzeug would read the first as an
empty form, so the CSRF check failed and the page said the form had expired, and keep
the second as the literal text ``%E9``. Browsers send UTF-8 from the app's pages, so
only a broken client gets here. Multipart bodies (the check-in, photos) are read by
Werkzeug with U+FFFD for a byte that is not UTF-8, which keeps a check-in's answers.

Forms: every form of the app derives from ``Form``, which reads form fields only.
Flask-WTF would otherwise build a form from any JSON body (a JSON list or number was a
500); a JSON body sent to a form is an empty form, refused with the form's messages.

JSON: an object of at most ``JSON_MAX_BYTES`` and ``JSON_MAX_DEPTH`` levels, checked
before parsing (Python's parser recurses, and a RecursionError was a 500); a body that
is a list, a string or a number is refused too, as views read it with ``.get``. Anything
else is a ``ValueError``, which Flask turns into a 400 (or ``None`` for ``get_json(silent=True)``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from collections.abc import Iterable
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from flask import current_app
from flask import request
from flask import session
from flask_wtf import FlaskForm
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.formparser import FormDataParser
from werkzeug.routing import IntegerConverter
from werkzeug.routing import UnicodeConverter
from werkzeug.routing import ValidationError

MULTILINE_FIELDS = frozenset({"note", "body"})
VERBATIM_FIELDS = frozenset({"password", "confirm"})
# One-line free text shown to others (a discharge reason): bidi controls removed too.
FREE_TEXT_FIELDS = frozenset({"reason"})

# PostgreSQL INTEGER, the type of every id and day column (SQLite's is wider).
DB_INT_MAX = 2**31 - 1
# Wide enough for any appointment, treatment or diary day; narrow enough that a local
# time in Etc/GMT-14 or Etc/GMT+12 is still a valid UTC instant (0001 and 9999 are not).
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2099, 12, 31)

# A push subscription is about 500 bytes; nothing the app is sent as JSON is nested
# more than three levels.
JSON_MAX_BYTES = 64 * 1024
JSON_MAX_DEPTH = 16

# Browsers keep cookies up to 4096 bytes, name and attributes included; leave room for
# a flashed message or two written after the draft.
SESSION_COOKIE_BUDGET = 3000

_NEWLINES = re.compile(r"\r\n?")
_SURROGATES = re.compile("[\ud800-\udfff]")
# C0 controls, DEL and C1 controls, without tab and line feed (those depend on the field).
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TAB_OR_NEWLINE = re.compile("[\t\n]")
# Bidirectional embeddings, overrides and isolates: they reorder the text after them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_ANY_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# What ``find_control`` refuses in files (tab and line breaks are layout there).
_FILE_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(value: str, *, multiline: bool, free_text: bool | None = None) -> str:
    """Text as the app stores it: see the module's table. Idempotent.

    :param multiline: keep tabs and line breaks (as ``\\n``) instead of making them spaces.
    :param free_text: remove the bidirectional controls too (default: ``multiline``).
    """
    if value.isprintable():  # no control, separator or surrogate: the common case
        return value
    value = _CONTROLS.sub("", _SURROGATES.sub("\ufffd", _NEWLINES.sub("\n", value)))
    if multiline if free_text is None else free_text:
        value = _BIDI_CONTROLS.sub("", value)
    return value if multiline else _TAB_OR_NEWLINE.sub(" ", value)


def clean_field(name: str, value: str) -> str:
    """A form field or query argument's value, by the rule for its name."""
    if name in VERBATIM_FIELDS:
        return value
    multiline = name in MULTILINE_FIELDS or name.endswith("_note")
    return clean_text(value, multiline=multiline, free_text=multiline or name in FREE_TEXT_FIELDS)


def has_control(value: str) -> bool:
    """Whether text holds a control character (tab and line breaks included) or a
    lone surrogate: such text is no name, path or address."""
    return not value.isprintable() and bool(_ANY_CONTROL.search(value))


def find_control(data: object, where: str = "") -> str | None:
    """The place (``a.b[2]``) of the first string in parsed data, keys included, that
    holds a control character other than tab and line breaks; None if there is none."""
    if isinstance(data, str):
        return where or "(text)" if _FILE_CONTROLS.search(data) else None
    if isinstance(data, dict):
        for key, item in data.items():
            place = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and _FILE_CONTROLS.search(key):
                return place
            found = find_control(item, place)
            if found:
                return found
    if isinstance(data, list):
        for i, item in enumerate(data):
            found = find_control(item, f"{where}[{i}]")
            if found:
                return found
    return None


def db_int(value: object) -> int:
    """An integer, clamped to the database's INTEGER range: a number past it means what
    the largest one means (a page after the last, an id that does not exist).

    :raises ValueError: for what is no integer (``int()``'s own errors, kept so it can be
        a ``type=`` or WTForms ``coerce=`` function).
    """
    number = int(value)  # type: ignore[call-overload]
    return max(-DB_INT_MAX, min(DB_INT_MAX, number))


def calendar_date(value: date) -> date:
    """A date typed by a person, within ``DATE_MIN``..``DATE_MAX``.

    :raises ValueError: outside them, with the message to show.
    """
    if not DATE_MIN <= value <= DATE_MAX:
        raise ValueError(f"Enter a date between {DATE_MIN:%-d %B %Y} and {DATE_MAX:%-d %B %Y}.")
    return value


def keep_in_session(key: str, value: Any) -> bool:
    """Put a draft into the session if the signed cookie stays within the budget.

    :returns: whether it was kept (if not, the session is unchanged).
    """
    serializer = current_app.session_interface.get_signing_serializer(current_app)  # type: ignore[attr-defined]
    if serializer is None or len(serializer.dumps({**session, key: value})) > SESSION_COOKIE_BUDGET:
        return False
    session[key] = value
    return True


def keep_for(key: str, owner_id: int, draft: dict[str, Any]) -> bool:
    """``keep_in_session`` of a draft bound to the user ``owner_id``: what someone sent
    after their sign-in ended, given back to them alone (``take_for``)."""
    return keep_in_session(key, {**draft, "owner": owner_id})


def take_for(
    key: str, user_id: int, fits: Callable[[dict[str, Any]], bool] | None = None
) -> dict[str, Any] | None:
    """The draft kept under ``key`` for ``user_id``, once; one that does not ``fit``
    this page stays for its own. Anyone else's (another person signing in on the same
    browser) is dropped unseen."""
    draft = session.get(key)
    if not isinstance(draft, dict) or draft.get("owner") != user_id:
        session.pop(key, None)
        return None
    if fits is not None and not fits(draft):
        return None
    return session.pop(key)


def _pairs(mapping: Any) -> Iterable[tuple[str, Any]]:
    if mapping is None:
        return ()
    if isinstance(mapping, MultiDict):
        return mapping.items(multi=True)
    if isinstance(mapping, dict):
        return (
            (k, item)
            for k, v in mapping.items()
            for item in (v if isinstance(v, list | tuple) else [v])
        )
    return mapping


class CleanMultiDict(ImmutableMultiDict):
    """Form fields and query arguments with the module's text rules applied on
    construction (files pass through), and ``get(type=int)`` within ``DB_INT_MAX``."""

    def __init__(self, mapping: Any = None) -> None:
        super().__init__(
            [
                (
                    clean_text(k, multiline=False) if isinstance(k, str) else k,
                    clean_field(k, v) if isinstance(v, str) and isinstance(k, str) else v,
                )
                for k, v in _pairs(mapping)
            ]
        )

    def get(self, key: Any, default: Any = None, type: Callable | None = None) -> Any:
        # A page number or id past the database's range is as unreadable as "abc".
        return super().get(key, default, db_int if type is int else type)


class UnreadableForm(BadRequest):
    """A form body whose text is not UTF-8: nothing in it can be trusted to be what was
    typed, the CSRF token included (app/errors.py says so in plain words)."""

    description = "The form's text is not UTF-8."


class FormParser(FormDataParser):
    """Werkzeug's form parser, reading an urlencoded body as UTF-8 strictly.

    :raises UnreadableForm: for a body, or an escaped ``%XX`` byte in it, that is not
        UTF-8. Werkzeug's own parser turns the first into an empty form (so the page
        said the form had expired) and keeps the second as the literal text ``%E9``.
    """

    def _parse_urlencoded(
        self, stream: Any, mimetype: str, content_length: int | None, options: dict[str, str]
    ) -> Any:
        try:
            text = stream.read().decode("utf-8")
            items = parse_qsl(text, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise UnreadableForm() from None
        return stream, self.cls(items), self.cls()


class IdConverter(IntegerConverter):
    """``<int:...>`` in URLs: digits only, within the database's id range, else 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        if len(value) > len(str(DB_INT_MAX)):  # int() of thousands of digits is refused
            raise ValidationError()
        return super().to_python(value)


class TextConverter(UnicodeConverter):
    """``<key>``/``<string:...>`` in URLs: a path part with a control character is 404."""

    def to_python(self, value: str) -> str:
        if has_control(value):
            raise ValidationError()
        return value


# A JSON string (to its closing quote, or to the end if it has none) or a bracket.
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.S)


def _depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON text (brackets inside strings do not
    count); one linear scan, so deep input cannot recurse."""
    depth = deepest = 0
    for token in _JSON_TOKENS.findall(text):
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def _cleaned(data: Any) -> Any:
    if isinstance(data, str):
        return clean_text(data, multiline=False)
    if isinstance(data, list):
        return [_cleaned(item) for item in data]
    if isinstance(data, dict):
        return {clean_text(k, multiline=False): _cleaned(v) for k, v in data.items()}
    return data


class JsonInput:
    """The request's JSON parser (``Request.json_module``): limits, then the text rules."""

    @staticmethod
    def loads(data: str | bytes, **kwargs: Any) -> Any:
        """Parse a request body. :raises ValueError: too large, too deep or not JSON."""
        if len(data) > JSON_MAX_BYTES:
            raise ValueError(f"JSON body larger than {JSON_MAX_BYTES} bytes")
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        if _depth(text) > JSON_MAX_DEPTH:
            raise ValueError(f"JSON nested deeper than {JSON_MAX_DEPTH} levels")
        data = json.loads(text, **kwargs)
        if not isinstance(data, dict):
            raise ValueError("a JSON body must be an object")
        return _cleaned(data)

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, **kwargs)


class Form(FlaskForm):
    """The base of every form of the app: form fields only, never a JSON body."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            if request.is_json:
                return None
            return super().wrap_formdata(form, formdata)
