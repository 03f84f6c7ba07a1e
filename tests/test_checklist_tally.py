"""The security checklist tally (docs/security/checklist-tally.md) cannot rot.

Every one of the 74 case ids of the checklist's section 3 appears in exactly one row,
each row has a known status, the summary counts agree with the rows, and every test
the tally names (``tests/...py::test_name``) exists: the file is there and defines
that test function. Renaming or deleting a test the tally relies on fails here.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TALLY = ROOT / "docs" / "security" / "checklist-tally.md"
GROUPS = {"A": 12, "B": 10, "C": 13, "D": 10, "E": 8, "F": 15, "G": 6}
EXPECTED_IDS = [f"{g}{n}" for g, count in GROUPS.items() for n in range(1, count + 1)]
ROW = re.compile(r"^\|\s*([A-G]\d{1,2})\s*\|\s*([^|]+?)\s*\|(.*)\|\s*$")
NODE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")
STATUS = re.compile(r"^(pass|fail|exception|in progress: \S.*)$")


def rows(text: str) -> list[tuple[str, str, str]]:
    """(id, status, rest) for each case row of the tally's tables."""
    return [m.groups() for line in text.splitlines() if (m := ROW.match(line))]


def missing_tests(text: str, root: Path) -> list[str]:
    """Node ids named in ``text`` whose file or test function does not exist."""
    missing = []
    for path, name in NODE.findall(text):
        file = root / path
        if not file.is_file() or not re.search(
            rf"^\s*(async\s+)?def {name}\(", file.read_text(), re.M
        ):
            missing.append(f"{path}::{name}")
    return missing


def problems(text: str, root: Path) -> list[str]:
    found = rows(text)
    counts = Counter(case for case, _, _ in found)
    out = [f"{case} appears {n} times" for case, n in counts.items() if n > 1]
    out += [f"{case} is missing" for case in EXPECTED_IDS if case not in counts]
    out += [f"{case} is not a checklist case" for case in counts if case not in EXPECTED_IDS]
    for case, status, rest in found:
        if not STATUS.match(status):
            out.append(f"{case}: unknown status {status!r}")
        if status == "pass" and not NODE.search(rest):
            out.append(f"{case}: a pass names no test")
        if status in ("fail", "exception") and len(rest.strip()) < 20:
            out.append(f"{case}: a {status} needs its reason")
    summary = {
        m.group(1): int(m.group(2))
        for m in re.finditer(
            r"^\|\s*(pass|fail|exception|in progress)\s*\|\s*(\d+)\s*\|", text, re.M
        )
    }
    actual = Counter(status.split(":")[0] for _, status, _ in found)
    if summary != dict(actual):
        out.append(f"summary {summary} does not match the rows {dict(actual)}")
    out += [f"no such test: {node}" for node in missing_tests(text, root)]
    return out


def test_the_tally_lists_every_case_once_and_names_only_tests_that_exist():
    assert len(EXPECTED_IDS) == 74
    assert problems(TALLY.read_text(), ROOT) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("| A5 |", "| A55 |", 1), "A5 is missing"),
        (
            lambda t: t + "\n| B3 | pass | `tests/test_checklist_tally.py::test_x` |\n",
            "B3 appears 2",
        ),
        (lambda t: t.replace("| C13 | exception |", "| C13 | maybe |", 1), "unknown status"),
        (
            lambda t: t.replace("test_a5_signing_in_opens", "test_a5_renamed_away", 1),
            "no such test: tests/web/test_checklist_access.py::test_a5_renamed_away",
        ),
        (
            lambda t: re.sub(r"^\| pass \| (\d+) \|", "| pass | 0 |", t, count=1, flags=re.M),
            "does not match the rows",
        ),
    ],
)
def test_a_broken_tally_is_caught(change, expected):
    """The checker itself: each kind of rot in a copy of the tally is reported."""
    assert any(expected in p for p in problems(change(TALLY.read_text()), ROOT))
