"""Reading a protocol's check-in rules: ``[[question]]`` and ``[[answer_rule]]``.

Which fixed questions a protocol asks (every day, or only while a task applies) and
which answers reach which tier are protocol data. Every skin change a patient can tick
must reach the clinic at some tier, and the questions that carry the same-day rules
must be asked (:data:`~app.domain.protocol.requirements.REQUIRED_QUESTIONS`).

A question may ``cover`` red flags it asks in more detail (the skin list covers "a
blister, open sore or skin turning white, grey or black"), so the check-in does not ask
the same thing twice (issue 19 point 3). Each cover names the question's answer rules
that stand for a "yes" to the flag (``covers = { skin-breakdown = ["skin-breakdown"] }``),
and each of those rules must exist, be about this question and reach the flag's tier or
a higher one, so no warning sign gets weaker advice (HAZ-01): "some rule of the question
reaches the tier" was not enough, as a rule about something else could swallow the flag.
A cover is refused for a required warning sign (always asked on its own, ref 2.6).
"""

from __future__ import annotations

from typing import Any

from app.domain.protocol.model import TIERS
from app.domain.protocol.model import AnswerRule
from app.domain.protocol.model import Cover
from app.domain.protocol.model import Question
from app.domain.protocol.reader import Reader
from app.domain.protocol.reader import written
from app.domain.protocol.requirements import BRUISING_CHOICES
from app.domain.protocol.requirements import QUESTIONS
from app.domain.protocol.requirements import REQUIRED_QUESTIONS
from app.domain.protocol.requirements import SKIN_CHOICES
from app.domain.protocol.requirements import STOCKING_SKIN
from app.domain.protocol.requirements import STOCKINGS_QUESTIONS

CHECKIN_SECTIONS = ("question", "answer_rule")


def _entries(reader: Reader, data: dict[str, Any], section: str) -> list[tuple[str, int, Any]]:
    """A list section's entries as (label, line, table); a missing section is refused."""
    entries = data.get(section)
    if entries is None:
        reader.problem(
            f"[[{section}]]",
            section,
            "section is missing; see 'Check-in questions and triage' in the protocol README",
        )
        return []
    if not isinstance(entries, list):
        reader.problem(section, section, f"must be written as [[{section}]] entries")
        return []
    out: list[tuple[str, int, Any]] = []
    for index, entry in enumerate(entries):
        line = reader.header_line(section, index)
        label = f"{section} #{index + 1}"
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            label = f"{section} '{entry['key']}'"
        if not isinstance(entry, dict):
            reader.problem(label, section, "must be a table", line)
            continue
        out.append((label, line, entry))  # type: ignore[arg-type]
    return out


def _unknown_fields(
    reader: Reader, entry: dict[str, Any], allowed: tuple[str, ...], label: str, line: int | None
) -> None:
    for fld in sorted(set(entry) - set(allowed)):
        reader.problem(label, fld, f"unknown field; allowed: {', '.join(allowed)}", line)


def read_questions(
    reader: Reader, data: dict[str, Any], task_keys: set[Any], stored: bool = False
) -> list[Question]:
    """``[[question]]``: which fixed questions are asked, and on which days.

    ``stored``: a version already in the database is not refused for a check added
    since (a skippable question covering an urgent flag, a window on a required
    question): its patients are pinned to it.
    """
    questions: list[Question] = []
    seen: set[str] = set()
    for label, line, entry in _entries(reader, data, "question"):
        before = len(reader.problems)
        _unknown_fields(reader, entry, ("key", "during", "covers", "source"), label, line)
        key = entry.get("key")
        if key not in QUESTIONS:
            reader.problem(label, "key", f"must be one of {', '.join(QUESTIONS)}", line)
        elif key in seen:
            reader.problem(label, "key", f"'{key}' is used twice in [[question]]", line)
        source = reader.text(entry.get("source"), label, "source", line)
        during = _during(reader, entry.get("during", []), task_keys, label, line)
        covers = _covers(reader, entry.get("covers", {}), data, label, line)
        if len(reader.problems) == before and source is not None:
            seen.add(key)  # type: ignore[arg-type]
            questions.append(Question(key, source, during, covers))  # type: ignore[arg-type]
            # After: the question stands, so its answer rules are not reported orphaned.
            # Not for a stored version: its patients are pinned to it.
            if during and key in REQUIRED_QUESTIONS and not stored:
                # The page always shows these and the check-in always needs them; a
                # window would make the day's count and skin list disagree with it.
                reader.problem(label, "during", f"'{key}' is asked every day; remove it", line)
            if not stored:
                _check_skippable(reader, key, covers, data, label, line)
    asked = {q.key for q in questions}
    for key, why in REQUIRED_QUESTIONS.items() if "question" in data else ():
        if key not in asked:
            reader.problem(
                "[[question]]",
                "key",
                f"every protocol must ask '{key}': {why}",
                reader.header_line("question"),
            )
    return questions


def _during(
    reader: Reader, during: Any, task_keys: set[Any], label: str, line: int | None
) -> tuple[str, ...]:
    if not isinstance(during, list) or not all(isinstance(d, str) for d in during):
        reader.problem(label, "during", 'must be a list of task keys, e.g. ["walks"]', line)
        return ()
    for name in during:
        if name not in task_keys:
            reader.problem(label, "during", f"no [[task]] has the key '{name}'", line)
    return tuple(during)


def _covers(
    reader: Reader, covers: Any, data: dict[str, Any], label: str, line: int | None
) -> tuple[Cover, ...]:
    """The red flags a question asks in detail, each with the answer rules standing for
    it: ``covers = { flag-key = ["rule-key", ...] }``. Flags must exist and not be a
    required warning sign; the rules are checked once they are read
    (:func:`_check_cover_rules`)."""
    at = reader.field_line(line, "covers")
    if isinstance(covers, list) and all(isinstance(c, str) for c in covers):
        if covers:  # the form before each cover named its rules (stored versions only)
            reader.problem(label, "covers", _LIST_FORM, at)
        return ()
    if not isinstance(covers, dict):
        reader.problem(label, "covers", _TABLE_FORM, at)
        return ()
    flags = _raw_flags(data)
    out: list[Cover] = []
    for key, rules in covers.items():
        if not isinstance(rules, list) or not rules or not all(isinstance(r, str) for r in rules):
            reader.problem(
                label,
                "covers",
                f"'{key}' must name the answer rule(s) that stand for it, e.g. "
                f'{key} = ["rule-key"]',
                at,
            )
        elif key not in flags:
            reader.problem(label, "covers", f"no [[red_flag]] has the key '{key}'", at)
        elif "kind" in flags[key]:
            reader.problem(
                label,
                "covers",
                f"red flag '{key}' is a required warning sign: it is always asked on its "
                "own (ref 2.6)",
                at,
            )
        else:
            out.append(Cover(key, tuple(rules)))
    return tuple(out)


# The questions the check-in never takes without an answer: a pain score and a bruising
# choice are required, and the skin list needs a tick or "No skin changes" on the days
# it covers a warning sign (app.domain.checkin.check_answers). Every other question may
# be left unanswered (issue 14 point 1), so it cannot stand for an urgent warning sign:
# the sign would no longer be asked, and a skipped answer would pass as "no" (control
# C2). A routine change may still be told through one: it is not advice to act today.
ALWAYS_ANSWERED = ("pain", "bruising", "skin")
URGENT_TIERS = ("emergency", "same_day")


def _check_skippable(
    reader: Reader,
    key: Any,
    covers: tuple[Cover, ...],
    data: dict[str, Any],
    label: str,
    line: int | None,
) -> None:
    """Refuse a cover of an emergency or same-day flag by a question that may be skipped."""
    if not isinstance(key, str) or key in ALWAYS_ANSWERED:
        return
    flags = _raw_flags(data)
    for cover in covers:
        tier = flags.get(cover.flag, {}).get("tier")
        if tier in URGENT_TIERS:
            reader.problem(
                label,
                "covers",
                f"'{key}' may be left unanswered, so it cannot stand for red flag "
                f"'{cover.flag}' (tier '{tier}'): a skipped answer would pass as no; ask "
                "the flag on its own, or cover it with pain, bruising or skin",
                reader.field_line(line, "covers"),
            )


_TABLE_FORM = (
    "must be a table of red flag keys, each naming the answer rule(s) that stand for it, "
    'e.g. covers = { skin-breakdown = ["skin-breakdown"] }'
)
_LIST_FORM = (
    "must name, for each red flag, the answer rule(s) that stand for it, e.g. "
    'covers = { skin-breakdown = ["skin-breakdown"] } (a plain list of flags is no longer '
    "enough: a rule about something else could stand for the flag)"
)


def stored_covers(data: dict[str, Any]) -> dict[str, Any]:
    """A stored version's ``covers`` lists read as tables: each flag stood for by every
    rule of the question at or above the flag's tier, the check such a version passed
    when it was loaded. Its patients are pinned to it, so it must keep loading."""
    questions, rules = data.get("question"), data.get("answer_rule")
    if not isinstance(questions, list) or not isinstance(rules, list):
        return data
    flags = _raw_flags(data)
    tiers = {k: f.get("tier") for k, f in flags.items() if f.get("tier") in TIERS}
    rules = [
        r
        for r in rules
        if isinstance(r, dict) and r.get("tier") in TIERS and isinstance(r.get("key"), str)
    ]
    return {**data, "question": [_stored_question(q, tiers, rules) for q in questions]}


def _stored_question(q: Any, tiers: dict[str, str], rules: list[dict[str, Any]]) -> Any:
    covers = q.get("covers") if isinstance(q, dict) else None
    if not isinstance(covers, list) or not all(isinstance(c, str) for c in covers):
        return q
    table = {
        flag: [
            r["key"]
            for r in rules
            if r.get("answer") == q.get("key")
            and flag in tiers
            and not _weaker(r["tier"], tiers[flag])
        ]
        for flag in covers
    }
    return {**q, "covers": table}


def _raw_flags(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The red flags as written, by key (only well-formed entries)."""
    keys = written(data, "red_flag", "key")
    items = data.get("red_flag") if isinstance(data.get("red_flag"), list) else []
    return {
        i["key"]: i
        for i in items
        if isinstance(i, dict) and isinstance(i.get("key"), str) and i["key"] in keys
    }


def _check_cover_rules(
    reader: Reader, data: dict[str, Any], questions: list[Question], rules: list[AnswerRule]
) -> None:
    """Each rule a cover names must exist, answer this question, and reach at least the
    flag's tier: a patient's detailed answer then raises the same alert and advice as a
    "yes" to the flag asked on its own (HAZ-01). A rule refused for another reason is
    not reported again here."""
    flags = _raw_flags(data)
    by_key = {r.key: r for r in rules}
    refused = written(data, "answer_rule", "key") - set(by_key)
    for q in questions:
        at = reader.field_line(reader.header_line("question", _index(data, q.key)), "covers")
        for cover in q.covers:
            tier = flags.get(cover.flag, {}).get("tier")
            for name in cover.rules:
                if name in refused:
                    continue
                why = _cover_rule_problem(q.key, cover.flag, tier, name, by_key.get(name))
                if why:
                    reader.problem(f"question '{q.key}'", "covers", why, at)


def _cover_rule_problem(
    question: str, flag: str, tier: Any, name: str, rule: AnswerRule | None
) -> str | None:
    """Why answer rule ``name`` cannot stand for ``flag`` on ``question``, or None."""
    if rule is None:
        return f"no [[answer_rule]] has the key '{name}' (named for red flag '{flag}')"
    if rule.answer != question:
        return (
            f"answer rule '{name}' is about '{rule.answer}', not '{question}': it cannot "
            f"stand for red flag '{flag}' here"
        )
    if tier in TIERS and _weaker(rule.tier, tier):
        return (
            f"answer rule '{name}' reaches tier '{rule.tier}', below tier '{tier}' of red "
            f"flag '{flag}': its warning sign would get weaker advice"
        )
    return None


def _weaker(tier: str, than: str) -> bool:
    return TIERS.index(tier) > TIERS.index(than)  # type: ignore[arg-type]


def _index(data: dict[str, Any], key: str) -> int:
    """The position of a ``[[question]]`` entry in the file, for its line."""
    entries = data.get("question") or []
    return next(i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("key") == key)


def read_answer_rules(
    reader: Reader, data: dict[str, Any], questions: list[Question], stored: bool = False
) -> list[AnswerRule]:
    """``[[answer_rule]]``: the answers to fixed questions that reach a tier.

    ``stored``: a version loaded before the stocking skin change existed need not give
    it a tier; the check-in then does not offer it (``checkin_day.day_questions``).
    """
    asked = {q.key for q in questions}
    allowed = ("key", "answer", "tier", "at_least", "choices", "source")
    rules: list[AnswerRule] = []
    keys: set[str] = set()
    for label, line, entry in _entries(reader, data, "answer_rule"):
        before = len(reader.problems)
        _unknown_fields(reader, entry, allowed, label, line)
        key = reader.text(entry.get("key"), label, "key", line)
        source = reader.text(entry.get("source"), label, "source", line)
        tier = reader.convert("tier", entry.get("tier"), label, "tier", line)
        answer, at_least, choices = _answer_condition(reader, entry, label, line)
        if answer is not None and answer not in asked and "question" in data:
            reader.problem(label, "answer", f"'{answer}' is not in [[question]]", line)
        if key is not None and key in keys:
            reader.problem(label, "key", f"'{key}' is used twice in [[answer_rule]]", line)
        if len(reader.problems) > before:
            continue
        keys.add(key)  # type: ignore[arg-type]
        rules.append(AnswerRule(key, answer, tier, source, at_least, choices))  # type: ignore[arg-type]
    _check_cover_rules(reader, data, questions, rules)
    if "skin" in asked:
        # Every skin change a patient can tick must reach the clinic at some tier; the
        # stocking one can be ticked only where stockings are asked about.
        covered = {c for r in rules if r.answer == "skin" for c in r.choices}
        stockings = bool(asked & {*STOCKINGS_QUESTIONS}) and not stored
        tickable = [c for c in SKIN_CHOICES if c != STOCKING_SKIN or stockings]
        missing = [c for c in tickable if c not in covered]
        if missing and not reader.problems:
            reader.problem(
                "[[answer_rule]]",
                "choices",
                f"no rule gives a tier to the skin change(s) {', '.join(missing)}",
                reader.header_line("answer_rule"),
            )
    return rules


def _answer_condition(
    reader: Reader, entry: dict[str, Any], label: str, line: int | None
) -> tuple[str | None, int | None, tuple[str, ...]]:
    """An answer rule's (answer, at_least, choices), each checked against the answer."""
    answer, at_least, choices = entry.get("answer"), entry.get("at_least"), entry.get("choices")
    choices_for = {"skin": tuple(SKIN_CHOICES), "bruising": BRUISING_CHOICES}
    if answer not in ("pain", "bruising", "skin", "lumps", "itching"):
        reader.problem(label, "answer", "must be one of pain, bruising, skin, lumps, itching", line)
        return None, None, ()
    if answer == "pain":
        if not isinstance(at_least, int) or isinstance(at_least, bool) or not 1 <= at_least <= 10:
            reader.problem(label, "at_least", "must be a whole number from 1 to 10", line)
    elif at_least is not None:
        reader.problem(label, "at_least", 'is only for answer = "pain"', line)
    if answer in choices_for:
        valid = choices_for[answer]
        if not isinstance(choices, list) or not choices or not set(choices) <= set(valid):
            reader.problem(label, "choices", f"must be a list of: {', '.join(valid)}", line)
            choices = []
    elif choices is not None:
        reader.problem(label, "choices", 'is only for answer = "skin" or "bruising"', line)
        choices = []  # refused above; ``choices = 1.5`` must not crash the reader
    return answer, at_least, tuple(choices or ())
