"""What a refused check-in already tells: the answers that can be read on their own,
triaged before the rest of the form is fixed (issue 19 point 3, issue 14 point 6).

A patient who answers "yes" to calf pain and leaves another question blank must get
the advice at once, and the clinic the alert at once: nothing in the rest of the form
may hold back a warning sign. The answers read here are the warning-sign "yes"
answers of the day (asked, or covered by a fixed question), and each fixed answer
that is itself valid (a pain score from 0 to 10, a bruising choice, skin changes from
the list, a lumps or itching "yes"); the protocol's rules then decide as for a
complete check-in (:func:`app.domain.checkin.triage`). Rules about an answer that is
missing or invalid are left out, never guessed.

Pure functions: the raw answers, the day's warning signs and the rules in.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.domain.checkin import BRUISING
from app.domain.checkin import Answers
from app.domain.checkin import Triage
from app.domain.checkin import _pain  # the complete check-in's own reading of a score
from app.domain.checkin import triage
from app.domain.protocol.model import AnswerRule
from app.domain.protocol.model import RedFlag
from app.domain.protocol.requirements import SKIN_CHOICES


def early_triage(
    raw: Mapping[str, object],
    in_window: list[RedFlag],
    rules: tuple[AnswerRule, ...],
) -> Triage:
    """The triage of a refused form's readable answers (see the module docstring).

    ``raw``: the answers as sent (``red_flags`` by key, "yes"/"no", or a list of the
    "yes" keys); ``in_window``: the day's warning signs, asked or covered.
    """
    pain = _pain(raw.get("pain"))
    bruising = raw.get("bruising")
    readable = {
        "pain": pain is not None,
        "bruising": bruising in BRUISING,
        "skin": True,
        "lumps": True,
        "itching": True,
    }
    raw_skin = raw.get("skin")
    skin = [s for s in raw_skin if s in SKIN_CHOICES] if isinstance(raw_skin, list) else []
    answers = Answers(
        pain=pain or 0,
        bruising=str(bruising) if readable["bruising"] else "none",
        itching=raw.get("itching") in (True, "yes"),
        lumps=raw.get("lumps") in (True, "yes"),
        skin=frozenset(skin),
        stockings_day=None,
        stockings_night=None,
        walked=None,
        elevated=None,
        red_flags=frozenset(_yes(raw.get("red_flags"), in_window)),
    )
    usable = tuple(r for r in rules if readable.get(r.answer, False))
    return triage(answers, in_window, usable)


def _yes(red_flags: object, in_window: list[RedFlag]) -> set[str]:
    """The day's warning signs answered "yes"; any other key is not the day's."""
    day = {f.key for f in in_window}
    if isinstance(red_flags, Mapping):
        return {k for k, v in red_flags.items() if v == "yes" and k in day}
    if isinstance(red_flags, list):
        return {k for k in red_flags if k in day}
    return set()
