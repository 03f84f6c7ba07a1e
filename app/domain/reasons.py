"""Why a check-in reached its tier, as stored and as a patient reads it (issue 19 point 4).

A reason is stored in the clinic's English (alerts and check-ins keep what was written,
so the clinician reads the protocol's own words). Each reason an answer gives is a
marked message, so a patient's pages can say it in their language: a warning sign's
title or a skin change is looked up as it is; "Pain 8 out of 10" is the message
``PAIN_REASON`` with the score put back in (:func:`for_reader`).

Pure functions: no Flask; the words come from ``app.domain.language``.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from app.domain.language import N_
from app.domain.language import say

if TYPE_CHECKING:
    from app.domain.checkin import Answers
    from app.domain.protocol.model import AnswerRule

PAIN_REASON = N_("Pain %(score)s out of 10")
# The bruising a rule may name (protocol answer rules' ``choices``), as a reason.
BRUISING_REASONS = {
    "none": N_("No bruising"),
    "mild": N_("Mild bruising"),
    "moderate": N_("Moderate bruising"),
    "severe": N_("Severe bruising"),
}
LUMPS_REASON = N_("Tender lumps")
ITCHING_REASON = N_("Itching")
# PAIN_REASON as stored, in English: the score is read back out of it.
_STORED_PAIN = re.compile(r"Pain (\d+) out of 10")


def rule_reason(rule: AnswerRule, answers: Answers) -> str | None:
    """The reason (stored English) an answer rule other than skin gives, or None if it
    does not apply."""
    if rule.answer == "pain" and answers.pain >= (rule.at_least or 0):
        return PAIN_REASON % {"score": answers.pain}
    if rule.answer == "bruising" and answers.bruising in rule.choices:
        return BRUISING_REASONS.get(answers.bruising, f"{answers.bruising.title()} bruising")
    if rule.answer == "lumps" and answers.lumps:
        return LUMPS_REASON
    if rule.answer == "itching" and answers.itching:
        return ITCHING_REASON
    return None


def for_reader(reason: str) -> str:
    """A stored reason in the reader's language: a pain score is said with its number,
    anything else is looked up as written (a clinic's own wording stays as it is)."""
    pain = _STORED_PAIN.fullmatch(reason or "")
    if pain:
        return say(PAIN_REASON, score=int(pain.group(1)))
    return say(reason)


def alert_as_shown(level: str, reasons: list[str] | tuple[str, ...]) -> str:
    """A short fingerprint of an alert's level and reasons, as a page showed them.

    The acknowledge form carries it: a patient who edits the day can raise an open
    alert from same-day to emergency, or add a reason, while a clinician's page (the
    worklist keeps a row being typed in) still shows the old one. Acknowledging what was
    never seen would close an emergency with a routine note (adversarial review,
    2026-12-08); the service refuses when this no longer matches.
    """
    digest = hashlib.sha256("\x1f".join([level, *reasons]).encode("utf-8", "replace"))
    return f"{level}-{digest.hexdigest()[:16]}"


def already_told(new: list[str] | tuple[str, ...], told: list[str] | tuple[str, ...]) -> bool:
    """Whether every reason in ``new`` was already given in ``told`` (an alert the clinic
    acknowledged): the same reason, or a pain score no higher than one told. Pain easing
    from 10 to 9 after the clinic rang is no new answer (adversarial review, 2026-12-08:
    it raised a second alert and a second staff push); pain rising is."""
    told_pain = _pain_scores(told)
    for reason in new:
        if reason in told:
            continue
        score = _pain_scores([reason])
        if not score or not told_pain or score[0] > max(told_pain):
            return False
    return True


def came_back(
    new: list[str] | tuple[str, ...],
    told: list[str] | tuple[str, ...],
    since: list[str] | tuple[str, ...],
) -> bool:
    """Whether a reason already ``told`` (an acknowledged alert) is given again after
    answers sent ``since`` that alert no longer gave it: a warning sign answered "no"
    and then "yes" again is news. Pain counts as back only if the answers since gave no
    pain reason at all; a score moving within what was told (9, 8, then 9) is not."""
    pain_is_back = bool(_pain_scores(told)) and not _pain_scores(since)
    for reason in new:
        if _pain_scores([reason]):
            if pain_is_back:
                return True
        elif reason in told and reason not in since:
            return True
    return False


def _pain_scores(reasons: list[str] | tuple[str, ...]) -> list[int]:
    """The pain scores among stored reasons ("Pain 8 out of 10": 8)."""
    return [int(m.group(1)) for r in reasons if (m := _STORED_PAIN.fullmatch(r))]
