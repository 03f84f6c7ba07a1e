"""The input rules of app/textinput.py on their own: text per kind of field, numbers,
dates, JSON limits and the place of a control character in parsed data."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from app.textinput import DATE_MAX
from app.textinput import DATE_MIN
from app.textinput import DB_INT_MAX
from app.textinput import JSON_MAX_DEPTH
from app.textinput import CleanMultiDict
from app.textinput import JsonInput
from app.textinput import calendar_date
from app.textinput import clean_field
from app.textinput import clean_text
from app.textinput import db_int
from app.textinput import find_control
from app.textinput import has_control

# Hypothesis text includes NUL, every control character and lone surrogates.
any_text = st.text(st.characters(codec=None), max_size=60)


# Embedding, override and isolate controls: removed, as they reorder the text after them.
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _controls(value: str, bidi: bool = False) -> set[str]:
    """Control characters of ``value``; with ``bidi``, the direction controls too (free
    text removes them; elsewhere a field's own check refuses them with a message)."""
    return {c for c in value if unicodedata.category(c) in ("Cc", "Cs") or (bidi and c in BIDI)}


@settings(max_examples=500)
@given(any_text)
def test_multiline_text_keeps_tabs_and_line_breaks_and_nothing_else_invisible(value):
    cleaned = clean_text(value, multiline=True)
    assert _controls(cleaned, bidi=True) <= {"\t", "\n"}
    assert "\r" not in cleaned
    assert clean_text(cleaned, multiline=True) == cleaned  # idempotent
    # Every visible character survives, in order.
    visible = [c for c in value if not _controls(c, bidi=True)]
    assert [c for c in cleaned if c not in "\t\n\ufffd"] == [
        c for c in visible if c not in "\t\n\ufffd"
    ]
    cleaned.encode("utf-8")  # storable: no lone surrogate


@settings(max_examples=500)
@given(any_text)
def test_single_line_text_has_no_control_character_at_all(value):
    cleaned = clean_text(value, multiline=False)
    assert not _controls(cleaned)
    assert not has_control(cleaned)
    assert clean_text(cleaned, multiline=False) == cleaned
    cleaned.encode("utf-8")


def test_line_breaks_become_one_newline_in_notes_and_a_space_elsewhere():
    assert clean_text("a\r\nb\rc\nd", multiline=True) == "a\nb\nc\nd"
    assert clean_text("Mrs\r\nJones\tX", multiline=False) == "Mrs Jones X"
    assert clean_text("a\x00b\x1b[31m\x7f\x85c", multiline=True) == "ab[31mc"
    assert clean_text("caf\u00e9 \u2014 \U0001f600 \u200d", multiline=False) == (
        "caf\u00e9 \u2014 \U0001f600 \u200d"
    )  # accents, emoji and joiners are text, not controls


def test_bidi_overrides_are_removed_from_free_text_and_right_to_left_text_kept():
    """An unclosed U+202E in a discharge reason reversed the app's words after it on
    the clinician's page (adversarial review, 2026-12-07). Notes, comments and the
    discharge reason lose them; other fields keep them for their own check, which
    refuses them with a message (the clinic's advice, staff names: issue 17 review)."""
    assert clean_field("reason", "moved away \u202e test") == "moved away  test"
    assert clean_field("note", "a\u2067b\u2069c\u202ad\u202c") == "abcd"
    assert clean_field("body", "x\u202ey") == "xy"
    assert clean_field("out_of_hours", "Call \u202e999") == "Call \u202e999"
    hebrew, marks = "\u05e9\u05dc\u05d5\u05dd", "\u200e\u200f"  # text and marks stay
    assert clean_field("reason", f"{hebrew} {marks}") == f"{hebrew} {marks}"
    assert clean_field("password", "pa\u202ess") == "pa\u202ess"


def test_fields_by_name_note_and_body_are_multi_line_passwords_are_verbatim():
    assert clean_field("note", "one\r\ntwo\x00") == "one\ntwo"
    assert clean_field("body", "one\r\ntwo") == "one\ntwo"
    assert clean_field("ack_note", "one\r\ntwo") == "one\ntwo"
    assert clean_field("name", "one\r\ntwo\x00") == "one two"
    assert clean_field("password", "pa\x00ss\r\n") == "pa\x00ss\r\n"
    assert clean_field("confirm", "pa\x00ss") == "pa\x00ss"


def test_form_data_is_cleaned_as_it_is_built_and_files_pass_through():
    upload = object()
    data = CleanMultiDict([("note", "a\r\nb\x00"), ("q\x00", "x\ny"), ("photo", upload)])
    assert data["note"] == "a\nb" and data["q"] == "x y" and data["photo"] is upload
    again = CleanMultiDict({"skin": ["brown\x00", "sore"]})
    assert again.getlist("skin") == ["brown", "sore"]


def test_numbers_read_with_type_int_are_clamped_to_the_database_range():
    data = CleanMultiDict([("page", "9" * 30), ("a", "-" + "9" * 30), ("b", "x"), ("c", "7")])
    assert data.get("page", 1, type=int) == DB_INT_MAX
    assert data.get("a", type=int) == -DB_INT_MAX
    assert data.get("b", 1, type=int) == 1
    assert data.get("c", type=int) == 7
    assert db_int("12") == 12
    with pytest.raises(ValueError):
        db_int("twelve")


def test_dates_are_refused_outside_the_calendar_the_app_handles():
    assert calendar_date(date(2026, 11, 20)) == date(2026, 11, 20)
    assert calendar_date(DATE_MIN) == DATE_MIN and calendar_date(DATE_MAX) == DATE_MAX
    for far in (date(1, 1, 1), date(9999, 12, 31), date(1999, 12, 31), date(2100, 1, 1)):
        with pytest.raises(ValueError, match="Enter a date between 1 January 2000"):
            calendar_date(far)


def test_json_within_the_limits_is_parsed_and_its_text_cleaned():
    body = json.dumps({"subscription": {"endpoint": "https://x/\u0000a\r\n"}, "k\u0007": [1]})
    assert JsonInput.loads(body) == {"subscription": {"endpoint": "https://x/a "}, "k": [1]}
    assert JsonInput.loads('{"a": "\\ud800"}') == {"a": "\ufffd"}
    nested = '{"a": ' + "[" * (JSON_MAX_DEPTH - 1) + "]" * (JSON_MAX_DEPTH - 1) + "}"
    assert JsonInput.loads(nested) is not None


@pytest.mark.parametrize(
    "body",
    [
        "[" * (JSON_MAX_DEPTH + 1) + "]" * (JSON_MAX_DEPTH + 1),
        "[" * 100_000,  # deep and unclosed: refused before the parser recurses
        '{"a": "' + "[" * 100 + '", "b": ' + "{" * 40_000,
        " " * (64 * 1024 + 1),
        b"\xff\xfe",
        "{",
        "[1]",
        '"text"',
        "7",
        "null",
    ],
)
def test_json_too_deep_too_large_broken_or_no_object_is_a_value_error(body):
    with pytest.raises(ValueError):
        JsonInput.loads(body)


def test_brackets_inside_json_strings_do_not_count_as_depth():
    body = json.dumps({"note": "[" * 1000 + "{" * 1000 + '\\"', "list": [[["ok"]]]})
    assert JsonInput.loads(body)["list"] == [[["ok"]]]


def test_find_control_names_the_place_in_parsed_data():
    assert find_control({"a": [{"b": "fine\ttext\r\n"}]}) is None
    assert find_control({"a": [{"b": "x"}, {"c": "bad\x00"}]}) == "a[1].c"
    assert find_control({"protocol": {"na\x07me": "x"}}) == "protocol.na\x07me"
    assert find_control("\x1b") == "(text)"


def test_every_text_box_of_the_pages_keeps_its_line_breaks():
    """A <textarea> whose name is not a multi-line field would lose its line breaks."""
    templates = Path(__file__).parents[2] / "app" / "templates"
    boxes = {
        name
        for page in templates.rglob("*.html")
        for name in re.findall(r'<textarea[^>]*\bname="([\w-]+)"', page.read_text())
    }
    assert boxes >= {"note", "body"}
    assert {name for name in boxes if clean_field(name, "a\r\nb") != "a\nb"} == set()
