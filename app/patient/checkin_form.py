"""The check-in form as sent, read into plain values: each field read as its most
worrying value when sent more than once (HAZ-01), and the answers a form shows as
chosen. Validation is the service's (app/services/checkins)."""

from __future__ import annotations

from app.domain.checkin import warning_answers
from app.domain.checkin_day import stockings_answers


def parse_checkin(form) -> dict[str, object]:  # noqa: ANN001
    """The check-in form as plain values (validation happens in the service, which
    reads a yes/no question left unanswered as None, never as "no")."""
    day, night = stockings_answers(
        _worst(form.getlist("stockings"), _STOCKINGS_ORDER.get),
        _worst(form.getlist("stockings_day"), _NO_FIRST.get),
        _worst(form.getlist("stockings_night"), _NO_FIRST.get),
    )
    return {
        "pain": _worst(form.getlist("pain"), _pain_order) or "",
        "bruising": _worst(form.getlist("bruising"), _BRUISING_ORDER.get) or "",
        "itching": _worst(form.getlist("itching"), _YES_FIRST.get),
        "lumps": _worst(form.getlist("lumps"), _YES_FIRST.get),
        "skin": form.getlist("skin"),
        "stockings_day": day,
        "stockings_night": night,
        "walked": _worst(form.getlist("walked"), _NO_FIRST.get),
        "elevated": _worst(form.getlist("elevated"), _NO_FIRST.get),
        "note": form.get("note", "")[:5000],
        "red_flags": {
            k[3:]: _worst(form.getlist(k), _YES_FIRST.get) for k in form if k.startswith("rf-")
        },
    }


# A field sent more than once (a broken client, a tampered or doubled offline replay)
# is read as its most worrying value, never its first: "rf-chest=no&rf-chest=yes" must
# not lose the "yes", nor "pain=2&pain=9" the 9 (HAZ-01). Values that are not answers
# rank last, so they never hide one that is.
_YES_FIRST = {"yes": 0, "no": 1}
# Stockings, walking and raising the legs are advice followed: "no" is the answer the
# clinic must not miss (stockings: least worn first; day and night rank alike).
_NO_FIRST = {"no": 0, "yes": 1}
_STOCKINGS_ORDER = {"none": 0, "day": 1, "night": 1, "both": 2}
_BRUISING_ORDER = {"severe": 0, "moderate": 1, "mild": 2, "none": 3}


def _pain_order(value: str) -> int | None:
    """A pain score ranks by its height (10 first); anything else is not a score."""
    score = value.strip()
    valid = score.isascii() and score.isdigit() and len(score) <= 2 and int(score) <= 10
    return -int(score) if valid else None


def _worst(values: list[str], rank) -> str | None:  # noqa: ANN001 - str -> int | None
    """The most worrying of a field's values by ``rank`` (lowest first), or None."""
    if not values:
        return None

    def key(value: str) -> tuple[int, int]:
        r = rank(value)
        return (1, 0) if r is None else (0, r)

    return min(values, key=key)  # the first of equals, as before


def form_values(answers: dict, questions: list) -> dict:  # noqa: ANN001
    """What the check-in form shows as chosen: exactly the given answers, nothing more.

    ``answers`` is either a stored check-in's answers (the edit form) or what was just
    sent (after an error); ``rf`` maps each warning-sign question shown to "yes", "no"
    or None.
    """
    if isinstance(answers.get("red_flags"), dict):  # just sent
        sent = answers["red_flags"]
        rf = {q.key: v if (v := sent.get(q.key)) in ("yes", "no") else None for q in questions}
    else:  # stored
        rf = warning_answers(answers, questions)
    return {**answers, "rf": rf}
