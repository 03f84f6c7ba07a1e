"""What changed between two protocol versions: the structured diff by section and the
line diff of the TOML (app/domain/protocol/diff.py)."""

from __future__ import annotations

from pathlib import Path

from app.domain.protocol import parse_protocol
from app.domain.protocol.diff import diff_protocols
from app.domain.protocol.diff import line_diff

TEXT = Path("app/protocols/compression-72h.toml").read_text(encoding="utf-8")

LOOSE = """[[checklist]]
key = "loose-clothing"
title = "Wear loose, comfortable clothes"
detail = "Loose trousers or a skirt fit over your stockings on the way home."
starts = "day 0"
due = "0h"
source = "Clinic page 4 and page 2: loose clothing on the day of treatment"
"""

SNACK = """[[checklist]]
key = "eat-before"
title = "Eat a light meal before you come"
detail = "An empty stomach makes fainting more likely."
due = "-2h"
source = "Clinic policy"

"""


def _edited() -> str:
    assert LOOSE in TEXT
    text = TEXT.replace(LOOSE, "")  # removed
    text = text.replace("[[task]]", SNACK + "[[task]]", 1)  # added
    text = text.replace('due = "-2h"\nphoto = true', 'due = "-3h"\nphoto = true')  # changed
    text = text.replace("interval_weeks_min = 4", "interval_weeks_min = 6")
    return text.replace(
        'key = "chest-breathing"\nkind = "chest"\ntier = "emergency"',
        'key = "chest-breathing"\nkind = "chest"\ntier = "emergency"\n# reviewed 2026',
    )


def test_items_added_removed_and_changed_are_named_by_section():
    old = parse_protocol(TEXT, "v1")
    new = parse_protocol(_edited(), "v2")
    diff = diff_protocols(old, new)
    by_section = {s.heading: {i.key: i for i in s.items} for s in diff.sections}
    checklist = by_section["Before the appointment"]
    assert checklist["eat-before"].change == "added"
    assert checklist["eat-before"].title == "Eat a light meal before you come"
    assert checklist["loose-clothing"].change == "removed"
    photos = checklist["before-photos"]
    assert photos.change == "changed"
    assert [(f.field, f.old, f.new) for f in photos.fields] == [("due", "-2h", "-3h")]
    course = by_section["About the protocol"]["course"]
    assert [(f.field, f.old, f.new) for f in course.fields] == [
        ("weeks between sessions (fewest)", "4", "6")
    ]
    # A comment is no change to what patients are told.
    assert "Warning signs" not in by_section
    assert (diff.count("added"), diff.count("removed"), diff.count("changed")) == (1, 1, 2)


def test_the_same_protocol_has_no_changes():
    a = parse_protocol(TEXT, "a")
    assert diff_protocols(a, parse_protocol(TEXT, "b")).unchanged
    assert line_diff(TEXT, TEXT) == ()


def test_top_level_wording_changes_are_shown_before_and_after():
    edited = TEXT.replace("No heat for 2 weeks", "No hot baths for 2 weeks")
    diff = diff_protocols(parse_protocol(TEXT, "a"), parse_protocol(edited, "b"))
    (about,) = diff.sections
    (item,) = about.items
    (field,) = item.fields
    assert field.field == "summary" and "No heat" in field.old and "No hot baths" in field.new


def test_line_diff_marks_removed_and_added_lines_with_their_numbers():
    lines = line_diff(TEXT, _edited())
    removed = [line for line in lines if line.kind == "removed"]
    added = [line for line in lines if line.kind == "added"]
    assert any(line.text == 'due = "-2h"' for line in removed)
    assert any(line.text == 'due = "-3h"' for line in added)
    assert any(line.text == "# reviewed 2026" for line in added)
    assert any(line.text == 'key = "loose-clothing"' for line in removed)
    # Line numbers point into each file.
    old_lines, new_lines = TEXT.splitlines(), _edited().splitlines()
    for line in removed:
        assert old_lines[line.old - 1] == line.text and line.new is None
    for line in added:
        assert new_lines[line.new - 1] == line.text and line.old is None
    for line in lines:
        if line.kind == "same":
            assert old_lines[line.old - 1] == new_lines[line.new - 1] == line.text
    # Unchanged stretches are left out, not printed in full.
    assert any(line.kind == "gap" for line in lines)
    assert len(lines) < len(old_lines)
