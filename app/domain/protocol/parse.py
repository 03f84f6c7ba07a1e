"""Reading a whole protocol file: TOML in, a validated :class:`Protocol` or every problem.

The file format is documented in ``app/protocols/README.md``. Each part of the file is
read by its own module (``sections``, ``checkin_rules``, ``flag_coverage``); this one
puts them together, so a file is refused as a whole, naming every problem at once.
"""

from __future__ import annotations

import re
import tomllib

from app.domain.protocol.checkin_rules import CHECKIN_SECTIONS
from app.domain.protocol.checkin_rules import read_answer_rules
from app.domain.protocol.checkin_rules import read_questions
from app.domain.protocol.checkin_rules import stored_covers
from app.domain.protocol.flag_coverage import check_required_flags
from app.domain.protocol.legacy import LEGACY_CHECKIN
from app.domain.protocol.model import Protocol
from app.domain.protocol.problems import Problem
from app.domain.protocol.problems import ProtocolError
from app.domain.protocol.reader import Reader
from app.domain.protocol.reader import written
from app.domain.protocol.sections import SECTIONS
from app.domain.protocol.sections import read_course
from app.domain.protocol.sections import read_items
from app.domain.protocol.sections import read_table
from app.domain.protocol.stocking_marks import check_stocking_marks
from app.domain.protocol.stocking_marks import check_stockings_done

_PROTOCOL_FIELDS = {"key", "name", "summary", "compression"}
_AT_LINE = re.compile(r"at line (\d+)")
BOM = "\ufeff"
# The protocol's key names it in links (/clinic/protocols/<key>/compare), in the
# commands the CLI prints and in the database (protocol_versions.key, 80 characters).
# ASCII only: "../../etc" made a "Compare versions" link a browser rewrote to /etc, and
# a full-width "ｃompression" looks like another protocol's key.
_PROTOCOL_KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
PROTOCOL_KEY_MAX = 80


def parse_protocol(text: str, filename: str = "<protocol>", *, stored: bool = False) -> Protocol:
    """Read and validate a protocol file.

    :param stored: the text of a version already in the database. It passed the checks
        of its day when it was loaded, and a patient's plan is pinned to it, so it is not
        refused for a rule added since: a version from before check-in questions and
        answer rules were protocol data gets the rules the app applied then
        (:data:`LEGACY_CHECKIN`), one whose ``covers`` are plain lists of flags has
        each read as the rules that passed the check of its day (``stored_covers``),
        and the required warning signs are not checked again.
    :returns: the protocol, immutable.
    :raises ProtocolError: naming every problem (file, item, line, field).
    """
    # A byte order mark, which Windows Notepad wrote before UTF-8 text until 2019, is
    # not part of the text, and TOML does not allow it ("Invalid statement").
    text = text.removeprefix(BOM)
    reader = Reader(filename, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _AT_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        problem = Problem(filename, "file", "syntax", f"not valid TOML: {exc}", line)
        raise ProtocolError([problem]) from None
    except RecursionError:
        # tomllib reads nested arrays and tables by recursion: "a = [[[[...]]]]" a few
        # thousand deep, well under the size limit, exceeds Python's recursion limit.
        problem = Problem(filename, "file", "syntax", "not valid TOML: nested too deeply")
        raise ProtocolError([problem]) from None
    known = ("protocol", "course", *SECTIONS, *CHECKIN_SECTIONS)
    unknown = set(data) - set(known)
    for name in sorted(unknown):
        expected = f"expected one of {', '.join(known)}"
        reader.problem(name, name, f"unknown section; {expected}", reader.header_line(name))
    if stored and not any(name in data for name in CHECKIN_SECTIONS):
        data = {**data, **tomllib.loads(LEGACY_CHECKIN)}
    elif stored:
        data = stored_covers(data)
    head = read_table(reader, data, "protocol", _PROTOCOL_FIELDS, {"summary", "compression"})
    if not stored:
        # A stored version passed the checks of its day and patients are pinned to it.
        _check_protocol_key(reader, head.get("key"))
    course = read_course(reader, data)
    sections = {name: read_items(reader, data, name) for name in SECTIONS}
    # Keys as written (a task refused for another reason must not cascade).
    task_keys = written(data, "task", "key")
    questions = read_questions(reader, data, task_keys, stored)
    rules = read_answer_rules(reader, data, questions, stored)
    if not stored:
        check_required_flags(reader, sections["red_flag"], written(data, "red_flag", "kind"))
        # A stocking task the app would not recognise gets no-stockings advice (HAZ-05).
        check_stocking_marks(reader, data, sections["task"], questions)
        # "No longer need stockings" beside "wear them day and night" on one day.
        check_stockings_done(reader, data, sections["task"], sections["milestone"], questions)
    if reader.problems:
        raise ProtocolError(reader.problems)
    return Protocol(
        key=head["key"],
        name=head["name"],
        summary=head.get("summary") or "",
        compression=head.get("compression") or "",
        course=course,  # type: ignore[arg-type]
        checklist=tuple(sections["checklist"]),
        tasks=tuple(sections["task"]),
        restrictions=tuple(sections["restriction"]),
        milestones=tuple(sections["milestone"]),
        normal=tuple(sections["normal"]),
        red_flags=tuple(sections["red_flag"]),
        questions=tuple(questions),
        answer_rules=tuple(rules),
    )


def _check_protocol_key(reader: Reader, key: str | None) -> None:
    """Note a problem when the protocol's key (already read as text) is not lower-case
    ASCII letters and digits in words joined by single dashes, like "compression-72h"."""
    if key is None:
        return  # missing or not text: read_table has said so
    if len(key) <= PROTOCOL_KEY_MAX and _PROTOCOL_KEY.fullmatch(key):
        return
    line = reader.field_line(reader.header_line("protocol"), "key")
    reader.problem(
        "[protocol]",
        "key",
        "must be lower-case letters a-z and digits in words joined by single dashes, "
        f"at most {PROTOCOL_KEY_MAX} characters, like 'compression-72h'",
        line,
    )
